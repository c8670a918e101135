//! PostgreSQL binaries of one major version, for `--postgres local:<major>`: found in the
//! Debian layout, in `$KEYRACE_PG_BIN_DIRS`, or in keyrace's cache directory (filled by
//! `scripts/install-postgres.sh`), and checked to run as the user the server will run as.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::local::{self, RunAs};
use super::local_pg::PgBinaries;
use super::{ProvisionError, procs};

/// Colon-separated directories holding PostgreSQL installations of any majors, each either a
/// `bin/` directory or a directory holding `bin/` (and `lib/`, put on `LD_LIBRARY_PATH`).
pub const PG_BIN_DIRS_ENV: &str = "KEYRACE_PG_BIN_DIRS";

/// Overrides keyrace's cache directory (see [`cache_dir`]).
pub const CACHE_DIR_ENV: &str = "KEYRACE_CACHE_DIR";

/// The cache directory used when keyrace runs as root: root's home is usually mode 0700,
/// where the `postgres` user the server runs as could not reach the binaries.
pub const ROOT_CACHE_DIR: &str = "/var/cache/keyrace";

/// The script that fills the cache, relative to the repository root.
pub const INSTALL_SCRIPT: &str = "scripts/install-postgres.sh";

/// The oldest major `local:<major>` accepts: from 10 on a major is one number.
pub const MIN_MAJOR: u32 = 10;

/// keyrace's cache directory: `$KEYRACE_CACHE_DIR`, else [`ROOT_CACHE_DIR`] when running as
/// root, else `${XDG_CACHE_HOME:-$HOME/.cache}/keyrace`. `scripts/install-postgres.sh`
/// applies the same rule.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if procs::running_as_root() {
        return PathBuf::from(ROOT_CACHE_DIR);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache")
        });
    base.join("keyrace")
}

/// Where the install script puts major `major`: `<cache_dir>/postgres/<major>` (with `bin/`,
/// `lib/`, `share/`).
pub fn cached_install(major: u32) -> PathBuf {
    cache_dir().join("postgres").join(major.to_string())
}

/// The command that installs major `major` into the cache.
pub fn install_command(major: u32) -> String {
    format!("{INSTALL_SCRIPT} {major}")
}

/// The places searched for `major`, in order, for messages.
pub fn search_description(major: u32) -> String {
    format!(
        "${PG_BIN_DIRS_ENV} ({}), the Debian layout /usr/lib/postgresql/{major}/bin, the keyrace cache {}",
        std::env::var(PG_BIN_DIRS_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "not set".into()),
        cached_install(major).join("bin").display()
    )
}

/// The `bin/` directory and the `lib/` beside it (if any) of one entry of
/// `$KEYRACE_PG_BIN_DIRS`: the entry itself when it holds `postgres`, else `<entry>/bin`.
fn bin_and_lib(entry: &Path) -> (PathBuf, Option<PathBuf>) {
    let bin = if entry.join("postgres").is_file() {
        entry.to_path_buf()
    } else {
        entry.join("bin")
    };
    let lib = bin.parent().map(|p| p.join("lib")).filter(|l| l.is_dir());
    (bin, lib)
}

/// Finds `initdb` and `postgres` of major `major`: every directory of `$KEYRACE_PG_BIN_DIRS`
/// whose `postgres --version` names that major, then `/usr/lib/postgresql/<major>/bin`, then
/// [`cached_install`]. The binaries found are run once (`postgres --version`), as the
/// `postgres` user when keyrace runs as root, so a tree that user cannot reach fails here
/// with a message rather than in `initdb`.
///
/// Errors: [`ProvisionError::PgMajorNotFound`] naming the three places and the install
/// command; [`ProvisionError::PgBinariesUnusable`] when binaries of that major were found in
/// the Debian layout or the cache but do not run; [`ProvisionError::NoUnprivilegedUser`]
/// when keyrace runs as root and there is no `postgres` user.
pub fn find_pg_major(major: u32) -> Result<PgBinaries, ProvisionError> {
    find_as(major, super::local_pg::run_as()?)
}

