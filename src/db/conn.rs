//! One dedicated connection per session, and statement execution with bound parameters,
//! each connect and statement bounded by a deadline so a silent or stopped server cannot hang
//! keyrace.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::{
    Column, Connection, Executor, Row, SqlStr, mysql::MySqlConnection, postgres::PgConnection,
};

use super::{DbError, Dialect, Engine, Outcome};

/// Default limit on opening a connection (TCP connect, TLS, startup, authentication), ms.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The process-wide connect timeout, ms (see [`set_connect_timeout`]).
static CONNECT_TIMEOUT_MS: AtomicU64 = AtomicU64::new(10_000);

/// Sets the limit on opening any connection (`--connect-timeout`; default
/// [`DEFAULT_CONNECT_TIMEOUT`]). A server that accepts TCP but never answers (a silent
/// listener, a stopped process) fails with a connection error after this long.
pub fn set_connect_timeout(d: Duration) {
    CONNECT_TIMEOUT_MS.store(d.as_millis().max(1) as u64, Ordering::Relaxed);
}

/// The current connect timeout (see [`set_connect_timeout`]).
pub fn connect_timeout() -> Duration {
    Duration::from_millis(CONNECT_TIMEOUT_MS.load(Ordering::Relaxed))
}

#[derive(Debug)]
enum Inner {
    Pg(PgConnection),
    My(MySqlConnection),
}

/// A dedicated connection to PostgreSQL or MySQL/MariaDB.
///
/// Each worker (session) owns one for the whole run, so no time is spent acquiring
/// connections from a pool on the hot path. Statements go through sqlx's per-connection
/// prepared-statement cache: each distinct SQL text is prepared once and reused.
///
/// With a statement timeout set ([`Conn::set_statement_timeout`]), a statement that gets no
/// answer in time fails with [`Outcome::Timeout`] (code `timeout`) and the connection is
/// marked broken: the server may still be running the statement (cancel it from another
/// connection with [`cancel_backend`] and the [`Conn::backend_id`]), and every later call
/// fails at once with the same class until the connection is replaced.
#[derive(Debug)]
pub struct Conn {
    inner: Inner,
    engine: Engine,
    statement_timeout: Option<Duration>,
    backend_id: Option<u64>,
    broken: bool,
}
/// A value bound to a statement parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    /// A 64-bit integer (`BIGINT`).
    Int(i64),
    /// A text value (`TEXT`/`VARCHAR`).
    Text(&'a str),
}

/// What one executed statement returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepResult {
    /// Rows affected (writes); on MySQL/MariaDB with CLIENT_FOUND_ROWS, which sqlx sets.
    pub rows_affected: u64,
    /// Whether the statement returned at least one row.
    pub returned_row: bool,
    /// The first column of the first row, when it is an integer.
    pub first_int: Option<i64>,
    /// The first column of the first row, when it is a boolean (PostgreSQL `RETURNING (xmax = 0)`).
    pub first_bool: Option<bool>,
}

/// Runs `fut` within `limit`; on expiry a [`Outcome::Timeout`] error naming `what`.
pub async fn bounded<T>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, DbError>>,
) -> Result<T, DbError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(DbError {
            class: Outcome::Timeout,
            code: "timeout".into(),
            message: format!("no answer to {what} within {} ms", limit.as_millis()),
        }),
    }
}

