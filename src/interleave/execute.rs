//! The runner: one database per target, fresh session connections per permutation, steps
//! launched in order, waits detected by the monitor, completions reported deterministically.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::Error;
use super::databases::Databases;
use super::monitor::Monitor;
use super::output::{
    Detection, Event, InterleaveReport, LockWait, PermutationReport, SessionSteps, StepError,
    StepOutcome, TargetReport, is_query,
};
use super::plan::{Blocker, InterleavePlan, Permutation, SqlText};
use super::session::{Completion, Rows, SessionTask, StepItem, closed};
use crate::db::{DbError, Dialect, Engine, Reply, StepConn, StepText, database_url};

pub use crate::db::Target;

/// Runs every permutation of `plan` once on each target.
///
/// Each target gets its own `keyrace_il_<random>` database, dropped afterwards even when the
/// run fails. SQL errors are results, not failures; `Err` means the harness could not run
/// (a server unreachable, a database not created). Cancelling `cancel` stops after the
/// current permutation and returns what ran.
pub async fn run(
    plan: &InterleavePlan,
    targets: &[Target],
    cancel: CancellationToken,
) -> Result<InterleaveReport, Error> {
    let mut reports = run_repeated(plan, targets, cancel, 1).await?;
    reports.pop().ok_or(Error::NothingRun)
}

/// Runs every permutation of `plan` `times` times on each target, reusing one database per
/// target, and returns one report per repetition (for checking that outcomes repeat).
pub async fn run_repeated(
    plan: &InterleavePlan,
    targets: &[Target],
    cancel: CancellationToken,
    times: usize,
) -> Result<Vec<InterleaveReport>, Error> {
    let mut random_name = |_: &Target| {
        format!(
            "keyrace_il_{:016x}",
            RandomState::new().hash_one(Instant::now())
        )
    };
    run_named(plan, targets, cancel, times, &mut random_name).await
}

/// [`run_repeated`], each target's database named by `name_of` (which may record the name
/// before the database is created, as `keyrace run` does for `keyrace reap`). The database
/// is created and dropped by the same functions as a stress run's
/// ([`crate::runner::create_database_on`], [`crate::runner::drop_database_on`]), guarded
/// by a [`crate::db::DropGuard`] in between.
pub async fn run_named(
    plan: &InterleavePlan,
    targets: &[Target],
    cancel: CancellationToken,
    times: usize,
    name_of: &mut (dyn FnMut(&Target) -> String + Send),
) -> Result<Vec<InterleaveReport>, Error> {
    let mut dbs = Databases::default();
    let r = run_in(plan, targets, cancel, times, &mut dbs, name_of).await;
    let failed = dbs.finish().await;
    let reports = r?;
    match failed.into_iter().next() {
        Some(f) => Err(f.error),
        None => Ok(reports),
    }
}

/// True when `plan` runs on `target` (its dialect supported, enough nodes), so a database
/// is needed there.
pub fn runs_on(plan: &InterleavePlan, target: &Target) -> bool {
    plan.unsupported_reason(target.dialect()).is_none()
        && plan.nodes_reason(target.nodes.len()).is_none()
}

/// [`run_named`] with the run's [`Databases`]: a database created ahead for this file is
/// used, and this file's databases are dropped in the background ([`Databases::finish`]
/// says how that went). `keyrace run` calls [`Databases::prepare_ahead`] for the next
/// file before this one, so a directory of files does not wait for each file's
/// `CREATE DATABASE` and `DROP DATABASE`.
pub async fn run_in(
    plan: &InterleavePlan,
    targets: &[Target],
    cancel: CancellationToken,
    times: usize,
    dbs: &mut Databases,
    name_of: &mut (dyn FnMut(&Target) -> String + Send),
) -> Result<Vec<InterleaveReport>, Error> {
    let mut per_target = Vec::new();
    for t in targets {
        per_target.push(run_target(plan, t, &cancel, times, dbs, name_of).await?);
    }
    Ok((0..times)
        .map(|rep| InterleaveReport {
            scenario: plan.name.clone(),
            description: plan.description.clone(),
            teaches: plan.teaches.clone(),
            source: plan.source.display().to_string(),
            sessions: plan
                .sessions
                .iter()
                .map(|s| SessionSteps {
                    name: s.name.clone(),
                    steps: s
                        .steps
                        .iter()
                        .map(|&i| plan.steps[i].name.clone())
                        .collect(),
                })
                .collect(),
            targets: per_target.iter().map(|v| v[rep].clone()).collect(),
        })
        .collect())
}

