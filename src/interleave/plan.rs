//! The validated interleaving plan the runner consumes: sessions, steps, permutations.

use std::path::PathBuf;

use serde::Serialize;

use crate::db::Dialect;

/// SQL that may differ per dialect: a shared text and/or per-dialect overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SqlText {
    /// SQL for every dialect (`sql = "..."`, or a `.spec` block).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any: Option<String>,
    /// SQL for PostgreSQL only (`postgres = "..."`), preferred over `any`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres: Option<String>,
    /// SQL for MySQL/MariaDB only (`mysql = "..."`), preferred over `any`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mysql: Option<String>,
}

impl SqlText {
    /// SQL shared by every dialect.
    pub fn shared(sql: impl Into<String>) -> SqlText {
        SqlText {
            any: Some(sql.into()),
            ..SqlText::default()
        }
    }

    /// The SQL to run on `dialect`, if there is any.
    pub fn for_dialect(&self, dialect: Dialect) -> Option<&str> {
        let specific = match dialect {
            Dialect::Postgres => self.postgres.as_deref(),
            Dialect::Mysql => self.mysql.as_deref(),
        };
        specific.or(self.any.as_deref())
    }
}

/// One named step: SQL run by one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The step's name, unique across sessions.
    pub name: String,
    /// Index of the session that runs it in [`InterleavePlan::sessions`].
    pub session: usize,
    /// The SQL, possibly per dialect.
    pub sql: SqlText,
}

/// One session: its own connection, setup, steps (in order) and teardown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The session's name.
    pub name: String,
    /// SQL run on the session's connection before each permutation.
    pub setup: Vec<SqlText>,
    /// SQL run on the session's connection after each permutation.
    pub teardown: Vec<SqlText>,
    /// Indices into [`InterleavePlan::steps`], in the session's own order.
    pub steps: Vec<usize>,
    /// The cluster node the session connects to, 1-based (`node = 2` in TOML; default 1).
    /// A target with fewer nodes skips the scenario.
    pub node: usize,
}

/// A marker after a step in a permutation, as in PostgreSQL's isolation tester.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocker {
    /// `(*)`: report the step as waiting as soon as it is launched; report it completed
    /// at the first check after it completes.
    Star,
    /// `(other_step)`: the step is considered waiting until that step (an index into
    /// [`InterleavePlan::steps`]) has completed.
    Step(usize),
    /// `(other_step notices N)` (PostgreSQL 14+): the step is considered waiting until that
    /// step's session has sent N notices since this step was launched. keyrace prints a
    /// step's notices with its result, so it waits until that step has completed, which
    /// keeps the notices printed before this step's completion, as the marker intends.
    Notices(usize, u32),
}

/// One entry of a permutation: a step and its markers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermutationStep {
    /// Index into [`InterleavePlan::steps`].
    pub step: usize,
    /// Markers, in written order.
    pub blockers: Vec<Blocker>,
}

/// An order of steps across sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permutation {
    /// The steps to launch, in order.
    pub steps: Vec<PermutationStep>,
}

/// Which file format a plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// A keyrace TOML scenario with `[[session]]` tables.
    Toml,
    /// A PostgreSQL isolation tester `.spec` file.
    Spec,
}

/// The most permutations generated when a file lists none (every interleaving).
pub const MAX_GENERATED_PERMUTATIONS: usize = 1000;

/// The most sessions a scenario may have: each is a connection held for the whole
/// permutation (PostgreSQL's default `max_connections` is 100).
pub const MAX_SESSIONS: usize = 100;

