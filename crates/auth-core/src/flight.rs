//! Single-flight fetching and failure backoff, shared by discovery and the key cache.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

use crate::error::{AuthError, ErrorCode};

/// A fetch failure that every waiter of a shared fetch receives (hence `Clone`).
#[derive(Debug, Clone)]
pub(crate) struct FetchFailure {
    pub(crate) code: ErrorCode,
    /// Client-safe message.
    pub(crate) message: Cow<'static, str>,
    /// Operator detail (URL, status, transport error), for logs and `source()`.
    pub(crate) detail: String,
}

impl FetchFailure {
    pub(crate) fn new(code: ErrorCode, message: &'static str, detail: impl Into<String>) -> Self {
        FetchFailure {
            code,
            message: Cow::Borrowed(message),
            detail: detail.into(),
        }
    }

    pub(crate) fn to_error(&self) -> AuthError {
        let err = AuthError::new(self.code, self.message.clone());
        if self.detail.is_empty() {
            err
        } else {
            err.with_source(Detail(self.detail.clone()))
        }
    }
}

/// Carries operator detail through `Error::source`.
#[derive(Debug)]
struct Detail(String);

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Detail {}

type SharedFetch<T> = Shared<BoxFuture<'static, Result<T, FetchFailure>>>;

/// The fetch in flight, with a completion flag set by the fetch itself: `Shared::peek` only
/// sees completion once some caller polled the shared future, and a background refresh has no
/// caller.
struct Running<T: Clone + Send + Sync + 'static> {
    shared: SharedFetch<T>,
    done: Arc<AtomicBool>,
}

impl<T: Clone + Send + Sync + 'static> Running<T> {
    fn is_running(&self) -> bool {
        !self.done.load(Ordering::Acquire) && self.shared.peek().is_none()
    }
}

/// At most one fetch in flight; concurrent callers share it.
pub(crate) struct Flight<T: Clone + Send + Sync + 'static> {
    slot: Mutex<Option<Running<T>>>,
}

impl<T: Clone + Send + Sync + 'static> Default for Flight<T> {
    fn default() -> Self {
        Flight {
            slot: Mutex::new(None),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Flight<T> {
    /// Whether a fetch is running now.
    pub(crate) fn in_flight(&self) -> bool {
        lock(&self.slot).as_ref().is_some_and(Running::is_running)
    }

    /// Joins the running fetch, or starts `start()` as the new one.
    ///
    /// The fetch runs as its own task on the current Tokio runtime, so a caller that gives up
    /// (a cancelled request) does not cancel it for the others. The lock is only held to swap the
    /// slot, never across the network call.
    pub(crate) fn join_or_start<F>(&self, start: impl FnOnce() -> F) -> SharedFetch<T>
    where
        F: Future<Output = Result<T, FetchFailure>> + Send + 'static,
    {
        let mut slot = lock(&self.slot);
        match slot.as_ref() {
            Some(running) if running.is_running() => running.shared.clone(),
            _ => Self::start_in(&mut slot, start),
        }
    }

    /// Joins the running fetch, or starts `start()` when `allow()` says so (a rate limit), or
    /// answers `None`. Checking and starting happen under one lock: a fetch that ends between a
    /// caller's check and its start cannot let that caller start a second one.
    pub(crate) fn join_or_start_if<F>(
        &self,
        allow: impl FnOnce() -> bool,
        start: impl FnOnce() -> F,
    ) -> Option<SharedFetch<T>>
    where
        F: Future<Output = Result<T, FetchFailure>> + Send + 'static,
    {
        let mut slot = lock(&self.slot);
        if let Some(running) = slot.as_ref()
            && running.is_running()
        {
            return Some(running.shared.clone());
        }
        if !allow() {
            return None;
        }
        Some(Self::start_in(&mut slot, start))
    }

    fn start_in<F>(slot: &mut Option<Running<T>>, start: impl FnOnce() -> F) -> SharedFetch<T>
    where
        F: Future<Output = Result<T, FetchFailure>> + Send + 'static,
    {
        let done = Arc::new(AtomicBool::new(false));
        let fetch = start();
        let flag = Arc::clone(&done);
        let fut = async move {
            let out = fetch.await;
            flag.store(true, Ordering::Release);
            out
        };
        let shared = spawn_shared(fut, |e| {
            FetchFailure::new(
                ErrorCode::Unknown,
                "internal error while fetching",
                e.to_string(),
            )
        });
        *slot = Some(Running {
            shared: shared.clone(),
            done,
        });
        shared
    }
}

/// Runs `fut` as its own task on the current Tokio runtime (inline when there is none) and
/// returns a handle that any number of callers can await. A caller that gives up (a cancelled
/// request) does not cancel the work for the others, nor abandon a call whose effect upstream
/// (a rotated refresh token) has already happened. `interrupted` turns a panicked or aborted
/// task into the error every waiter receives.
///
/// The one single-flight primitive of the crate: discovery, the key cache and session refresh
/// all share work through it.
pub(crate) fn spawn_shared<T, E>(
    fut: impl Future<Output = Result<T, E>> + Send + 'static,
    interrupted: fn(tokio::task::JoinError) -> E,
) -> Shared<BoxFuture<'static, Result<T, E>>>
where
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    let boxed: BoxFuture<'static, Result<T, E>> = match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            let task = handle.spawn(fut);
            async move { task.await.unwrap_or_else(|e| Err(interrupted(e))) }.boxed()
        }
        Err(_) => fut.boxed(),
    };
    boxed.shared()
}

