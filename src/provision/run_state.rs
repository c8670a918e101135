//! The run state file: which databases a running keyrace created on URL servers, so that
//! after a SIGKILL `keyrace reap` can drop them (only names of keyrace's pattern
//! `keyrace_<run id>_<n>` that the dead run recorded as its own).
//!
//! Files live in a per-user state directory (`$KEYRACE_STATE_DIR`, else
//! `<temp dir>/keyrace-state-<euid>`) that keyrace creates with mode 0700 and checks before
//! trusting anything in it: owned by the effective user, not a symlink, mode exactly 0700.
//! Each run writes `run-<run id>.json` (mode 0600, replaced atomically) holding the admin URL
//! to reconnect with (it may hold a password, hence the modes), the redacted URL for
//! messages, the database names, the run id, and the owner's pid and start time (so a reused
//! pid is not mistaken for the live run).

use std::collections::BTreeMap;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::procs::{pid_alive, start_time};
use crate::db::{Dialect, redact_url};

/// Environment variable that overrides the state directory.
pub const STATE_DIR_ENV: &str = "KEYRACE_STATE_DIR";

/// Why the state directory or a state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunStateError {
    /// The directory could not be created or read.
    #[error("state directory {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The directory or a file in it is not safe to trust.
    #[error("state directory {path} is not safe to use: {why}")]
    Unsafe {
        /// The path.
        path: PathBuf,
        /// What is wrong (owner, mode, symlink).
        why: String,
    },
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The per-user state directory, created with mode 0700 when missing and checked (a
/// directory, not a symlink, owned by the effective user, mode 0700) before use.
///
/// Errors: [`RunStateError::Io`] when it cannot be created or inspected,
/// [`RunStateError::Unsafe`] when it fails a check (keyrace then trusts nothing in it).
pub fn state_dir() -> Result<PathBuf, RunStateError> {
    let dir = match std::env::var_os(STATE_DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::temp_dir().join(format!("keyrace-state-{}", euid())),
    };
    let io = |source| RunStateError::Io {
        path: dir.clone(),
        source,
    };
    match DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(io)?;
    let unsafe_because = |why: String| RunStateError::Unsafe {
        path: dir.clone(),
        why,
    };
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(unsafe_because("not a directory (or a symlink)".into()));
    }
    if meta.uid() != euid() {
        return Err(unsafe_because(format!(
            "owned by uid {}, not {}",
            meta.uid(),
            euid()
        )));
    }
    if meta.mode() & 0o777 != 0o700 {
        return Err(unsafe_because(format!(
            "mode {:o}, not 700",
            meta.mode() & 0o777
        )));
    }
    Ok(dir)
}

/// One database a run created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedDatabase {
    /// `postgres` or `mysql`.
    pub dialect: Dialect,
    /// The admin URL to reconnect with (may hold a password: never print it).
    pub url: String,
    /// The URL with its password redacted, for messages.
    pub server: String,
    /// The database name (`keyrace_<run id>_<n>`).
    pub database: String,
}

/// What one run recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// The run id.
    pub run_id: String,
    /// The keyrace process running it.
    pub owner_pid: i32,
    /// Its start time in clock ticks since boot (`/proc/<pid>/stat`).
    pub owner_start: Option<u64>,
    /// Databases created and not yet dropped.
    pub databases: Vec<RecordedDatabase>,
}

impl RunState {
    fn file_name(run_id: &str) -> String {
        format!("run-{run_id}.json")
    }

    /// True when the run's owner still runs (same pid and start time).
    pub fn owner_alive(&self) -> bool {
        pid_alive(self.owner_pid)
            && (self.owner_start.is_none() || start_time(self.owner_pid) == self.owner_start)
    }

    /// True when `db` is a name of keyrace's pattern for this run: `keyrace_<run id>_<n>`.
    pub fn owns_name(&self, db: &str) -> bool {
        valid_run_id(&self.run_id)
            && db
                .strip_prefix(&format!("keyrace_{}_", self.run_id))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }

