//! Storage: the provider's durable state behind one trait.
//!
//! [`ProviderStore`] holds clients, authorizations (one per approved sign-in: the family of
//! its code, refresh tokens and access tokens), codes, refresh tokens, access-token records,
//! consents and single-use ids. [`MemoryStore`] keeps them in the process (tests, development,
//! one replica that may forget everything at restart); `auth-store` keeps them in SQLite or
//! PostgreSQL.
//!
//! Codes, refresh tokens and opaque access tokens reach the store only as hashes
//! (`hash` fields: base64url SHA-256 of the value), and client secrets only as
//! [`SecretHash`](crate::SecretHash)es. Every operation the engine relies on for a
//! single-use guarantee ([`take_code`](ProviderStore::take_code),
//! [`rotate_refresh_token`](ProviderStore::rotate_refresh_token),
//! [`use_once`](ProviderStore::use_once)) must be atomic in the implementation.

mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};

pub use self::memory::MemoryStore;
use crate::client::Client;

/// A boxed, `Send` future: what the store's methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a store answers.
pub type StoreResult<T> = Result<T, StoreError>;

/// The store could not answer (unreachable, timed out, corrupt row). The engine answers
/// `503` (`temporarily_unavailable`, with `Retry-After`) and never treats it as "not found".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// A failure described by `message` (no secrets in it: it is logged).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "provider store unavailable: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

/// What a user approved at one sign-in for one client: the family of every code, refresh
/// token and access token issued from it. Revoking it revokes them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Random; also the `sid` claim of ID tokens.
    pub id: String,
    /// The user.
    pub sub: String,
    /// The client.
    pub client_id: String,
    /// Granted scope values, in request order.
    pub scope: Vec<String>,
    /// Granted resources (RFC 8707); empty: the provider's default audience.
    pub resources: Vec<String>,
    /// When the user authenticated (Unix seconds).
    pub auth_time: i64,
    /// The authentication context class the sign-in satisfied (`acr`, from
    /// [`SignedIn::acr`](crate::SignedIn::acr)); carried by every ID and access token of the
    /// family.
    pub acr: Option<String>,
    /// The authentication methods used (`amr`, from [`SignedIn::amr`](crate::SignedIn::amr)).
    pub amr: Vec<String>,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// Set by a revocation, a code replay or a refresh-token reuse.
    pub revoked: bool,
}

/// An authorization code, stored by hash until it is used and for a while after (so that a
/// replay is recognised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// base64url SHA-256 of the code.
    pub hash: String,
    /// Its [`Authorization`].
    pub authorization_id: String,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The PKCE `S256` challenge.
    pub code_challenge: String,
    /// The OpenID Connect `nonce`.
    pub nonce: Option<String>,
    /// The `dpop_jkt` of the authorization request (RFC 9449 §10): the token request's DPoP
    /// proof must be made with the key of this thumbprint.
    pub dpop_jkt: Option<String>,
    /// When it stops being redeemable (Unix seconds).
    pub expires_at: i64,
}

/// What [`ProviderStore::take_code`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeUse {
    /// First use: the code is now used up.
    First(CodeRecord),
    /// Used before: the caller revokes the authorization.
    Replayed {
        /// The code's authorization.
        authorization_id: String,
    },
    /// No such code.
    Unknown,
}

/// A refresh token, stored by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// base64url SHA-256 of the token.
    pub hash: String,
    /// Its [`Authorization`].
    pub authorization_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The thumbprint of the DPoP key it is bound to (RFC 9449 §5: a public client's refresh
    /// token issued in a DPoP token request); using it needs a proof made with that key.
    pub dpop_jkt: Option<String>,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
    /// Used once already: presenting it again revokes the family.
    pub rotated: bool,
}

/// An access token the provider issued, by `jti`: for revocation, introspection and userinfo.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRecord {
    /// The token's `jti`.
    pub jti: String,
    /// Its [`Authorization`] (none for `client_credentials`).
    pub authorization_id: Option<String>,
    /// The client it was issued to.
    pub client_id: String,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
    /// Revoked before it expired.
    pub revoked: bool,
    /// For an opaque token: base64url SHA-256 of the token and the claims introspection
    /// answers.
    pub opaque: Option<(String, Map<String, Value>)>,
}

