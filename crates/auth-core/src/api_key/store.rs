//! What an API-key store keeps, the trait a storage backend implements, and the in-memory
//! store for tests.

use std::collections::HashMap;
use std::sync::Mutex;

use super::format::KeyHash;
use crate::http::BoxFuture;
use crate::store::{StoreError, StoreErrorKind};

/// A stored API key: everything but the key itself, of which only the hash is kept.
/// Times are Unix seconds.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key id: the prefix and the first random characters (`sk_live_4fZq8Rk2XbW1`).
    pub id: String,
    /// The SHA-256 of the whole key.
    pub hash: KeyHash,
    /// A name for people (`"nightly export"`).
    pub name: String,
    /// Whom the key acts for: a service account id or a user's `sub`.
    pub owner: String,
    /// The tenant or organisation, if any.
    pub tenant: Option<String>,
    /// The scopes (and roles) the key grants.
    pub scopes: Vec<String>,
    /// When it was created.
    pub created_at: i64,
    /// When it stops working, if ever (no leeway).
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When it was last used (recorded in batches, so it may lag by the batch interval).
    pub last_used_at: Option<i64>,
    /// Requests per minute the key may make, if limited.
    pub rate_limit_per_minute: Option<u32>,
}

impl ApiKeyRecord {
    /// A record with no tenant, scopes, expiry or limit.
    #[must_use]
    pub fn new(id: String, hash: KeyHash, name: String, owner: String, created_at: i64) -> Self {
        ApiKeyRecord {
            id,
            hash,
            name,
            owner,
            tenant: None,
            scopes: Vec::new(),
            created_at,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            rate_limit_per_minute: None,
        }
    }
}

/// Where API keys live. The SDK's SQL stores (SQLite, PostgreSQL) implement it in `auth-store`;
/// [`MemoryKeyStore`] is for tests. Every method is one indexed query in a SQL store.
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Adds a record; [`StoreErrorKind::Conflict`] when its id exists.
    fn insert(&self, record: ApiKeyRecord) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The record with this id.
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>>;
    /// Every record, oldest first.
    fn list(&self) -> BoxFuture<'_, Result<Vec<ApiKeyRecord>, StoreError>>;
    /// Marks the record revoked at `at` (the first revocation time is kept); `false` when there
    /// is no such record.
    fn revoke<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Makes the record expire at `at` at the latest; `false` when there is no such record.
    fn expire<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Records when keys were last used, in one batch.
    fn record_use(&self, uses: Vec<(String, i64)>) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// An [`ApiKeyStore`] in memory, for tests and examples. It counts the writes of
/// [`record_use`](ApiKeyStore::record_use) batches, so that tests can check batching.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    records: Mutex<Vec<ApiKeyRecord>>,
    use_batches: Mutex<usize>,
    lookups: Mutex<usize>,
}

impl MemoryKeyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many `record_use` batches were written.
    #[must_use]
    pub fn use_batches(&self) -> usize {
        *crate::flight::lock(&self.use_batches)
    }

    /// How many lookups by id were made.
    #[must_use]
    pub fn lookups(&self) -> usize {
        *crate::flight::lock(&self.lookups)
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut ApiKeyRecord)) -> bool {
        let mut records = crate::flight::lock(&self.records);
        match records.iter_mut().find(|r| r.id == id) {
            Some(record) => {
                f(record);
                true
            }
            None => false,
        }
    }
}

impl ApiKeyStore for MemoryKeyStore {
    fn insert(&self, record: ApiKeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut records = crate::flight::lock(&self.records);
        let result = if records.iter().any(|r| r.id == record.id) {
            Err(StoreError::new(
                StoreErrorKind::Conflict,
                "the key id exists",
            ))
        } else {
            records.push(record);
            Ok(())
        };
        Box::pin(std::future::ready(result))
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>> {
        *crate::flight::lock(&self.lookups) += 1;
        let found = crate::flight::lock(&self.records)
            .iter()
            .find(|r| r.id == id)
            .cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<ApiKeyRecord>, StoreError>> {
        let all = crate::flight::lock(&self.records).clone();
        Box::pin(std::future::ready(Ok(all)))
    }

    fn revoke<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, Result<bool, StoreError>> {
        let found = self.update(id, |r| {
            r.revoked_at.get_or_insert(at);
        });
        Box::pin(std::future::ready(Ok(found)))
    }

    fn expire<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, Result<bool, StoreError>> {
        let found = self.update(id, |r| {
            r.expires_at = Some(r.expires_at.map_or(at, |e| e.min(at)));
        });
        Box::pin(std::future::ready(Ok(found)))
    }

    fn record_use(&self, uses: Vec<(String, i64)>) -> BoxFuture<'_, Result<(), StoreError>> {
        *crate::flight::lock(&self.use_batches) += 1;
        let by_id: HashMap<String, i64> = uses.into_iter().collect();
        let mut records = crate::flight::lock(&self.records);
        for record in records.iter_mut() {
            if let Some(at) = by_id.get(&record.id) {
                record.last_used_at = Some(record.last_used_at.map_or(*at, |l| l.max(*at)));
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }
}
