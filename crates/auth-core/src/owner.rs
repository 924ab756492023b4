//! Resource ownership: who owns a resource, and the rule that lets only its owner through.
//!
//! An [`OwnerStore`] keeps one owner per resource, with set-once semantics: the first caller to
//! [claim](OwnerStore::claim) a free resource owns it, and only an explicit
//! [`Ownership::transfer`] or [`Ownership::overwrite`] changes that. [`Ownership`] is the rule
//! over one kind of resource (`"notes"`): given the caller's claims, a resource id and an
//! [`AccessMode`], it answers an [`Access`] or 403 `permission_denied`. The caller is its `sub`,
//! so an API key acts as its owner (a key owned by `alice` may write alice's notes).
//!
//! The adapters run it as a guard in front of a route whose path parameter names the resource
//! (`auth_axum::owner_guard`, `auth_actix::owner_guard`, the `auth_warp::owned` filter), with the
//! mode taken from the method (see [`AccessMode::for_method`]). The SQL store (SQLite,
//! PostgreSQL) is `auth_store::SqlStore`; [`MemoryOwnerStore`] is for tests.
//!
//! ```
//! use std::sync::Arc;
//! use auth_core::owner::{AccessMode, MemoryOwnerStore, Ownership};
//! # use auth_core::{Claims, ErrorCode, NoExtraClaims};
//! # async fn demo(alice: &Claims<NoExtraClaims>, bob: &Claims<NoExtraClaims>) -> Result<(), auth_core::AuthError> {
//! let notes = Ownership::builder(Arc::new(MemoryOwnerStore::new()), "notes")
//!     .readers(["admin"]) // admins may read anyone's notes (the default), never write them
//!     .build()?;
//! assert!(notes.authorize(alice, "n1", AccessMode::Claim).await?.created());
//! let refused = notes.authorize(bob, "n1", AccessMode::Claim).await.unwrap_err();
//! assert!(refused.is(ErrorCode::PermissionDenied));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::claims::Claims;
use crate::config::{Clock, ConfigError};
use crate::error::{AuthError, ErrorCode};
use crate::flight::lock;
use crate::http::BoxFuture;
use crate::store::StoreError;

/// The longest resource id accepted (bytes); a longer one is 400 `invalid_request`.
pub const MAX_RESOURCE_ID_BYTES: usize = 512;

/// A resource's owner, as stored. Times are Unix seconds.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRecord {
    /// The kind of resource (`"notes"`).
    pub kind: String,
    /// The resource id, within its kind.
    pub id: String,
    /// The owner: a user's `sub` or a service account id.
    pub owner: String,
    /// When the resource was first claimed.
    pub created_at: i64,
    /// When its owner last changed (the claim, or the latest transfer).
    pub updated_at: i64,
}

impl OwnerRecord {
    /// A record claimed at `at`.
    #[must_use]
    pub fn new(kind: String, id: String, owner: String, at: i64) -> Self {
        OwnerRecord {
            kind,
            id,
            owner,
            created_at: at,
            updated_at: at,
        }
    }
}

/// What [`OwnerStore::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The owner after the call: the claimant when the resource was free.
    pub owner: String,
    /// Whether this call made the claimant the owner.
    pub created: bool,
}

/// Where owners live. `auth_store::SqlStore` implements it (SQLite, PostgreSQL);
/// [`MemoryOwnerStore`] is for tests. Each method is one statement on the primary key (a claim
/// that loses a race reads the winner with a second one). Implementations must make
/// [`claim`](Self::claim) atomic: of two concurrent claims of a free resource, exactly one wins.
pub trait OwnerStore: Send + Sync + 'static {
    /// Makes `owner` the owner of `(kind, id)` at `at` unless the resource has one already.
    fn claim<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        owner: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Claimed, StoreError>>;
    /// The resource's record, if it has an owner.
    fn get<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<OwnerRecord>, StoreError>>;
    /// Makes `to` the owner of an owned resource at `at`; with `from`, only while `from` owns it
    /// (compare and set). `false` when nothing changed.
    fn transfer<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        from: Option<&'a str>,
        to: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Forgets the resource's owner (when the resource is deleted); `false` when it had none.
    fn release<'a>(&'a self, kind: &'a str, id: &'a str)
    -> BoxFuture<'a, Result<bool, StoreError>>;
    /// The resources of one kind that `owner` owns, oldest first.
    fn list_owned<'a>(
        &'a self,
        kind: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Vec<OwnerRecord>, StoreError>>;
}

