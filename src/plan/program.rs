//! The step program every strategy compiles to: statements with bound parameters,
//! conditions, effects, and an error policy.

use sqlx::SqlStr;

use crate::vocab::{Dialect, Outcome};

/// A value a statement parameter is bound to, written `{name}` in SQL templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamRef {
    /// `{key}`: the operation's key (BIGINT or text, per the table's key type).
    Key,
    /// `{worker}`: the worker (session) number, from 0.
    Worker,
    /// `{seq}`: the operation's sequence number within its worker, from 0.
    Seq,
    /// `{payload}`: a per-operation text, `w<worker>-<seq>`.
    Payload,
    /// `{next}`: the integer the last read returned, plus 1 (1 when nothing was read).
    Next,
}

impl ParamRef {
    const NAMES: [(&'static str, ParamRef); 5] = [
        ("key", ParamRef::Key),
        ("worker", ParamRef::Worker),
        ("seq", ParamRef::Seq),
        ("payload", ParamRef::Payload),
        ("next", ParamRef::Next),
    ];
}

/// When a step runs, relative to the steps before it in the same attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always.
    Always,
    /// The last executed read returned a row.
    Found,
    /// The last executed read returned no row.
    NotFound,
    /// The last executed write affected at least one row.
    Affected,
    /// The last executed write affected no row.
    NotAffected,
}

impl When {
    /// Parses `always`, `found`, `not-found`, `affected`, `not-affected`.
    pub fn parse(s: &str) -> Option<When> {
        match s.replace('_', "-").as_str() {
            "always" => Some(When::Always),
            "found" => Some(When::Found),
            "not-found" => Some(When::NotFound),
            "affected" => Some(When::Affected),
            "not-affected" => Some(When::NotAffected),
            _ => None,
        }
    }
}

/// What a step's success means for the operation's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A query: "found" when it returns a row; its first integer column feeds `{next}`.
    Read,
    /// Takes a lock (advisory lock, GET_LOCK); no effect on the outcome.
    Lock,
    /// An insert: inserted when it affects a row, otherwise (e.g. DO NOTHING, IGNORE) existed.
    Insert,
    /// An update: updated when it affects a row.
    Update,
    /// An upsert. PostgreSQL: the statement must return one boolean, true when the row was
    /// inserted (`RETURNING (xmax = 0)`). MySQL/MariaDB: affected rows 1 = inserted,
    /// 2 = updated, 0 = existing row left unchanged (MySQL manual, INSERT ... ON DUPLICATE
    /// KEY UPDATE; with CLIENT_FOUND_ROWS, which sqlx sets, an unchanged row reports 1, so
    /// built-ins always change the row on update).
    Upsert,
    /// REPLACE: 1 affected row = inserted, 2 or more = an existing row was deleted and
    /// re-inserted (counted as updated).
    Replace,
    /// Any other write: updated when it affects a row (e.g. PostgreSQL 15 MERGE, which does
    /// not tell insert from update).
    Write,
}

impl Effect {
    /// Parses `read`, `lock`, `insert`, `update`, `upsert`, `replace`, `write`.
    pub fn parse(s: &str) -> Option<Effect> {
        match s {
            "read" => Some(Effect::Read),
            "lock" => Some(Effect::Lock),
            "insert" => Some(Effect::Insert),
            "update" => Some(Effect::Update),
            "upsert" => Some(Effect::Upsert),
            "replace" => Some(Effect::Replace),
            "write" => Some(Effect::Write),
            _ => None,
        }
    }

    /// Guesses the effect from the statement's first keyword (SELECT → read, INSERT →
    /// insert, UPDATE → update, REPLACE → replace, MERGE → write, other → write).
    pub fn infer(sql: &str) -> Effect {
        let first = sql
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match first.as_str() {
            "SELECT" | "WITH" | "SHOW" => Effect::Read,
            "INSERT" => Effect::Insert,
            "UPDATE" => Effect::Update,
            "REPLACE" => Effect::Replace,
            _ => Effect::Write,
        }
    }

