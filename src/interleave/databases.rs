//! The databases of a run's interleavings: one per file and target, as before, but created
//! one file ahead and dropped in the background while the next file runs.
//!
//! On PostgreSQL 15 a `CREATE DATABASE` costs 40–60 ms (the template is copied through the
//! WAL) and a `DROP DATABASE` 10–25 ms once the file's sessions have left it (see
//! [`crate::runner::drop_database_on`]) on a quiet server, several times that under load:
//! more than many files' permutations. The isolation tester pays none of it
//! (it runs in a database that exists). Overlapping the two with the previous and next
//! file's permutations keeps one fresh database per file (nothing a file leaves behind
//! reaches the next) without the wait.

use std::collections::{HashMap, VecDeque};

use tokio::task::JoinHandle;

use super::Error;
use crate::db::{Conn, DbError, DropGuard, Engine, Target, redact_url};

/// A database created for one file on one target, with the admin connection that created
/// it (which drops it again) and what that connection detected of the server.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The admin connection (the server's URL, not the database's).
    pub admin: Conn,
    /// The engine detected.
    pub engine: Engine,
    /// `SELECT version()`.
    pub version: String,
    /// The target with its detected engine and capabilities.
    pub target: Target,
    /// The database's name.
    pub database: String,
    guard: DropGuard,
}

/// The run's interleaving databases per target: those created ahead of their file, and
/// those being dropped. [`Databases::finish`] must be awaited at the end of the run (an
/// unfinished one still drops its databases, synchronously, from each one's guard).
#[derive(Debug, Default)]
pub struct Databases {
    ahead: HashMap<String, VecDeque<JoinHandle<Result<Prepared, Error>>>>,
    dropping: Vec<(String, JoinHandle<Result<(), Error>>)>,
}

/// A database drop that failed at the end of its file.
#[derive(Debug)]
pub struct DropFailure {
    /// What the file was given as (the plan's source); empty for a database created ahead
    /// for a file that did not run (the run was cancelled).
    pub file: String,
    /// Why.
    pub error: Error,
}

impl Databases {
    /// Starts creating a database on each of `targets` (each named by `name_of`, which may
    /// record the name first) for a file that runs later: [`Databases::take`] for the same
    /// target returns it instead of creating one then.
    pub fn prepare_ahead(
        &mut self,
        targets: &[Target],
        name_of: &mut (dyn FnMut(&Target) -> String + Send),
    ) {
        for t in targets {
            let name = name_of(t);
            let job = tokio::spawn(prepare(t.clone(), name));
            self.ahead
                .entry(t.label.clone())
                .or_default()
                .push_back(job);
        }
    }

    /// A database for the next file on `target`: the oldest one created ahead, else a new
    /// one (named by `name_of`).
    ///
    /// Errors: [`Error::Connect`] when the server is unreachable, [`Error::Db`] when it
    /// cannot tell its version or create the database.
    pub(crate) async fn take(
        &mut self,
        target: &Target,
        name_of: &mut (dyn FnMut(&Target) -> String + Send),
    ) -> Result<Prepared, Error> {
        let job = self
            .ahead
            .get_mut(&target.label)
            .and_then(|q| q.pop_front());
        match job {
            Some(job) => joined(job, &target.label).await,
            None => prepare(target.clone(), name_of(target)).await,
        }
    }

    /// Returns a database that was not used (its file skipped the target), to be taken by
    /// the next file.
    pub(crate) fn put_back(&mut self, p: Prepared) {
        let label = p.target.label.clone();
        let job = tokio::spawn(async move { Ok(p) });
        self.ahead.entry(label).or_default().push_front(job);
    }

    /// Drops the database of `file` in the background; [`Databases::finish`] says how that
    /// went.
    pub(crate) fn release(&mut self, p: Prepared, file: &str) {
        self.dropping
            .push((file.to_string(), tokio::spawn(drop_prepared(p))));
    }

    /// Drops the databases created ahead and not used, waits for every drop, and returns
    /// those that failed.
    pub async fn finish(mut self) -> Vec<DropFailure> {
        for (label, queue) in std::mem::take(&mut self.ahead) {
            for job in queue {
                // One that failed to be created has nothing to drop.
                if let Ok(p) = joined(job, &label).await {
                    self.dropping
                        .push((String::new(), tokio::spawn(drop_prepared(p))));
                }
            }
        }
        let mut failures = Vec::new();
        for (file, job) in self.dropping {
            if let Err(error) = joined(job, "").await {
                failures.push(DropFailure { file, error });
            }
        }
        failures
    }
}

/// A spawned job's result; a job that panicked is a harness error (its database, if any,
/// was dropped by its guard while unwinding).
async fn joined<T>(job: JoinHandle<Result<T, Error>>, label: &str) -> Result<T, Error> {
    match job.await {
        Ok(r) => r,
        Err(e) => Err(Error::Db {
            label: label.to_string(),
            what: "a database job".into(),
            source: DbError {
                class: crate::db::Outcome::Other,
                code: "panic".into(),
                message: format!("it stopped: {e}"),
            },
        }),
    }
}

/// Connects to `target`, detects its engine and version, and creates database `name` on
/// the same connection (saving a connection each way).
async fn prepare(target: Target, name: String) -> Result<Prepared, Error> {
    let db_err = |what: String| {
        let label = target.label.clone();
        move |source: DbError| Error::Db {
            label,
            what,
            source,
        }
    };
    let mut admin = Conn::open(target.engine, &target.url)
        .await
        .map_err(|source| Error::Connect {
            label: target.label.clone(),
            url: redact_url(&target.url),
            source,
        })?;
    let (version, engine) = match crate::db::detect(&mut admin).await {
        Ok(v) => v,
        Err(e) => {
            admin.close().await;
            return Err(db_err("reading the server version".into())(e));
        }
    };
    if let Err(e) =
        crate::runner::create_database_on(&mut admin, &name, crate::runner::DDL_TIMEOUT).await
    {
        admin.close().await;
        return Err(db_err(format!("creating database {name}"))(e));
    }
    // From here on a panic (or a task dropped mid-run) still drops the database.
    let guard = DropGuard::new(engine, &target.url, &name);
    let target = target.detected(engine, &version);
    Ok(Prepared {
        admin,
        engine,
        version,
        target,
        database: name,
        guard,
    })
}

/// Drops `p`'s database on its admin connection (a new one if that one broke) and closes
/// the connection.
async fn drop_prepared(p: Prepared) -> Result<(), Error> {
    let Prepared {
        mut admin,
        target,
        database,
        guard,
        ..
    } = p;
    let dropped = crate::runner::drop_database_on(&mut admin, &target, &database).await;
    admin.close().await;
    guard.disarm();
    dropped.map_err(|source| Error::Db {
        label: target.label.clone(),
        what: format!("dropping database {database}"),
        source,
    })
}