    fn save(&self) -> Result<(), RunStateError> {
        let dir = state_dir()?;
        let path = dir.join(Self::file_name(&self.run_id));
        if self.databases.is_empty() {
            let _ = std::fs::remove_file(&path);
            return Ok(());
        }
        let tmp = dir.join(format!(".{}.tmp", Self::file_name(&self.run_id)));
        let io = |source| RunStateError::Io {
            path: tmp.clone(),
            source,
        };
        let _ = std::fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(io)?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        f.write_all(&json).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// Reads a state file, trusting it only when it is a regular file (not a symlink) owned
    /// by the effective user and readable by nobody else, named for the run it holds.
    fn load(path: &Path) -> Result<RunState, String> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| e.to_string())?;
        let meta = f.metadata().map_err(|e| e.to_string())?;
        if !meta.is_file() || meta.uid() != euid() || meta.mode() & 0o077 != 0 {
            return Err("not a regular file of this user with mode 0600".into());
        }
        let state: RunState = serde_json::from_reader(f).map_err(|e| e.to_string())?;
        let expected = Self::file_name(&state.run_id);
        if !valid_run_id(&state.run_id) || path.file_name() != Some(expected.as_ref()) {
            return Err("its run id does not match its name".into());
        }
        Ok(state)
    }
}

fn valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The runs of this process (several when a test binary runs scenarios in parallel), by id.
static CURRENT: Mutex<BTreeMap<String, RunState>> = Mutex::new(BTreeMap::new());

/// The run id in a database name `keyrace_<run id>_<n>`.
fn run_id_of(database: &str) -> Option<&str> {
    let rest = database.strip_prefix("keyrace_")?;
    let (id, n) = rest.rsplit_once('_')?;
    (valid_run_id(id) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

fn with_run(database: &str, f: impl FnOnce(&mut RunState)) {
    let Some(id) = run_id_of(database) else {
        return;
    };
    let Ok(mut runs) = CURRENT.lock() else {
        return;
    };
    if let Some(state) = runs.get_mut(id) {
        f(state);
        if let Err(e) = state.save() {
            tracing::warn!("cannot record the run's databases: {e}");
        }
    }
}

/// Starts recording for run `run_id` (this process as owner). Nothing is written until a
/// database is recorded.
pub fn begin(run_id: &str) {
    let me = std::process::id() as i32;
    if let Ok(mut runs) = CURRENT.lock() {
        runs.insert(
            run_id.to_string(),
            RunState {
                run_id: run_id.to_string(),
                owner_pid: me,
                owner_start: start_time(me),
                databases: Vec::new(),
            },
        );
    }
}

/// Records that a run of this process is about to create `database` (named
/// `keyrace_<run id>_<n>`, for a run started with [`begin`]) on the server at `url`. Call it
/// before `CREATE DATABASE`, so a kill in between leaves a record, not an unknown database.
pub fn record_database(dialect: Dialect, url: &str, database: &str) {
    with_run(database, |s| {
        s.databases.push(RecordedDatabase {
            dialect,
            url: url.to_string(),
            server: redact_url(url),
            database: database.to_string(),
        })
    });
}

/// Forgets `database` once dropped (no-op when it was not recorded).
pub fn database_dropped(database: &str) {
    with_run(database, |s| s.databases.retain(|d| d.database != database));
}

/// What the runs of this process created and have not dropped yet, as `database on server`
/// lines.
pub fn leftovers() -> Vec<String> {
    let Ok(runs) = CURRENT.lock() else {
        return Vec::new();
    };
    runs.values()
        .flat_map(|s| &s.databases)
        .map(|d| format!("database {} on {}", d.database, d.server))
        .collect()
}

/// Ends recording for `run_id`: its state file stays only if databases could not be dropped.
pub fn finish(run_id: &str) {
    let Ok(mut runs) = CURRENT.lock() else {
        return;
    };
    if let Some(s) = runs.remove(run_id)
        && !s.databases.is_empty()
    {
        tracing::warn!(
            "{} database(s) of run {} could not be dropped; `keyrace reap` retries",
            s.databases.len(),
            s.run_id
        );
    }
}

/// What [`reap_run_databases`] did.
#[derive(Debug, Default, Clone)]
pub struct RunReapReport {
    /// Databases dropped: (database, redacted server URL).
    pub dropped: Vec<(String, String)>,
    /// Databases left, with why: (database, redacted server URL, reason).
    pub kept: Vec<(String, String, String)>,
    /// State files not trusted (path, reason).
    pub ignored: Vec<(PathBuf, String)>,
}

/// Drops the databases recorded by dead runs on the servers it can reach: only names of
/// keyrace's pattern for that run, and only when the run's owner (pid and start time) is
/// gone. A state file is removed once all its databases are dropped; one whose server is
/// unreachable stays for the next try.
///
/// Runs on its own thread and runtime, so it may be called from anywhere (also inside a
/// Tokio runtime). Errors: the state directory is unusable ([`RunStateError`]).
pub fn reap_run_databases() -> Result<RunReapReport, RunStateError> {
    let dir = state_dir()?;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| RunStateError::Io {
                path: dir.clone(),
                source,
            })?;
        Ok(rt.block_on(reap_in(&dir)))
    })
    .join()
    .unwrap_or_else(|_| Ok(RunReapReport::default()))
}