async fn run_target(
    plan: &InterleavePlan,
    target: &Target,
    cancel: &CancellationToken,
    times: usize,
    dbs: &mut Databases,
    name_of: &mut (dyn FnMut(&Target) -> String + Send),
) -> Result<Vec<TargetReport>, Error> {
    let mut base = TargetReport {
        label: target.label.clone(),
        dialect: target.dialect(),
        engine: None,
        server_version: None,
        skipped: plan
            .unsupported_reason(target.dialect())
            .or_else(|| plan.nodes_reason(target.nodes.len())),
        permutations: vec![],
    };
    if base.skipped.is_some() {
        return Ok(vec![base; times]);
    }
    let prepared = dbs.take(target, name_of).await?;
    let engine = prepared.engine;
    base.engine = Some(engine);
    base.server_version = Some(engine.label(&prepared.version));
    // A server too old for the steps (MERGE before PostgreSQL 15 …) skips the scenario;
    // its database waits for the next file.
    if let Some(f) = plan
        .features(target.dialect())
        .into_iter()
        .find(|f| !prepared.target.capabilities.has(*f))
    {
        dbs.put_back(prepared);
        base.skipped = Some(format!("needs {}", f.describe()));
        return Ok(vec![base; times]);
    }
    let url = database_url(&target.url, &prepared.database);
    let result = run_in_database(plan, &prepared.target, &url, engine, cancel, times, &base).await;
    dbs.release(prepared, &plan.source.display().to_string());
    result
}

async fn run_in_database(
    plan: &InterleavePlan,
    target: &Target,
    url: &str,
    engine: Engine,
    cancel: &CancellationToken,
    times: usize,
    base: &TargetReport,
) -> Result<Vec<TargetReport>, Error> {
    let mut monitor = Monitor::open(url, engine)
        .await
        .map_err(|source| Error::Db {
            label: target.label.clone(),
            what: "opening the monitor connection".into(),
            source,
        })?;
    let mut out = Vec::new();
    let mut result = Ok(());
    let mut kept = Kept::default();
    'reps: for rep in 0..times {
        let mut report = base.clone();
        for (k, p) in plan.permutations.iter().enumerate() {
            if cancel.is_cancelled() {
                break;
            }
            kept.more = rep + 1 < times || k + 1 < plan.permutations.len();
            let mut run = PermRun::new(plan, target, &mut monitor, cancel);
            match run.run(url, p, &mut kept).await {
                Ok(r) => {
                    // A failed setup stops the run on this target, as the isolation tester
                    // exits there.
                    let stop = r.setup_failed();
                    report.permutations.push(r);
                    if stop {
                        // Every repetition reports the same stop.
                        out.resize(times, report);
                        break 'reps;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break 'reps;
                }
            }
        }
        out.push(report);
    }
    kept.close().await;
    monitor.close().await;
    result.map(|()| out)
}

/// Connections kept from one permutation to the next on the same target: the control
/// connection (setup, teardown) and, where the engine can reset a connection to a new
/// one's state (PostgreSQL), the sessions' — as the isolation tester keeps its connections,
/// which saves opening them for every permutation. Where it cannot (MySQL/MariaDB), the
/// next permutation's session connections are opened while this one's teardown runs.
#[derive(Default)]
struct Kept {
    control: Option<StepConn>,
    /// One entry per session; `None` opens a new connection.
    sessions: Vec<Option<Slot>>,
    /// True when another permutation follows on this target (so new connections opened
    /// ahead of time will be used).
    more: bool,
}

/// A session connection for the next permutation.
enum Slot {
    /// Kept from the previous permutation, reset.
    Ready(SessionTask),
    /// A new connection being opened.
    Opening(tokio::task::JoinHandle<Result<SessionTask, DbError>>),
}

impl Slot {
    /// Starts opening a new session connection in the background.
    fn open(engine: Engine, url: String, effects: bool) -> Slot {
        Slot::Opening(tokio::spawn(async move {
            SessionTask::open(engine, &url, effects).await
        }))
    }

    /// The connection, once open.
    async fn get(self) -> Result<SessionTask, DbError> {
        match self {
            Slot::Ready(t) => Ok(t),
            Slot::Opening(h) => h.await.unwrap_or_else(|e| {
                Err(DbError {
                    class: crate::db::Outcome::ConnectionError,
                    code: "client".into(),
                    message: format!("opening a session connection failed: {e}"),
                })
            }),
        }
    }
}

impl Kept {
    async fn close(self) {
        if let Some(c) = self.control {
            c.close().await;
        }
        for slot in self.sessions.into_iter().flatten() {
            if let Ok(t) = slot.get().await {
                t.close().await;
            }
        }
    }
}

/// A step launched but not yet reported complete.
struct Waiting {
    step: usize,
    session: usize,
    rx: oneshot::Receiver<Completion>,
    done: Option<Completion>,
    star: bool,
    blockers: Vec<usize>,
    /// `(step notices N)` markers: (session, notice count it must reach).
    notices: Vec<(usize, usize)>,
    since: Instant,
    /// Start of the latest lock-view check that found this step blocked.
    blocked_at: Option<Instant>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// Every waiting step is completed, blocked, or held by a marker.
    Settled,
    /// This session has no waiting step any more.
    SessionFree(usize),
    /// No waiting steps remain.
    AllDone,
}