/// A checked interleaving scenario; built by [`super::load`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InterleavePlan {
    /// The scenario name (`name = ...`, else the file stem); names expected-output files.
    pub name: String,
    /// What the scenario does.
    pub description: Option<String>,
    /// What it teaches.
    pub teaches: Option<String>,
    /// Where it was loaded from.
    pub source: PathBuf,
    /// TOML or `.spec`.
    pub format: SourceFormat,
    /// The dialects the scenario runs on; other targets are reported as skipped.
    pub dialects: Vec<Dialect>,
    /// SQL run once per permutation on a separate connection before the sessions start.
    pub setup: Vec<SqlText>,
    /// SQL run once per permutation on that connection after the sessions have closed.
    pub teardown: Vec<SqlText>,
    /// The sessions, in file order.
    pub sessions: Vec<Session>,
    /// Every step, in file order.
    pub steps: Vec<Step>,
    /// The permutations to run, listed or generated.
    pub permutations: Vec<Permutation>,
    /// True when the permutations were generated (none were listed).
    pub permutations_generated: bool,
    /// Fallback: how long a step may neither complete nor be seen blocked before it is
    /// reported as waiting anyway (milliseconds).
    pub wait_timeout_ms: u64,
    /// Print every step's affected-row counts and (MySQL/MariaDB) its `SHOW WARNINGS`
    /// (`effects = true`; the default when the file has `[[claim]]`s).
    pub effects: bool,
    /// Claims quoted from articles, each decided by checks on what the run measured
    /// (`[[claim]]`, see `docs/lessons.md`).
    pub claims: Vec<crate::lesson::Claim>,
}

/// How long PostgreSQL 15's isolation tester lets a step wait before cancelling it
/// (`max_step_wait`, 300 s); keyrace's limit for `.spec` files.
pub const SPEC_STEP_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

impl InterleavePlan {
    /// How long a step may stay waiting once keyrace waits for it (its session is needed by
    /// the next step, or the permutation's steps are all launched) before it is cancelled:
    /// [`SPEC_STEP_LIMIT`] (300 s, the isolation tester's) for `.spec` files, twice
    /// `wait_timeout_ms` (10 s by default) for TOML.
    pub fn step_limit(&self) -> std::time::Duration {
        match self.format {
            SourceFormat::Spec => SPEC_STEP_LIMIT,
            SourceFormat::Toml => std::time::Duration::from_millis(self.wait_timeout_ms * 2),
        }
    }