async fn reap_in(dir: &Path) -> RunReapReport {
    let mut report = RunReapReport::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return report;
    };
    let me = std::process::id() as i32;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("run-") && name.ends_with(".json")) {
            continue;
        }
        let mut state = match RunState::load(&path) {
            Ok(s) => s,
            Err(why) => {
                report.ignored.push((path, why));
                continue;
            }
        };
        if state.owner_pid == me || state.owner_alive() {
            continue;
        }
        let mut left = Vec::new();
        for d in std::mem::take(&mut state.databases) {
            if !state.owns_name(&d.database) {
                report.kept.push((
                    d.database.clone(),
                    d.server.clone(),
                    format!("not a name of run {}", state.run_id),
                ));
                continue;
            }
            let target = crate::runner::Target {
                dialect: d.dialect,
                label: d.server.clone(),
                url: d.url.clone(),
                nodes: Vec::new(),
            };
            let limit = crate::db::connect_timeout() + std::time::Duration::from_secs(30);
            match crate::runner::drop_database_within(&target, &d.database, limit).await {
                Ok(()) => report.dropped.push((d.database.clone(), d.server.clone())),
                Err(e) => {
                    report
                        .kept
                        .push((d.database.clone(), d.server.clone(), e.to_string()));
                    left.push(d);
                }
            }
        }
        state.databases = left
            .into_iter()
            .filter(|d| state.owns_name(&d.database))
            .collect();
        if let Err(e) = state.save() {
            report.ignored.push((path, e.to_string()));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runs_own_pattern_is_owned() {
        let s = RunState {
            run_id: "ab12cd34".into(),
            owner_pid: 1,
            owner_start: None,
            databases: vec![],
        };
        assert!(s.owns_name("keyrace_ab12cd34_1"));
        assert!(s.owns_name("keyrace_ab12cd34_17"));
        assert!(!s.owns_name("keyrace_ab12cd34_"));
        assert!(!s.owns_name("keyrace_ab12cd34_1x"));
        assert!(!s.owns_name("keyrace_zz_1"));
        assert!(!s.owns_name("production"));
        let bad = RunState {
            run_id: "x_1; DROP".into(),
            ..s
        };
        assert!(!bad.owns_name("keyrace_x_1; DROP_1"));
        assert_eq!(run_id_of("keyrace_ab12cd34_3"), Some("ab12cd34"));
        assert_eq!(run_id_of("keyrace_il_00ff"), None);
        assert_eq!(run_id_of("keyrace_ab12cd34_"), None);
    }
}