    /// True when the statement is run for rows (read, lock, PostgreSQL upsert).
    pub fn fetches(self, dialect: Dialect) -> bool {
        matches!(self, Effect::Read | Effect::Lock)
            || (self == Effect::Upsert && dialect == Dialect::Postgres)
    }
}

/// One statement of a program.
#[derive(Debug, Clone)]
pub struct Step {
    /// Step name (for messages).
    pub name: String,
    /// The SQL as the user or the built-in wrote it, with `{param}` placeholders.
    pub template: String,
    /// The SQL with positional placeholders (`$1` / `?`), shared cheaply between workers.
    pub sql: SqlStr,
    /// The parameters to bind, in placeholder order.
    pub params: Vec<ParamRef>,
    /// When the step runs.
    pub when: When,
    /// What its success means.
    pub effect: Effect,
    /// Where a user's step is written (`file:line:column` of its SQL), for messages; `None`
    /// for built-in steps.
    pub location: Option<String>,
}

/// What to do when a step fails with a unique violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniquePolicy {
    /// The operation ends with the unique violation.
    Fail,
    /// Roll the transaction back, then run the fallback steps in a new one.
    RollbackAndSelect,
    /// Roll back to a savepoint taken before each write, then run the fallback steps in the
    /// same transaction (the only way to continue a PostgreSQL transaction after an error).
    SavepointAndSelect,
}

impl UniquePolicy {
    /// Parses `fail`, `rollback-and-select`, `savepoint-and-select`.
    pub fn parse(s: &str) -> Option<UniquePolicy> {
        match s.replace('_', "-").as_str() {
            "fail" => Some(UniquePolicy::Fail),
            "rollback-and-select" | "rollback" => Some(UniquePolicy::RollbackAndSelect),
            "savepoint-and-select" | "savepoint" => Some(UniquePolicy::SavepointAndSelect),
            _ => None,
        }
    }
}

/// Retry on chosen outcome classes, with exponential backoff and jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Which classes are retried, indexed by [`Outcome::index`].
    pub on: [bool; Outcome::COUNT],
    /// At most this many retries per operation (0 = never retry).
    pub max_retries: u32,
    /// Base backoff before the first retry, µs; doubled per retry, capped at 100 ms, with
    /// ±50 % jitter.
    pub backoff_us: u64,
}

impl RetryPolicy {
    /// No retries.
    pub const NONE: RetryPolicy = RetryPolicy {
        on: [false; Outcome::COUNT],
        max_retries: 0,
        backoff_us: 0,
    };

    /// Retries `classes` up to `max_retries` times.
    pub fn on(classes: &[Outcome], max_retries: u32, backoff_us: u64) -> RetryPolicy {
        let mut on = [false; Outcome::COUNT];
        for c in classes {
            on[c.index()] = true;
        }
        RetryPolicy {
            on,
            max_retries,
            backoff_us,
        }
    }

    /// Whether an attempt that ended in `class` after `retries` retries is tried again.
    pub fn retries(&self, class: Outcome, retries: u32) -> bool {
        self.on[class.index()] && retries < self.max_retries
    }
}

/// A strategy compiled for one dialect.
///
/// One attempt runs: `pre` steps in autocommit; `BEGIN` if `transaction`; `steps`; `COMMIT`;
/// then `finally` steps, whatever happened (e.g. RELEASE_LOCK). A unique violation is handled
/// per `on_unique` (running `fallback`); an attempt that fails in a class of `retry` is run
/// again.
#[derive(Debug, Clone)]
pub struct Program {
    /// Steps before the transaction (autocommit).
    pub pre: Vec<Step>,
    /// Wrap `steps` in BEGIN … COMMIT.
    pub transaction: bool,
    /// The main steps.
    pub steps: Vec<Step>,
    /// Steps run after a handled unique violation.
    pub fallback: Vec<Step>,
    /// Steps run at the end of every attempt, after COMMIT or ROLLBACK.
    pub finally: Vec<Step>,
    /// Unique violation handling.
    pub on_unique: UniquePolicy,
    /// Retry policy.
    pub retry: RetryPolicy,
}

