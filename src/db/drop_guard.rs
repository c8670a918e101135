//! A database keyrace created, dropped even when the code that created it panics: the guard's
//! `Drop` drops it synchronously from a thread of its own when it was not disarmed.

use std::time::Duration;

use super::{Conn, Engine};

/// How long a guard's emergency drop may take (connect + DROP DATABASE) before it gives up
/// and says what is left.
const EMERGENCY_DROP_TIMEOUT: Duration = Duration::from_secs(15);

/// Owns a database keyrace created on a server: `DROP DATABASE` when the guard is dropped
/// without [`DropGuard::disarm`] (a panic or an early return between creation and the normal
/// drop). The normal path drops the database itself, reports errors, then disarms.
#[derive(Debug)]
pub struct DropGuard {
    engine: Engine,
    admin_url: String,
    name: String,
    armed: bool,
}

impl DropGuard {
    /// Guards `name`, created through `admin_url` (which may hold a password: never printed).
    pub fn new(engine: Engine, admin_url: &str, name: &str) -> DropGuard {
        DropGuard {
            engine,
            admin_url: admin_url.to_string(),
            name: name.to_string(),
            armed: true,
        }
    }

    /// The SQL that drops the guarded database: PostgreSQL `WITH (FORCE)` (13+) ends the
    /// sessions still connected to it.
    pub fn drop_sql(&self) -> String {
        drop_database_sql(self.engine, &self.name)
    }

    /// The normal path dropped the database (or reported why not): nothing left to do.
    pub fn disarm(mut self) {
        self.armed = false;
    }
}

/// The engine's first `DROP DATABASE` form for `name` (PostgreSQL `WITH (FORCE)`).
pub fn drop_database_sql(engine: Engine, name: &str) -> String {
    engine.drop_database_sql(name).remove(0)
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (engine, url, sql, name) = (
            self.engine,
            self.admin_url.clone(),
            self.drop_sql(),
            self.name.clone(),
        );
        // Its own thread and runtime: this may run while a runtime unwinds, or outside one.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                tokio::time::timeout(EMERGENCY_DROP_TIMEOUT, async {
                    let mut admin = Conn::open(engine, &url).await.ok()?;
                    let r = admin.batch(&sql).await;
                    admin.close().await;
                    r.ok()
                })
                .await
                .ok()
                .flatten()
            })
        })
        .join()
        .ok()
        .flatten();
        if dropped.is_none() {
            eprintln!(
                "warning: could not drop database {name} that keyrace created; remove it with: {}",
                drop_database_sql(self.engine, &self.name)
            );
        }
    }
}