/// An [`OwnerStore`] in memory, for tests and examples.
#[derive(Debug, Default)]
pub struct MemoryOwnerStore {
    records: Mutex<HashMap<(String, String), OwnerRecord>>,
}

impl MemoryOwnerStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, Result<T, StoreError>> {
    Box::pin(std::future::ready(Ok(value)))
}

impl OwnerStore for MemoryOwnerStore {
    fn claim<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        owner: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        let mut records = lock(&self.records);
        let key = (kind.to_owned(), id.to_owned());
        let claimed = match records.get(&key) {
            Some(record) => Claimed {
                owner: record.owner.clone(),
                created: false,
            },
            None => {
                let record = OwnerRecord::new(key.0.clone(), key.1.clone(), owner.to_owned(), at);
                records.insert(key, record);
                Claimed {
                    owner: owner.to_owned(),
                    created: true,
                }
            }
        };
        ready(claimed)
    }

    fn get<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<OwnerRecord>, StoreError>> {
        let found = lock(&self.records)
            .get(&(kind.to_owned(), id.to_owned()))
            .cloned();
        ready(found)
    }

    fn transfer<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        from: Option<&'a str>,
        to: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut records = lock(&self.records);
        let changed = match records.get_mut(&(kind.to_owned(), id.to_owned())) {
            Some(record) if from.is_none_or(|f| f == record.owner) => {
                to.clone_into(&mut record.owner);
                record.updated_at = at;
                true
            }
            _ => false,
        };
        ready(changed)
    }

    fn release<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let removed = lock(&self.records)
            .remove(&(kind.to_owned(), id.to_owned()))
            .is_some();
        ready(removed)
    }

    fn list_owned<'a>(
        &'a self,
        kind: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Vec<OwnerRecord>, StoreError>> {
        let mut owned: Vec<OwnerRecord> = lock(&self.records)
            .values()
            .filter(|r| r.kind == kind && r.owner == owner)
            .cloned()
            .collect();
        owned.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        ready(owned)
    }
}

/// What a request wants to do with a resource.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessMode {
    /// Read it: its owner, or a caller with a reader role. A free resource passes (the handler
    /// answers 404).
    Read,
    /// Create or replace it: a free resource becomes the caller's (set once); an owned one
    /// admits its owner, or a caller with a writer role.
    Claim,
    /// Change or delete it, never taking a free one: its owner, or a caller with a writer role.
    /// A free resource passes (the handler answers 404).
    Write,
}

impl AccessMode {
    /// The mode for an HTTP method: `GET`, `HEAD` and `OPTIONS` read; `PUT` and `POST` claim
    /// (create or replace); every other method (`PATCH`, `DELETE`, ...) writes.
    #[must_use]
    pub fn for_method(method: &str) -> AccessMode {
        match method {
            "GET" | "HEAD" | "OPTIONS" => AccessMode::Read,
            "PUT" | "POST" => AccessMode::Claim,
            _ => AccessMode::Write,
        }
    }
}

/// Why an [`Access`] was granted.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The caller owns the resource.
    Owner,
    /// The caller has just claimed the free resource: it is now the owner.
    Created,
    /// The caller holds this role (a reader or writer role), not the resource.
    Role(String),
    /// Nobody owns the resource (reading or writing a resource that does not exist).
    Unowned,
}

