//! API keys for machine callers: the key format, the store trait, and [`ApiKeys`], which
//! creates, lists, rotates, revokes and verifies keys.
//!
//! A key looks like `sk_live_4fZq8Rk2XbW1…` (the prefix, then 43 base62 characters: 256 random
//! bits). The store keeps its id (the prefix and the first 12 random characters) in clear and the
//! SHA-256 of the whole key; the key itself is shown once, when it is created.
//!
//! Verifying a key costs one indexed lookup by id, or a cache hit. The cache keeps a record for at
//! most [`ApiKeysBuilder::cache_ttl`] (5 s by default, at most 10 s), so a key created, revoked or
//! expired elsewhere (another replica, the `auth keys` CLI) takes effect within that bound. Ids
//! that do not exist are remembered as long, and lookups of unknown ids share a budget
//! ([`ApiKeysBuilder::miss_budget`]), so that a flood of random keys cannot cost a query each.
//! When a key was last used is recorded in batches, not with a write per request.
//!
//! ```
//! use std::sync::Arc;
//! use auth_core::api_key::{ApiKeys, MemoryKeyStore, NewApiKey};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), auth_core::AuthError> {
//! let keys = ApiKeys::builder(Arc::new(MemoryKeyStore::new())).build()?;
//! let created = keys.create(NewApiKey::new("nightly export", "svc-export").scope("reports:read")).await?;
//! // Show `created.key` to its owner once; only its hash is stored.
//! let verified = keys.verify(created.key.expose()).await?;
//! assert_eq!(verified.record.owner, "svc-export");
//! # Ok(())
//! # }
//! ```

mod format;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use format::{DEFAULT_PREFIX, KeyFormat, KeyHash};
pub use store::{ApiKeyRecord, ApiKeyStore, MemoryKeyStore};

use crate::config::{Clock, ConfigError, Secret};
use crate::error::{AuthError, ErrorCode, TokenInvalidReason};
use crate::flight::lock;
use crate::store::{StoreError, StoreErrorKind};

/// The longest a verified record may be served from the cache.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(10);

/// What a new key is for.
#[derive(Debug, Clone)]
#[must_use]
pub struct NewApiKey {
    name: String,
    owner: String,
    tenant: Option<String>,
    scopes: Vec<String>,
    expires_in: Option<Duration>,
    rate_limit_per_minute: Option<u32>,
}

impl NewApiKey {
    /// A key named `name` acting for `owner` (a service account id or a user's `sub`).
    pub fn new(name: impl Into<String>, owner: impl Into<String>) -> Self {
        NewApiKey {
            name: name.into(),
            owner: owner.into(),
            tenant: None,
            scopes: Vec::new(),
            expires_in: None,
            rate_limit_per_minute: None,
        }
    }

    /// Adds a scope (or role) the key grants.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// The tenant or organisation.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The key stops working this long after its creation.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }

    /// At most this many requests per minute (429 `rate_limited` beyond).
    pub fn rate_limit_per_minute(mut self, limit: u32) -> Self {
        self.rate_limit_per_minute = Some(limit);
        self
    }
}

/// A key just created: its record, and the key itself, to be shown once.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    /// What the store keeps.
    pub record: ApiKeyRecord,
    /// The key. It is not stored anywhere: show it to its owner now.
    pub key: Secret,
}

/// A key that verified.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct VerifiedApiKey {
    /// Its record (as cached: `last_used_at` may lag).
    pub record: Arc<ApiKeyRecord>,
}

/// A token bucket: `capacity` tokens, refilled at `per_sec`.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    capacity: f64,
    per_sec: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: f64, per_sec: f64) -> Self {
        Bucket {
            tokens: capacity,
            capacity,
            per_sec,
            at: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec))
        }
    }
}

/// Creates, lists, rotates, revokes and verifies API keys over an [`ApiKeyStore`]. Cheap to
/// clone; one per process (its caches are per process).
#[derive(Clone)]
pub struct ApiKeys {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ApiKeyStore>,
    format: KeyFormat,
    cache: moka::sync::Cache<String, Arc<ApiKeyRecord>>,
    unknown: moka::sync::Cache<String, ()>,
    /// Ids that existed when last looked up (kept an hour after their last use): their lookups
    /// are expected to find a record, so they skip the miss budget, and a flood of unknown keys
    /// cannot lock out the keys in use when their cache entries expire.
    known: moka::sync::Cache<String, ()>,
    miss_budget: Mutex<Bucket>,
    limits: moka::sync::Cache<String, Arc<Mutex<Bucket>>>,
    uses: Mutex<Uses>,
    last_used_interval: Duration,
    clock: Option<Clock>,
}

