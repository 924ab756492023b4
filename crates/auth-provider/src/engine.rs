//! The provider handle, its builder, and request routing.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use auth_core::dpop::{DpopConfig, DpopVerifier};
use aws_lc_rs::hmac;
use serde_json::{Value, json};

use crate::client::Client;
use crate::endpoints;
use crate::hooks::Users;
use crate::http::{ProviderRequest, ProviderResponse};
use crate::jwt::unix_now;
use crate::keys::{KeyError, KeyStore, SigningKey};
use crate::secret::{self, VerifiedSecrets};
use crate::store::{Consent, MemoryStore, ProviderStore, StoreError};

/// The algorithms accepted for `private_key_jwt` client assertions.
pub(crate) const ASSERTION_ALGS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The scopes a provider supports unless configured otherwise.
const DEFAULT_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// How often expired rows are purged (at most; a request triggers it).
const PURGE_EVERY_SECS: i64 = 300;

/// Why a provider cannot be built or configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderError {
    /// A setting is invalid; the message names it.
    Config(String),
    /// A key cannot be used.
    Key(KeyError),
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(message) => write!(f, "invalid provider configuration: {message}"),
            Self::Key(error) => write!(f, "invalid signing key: {error}"),
            Self::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for ProviderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(_) => None,
            Self::Key(error) => Some(error),
            Self::Store(error) => Some(error),
        }
    }
}

impl From<StoreError> for ProviderError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<KeyError> for ProviderError {
    fn from(error: KeyError) -> Self {
        Self::Key(error)
    }
}

/// Dynamic client registration (RFC 7591) settings.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Registration {
    /// When set, a registration request must carry it as a Bearer token.
    pub(crate) initial_access_token: Option<String>,
}

/// Token lifetimes.
#[derive(Debug)]
pub(crate) struct Lifetimes {
    /// Whole seconds; changeable at run time.
    pub(crate) access_secs: AtomicU64,
    pub(crate) refresh: Duration,
    pub(crate) id: Duration,
    pub(crate) code: Duration,
}

/// Everything a request needs.
pub(crate) struct Engine {
    /// The issuer identifier, without a trailing slash.
    pub(crate) issuer: String,
    /// The issuer's path: `""` or `/segment/...`, without a trailing slash.
    pub(crate) path: String,
    pub(crate) audience: String,
    pub(crate) keys: RwLock<KeyStore>,
    pub(crate) store: Arc<dyn ProviderStore>,
    pub(crate) users: Arc<dyn Users>,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) opaque_access_tokens: AtomicBool,
    /// `None`: any syntactically valid scope.
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) registration: Option<Registration>,
    pub(crate) secret_iterations: u32,
    pub(crate) verified: VerifiedSecrets,
    pub(crate) refresh_issued: AtomicU64,
    /// MACs the consent form, so that only the page the provider served can approve.
    pub(crate) consent_key: hmac::Key,
    pub(crate) last_purge: AtomicI64,
    /// Checks DPoP proofs (RFC 9449), with its replay cache.
    pub(crate) dpop: DpopVerifier,
    /// `{issuer}/token`: what a token request's proof names in `htu`.
    pub(crate) token_url: url::Url,
    /// `{issuer}/userinfo`: what a userinfo request's proof names in `htu`.
    pub(crate) userinfo_url: url::Url,
    /// Published as `acr_values_supported`.
    pub(crate) acr_values: Option<Vec<String>>,
}

impl Engine {
    pub(crate) fn keys(&self) -> RwLockReadGuard<'_, KeyStore> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn keys_mut(&self) -> RwLockWriteGuard<'_, KeyStore> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lifetime of access tokens issued now.
    pub(crate) fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.lifetimes.access_secs.load(Ordering::Relaxed))
    }

    /// `{issuer}/{name}`.
    pub(crate) fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.issuer)
    }

    /// The scopes the provider supports, `None` for any.
    pub(crate) fn supported_scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }

    /// The client `id`; an id no client can have (empty, over 255 bytes, whitespace or control
    /// characters) is unknown without asking the store.
    pub(crate) async fn find_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        if id.len() > 255 || !crate::params::is_plain(id) {
            return Ok(None);
        }
        self.store.client(id).await
    }

    /// Purges expired rows now and then.
    pub(crate) async fn maybe_purge(&self) {
        let now = unix_now();
        let last = self.last_purge.load(Ordering::Relaxed);
        if now - last < PURGE_EVERY_SECS
            || self
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Err(error) = self.store.purge_expired(now).await {
            tracing::warn!(%error, "auth-provider: purging expired rows failed");
        }
    }
}