    /// The names of a permutation's steps with their markers, as written in `.spec` files.
    pub fn permutation_label(&self, p: &Permutation) -> String {
        p.steps
            .iter()
            .map(|ps| {
                let mut s = self.steps[ps.step].name.clone();
                if !ps.blockers.is_empty() {
                    let marks: Vec<String> = ps
                        .blockers
                        .iter()
                        .map(|b| match b {
                            Blocker::Star => "*".to_string(),
                            Blocker::Step(i) => self.steps[*i].name.clone(),
                            Blocker::Notices(i, n) => {
                                format!("{} notices {n}", self.steps[*i].name)
                            }
                        })
                        .collect();
                    s.push_str(&format!("({})", marks.join(",")));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The highest node any session is pinned to (1 when none is).
    pub fn max_node(&self) -> usize {
        self.sessions
            .iter()
            .map(|s| s.node)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    /// Why the scenario cannot run on a target of `nodes` nodes (a single server counts as
    /// one), if it cannot: a session is pinned to a node the target does not have.
    pub fn nodes_reason(&self, nodes: usize) -> Option<String> {
        let need = self.max_node();
        (need > nodes.max(1)).then(|| {
            format!(
                "a session runs on node {need}; this server has {} (use --mysql galera:{need})",
                nodes.max(1)
            )
        })
    }

    /// The version-dependent features the steps use on `dialect` (see
    /// [`crate::vocab::Feature::used_by`]), sorted, without duplicates.
    pub fn features(&self, dialect: Dialect) -> Vec<crate::vocab::Feature> {
        use crate::vocab::Feature;
        let mut out = Vec::new();
        for s in &self.steps {
            if let Some(sql) = s.sql.for_dialect(dialect) {
                out.extend(Feature::used_by(sql));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Why the plan cannot run on `dialect`, or `None` when it can.
    pub fn unsupported_reason(&self, dialect: Dialect) -> Option<String> {
        if !self.dialects.contains(&dialect) {
            let names: Vec<&str> = self.dialects.iter().map(|d| d.name()).collect();
            return Some(format!("scenario runs on {} only", names.join(", ")));
        }
        let missing = |what: &str, sql: &SqlText| {
            sql.for_dialect(dialect)
                .is_none()
                .then(|| format!("{what} has no SQL for {dialect}"))
        };
        for s in self.setup.iter().chain(&self.teardown) {
            if let Some(m) = missing("setup/teardown", s) {
                return Some(m);
            }
        }
        for sess in &self.sessions {
            for s in sess.setup.iter().chain(&sess.teardown) {
                if let Some(m) = missing(&format!("session {} setup/teardown", sess.name), s) {
                    return Some(m);
                }
            }
        }
        self.steps
            .iter()
            .find_map(|st| missing(&format!("step {}", st.name), &st.sql))
    }
}

/// Every interleaving of the sessions' steps that keeps each session's own order, in
/// lexicographic order of session index; `None` when there would be more than `limit`.
///
/// Iterative (the next permutation of the multiset of session indices), so that a file with
/// thousands of sessions or steps costs time linear in its size per permutation and no stack.
pub fn all_interleavings(sessions: &[Session], limit: usize) -> Option<Vec<Permutation>> {
    // Count first (a multinomial coefficient, built one binomial factor at a time, exact and
    // increasing): a file over the limit is refused without generating anything.
    let (mut count, mut total) = (1u128, 0u128);
    for s in sessions {
        for k in 1..=s.steps.len() as u128 {
            total += 1;
            count = count * total / k;
            if count > limit as u128 {
                return None;
            }
        }
    }
    // The session index of each slot, smallest first: the lexicographically first order.
    let mut order: Vec<usize> = sessions
        .iter()
        .enumerate()
        .flat_map(|(i, s)| std::iter::repeat_n(i, s.steps.len()))
        .collect();
    let mut out = Vec::new();
    loop {
        if out.len() == limit {
            return None;
        }
        let mut next = vec![0; sessions.len()];
        out.push(Permutation {
            steps: order
                .iter()
                .map(|&si| {
                    let step = sessions[si].steps[next[si]];
                    next[si] += 1;
                    PermutationStep {
                        step,
                        blockers: vec![],
                    }
                })
                .collect(),
        });
        // Next permutation: the rightmost i with order[i] < order[i + 1] ...
        let Some(i) = (0..order.len().saturating_sub(1))
            .rev()
            .find(|&i| order[i] < order[i + 1])
        else {
            return Some(out);
        };
        // ... swapped with the rightmost larger element, then the tail reversed.
        let j = (i + 1..order.len())
            .rev()
            .find(|&j| order[j] > order[i])
            .unwrap_or(i + 1);
        order.swap(i, j);
        order[i + 1..].reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(steps: Vec<usize>) -> Session {
        Session {
            node: 1,
            name: "s".into(),
            setup: vec![],
            teardown: vec![],
            steps,
        }
    }

    #[test]
    fn interleavings_keep_session_order() {
        let s = [session(vec![0, 1]), session(vec![2, 3])];
        let all = all_interleavings(&s, 100).expect("within limit");
        assert_eq!(all.len(), 6);
        let orders: Vec<Vec<usize>> = all
            .iter()
            .map(|p| p.steps.iter().map(|x| x.step).collect())
            .collect();
        assert_eq!(orders[0], vec![0, 1, 2, 3]);
        assert_eq!(orders[5], vec![2, 3, 0, 1]);
        assert!(all_interleavings(&s, 5).is_none());
        assert_eq!(all_interleavings(&s, 6).map(|a| a.len()), Some(6));
    }

    #[test]
    fn interleavings_of_uneven_and_empty_sessions() {
        let s = [session(vec![0]), session(vec![]), session(vec![1, 2])];
        let orders: Vec<Vec<usize>> = all_interleavings(&s, 100)
            .expect("within limit")
            .iter()
            .map(|p| p.steps.iter().map(|x| x.step).collect())
            .collect();
        assert_eq!(orders, vec![vec![0, 1, 2], vec![1, 0, 2], vec![1, 2, 0]]);
        assert_eq!(all_interleavings(&[], 10).map(|a| a.len()), Some(1));
    }

    #[test]
    fn thousands_of_sessions_need_no_stack() {
        let wide: Vec<Session> = (0..20_000).map(|i| session(vec![i])).collect();
        assert!(all_interleavings(&wide, 1000).is_none());
        let long = [session((0..200_000).collect())];
        assert_eq!(all_interleavings(&long, 1000).map(|a| a.len()), Some(1));
    }
}
