//! Starting the application of a scenario (`start`): a free port, the command in its own
//! process group, readiness by GET until 2xx, and stopping the whole group afterwards.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use super::http::{Base, Endpoint, HttpConn, StatusMap};
use crate::race::Op;
use crate::vocab::Outcome;

/// A started application; stopped (SIGTERM to its process group, SIGKILL after 5 s) by
/// [`App::stop`], or killed when dropped.
pub struct App {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
}

/// A free TCP port on 127.0.0.1 (bound and released; the application binds it next).
///
/// Errors: the I/O error.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Keeps the last 4 KiB of the application's standard error, for error messages.
const STDERR_TAIL: usize = 4096;

impl App {
    /// Starts `argv` in `dir` in its own process group.
    ///
    /// Errors: a message naming the command when it cannot be started.
    pub fn start(argv: &[String], dir: &Path) -> Result<App, String> {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start `{}` in {}: {e}",
                argv.join(" "),
                dir.display()
            )
        })?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut err) = child.stderr.take() {
            let tail = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                    t.extend_from_slice(&buf[..n]);
                    if t.len() > STDERR_TAIL {
                        let cut = t.len() - STDERR_TAIL;
                        t.drain(..cut);
                    }
                }
            });
        }
        Ok(App { child, stderr })
    }

    /// The last lines the application wrote to standard error.
    pub fn stderr_tail(&self) -> String {
        let t = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&t).trim().to_string()
    }

    /// Waits until GET `base` + `path` answers 2xx, the process exits, or `limit` passes.
    ///
    /// Errors: why it is not ready, with the end of its standard error.
    pub async fn wait_ready(
        &mut self,
        base: &Base,
        path: &str,
        limit: Duration,
    ) -> Result<(), String> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the application exited ({status}) before it was ready: {}",
                    self.stderr_tail()
                ));
            }
            match probe(base, path).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "the application was not ready within {} s ({last}): {}",
            limit.as_secs(),
            self.stderr_tail()
        ))
    }

    /// Stops the application's process group: SIGTERM, then SIGKILL after 5 s.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: signalling the process group this App started (its own pgid).
            unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
            if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_ok()
            {
                // The leader is gone; make sure no child of it (cargo run's) lingers.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                return;
            }
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
        let _ = self.child.kill().await;
    }
}

/// One GET of `base` + `path`, within 2 s.
///
/// Errors: the status or the connection failure.
pub async fn probe(base: &Base, path: &str) -> Result<(), String> {
    let mut status = StatusMap::default();
    let _ = status.insert("2xx", Outcome::Existed);
    let ep = Endpoint {
        method: "GET".into(),
        path: path.to_string(),
        body: None,
        headers: vec![],
        timeout: Duration::from_secs(2),
        status,
        json: None,
    };
    HttpConn::new(base, std::sync::Arc::new(ep))
        .call(&Op::default())
        .await
        .map(|_| ())
        .map_err(|e| format!("{}: {}", e.code, e.message))
}
