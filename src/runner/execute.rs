//! One attempt of a program on a dedicated connection: steps, conditions, transaction,
//! unique-violation handling; and one operation (attempts plus retries).

use std::time::Instant;

use crate::db::{Conn, DbError, Dialect, Outcome, Param};
use crate::strategy::{Effect, ParamRef, Program, Step, UniquePolicy, When};

/// The values one operation binds.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    /// The key (integer or text).
    pub key: Param<'a>,
    /// Worker number.
    pub worker: i64,
    /// Operation sequence number within the worker.
    pub seq: i64,
    /// Per-operation payload text.
    pub payload: &'a str,
}

/// What the steps so far saw.
#[derive(Debug, Default, Clone, Copy)]
struct State {
    found: Option<bool>,
    affected: Option<bool>,
    next: i64,
    inserted: bool,
    updated: bool,
}

/// Which part of a program a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `pre`: before the transaction.
    Pre,
    /// The main steps.
    Steps,
    /// The fallback after a handled unique violation.
    Fallback,
}

/// Where an attempt failed: a step of the program, or the transaction control around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedAt {
    /// Step `index` of a part.
    Step(Part, usize),
    /// `BEGIN`.
    Begin,
    /// `COMMIT`.
    Commit,
    /// `SAVEPOINT` / `ROLLBACK TO SAVEPOINT`.
    Savepoint,
}

impl FailedAt {
    fn step(self, p: &Program) -> Option<&Step> {
        let FailedAt::Step(part, i) = self else {
            return None;
        };
        let steps = match part {
            Part::Pre => &p.pre,
            Part::Steps => &p.steps,
            Part::Fallback => &p.fallback,
        };
        steps.get(i)
    }

    /// The step's name (`insert`, `select` ...), or `BEGIN` / `COMMIT` / `SAVEPOINT`.
    pub fn name(self, p: &Program) -> &str {
        match self {
            FailedAt::Step(..) => self.step(p).map_or("?", |s| s.name.as_str()),
            FailedAt::Begin => "BEGIN",
            FailedAt::Commit => "COMMIT",
            FailedAt::Savepoint => "SAVEPOINT",
        }
    }

    /// Where a user's step is written (`file:line:column`), when known.
    pub fn location(self, p: &Program) -> Option<String> {
        self.step(p).and_then(|s| s.location.clone())
    }
}

/// How one operation ended.
#[derive(Debug, Clone)]
pub struct OpResult {
    /// The final outcome.
    pub outcome: Outcome,
    /// The error, when the outcome is an error class.
    pub error: Option<DbError>,
    /// Where the final error was raised.
    pub failed_at: Option<FailedAt>,
    /// Errors handled along the way (retried or caught), in order.
    pub handled: Vec<Outcome>,
    /// When the first unique violation was seen, if any.
    pub violation_at: Option<Instant>,
    /// Attempts beyond the first.
    pub retries: u32,
}

const SAVEPOINT: &str = "SAVEPOINT keyrace_sp";
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT keyrace_sp";