/// An OAuth 2.1 / OpenID Connect provider. Cheap to clone: every clone is the same provider.
///
/// Build one with [`Provider::builder`], hand it requests with [`handle`](Self::handle) (or
/// mount [`router`](Self::router) in axum), and change its keys and clients at run time.
#[derive(Clone)]
pub struct Provider {
    pub(crate) engine: Arc<Engine>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.engine.issuer)
            .field("keys", &*self.engine.keys())
            .finish_non_exhaustive()
    }
}

/// One application a user authorized: the client and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizedApp {
    /// The client.
    pub client_id: String,
    /// Scopes granted (the consent's, or the union of the sign-ins').
    pub scope: Vec<String>,
    /// Resources granted.
    pub resources: Vec<String>,
    /// The consent record, if the user went through the consent page.
    pub consent: Option<Consent>,
    /// Sign-ins still active (not revoked).
    pub active_authorizations: usize,
}

impl Provider {
    /// A builder for a provider whose issuer identifier is `issuer` (an `https` URL, or
    /// `http` on a loopback address; no query, no fragment).
    pub fn builder(issuer: impl Into<String>) -> ProviderBuilder {
        ProviderBuilder::new(issuer.into())
    }

    /// Answers one request: the endpoints below the issuer's path, the discovery documents,
    /// and `404` for anything else.
    ///
    /// | path | |
    /// |---|---|
    /// | `{path}/.well-known/openid-configuration`, `/.well-known/oauth-authorization-server{path}` | discovery (OpenID Connect, RFC 8414) |
    /// | `{path}/jwks` | the public keys |
    /// | `{path}/authorize` | authorization endpoint (GET and POST) |
    /// | `{path}/token` | token endpoint |
    /// | `{path}/revoke`, `{path}/introspect` | RFC 7009, RFC 7662 |
    /// | `{path}/userinfo` | OpenID Connect userinfo |
    /// | `{path}/logout` | RP-initiated logout |
    /// | `{path}/register` | RFC 7591 registration, when enabled |
    pub async fn handle(&self, request: ProviderRequest) -> ProviderResponse {
        endpoints::dispatch(&self.engine, &request).await
    }