struct PermRun<'a> {
    plan: &'a InterleavePlan,
    target: &'a Target,
    monitor: &'a mut Monitor,
    cancel: &'a CancellationToken,
    sessions: Vec<SessionTask>,
    events: Vec<Event>,
    completed: HashSet<usize>,
    /// Notices each session received in this permutation.
    notice_counts: Vec<usize>,
    /// When each session's latest notice was read.
    notice_at: Vec<Instant>,
    waiting: Vec<Waiting>,
    last_event: Instant,
    wait_timeout: Duration,
    /// True when every waiting step was seen blocked (or held by its marker) after the
    /// latest completion, and nothing completed since: a step launched that only blocked
    /// cannot have woken another, so no check is needed before the next one (as the
    /// isolation tester, which looks at earlier waiting steps only after a step completes
    /// or when it launches the next).
    settled: bool,
}

impl<'a> PermRun<'a> {
    fn new(
        plan: &'a InterleavePlan,
        target: &'a Target,
        monitor: &'a mut Monitor,
        cancel: &'a CancellationToken,
    ) -> Self {
        PermRun {
            plan,
            target,
            monitor,
            cancel,
            sessions: vec![],
            events: vec![],
            completed: HashSet::new(),
            notice_counts: vec![],
            notice_at: vec![],
            waiting: vec![],
            last_event: Instant::now(),
            wait_timeout: Duration::from_millis(plan.wait_timeout_ms),
            settled: false,
        }
    }

    fn dialect(&self) -> Dialect {
        self.target.dialect()
    }

    /// True when a waiting step's markers no longer hold it: its blocker steps completed
    /// and the sessions named by `(step notices N)` sent their notices.
    fn markers_met(&self, w: &Waiting) -> bool {
        w.blockers.iter().all(|b| self.completed.contains(b))
            && w.notices.iter().all(|&(s, n)| self.notice_counts[s] >= n)
    }

    /// Reports the notices every session received so far, in session order (PostgreSQL's
    /// isolation tester prints them as it reads them, before the next step line).
    fn drain_notices(&mut self) {
        let notices = self.take_notices(None);
        self.events.extend(notices);
    }