async fn run_step(
    conn: &mut Conn,
    step: &Step,
    st: &mut State,
    v: &Values<'_>,
) -> Result<(), DbError> {
    let hit = |p: &ParamRef| -> Param<'_> {
        match p {
            ParamRef::Key => v.key,
            ParamRef::Worker => Param::Int(v.worker),
            ParamRef::Seq => Param::Int(v.seq),
            ParamRef::Payload => Param::Text(v.payload),
            ParamRef::Next => Param::Int(st.next),
        }
    };
    // At most a handful of parameters: a small stack buffer avoids a Vec per statement.
    let mut buf: [Param<'_>; 8] = [Param::Int(0); 8];
    let n = step.params.len().min(8);
    for (slot, p) in buf.iter_mut().zip(&step.params) {
        *slot = hit(p);
    }
    let params = &buf[..n];
    let dialect = conn.dialect();
    if step.effect.fetches(dialect) {
        let r = conn.fetch(&step.sql, params).await?;
        match step.effect {
            Effect::Read => {
                st.found = Some(r.returned_row);
                st.next = r.first_int.map_or(1, |x| x + 1);
            }
            Effect::Upsert => {
                // PostgreSQL RETURNING (xmax = 0): true inserted, false updated, no row: nothing done.
                match r.first_bool {
                    Some(true) => st.inserted = true,
                    Some(false) => st.updated = true,
                    None => {}
                }
                st.affected = Some(r.returned_row);
            }
            _ => {}
        }
    } else {
        let affected = conn.execute(&step.sql, params).await?;
        st.affected = Some(affected > 0);
        match step.effect {
            Effect::Insert if affected > 0 => st.inserted = true,
            Effect::Update | Effect::Write if affected > 0 => st.updated = true,
            // With CLIENT_FOUND_ROWS (set by sqlx) an update to the same values reports 1,
            // like an insert: when a read already found the row, 1 means "updated to the
            // same value".
            Effect::Upsert if dialect == Dialect::Mysql => match affected {
                1 if st.found == Some(true) => st.updated = true,
                1 => st.inserted = true,
                2 => st.updated = true,
                _ => {}
            },
            Effect::Replace => match affected {
                0 => {}
                1 => st.inserted = true,
                _ => st.updated = true,
            },
            _ => {}
        }
    }
    Ok(())
}

fn should_run(when: When, st: &State) -> bool {
    match when {
        When::Always => true,
        When::Found => st.found == Some(true),
        When::NotFound => st.found != Some(true),
        When::Affected => st.affected == Some(true),
        When::NotAffected => st.affected != Some(true),
    }
}

async fn run_steps(
    conn: &mut Conn,
    (steps, part): (&[Step], Part),
    st: &mut State,
    v: &Values<'_>,
    savepoint: bool,
    at: &mut Option<FailedAt>,
) -> Result<(), DbError> {
    for (i, step) in steps.iter().enumerate() {
        if !should_run(step.when, st) {
            continue;
        }
        if savepoint && !matches!(step.effect, Effect::Read | Effect::Lock) {
            *at = Some(FailedAt::Savepoint);
            conn.batch_static(SAVEPOINT).await?;
        }
        *at = Some(FailedAt::Step(part, i));
        run_step(conn, step, st, v).await?;
    }
    Ok(())
}

async fn rollback(conn: &mut Conn) {
    // After a deadlock InnoDB has already rolled back; after an error PostgreSQL needs it.
    let _ = conn.batch_static("ROLLBACK").await;
}

/// The main steps inside BEGIN … COMMIT (when the program is transactional); on error the
/// transaction is left open for the caller to roll back or roll back to the savepoint.
async fn body(
    conn: &mut Conn,
    p: &Program,
    st: &mut State,
    v: &Values<'_>,
    savepoint: bool,
    open: &mut bool,
    at: &mut Option<FailedAt>,
) -> Result<(), DbError> {
    if p.transaction {
        *at = Some(FailedAt::Begin);
        conn.batch_static("BEGIN").await?;
        *open = true;
    }
    run_steps(conn, (&p.steps, Part::Steps), st, v, savepoint, at).await?;
    if p.transaction {
        // A failed COMMIT ends the transaction (PostgreSQL answers ROLLBACK): nothing to roll back.
        *open = false;
        *at = Some(FailedAt::Commit);
        conn.batch_static("COMMIT").await?;
    }
    Ok(())
}

/// Runs the fallback after a handled unique violation. `in_tx`: still inside the
/// transaction (savepoint policy) and must commit it.
async fn fallback(
    conn: &mut Conn,
    p: &Program,
    st: &mut State,
    v: &Values<'_>,
    in_tx: bool,
    at: &mut Option<FailedAt>,
) -> Result<(), DbError> {
    let new_tx = p.transaction && !in_tx;
    if new_tx {
        *at = Some(FailedAt::Begin);
        conn.batch_static("BEGIN").await?;
    }
    let r = run_steps(conn, (&p.fallback, Part::Fallback), st, v, false, at).await;
    if r.is_ok() && (in_tx || new_tx) {
        *at = Some(FailedAt::Commit);
        return conn.batch_static("COMMIT").await;
    }
    r
}

