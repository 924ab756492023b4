//! The key cache: fetches, caches and refreshes the issuer's key set.
//!
//! The policy, in one place:
//! - **Lazy**, with optional warm-up. Reads are lock-free (`ArcSwap`); no lock is ever held
//!   across a network call.
//! - **Unknown `kid`** triggers an immediate refetch, even right after a routine fetch. Further
//!   unknown-`kid` refetches wait for the cooldown (default 30 s), so a flood of random `kid`s
//!   fails fast without requests. A known `kid` with a bad signature never refetches.
//! - **Single flight**: concurrent misses share one fetch, which runs as its own task (a caller
//!   that gives up does not cancel it). Each fetch carries a sequence number; an older result never
//!   replaces a newer one.
//! - **Freshness** from `Cache-Control: max-age` within bounds (default 60 s – 24 h; 10 min when
//!   absent). A background task refreshes at 75–90 % of the lifetime (jittered).
//! - **Stale-if-error**: when refreshing fails, the last good set keeps serving for a bounded
//!   window past its freshness (default 1 h); failures back off exponentially (1 s to 30 s).
//! - **Bounded**: every fetch has a timeout (5 s) and a body cap (512 KiB); redirects are not
//!   followed; a set without a single usable key is treated as a failed fetch (the previous set
//!   stays).

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use aws_lc_rs::signature::ParsedPublicKey;

use crate::alg::Algorithm;
use crate::config::JwksPolicy;
use crate::discovery::Discovery;
use crate::error::{AuthError, ErrorCode};
use crate::flight::{Backoff, FetchFailure, Flight, jitter_fraction, lock};
use crate::http::{HttpClient, HttpRequest, send};
use crate::jwk::{KeySet, Miss};

/// One published key set with its lifetime.
pub(crate) struct Snapshot {
    pub(crate) keys: Arc<KeySet>,
    fetched_at: Instant,
    ttl: Duration,
    fresh_until: Instant,
    stale_until: Instant,
    seq: u64,
}

/// Where the key-set URL comes from.
pub(crate) enum Source {
    Fixed(String),
    Discovered(Arc<Discovery>),
}

#[derive(Default)]
struct Control {
    backoff: Backoff,
    last_kid_refetch: Option<Instant>,
    next_seq: u64,
    refresher_running: bool,
}

pub(crate) struct Inner {
    source: Source,
    http: Arc<dyn HttpClient>,
    policy: JwksPolicy,
    algorithms: Vec<Algorithm>,
    snapshot: ArcSwapOption<Snapshot>,
    control: Mutex<Control>,
    flight: Flight<Arc<Snapshot>>,
    fetches: std::sync::atomic::AtomicU64,
}

/// A cheap-to-clone handle to the cache.
#[derive(Clone)]
pub(crate) struct KeyCache {
    inner: Arc<Inner>,
}

/// Whether a fetch was caused by an unknown `kid` (sent with `Cache-Control: no-cache`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    Routine,
    UnknownKid,
}

