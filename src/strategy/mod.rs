//! The built-in insert strategies, one file each, as dialect-specific step programs.
//!
//! Every strategy, built-in or the user's own, compiles to a [`Program`]; the runner only
//! executes programs.

mod advisory_lock;
mod check_then_insert;
mod insert_catch_select;
mod insert_ignore;
mod insert_where_not_exists;
mod merge;
pub mod needs;
mod on_conflict_do_nothing;
mod on_conflict_do_update;
mod on_duplicate_key_update;
mod replace_into;
mod select_for_update;
mod serializable_retry;

pub use crate::plan::{Effect, ParamRef, Program, RetryPolicy, Step, UniquePolicy, When, compile};

use crate::plan::{Isolation, Shape, TableSpec};
use crate::vocab::{Dialect, Outcome};

/// What a built-in needs to write its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The dialect to write SQL for.
    pub dialect: Dialect,
    /// The target table.
    pub table: &'a TableSpec,
    /// The workload shape.
    pub shape: Shape,
}

/// A built-in strategy.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The name used in scenario files (`use = "check-then-insert"`).
    pub name: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Isolation level the strategy needs, if it overrides the scenario's.
    pub isolation: Option<Isolation>,
    /// Features the server must have (checked against the server's version before the
    /// run: e.g. MERGE is unavailable before PostgreSQL 15).
    pub requires: &'static [crate::vocab::Feature],
    /// Builds the program, or says why the strategy is not available for this dialect/shape.
    pub build: fn(&Ctx) -> Result<Program, String>,
}

/// Every built-in strategy, in the order reports list them.
pub const BUILTINS: &[Builtin] = &[
    check_then_insert::BUILTIN,
    insert_catch_select::BUILTIN,
    on_conflict_do_nothing::BUILTIN,
    on_conflict_do_update::BUILTIN,
    insert_ignore::BUILTIN,
    on_duplicate_key_update::BUILTIN,
    replace_into::BUILTIN,
    select_for_update::BUILTIN,
    merge::BUILTIN,
    advisory_lock::BUILTIN,
    serializable_retry::BUILTIN,
    insert_where_not_exists::BUILTIN,
];

/// Looks a built-in up by name.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// "not available on <dialect>" (the construct does not exist there).
pub(crate) fn not_on(dialect: Dialect, what: &str) -> String {
    format!("not available on {dialect}: {what}")
}

/// "not applicable to the <shape> shape".
pub(crate) fn not_for(shape: Shape) -> String {
    let s = match shape {
        Shape::Signup => "signup",
        Shape::Counter => "counter",
        Shape::ReadModifyWrite => "read-modify-write",
    };
    format!("not applicable to the {s} shape")
}

