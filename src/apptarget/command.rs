//! The `command` application target's driver: one process per operation from an argv
//! template (each argument rendered on its own, never through a shell), in its own process
//! group, within a per-operation timeout; its exit status and output mapped to an outcome
//! class.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::template::render;
use crate::db::percent_decode;
use crate::race::Op;
use crate::vocab::{DbError, Dialect, Outcome};

/// Which output stream a [`OutputMatch`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// What a [`OutputMatch`] looks for in its stream.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// A substring.
    Contains(String),
    /// A regular expression (`regex` crate syntax), matched anywhere in the text.
    Regex(regex::Regex),
}

/// One output rule: when `stream` matches `pattern` (and the exit code is `exit`, if
/// given), the operation's outcome is `outcome`. Rules are tried in order before the exit
/// code mapping; the first that matches decides.
#[derive(Debug, Clone)]
pub struct OutputMatch {
    /// The stream read.
    pub stream: Stream,
    /// What it must contain.
    pub pattern: Pattern,
    /// Only for this exit code, if given.
    pub exit: Option<i32>,
    /// The outcome class when it matches.
    pub outcome: Outcome,
}

impl OutputMatch {
    fn matches(&self, code: i32, stdout: &str, stderr: &str) -> bool {
        if self.exit.is_some_and(|e| e != code) {
            return false;
        }
        let text = match self.stream {
            Stream::Stdout => stdout,
            Stream::Stderr => stderr,
        };
        match &self.pattern {
            Pattern::Contains(s) => text.contains(s.as_str()),
            Pattern::Regex(r) => r.is_match(text),
        }
    }
}

/// One command to race: the argv template (per dialect, or one for every dialect) and how
/// to read how the process ended.
#[derive(Debug, Clone)]
pub struct Command {
    /// argv templates by dialect; `None` as key: for every dialect without its own.
    pub argv: BTreeMap<Option<Dialect>, Vec<String>>,
    /// Per-operation limit (default 10 s); the process group is killed when it passes.
    pub timeout: Duration,
    /// Exit code → outcome class.
    pub exit: BTreeMap<i32, Outcome>,
    /// Output rules, tried in order before `exit`.
    pub matches: Vec<OutputMatch>,
}

impl Command {
    /// The argv template for `dialect`: its own, else the one for every dialect.
    pub fn argv_for(&self, dialect: Dialect) -> Option<&Vec<String>> {
        self.argv
            .get(&Some(dialect))
            .or_else(|| self.argv.get(&None))
    }
}

/// Output kept per stream for matching and messages; the rest is read and dropped.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// A command ready to run on one database: the program resolved, the database and
/// application placeholders filled in (the per-operation ones are filled per call).
#[derive(Debug, Clone)]
pub struct Prepared {
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    timeout: Duration,
    exit: BTreeMap<i32, Outcome>,
    matches: Vec<OutputMatch>,
}

/// The parts of a database URL commands may use: `{database_url}`, `{db_host}`,
/// `{db_port}`, `{db_user}`, `{db_password}`, `{db_name}`.
fn url_parts(url: &str, dialect: Dialect) -> Vec<(&'static str, String)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, name) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (&authority[..i], &authority[i + 1..]),
        None => ("", authority),
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h, p.to_string()),
        _ => (hostport, String::new()),
    };
    let port = if port.is_empty() {
        match dialect {
            Dialect::Postgres => "5432".to_string(),
            Dialect::Mysql => "3306".to_string(),
        }
    } else {
        port
    };
    vec![
        ("{database_url}", url.to_string()),
        ("{db_host}", percent_decode(host)),
        ("{db_port}", port),
        ("{db_user}", percent_decode(user)),
        ("{db_password}", percent_decode(password)),
        ("{db_name}", percent_decode(name)),
    ]
}