/// One attempt. Returns the success outcome, or the error; `handled` gets a unique
/// violation that the program's policy caught.
async fn attempt(
    conn: &mut Conn,
    p: &Program,
    v: &Values<'_>,
    handled: &mut Vec<Outcome>,
    violation_at: &mut Option<Instant>,
    at: &mut Option<FailedAt>,
) -> Result<Outcome, DbError> {
    let mut st = State {
        next: 1,
        ..State::default()
    };
    let result = async {
        run_steps(conn, (&p.pre, Part::Pre), &mut st, v, false, at).await?;
        let savepoint = p.transaction && p.on_unique == UniquePolicy::SavepointAndSelect;
        let mut open = false;
        match body(conn, p, &mut st, v, savepoint, &mut open, at).await {
            Ok(()) => Ok(()),
            Err(e) if e.class == Outcome::UniqueViolation && p.on_unique != UniquePolicy::Fail => {
                violation_at.get_or_insert_with(Instant::now);
                handled.push(Outcome::UniqueViolation);
                st.inserted = false;
                st.updated = false;
                let r = if savepoint && open {
                    *at = Some(FailedAt::Savepoint);
                    conn.batch_static(ROLLBACK_TO_SAVEPOINT).await?;
                    fallback(conn, p, &mut st, v, true, at).await
                } else {
                    if open {
                        rollback(conn).await;
                    }
                    fallback(conn, p, &mut st, v, false, at).await
                };
                if r.is_err() && p.transaction {
                    rollback(conn).await;
                }
                r
            }
            Err(e) => {
                if open {
                    rollback(conn).await;
                }
                Err(e)
            }
        }
    }
    .await;
    for step in &p.finally {
        let _ = run_step(conn, step, &mut st, v).await;
    }
    result.map(|()| {
        if st.inserted {
            Outcome::Inserted
        } else if st.updated {
            Outcome::Updated
        } else {
            Outcome::Existed
        }
    })
}

/// A new connection for a retry after a timeout (see [`operation`]); `None` when none
/// could be opened.
pub type Reopen<'r> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<Conn>> + Send + 'r>>;

/// Runs one operation: attempts until success, a non-retryable error, or the retry limit.
/// `backoff` is called with the retry number and returns the pause before it.
///
/// A retried `timeout` or `connection_error` is retried on a new connection, as a client
/// with a request timeout does: the statement may still be running (or even have
/// committed) on the old one. `reopen` is given the old connection's server id, cancels
/// what it still runs and returns a new connection, or `None` when none could be opened
/// (the operation then ends with the error). Without a retry policy for those classes
/// `reopen` is never called.
pub async fn operation<'r>(
    conn: &mut Conn,
    p: &Program,
    v: &Values<'_>,
    mut backoff: impl FnMut(u32) -> std::time::Duration,
    mut reopen: impl FnMut(Option<u64>) -> Reopen<'r>,
) -> OpResult {
    let mut handled = Vec::new();
    let mut violation_at = None;
    let mut retries = 0u32;
    let mut at = None;
    loop {
        match attempt(conn, p, v, &mut handled, &mut violation_at, &mut at).await {
            Ok(outcome) => {
                return OpResult {
                    outcome,
                    error: None,
                    failed_at: None,
                    handled,
                    violation_at,
                    retries,
                };
            }
            Err(e) => {
                if e.class == Outcome::UniqueViolation {
                    violation_at.get_or_insert_with(Instant::now);
                }
                if p.retry.retries(e.class, retries) {
                    if matches!(e.class, Outcome::Timeout | Outcome::ConnectionError)
                        || conn.is_broken()
                    {
                        match reopen(conn.backend_id()).await {
                            Some(fresh) => *conn = fresh,
                            None => {
                                return OpResult {
                                    outcome: e.class,
                                    error: Some(e),
                                    failed_at: at,
                                    handled,
                                    violation_at,
                                    retries,
                                };
                            }
                        }
                    }
                    handled.push(e.class);
                    retries += 1;
                    let pause = backoff(retries);
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                    continue;
                }
                return OpResult {
                    outcome: e.class,
                    error: Some(e),
                    failed_at: at,
                    handled,
                    violation_at,
                    retries,
                };
            }
        }
    }
}