    /// The issuer identifier.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.engine.issuer
    }

    /// The path the endpoints live under (`""` or `/segment/...`).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.engine.path
    }

    /// The default `aud` of access tokens (when the request names no resource).
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.engine.audience
    }

    /// The discovery document (the same for OpenID Connect and RFC 8414).
    #[must_use]
    pub fn discovery_document(&self) -> Value {
        endpoints::discovery::document(&self.engine)
    }

    /// The JWKS: the published keys, in order.
    #[must_use]
    pub fn jwks(&self) -> Value {
        endpoints::discovery::jwks(&self.engine)
    }

    // ----- keys -----

    /// Publishes a key (it does not sign until made [active](Self::set_active_key), unless
    /// it is the only one).
    ///
    /// # Errors
    ///
    /// If its kid is taken.
    pub fn add_key(&self, key: SigningKey) -> Result<(), KeyError> {
        self.engine.keys_mut().insert(key)
    }

    /// Makes `kid` the key new tokens are signed with; `false` if there is no such key.
    pub fn set_active_key(&self, kid: &str) -> bool {
        self.engine.keys_mut().set_default(kid)
    }

    /// Retires `kid`: still published (tokens it signed keep verifying), no longer signing.
    /// If it was active, the most recently added published key that is not retired takes
    /// over. `false` if there is no such key.
    pub fn retire_key(&self, kid: &str) -> bool {
        self.engine.keys_mut().retire(kid)
    }

    /// Unpublishes `kid` (verifiers stop accepting its tokens once they refetch the JWKS).
    /// `false` if there is no such key.
    pub fn remove_key(&self, kid: &str) -> bool {
        self.engine.keys_mut().remove(kid)
    }

    /// The key `kid` (published, retired or removed).
    #[must_use]
    pub fn key(&self, kid: &str) -> Option<SigningKey> {
        self.engine.keys().get(kid).map(|key| (*key).clone())
    }

    /// The key new tokens are signed with.
    #[must_use]
    pub fn active_key(&self) -> SigningKey {
        let key = self
            .engine
            .keys()
            .default_key()
            .expect("a provider always has a key");
        (*key).clone()
    }

    /// The kids in the JWKS, in order.
    #[must_use]
    pub fn published_kids(&self) -> Vec<String> {
        self.engine
            .keys()
            .published()
            .map(|key| key.kid().to_owned())
            .collect()
    }

    /// A kid `{prefix}-{n}` not used yet (`rsa-2`, `ec-1`, ...).
    #[must_use]
    pub fn next_kid(&self, spec: crate::KeySpec) -> String {
        self.engine.keys().next_kid(spec)
    }

    // ----- clients -----

    /// Registers (or replaces) a client; a secret given in clear is hashed first.
    ///
    /// # Errors
    ///
    /// If the store fails.
    pub async fn register_client(&self, mut client: Client) -> Result<(), StoreError> {
        client.hash_secret(self.engine.secret_iterations);
        self.engine.store.put_client(&client).await
    }

    /// The client `client_id`.
    ///
    /// # Errors
    ///
    /// If the store fails.
    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        self.engine.store.client(client_id).await
    }

    /// Deletes a client (its grants stop working: their client is unknown). `false` if there
    /// was none.
    ///
    /// # Errors
    ///
    /// If the store fails.
    pub async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        self.engine.store.delete_client(client_id).await
    }

    // ----- users and their grants -----

    /// The applications `sub` authorized: each client with a consent or an active sign-in.
    ///
    /// # Errors
    ///
    /// If the store fails.
    pub async fn authorized_apps(&self, sub: &str) -> Result<Vec<AuthorizedApp>, StoreError> {
        let consents = self.engine.store.consents(sub).await?;
        let authorizations = self.engine.store.authorizations_of(sub).await?;
        let mut apps: Vec<AuthorizedApp> = consents
            .into_iter()
            .map(|consent| AuthorizedApp {
                client_id: consent.client_id.clone(),
                scope: consent.scope.clone(),
                resources: consent.resources.clone(),
                consent: Some(consent),
                active_authorizations: 0,
            })
            .collect();
        for authorization in authorizations {
            let index = match apps
                .iter()
                .position(|a| a.client_id == authorization.client_id)
            {
                Some(index) => index,
                None => {
                    apps.push(AuthorizedApp {
                        client_id: authorization.client_id.clone(),
                        scope: Vec::new(),
                        resources: Vec::new(),
                        consent: None,
                        active_authorizations: 0,
                    });
                    apps.len() - 1
                }
            };
            let app = &mut apps[index];
            app.active_authorizations += 1;
            if app.consent.is_none() {
                for scope in &authorization.scope {
                    if !app.scope.contains(scope) {
                        app.scope.push(scope.clone());
                    }
                }
                for resource in &authorization.resources {
                    if !app.resources.contains(resource) {
                        app.resources.push(resource.clone());
                    }
                }
            }
        }
        apps.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(apps)
    }

    /// Revokes what `sub` granted `client_id`: the consent, and every sign-in with its
    /// refresh and access tokens. `false` if there was nothing to revoke.
    ///
    /// # Errors
    ///
    /// If the store fails.
    pub async fn revoke_app(&self, sub: &str, client_id: &str) -> Result<bool, StoreError> {
        let store = &self.engine.store;
        let mut revoked = store.delete_consent(sub, client_id).await?;
        for authorization in store.authorizations_of(sub).await? {
            if authorization.client_id == client_id {
                store.revoke_authorization(&authorization.id).await?;
                revoked = true;
            }
        }
        Ok(revoked)
    }

    /// Revokes every sign-in of `sub` (an administrator ending their sessions): their refresh
    /// tokens stop working, and so do their access tokens at userinfo and introspection.
    /// Returns how many refresh tokens were active.
    ///
    /// # Errors
    ///
    /// If the store fails.
    pub async fn revoke_user(&self, sub: &str) -> Result<usize, StoreError> {
        let store = &self.engine.store;
        let active = store
            .count_active_refresh_tokens(Some(sub), unix_now())
            .await?;
        for authorization in store.authorizations_of(sub).await? {
            store.revoke_authorization(&authorization.id).await?;
        }
        Ok(active)
    }

    /// Refresh tokens issued since start, rotated and revoked ones included.
    #[must_use]
    pub fn refresh_tokens_issued(&self) -> u64 {
        self.engine.refresh_issued.load(Ordering::Relaxed)
    }

    /// Refresh tokens the token endpoint would accept now.
    ///
    /// # Errors
    ///
    /// If the store fails.
    pub async fn active_refresh_tokens(&self) -> Result<usize, StoreError> {
        self.engine
            .store
            .count_active_refresh_tokens(None, unix_now())
            .await
    }

    // ----- run-time settings -----

    /// Changes the lifetime of the access tokens issued from now on (whole seconds).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.engine
            .lifetimes
            .access_secs
            .store(ttl.as_secs(), Ordering::Relaxed);
    }

    /// Issues opaque access tokens (answered by introspection) instead of JWTs, from now on.
    pub fn set_opaque_access_tokens(&self, on: bool) {
        self.engine
            .opaque_access_tokens
            .store(on, Ordering::Relaxed);
    }
}