/// Compiles a `{param}` template to the dialect's positional placeholders.
///
/// PostgreSQL numbers each distinct parameter once (`$1` may appear twice); MySQL/MariaDB
/// gets one `?` per occurrence. Braces that do not enclose a plain word are left as they
/// are. Errors: an unknown `{name}`, with the list of known ones.
pub fn compile(dialect: Dialect, template: &str) -> Result<(String, Vec<ParamRef>), String> {
    let mut out = String::with_capacity(template.len());
    let mut params: Vec<ParamRef> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}');
        let word = close.map(|c| &after[..c]);
        match word {
            Some(w)
                if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                let Some(&(_, p)) = ParamRef::NAMES.iter().find(|(n, _)| *n == w) else {
                    let known: Vec<_> = ParamRef::NAMES
                        .iter()
                        .map(|(n, _)| format!("{{{n}}}"))
                        .collect();
                    return Err(format!(
                        "unknown parameter {{{w}}}; known: {}",
                        known.join(", ")
                    ));
                };
                match dialect {
                    Dialect::Postgres => {
                        let idx = match params.iter().position(|q| *q == p) {
                            Some(i) => i,
                            None => {
                                params.push(p);
                                params.len() - 1
                            }
                        };
                        out.push_str(&format!("${}", idx + 1));
                    }
                    Dialect::Mysql => {
                        params.push(p);
                        out.push('?');
                    }
                }
                rest = &after[w.len() + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if params.len() > MAX_BIND_PARAMS {
        return Err(format!(
            "the statement binds {} parameters; {} accepts at most {MAX_BIND_PARAMS} per \
             statement (the protocol's 16-bit count): split it",
            params.len(),
            match dialect {
                Dialect::Postgres => "PostgreSQL",
                Dialect::Mysql => "MySQL/MariaDB",
            }
        ));
    }
    Ok((out, params))
}

/// The most parameters one statement may bind: the wire protocols count them in 16 bits
/// (PostgreSQL's Bind message, MySQL's COM_STMT_PREPARE answer), so a longer statement
/// would be cut or refused by the driver. Rejected when the scenario is validated.
pub const MAX_BIND_PARAMS: usize = 65_535;

impl Step {
    /// Builds a step from a template; errors as [`compile`].
    pub fn new(
        dialect: Dialect,
        name: &str,
        template: &str,
        when: When,
        effect: Effect,
    ) -> Result<Step, String> {
        let (sql, params) = compile(dialect, template)?;
        Ok(Step {
            name: name.to_string(),
            template: template.to_string(),
            sql: sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(sql)),
            params,
            when,
            effect,
            location: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_parameters_are_rejected_not_cut() {
        let t = vec!["{key}"; MAX_BIND_PARAMS + 1].join(", ");
        let e = compile(Dialect::Mysql, &format!("SELECT {t}")).unwrap_err();
        assert!(e.contains("65536 parameters"), "{e}");
        // PostgreSQL numbers a repeated parameter once: no limit reached.
        assert!(compile(Dialect::Postgres, &format!("SELECT {t}")).is_ok());
    }

    #[test]
    fn compiles_placeholders_per_dialect() {
        let t = "INSERT INTO t (k, p) SELECT {key}, {payload} WHERE NOT EXISTS (SELECT 1 FROM t WHERE k = {key})";
        let (pg, pgp) = compile(Dialect::Postgres, t).unwrap();
        assert!(pg.contains("SELECT $1, $2") && pg.ends_with("k = $1)"));
        assert_eq!(pgp, vec![ParamRef::Key, ParamRef::Payload]);
        let (my, myp) = compile(Dialect::Mysql, t).unwrap();
        assert_eq!(my.matches('?').count(), 3);
        assert_eq!(myp, vec![ParamRef::Key, ParamRef::Payload, ParamRef::Key]);
    }

    #[test]
    fn rejects_unknown_and_keeps_other_braces() {
        assert!(
            compile(Dialect::Postgres, "SELECT {kye}")
                .unwrap_err()
                .contains("{kye}")
        );
        let (s, p) = compile(Dialect::Postgres, "SELECT '{\"a\": 1}'::jsonb, {key}").unwrap();
        assert_eq!(s, "SELECT '{\"a\": 1}'::jsonb, $1");
        assert_eq!(p, vec![ParamRef::Key]);
    }
}