/// An admitted access to a resource: the adapters' owner guards hand it to the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The kind of resource.
    pub kind: String,
    /// The resource id.
    pub id: String,
    /// The owner, if the resource has one (the caller after a claim).
    pub owner: Option<String>,
    /// Why the access was granted.
    pub grant: Grant,
}

impl Access {
    /// Whether this request made the caller the owner (answer 201 Created).
    #[must_use]
    pub fn created(&self) -> bool {
        self.grant == Grant::Created
    }

    /// Whether the resource has no owner (answer 404 for a read or a write).
    #[must_use]
    pub fn is_unowned(&self) -> bool {
        self.grant == Grant::Unowned
    }
}

/// The ownership rule over one kind of resource. Cheap to clone.
#[derive(Clone)]
pub struct Ownership {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn OwnerStore>,
    kind: String,
    readers: Vec<String>,
    writers: Vec<String>,
    clock: Option<Clock>,
}

impl fmt::Debug for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ownership")
            .field("kind", &self.inner.kind)
            .field("readers", &self.inner.readers)
            .field("writers", &self.inner.writers)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Ownership`]; see [`Ownership::builder`].
#[must_use]
pub struct OwnershipBuilder {
    store: Arc<dyn OwnerStore>,
    kind: String,
    readers: Vec<String>,
    writers: Vec<String>,
    clock: Option<Clock>,
}

impl fmt::Debug for OwnershipBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnershipBuilder")
            .field("kind", &self.kind)
            .field("readers", &self.readers)
            .field("writers", &self.writers)
            .finish_non_exhaustive()
    }
}

impl OwnershipBuilder {
    /// Roles that may read any resource of this kind (default `["admin"]`; empty: owners only).
    pub fn readers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.readers = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Roles that may also change or replace any owned resource of this kind (default none:
    /// only the owner writes). They never become the owner by writing.
    pub fn writers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.writers = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The clock (default the system's), for tests.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The rule.
    ///
    /// # Errors
    /// When the kind is empty or longer than [`MAX_RESOURCE_ID_BYTES`], or a role is empty.
    pub fn build(self) -> Result<Ownership, ConfigError> {
        if self.kind.is_empty() || self.kind.len() > MAX_RESOURCE_ID_BYTES {
            return Err(ConfigError::new(
                "Ownership::kind",
                "the resource kind must be 1 to 512 bytes long",
            ));
        }
        if self
            .readers
            .iter()
            .chain(&self.writers)
            .any(String::is_empty)
        {
            return Err(ConfigError::new(
                "Ownership::readers",
                "a reader or writer role is empty",
            ));
        }
        Ok(Ownership {
            inner: Arc::new(Inner {
                store: self.store,
                kind: self.kind,
                readers: self.readers,
                writers: self.writers,
                clock: self.clock,
            }),
        })
    }
}

fn store_error(e: StoreError) -> AuthError {
    AuthError::new(
        ErrorCode::StoreUnavailable,
        "the owner store is unavailable",
    )
    .with_source(e)
}

fn denied(message: &'static str) -> AuthError {
    AuthError::new(ErrorCode::PermissionDenied, message)
}

impl Ownership {
    /// The rule for resources of `kind` (`"notes"`), with owners in `store`.
    pub fn builder(store: Arc<dyn OwnerStore>, kind: impl Into<String>) -> OwnershipBuilder {
        OwnershipBuilder {
            store,
            kind: kind.into(),
            readers: vec!["admin".to_owned()],
            writers: Vec::new(),
            clock: None,
        }
    }

    /// The kind of resource.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.inner.kind
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

    fn check_id(id: &str) -> Result<(), AuthError> {
        if id.is_empty() || id.len() > MAX_RESOURCE_ID_BYTES {
            return Err(AuthError::new(
                ErrorCode::InvalidRequest,
                "the resource id must be 1 to 512 bytes long",
            ));
        }
        Ok(())
    }

    /// Decides whether `caller` may access resource `id` in `mode`. The caller is its `sub`
    /// (for an API key, the key's owner; for a token from a secondary trusted issuer, the
    /// issuer and the `sub`: [`Claims::principal`]); its roles are the normalised roles (for a key, its
    /// scopes), as for [`Guard::any_role`](crate::Guard::any_role).
    ///
    /// # Errors
    /// 403 `permission_denied` when the resource belongs to someone else and the caller holds
    /// no role that allows the mode, or when the credential names no subject (it cannot own
    /// anything); 400 `invalid_request` for an empty id or one over
    /// [`MAX_RESOURCE_ID_BYTES`]; 503 `store_unavailable` when the store fails.
    pub async fn authorize<C>(
        &self,
        caller: &Claims<C>,
        id: &str,
        mode: AccessMode,
    ) -> Result<Access, AuthError> {
        Self::check_id(id)?;
        let Some(principal) = caller.principal() else {
            return Err(denied(
                "this credential names no subject, so it cannot own or use owned resources",
            ));
        };
        let subject: &str = &principal;
        let kind = self.inner.kind.as_str();
        let access = |owner: Option<String>, grant| Access {
            kind: kind.to_owned(),
            id: id.to_owned(),
            owner,
            grant,
        };
        let owner = match mode {
            AccessMode::Claim => {
                let claimed = self
                    .inner
                    .store
                    .claim(kind, id, subject, self.now())
                    .await
                    .map_err(store_error)?;
                if claimed.created {
                    return Ok(access(Some(claimed.owner), Grant::Created));
                }
                claimed.owner
            }
            AccessMode::Read | AccessMode::Write => {
                match self.inner.store.get(kind, id).await.map_err(store_error)? {
                    Some(record) => record.owner,
                    None => return Ok(access(None, Grant::Unowned)),
                }
            }
        };
        if owner == subject {
            return Ok(access(Some(owner), Grant::Owner));
        }
        let roles = caller.roles();
        let allowed = match mode {
            AccessMode::Read => &self.inner.readers,
            AccessMode::Claim | AccessMode::Write => &self.inner.writers,
        };
        if let Some(role) = allowed.iter().find(|r| roles.contains(&r.as_str())) {
            return Ok(access(Some(owner), Grant::Role(role.clone())));
        }
        Err(match mode {
            AccessMode::Read => {
                denied("this resource belongs to another user: only its owner may read it")
            }
            AccessMode::Claim | AccessMode::Write => {
                denied("this resource belongs to another user: only its owner may change it")
            }
        })
    }

    /// The owner of resource `id`, if it has one.
    ///
    /// # Errors
    /// `store_unavailable` when the store fails; `invalid_request` for a bad id.
    pub async fn owner(&self, id: &str) -> Result<Option<OwnerRecord>, AuthError> {
        Self::check_id(id)?;
        self.inner
            .store
            .get(&self.inner.kind, id)
            .await
            .map_err(store_error)
    }

    /// Hands resource `id` from `from` to `to`, only while `from` owns it; `false` when it did
    /// not (another owner, or none).
    ///
    /// # Errors
    /// `store_unavailable` when the store fails; `invalid_request` for a bad id or an empty
    /// owner.
    pub async fn transfer(&self, id: &str, from: &str, to: &str) -> Result<bool, AuthError> {
        self.change_owner(id, Some(from), to).await
    }

    /// Makes `to` the owner of resource `id` whoever owns it now (an administrator's repair);
    /// `false` when the resource has no owner (claim it instead).
    ///
    /// # Errors
    /// As [`transfer`](Self::transfer).
    pub async fn overwrite(&self, id: &str, to: &str) -> Result<bool, AuthError> {
        self.change_owner(id, None, to).await
    }

    async fn change_owner(
        &self,
        id: &str,
        from: Option<&str>,
        to: &str,
    ) -> Result<bool, AuthError> {
        Self::check_id(id)?;
        if to.is_empty() {
            return Err(AuthError::new(
                ErrorCode::InvalidRequest,
                "the new owner is empty",
            ));
        }
        self.inner
            .store
            .transfer(&self.inner.kind, id, from, to, self.now())
            .await
            .map_err(store_error)
    }

    /// Forgets resource `id`'s owner (after deleting the resource); `false` when it had none.
    ///
    /// # Errors
    /// `store_unavailable` when the store fails; `invalid_request` for a bad id.
    pub async fn release(&self, id: &str) -> Result<bool, AuthError> {
        Self::check_id(id)?;
        self.inner
            .store
            .release(&self.inner.kind, id)
            .await
            .map_err(store_error)
    }

    /// The resources `owner` owns, oldest first.
    ///
    /// # Errors
    /// `store_unavailable` when the store fails.
    pub async fn owned_by(&self, owner: &str) -> Result<Vec<OwnerRecord>, AuthError> {
        self.inner
            .store
            .list_owned(&self.inner.kind, owner)
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoExtraClaims;
    use crate::api_key::{ApiKeyRecord, KeyHash};

    /// The claims of a key owned by `sub` with `roles` (a key's scopes are its roles).
    fn caller(sub: &str, roles: &[&str]) -> Claims<NoExtraClaims> {
        let mut record = ApiKeyRecord::new(
            format!("sk_test_{sub}"),
            KeyHash::of("x"),
            "test".to_owned(),
            sub.to_owned(),
            0,
        );
        record.scopes = roles.iter().map(|r| (*r).to_owned()).collect();
        crate::claims::for_api_key(&record, "sk_test_").expect("claims")
    }

    fn notes() -> Ownership {
        Ownership::builder(Arc::new(MemoryOwnerStore::new()), "notes")
            .build()
            .expect("builds")
    }

    #[tokio::test]
    async fn the_first_writer_owns_and_only_the_owner_writes_again() {
        let notes = notes();
        let (alice, bob) = (caller("alice", &[]), caller("bob", &[]));
        let first = notes
            .authorize(&alice, "n1", AccessMode::Claim)
            .await
            .expect("claims");
        assert!(first.created());
        assert_eq!(first.owner.as_deref(), Some("alice"));
        let again = notes
            .authorize(&alice, "n1", AccessMode::Claim)
            .await
            .expect("owner");
        assert_eq!(again.grant, Grant::Owner);
        for mode in [AccessMode::Claim, AccessMode::Write, AccessMode::Read] {
            let refused = notes
                .authorize(&bob, "n1", mode)
                .await
                .expect_err("not bob's");
            assert!(refused.is(ErrorCode::PermissionDenied), "{mode:?}");
            assert_eq!(refused.status(), 403);
            assert!(
                refused.message().contains("another user"),
                "{}",
                refused.message()
            );
        }
        // Another kind is another namespace.
        let other = Ownership::builder(Arc::clone(&notes.inner.store), "files")
            .build()
            .expect("builds");
        assert!(
            other
                .authorize(&bob, "n1", AccessMode::Claim)
                .await
                .expect("free")
                .created()
        );
    }

    #[tokio::test]
    async fn admins_read_but_do_not_write_unless_configured() {
        let notes = notes();
        let (alice, admin) = (caller("alice", &[]), caller("root", &["admin"]));
        notes
            .authorize(&alice, "n1", AccessMode::Claim)
            .await
            .expect("claims");
        let read = notes
            .authorize(&admin, "n1", AccessMode::Read)
            .await
            .expect("reads");
        assert_eq!(read.grant, Grant::Role("admin".to_owned()));
        assert_eq!(read.owner.as_deref(), Some("alice"));
        for mode in [AccessMode::Claim, AccessMode::Write] {
            let refused = notes
                .authorize(&admin, "n1", mode)
                .await
                .expect_err("admin writes");
            assert!(refused.is(ErrorCode::PermissionDenied));
        }
        let editors = Ownership::builder(Arc::clone(&notes.inner.store), "notes")
            .readers(Vec::<String>::new())
            .writers(["editor"])
            .build()
            .expect("builds");
        let editor = caller("ed", &["editor"]);
        let wrote = editors
            .authorize(&editor, "n1", AccessMode::Write)
            .await
            .expect("writes");
        assert_eq!(
            wrote.owner.as_deref(),
            Some("alice"),
            "a writer never becomes the owner"
        );
        assert!(
            editors
                .authorize(&admin, "n1", AccessMode::Read)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn free_resources_pass_reads_and_writes_without_being_taken() {
        let notes = notes();
        let bob = caller("bob", &[]);
        for mode in [AccessMode::Read, AccessMode::Write] {
            let access = notes
                .authorize(&bob, "missing", mode)
                .await
                .expect("passes");
            assert!(access.is_unowned());
            assert_eq!(access.owner, None);
        }
        assert_eq!(notes.owner("missing").await.expect("reads"), None);
    }

    #[tokio::test]
    async fn bad_ids_and_subjectless_callers_are_refused() {
        let notes = notes();
        let alice = caller("alice", &[]);
        let long = "x".repeat(MAX_RESOURCE_ID_BYTES + 1);
        for id in ["", long.as_str()] {
            let e = notes
                .authorize(&alice, id, AccessMode::Claim)
                .await
                .expect_err("bad id");
            assert_eq!(e.status(), 400);
        }
        let nobody = caller("", &["admin"]);
        let e = notes
            .authorize(&nobody, "n1", AccessMode::Read)
            .await
            .expect_err("no sub");
        assert!(e.is(ErrorCode::PermissionDenied));
    }

    #[tokio::test]
    async fn transfer_is_compare_and_set_and_overwrite_is_explicit() {
        let notes = notes();
        let (alice, bob) = (caller("alice", &[]), caller("bob", &[]));
        notes
            .authorize(&alice, "n1", AccessMode::Claim)
            .await
            .expect("claims");
        assert!(
            !notes.transfer("n1", "bob", "carol").await.expect("runs"),
            "bob does not own it"
        );
        assert!(notes.transfer("n1", "alice", "bob").await.expect("runs"));
        assert_eq!(
            notes
                .authorize(&bob, "n1", AccessMode::Write)
                .await
                .expect("bob's")
                .grant,
            Grant::Owner
        );
        assert!(
            notes
                .authorize(&alice, "n1", AccessMode::Write)
                .await
                .is_err()
        );
        assert!(notes.overwrite("n1", "alice").await.expect("runs"));
        assert!(
            !notes.overwrite("free", "alice").await.expect("runs"),
            "nothing to overwrite"
        );
        let owned = notes.owned_by("alice").await.expect("lists");
        assert_eq!(owned.len(), 1);
        assert!(notes.release("n1").await.expect("runs"));
        assert!(!notes.release("n1").await.expect("runs"));
        assert!(
            notes
                .authorize(&bob, "n1", AccessMode::Claim)
                .await
                .expect("free again")
                .created()
        );
    }

    #[tokio::test]
    async fn concurrent_claims_have_one_winner() {
        let notes = notes();
        let callers: Vec<_> = (0..16).map(|i| caller(&format!("user{i}"), &[])).collect();
        let results = futures_util::future::join_all(
            callers
                .iter()
                .map(|c| notes.authorize(c, "contested", AccessMode::Claim)),
        )
        .await;
        assert_eq!(
            results
                .iter()
                .filter(|r| r.as_ref().is_ok_and(Access::created))
                .count(),
            1
        );
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 15);
    }

    #[test]
    fn methods_map_to_modes() {
        assert_eq!(AccessMode::for_method("GET"), AccessMode::Read);
        assert_eq!(AccessMode::for_method("HEAD"), AccessMode::Read);
        assert_eq!(AccessMode::for_method("PUT"), AccessMode::Claim);
        assert_eq!(AccessMode::for_method("POST"), AccessMode::Claim);
        assert_eq!(AccessMode::for_method("DELETE"), AccessMode::Write);
        assert_eq!(AccessMode::for_method("PATCH"), AccessMode::Write);
    }
}
