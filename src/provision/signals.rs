//! Ctrl-C and SIGTERM: the first signal cancels the run so it can report partial results and
//! stop its servers; a second one (or a run that does not finish in time) stops every server
//! at once and exits with code 130.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ProvisionError, stop_all_blocking};

/// How long after the first signal the run may take to finish before keyrace stops every
/// server and exits anyway.
pub const FORCE_EXIT_AFTER: Duration = Duration::from_secs(30);

/// The exit code after a forced stop (128 + SIGINT, what shells report for Ctrl-C).
pub const FORCED_EXIT_CODE: i32 = 130;

/// Installs handlers for SIGINT, SIGTERM and SIGHUP on the current Tokio runtime.
///
/// First signal: logs a warning and cancels `cancel`; the run is expected to stop its workers,
/// report what it has and call [`Server::stop`](super::Server::stop) (dropping the servers is
/// enough). Second signal, or [`FORCE_EXIT_AFTER`] without the process exiting: calls
/// [`stop_all_blocking`] and exits with [`FORCED_EXIT_CODE`].
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
        let first = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
        };
        tracing::warn!(
            "{first} received: stopping the run and its servers (send it again to stop at once)"
        );
        cancel.cancel();
        let second = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
            _ = tokio::time::sleep(FORCE_EXIT_AFTER) => "no exit in time",
        };
        tracing::warn!("{second}: stopping every server now and exiting");
        stop_all_blocking();
        std::process::exit(FORCED_EXIT_CODE);
    });
    Ok(())
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
