//! Ctrl-C, SIGTERM and SIGHUP: the first signal cancels the run so it can write partial
//! results, drop its databases and stop its servers; a second one only says the clean-up is
//! under way (a user pressing Ctrl-C twice must not lose what the first one started); a
//! third (or a clean-up that does not finish in time) stops every throwaway server, says
//! what is left and how to remove it, and exits with code 130.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ProvisionError, run_state, stop_all_blocking};

/// How long after the first signal the run may take to finish its clean-up before keyrace
/// stops every server and exits anyway.
pub const FORCE_EXIT_AFTER: Duration = Duration::from_secs(30);

/// The exit code after a forced stop (128 + SIGINT, what shells report for Ctrl-C).
pub const FORCED_EXIT_CODE: i32 = 130;

/// Installs handlers for SIGINT, SIGTERM and SIGHUP on the current Tokio runtime.
///
/// First signal: logs a warning and cancels `cancel`; the run is expected to stop its workers,
/// write what it has, drop its databases and call [`Server::stop`](super::Server::stop).
/// Second signal: a note that the clean-up continues. Third signal, or [`FORCE_EXIT_AFTER`]
/// without the process exiting: calls [`stop_all_blocking`], prints the databases not yet
/// dropped and `keyrace reap` as the way to remove them, and exits with
/// [`FORCED_EXIT_CODE`].
///
/// Must be called from within a multi-threaded Tokio runtime (`#[tokio::main]`'s default), so
/// the handler runs even while other tasks are busy. Servers run in their own sessions, so a
/// terminal's Ctrl-C reaches keyrace only, never the servers directly.
///
/// Errors: [`ProvisionError::Signal`] when a handler cannot be registered.
pub fn install_signal_handlers(cancel: CancellationToken) -> Result<(), ProvisionError> {
    use tokio::signal::unix::{SignalKind, signal};
    let err = |signal: &'static str| move |source| ProvisionError::Signal { signal, source };
    let mut int = signal(SignalKind::interrupt()).map_err(err("SIGINT"))?;
    let mut term = signal(SignalKind::terminate()).map_err(err("SIGTERM"))?;
    let mut hup = signal(SignalKind::hangup()).map_err(err("SIGHUP"))?;
    tokio::spawn(async move {
        let next = async |int: &mut tokio::signal::unix::Signal,
                          term: &mut tokio::signal::unix::Signal,
                          hup: &mut tokio::signal::unix::Signal,
                          limit: Option<Duration>| {
            let timeout = async {
                match limit {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
                _ = timeout => "no exit in time",
            }
        };
        let first = next(&mut int, &mut term, &mut hup, None).await;
        tracing::warn!(
            "{first} received: stopping the run, writing partial results, dropping its databases and stopping its servers"
        );
        cancel.cancel();
        let force_at = tokio::time::Instant::now() + FORCE_EXIT_AFTER;
        let left = || force_at.saturating_duration_since(tokio::time::Instant::now());
        let second = next(&mut int, &mut term, &mut hup, Some(left())).await;
        if second != "no exit in time" {
            eprintln!(
                "{second}: still cleaning up (results, databases, servers); send it once more to abandon the clean-up"
            );
            let _ = next(&mut int, &mut term, &mut hup, Some(left())).await;
        }
        abandon();
    });
    Ok(())
}

/// Gives up the clean-up: stops every throwaway server at once, prints what is left (the
/// run's databases on URL servers not dropped yet) and how to remove it, and exits 130.
fn abandon() -> ! {
    stop_all_blocking();
    let left = run_state::leftovers();
    if left.is_empty() {
        eprintln!("clean-up abandoned; throwaway servers stopped, nothing else left behind");
    } else {
        eprintln!("clean-up abandoned; left behind:");
        for l in &left {
            eprintln!("  {l}");
        }
        eprintln!("remove them with `keyrace reap` (it drops databases of runs that are gone)");
    }
    std::process::exit(FORCED_EXIT_CODE);
}

/// Calls [`stop_all_blocking`] when dropped: hold one in `main` (outside the runtime) as the
/// last line of defence for early returns and panics that unwind through `main`.
#[derive(Debug, Default)]
pub struct StopAllOnDrop;

impl Drop for StopAllOnDrop {
    fn drop(&mut self) {
        stop_all_blocking();
    }
}