#[derive(Default)]
struct Uses {
    pending: HashMap<String, i64>,
    flushed_at: Option<Instant>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("format", &self.inner.format)
            .finish_non_exhaustive()
    }
}

/// Settings of [`ApiKeys`].
#[must_use]
pub struct ApiKeysBuilder {
    store: Arc<dyn ApiKeyStore>,
    format: KeyFormat,
    cache_ttl: Duration,
    miss_budget: (u32, u32),
    last_used_interval: Duration,
    clock: Option<Clock>,
}

impl std::fmt::Debug for ApiKeysBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeysBuilder")
            .field("format", &self.format)
            .field("cache_ttl", &self.cache_ttl)
            .field("miss_budget", &self.miss_budget)
            .field("last_used_interval", &self.last_used_interval)
            .finish_non_exhaustive()
    }
}

impl ApiKeysBuilder {
    /// The key format (default prefix `sk_live`).
    pub fn format(mut self, format: KeyFormat) -> Self {
        self.format = format;
        self
    }

    /// How long a looked-up record (or the absence of one) is trusted before the store is asked
    /// again: the bound within which a change made elsewhere takes effect (default 5 s, at most
    /// [`MAX_CACHE_TTL`]).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Store lookups of ids that turn out not to exist: at most `burst` at once, refilled at
    /// `per_sec` (default 20 per second, bursts of 100). Beyond it a key not in the cache
    /// answers 429 `rate_limited` with `Retry-After` instead of a query. Ids this process saw
    /// exist in the last hour are exempt, so that a flood does not lock out the keys in use.
    pub fn miss_budget(mut self, per_sec: u32, burst: u32) -> Self {
        self.miss_budget = (per_sec.max(1), burst.max(1));
        self
    }

    /// How often the last-used times are written, in one batch (default 60 s).
    pub fn last_used_interval(mut self, interval: Duration) -> Self {
        self.last_used_interval = interval;
        self
    }

    /// The clock (default the system's), for tests.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Builds.
    ///
    /// # Errors
    /// `AUTH_API_KEY_CACHE_TTL` when the cache TTL is over [`MAX_CACHE_TTL`].
    pub fn build(self) -> Result<ApiKeys, ConfigError> {
        if self.cache_ttl > MAX_CACHE_TTL {
            return Err(ConfigError::new(
                "AUTH_API_KEY_CACHE_TTL",
                "must be at most 10 seconds, the documented bound for revocations",
            ));
        }
        let ttl = self.cache_ttl.max(Duration::from_millis(1));
        let (per_sec, burst) = self.miss_budget;
        Ok(ApiKeys {
            inner: Arc::new(Inner {
                store: self.store,
                format: self.format,
                cache: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(ttl)
                    .build(),
                unknown: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(ttl)
                    .build(),
                known: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_idle(Duration::from_secs(3600))
                    .build(),
                miss_budget: Mutex::new(Bucket::new(f64::from(burst), f64::from(per_sec))),
                limits: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_idle(Duration::from_secs(120))
                    .build(),
                uses: Mutex::new(Uses::default()),
                last_used_interval: self.last_used_interval,
                clock: self.clock,
            }),
        })
    }
}

fn store_error(e: StoreError) -> AuthError {
    AuthError::new(
        ErrorCode::StoreUnavailable,
        "the API-key store is unavailable",
    )
    .with_source(e)
}

fn unknown_key() -> AuthError {
    AuthError::invalid_token(
        TokenInvalidReason::UnknownApiKey,
        "the API key is not valid",
    )
}

impl ApiKeys {
    /// Keys in `store`.
    pub fn builder(store: Arc<dyn ApiKeyStore>) -> ApiKeysBuilder {
        ApiKeysBuilder {
            store,
            format: KeyFormat::default(),
            cache_ttl: Duration::from_secs(5),
            miss_budget: (20, 100),
            last_used_interval: Duration::from_secs(60),
            clock: None,
        }
    }

