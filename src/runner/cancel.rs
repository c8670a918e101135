//! Statements that missed their deadline (or were in flight when the run ended) are
//! cancelled from side connections (PostgreSQL `pg_cancel_backend(pid)`, MySQL/MariaDB
//! `KILL QUERY id`), so the server does not go on running them after keyrace gave up.

use std::time::Duration;

use super::worker::Shared;
use crate::db::cancel_backend;

/// Cancels, from a side connection, the statement that session `backend_id` may still be
/// running, on worker `worker`'s node (session ids are per node); the handle is kept in
/// `shared.cancels`.
pub fn cancel_in_flight(shared: &Shared, worker: usize, backend_id: Option<u64>) {
    let Some(id) = backend_id else {
        return;
    };
    let (engine, url) = (shared.engine, shared.url_of(worker).to_string());
    let handle = tokio::spawn(async move {
        match cancel_backend(engine, &url, id, Duration::from_secs(2)).await {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!("could not cancel the statement of session {id}: {e}");
                false
            }
        }
    });
    if let Ok(mut v) = shared.cancels.lock() {
        v.push(handle);
    }
}

/// Waits up to `limit` for the cancellations started so far; returns (started, confirmed).
/// Those still running are aborted.
pub async fn finish_cancels(shared: &Shared, limit: Duration) -> (usize, usize) {
    let handles: Vec<_> = match shared.cancels.lock() {
        Ok(mut v) => std::mem::take(&mut *v),
        Err(_) => Vec::new(),
    };
    let started = handles.len();
    let mut confirmed = 0;
    let end = tokio::time::Instant::now() + limit;
    for mut h in handles {
        match tokio::time::timeout_at(end, &mut h).await {
            Ok(Ok(true)) => confirmed += 1,
            Ok(_) => {}
            Err(_) => h.abort(),
        }
    }
    (started, confirmed)
}