    /// Counts and returns the notices session `only` (or every session) received so far,
    /// for the caller to report where the isolation tester prints them.
    fn take_notices(&mut self, only: Option<usize>) -> Vec<Event> {
        let mut out = Vec::new();
        for (i, task) in self.sessions.iter_mut().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            while let Ok(n) = task.notices.try_recv() {
                self.notice_counts[i] += 1;
                self.notice_at[i] = Instant::now();
                out.push(Event::Notice {
                    session: self.plan.sessions[i].name.clone(),
                    severity: n.severity,
                    message: n.message,
                });
            }
        }
        out
    }

    /// Splits what session `session` got back for `sql` into what is printed before the
    /// outcome (earlier result sets, notices, then notifications after it) and the outcome:
    /// the error, or the last result set when the text ended with one.
    ///
    /// Whether a result set came back is what the protocol said (PostgreSQL: a row
    /// description; MySQL/MariaDB: a row, or the server's description of a one-statement
    /// text that returned none, see [`crate::db::Conn::describe_columns`]), never guessed
    /// from the SQL text; only a MySQL/MariaDB text the server cannot prepare that returned
    /// no row prints `(0 rows)` when its text looks like a query.
    fn outcome(&self, session: usize, sql: &str, text: &StepText) -> (Vec<StepItem>, StepOutcome) {
        let name = &self.plan.sessions[session].name;
        let mut output: Vec<StepItem> = Vec::new();
        for r in &text.replies {
            output.push(match r {
                Reply::Set { columns, rows } => StepItem::Rows(Rows {
                    columns: columns.clone(),
                    rows: rows.clone(),
                }),
                Reply::Notification {
                    channel,
                    payload,
                    pid,
                } => StepItem::Notify {
                    session: name.clone(),
                    channel: channel.clone(),
                    payload: payload.clone(),
                    from: self
                        .sessions
                        .iter()
                        .position(|t| t.id == u64::from(*pid))
                        .map(|i| self.plan.sessions[i].name.clone())
                        .unwrap_or_else(|| format!("PID {pid}")),
                },
            });
        }
        if let Some(e) = &text.error {
            self.push_effects(&mut output, text, false);
            return (output, StepOutcome::Error(StepError::from(e.clone())));
        }
        let last = output
            .iter()
            .rposition(|i| !matches!(i, StepItem::Notify { .. }))
            .filter(|&i| matches!(output[i], StepItem::Rows(_)));
        if let Some(StepItem::Rows(rows)) = last.map(|i| output.remove(i)) {
            let rows = Some(rows);
            self.push_effects(&mut output, text, false);
            return (output, StepOutcome::Ok { rows, query: true });
        }
        let no_set = !output.iter().any(|i| matches!(i, StepItem::Rows(_)));
        let query = self.dialect() == Dialect::Mysql && no_set && is_query(sql);
        self.push_effects(&mut output, text, query);
        (output, StepOutcome::Ok { rows: None, query })
    }

    /// With `effects`: the affected-row counts (none for a MySQL/MariaDB query whose empty
    /// result set sqlx does not describe: its count is not a write) and the warnings, minus
    /// the `Error` rows of `SHOW WARNINGS` that repeat the step's own error.
    fn push_effects(&self, output: &mut Vec<StepItem>, text: &StepText, empty_query: bool) {
        if !self.plan.effects {
            return;
        }
        if !empty_query {
            output.extend(
                text.affected
                    .iter()
                    .map(|&rows| StepItem::Affected { rows }),
            );
        }
        let own = text.error.as_ref().map(|e| e.code.as_str());
        output.extend(
            text.warnings
                .iter()
                .filter(|w| !(w.level == "Error" && Some(w.code.as_str()) == own))
                .map(|w| StepItem::Warning {
                    level: w.level.clone(),
                    code: w.code.clone(),
                    message: w.message.clone(),
                }),
        );
    }

    fn sql<'s>(&self, s: &'s SqlText) -> &'s str {
        // The plan was checked with `unsupported_reason` before running.
        s.for_dialect(self.dialect()).unwrap_or("")
    }

    fn harness(&self, what: &str) -> impl FnOnce(DbError) -> Error {
        let label = self.target.label.clone();
        let what = what.to_string();
        move |source| Error::Db {
            label,
            what,
            source,
        }
    }

    /// Grace period: a "blocked" verdict counts only from a query started this long after
    /// the latest completion or launch, so that lock releases have reached the server's views.
    fn grace(&self) -> Duration {
        self.monitor.engine.settle_interval()
    }

    /// Starts opening a new connection for session `i` of the permutation's database at
    /// `url` (on its Galera node when it has one).
    fn open_session(&self, url: &str, i: usize) -> Slot {
        let db = crate::db::galera::url_database(url);
        let node = self.plan.sessions[i].node - 1;
        let session_url = crate::db::galera::node_database_url(url, &self.target.nodes, node, db);
        Slot::open(self.target.engine, session_url, self.plan.effects)
    }

    /// Sessions whose connection failed in this permutation (a step ended with a
    /// connection error, or never answered its cancel): not kept for the next one.
    fn broken_sessions(&self) -> HashSet<usize> {
        super::output::step_errors(&self.events)
            .filter(|(_, err)| err.class == crate::db::Outcome::ConnectionError)
            .filter_map(|(step, _)| {
                self.plan
                    .steps
                    .iter()
                    .find(|s| s.name == step)
                    .map(|s| s.session)
            })
            .collect()
    }

    /// Records what a setup or teardown block returned, as the isolation tester's `PQexec`
    /// does: the error (returned, for the caller to decide whether to stop), else the
    /// result set of its last statement, if that statement returned one.
    fn block_result(&mut self, what: String, sql: &str, text: StepText) -> Result<(), StepError> {
        if let Some(e) = text.error {
            let error = StepError::from(e);
            self.events.push(Event::SetupError {
                what,
                error: error.clone(),
                position: text
                    .error_position
                    .and_then(|p| super::caret::position_lines(sql, p)),
            });
            return Err(error);
        }
        if text.last_is_set {
            let last = text.replies.into_iter().rev().find_map(|r| match r {
                Reply::Set { columns, rows } => Some(Rows { columns, rows }),
                Reply::Notification { .. } => None,
            });
            if let Some(rows) = last {
                self.events.push(Event::SetupResult { what, rows });
            }
        }
        Ok(())
    }

    async fn run(
        &mut self,
        url: &str,
        perm: &Permutation,
        kept: &mut Kept,
    ) -> Result<PermutationReport, Error> {
        let label = self.plan.permutation_label(perm);
        let mut failure = None;
        // The control connection: its notices are not printed (the isolation tester gives
        // it a processor that drops them).
        let mut setup_conn = match kept.control.take() {
            Some(c) => c,
            None => {
                let (quiet, _) = tokio::sync::mpsc::unbounded_channel();
                StepConn::connect(self.target.engine, url, quiet)
                    .await
                    .map_err(self.harness("connecting for setup"))?
            }
        };
        let mut setup_ok = true;
        for s in &self.plan.setup {
            let sql = self.sql(s).to_string();
            let text = setup_conn.run(&sql).await;
            if self.block_result("setup".into(), &sql, text).is_err() {
                setup_ok = false;
                break;
            }
        }
        let db = crate::db::galera::url_database(url);
        if setup_ok && self.plan.max_node() > 1 {
            // Sessions on other nodes start once their node has applied the setup.
            crate::db::galera::wait_replicated(&self.target.nodes, db)
                .await
                .map_err(self.harness("waiting for every galera node to apply the setup"))?;
        }
        if setup_ok {
            kept.sessions.resize_with(self.plan.sessions.len(), || None);
            // The sessions not kept from the previous permutation connect at the same time.
            let opened = futures_util::future::join_all(
                (0..self.plan.sessions.len())
                    .map(|i| {
                        kept.sessions[i]
                            .take()
                            .unwrap_or_else(|| self.open_session(url, i))
                    })
                    .map(Slot::get),
            )
            .await;
            let mut first_error = None;
            for (sess, task) in self.plan.sessions.iter().zip(opened) {
                match task {
                    Ok(t) => self.sessions.push(t),
                    Err(e) => {
                        first_error.get_or_insert((sess.name.clone(), e));
                    }
                }
                self.notice_counts.push(0);
                self.notice_at.push(Instant::now());
            }
            if let Some((name, e)) = first_error {
                for t in std::mem::take(&mut self.sessions) {
                    t.close().await;
                }
                setup_conn.close().await;
                return Err(self.harness(&format!("connecting session {name}"))(e));
            }
            // As the isolation tester: every session connects, then each runs its setup; a
            // failed one stops the run.
            'setup: for (i, sess) in self.plan.sessions.iter().enumerate() {
                for s in &sess.setup {
                    let sql = self.sql(s).to_string();
                    let text = self.sessions[i].run_text(&sql).await;
                    // Its notices print as they arrive: before its result.
                    let notices = self.take_notices(Some(i));
                    self.events.extend(notices);
                    let what = format!("setup of session {}", sess.name);
                    if self.block_result(what, &sql, text).is_err() {
                        setup_ok = false;
                        break 'setup;
                    }
                }
            }
        }
        if setup_ok {
            failure = self.run_steps(perm).await?;
            self.drain_notices();
            // Sessions the engine cannot reset: the next permutation's connect now, while
            // this one's teardown runs.
            if kept.more && self.target.engine.interleave_reset_sql().is_none() {
                for i in 0..self.plan.sessions.len() {
                    kept.sessions[i] = Some(self.open_session(url, i));
                }
            }
        }
        // Teardown: session teardowns, close sessions, then the top-level teardown. After a
        // failed setup nothing more runs (the isolation tester exits), except what drops
        // the sessions.
        let sessions = std::mem::take(&mut self.sessions);
        let broken = self.broken_sessions();
        self.notice_counts.clear();
        self.notice_at.clear();
        let mut sessions: Vec<(usize, SessionTask)> = sessions.into_iter().enumerate().collect();
        if setup_ok {
            for (task, sess) in sessions.iter_mut().map(|(_, t)| t).zip(&self.plan.sessions) {
                for s in &sess.teardown {
                    let sql = self.sql(s).to_string();
                    let text = task.run_text(&sql).await;
                    while let Ok(n) = task.notices.try_recv() {
                        self.events.push(Event::Notice {
                            session: sess.name.clone(),
                            severity: n.severity,
                            message: n.message,
                        });
                    }
                    let what = format!("teardown of session {}", sess.name);
                    // A failed teardown is reported and the run goes on.
                    let _ = self.block_result(what, &sql, text);
                }
            }
        }
        // Kept for the next permutation when it can be reset (this also ends its transaction
        // and releases its locks before the top-level teardown); the sessions reset at the
        // same time, each on its own connection.
        let engine = self.target.engine;
        let keep = |i: &usize| setup_ok && !broken.contains(i);
        let reset = futures_util::future::join_all(
            sessions
                .iter_mut()
                .map(|(i, t)| async move { keep(i) && t.reset(engine).await }),
        )
        .await;
        let mut closing = Vec::new();
        for ((i, task), ok) in sessions.into_iter().zip(reset) {
            if ok {
                kept.sessions[i] = Some(Slot::Ready(task));
            } else {
                closing.push(task.close());
            }
        }
        futures_util::future::join_all(closing).await;
        if setup_ok {
            for s in &self.plan.teardown {
                let sql = self.sql(s).to_string();
                let text = setup_conn.run(&sql).await;
                let _ = self.block_result("teardown".into(), &sql, text);
            }
        }
        if setup_ok {
            kept.control = Some(setup_conn);
        } else {
            setup_conn.close().await;
        }
        Ok(PermutationReport {
            label,
            events: std::mem::take(&mut self.events),
            failure,
        })
    }

    /// Launches the permutation's steps; returns a failure description if it could not finish.
    async fn run_steps(&mut self, perm: &Permutation) -> Result<Option<String>, Error> {
        let long = self.wait_timeout * 2;
        let limit = self.plan.step_limit();
        let mut failure = None;
        for ps in &perm.steps {
            if self.cancel.is_cancelled() {
                failure = Some("cancelled".to_string());
                break;
            }
            let step = &self.plan.steps[ps.step];
            // A step of a session whose earlier step still waits: wait for that step, as
            // PostgreSQL 15's isolation tester does, at most the step limit; then cancel it,
            // report how it ended, and go on.
            if self.waiting.iter().any(|w| w.session == step.session)
                && !self.settle(Goal::SessionFree(step.session), limit).await?
            {
                self.cancel_waiting(Some(step.session), limit).await?;
            }
            // Whatever the freed session's completion unblocked is reported before going on.
            if self.needs_settling() {
                self.settle(Goal::Settled, long).await?;
            }
            let sql = self.sql(&step.sql).to_string();
            let star = ps.blockers.contains(&Blocker::Star);
            let blockers: Vec<usize> = ps
                .blockers
                .iter()
                .filter_map(|b| match b {
                    Blocker::Step(i) => Some(*i),
                    Blocker::Star | Blocker::Notices(..) => None,
                })
                .collect();
            self.drain_notices();
            let notices: Vec<(usize, usize)> = ps
                .blockers
                .iter()
                .filter_map(|b| match b {
                    Blocker::Notices(i, n) => {
                        let s = self.plan.steps[*i].session;
                        Some((s, self.notice_counts[s] + *n as usize))
                    }
                    _ => None,
                })
                .collect();
            // Nothing waits, or every waiting step was seen blocked since the latest
            // completion: if this step only blocks, that still holds afterwards.
            let calm = self.waiting.is_empty() || self.settled;
            let mut rx = self.sessions[step.session].launch(&sql).await;
            let launched = Instant::now();
            self.last_event = launched;
            let mut waiting = Waiting {
                step: ps.step,
                session: step.session,
                rx,
                done: None,
                star,
                blockers,
                notices,
                since: launched,
                blocked_at: None,
            };
            let detection = if star {
                Some(Detection::Marker)
            } else {
                rx = waiting.rx;
                let (rx_back, done, det) = self.wait_launched(rx, step.session, launched).await?;
                waiting.rx = rx_back;
                waiting.done = done;
                det
            };
            if detection == Some(Detection::Monitor) {
                // The server flushed the step's notices before it began to wait, so they are
                // in the session's socket by the time the monitor sees the wait: let the
                // session's connection task read them before the step's line is printed. On
                // the current-thread runtime the runner's future is polled again right after
                // the I/O driver, before the tasks it woke: the second yield lets them run.
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
            }
            // As the isolation tester: the step's own notices print before its line, the
            // ones other sessions received meanwhile after it (and its result).
            let own = self.take_notices(Some(step.session));
            let others = self.take_notices(None);
            self.events.extend(own);
            let unmet = !self.markers_met(&waiting);
            match (&waiting.done, detection, unmet) {
                (Some(c), None, false) => {
                    self.last_event = c.finished;
                    self.settled = false;
                    let (output, result) = self.outcome(step.session, &sql, &c.result);
                    self.events.push(Event::Step {
                        step: step.name.clone(),
                        sql,
                        waiting: false,
                        detected_by: None,
                        waits_for: Vec::new(),
                        output,
                        result: Some(result),
                    });
                    self.completed.insert(ps.step);
                }
                _ => {
                    let detected_by = detection.or(Some(Detection::Marker));
                    let waits_for = if detected_by == Some(Detection::Monitor) {
                        self.why_waiting(step.session).await?
                    } else {
                        Vec::new()
                    };
                    self.events.push(Event::Step {
                        step: step.name.clone(),
                        sql,
                        waiting: true,
                        detected_by,
                        waits_for,
                        output: Vec::new(),
                        result: None,
                    });
                    // A step that finished but is held by its marker may have released
                    // locks another waits for.
                    if waiting.done.is_some() {
                        self.settled = false;
                    } else if detected_by == Some(Detection::Monitor) {
                        // Seen blocked by a check that began after its launch: a step that
                        // only blocked woke nobody, so no further check is needed (one poll
                        // interval saved per wait).
                        self.settled = calm;
                    }
                    self.waiting.push(waiting);
                }
            }
            self.events.extend(others);
            if self.needs_settling() {
                self.settle(Goal::Settled, long).await?;
            }
        }
        // Steps still waiting at the end are waited for, at most the step limit, then
        // cancelled.
        if !self.waiting.is_empty() && !self.settle(Goal::AllDone, limit).await? {
            self.cancel_waiting(None, limit).await?;
        }
        Ok(failure)
    }

    /// Who blocks `session` and on what, with the blocker's name and latest step.
    async fn why_waiting(&mut self, session: usize) -> Result<Vec<LockWait>, Error> {
        let id = self.sessions[session].id;
        let rows = self
            .monitor
            .lock_waits(&[id])
            .await
            .map_err(self.harness("reading lock waits"))?;
        Ok(rows
            .into_iter()
            .map(|(_, blocker, lock, held)| {
                let s = self.sessions.iter().position(|s| s.id == blocker);
                LockWait {
                    blocker: match s {
                        Some(i) => self.plan.sessions[i].name.clone(),
                        None => format!("backend {blocker}"),
                    },
                    blocker_step: s.and_then(|i| self.last_step_of(i)),
                    lock,
                    held,
                }
            })
            .collect())
    }

    /// The name of the latest step session `i` launched in this permutation.
    fn last_step_of(&self, i: usize) -> Option<String> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Step { step, .. }
                if self
                    .plan
                    .steps
                    .iter()
                    .any(|s| &s.name == step && s.session == i) =>
            {
                Some(step.clone())
            }
            _ => None,
        })
    }

    /// Waits until a just-launched step completes or the monitor sees its session blocked
    /// (or, as a fallback, `wait_timeout` passes).
    async fn wait_launched(
        &mut self,
        mut rx: oneshot::Receiver<Completion>,
        session: usize,
        launched: Instant,
    ) -> Result<
        (
            oneshot::Receiver<Completion>,
            Option<Completion>,
            Option<Detection>,
        ),
        Error,
    > {
        let id = self.sessions[session].id;
        loop {
            // Until the monitor may ask again (120 ms apart on MariaDB), a completion ends
            // the wait at once; the first check comes 5 ms after the launch (a step that
            // finishes sooner was not blocked; the isolation tester asks after 10 ms), later
            // ones at the engine's poll interval.
            let first = self
                .monitor
                .engine
                .poll_interval()
                .min(Duration::from_millis(5));
            let pause = self.monitor.until_next().max(first);
            tokio::select! {
                r = &mut rx => {
                    let c = r.unwrap_or_else(|_| Completion { result: closed_text(), finished: Instant::now() });
                    return Ok((rx, Some(c), None));
                }
                _ = tokio::time::sleep(pause) => {}
            }
            let verdict = self
                .monitor
                .blocked(&[id])
                .await
                .map_err(self.harness("polling for blocked sessions"))?;
            if let Some(c) = try_take(&mut rx) {
                return Ok((rx, Some(c), None));
            }
            if verdict.blocked.contains(&id) {
                return Ok((rx, None, Some(Detection::Monitor)));
            }
            if launched.elapsed() >= self.wait_timeout {
                return Ok((rx, None, Some(Detection::Timeout)));
            }
        }
    }

    /// Collects completions that arrived.
    fn harvest(&mut self) {
        for w in &mut self.waiting {
            if w.done.is_none() {
                w.done = try_take(&mut w.rx);
            }
        }
    }

    /// Reports completed waiting steps whose markers are satisfied, in completion order.
    fn report_ready(&mut self) -> bool {
        let mut any = false;
        loop {
            // As PostgreSQL's isolation tester: waiting steps are looked at in the order they
            // started waiting, and a finished step is reported only once every step that
            // started waiting before it has finished too or is known to be blocked still (a
            // lock-view check that began after it finished says so). Two steps woken by one
            // COMMIT are thus reported in the same order every time.
            self.drain_notices();
            let blockers_done = |w: &Waiting| self.markers_met(w);
            let ready: Vec<usize> = (0..self.waiting.len())
                .filter(|&i| {
                    let w = &self.waiting[i];
                    let Some(done) = &w.done else { return false };
                    // A step held by `(other notices N)` counts as finished when the last
                    // of those notices was read, so a step that sent them and is still
                    // running is not overtaken.
                    let finished = w
                        .notices
                        .iter()
                        .map(|&(s, _)| self.notice_at[s])
                        .fold(done.finished, Instant::max);
                    blockers_done(w)
                        && !self.waiting[..i].iter().any(|e| {
                            e.done.is_none()
                                && !e.star
                                && blockers_done(e)
                                && e.blocked_at.is_none_or(|t| t < finished)
                                && e.since.elapsed() < self.wait_timeout
                        })
                })
                .collect();
            if ready.is_empty() {
                return any;
            }
            // `ready` is in ascending index order: remove from the highest index down so the
            // lower indices stay valid.
            let mut taken: Vec<Waiting> = Vec::new();
            for &i in ready.iter().rev() {
                taken.push(self.waiting.remove(i));
            }
            // Steps found complete in the same check are reported in the order they started
            // waiting, as PostgreSQL's isolation tester does (not in the order the server
            // happened to finish them, which varies from run to run).
            taken.sort_by_key(|w| w.since);
            for w in taken {
                let Some(c) = w.done else { continue };
                let step = &self.plan.steps[w.step];
                let (output, result) = self.outcome(w.session, self.sql(&step.sql), &c.result);
                self.drain_notices();
                self.events.push(Event::Completed {
                    step: step.name.clone(),
                    output,
                    result,
                });
                self.completed.insert(w.step);
                self.last_event = self.last_event.max(c.finished);
                self.settled = false;
                any = true;
            }
        }
    }

    /// Waits until `goal` holds; returns false if it does not within `long` (for
    /// [`Goal::Settled`]: if no step completed for `long`).
    async fn settle(&mut self, goal: Goal, long: Duration) -> Result<bool, Error> {
        let mut progress_at = Instant::now();
        loop {
            self.harvest();
            if self.report_ready() && goal == Goal::Settled {
                progress_at = Instant::now();
            }
            let reached = match goal {
                Goal::SessionFree(s) => !self.waiting.iter().any(|w| w.session == s),
                Goal::Settled | Goal::AllDone => self.waiting.is_empty(),
            };
            if reached {
                return Ok(true);
            }
            if self.cancel.is_cancelled() {
                return Ok(false);
            }
            // Steps whose state only the monitor can tell: not done, no marker holding them.
            let candidates: Vec<(usize, u64)> = self
                .waiting
                .iter()
                .enumerate()
                .filter(|(_, w)| w.done.is_none() && !w.star && self.markers_met(w))
                .map(|(i, w)| (i, self.sessions[w.session].id))
                .collect();
            let settled = if candidates.is_empty() {
                true
            } else {
                // Until the monitor may ask again, a completion is reported at once.
                let ask_at = Instant::now() + self.monitor.until_next();
                if self.wait_completion(ask_at).await {
                    continue;
                }
                let ids: Vec<u64> = candidates.iter().map(|c| c.1).collect();
                let verdict = self
                    .monitor
                    .blocked(&ids)
                    .await
                    .map_err(self.harness("polling for blocked sessions"))?;
                let fresh = verdict.started >= self.last_event + self.grace();
                if fresh {
                    for &(i, id) in &candidates {
                        if verdict.blocked.contains(&id) {
                            self.waiting[i].blocked_at = Some(verdict.started);
                        }
                    }
                }
                let before = self.waiting.iter().filter(|w| w.done.is_some()).count();
                self.harvest();
                if self.waiting.iter().filter(|w| w.done.is_some()).count() != before {
                    continue;
                }
                candidates.iter().all(|&(i, id)| {
                    (fresh && verdict.blocked.contains(&id))
                        || self.waiting[i].since.elapsed() >= self.wait_timeout
                })
            };
            if goal == Goal::Settled && settled {
                self.settled = true;
                return Ok(true);
            }
            if progress_at.elapsed() >= long {
                return Ok(false);
            }
            // Until the next check that can say more (the monitor's next slot, and a verdict
            // fresh after the latest event), a completion ends the wait at once.
            let next = Instant::now() + self.monitor.until_next().max(Duration::from_millis(1));
            self.wait_completion(next.max(self.last_event + self.grace()))
                .await;
        }
    }

    /// Waits until a waiting step's completion arrives (it is stored in the step's `done`:
    /// true) or `deadline` passes (false). While a step is held by a `(step notices N)`
    /// marker, it wakes at least every 2 ms to count the notices that came in.
    async fn wait_completion(&mut self, deadline: Instant) -> bool {
        let mut deadline = deadline;
        if self.waiting.iter().any(|w| !w.notices.is_empty()) {
            deadline = deadline.min(Instant::now() + Duration::from_millis(2));
        }
        let pending: Vec<_> = self
            .waiting
            .iter_mut()
            .enumerate()
            .filter(|(_, w)| w.done.is_none())
            .map(|(i, w)| Box::pin(async move { (i, (&mut w.rx).await) }))
            .collect();
        if pending.is_empty() {
            tokio::time::sleep_until(deadline.into()).await;
            return false;
        }
        let arrived = tokio::select! {
            ((i, r), _, _) = futures_util::future::select_all(pending) => Some((i, r)),
            _ = tokio::time::sleep_until(deadline.into()) => None,
        };
        match arrived {
            Some((i, r)) => {
                self.waiting[i].done = Some(r.unwrap_or_else(|_| Completion {
                    result: closed_text(),
                    finished: Instant::now(),
                }));
                true
            }
            None => false,
        }
    }

    /// Cancels the waiting steps of `session` (or every waiting step), which have been
    /// waited for `after`, and reports how they ended, in the order they started waiting.
    /// A step that finished but is held by a marker is reported complete as it is.
    async fn cancel_waiting(
        &mut self,
        session: Option<usize>,
        after: Duration,
    ) -> Result<(), Error> {
        let (mine, rest): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| session.is_none_or(|s| s == w.session));
        self.waiting = rest;
        for w in &mine {
            if w.done.is_none() {
                self.events.push(Event::Cancelled {
                    step: self.plan.steps[w.step].name.clone(),
                    after_ms: after.as_millis() as u64,
                });
                let id = self.sessions[w.session].id;
                self.monitor
                    .cancel(id)
                    .await
                    .map_err(self.harness("cancelling a waiting step"))?;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for w in mine {
            let result = match w.done {
                Some(c) => c.result,
                None => match tokio::time::timeout_at(deadline.into(), w.rx).await {
                    Ok(Ok(c)) => c.result,
                    _ => closed_text(),
                },
            };
            let step = &self.plan.steps[w.step];
            let (output, result) = self.outcome(w.session, self.sql(&step.sql), &result);
            self.drain_notices();
            self.events.push(Event::Completed {
                step: step.name.clone(),
                output,
                result,
            });
            self.completed.insert(w.step);
        }
        self.settled = false;
        Ok(())
    }

    /// True when a waiting step may have changed since it was last seen: something
    /// completed since the last settled check, or a waiting step's completion arrived.
    fn needs_settling(&mut self) -> bool {
        if self.waiting.is_empty() {
            return false;
        }
        self.harvest();
        !self.settled || self.waiting.iter().any(|w| w.done.is_some())
    }
}

fn try_take(rx: &mut oneshot::Receiver<Completion>) -> Option<Completion> {
    match rx.try_recv() {
        Ok(c) => Some(c),
        Err(oneshot::error::TryRecvError::Empty) => None,
        Err(oneshot::error::TryRecvError::Closed) => Some(Completion {
            result: closed_text(),
            finished: Instant::now(),
        }),
    }
}

/// What a session that closed without answering reports.
fn closed_text() -> StepText {
    StepText {
        error: Some(closed()),
        ..StepText::default()
    }
}
