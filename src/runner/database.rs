//! The run's databases: created, checked (every step prepared) and dropped, each step
//! bounded in time; drops are also forgotten by the run state file.

use std::time::Duration;

use super::{HarnessError, Target};
use crate::db::{Conn, DbError, database_url};
use crate::plan::{KeyType, Plan, StrategyPlan};

/// The limit on creating or dropping a database when none is given.
pub const DDL_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) use crate::db::bounded;

/// Creates database `name` on the target (dropping a leftover of the same name first),
/// each statement bounded by [`DDL_TIMEOUT`].
pub async fn create_database(target: &Target, name: &str) -> Result<(), DbError> {
    create_database_within(target, name, DDL_TIMEOUT).await
}

/// [`create_database`], each statement bounded by `statement_timeout`.
pub async fn create_database_within(
    target: &Target,
    name: &str,
    statement_timeout: Duration,
) -> Result<(), DbError> {
    let mut admin = Conn::open(target.engine, &target.url).await?;
    let r = create_database_on(&mut admin, name, statement_timeout).await;
    admin.close().await;
    r
}

/// [`create_database_within`] on an admin connection the caller holds (and may use again
/// for [`drop_database_on`], saving a connection each way); its statement timeout is
/// `statement_timeout` afterwards.
pub async fn create_database_on(
    admin: &mut Conn,
    name: &str,
    statement_timeout: Duration,
) -> Result<(), DbError> {
    admin.set_statement_timeout(Some(statement_timeout));
    for sql in admin.engine().create_database_sql(name) {
        admin.batch(&sql).await?;
    }
    Ok(())
}

/// [`drop_database`] on an admin connection the caller holds, each statement bounded by
/// [`DDL_TIMEOUT`]; when that connection fails (closed while the run went on), through a
/// new one as [`drop_database`] does.
pub async fn drop_database_on(
    admin: &mut Conn,
    target: &Target,
    name: &str,
) -> Result<(), DbError> {
    admin.set_statement_timeout(Some(DDL_TIMEOUT));
    wait_sessions_gone(admin, name).await;
    let mut r = Ok(());
    for sql in admin.engine().drop_database_sql(name) {
        r = admin.batch(&sql).await;
        if r.is_ok() {
            break;
        }
    }
    match r {
        Ok(()) => {
            crate::provision::run_state::database_dropped(name);
            Ok(())
        }
        Err(e) if admin.is_broken() || e.class == crate::db::Outcome::ConnectionError => {
            drop_database(target, name).await
        }
        Err(e) => Err(e),
    }
}

/// How long [`drop_database_on`] waits for the sessions of a database to end before it
/// drops it anyway (PostgreSQL's `WITH (FORCE)` ends them).
const SESSIONS_GONE_WAIT: Duration = Duration::from_secs(1);

/// Waits (at most [`SESSIONS_GONE_WAIT`], asking every 2 ms) until no session is connected
/// to database `name`, where the engine's `DROP DATABASE` would wait for them
/// ([`crate::db::Backend::sessions_in_database_sql`]): the run's own connections were just
/// closed, and their server processes end within a few ms.
async fn wait_sessions_gone(admin: &mut Conn, name: &str) {
    let Some(sql) = admin.engine().sessions_in_database_sql(name) else {
        return;
    };
    let until = std::time::Instant::now() + SESSIONS_GONE_WAIT;
    while let Ok(Some(n)) = admin.scalar_text(&sql).await {
        if n == "0" || std::time::Instant::now() >= until {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Drops database `name` (PostgreSQL 13+: WITH (FORCE), so lingering sessions don't block
/// it), within the connect timeout plus [`DDL_TIMEOUT`]. On success the run state file
/// forgets it (see [`crate::provision::run_state`]).
pub async fn drop_database(target: &Target, name: &str) -> Result<(), DbError> {
    drop_database_within(target, name, crate::db::connect_timeout() + DDL_TIMEOUT).await
}

/// [`drop_database`], connect and statements together bounded by `limit`.
pub async fn drop_database_within(
    target: &Target,
    name: &str,
    limit: Duration,
) -> Result<(), DbError> {
    let r = target.drop_database(name, limit).await;
    if r.is_ok() {
        crate::provision::run_state::database_dropped(name);
    }
    r
}

/// Prepares every statement of every step of `program` on `conn` (the run's database,
/// after the schema and setup), so a broken step fails before the workload starts.
///
/// Errors: [`HarnessError::Prepare`] naming the strategy, the step, its location and the
/// server's message.
pub async fn prepare_steps(
    conn: &mut Conn,
    program: &crate::strategy::Program,
    strategy: &str,
    key_type: KeyType,
    target: &str,
) -> Result<(), HarnessError> {
    use crate::strategy::ParamRef;
    let all = program
        .pre
        .iter()
        .chain(&program.steps)
        .chain(&program.fallback)
        .chain(&program.finally);
    for step in all {
        let kinds: Vec<bool> = step
            .params
            .iter()
            .map(|p| match p {
                ParamRef::Key => key_type == KeyType::Text,
                ParamRef::Payload => true,
                ParamRef::Worker | ParamRef::Seq | ParamRef::Next => false,
            })
            .collect();
        if let Err(source) = conn.prepare(&step.sql, &kinds).await {
            return Err(HarnessError::Prepare {
                strategy: strategy.to_string(),
                step: step.name.clone(),
                location: step.location.clone(),
                target: target.to_string(),
                source,
            });
        }
    }
    Ok(())
}

/// `keyrace check --postgres/--mysql`: in a fresh database `db_name` (created and always
/// dropped), runs the schema and the strategy's setup and prepares every step. Returns how
/// many statements were prepared.
///
/// Errors: [`HarnessError`] as [`run_strategy`].
pub async fn check_strategy(
    plan: &Plan,
    strategy: &StrategyPlan,
    program: &crate::strategy::Program,
    target: &Target,
    db_name: &str,
) -> Result<usize, HarnessError> {
    let dialect = target.dialect();
    let setup_err = |what: String| {
        move |source| HarnessError::Setup {
            what,
            target: target.label.clone(),
            source,
        }
    };
    create_database(target, db_name)
        .await
        .map_err(|source| HarnessError::Server {
            target: target.label.clone(),
            source,
        })?;
    let r = async {
        let mut c = Conn::open(target.engine, &database_url(&target.url, db_name))
            .await
            .map_err(|source| HarnessError::Server {
                target: target.label.clone(),
                source,
            })?;
        c.set_statement_timeout(Some(DDL_TIMEOUT));
        let schema = super::schema_for(plan, target).unwrap_or("");
        c.batch(schema)
            .await
            .map_err(setup_err("the schema SQL".into()))?;
        if let Some(setup) = strategy.setup_for(dialect, target.engine.name()) {
            c.batch(setup).await.map_err(setup_err(format!(
                "the setup SQL of strategy {}",
                strategy.name
            )))?;
        }
        let r = prepare_steps(
            &mut c,
            program,
            &strategy.name,
            plan.table.key_type,
            &target.label,
        )
        .await;
        c.close().await;
        r.map(|()| {
            program.pre.len() + program.steps.len() + program.fallback.len() + program.finally.len()
        })
    }
    .await;
    if let Err(e) = drop_database(target, db_name).await {
        tracing::warn!("could not drop database {db_name} on {}: {e}", target.label);
    }
    r
}