impl KeyCache {
    pub(crate) fn new(
        source: Source,
        http: Arc<dyn HttpClient>,
        policy: JwksPolicy,
        algorithms: Vec<Algorithm>,
    ) -> Self {
        KeyCache {
            inner: Arc::new(Inner {
                source,
                http,
                policy,
                algorithms,
                snapshot: ArcSwapOption::empty(),
                control: Mutex::default(),
                flight: Flight::default(),
                fetches: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Number of key-set fetches started (for diagnostics and tests).
    pub(crate) fn fetch_count(&self) -> u64 {
        self.inner
            .fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The current key set, if one was fetched.
    /// The snapshot that holds the key for `(kid, alg)`, when the current set is fresh and has
    /// it (what a cached verification records).
    pub(crate) fn fresh_seq_with(&self, kid: Option<&str>, alg: Algorithm) -> Option<u64> {
        let guard = self.inner.snapshot.load();
        let snap = guard.as_ref()?;
        (Instant::now() < snap.fresh_until && snap.keys.find(kid, alg).is_ok()).then_some(snap.seq)
    }

    /// Whether a key recorded under snapshot `seq` still stands: the current set is fresh and
    /// is that snapshot or still has the key. A stale set answers `false`, so that the full path
    /// runs and refreshes it.
    pub(crate) fn still_has(&self, seq: u64, kid: Option<&str>, alg: Algorithm) -> bool {
        let guard = self.inner.snapshot.load();
        let Some(snap) = guard.as_ref() else {
            return false;
        };
        Instant::now() < snap.fresh_until && (snap.seq == seq || snap.keys.find(kid, alg).is_ok())
    }

    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.inner
            .snapshot
            .load()
            .as_ref()
            .map(|s| Arc::clone(&s.keys))
    }

    /// Fetches now unless a fresh set is cached.
    pub(crate) async fn warm_up(&self) -> Result<(), AuthError> {
        self.usable_snapshot().await.map(drop)
    }

    /// Finds the key for `(kid, alg)` in a fresh key set and runs `f` with it, without waiting:
    /// `Ok` with the answer (the result of `f`, or a final miss), `Err(f)` when the set is stale
    /// or lacks the kid and [`with_key`](Self::with_key) must take the slow path. Takes no
    /// lock and does not allocate.
    pub(crate) fn with_fresh_key<R, F: FnOnce(&ParsedPublicKey) -> R>(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        f: F,
    ) -> Result<Result<R, AuthError>, F> {
        let guard = self.inner.snapshot.load();
        if let Some(snap) = guard.as_ref()
            && Instant::now() < snap.fresh_until
        {
            match snap.keys.find(kid, alg) {
                Ok(key) => {
                    crate::metrics::key_lookup(true);
                    return Ok(Ok(f(key)));
                }
                Err(Miss::Unknown) => {}
                Err(miss) => return Ok(Err(self.reject(miss, kid))),
            }
        }
        Err(f)
    }

    /// Finds the key for `(kid, alg)` and runs `f` with it: from a fresh set at once, else
    /// after refreshing a stale set or refetching for an unknown kid (within the cooldown).
    pub(crate) async fn with_key<R>(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        f: impl FnOnce(&ParsedPublicKey) -> R,
    ) -> Result<R, AuthError> {
        let f = match self.with_fresh_key(kid, alg, f) {
            Ok(answer) => return answer,
            Err(f) => f,
        };
        let snap = self.usable_snapshot().await?;
        match snap.keys.find(kid, alg) {
            Ok(key) => {
                crate::metrics::key_lookup(true);
                return Ok(f(key));
            }
            Err(Miss::Unknown) => crate::metrics::key_lookup(false),
            Err(miss) => return Err(self.reject(miss, kid)),
        }
        // Unknown kid: join the running fetch, or start one refetch if the cooldown allows
        // (checked and started atomically, so a flood of random kids costs one fetch).
        let this = Arc::clone(&self.inner);
        let refetch = self.inner.flight.join_or_start_if(
            || self.inner.allow_kid_refetch(Instant::now()),
            move || async move { this.fetch_and_publish(Reason::UnknownKid).await },
        );
        let snap = match refetch {
            Some(fetch) => {
                tracing::debug!(
                    kid = kid.map(crate::log_safe),
                    "unknown kid: refetching the key set"
                );
                fetch.await.map_err(|f| f.to_error())?
            }
            // Within the cooldown. A refetch may have published a newer set since this caller
            // looked: use it rather than refusing a key it holds.
            None => match self.inner.snapshot.load_full() {
                Some(newer) if newer.seq != snap.seq => newer,
                _ => return Err(self.reject(Miss::Unknown, kid)),
            },
        };
        match snap.keys.find(kid, alg) {
            Ok(key) => Ok(f(key)),
            Err(miss) => Err(self.reject(miss, kid)),
        }
    }

    fn reject(&self, miss: Miss, kid: Option<&str>) -> AuthError {
        tracing::debug!(kid = kid.map(crate::log_safe), reason = ?miss, "no usable key for token");
        miss.into_error()
    }

    /// A snapshot usable now: fresh, or stale within the window (then refreshed in the
    /// background), or fetched now.
    async fn usable_snapshot(&self) -> Result<Arc<Snapshot>, AuthError> {
        let now = Instant::now();
        if let Some(snap) = self.inner.snapshot.load_full() {
            if now < snap.fresh_until {
                return Ok(snap);
            }
            if now < snap.stale_until {
                self.inner.refresh_in_background(now);
                return Ok(snap);
            }
        }
        // Join a running fetch, or start one unless backing off after failures (checked and
        // started under one lock, so a failed fetch ending meanwhile cannot let a flood through).
        let mut backing_off = None;
        let this = Arc::clone(&self.inner);
        let fetch = self.inner.flight.join_or_start_if(
            || {
                backing_off = lock(&self.inner.control).backoff.remaining(now);
                backing_off.is_none()
            },
            move || async move { this.fetch_and_publish(Reason::Routine).await },
        );
        match fetch {
            Some(fetch) => fetch.await.map_err(|f| f.to_error()),
            None => {
                let wait = backing_off.unwrap_or_default();
                let secs = wait.as_secs_f64().ceil() as u64;
                Err(AuthError::new(
                    ErrorCode::JwksUnavailable,
                    "the identity provider's signing keys are unavailable",
                )
                .with_retry_after(secs.max(1)))
            }
        }
    }
}

impl Inner {
    /// Whether the unknown-kid cooldown allows a refetch now (and if so, starts the window).
    fn allow_kid_refetch(&self, now: Instant) -> bool {
        let mut c = lock(&self.control);
        if c.backoff.remaining(now).is_some() {
            return false;
        }
        let allowed = c
            .last_kid_refetch
            .is_none_or(|t| now.duration_since(t) >= self.policy.unknown_kid_cooldown);
        if allowed {
            c.last_kid_refetch = Some(now);
        }
        allowed
    }

    fn refresh_in_background(self: &Arc<Self>, now: Instant) {
        if self.flight.in_flight() || lock(&self.control).backoff.remaining(now).is_some() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            // The fetch runs as its own task; dropping the handle does not cancel it.
            drop(self.fetch_shared(Reason::Routine));
        }
    }

    fn fetch_shared(
        self: &Arc<Self>,
        reason: Reason,
    ) -> futures_util::future::Shared<
        futures_util::future::BoxFuture<'static, Result<Arc<Snapshot>, FetchFailure>>,
    > {
        let this = Arc::clone(self);
        self.flight
            .join_or_start(move || async move { this.fetch_and_publish(reason).await })
    }

    async fn fetch_and_publish(
        self: Arc<Self>,
        reason: Reason,
    ) -> Result<Arc<Snapshot>, FetchFailure> {
        let seq = {
            let mut c = lock(&self.control);
            c.next_seq += 1;
            c.next_seq
        };
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        use tracing::Instrument as _;
        let started = Instant::now();
        let measured = crate::metrics::start();
        let span = tracing::info_span!("auth.fetch", kind = "jwks", issuer = %self.issuer_label());
        let result = self.fetch_once(reason).instrument(span).await;
        crate::metrics::jwks_fetch(
            self.issuer_label(),
            result.as_ref().map(drop).map_err(|f| f.code),
            measured,
        );
        let now = Instant::now();
        match result {
            Ok((keys, ttl)) => {
                let snap = Arc::new(Snapshot {
                    keys: Arc::new(keys),
                    fetched_at: now,
                    ttl,
                    fresh_until: now + ttl,
                    stale_until: now + ttl + self.policy.stale_if_error,
                    seq,
                });
                // Sequence guard: never let an older fetch replace a newer result.
                self.snapshot.rcu(|current| match current {
                    Some(cur) if cur.seq > seq => Some(Arc::clone(cur)),
                    _ => Some(Arc::clone(&snap)),
                });
                let start_refresher = {
                    let mut c = lock(&self.control);
                    c.backoff.succeeded();
                    let start = self.policy.background_refresh && !c.refresher_running;
                    if start {
                        c.refresher_running = true;
                    }
                    start
                };
                tracing::info!(
                    keys = snap.keys.len(),
                    skipped = snap.keys.skipped().len(),
                    ttl_secs = ttl.as_secs(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "fetched the key set"
                );
                if start_refresher {
                    spawn_refresher(Arc::downgrade(&self));
                }
                Ok(self.snapshot.load_full().unwrap_or(snap))
            }
            Err(failure) => {
                let failures = {
                    let mut c = lock(&self.control);
                    c.backoff
                        .failed(now, self.policy.min_backoff, self.policy.max_backoff);
                    c.backoff.failures()
                };
                tracing::warn!(
                    code = failure.code.as_str(),
                    detail = %failure.detail,
                    failures,
                    "key set fetch failed; keeping the last good keys if any"
                );
                Err(failure)
            }
        }
    }

    /// The issuer whose keys these are, for metrics (the JWKS URL when configured directly).
    fn issuer_label(&self) -> &str {
        match &self.source {
            Source::Fixed(uri) => uri,
            Source::Discovered(discovery) => discovery.issuer(),
        }
    }

    async fn fetch_once(&self, reason: Reason) -> Result<(KeySet, Duration), FetchFailure> {
        let uri = match &self.source {
            Source::Fixed(uri) => uri.clone(),
            Source::Discovered(discovery) => {
                let doc = discovery.metadata_inner().await?;
                doc.jwks_uri.clone().ok_or_else(|| {
                    FetchFailure::new(
                        ErrorCode::DiscoveryFailed,
                        "the discovery document has no jwks_uri",
                        "",
                    )
                })?
            }
        };
        let fail = |detail: String| {
            FetchFailure::new(
                ErrorCode::JwksFetchFailed,
                "fetching the identity provider's signing keys failed",
                detail,
            )
        };
        let mut req = HttpRequest::get(&uri, self.policy.fetch_timeout, self.policy.max_body)
            .header("accept", "application/jwk-set+json, application/json");
        if reason == Reason::UnknownKid {
            req = req.header("cache-control", "no-cache");
        }
        let response = send(&*self.http, req)
            .await
            .map_err(|e| fail(format!("{uri}: {e}")))?;
        if response.status != 200 {
            return Err(fail(format!("{uri}: status {}", response.status)));
        }
        let keys = KeySet::from_jwks_json(&response.body, &self.algorithms)
            .map_err(|e| fail(format!("{uri}: {e}")))?;
        if keys.is_empty() {
            return Err(fail(format!(
                "{uri}: no usable key in the set ({:?})",
                keys.skipped()
            )));
        }
        let ttl = cache_ttl(response.header("cache-control"), &self.policy);
        Ok((keys, ttl))
    }

    /// When the background task should refresh next.
    fn next_refresh_in(&self, now: Instant) -> Duration {
        let c = lock(&self.control);
        if let Some(wait) = c.backoff.remaining(now) {
            return wait;
        }
        if c.backoff.failures() > 0 {
            return self.policy.min_backoff;
        }
        drop(c);
        match self.snapshot.load().as_ref() {
            Some(snap) => {
                let fraction = 0.75 + 0.15 * jitter_fraction();
                let at = snap.fetched_at + snap.ttl.mul_f64(fraction);
                at.saturating_duration_since(now)
            }
            None => self.policy.min_backoff,
        }
    }
}

/// Parses `Cache-Control: max-age` and clamps it; `no-store`/`no-cache`/absent fall back.
fn cache_ttl(header: Option<&str>, policy: &JwksPolicy) -> Duration {
    let ttl = header
        .and_then(|h| {
            let mut max_age = None;
            for directive in h.split(',').map(str::trim) {
                let lower = directive.to_ascii_lowercase();
                if lower == "no-store" || lower == "no-cache" {
                    return Some(Duration::ZERO);
                }
                if let Some(v) = lower.strip_prefix("max-age=") {
                    max_age = v
                        .trim_matches('"')
                        .parse::<u64>()
                        .ok()
                        .map(Duration::from_secs);
                }
            }
            max_age
        })
        .unwrap_or(policy.default_ttl);
    ttl.clamp(policy.min_ttl, policy.max_ttl)
}

/// Clears `refresher_running` when the refresher stops for any reason (runtime shutdown too).
struct RefresherGuard(Weak<Inner>);

impl Drop for RefresherGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            lock(&inner.control).refresher_running = false;
        }
    }
}

fn spawn_refresher(weak: Weak<Inner>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        if let Some(inner) = weak.upgrade() {
            lock(&inner.control).refresher_running = false;
        }
        return;
    };
    handle.spawn(async move {
        let _guard = RefresherGuard(weak.clone());
        loop {
            let delay = match weak.upgrade() {
                Some(inner) => inner.next_refresh_in(Instant::now()),
                None => return,
            };
            tokio::time::sleep(delay.max(Duration::from_millis(50))).await;
            let Some(inner) = weak.upgrade() else { return };
            let fetch = inner.fetch_shared(Reason::Routine);
            drop(inner); // hold only a weak reference while waiting
            let _ = fetch.await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_honoured_within_bounds() {
        let p = JwksPolicy::default();
        assert_eq!(cache_ttl(None, &p), Duration::from_secs(600));
        assert_eq!(
            cache_ttl(Some("public, max-age=3600"), &p),
            Duration::from_secs(3600)
        );
        assert_eq!(cache_ttl(Some("max-age=0"), &p), Duration::from_secs(60));
        assert_eq!(cache_ttl(Some("no-store"), &p), Duration::from_secs(60));
        assert_eq!(
            cache_ttl(Some("max-age=31536000"), &p),
            Duration::from_secs(86400)
        );
        assert_eq!(cache_ttl(Some("max-age=abc"), &p), Duration::from_secs(600));
    }
}