impl Ctx<'_> {
    /// The quoted table name.
    pub fn t(&self) -> String {
        self.dialect.quote_ident(&self.table.name)
    }
    /// The quoted key column.
    pub fn k(&self) -> String {
        self.dialect.quote_ident(&self.table.key)
    }
    /// The quoted counter column (the scenario validator guarantees it for counting shapes).
    pub fn n(&self) -> String {
        self.dialect
            .quote_ident(self.table.counter.as_deref().unwrap_or("n"))
    }

    /// Columns and values of the row an operation inserts: key and payload (signup), key and
    /// counter = `value` (counting shapes).
    pub fn row(&self, value: &str) -> (String, String) {
        let mut cols = vec![self.k()];
        let mut vals = vec!["{key}".to_string()];
        if self.shape.counts() {
            cols.push(self.n());
            vals.push(value.to_string());
        }
        if let Some(p) = &self.table.payload {
            cols.push(self.dialect.quote_ident(p));
            vals.push("{payload}".to_string());
        }
        (cols.join(", "), vals.join(", "))
    }

    /// `INSERT INTO t (cols) VALUES (vals)` with the counter set to `value`.
    pub fn insert(&self, value: &str) -> String {
        let (c, v) = self.row(value);
        format!("INSERT INTO {} ({c}) VALUES ({v})", self.t())
    }

    /// `SELECT <counter or 1> FROM t WHERE k = {key}` plus `suffix` (e.g. ` FOR UPDATE`).
    pub fn lookup(&self, suffix: &str) -> String {
        let what = if self.shape.counts() {
            self.n()
        } else {
            "1".to_string()
        };
        format!(
            "SELECT {what} FROM {} WHERE {} = {{key}}{suffix}",
            self.t(),
            self.k()
        )
    }

    /// `UPDATE t SET n = n + 1` (counter) or `SET n = {next}` (read-modify-write).
    pub fn increment(&self) -> String {
        let n = self.n();
        let value = match self.shape {
            Shape::ReadModifyWrite => "{next}".to_string(),
            _ => format!("{n} + 1"),
        };
        format!(
            "UPDATE {} SET {n} = {value} WHERE {} = {{key}}",
            self.t(),
            self.k()
        )
    }

    /// A step, panicking only on a template bug in a built-in (covered by tests).
    pub fn step(&self, name: &str, sql: &str, when: When, effect: Effect) -> Step {
        Step::new(self.dialect, name, sql, when, effect)
            .unwrap_or_else(|e| panic!("built-in step {name} has a bad template: {e}"))
    }

    /// The check-then-insert body: read; update when found (counting shapes); insert when not.
    pub fn check_then_insert_steps(&self, lock_suffix: &str) -> Vec<Step> {
        let mut steps = vec![self.step(
            "select",
            &self.lookup(lock_suffix),
            When::Always,
            Effect::Read,
        )];
        if self.shape.counts() {
            steps.push(self.step("update", &self.increment(), When::Found, Effect::Update));
        }
        steps.push(self.step("insert", &self.insert("1"), When::NotFound, Effect::Insert));
        steps
    }

    /// For counting shapes: `UPDATE ... + 1` when the previous insert affected nothing.
    pub fn update_if_not_inserted(&self) -> Option<Step> {
        match self.shape {
            Shape::Counter => Some(self.step(
                "update",
                &self.increment(),
                When::NotAffected,
                Effect::Update,
            )),
            _ => None,
        }
    }

    /// The "insert, and in the counter shape increment when nothing was inserted" program
    /// shared by INSERT IGNORE, ON CONFLICT DO NOTHING and INSERT … WHERE NOT EXISTS:
    /// one statement in autocommit, or both in a transaction.
    pub fn insert_or_increment(&self, insert_sql: &str) -> Program {
        let mut steps = vec![self.step("insert", insert_sql, When::Always, Effect::Insert)];
        steps.extend(self.update_if_not_inserted());
        if steps.len() > 1 {
            self.transactional(steps)
        } else {
            self.simple(steps)
        }
    }

    /// An upsert statement as a program: alone in autocommit, or, in the read-modify-write
    /// shape, after the read that feeds `{next}`, in one transaction.
    pub fn upsert_program(&self, upsert_sql: &str) -> Program {
        let upsert = self.step("upsert", upsert_sql, When::Always, Effect::Upsert);
        if self.shape == Shape::ReadModifyWrite {
            self.transactional(vec![
                self.step("select", &self.lookup(""), When::Always, Effect::Read),
                upsert,
            ])
        } else {
            self.simple(vec![upsert])
        }
    }

    /// The value an upsert inserts: 1, or the client's `{next}` in read-modify-write.
    pub fn upsert_value(&self) -> &'static str {
        if self.shape == Shape::ReadModifyWrite {
            "{next}"
        } else {
            "1"
        }
    }

    /// A program with no transaction, no fallback and no retries.
    pub fn simple(&self, steps: Vec<Step>) -> Program {
        Program {
            pre: vec![],
            transaction: false,
            steps,
            fallback: vec![],
            finally: vec![],
            on_unique: UniquePolicy::Fail,
            retry: RetryPolicy::NONE,
        }
    }

    /// A program wrapping `steps` in a transaction.
    pub fn transactional(&self, steps: Vec<Step>) -> Program {
        Program {
            transaction: true,
            ..self.simple(steps)
        }
    }
}

/// The outcome classes serializable-retry and user retries default to.
pub const RETRYABLE: [Outcome; 2] = [Outcome::SerializationFailure, Outcome::Deadlock];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::KeyType;

    #[test]
    fn every_builtin_builds_or_says_why_for_every_dialect_and_shape() {
        for key_type in [KeyType::Bigint, KeyType::Text] {
            let table = TableSpec {
                name: "users".into(),
                key: "email".into(),
                key_type,
                key_format: "u{}".into(),
                counter: Some("n".into()),
                payload: Some("name".into()),
            };
            for shape in [Shape::Signup, Shape::Counter, Shape::ReadModifyWrite] {
                for dialect in Dialect::ALL {
                    for b in BUILTINS {
                        let ctx = Ctx {
                            dialect,
                            table: &table,
                            shape,
                        };
                        match (b.build)(&ctx) {
                            Ok(p) => assert!(!p.steps.is_empty(), "{} has no steps", b.name),
                            Err(why) => assert!(why.starts_with("not "), "{}: {why}", b.name),
                        }
                    }
                }
            }
        }
    }
}