    /// The key format.
    #[must_use]
    pub fn format(&self) -> &KeyFormat {
        &self.inner.format
    }

    fn now(&self) -> i64 {
        let now = self
            .inner
            .clock
            .as_ref()
            .map_or_else(SystemTime::now, |c| c());
        now.duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    /// Creates a key. The returned [`CreatedApiKey::key`] is the only copy of the key.
    ///
    /// # Errors
    /// `store_unavailable` when the store fails.
    pub async fn create(&self, spec: NewApiKey) -> Result<CreatedApiKey, AuthError> {
        let now = self.now();
        // An id collision (12 base62 characters) is astronomically rare; try again anyway.
        for _ in 0..4 {
            let (id, key) = self.inner.format.generate();
            let mut record = ApiKeyRecord::new(
                id,
                KeyHash::of(&key),
                spec.name.clone(),
                spec.owner.clone(),
                now,
            );
            record.tenant.clone_from(&spec.tenant);
            record.scopes.clone_from(&spec.scopes);
            record.expires_at = spec
                .expires_in
                .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
            record.rate_limit_per_minute = spec.rate_limit_per_minute;
            match self.inner.store.insert(record.clone()).await {
                Ok(()) => {
                    self.inner.unknown.invalidate(&record.id);
                    self.inner.known.insert(record.id.clone(), ());
                    return Ok(CreatedApiKey {
                        record,
                        key: Secret::new(key),
                    });
                }
                Err(e) if e.kind() == StoreErrorKind::Conflict => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(AuthError::new(
            ErrorCode::Unknown,
            "could not find a free key id",
        ))
    }

    /// Every key's record (never a key).
    ///
    /// # Errors
    /// `store_unavailable` when the store fails.
    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, AuthError> {
        self.inner.store.list().await.map_err(store_error)
    }

    /// Revokes a key: from now on it answers 401 `token_revoked` (in this process at once,
    /// elsewhere within the cache TTL). `false` when there is no such key.
    ///
    /// # Errors
    /// `store_unavailable` when the store fails.
    pub async fn revoke(&self, id: &str) -> Result<bool, AuthError> {
        let found = self
            .inner
            .store
            .revoke(id, self.now())
            .await
            .map_err(store_error)?;
        self.inner.cache.invalidate(id);
        Ok(found)
    }

    /// Replaces a key with a new one with the same name, owner, tenant, scopes and limit: both
    /// work during `overlap` (24 h is a good default), then the old one expires. `None` when
    /// there is no such key.
    ///
    /// # Errors
    /// `store_unavailable` when the store fails.
    pub async fn rotate(
        &self,
        id: &str,
        overlap: Duration,
    ) -> Result<Option<CreatedApiKey>, AuthError> {
        let Some(old) = self.inner.store.get(id).await.map_err(store_error)? else {
            return Ok(None);
        };
        let mut spec = NewApiKey::new(old.name.clone(), old.owner.clone());
        spec.tenant = old.tenant.clone();
        spec.scopes = old.scopes.clone();
        spec.rate_limit_per_minute = old.rate_limit_per_minute;
        if let Some(expires) = old.expires_at {
            let left = expires.saturating_sub(self.now()).max(0);
            spec.expires_in = Some(Duration::from_secs(left.unsigned_abs()));
        }
        let created = self.create(spec).await?;
        let end = self
            .now()
            .saturating_add(i64::try_from(overlap.as_secs()).unwrap_or(i64::MAX));
        self.inner
            .store
            .expire(id, end)
            .await
            .map_err(store_error)?;
        self.inner.cache.invalidate(id);
        Ok(Some(created))
    }

    /// Verifies a presented key.
    ///
    /// # Errors
    /// 401 `token_invalid` (reason `malformed` or `unknown_api_key`), 401 `token_revoked`, 401
    /// `token_expired` (no leeway), 429 `rate_limited` with `Retry-After` (the key's limit, or
    /// a flood of unknown keys), 503 `store_unavailable`.
    pub async fn verify(&self, presented: &str) -> Result<VerifiedApiKey, AuthError> {
        let result = self.verify_inner(presented).await;
        crate::metrics::api_key(&result);
        result
    }

    async fn verify_inner(&self, presented: &str) -> Result<VerifiedApiKey, AuthError> {
        let Some(id) = self.inner.format.key_id(presented) else {
            return Err(AuthError::invalid_token(
                TokenInvalidReason::Malformed,
                "the API key is malformed",
            ));
        };
        let record = match self.inner.cache.get(&id) {
            Some(record) => record,
            None => self.look_up(&id).await?,
        };
        if !record.hash.matches(&KeyHash::of(presented)) {
            return Err(unknown_key());
        }
        let now = self.now();
        if record.revoked_at.is_some() {
            return Err(AuthError::new(
                ErrorCode::TokenRevoked,
                "the API key was revoked",
            ));
        }
        if record.expires_at.is_some_and(|at| now >= at) {
            return Err(AuthError::new(
                ErrorCode::TokenExpired,
                "the API key has expired",
            ));
        }
        if let Some(limit) = record.rate_limit_per_minute {
            let bucket = self.inner.limits.get_with(record.id.clone(), || {
                Arc::new(Mutex::new(Bucket::new(
                    f64::from(limit.max(1)),
                    f64::from(limit.max(1)) / 60.0,
                )))
            });
            if let Err(wait) = lock(&bucket).take(Instant::now()) {
                return Err(AuthError::new(
                    ErrorCode::RateLimited,
                    "the API key is over its rate limit",
                )
                .with_retry_after(wait.as_secs_f64().ceil().max(1.0) as u64));
            }
        }
        self.used(&record.id, now);
        Ok(VerifiedApiKey { record })
    }

    async fn look_up(&self, id: &str) -> Result<Arc<ApiKeyRecord>, AuthError> {
        if self.inner.unknown.contains_key(id) {
            return Err(unknown_key());
        }
        // A lookup that may find nothing spends the shared budget; an id that existed a moment
        // ago does not (its lookups are bounded by the number of such ids per cache TTL).
        let known = self.inner.known.contains_key(id);
        if !known && let Err(wait) = lock(&self.inner.miss_budget).take(Instant::now()) {
            return Err(AuthError::new(
                ErrorCode::RateLimited,
                "too many unknown API keys; try again later",
            )
            .with_retry_after(wait.as_secs_f64().ceil().max(1.0) as u64));
        }
        match self.inner.store.get(id).await.map_err(store_error)? {
            Some(record) => {
                if !known {
                    // A key that exists gives its token back: only misses count.
                    let mut budget = lock(&self.inner.miss_budget);
                    budget.tokens = (budget.tokens + 1.0).min(budget.capacity);
                    drop(budget);
                    self.inner.known.insert(id.to_owned(), ());
                }
                let record = Arc::new(record);
                self.inner.cache.insert(id.to_owned(), Arc::clone(&record));
                Ok(record)
            }
            None => {
                self.inner.known.invalidate(id);
                self.inner.unknown.insert(id.to_owned(), ());
                Err(unknown_key())
            }
        }
    }

    /// Notes a use; writes the pending batch when the interval has passed.
    fn used(&self, id: &str, now: i64) {
        let batch = {
            let mut uses = lock(&self.inner.uses);
            uses.pending.insert(id.to_owned(), now);
            let due = uses
                .flushed_at
                .is_none_or(|at| at.elapsed() >= self.inner.last_used_interval);
            if !due {
                return;
            }
            uses.flushed_at = Some(Instant::now());
            std::mem::take(&mut uses.pending)
        };
        let store = Arc::clone(&self.inner.store);
        let write = async move {
            if let Err(e) = store.record_use(batch.into_iter().collect()).await {
                tracing::warn!(error = %e, "could not record when API keys were last used");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(write);
            }
            Err(_) => tracing::debug!("no runtime: last-used times not written"),
        }
    }

    /// Writes the pending last-used times now (at shutdown, or in tests).
    ///
    /// # Errors
    /// `store_unavailable` when the store fails.
    pub async fn flush_last_used(&self) -> Result<(), AuthError> {
        let batch = {
            let mut uses = lock(&self.inner.uses);
            uses.flushed_at = Some(Instant::now());
            std::mem::take(&mut uses.pending)
        };
        if batch.is_empty() {
            return Ok(());
        }
        self.inner
            .store
            .record_use(batch.into_iter().collect())
            .await
            .map_err(store_error)
    }
}