/// Configures a [`Provider`].
///
/// ```
/// use auth_provider::{Client, KeySpec, Provider, SigningKey};
/// # use auth_provider::{AuthorizeContext, Authentication, BoxFuture, StoreError, UserClaims, Users};
/// # struct MyUsers;
/// # impl Users for MyUsers {
/// #     fn authenticate<'a>(&'a self, _: &'a AuthorizeContext<'a>) -> BoxFuture<'a, Authentication> {
/// #         Box::pin(async { Authentication::Denied("no".into()) })
/// #     }
/// #     fn claims<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<UserClaims>, StoreError>> {
/// #         Box::pin(async { Ok(None) })
/// #     }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let provider = Provider::builder("https://auth.example.com")
///     .key(SigningKey::generate(KeySpec::P256, "2026-12"))
///     .users(MyUsers)
///     .client(Client::confidential("web", "s3cret").redirect_uri("https://app.example.com/cb"))
///     .build()
///     .await?;
/// assert_eq!(provider.discovery_document()["token_endpoint"], "https://auth.example.com/token");
/// # Ok(()) }
/// ```
#[must_use]
pub struct ProviderBuilder {
    issuer: String,
    audience: Option<String>,
    keys: Vec<SigningKey>,
    active: Option<String>,
    store: Option<Arc<dyn ProviderStore>>,
    users: Option<Arc<dyn Users>>,
    clients: Vec<Client>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    id_ttl: Duration,
    scopes: Option<Vec<String>>,
    registration: Option<Registration>,
    secret_iterations: u32,
    insecure_http: bool,
    form_secret: Option<Vec<u8>>,
    dpop: DpopConfig,
    acr_values: Option<Vec<String>>,
}

impl fmt::Debug for ProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderBuilder")
            .field("issuer", &self.issuer)
            .field("keys", &self.keys)
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

