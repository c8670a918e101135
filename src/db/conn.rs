//! One dedicated connection per session, and statement execution with bound parameters.

use sqlx::{
    Column, Connection, Executor, Row, SqlStr, mysql::MySqlConnection, postgres::PgConnection,
};

use super::{DbError, Dialect, classify};

/// A dedicated connection to PostgreSQL or MySQL/MariaDB.
///
/// Each worker (session) owns one for the whole run, so no time is spent acquiring
/// connections from a pool on the hot path. Statements go through sqlx's per-connection
/// prepared-statement cache: each distinct SQL text is prepared once and reused.
#[derive(Debug)]
pub enum Conn {
    /// A PostgreSQL connection.
    Pg(PgConnection),
    /// A MySQL/MariaDB connection.
    My(MySqlConnection),
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

impl Conn {
    /// Opens a connection to `url` (a `postgres://` or `mysql://` URL).
    ///
    /// Errors: the classified connection error (usually [`super::Outcome::ConnectionError`]).
    pub async fn connect(dialect: Dialect, url: &str) -> Result<Conn, DbError> {
        match dialect {
            Dialect::Postgres => PgConnection::connect(url).await.map(Conn::Pg),
            Dialect::Mysql => MySqlConnection::connect(url).await.map(Conn::My),
        }
        .map_err(|e| classify(dialect, &e))
    }

    /// The dialect of this connection.
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Pg(_) => Dialect::Postgres,
            Conn::My(_) => Dialect::Mysql,
        }
    }

    /// Runs SQL without parameters over the simple/text protocol (BEGIN, COMMIT, DDL,
    /// several statements separated by `;`). Results are discarded.
    pub async fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let dialect = self.dialect();
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let r = match self {
            Conn::Pg(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
            Conn::My(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
        };
        r.map_err(|e| classify(dialect, &e))
    }

    /// [`Conn::batch`] for SQL known at compile time (BEGIN, COMMIT, ROLLBACK, SAVEPOINT):
    /// no copy of the text per call.
    pub async fn batch_static(&mut self, sql: &'static str) -> Result<(), DbError> {
        let dialect = self.dialect();
        let r = match self {
            Conn::Pg(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
            Conn::My(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
        };
        r.map_err(|e| classify(dialect, &e))
    }

    /// Executes a write statement and returns the rows it affected.
    pub async fn execute(&mut self, sql: &SqlStr, params: &[Param<'_>]) -> Result<u64, DbError> {
        let dialect = self.dialect();
        let r = match self {
            Conn::Pg(c) => {
                let q = bind_params(sqlx::query::<sqlx::Postgres>(sql.clone()), params);
                q.execute(&mut *c).await.map(|r| r.rows_affected())
            }
            Conn::My(c) => {
                let q = bind_params(sqlx::query::<sqlx::MySql>(sql.clone()), params);
                q.execute(&mut *c).await.map(|r| r.rows_affected())
            }
        };
        r.map_err(|e| classify(dialect, &e))
    }

    /// Runs a statement that may return rows and reports whether it did, with the first
    /// column of the first row when it is an integer or boolean.
    pub async fn fetch(
        &mut self,
        sql: &SqlStr,
        params: &[Param<'_>],
    ) -> Result<StepResult, DbError> {
        let dialect = self.dialect();
        let r = match self {
            Conn::Pg(c) => {
                let q = bind_params(sqlx::query::<sqlx::Postgres>(sql.clone()), params);
                q.fetch_optional(&mut *c)
                    .await
                    .map(|row| row.map(|r| first_value(&r)))
            }
            Conn::My(c) => {
                let q = bind_params(sqlx::query::<sqlx::MySql>(sql.clone()), params);
                q.fetch_optional(&mut *c)
                    .await
                    .map(|row| row.map(|r| first_value(&r)))
            }
        };
        match r {
            Ok(Some((first_int, first_bool))) => Ok(StepResult {
                rows_affected: 1,
                returned_row: true,
                first_int,
                first_bool,
            }),
            Ok(None) => Ok(StepResult::default()),
            Err(e) => Err(classify(dialect, &e)),
        }
    }

    /// Returns the first column of the first row as text (for versions and settings), or
    /// `None` when there is no row or the value is NULL.
    pub async fn scalar_text(&mut self, sql: &str) -> Result<Option<String>, DbError> {
        let dialect = self.dialect();
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let r = match self {
            Conn::Pg(c) => c
                .fetch_optional(sqlx::raw_sql(sql))
                .await
                .map(|o| o.and_then(|r| text_value(&r))),
            Conn::My(c) => c
                .fetch_optional(sqlx::raw_sql(sql))
                .await
                .map(|o| o.and_then(|r| text_value(&r))),
        };
        r.map_err(|e| classify(dialect, &e))
    }

    /// Returns every row of a query as text cells (NULL as `None`); for verification and
    /// interleaving output, not the hot path.
    pub async fn rows_text(
        &mut self,
        sql: &str,
    ) -> Result<(Vec<String>, Vec<Vec<Option<String>>>), DbError> {
        let dialect = self.dialect();
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let r = match self {
            Conn::Pg(c) => c
                .fetch_all(sqlx::raw_sql(sql))
                .await
                .map(|rows| text_rows(&rows)),
            Conn::My(c) => c
                .fetch_all(sqlx::raw_sql(sql))
                .await
                .map(|rows| text_rows(&rows)),
        };
        r.map_err(|e| classify(dialect, &e))
    }

    /// Runs `sql` (one or several statements) over the text protocol for an interleaving
    /// step and keeps each result set apart, with the error that ended the text, if any.
    ///
    /// Used for MySQL/MariaDB ([`super::StepConn`] runs PostgreSQL steps). sqlx's
    /// `fetch_many` yields rows then one query result per statement; it drops the column
    /// definitions of a result set with no rows, so such a set is not reported.
    pub async fn step_text(&mut self, sql: &str) -> super::StepText {
        use futures_util::TryStreamExt;
        let dialect = self.dialect();
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let mut out = super::StepText::default();
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
                        Ok(Some(sqlx::Either::Left(_))) => {
                            if !current.is_empty() {
                                out.replies.push(super::Reply::Set {
                                    columns: std::mem::take(&mut columns),
                                    rows: std::mem::take(&mut current),
                                });
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            current.clear();
                            out.error = Some(classify(dialect, &e));
                            break;
                        }
                    }
                }
            }};
        }
        match self {
            Conn::Pg(c) => collect!(c),
            Conn::My(c) => collect!(c),
        }
        if !current.is_empty() {
            out.replies.push(super::Reply::Set {
                columns,
                rows: current,
            });
        }
        out
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        let _ = match self {
            Conn::Pg(c) => c.close().await,
            Conn::My(c) => c.close().await,
        };
    }
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
    if <i64 as Type<R::Database>>::compatible(ti) {
        if let Ok(Some(v)) = row.try_get_unchecked::<Option<i64>, _>(0usize) {
            return (Some(v), None);
        }
    }
    if <i32 as Type<R::Database>>::compatible(ti) {
        if let Ok(Some(v)) = row.try_get_unchecked::<Option<i32>, _>(0usize) {
            return (Some(i64::from(v)), None);
        }
    }
    if <bool as Type<R::Database>>::compatible(ti) {
        if let Ok(Some(v)) = row.try_get_unchecked::<Option<bool>, _>(0usize) {
            return (None, Some(v));
        }
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
