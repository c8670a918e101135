//! What a strategy's SQL needs of the server's version — `MERGE` from PostgreSQL 15,
//! `MERGE … RETURNING merge_action()` from 17 — read from its steps, so a strategy the
//! server is too old for is reported "not available" instead of failing the scenario when
//! its statements are prepared.
//!
//! Interim: the version facts (`since_postgres`) belong to the PostgreSQL backend's
//! capabilities by version (issue 10, item 1); what a program needs stays here.

use crate::db::Dialect;

use super::Program;

/// A server feature a step may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feature {
    /// The `MERGE` statement (PostgreSQL 15 release notes: "Add SQL MERGE command").
    Merge,
    /// `RETURNING` in `MERGE` and the `merge_action()` function (PostgreSQL 17 release
    /// notes: "Add RETURNING support to MERGE", "merge_action()").
    MergeReturning,
}

impl Feature {
    /// What the feature is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::Merge => "MERGE",
            Feature::MergeReturning => "MERGE … RETURNING merge_action()",
        }
    }

    /// The first PostgreSQL major version that has it.
    pub fn since_postgres(self) -> u32 {
        match self {
            Feature::Merge => 15,
            Feature::MergeReturning => 17,
        }
    }
}

/// The features the steps of `program` use: a step whose statement begins with `MERGE`
/// needs [`Feature::Merge`]; one that calls `merge_action(` needs
/// [`Feature::MergeReturning`]. Sorted, without duplicates.
pub fn features(program: &Program) -> Vec<Feature> {
    let mut out = Vec::new();
    let steps = program
        .pre
        .iter()
        .chain(&program.steps)
        .chain(&program.fallback)
        .chain(&program.finally);
    for step in steps {
        let sql = step.template.to_ascii_lowercase();
        if sql.split_whitespace().next().is_some_and(|w| w == "merge") {
            out.push(Feature::Merge);
        }
        if sql.contains("merge_action(") {
            out.push(Feature::MergeReturning);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The major version in PostgreSQL's `SELECT version()` text:
/// `PostgreSQL 13.23 on x86_64-pc-linux-gnu, …` → 13, `PostgreSQL 18beta1 …` → 18.
pub fn postgres_major(version: &str) -> Option<u32> {
    let v = version.split_whitespace().nth(1)?;
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Why `program` cannot run on a server of `dialect` whose `SELECT version()` is
/// `server_version`: `not available on PostgreSQL 13: MERGE arrived in PostgreSQL 15`.
/// `None` when it can, or when the version cannot be read (the server then decides).
pub fn unavailable_on(program: &Program, dialect: Dialect, server_version: &str) -> Option<String> {
    if dialect != Dialect::Postgres {
        return None;
    }
    let major = postgres_major(server_version)?;
    let missing: Vec<String> = features(program)
        .into_iter()
        .filter(|f| major < f.since_postgres())
        .map(|f| {
            format!(
                "{} arrived in PostgreSQL {}",
                f.describe(),
                f.since_postgres()
            )
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "not available on PostgreSQL {major}: {}",
            missing.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{Effect, When, compile};

    fn program(sqls: &[&str]) -> Program {
        let steps = sqls
            .iter()
            .map(|s| {
                let (sql, params) = compile(Dialect::Postgres, s).unwrap();
                super::super::Step {
                    name: "s".into(),
                    template: s.to_string(),
                    sql: sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(sql)),
                    params,
                    when: When::Always,
                    effect: Effect::Write,
                    location: None,
                }
            })
            .collect();
        Program {
            pre: vec![],
            transaction: false,
            steps,
            fallback: vec![],
            finally: vec![],
            on_unique: crate::strategy::UniquePolicy::Fail,
            retry: crate::strategy::RetryPolicy::NONE,
        }
    }

    #[test]
    fn merge_needs_15_and_merge_action_17() {
        let merge = program(&[
            "  merge INTO t USING (SELECT {key} AS k) s ON t.k = s.k WHEN NOT MATCHED THEN INSERT (k) VALUES (s.k)",
        ]);
        let returning = program(&[
            "MERGE INTO t USING (SELECT {key} AS k) s ON t.k = s.k WHEN NOT MATCHED THEN INSERT (k) VALUES (s.k) RETURNING merge_action() = 'INSERT'",
        ]);
        let plain = program(&["INSERT INTO t (k) VALUES ({key}) ON CONFLICT DO NOTHING"]);
        assert_eq!(features(&merge), vec![Feature::Merge]);
        assert_eq!(
            features(&returning),
            vec![Feature::Merge, Feature::MergeReturning]
        );
        assert!(features(&plain).is_empty());
        let v = |major| format!("PostgreSQL {major} on x86_64-pc-linux-gnu, compiled by gcc");
        assert_eq!(
            unavailable_on(&merge, Dialect::Postgres, &v("13.23")).as_deref(),
            Some("not available on PostgreSQL 13: MERGE arrived in PostgreSQL 15")
        );
        assert_eq!(unavailable_on(&merge, Dialect::Postgres, &v("15.20")), None);
        assert!(
            unavailable_on(&returning, Dialect::Postgres, &v("15.20"))
                .unwrap()
                .contains("RETURNING merge_action() arrived in PostgreSQL 17")
        );
        assert_eq!(
            unavailable_on(&returning, Dialect::Postgres, &v("17.10")),
            None
        );
        assert_eq!(unavailable_on(&plain, Dialect::Postgres, &v("13.23")), None);
        assert_eq!(unavailable_on(&merge, Dialect::Postgres, "garbage"), None);
        assert_eq!(postgres_major("PostgreSQL 18beta1 on x"), Some(18));
    }
}