/// Exponential backoff state after consecutive failures.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    failures: u32,
    retry_at: Option<Instant>,
}

impl Backoff {
    /// Records a failure; the next attempt waits `min * 2^(n-1)`, capped at `max`, with up to
    /// 20 % jitter.
    pub(crate) fn failed(&mut self, now: Instant, min: Duration, max: Duration) {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(16);
        let base = min.saturating_mul(1u32 << exp).min(max);
        let jitter = base.mul_f64(0.2 * jitter_fraction());
        self.retry_at = Some(now + base.saturating_sub(jitter));
    }

    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// When backing off, the time left.
    pub(crate) fn remaining(&self, now: Instant) -> Option<Duration> {
        self.retry_at
            .and_then(|t| t.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }
}

/// A uniform fraction in `[0, 1)` from the system RNG (for jitter only).
pub(crate) fn jitter_fraction() -> f64 {
    let mut b = [0u8; 4];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

/// Locks a mutex, recovering from poisoning (the data is plain state, always consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch_and_a_cancelled_caller_does_not_cancel_it() {
        let flight: Arc<Flight<u32>> = Arc::default();
        let runs = Arc::new(AtomicU32::new(0));
        let start = |runs: Arc<AtomicU32>| {
            move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(7)
            }
        };
        let first = flight.join_or_start(start(runs.clone()));
        // The first caller gives up at once.
        drop(first);
        let waiters: Vec<_> = (0..100)
            .map(|_| flight.join_or_start(start(runs.clone())))
            .collect();
        for w in waiters {
            assert_eq!(w.await.ok(), Some(7));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // After completion, a new call starts a new fetch.
        assert_eq!(
            flight.join_or_start(start(runs.clone())).await.ok(),
            Some(7)
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_rate_limited_start_still_joins_a_running_fetch_and_never_starts_a_second() {
        let flight: Flight<u32> = Flight::default();
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok(1)
        };
        assert!(flight.join_or_start_if(|| false, slow).is_none());
        let first = flight.join_or_start_if(|| true, slow);
        let mut asked = false;
        let joined = flight.join_or_start_if(
            || {
                asked = true;
                false
            },
            || async { Ok(2) },
        );
        assert!(!asked, "a running fetch is joined without asking the limit");
        let (Some(first), Some(joined)) = (first, joined) else {
            panic!("both callers share a fetch");
        };
        assert_eq!(joined.await.ok(), Some(1), "the running fetch's result");
        assert_eq!(first.await.ok(), Some(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            flight.join_or_start_if(|| false, slow).is_none(),
            "finished: the limit decides again"
        );
    }

    #[tokio::test]
    async fn a_detached_fetch_that_finished_is_not_in_flight() {
        let flight: Flight<u32> = Flight::default();
        drop(flight.join_or_start(|| async { Ok(1) }));
        assert!(flight.in_flight());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !flight.in_flight(),
            "nobody polled the shared handle, but the task finished"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let now = Instant::now();
        let mut b = Backoff::default();
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(8));
        let mut last = Duration::ZERO;
        for _ in 0..6 {
            b.failed(now, min, max);
            let r = b.remaining(now).unwrap_or_default();
            assert!(
                r <= max && r >= last.mul_f64(0.8) && r >= min.mul_f64(0.8),
                "{r:?}"
            );
            last = r;
        }
        b.succeeded();
        assert_eq!(b.remaining(now), None);
    }
}