impl ProviderBuilder {
    /// A builder from the environment (the twelve-factor path); the [`Users`] and the store
    /// are still given in code.
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `AUTH_PROVIDER_ISSUER` | the issuer identifier (required) |
    /// | `AUTH_PROVIDER_SIGNING_KEYS` | the keys, as [`key_set_to_json`](crate::key_set_to_json) writes them (the first one signs), or |
    /// | `AUTH_PROVIDER_SIGNING_KEYS_FILE` | a file holding them (one of the two is required) |
    /// | `AUTH_PROVIDER_ACTIVE_KID` | the kid that signs, if not the first |
    /// | `AUTH_PROVIDER_AUDIENCE` | the default `aud` (default: the issuer) |
    /// | `AUTH_PROVIDER_SCOPES` | supported scopes, space-separated |
    /// | `AUTH_PROVIDER_ACCESS_TOKEN_TTL_SECS`, `_REFRESH_TOKEN_TTL_SECS`, `_ID_TOKEN_TTL_SECS` | lifetimes |
    /// | `AUTH_PROVIDER_REGISTRATION` | `open`: dynamic registration for anyone; `token`: with `AUTH_PROVIDER_REGISTRATION_TOKEN` |
    /// | `AUTH_PROVIDER_FORM_SECRET` | the consent form's key, shared by replicas (32+ bytes) |
    /// | `AUTH_PROVIDER_ACR_VALUES` | `acr_values_supported`, space-separated |
    ///
    /// # Errors
    ///
    /// If a variable is missing or malformed; the error names it (never its value).
    pub fn from_env() -> Result<Self, ProviderError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let bad = |name: &str, why: &str| ProviderError::Config(format!("{name}: {why}"));
        let issuer = var("AUTH_PROVIDER_ISSUER")
            .ok_or_else(|| bad("AUTH_PROVIDER_ISSUER", "is required"))?;
        let mut builder = Self::new(issuer);
        let keys = match (
            var("AUTH_PROVIDER_SIGNING_KEYS"),
            var("AUTH_PROVIDER_SIGNING_KEYS_FILE"),
        ) {
            (Some(text), None) => text,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .map_err(|e| bad("AUTH_PROVIDER_SIGNING_KEYS_FILE", &e.to_string()))?,
            (Some(_), Some(_)) => {
                return Err(bad(
                    "AUTH_PROVIDER_SIGNING_KEYS",
                    "set it or AUTH_PROVIDER_SIGNING_KEYS_FILE, not both",
                ));
            }
            (None, None) => {
                return Err(bad(
                    "AUTH_PROVIDER_SIGNING_KEYS",
                    "is required (or AUTH_PROVIDER_SIGNING_KEYS_FILE)",
                ));
            }
        };
        for key in crate::keys::key_set_from_json(&keys)? {
            builder = builder.key(key);
        }
        if let Some(kid) = var("AUTH_PROVIDER_ACTIVE_KID") {
            builder = builder.active_key(kid);
        }
        if let Some(audience) = var("AUTH_PROVIDER_AUDIENCE") {
            builder = builder.audience(audience);
        }
        if let Some(scopes) = var("AUTH_PROVIDER_SCOPES") {
            builder = builder.scopes(
                scopes
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            );
        }
        let seconds = |name: &str| -> Result<Option<Duration>, ProviderError> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map(Duration::from_secs)
                        .map_err(|_| bad(name, "is not a whole number of seconds"))
                })
                .transpose()
        };
        if let Some(ttl) = seconds("AUTH_PROVIDER_ACCESS_TOKEN_TTL_SECS")? {
            builder = builder.access_token_ttl(ttl);
        }
        if let Some(ttl) = seconds("AUTH_PROVIDER_REFRESH_TOKEN_TTL_SECS")? {
            builder = builder.refresh_token_ttl(ttl);
        }
        if let Some(ttl) = seconds("AUTH_PROVIDER_ID_TOKEN_TTL_SECS")? {
            builder = builder.id_token_ttl(ttl);
        }
        match var("AUTH_PROVIDER_REGISTRATION").as_deref() {
            None | Some("off") => {}
            Some("open") => builder = builder.dynamic_registration(None),
            Some("token") => {
                let token = var("AUTH_PROVIDER_REGISTRATION_TOKEN").ok_or_else(|| {
                    bad(
                        "AUTH_PROVIDER_REGISTRATION_TOKEN",
                        "is required with AUTH_PROVIDER_REGISTRATION=token",
                    )
                })?;
                builder = builder.dynamic_registration(Some(token));
            }
            Some(_) => {
                return Err(bad(
                    "AUTH_PROVIDER_REGISTRATION",
                    "is not off, open or token",
                ));
            }
        }
        if let Some(secret) = var("AUTH_PROVIDER_FORM_SECRET") {
            if secret.len() < 32 {
                return Err(bad("AUTH_PROVIDER_FORM_SECRET", "needs at least 32 bytes"));
            }
            builder = builder.form_secret(secret);
        }
        if let Some(values) = var("AUTH_PROVIDER_ACR_VALUES") {
            builder = builder.acr_values_supported(
                values
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            );
        }
        Ok(builder)
    }

    fn new(issuer: String) -> Self {
        Self {
            issuer,
            audience: None,
            keys: Vec::new(),
            active: None,
            store: None,
            users: None,
            clients: Vec::new(),
            access_ttl: Duration::from_secs(300),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            id_ttl: Duration::from_secs(300),
            scopes: Some(DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()),
            registration: None,
            secret_iterations: secret::DEFAULT_ITERATIONS,
            insecure_http: false,
            form_secret: None,
            dpop: DpopConfig::new(),
            acr_values: None,
        }
    }

    /// The key that signs the consent form (at least 32 bytes). By default each process draws
    /// its own, which is right for one replica; replicas behind a load balancer share one, so
    /// that a form served by one is accepted by another (and a restart does not void open
    /// forms).
    ///
    /// # Panics
    ///
    /// If `secret` is shorter than 32 bytes.
    pub fn form_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        assert!(
            secret.len() >= 32,
            "the form secret needs at least 32 bytes"
        );
        self.form_secret = Some(secret.to_vec());
        self
    }

    /// Adds a signing key (the first one added signs, unless [`active_key`](Self::active_key)
    /// names another). At least one is required.
    pub fn key(mut self, key: SigningKey) -> Self {
        self.keys.push(key);
        self
    }

    /// The kid that signs new tokens; the others are published for verification only.
    pub fn active_key(mut self, kid: impl Into<String>) -> Self {
        self.active = Some(kid.into());
        self
    }

    /// Where the state lives (default: a [`MemoryStore`], forgotten at restart).
    pub fn store(mut self, store: Arc<dyn ProviderStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The host application's users (required).
    pub fn users(mut self, users: impl Users) -> Self {
        self.users = Some(Arc::new(users));
        self
    }

    /// Registers a client at build time (replacing a stored one with the same id).
    pub fn client(mut self, client: Client) -> Self {
        self.clients.push(client);
        self
    }

    /// The `aud` of access tokens whose request names no resource (default: the issuer).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Access token lifetime (default five minutes).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh token lifetime, counted from each rotation (default 30 days).
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// ID token lifetime (default five minutes).
    pub fn id_token_ttl(mut self, ttl: Duration) -> Self {
        self.id_ttl = ttl;
        self
    }

    /// The scopes clients may ask for (default `openid profile email offline_access`);
    /// published as `scopes_supported`.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts any syntactically valid scope (RFC 6749 §3.3) from clients without a scope
    /// list of their own: for development and tests.
    pub fn any_scope(mut self) -> Self {
        self.scopes = None;
        self
    }

    /// Turns dynamic client registration (RFC 7591) on at `{issuer}/register`. With
    /// `initial_access_token`, a registration request must carry it as a Bearer token
    /// (RFC 7591 §3); without, anyone may register (clients that register themselves are
    /// never first-party: their users see the consent page).
    pub fn dynamic_registration(mut self, initial_access_token: Option<String>) -> Self {
        self.registration = Some(Registration {
            initial_access_token,
        });
        self
    }

    /// PBKDF2 iterations for client secrets configured in clear (default 600,000, OWASP's
    /// figure for PBKDF2-HMAC-SHA256). Lower only for development and tests.
    pub fn secret_hash_iterations(mut self, iterations: u32) -> Self {
        self.secret_iterations = iterations.max(1);
        self
    }

    /// Allows an `http` issuer on a host that is not a loopback address (never in
    /// production: tokens and codes would cross the network in clear).
    pub fn insecure_http(mut self, on: bool) -> Self {
        self.insecure_http = on;
        self
    }

    /// How DPoP proofs (RFC 9449) are checked at the token and userinfo endpoints (default
    /// [`DpopConfig::new`]: `ES256`, `ES384`, `EdDSA`, `PS256` and `RS256` proofs, five
    /// minutes old at most, no server nonces). The accepted algorithms are published as
    /// `dpop_signing_alg_values_supported`. With [`DpopConfig::required`], every token
    /// request needs a proof; with [`DpopConfig::nonces`], every proof needs a nonce the
    /// provider handed out (`use_dpop_nonce` and a `DPoP-Nonce` header otherwise). Its public
    /// URL and forwarded-header settings do not apply: a proof names the provider's own
    /// endpoint (`{issuer}/token`, `{issuer}/userinfo`) in `htu`.
    ///
    /// A token request with a valid `DPoP` header gets an access token bound to the proof's
    /// key (`cnf.jkt`, `token_type` `DPoP`); one without gets a Bearer token as before.
    pub fn dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = config;
        self
    }

    /// The authentication context classes the host's [`Users`] can satisfy, published as
    /// `acr_values_supported` (default: not published). See
    /// [`AuthorizeContext::acr_values`](crate::AuthorizeContext::acr_values) and
    /// [`SignedIn::acr`](crate::SignedIn::acr).
    pub fn acr_values_supported<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.acr_values = Some(values.into_iter().map(Into::into).collect());
        self
    }

    /// Builds the provider and registers the configured clients.
    ///
    /// # Errors
    ///
    /// If the issuer is not a valid URL, there is no key or no [`Users`], two keys share a
    /// kid, the active kid is unknown, the [DPoP configuration](Self::dpop) is invalid, or
    /// the store fails.
    pub async fn build(self) -> Result<Provider, ProviderError> {
        let config = |message: &str| ProviderError::Config(message.to_owned());
        let issuer = self.issuer.trim_end_matches('/').to_owned();
        let url = url::Url::parse(&issuer)
            .map_err(|e| ProviderError::Config(format!("issuer {issuer:?} is not a URL: {e}")))?;
        if url.query().is_some() || url.fragment().is_some() || issuer.contains('#') {
            return Err(config("the issuer must have no query and no fragment"));
        }
        let loopback = crate::params::is_loopback_host(&url, true);
        match url.scheme() {
            "https" => {}
            "http" if loopback || self.insecure_http => {}
            _ => {
                return Err(config(
                    "the issuer must be an https URL (http only on loopback)",
                ));
            }
        }
        let path = url.path().trim_end_matches('/').to_owned();
        let users = self
            .users
            .ok_or_else(|| config("no Users: call ProviderBuilder::users"))?;
        if self.keys.is_empty() {
            return Err(config("no signing key: call ProviderBuilder::key"));
        }
        let mut keys = KeyStore::default();
        for key in self.keys {
            keys.insert(key)?;
        }
        if let Some(kid) = &self.active
            && !keys.set_default(kid)
        {
            return Err(ProviderError::Config(format!("no key with kid {kid:?}")));
        }
        let dpop = DpopVerifier::new(self.dpop)
            .map_err(|e| ProviderError::Config(format!("DPoP: {e}")))?;
        let endpoint_url = |name: &str| {
            url::Url::parse(&format!("{issuer}/{name}"))
                .map_err(|e| ProviderError::Config(format!("issuer {issuer:?}: {e}")))
        };
        let token_url = endpoint_url("token")?;
        let userinfo_url = endpoint_url("userinfo")?;
        if let Some(values) = &self.acr_values
            && values.iter().any(|v| !crate::params::is_plain(v))
        {
            return Err(config(
                "acr_values_supported: a value is empty or holds whitespace",
            ));
        }
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let engine = Engine {
            audience: self.audience.unwrap_or_else(|| issuer.clone()),
            issuer,
            path,
            keys: RwLock::new(keys),
            store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            users,
            lifetimes: Lifetimes {
                access_secs: AtomicU64::new(self.access_ttl.as_secs()),
                refresh: self.refresh_ttl,
                id: self.id_ttl,
                code: crate::endpoints::authorize::CODE_LIFETIME,
            },
            opaque_access_tokens: AtomicBool::new(false),
            scopes: self.scopes,
            registration: self.registration,
            secret_iterations: self.secret_iterations,
            verified: VerifiedSecrets::new(),
            refresh_issued: AtomicU64::new(0),
            consent_key: match &self.form_secret {
                Some(secret) => hmac::Key::new(hmac::HMAC_SHA256, secret),
                None => hmac::Key::generate(hmac::HMAC_SHA256, &rng)
                    .expect("the system random generator is available"),
            },
            last_purge: AtomicI64::new(unix_now()),
            dpop,
            token_url,
            userinfo_url,
            acr_values: self.acr_values,
        };
        let provider = Provider {
            engine: Arc::new(engine),
        };
        for client in self.clients {
            provider.register_client(client).await?;
        }
        Ok(provider)
    }
}

/// `{"error": ..., "error_description": ...}`.
pub(crate) fn error_body(error: &str, description: &str) -> Value {
    json!({ "error": error, "error_description": description })
}