/// The error of a statement or connect that got no answer within `limit`.
fn timed_out(what: &str, limit: Duration) -> DbError {
    DbError {
        class: Outcome::Timeout,
        code: "timeout".into(),
        message: format!("no answer to {what} within {}", fmt_duration(limit)),
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

impl Conn {
    /// Opens a connection to `url` (a `postgres://` or `mysql://` URL) within the connect
    /// timeout ([`connect_timeout`]).
    ///
    /// Errors: the classified connection error (usually [`Outcome::ConnectionError`]); a
    /// server that does not answer in time gives [`Outcome::ConnectionError`] with code
    /// `connect_timeout`.
    pub async fn connect(dialect: Dialect, url: &str) -> Result<Conn, DbError> {
        Conn::open(Engine::default_for(dialect), url).await
    }

    /// [`Conn::connect`] to a server known to be `engine` (its errors are classified by
    /// that engine's table).
    ///
    /// Errors: as [`Conn::connect`].
    pub async fn open(engine: Engine, url: &str) -> Result<Conn, DbError> {
        let limit = connect_timeout();
        let dialect = engine.dialect();
        let fut = async {
            match dialect {
                Dialect::Postgres => PgConnection::connect(url).await.map(Inner::Pg),
                Dialect::Mysql => MySqlConnection::connect(url).await.map(Inner::My),
            }
            .map_err(|e| engine.classify(&e))
        };
        match tokio::time::timeout(limit, fut).await {
            Ok(r) => r.map(|inner| Conn {
                inner,
                engine,
                statement_timeout: None,
                backend_id: None,
                broken: false,
            }),
            Err(_) => Err(DbError {
                class: Outcome::ConnectionError,
                code: "connect_timeout".into(),
                message: format!(
                    "the server accepted no connection within {} (connect timeout)",
                    fmt_duration(limit)
                ),
            }),
        }
    }

    /// The dialect of this connection.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Pg(_) => Dialect::Postgres,
            Inner::My(_) => Dialect::Mysql,
        }
    }

    /// The engine whose error table classifies this connection's errors.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Sets the engine once the server has said what it is (see [`super::detect`]).
    pub fn set_engine(&mut self, engine: Engine) {
        self.engine = engine;
    }

    /// Bounds every later statement on this connection by `limit` (`None`: no bound).
    pub fn set_statement_timeout(&mut self, limit: Option<Duration>) {
        self.statement_timeout = limit;
    }

    /// True once a statement missed its deadline: the connection must be replaced.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The server's id of this session (PostgreSQL `pg_backend_pid()`, MySQL/MariaDB
    /// `CONNECTION_ID()`), once read by [`Conn::read_backend_id`].
    pub fn backend_id(&self) -> Option<u64> {
        self.backend_id
    }

    /// Reads and remembers the server's id of this session (see [`Conn::backend_id`]), so
    /// a statement that misses its deadline can be cancelled from another connection.
    ///
    /// Errors: the database error.
    pub async fn read_backend_id(&mut self) -> Result<Option<u64>, DbError> {
        let sql = self.engine.backend_id_sql();
        let id = self.scalar_text(sql).await?.and_then(|t| t.parse().ok());
        self.backend_id = id;
        Ok(id)
    }

    /// The error every call on a broken connection returns at once.
    fn check_broken(&self) -> Result<(), DbError> {
        if self.broken {
            return Err(DbError {
                class: Outcome::Timeout,
                code: "timeout".into(),
                message: "the connection missed a statement deadline earlier".into(),
            });
        }
        Ok(())
    }

    /// Runs SQL without parameters over the simple/text protocol (BEGIN, COMMIT, DDL,
    /// several statements separated by `;`). Results are discarded.
    pub async fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.check_broken()?;
        let engine = self.engine;
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let fut = async {
            match &mut self.inner {
                Inner::Pg(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
                Inner::My(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
            }
        };
        within(engine, self.statement_timeout, &mut self.broken, fut).await
    }

    /// [`Conn::batch`] for SQL known at compile time (BEGIN, COMMIT, ROLLBACK, SAVEPOINT):
    /// no copy of the text per call.
    pub async fn batch_static(&mut self, sql: &'static str) -> Result<(), DbError> {
        self.check_broken()?;
        let engine = self.engine;
        let fut = async {
            match &mut self.inner {
                Inner::Pg(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
                Inner::My(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
            }
        };
        within(engine, self.statement_timeout, &mut self.broken, fut).await
    }

    /// Executes a write statement and returns the rows it affected.
    pub async fn execute(&mut self, sql: &SqlStr, params: &[Param<'_>]) -> Result<u64, DbError> {
        self.check_broken()?;
        let engine = self.engine;
        let fut = async {
            match &mut self.inner {
                Inner::Pg(c) => {
                    let q = bind_params(sqlx::query::<sqlx::Postgres>(sql.clone()), params);
                    q.execute(&mut *c).await.map(|r| r.rows_affected())
                }
                Inner::My(c) => {
                    let q = bind_params(sqlx::query::<sqlx::MySql>(sql.clone()), params);
                    q.execute(&mut *c).await.map(|r| r.rows_affected())
                }
            }
        };
        within(engine, self.statement_timeout, &mut self.broken, fut).await
    }

    /// Runs a statement that may return rows and reports whether it did, with the first
    /// column of the first row when it is an integer or boolean.
    pub async fn fetch(
        &mut self,
        sql: &SqlStr,
        params: &[Param<'_>],
    ) -> Result<StepResult, DbError> {
        self.check_broken()?;
        let engine = self.engine;
        let fut = async {
            match &mut self.inner {
                Inner::Pg(c) => {
                    let q = bind_params(sqlx::query::<sqlx::Postgres>(sql.clone()), params);
                    q.fetch_optional(&mut *c)
                        .await
                        .map(|row| row.map(|r| first_value(&r)))
                }
                Inner::My(c) => {
                    let q = bind_params(sqlx::query::<sqlx::MySql>(sql.clone()), params);
                    q.fetch_optional(&mut *c)
                        .await
                        .map(|row| row.map(|r| first_value(&r)))
                }
            }
        };
        match within(engine, self.statement_timeout, &mut self.broken, fut).await? {
            Some((first_int, first_bool)) => Ok(StepResult {
                rows_affected: 1,
                returned_row: true,
                first_int,
                first_bool,
            }),
            None => Ok(StepResult::default()),
        }
    }

    /// Prepares `sql` on the server without running it, binding parameters of the given
    /// kinds (`true`: text, `false`: BIGINT) so PostgreSQL infers the same types as at run
    /// time. The server checks syntax and that tables, columns and functions exist.
    ///
    /// Errors: the server's error (e.g. 42703 undefined column, 1054 on MySQL/MariaDB).
    pub async fn prepare(&mut self, sql: &SqlStr, text_params: &[bool]) -> Result<(), DbError> {
        self.check_broken()?;
        let engine = self.engine;
        let fut = async {
            match &mut self.inner {
                Inner::Pg(c) => {
                    use sqlx::{Postgres, Type};
                    let types: Vec<_> = text_params
                        .iter()
                        .map(|&t| {
                            if t {
                                <&str as Type<Postgres>>::type_info()
                            } else {
                                <i64 as Type<Postgres>>::type_info()
                            }
                        })
                        .collect();
                    (&mut *c)
                        .prepare_with(sql.clone(), &types)
                        .await
                        .map(|_| ())
                }
                Inner::My(c) => (&mut *c).prepare(sql.clone()).await.map(|_| ()),
            }
        };
        within(engine, self.statement_timeout, &mut self.broken, fut).await
    }

    /// The rows of `sql` as text (as [`Conn::rows_text`]), `sql` taking `ids` as its one
    /// parameter `$1` (a PostgreSQL `int4[]`). The statement is prepared on its first run
    /// and reused from sqlx's per-connection cache after that: later runs send no query
    /// text to parse and plan. PostgreSQL only.
    ///
    /// Errors: the server's error; a MySQL/MariaDB connection answers a client error.
    pub async fn rows_text_by_ids(
        &mut self,
        sql: &'static str,
        ids: &[u64],
    ) -> Result<Vec<Vec<Option<String>>>, DbError> {
        self.check_broken()?;
        let engine = self.engine;
        let ids: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
        let fut = async {
            match &mut self.inner {
                Inner::Pg(c) => sqlx::query(sql)
                    .bind(ids)
                    .fetch_all(&mut *c)
                    .await
                    .map(|rows| text_rows(&rows).1),
                Inner::My(_) => Err(sqlx::Error::Protocol(
                    "array parameters need PostgreSQL".into(),
                )),
            }
        };
        within(engine, self.statement_timeout, &mut self.broken, fut).await
    }

    /// Returns the first column of the first row as text (for versions and settings), or
    /// `None` when there is no row or the value is NULL.
    pub async fn scalar_text(&mut self, sql: &str) -> Result<Option<String>, DbError> {
        self.check_broken()?;
        let engine = self.engine;
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let fut = async {
            match &mut self.inner {
                Inner::Pg(c) => c
                    .fetch_optional(sqlx::raw_sql(sql))
                    .await
                    .map(|o| o.and_then(|r| text_value(&r))),
                Inner::My(c) => c
                    .fetch_optional(sqlx::raw_sql(sql))
                    .await
                    .map(|o| o.and_then(|r| text_value(&r))),
            }
        };
        within(engine, self.statement_timeout, &mut self.broken, fut).await
    }

    /// Returns every row of a query as text cells (NULL as `None`); for verification and
    /// interleaving output, not the hot path.
    pub async fn rows_text(
        &mut self,
        sql: &str,
    ) -> Result<(Vec<String>, Vec<Vec<Option<String>>>), DbError> {
        self.check_broken()?;
        let engine = self.engine;
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let fut = async {
            match &mut self.inner {
                Inner::Pg(c) => c
                    .fetch_all(sqlx::raw_sql(sql))
                    .await
                    .map(|rows| text_rows(&rows)),
                Inner::My(c) => c
                    .fetch_all(sqlx::raw_sql(sql))
                    .await
                    .map(|rows| text_rows(&rows)),
            }
        };
        within(engine, self.statement_timeout, &mut self.broken, fut).await
    }

    /// The column names of the result set `sql` returns, as the server describes the
    /// statement when it prepares it (MySQL/MariaDB `COM_STMT_PREPARE`, through sqlx's
    /// `prepare`, whose statement lists the columns; nothing runs). `None` when the server cannot prepare it (several
    /// statements, `EXECUTE`, …) or describes no columns.
    ///
    /// This is how a step's empty result set is told from a write on MySQL/MariaDB:
    /// sqlx's `fetch_many` keeps a result set's column definitions only in the rows it
    /// yields, so an empty one comes back as a bare query result.
    pub async fn describe_columns(&mut self, sql: &str) -> Option<Vec<String>> {
        use sqlx::SqlSafeStr;
        if self.check_broken().is_err() {
            return None;
        }
        let sql = sqlx::AssertSqlSafe(sql.to_string()).into_sql_str();
        let engine = self.engine;
        let fut = async {
            use sqlx::Statement;
            match &mut self.inner {
                Inner::Pg(c) => (&mut *c)
                    .prepare(sql)
                    .await
                    .map(|st| st.columns().iter().map(|c| c.name().to_string()).collect()),
                Inner::My(c) => (&mut *c)
                    .prepare(sql)
                    .await
                    .map(|st| st.columns().iter().map(|c| c.name().to_string()).collect()),
            }
        };
        let columns: Vec<String> = within(engine, self.statement_timeout, &mut self.broken, fut)
            .await
            .ok()?;
        (!columns.is_empty()).then_some(columns)
    }

    /// Runs `sql` (one or several statements) over the text protocol for an interleaving
    /// step and keeps each result set apart, with the error that ended the text, if any.
    ///
    /// Used for MySQL/MariaDB ([`super::StepConn`] runs PostgreSQL steps). sqlx's
    /// `fetch_many` yields rows then one query result per statement; it drops the column
    /// definitions of a result set with no rows, so such a set is not reported.
    pub async fn step_text(&mut self, sql: &str) -> super::StepText {
        use futures_util::TryStreamExt;
        let mut out = super::StepText::default();
        if let Err(e) = self.check_broken() {
            out.error = Some(e);
            return out;
        }
        let engine = self.engine;
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let mut current: Vec<Vec<Option<String>>> = Vec::new();
        let mut columns: Vec<String> = Vec::new();
        macro_rules! collect {
            ($c:expr) => {{
                let mut s = $c.fetch_many(sqlx::raw_sql(sql));
                loop {
                    match s.try_next().await {
                        Ok(Some(sqlx::Either::Right(row))) => {
                            if current.is_empty() {
                                columns =
                                    row.columns().iter().map(|c| c.name().to_string()).collect();
                            }
                            current.push(
                                (0..row.columns().len())
                                    .map(|i| cell_text(&row, i))
                                    .collect(),
                            );
                        }
                        Ok(Some(sqlx::Either::Left(done))) => {
                            out.last_is_set = !current.is_empty();
                            out.returned_set.push(!current.is_empty());
                            if current.is_empty() {
                                out.affected.push(done.rows_affected());
                            } else {
                                out.replies.push(super::Reply::Set {
                                    columns: std::mem::take(&mut columns),
                                    rows: std::mem::take(&mut current),
                                });
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            current.clear();
                            out.error = Some(engine.classify(&e));
                            break;
                        }
                    }
                }
            }};
        }
        match &mut self.inner {
            Inner::Pg(c) => collect!(c),
            Inner::My(c) => collect!(c),
        }
        if !current.is_empty() {
            out.last_is_set = true;
            out.returned_set.push(true);
            out.replies.push(super::Reply::Set {
                columns,
                rows: current,
            });
        }
        out
    }

    /// Closes the connection politely (at most one second; a broken connection is just
    /// dropped, its socket closed).
    pub async fn close(self) {
        if self.broken {
            return;
        }
        let fut = async {
            let _ = match self.inner {
                Inner::Pg(c) => c.close().await,
                Inner::My(c) => c.close().await,
            };
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), fut).await;
    }
}

/// Runs a statement future within `limit`; on expiry marks the connection broken.
async fn within<T>(
    engine: Engine,
    limit: Option<Duration>,
    broken: &mut bool,
    fut: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, DbError> {
    let r = match limit {
        None => fut.await,
        Some(limit) => match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => {
                *broken = true;
                return Err(timed_out("a statement", limit));
            }
        },
    };
    r.map_err(|e| engine.classify(&e))
}

/// Cancels the statement that session `backend_id` is running, from a new connection to
/// `url` (PostgreSQL `pg_cancel_backend(pid)`, MySQL/MariaDB `KILL QUERY id`), within the
/// connect timeout plus `limit`. Returns whether the server confirmed it.
///
/// Errors: the connection or database error; a timeout as [`Outcome::Timeout`].
pub async fn cancel_backend(
    engine: Engine,
    url: &str,
    backend_id: u64,
    limit: Duration,
) -> Result<bool, DbError> {
    let mut side = Conn::open(engine, url).await?;
    side.set_statement_timeout(Some(limit));
    let sql = engine.cancel_sql(backend_id);
    let r = match engine.dialect() {
        // pg_cancel_backend answers false when the session is already gone.
        Dialect::Postgres => side
            .scalar_text(&sql)
            .await
            .map(|v| matches!(v.as_deref(), Some("true" | "t"))),
        Dialect::Mysql => match side.batch(&sql).await {
            Ok(()) => Ok(true),
            // 1094: unknown thread id (the session is already gone).
            Err(e) if e.code == "1094" => Ok(false),
            Err(e) => Err(e),
        },
    };
    side.close().await;
    r
}

/// Binds `params` in order (integers as BIGINT, text borrowed, not copied), for either dialect.
fn bind_params<'q, DB: sqlx::Database>(
    mut q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    params: &[Param<'q>],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for p in params {
        q = match *p {
            Param::Int(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
        };
    }
    q
}

fn first_value<R: Row>(row: &R) -> (Option<i64>, Option<bool>)
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    use sqlx::{Type, TypeInfo};
    // Check the column type first and decode unchecked: `try_get` with the wrong type
    // builds (and formats) an error, which on the hot path cost two allocations per
    // PostgreSQL upsert (an i64 then an i32 attempt before the boolean of RETURNING).
    let Some(col) = row.columns().first() else {
        return (None, None);
    };
    let ti = col.type_info();
    if ti.is_null() {
        return (None, None);
    }
    if <i64 as Type<R::Database>>::compatible(ti)
        && let Ok(Some(v)) = row.try_get_unchecked::<Option<i64>, _>(0usize)
    {
        return (Some(v), None);
    }
    if <i32 as Type<R::Database>>::compatible(ti)
        && let Ok(Some(v)) = row.try_get_unchecked::<Option<i32>, _>(0usize)
    {
        return (Some(i64::from(v)), None);
    }
    if <bool as Type<R::Database>>::compatible(ti)
        && let Ok(Some(v)) = row.try_get_unchecked::<Option<bool>, _>(0usize)
    {
        return (None, Some(v));
    }
    (None, None)
}

fn text_value<R: Row>(row: &R) -> Option<String>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    cell_text(row, 0)
}

fn cell_text<R: Row>(row: &R, i: usize) -> Option<String>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    if let Ok(v) = row.try_get_unchecked::<Option<String>, _>(i) {
        return v;
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map(|v| v.to_string());
    }
    if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
        return v.map(|v| v.to_string());
    }
    if let Ok(v) = row.try_get_unchecked::<Option<Vec<u8>>, _>(i) {
        return v.map(|b| String::from_utf8_lossy(&b).into_owned());
    }
    Some("?".into())
}

fn text_rows<R: Row>(rows: &[R]) -> (Vec<String>, Vec<Vec<Option<String>>>)
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let names = rows
        .first()
        .map(|r| r.columns().iter().map(|c| c.name().to_string()).collect())
        .unwrap_or_default();
    let cells = rows
        .iter()
        .map(|r| (0..r.columns().len()).map(|i| cell_text(r, i)).collect())
        .collect();
    (names, cells)
}
