//! A time limit reused from call to call: one tokio timer per worker, moved forward for each
//! call (an atomic store while deadlines only grow), instead of `tokio::time::timeout`'s new
//! timer registered and removed per call.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// One worker's call limit; its timer is created on the first call.
#[derive(Debug, Default)]
pub struct Limit {
    timer: Option<Pin<Box<Sleep>>>,
}

impl Limit {
    /// Runs `fut` until it finishes (`Some` of its output) or `limit` has passed since now
    /// (`None`; `fut` is dropped). A limit past the clock's range never fires.
    pub async fn run<F: Future>(&mut self, limit: Duration, fut: F) -> Option<F::Output> {
        let now = Instant::now();
        let deadline = now
            .checked_add(limit)
            .unwrap_or_else(|| now + Duration::from_secs(86400 * 365 * 30));
        let timer = match &mut self.timer {
            Some(t) => {
                t.as_mut().reset(deadline);
                t
            }
            None => self
                .timer
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        let mut fut = std::pin::pin!(fut);
        poll_fn(|cx| match fut.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_finishes_or_is_cut_at_its_limit() {
        let mut limit = Limit::default();
        let slow = |ms| tokio::time::sleep(Duration::from_millis(ms));
        assert_eq!(
            limit.run(Duration::from_millis(50), async { 7 }).await,
            Some(7)
        );
        assert_eq!(limit.run(Duration::from_millis(50), slow(300)).await, None);
        // The timer fired; moved forward it limits the next call again.
        assert_eq!(
            limit.run(Duration::from_millis(50), slow(10)).await,
            Some(())
        );
        assert_eq!(limit.run(Duration::from_millis(50), slow(300)).await, None);
        assert_eq!(limit.run(Duration::MAX, slow(20)).await, Some(()));
    }
}