/// Finds `program` as the operating system would: a name with a `/` relative to `dir`,
/// else the first executable file of that name in `PATH`.
///
/// Errors: a message naming the program.
pub fn resolve_program(program: &str, dir: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = dir.join(program);
        return if executable(&p) {
            Ok(p)
        } else {
            Err(format!(
                "cannot start `{program}`: {} is not an executable file",
                p.display()
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
        .ok_or_else(|| format!("cannot start `{program}`: not found in PATH"))
}

impl Prepared {
    /// Prepares `cmd` for the database at `database_url` of `dialect`, run in `dir`;
    /// `app_url` fills `{url}` (the application's base URL, if the scenario has one).
    /// Returns `None` when the command has no argv for `dialect`.
    ///
    /// Errors: the program cannot be found or is not executable (the message names it).
    pub fn new(
        cmd: &Command,
        dialect: Dialect,
        database_url: &str,
        app_url: Option<&str>,
        dir: &Path,
    ) -> Option<Result<Prepared, String>> {
        let argv = cmd.argv_for(dialect)?;
        let mut parts = url_parts(database_url, dialect);
        parts.push(("{url}", app_url.unwrap_or_default().to_string()));
        let fill = |a: &String| {
            parts
                .iter()
                .fold(a.clone(), |acc, (name, value)| acc.replace(name, value))
        };
        let program = fill(&argv[0]);
        Some(resolve_program(&program, dir).map(|program| Prepared {
            program,
            args: argv[1..].iter().map(fill).collect(),
            dir: dir.to_path_buf(),
            timeout: cmd.timeout,
            exit: cmd.exit.clone(),
            matches: cmd.matches.clone(),
        }))
    }

    /// The program's name, for the report's error list.
    pub fn step(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The per-operation limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs the command once for `op` and maps how it ended.
    ///
    /// Errors: the outcome class of an error mapping, an unmapped exit code (`other`, code
    /// `exit <n>`), a process killed by a signal (`other`, code `signal <n>`), `timeout`
    /// (the process group is killed), or `other` with code `spawn` when it cannot start;
    /// the message is the start of its standard error (else standard output).
    pub async fn call(&self, op: &Op) -> Result<Outcome, DbError> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(self.args.iter().map(|a| render(a, op)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            failure(
                Outcome::Other,
                "spawn",
                format!("cannot start {}: {e}", self.program.display()),
            )
        })?;
        let pid = child.id();
        let (out, err) = (child.stdout.take(), child.stderr.take());
        let ran = tokio::time::timeout(self.timeout, async {
            let (o, e, s) = tokio::join!(read_limited(out), read_limited(err), child.wait());
            (o, e, s)
        })
        .await;
        let (stdout, stderr, status) = match ran {
            Ok(x) => x,
            Err(_) => {
                if let Some(pid) = pid {
                    // SAFETY: signalling the process group this call started (its own pgid);
                    // the leader is not reaped yet, so the id is still ours.
                    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                }
                let _ = child.kill().await;
                return Err(failure(
                    Outcome::Timeout,
                    "timeout",
                    format!("still running after {} ms", self.timeout.as_millis()),
                ));
            }
        };
        let status = status.map_err(|e| failure(Outcome::Other, "wait", e.to_string()))?;
        self.classify(status, &stdout, &stderr)
    }

    fn classify(&self, status: ExitStatus, stdout: &str, stderr: &str) -> Result<Outcome, DbError> {
        let message = || {
            let t = if stderr.trim().is_empty() {
                stdout
            } else {
                stderr
            };
            let t = t.trim();
            let end = (0..=t.len().min(200))
                .rev()
                .find(|&i| t.is_char_boundary(i))
                .unwrap_or(0);
            t[..end].to_string()
        };
        let Some(code) = status.code() else {
            let sig = status.signal().unwrap_or(0);
            return Err(failure(
                Outcome::Other,
                &format!("signal {sig}"),
                format!(
                    "killed by signal {sig} ({}) {}",
                    signal_name(sig),
                    message()
                )
                .trim_end()
                .to_string(),
            ));
        };
        let mapped = self
            .matches
            .iter()
            .find(|m| m.matches(code, stdout, stderr))
            .map(|m| m.outcome)
            .or_else(|| self.exit.get(&code).copied());
        match mapped {
            Some(o) if !o.is_error() => Ok(o),
            mapped => Err(failure(
                mapped.unwrap_or(Outcome::Other),
                &format!("exit {code}"),
                message(),
            )),
        }
    }
}

fn failure(class: Outcome, code: &str, message: String) -> DbError {
    DbError {
        class,
        code: code.into(),
        message,
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        _ => "signal",
    }
}

/// Reads a stream to its end, keeping the first [`OUTPUT_LIMIT`] bytes as text.
async fn read_limited(stream: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut s) = stream else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = OUTPUT_LIMIT.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts_take_a_database_url_apart() {
        let p: BTreeMap<_, _> = url_parts(
            "mysql://root:p%40ss@127.0.0.1:3307/keyrace_x?ssl-mode=disabled",
            Dialect::Mysql,
        )
        .into_iter()
        .collect();
        assert_eq!(p["{db_host}"], "127.0.0.1");
        assert_eq!(p["{db_port}"], "3307");
        assert_eq!(p["{db_user}"], "root");
        assert_eq!(p["{db_password}"], "p@ss");
        assert_eq!(p["{db_name}"], "keyrace_x");
        let p: BTreeMap<_, _> = url_parts("postgres://h/d", Dialect::Postgres)
            .into_iter()
            .collect();
        assert_eq!(
            (p["{db_host}"].as_str(), p["{db_port}"].as_str()),
            ("h", "5432")
        );
        assert_eq!(p["{db_user}"], "");
    }

    #[test]
    fn programs_resolve_through_path_or_relative_to_dir() {
        assert!(resolve_program("sh", Path::new("/")).is_ok());
        let e = resolve_program("keyrace-no-such-program", Path::new("/")).unwrap_err();
        assert!(e.contains("`keyrace-no-such-program`"), "{e}");
        assert!(resolve_program("./bin/sh", Path::new("/")).is_ok());
        assert!(resolve_program("./etc/passwd", Path::new("/")).is_err());
    }
}