fn find_as(major: u32, run_as: Option<RunAs>) -> Result<PgBinaries, ProvisionError> {
    let candidate = |bin: PathBuf, lib: Option<PathBuf>| {
        let b = PgBinaries {
            initdb: bin.join("initdb"),
            postgres: bin.join("postgres"),
            lib_dir: lib,
        };
        (local::is_executable(&b.initdb) && local::is_executable(&b.postgres)).then_some(b)
    };
    if let Some(dirs) = std::env::var_os(PG_BIN_DIRS_ENV) {
        for entry in std::env::split_paths(&dirs).filter(|d| !d.as_os_str().is_empty()) {
            let (bin, lib) = bin_and_lib(&entry);
            let Some(b) = candidate(bin, lib) else {
                continue;
            };
            match version_of(&b, run_as) {
                Ok(v) if major_of(&v) == Some(major) => return Ok(b),
                Ok(v) => tracing::debug!(dir = %entry.display(), "{v}: not major {major}"),
                Err(e) => tracing::warn!("{PG_BIN_DIRS_ENV} entry {}: {e}", entry.display()),
            }
        }
    }
    let debian = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
    let cache = cached_install(major);
    let cache_lib = Some(cache.join("lib")).filter(|l| l.is_dir());
    let found = candidate(debian, None).or_else(|| candidate(cache.join("bin"), cache_lib));
    if let Some(b) = found {
        let v = version_of(&b, run_as)?;
        if major_of(&v) != Some(major) {
            return Err(ProvisionError::PgBinariesUnusable {
                binary: b.postgres.clone(),
                reason: format!("it says {v:?}, not PostgreSQL {major}"),
            });
        }
        return Ok(b);
    }
    Err(ProvisionError::PgMajorNotFound {
        major,
        looked: search_description(major),
        install: install_command(major),
    })
}

/// The first line of `postgres --version` (`postgres (PostgreSQL) 17.10`), run with the
/// installation's `lib/` on `LD_LIBRARY_PATH` and as `run_as`.
fn version_of(b: &PgBinaries, run_as: Option<RunAs>) -> Result<String, ProvisionError> {
    let unusable = |reason: String| ProvisionError::PgBinariesUnusable {
        binary: b.postgres.clone(),
        reason,
    };
    let mut cmd = local::command(&b.postgres, Path::new("/"), run_as);
    cmd.arg("--version")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(lib) = &b.lib_dir {
        cmd.env("LD_LIBRARY_PATH", lib);
    }
    let who = if run_as.is_some() {
        format!(" as user {}", super::PG_SYSTEM_USER)
    } else {
        String::new()
    };
    let out = cmd.output().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied && run_as.is_some() {
            format!(
                "; a directory on its path is closed to that user: keep the binaries where it can reach them (${CACHE_DIR_ENV}, default {ROOT_CACHE_DIR} when root)"
            )
        } else {
            String::new()
        };
        unusable(format!("cannot run it{who}: {e}{hint}"))
    })?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(unusable(format!(
            "`postgres --version`{who} failed ({}): {}",
            out.status,
            local::last_lines(&err, 4)
        )));
    }
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// The major of a `postgres --version` line, read from its first word that starts with a
/// digit: `postgres (PostgreSQL) 17.10` → 17, `postgres (PostgreSQL) 15.14 (Debian
/// 15.14-0+deb12u1)` → 15, `postgres (PostgreSQL) 18beta1` → 18, `... 9.6.24` → 9.
pub fn major_of(version_line: &str) -> Option<u32> {
    let v = version_line
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_of_version_lines() {
        assert_eq!(major_of("postgres (PostgreSQL) 17.10"), Some(17));
        assert_eq!(
            major_of("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(major_of("postgres (PostgreSQL) 18beta1"), Some(18));
        assert_eq!(major_of("postgres (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(major_of(""), None);
    }

    #[test]
    fn cache_dir_follows_the_override() {
        // Read-only use of the environment: the override, when set, wins.
        if let Some(d) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
            assert_eq!(cache_dir(), PathBuf::from(d));
        } else if procs::running_as_root() {
            assert_eq!(cache_dir(), PathBuf::from(ROOT_CACHE_DIR));
        }
        assert!(cached_install(17).ends_with("postgres/17"));
        assert!(install_command(13).contains("install-postgres.sh 13"));
    }
}