/// What a user let a client do, remembered so that the consent page is not shown again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The user.
    pub sub: String,
    /// The client.
    pub client_id: String,
    /// Scopes granted.
    pub scope: Vec<String>,
    /// Resources granted (RFC 8707).
    pub resources: Vec<String>,
    /// When (Unix seconds).
    pub granted_at: i64,
}

/// The provider's durable state. Implement it for your database, or use [`MemoryStore`] or
/// `auth-store`'s `SqlStore`.
///
/// Every method has a timeout in the implementation (a hung database must not hang
/// requests); errors are [`StoreError`]s, never "not found".
pub trait ProviderStore: fmt::Debug + Send + Sync + 'static {
    /// The client `client_id`.
    fn client<'a>(&'a self, client_id: &'a str) -> BoxFuture<'a, StoreResult<Option<Client>>>;

    /// Registers or replaces a client (its secret, if any, is already hashed).
    fn put_client<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, StoreResult<()>>;

    /// Deletes a client; `false` if there was none.
    fn delete_client<'a>(&'a self, client_id: &'a str) -> BoxFuture<'a, StoreResult<bool>>;

    /// Records an approved sign-in and its code, together.
    fn insert_authorization<'a>(
        &'a self,
        authorization: &'a Authorization,
        code: &'a CodeRecord,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// The authorization `id`.
    fn authorization<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Authorization>>>;

    /// The authorizations of `sub` that are not revoked, oldest first.
    fn authorizations_of<'a>(
        &'a self,
        sub: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<Authorization>>>;

    /// Revokes the authorization `id`: marks it revoked, ends its refresh tokens and marks its
    /// access tokens revoked. Unknown ids are ignored.
    fn revoke_authorization<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<()>>;

    /// Uses up the code with this hash, atomically: the first caller gets
    /// [`CodeUse::First`], every later one [`CodeUse::Replayed`].
    fn take_code<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, StoreResult<CodeUse>>;

    /// Stores a new refresh token.
    fn insert_refresh_token<'a>(
        &'a self,
        record: &'a RefreshRecord,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// The refresh token with this hash.
    fn refresh_token<'a>(
        &'a self,
        hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<RefreshRecord>>>;

    /// Marks the refresh token rotated, atomically: `true` for the one caller that found it
    /// active.
    fn rotate_refresh_token<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, StoreResult<bool>>;

    /// Refresh tokens that are active at `now` (not rotated, not expired, their authorization
    /// not revoked), of `sub` or of everyone.
    fn count_active_refresh_tokens<'a>(
        &'a self,
        sub: Option<&'a str>,
        now: i64,
    ) -> BoxFuture<'a, StoreResult<usize>>;

    /// Records an issued access token.
    fn insert_access_token<'a>(
        &'a self,
        record: &'a AccessRecord,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// The access token with this `jti`.
    fn access_token<'a>(&'a self, jti: &'a str)
    -> BoxFuture<'a, StoreResult<Option<AccessRecord>>>;

    /// The opaque access token with this hash.
    fn opaque_access_token<'a>(
        &'a self,
        hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<AccessRecord>>>;

    /// Marks the access token `jti` revoked (recording it if unknown, until `expires_at`).
    fn revoke_access_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// The consent of `sub` for `client_id`.
    fn consent<'a>(
        &'a self,
        sub: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Consent>>>;

    /// Records or replaces a consent.
    fn put_consent<'a>(&'a self, consent: &'a Consent) -> BoxFuture<'a, StoreResult<()>>;

    /// Every consent of `sub`.
    fn consents<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, StoreResult<Vec<Consent>>>;

    /// Deletes the consent of `sub` for `client_id`; `false` if there was none.
    fn delete_consent<'a>(
        &'a self,
        sub: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Records `key` until `until` (Unix seconds), atomically: `true` the first time, `false`
    /// while it is remembered (client assertion `jti`s).
    fn use_once<'a>(&'a self, key: &'a str, until: i64) -> BoxFuture<'a, StoreResult<bool>>;

    /// Deletes what no longer matters at `now`: expired codes (kept a while for replay
    /// detection), expired refresh tokens and access-token records, forgotten single-use ids,
    /// authorizations with nothing left. Called periodically by the engine.
    fn purge_expired(&self, now: i64) -> BoxFuture<'_, StoreResult<()>>;
}
