//! The [`Authenticator`]: per-request authentication from the configured token sources, the
//! application's hooks, and (with [`SessionConfig`]) the browser-session engine.
//!
//! A bearer-only API needs a [`Verifier`] and nothing else:
//!
//! ```no_run
//! use auth_core::{Authenticator, Verifier};
//! # fn main() -> Result<(), auth_core::ConfigError> {
//! // AUTH_ISSUER=https://login.example.com/realms/main AUTH_AUDIENCE=orders-api
//! let api = Authenticator::builder(Verifier::from_env()?).build()?;
//! # let _ = api; Ok(()) }
//! ```
//!
//! A browser app adds its login client:
//!
//! ```no_run
//! use auth_core::session::SessionConfig;
//! use auth_core::{Authenticator, Verifier};
//! # fn main() -> Result<(), auth_core::ConfigError> {
//! // ... plus APP_URL, AUTH_CLIENT_ID, AUTH_CLIENT_SECRET, AUTH_COOKIE_SECRET
//! let app = Authenticator::builder(Verifier::from_env()?)
//!     .sessions(SessionConfig::from_env()?)
//!     .build()?;
//! # let _ = app; Ok(()) }
//! ```
//!
//! Or in one call, with sessions when `APP_URL` is set: [`Authenticator::from_env`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::ExtraClaims;
use serde_json::Value;

use crate::adapter::{self, AuthResponse, RequestView};
use crate::api_key::{ApiKeyRecord, ApiKeys};
use crate::claims;
use crate::claims::{Claims, NoExtraClaims};
use crate::config::ConfigError;
use crate::dpop::{DpopConfig, DpopVerifier};
use crate::error::{AuthError, ChallengeContext, ErrorCode, TokenInvalidReason};
use crate::resource::{Published, ResourceMetadata};
use crate::session::SessionConfig;
use crate::session::cookies::{self, CookieUse, PresentedToken};
use crate::session::refresh::RefreshCache;
use crate::verifier::Verifier;
use crate::ws::{self, WebSocketConfig};

/// Where a request's credential was found.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer …` (scheme case-insensitive).
    Header,
    /// The sealed session cookie (refreshed transparently when expired). Needs sessions.
    Cookie,
    /// `?access_token=…` (RFC 6750 §2.3): only when listed in the configured sources.
    Query,
    /// On a WebSocket upgrade, a `Sec-WebSocket-Protocol` entry `bearer.<jwt>` offered beside
    /// the real subprotocol (see [`ws`](crate::ws)). Ignored on other requests.
    Subprotocol,
    /// An API key, in `Authorization: Bearer` or the API-key header (`X-Api-Key` by default):
    /// used when [`AuthenticatorBuilder::api_keys`] is set. Which credential is a key is decided
    /// by its format, never by trying both.
    ApiKey,
}

/// A verified request.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Authenticated<C = NoExtraClaims> {
    /// The verified claims.
    pub claims: Claims<C>,
    /// Where the credential came from.
    pub source: TokenSource,
    /// Application data from the provisioning hook (merged into `/auth/me`).
    pub user_data: serde_json::Map<String, Value>,
    /// The API key's record, when the credential was one ([`TokenSource::ApiKey`]).
    pub api_key: Option<Arc<ApiKeyRecord>>,
    /// For a DPoP-bound token (`Authorization: DPoP` with a valid proof): the RFC 7638
    /// thumbprint of the key the proof was signed with (the token's `cnf.jkt`).
    pub dpop_key: Option<String>,
}

impl Authenticated<NoExtraClaims> {
    /// The caller, with its claims read as `C` (the application's claims type).
    ///
    /// # Errors
    /// `token_invalid` when the claims do not fit `C`.
    pub fn auth_data<C: ExtraClaims>(&self) -> Result<AuthData<C>, AuthError> {
        let claims = claims::retype::<C>(&self.claims)?;
        Ok(AuthData::of(self, claims))
    }
}

/// Which kind of credential authenticated a request.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// An OAuth access token (from the `Authorization` header, the session cookie or the
    /// query): a JWT, or an opaque token introspected at its issuer
    /// ([`introspection`](crate::introspection)).
    Jwt,
    /// An API key.
    ApiToken,
}

impl CredentialKind {
    /// `"jwt"` or `"api_token"`, stable.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Jwt => "jwt",
            CredentialKind::ApiToken => "api_token",
        }
    }
}

/// The caller of a request, whichever kind of credential it used: what handlers that accept
/// both people (JWTs) and machines (API keys) need. The same guards apply to both: an API key's
/// scopes are its scopes and roles.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct AuthData<C = NoExtraClaims> {
    /// `jwt` or `api_token`.
    pub kind: CredentialKind,
    /// The subject: the token's `sub`, or the key's owner (a service account id or a user's
    /// `sub`: a key acts as its owner).
    pub subject: Option<String>,
    /// The tenant or organisation.
    pub tenant: Option<String>,
    /// The normalised scopes.
    pub scopes: Vec<String>,
    /// The normalised roles.
    pub roles: Vec<String>,
    /// The key's id and name, for an API key.
    pub api_key: Option<ApiKeyInfo>,
    /// The claims (for an API key, the claims it stands for; see
    /// [`Authenticator`]'s API-key support).
    pub claims: Claims<C>,
}

/// Which API key authenticated a request (never the key itself).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// The key id (`sk_live_4fZq8Rk2XbW1`).
    pub id: String,
    /// Its name.
    pub name: String,
}

impl<C> AuthData<C> {
    /// The caller of an authenticated request, with its claims read as `C`.
    pub(crate) fn of(auth: &Authenticated<NoExtraClaims>, claims: Claims<C>) -> Self {
        // Read through the claim mapping once per verified token (a cached token's later
        // requests clone the reading).
        let identity = claims.identity();
        AuthData {
            kind: match auth.source {
                TokenSource::ApiKey => CredentialKind::ApiToken,
                _ => CredentialKind::Jwt,
            },
            subject: claims.sub.clone(),
            tenant: identity.tenant.clone(),
            scopes: claims.owned_scopes(),
            roles: identity.roles.clone(),
            api_key: auth.api_key.as_ref().map(|k| ApiKeyInfo {
                id: k.id.clone(),
                name: k.name.clone(),
            }),
            claims,
        }
    }
}

/// What a hook sees of a verified token.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct HookContext {
    /// The subject.
    pub sub: Option<String>,
    /// The complete claims object.
    pub claims: Value,
}

impl HookContext {
    fn of<C>(claims: &Claims<C>) -> Self {
        HookContext {
            sub: claims.sub.clone(),
            claims: claims.as_value().clone(),
        }
    }
}

/// The application's user record, from the provisioning hook.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ProvisionedUser {
    /// A disabled user is refused with 403 `user_disabled`.
    pub disabled: bool,
    /// Application data merged into the `/auth/me` user object.
    pub data: serde_json::Map<String, Value>,
}

impl ProvisionedUser {
    /// An enabled user with this data.
    #[must_use]
    pub fn new(data: serde_json::Map<String, Value>) -> Self {
        ProvisionedUser {
            disabled: false,
            data,
        }
    }

    /// A disabled user.
    #[must_use]
    pub fn disabled() -> Self {
        ProvisionedUser {
            disabled: true,
            data: serde_json::Map::new(),
        }
    }
}

type HookFuture<T> = Pin<Box<dyn Future<Output = Result<T, AuthError>> + Send>>;
type ClaimsHook = Arc<dyn Fn(HookContext) -> HookFuture<()> + Send + Sync>;
type ProvisionHook = Arc<dyn Fn(HookContext) -> HookFuture<ProvisionedUser> + Send + Sync>;
type EnrichHook = Arc<
    dyn Fn(
            HookContext,
            serde_json::Map<String, Value>,
        ) -> HookFuture<serde_json::Map<String, Value>>
        + Send
        + Sync,
>;
type ErrorHandler = Arc<dyn Fn(&AuthError, AuthResponse) -> AuthResponse + Send + Sync>;

/// The SDK's entry point per request: verifies the request's credential, runs the application's
/// hooks and, with sessions, serves the helper routes. Cheap to clone; build one per
/// application with [`Authenticator::builder`] or [`Authenticator::from_env`].
#[derive(Clone)]
pub struct Authenticator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) verifier: Verifier,
    pub(crate) sessions: Option<Sessions>,
    pub(crate) token_sources: Vec<TokenSource>,
    pub(crate) realm: Option<String>,
    claims_check: Option<ClaimsHook>,
    provision: Option<ProvisionHook>,
    pub(crate) enrich: Option<EnrichHook>,
    error_handler: Option<ErrorHandler>,
    api_keys: Option<ApiKeys>,
    api_key_header: Option<String>,
    websocket: WebSocketConfig,
    /// The upgrade sources in effect (from `websocket`, without the cookie when there are no
    /// sessions).
    upgrade_sources: Vec<TokenSource>,
    /// DPoP proofs, when accepted.
    pub(crate) dpop: Option<DpopVerifier>,
    /// The RFC 9728 document, when published.
    pub(crate) resource: Option<Published>,
}

/// The session engine's state: its configuration and the refreshes in flight.
pub(crate) struct Sessions {
    pub(crate) config: SessionConfig,
    pub(crate) refreshes: RefreshCache,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("verifier", &self.inner.verifier)
            .field("sessions", &self.inner.sessions.as_ref().map(|s| &s.config))
            .field("token_sources", &self.inner.token_sources)
            .field("realm", &self.inner.realm)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Authenticator`]; [`build`](Self::build) checks that the parts fit together.
#[must_use]
pub struct AuthenticatorBuilder {
    verifier: Verifier,
    sessions: Option<SessionConfig>,
    token_sources: Option<Vec<TokenSource>>,
    realm: Option<String>,
    claims_check: Option<ClaimsHook>,
    provision: Option<ProvisionHook>,
    enrich: Option<EnrichHook>,
    error_handler: Option<ErrorHandler>,
    api_keys: Option<ApiKeys>,
    api_key_header: Option<String>,
    websocket: WebSocketConfig,
    dpop: Option<DpopConfig>,
    resource: Option<ResourceMetadata>,
}

impl fmt::Debug for AuthenticatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorBuilder")
            .field("verifier", &self.verifier)
            .field("sessions", &self.sessions)
            .field("token_sources", &self.token_sources)
            .finish_non_exhaustive()
    }
}

impl AuthenticatorBuilder {
    /// A builder from the environment: the verifier from `AUTH_*`
    /// ([`Verifier::from_env`]: one issuer, or several with `AUTH_ISSUERS`) and, when `APP_URL`
    /// is set, browser sessions ([`SessionConfigBuilder::from_env`](crate::session::SessionConfigBuilder::from_env)).
    ///
    /// # Errors
    /// `config_invalid` naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    ///
    /// With `APP_URL` or `AUTH_RESOURCE` set (and `AUTH_RESOURCE_METADATA` not `off`), the
    /// RFC 9728 metadata is published ([`ResourceMetadata::from_vars`]) and the resource
    /// identifier is an accepted audience besides `AUTH_AUDIENCE`: a client that asks for a
    /// token for this resource (RFC 8707) gets one the app accepts. `AUTH_DPOP` turns DPoP on
    /// ([`DpopConfig::from_vars`]).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let resource = ResourceMetadata::from_vars(&lookup)?;
        let resource_id = resource.as_ref().map(|r| r.resource().to_owned());
        let verifier_lookup = |name: &str| match (name, &resource_id) {
            ("AUTH_AUDIENCE", Some(id)) => {
                let configured = lookup(name)?;
                let listed = configured.split(',').any(|a| a.trim() == id);
                Some(if listed {
                    configured
                } else {
                    format!("{configured},{id}")
                })
            }
            _ => lookup(name),
        };
        let mut b = Authenticator::builder(Verifier::from_vars(verifier_lookup)?)
            .websocket(WebSocketConfig::from_vars(&lookup)?);
        let has_app_url = lookup("APP_URL").is_some_and(|v| !v.trim().is_empty());
        if has_app_url {
            b = b.sessions(crate::session::SessionConfigBuilder::from_vars(&lookup)?.build()?);
        }
        if let Some(resource) = resource {
            b = b.resource_metadata(resource);
        }
        if let Some(dpop) = DpopConfig::from_vars(&lookup)? {
            b = b.dpop(dpop);
        }
        Ok(b)
    }

    /// Accepts DPoP-bound tokens (RFC 9449): `Authorization: DPoP <token>` with a proof in the
    /// `DPoP` header, checked on every request (see [`dpop`](crate::dpop)). Challenges then
    /// name both schemes. Without it, `Authorization: DPoP` is not a credential, and a bound
    /// token is refused in any case.
    pub fn dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = Some(config);
        self
    }

    /// Publishes the RFC 9728 metadata of this protected resource: the helper routes serve it
    /// at [`ResourceMetadata::path`], and every challenge carries `resource_metadata` (its
    /// URL). The resource identifier should be one of the verifier's audiences
    /// ([`AuthConfigBuilder::audiences`](crate::AuthConfigBuilder::audiences)).
    pub fn resource_metadata(mut self, metadata: ResourceMetadata) -> Self {
        self.resource = Some(metadata);
        self
    }

    /// Browser sessions: the login client and its cookies. Adds the session cookie as a
    /// credential source (after `Authorization: Bearer`) and the helper routes.
    pub fn sessions(mut self, sessions: SessionConfig) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Where credentials are read from, in order (default: the `Authorization` header, then
    /// the session cookie when sessions are configured). [`TokenSource::Query`]
    /// (`?access_token=`) is used only when listed here.
    pub fn token_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.token_sources = Some(sources.into_iter().collect());
        self
    }

    /// Accepts API keys as well as JWTs: a key in `Authorization: Bearer` or in the API-key
    /// header ([`api_key_header`](Self::api_key_header), `X-Api-Key` by default) is verified by
    /// `keys`, and its caller reaches handlers and guards like a token's: `sub` is the key's
    /// owner, its scopes are the scopes and roles. A request with both a JWT and a key is 400
    /// `invalid_request` (one credential per request).
    pub fn api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = Some(keys);
        self
    }

    /// The header that carries API keys besides `Authorization: Bearer` (default `x-api-key`);
    /// `None` accepts keys in `Authorization` only.
    pub fn api_key_header(mut self, name: Option<&str>) -> Self {
        self.api_key_header = name.map(str::to_ascii_lowercase);
        self
    }

    /// How WebSocket upgrades are authenticated: their token sources (the
    /// `Sec-WebSocket-Protocol` token, the opt-in query parameter) and the origins allowed to
    /// use the session cookie. Default: [`WebSocketConfig::new`]. See [`ws`](crate::ws).
    pub fn websocket(mut self, config: WebSocketConfig) -> Self {
        self.websocket = config;
        self
    }

    /// The RFC 6750 `realm` in challenges (default none).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// An async check of every verified token; return an error (with the code you choose) to
    /// reject the request.
    pub fn claims_check<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn(HookContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), AuthError>> + Send + 'static,
    {
        self.claims_check = Some(Arc::new(move |ctx| Box::pin(check(ctx))));
        self
    }

    /// User provisioning: `find_or_create(sub, profile)`, once per authenticated request. A
    /// disabled user is refused with 403 `user_disabled`; an error becomes 500
    /// `user_provision_failed`.
    pub fn provisioning<F, Fut>(mut self, provision: F) -> Self
    where
        F: Fn(HookContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ProvisionedUser, AuthError>> + Send + 'static,
    {
        self.provision = Some(Arc::new(move |ctx| Box::pin(provision(ctx))));
        self
    }

    /// Merges application data into the `/auth/me` user object.
    pub fn user_enricher<F, Fut>(mut self, enrich: F) -> Self
    where
        F: Fn(HookContext, serde_json::Map<String, Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<serde_json::Map<String, Value>, AuthError>> + Send + 'static,
    {
        self.enrich = Some(Arc::new(move |ctx, user| Box::pin(enrich(ctx, user))));
        self
    }

    /// Renders every error response the SDK produces (extractor and guard rejections in every
    /// adapter, and the helper routes' errors) through `handler`. It receives the error and the
    /// standard response (status, JSON body, `WWW-Authenticate`, `Retry-After`) and returns the
    /// response to send: change the body and keep the standard headers, or build another one.
    /// Cookies the request's outcome must set (a cleared session) are added afterwards.
    ///
    /// ```
    /// use auth_core::adapter::AuthResponse;
    /// use auth_core::{AuthError, Authenticator, ErrorCode, Verifier};
    /// # fn f(verifier: Verifier) -> Result<Authenticator, auth_core::ConfigError> {
    /// Authenticator::builder(verifier)
    ///     .error_handler(|error: &AuthError, standard: AuthResponse| {
    ///         if error.is(ErrorCode::PermissionDenied) {
    ///             standard.with_html_body("<h1>You may not see this page</h1>")
    ///         } else {
    ///             standard
    ///         }
    ///     })
    ///     .build()
    /// # }
    /// ```
    pub fn error_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(&AuthError, AuthResponse) -> AuthResponse + Send + Sync + 'static,
    {
        self.error_handler = Some(Arc::new(handler));
        self
    }

    /// Checks that the parts fit together and builds.
    ///
    /// # Errors
    /// `config_invalid`: no token source, or the cookie source without sessions.
    pub fn build(self) -> Result<Authenticator, ConfigError> {
        let sources = self.token_sources.unwrap_or_else(|| {
            if self.sessions.is_some() {
                vec![TokenSource::Header, TokenSource::Cookie]
            } else {
                vec![TokenSource::Header]
            }
        });
        if sources.is_empty() {
            return Err(ConfigError::new(
                "token_sources",
                "at least one source is needed",
            ));
        }
        if sources.contains(&TokenSource::Cookie) && self.sessions.is_none() {
            return Err(ConfigError::new(
                "token_sources",
                "the session cookie is a source only with sessions configured (AuthenticatorBuilder::sessions)",
            ));
        }
        let upgrade_sources = self.websocket.effective_sources(self.sessions.is_some());
        if upgrade_sources.is_empty() {
            return Err(ConfigError::new(
                "websocket.sources",
                "at least one source is needed",
            ));
        }
        let dpop = match self.dpop {
            Some(mut config) => {
                if !config.has_public_url() {
                    // `htu` names the app's public URL: the session's, else the resource's.
                    let known = self
                        .sessions
                        .as_ref()
                        .map(|s| s.app_url.as_str().trim_end_matches('/').to_owned())
                        .or_else(|| self.resource.as_ref().map(|r| r.resource().to_owned()));
                    if let Some(url) = known {
                        config = config.public_url(url);
                    } else if !config.trusts_forwarded_headers() {
                        return Err(ConfigError::new(
                            "AUTH_PUBLIC_URL",
                            "DPoP needs the app's public URL to check a proof's htu (DpopConfig::public_url, APP_URL or AUTH_PUBLIC_URL)",
                        ));
                    }
                }
                Some(DpopVerifier::new(config)?)
            }
            None => None,
        };
        let resource = match &self.resource {
            Some(metadata) => {
                let issuers: Vec<String> = if self.verifier.config().is_issuer_pattern() {
                    Vec::new()
                } else {
                    self.verifier.issuers().map(str::to_owned).collect()
                };
                Some(Published::new(
                    metadata,
                    &issuers,
                    dpop.as_ref().map(DpopVerifier::config),
                    sources.contains(&TokenSource::Query),
                )?)
            }
            None => None,
        };
        Ok(Authenticator {
            inner: Arc::new(Inner {
                verifier: self.verifier,
                sessions: self.sessions.map(|config| Sessions {
                    config,
                    refreshes: RefreshCache::default(),
                }),
                token_sources: sources,
                realm: self.realm,
                claims_check: self.claims_check,
                provision: self.provision,
                enrich: self.enrich,
                error_handler: self.error_handler,
                api_keys: self.api_keys,
                api_key_header: self.api_key_header,
                websocket: self.websocket,
                upgrade_sources,
                dpop,
                resource,
            }),
        })
    }
}

/// The result of authenticating one request: the verified caller (or none, or the error) and
/// the `Set-Cookie` headers the response must carry (a refreshed session, or the clearing of
/// one that cannot continue).
pub(crate) struct Outcome {
    pub(crate) result: Result<Option<Authenticated<NoExtraClaims>>, AuthError>,
    pub(crate) set_cookies: Vec<String>,
}

impl Authenticator {
    /// Starts a builder around a verifier. Without [`sessions`](AuthenticatorBuilder::sessions)
    /// the authenticator serves a bearer-only API: no app URL, client id or cookie secret.
    pub fn builder(verifier: Verifier) -> AuthenticatorBuilder {
        AuthenticatorBuilder {
            verifier,
            sessions: None,
            token_sources: None,
            realm: None,
            claims_check: None,
            provision: None,
            enrich: None,
            error_handler: None,
            api_keys: None,
            api_key_header: Some("x-api-key".to_owned()),
            websocket: WebSocketConfig::new(),
            dpop: None,
            resource: None,
        }
    }

    /// An authenticator from the environment (see [`AuthenticatorBuilder::from_env`]): bearer
    /// tokens always, browser sessions when `APP_URL` is set.
    ///
    /// # Errors
    /// `config_invalid` naming the variable.
    pub fn from_env() -> Result<Authenticator, ConfigError> {
        AuthenticatorBuilder::from_env()?.build()
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The session settings, when browser sessions are configured.
    #[must_use]
    pub fn session_config(&self) -> Option<&SessionConfig> {
        self.inner.sessions.as_ref().map(|s| &s.config)
    }

    /// The credential sources, in the order they are tried.
    #[must_use]
    pub fn token_sources(&self) -> &[TokenSource] {
        &self.inner.token_sources
    }

    /// How WebSocket upgrades are authenticated.
    #[must_use]
    pub fn websocket_config(&self) -> &WebSocketConfig {
        &self.inner.websocket
    }

    /// The credential sources of a WebSocket upgrade, in the order they are tried.
    #[must_use]
    pub fn upgrade_sources(&self) -> &[TokenSource] {
        &self.inner.upgrade_sources
    }

    /// Authenticates a WebSocket upgrade request before the `101` answer, from the upgrade
    /// sources ([`WebSocketConfig::sources`]): the verified caller, with the hooks run, and
    /// the connection state that ends with the token ([`SocketAuth`](ws::SocketAuth)), with
    /// the subprotocol to select.
    ///
    /// Adapters use [`RequestAuth::upgrade`](crate::adapter::RequestAuth::upgrade), which
    /// shares the request's one authentication with its guards and puts refreshed session
    /// cookies on the answer.
    ///
    /// # Errors
    /// `invalid_request` for a request that is not a WebSocket upgrade, otherwise as
    /// [`authenticate`](Self::authenticate); 403 for a cookie-authenticated upgrade from a
    /// foreign `Origin`.
    pub async fn verify_upgrade(
        &self,
        req: &impl RequestView,
    ) -> Result<ws::SocketAuth, AuthError> {
        let result = if ws::is_websocket_upgrade(req) {
            self.authenticate::<NoExtraClaims>(req)
                .await
                .map(|auth| ws::SocketAuth::new(self, auth, req))
        } else {
            Err(not_an_upgrade())
        };
        if let Err(e) = &result {
            crate::metrics::upgrade_rejected(e);
        }
        result
    }

    /// Authenticates the handshake of a connection protocol that carries its own credential
    /// after the HTTP exchange (Socket.IO's `auth` payload): `payload_token` when present, else
    /// `Authorization: Bearer`, else the session cookie. The first one present wins. An API key
    /// is recognised by its format in the payload or the header, as on any request. A session
    /// cookie needs a trusted `Origin` (as on upgrades) and is not refreshed here: no answer
    /// could carry the rotated cookies, so an expired one is `token_expired` and the client
    /// refreshes over HTTP first.
    ///
    /// # Errors
    /// `token_missing` when no credential is present, otherwise as
    /// [`authenticate`](Self::authenticate); 403 for a cookie from a foreign `Origin`.
    pub async fn verify_handshake(
        &self,
        req: &impl RequestView,
        payload_token: Option<&str>,
    ) -> Result<ws::SocketAuth, AuthError> {
        let result = self.handshake_inner(req, payload_token).await;
        if let Err(e) = &result {
            crate::metrics::upgrade_rejected(e);
        }
        result
    }

    async fn handshake_inner(
        &self,
        req: &impl RequestView,
        payload_token: Option<&str>,
    ) -> Result<ws::SocketAuth, AuthError> {
        let auth = match payload_token {
            Some(token) => self.authenticate_presented(token).await?,
            None => {
                let mut sources = vec![TokenSource::Header];
                if self.inner.sessions.is_some() {
                    sources.push(TokenSource::Cookie);
                }
                let mut unused = Vec::new();
                self.authenticate_from(req, &sources, CookieUse::Handshake, &mut unused)
                    .await?
                    .ok_or_else(token_missing)?
            }
        };
        Ok(ws::SocketAuth::new(self, auth, req))
    }

    /// Verifies a credential given outside the request (a handshake payload): an API key by
    /// its format, otherwise a JWT; then the hooks.
    async fn authenticate_presented(
        &self,
        token: &str,
    ) -> Result<Authenticated<NoExtraClaims>, AuthError> {
        if let Some(keys) = &self.inner.api_keys
            && keys.format().is_key(token)
        {
            return self.authenticate_key(keys, token).await;
        }
        self.authenticate_token(token).await
    }

    /// Verifies an API key and runs the hooks over the claims it stands for.
    async fn authenticate_key<C>(
        &self,
        keys: &ApiKeys,
        key: &str,
    ) -> Result<Authenticated<C>, AuthError>
    where
        C: ExtraClaims,
    {
        let verified = keys.verify(key).await?;
        let claims = claims::for_api_key::<C>(&verified.record, keys.format().prefix())?;
        let user = self.run_hooks(&claims).await?;
        Ok(Authenticated {
            claims,
            source: TokenSource::ApiKey,
            user_data: user.data,
            api_key: Some(verified.record),
            dpop_key: None,
        })
    }

    /// Verifies a bare token (an in-band re-authentication) and runs the hooks.
    pub(crate) async fn authenticate_token(
        &self,
        token: &str,
    ) -> Result<Authenticated<NoExtraClaims>, AuthError> {
        let claims = self.inner.verifier.verify::<NoExtraClaims>(token).await?;
        self.check_unbound(&claims, None)?;
        let user = self.run_hooks(&claims).await?;
        Ok(Authenticated {
            claims,
            source: TokenSource::Header,
            user_data: user.data,
            api_key: None,
            dpop_key: None,
        })
    }

    /// The error response for `error`: the taxonomy's status, the JSON body, the RFC 6750
    /// challenge (with the configured realm) and `Retry-After`, then the application's
    /// [`error_handler`](AuthenticatorBuilder::error_handler). The one rendering every adapter
    /// and every helper route uses.
    #[must_use]
    pub fn error_response(&self, error: &AuthError) -> AuthResponse {
        let mut standard = AuthResponse::error_in(error, &self.challenge_context());
        if error.status() == 401
            && let Some(nonce) = self.dpop_nonce()
        {
            standard = standard.with_header("dpop-nonce", &nonce);
        }
        match &self.inner.error_handler {
            Some(handler) => handler(error, standard),
            None => standard,
        }
    }

    /// What challenges offer: the realm, the schemes, the metadata URL.
    pub(crate) fn challenge_context(&self) -> ChallengeContext<'_> {
        let dpop = self.inner.dpop.as_ref();
        ChallengeContext {
            realm: self.inner.realm.as_deref(),
            bearer: !dpop.is_some_and(|d| d.config().is_required()),
            dpop_algs: dpop.map(DpopVerifier::algs),
            resource_metadata: self.inner.resource.as_ref().map(|r| r.url.as_str()),
        }
    }

    /// The DPoP nonce to hand out now, when nonces are on.
    pub(crate) fn dpop_nonce(&self) -> Option<String> {
        self.inner
            .dpop
            .as_ref()?
            .current_nonce(self.inner.verifier.config().now())
    }

    /// How DPoP proofs are checked, when DPoP is accepted.
    #[must_use]
    pub fn dpop(&self) -> Option<&DpopVerifier> {
        self.inner.dpop.as_ref()
    }

    /// The RFC 9728 metadata URL, when the metadata is published.
    #[must_use]
    pub fn resource_metadata_url(&self) -> Option<&str> {
        self.inner.resource.as_ref().map(|r| r.url.as_str())
    }

    /// The protected resource's identifier, when its metadata is published.
    #[must_use]
    pub fn resource_identifier(&self) -> Option<&str> {
        self.inner.resource.as_ref().map(|r| r.resource.as_str())
    }

    pub(crate) fn now_secs(&self) -> i64 {
        self.inner
            .verifier
            .config()
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    // ------------------------------------------------------------------ per request

    /// Authenticates a request from the configured token sources (default: `Authorization`
    /// header, then the session cookie, refreshed transparently when expired), then runs the
    /// hooks.
    ///
    /// This is the request side only: refreshed session cookies are not returned. Adapters use
    /// [`RequestAuth`](crate::adapter::RequestAuth), which also puts them on the response.
    ///
    /// # Errors
    /// `token_missing` without a credential; `invalid_request` for two `Authorization` headers
    /// or two methods at once; 403 for a cross-site unsafe request carrying the session cookie;
    /// the verifier's errors; `session_expired` / `invalid_grant` when a refresh fails for
    /// good; 503 when it fails for now.
    pub async fn authenticate<C>(
        &self,
        req: &impl RequestView,
    ) -> Result<Authenticated<C>, AuthError>
    where
        C: ExtraClaims,
    {
        match self.authenticate_optional::<C>(req).await? {
            Some(auth) => Ok(auth),
            None => Err(token_missing()),
        }
    }

    /// Like [`authenticate`](Self::authenticate), but `Ok(None)` when no credential is present
    /// (a bad credential is still an error).
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate), except `token_missing`.
    pub async fn authenticate_optional<C>(
        &self,
        req: &impl RequestView,
    ) -> Result<Option<Authenticated<C>>, AuthError>
    where
        C: ExtraClaims,
    {
        let mut set_cookies = Vec::new();
        self.authenticate_inner::<C>(req, &mut set_cookies).await
    }

    /// The outcome of authenticating `req`, with the cookies the response must carry.
    pub(crate) async fn outcome(&self, req: &impl RequestView) -> Outcome {
        let mut set_cookies = Vec::new();
        let result = self
            .authenticate_inner::<NoExtraClaims>(req, &mut set_cookies)
            .await;
        Outcome {
            result,
            set_cookies,
        }
    }

    /// Whether `req` carries nothing a credential could be read from: no `Authorization` or
    /// API-key header, no cookie (when sessions are on), no query string (when tokens may come
    /// in it), no WebSocket subprotocol offer. The outcome is then "no credential" without any
    /// further work: [`outcome`](Self::outcome) would answer `Ok(None)` and set no cookie.
    pub(crate) fn carries_no_credential(&self, req: &impl RequestView) -> bool {
        let present = |name: &str| {
            let mut any = false;
            req.for_each_header(name, &mut |_| any = true);
            any
        };
        // `Authorization` is read whatever the sources (two credentials, or a key in `Bearer`,
        // are told apart there), and the API-key header whenever API keys are accepted.
        let api_key_header = self
            .inner
            .api_keys
            .as_ref()
            .and(self.inner.api_key_header.as_deref());
        if present("authorization") || api_key_header.is_some_and(&present) {
            return false;
        }
        // Every source, named: a new one must say here where its credential would be.
        let mut sources = self
            .inner
            .token_sources
            .iter()
            .chain(&self.inner.upgrade_sources);
        !sources.any(|source| match source {
            TokenSource::Header | TokenSource::ApiKey => false,
            TokenSource::Cookie => self.inner.sessions.is_some() && present("cookie"),
            TokenSource::Query => req.query().is_some_and(|q| !q.is_empty()),
            TokenSource::Subprotocol => present("sec-websocket-protocol"),
        })
    }

    async fn authenticate_inner<C>(
        &self,
        req: &impl RequestView,
        set_cookies: &mut Vec<String>,
    ) -> Result<Option<Authenticated<C>>, AuthError>
    where
        C: ExtraClaims,
    {
        let upgrade = ws::is_websocket_upgrade(req);
        let (sources, usage) = if upgrade {
            (&self.inner.upgrade_sources, CookieUse::Upgrade)
        } else {
            (&self.inner.token_sources, CookieUse::Request)
        };
        self.authenticate_from(req, sources, usage, set_cookies)
            .await
    }

    /// Authenticates `req` from `sources`, in order (API keys first, by their format).
    async fn authenticate_from<C>(
        &self,
        req: &impl RequestView,
        sources: &[TokenSource],
        usage: CookieUse,
        set_cookies: &mut Vec<String>,
    ) -> Result<Option<Authenticated<C>>, AuthError>
    where
        C: ExtraClaims,
    {
        let upgrade = usage == CookieUse::Upgrade;
        let dpop_on = self.inner.dpop.is_some();
        // One pass over the header: its count, and the first value's token (the only copy of
        // the token made on this path).
        let (mut authorization_headers, mut presented) = (0usize, Ok(None));
        req.for_each_header("authorization", &mut |value| {
            authorization_headers += 1;
            if authorization_headers == 1 {
                presented = parse_authorization(value, dpop_on);
            }
        });
        if authorization_headers > 1 {
            return Err(AuthError::new(
                ErrorCode::InvalidRequest,
                "more than one Authorization header",
            ));
        }
        let mut query_token = if sources.contains(&TokenSource::Query) {
            adapter::query_params(req.query())
                .map_err(|()| {
                    AuthError::new(ErrorCode::InvalidRequest, "duplicated query parameters")
                })?
                .remove("access_token")
        } else {
            None
        };
        let mut presented = presented?;
        if presented.is_some() && query_token.is_some() {
            return Err(AuthError::new(
                ErrorCode::InvalidRequest,
                "a token was sent in more than one way",
            ));
        }
        if let Some(keys) = &self.inner.api_keys {
            let bearer = match &presented {
                Some((Scheme::Bearer, token)) => Some(token.as_str()),
                _ => None,
            };
            let key = self.presented_api_key(keys, req, bearer)?;
            if let Some(key) = key {
                if presented.as_ref().is_some_and(|(s, _)| *s == Scheme::Dpop) {
                    return Err(AuthError::new(
                        ErrorCode::InvalidRequest,
                        "one credential per request: an API key and a DPoP token were both sent",
                    ));
                }
                // Boxed: a key's lookup (a store query on a miss) would otherwise size every
                // request's authentication future.
                return Box::pin(self.authenticate_key(keys, &key)).await.map(Some);
            }
        }
        for source in sources {
            let mut scheme = Scheme::Bearer;
            let token = match source {
                TokenSource::Header => presented.take().map(|(s, token)| {
                    scheme = s;
                    PresentedToken::Text(token)
                }),
                TokenSource::Query => query_token.take().map(PresentedToken::Text),
                // Keys were looked for above, by their format.
                TokenSource::ApiKey => None,
                TokenSource::Subprotocol if upgrade => {
                    ws::subprotocol_token(req, self.inner.websocket.subprotocol_prefix_str())?
                        .map(PresentedToken::Text)
                }
                TokenSource::Subprotocol => None,
                TokenSource::Cookie => match &self.inner.sessions {
                    Some(sessions) => {
                        cookies::session_token(self, &sessions.config, req, usage, set_cookies)
                            .await?
                    }
                    None => None,
                },
            };
            if let Some(token) = token {
                let dpop = scheme == Scheme::Dpop;
                let mut claims = self
                    .inner
                    .verifier
                    .verify_keyed::<C>(token.token(), token.cache_key())
                    .await
                    .map_err(|e| if dpop { e.for_dpop() } else { e })?;
                // A session's token without `auth_time` / `acr`: the sign-in's, from its ID
                // token (step-up guards read them; many providers leave them out of access
                // tokens).
                let (auth_time, acr) = token.sign_in();
                if claims.auth_time.is_none() {
                    claims.auth_time = auth_time.map(crate::claims::NumericDate::from_secs);
                }
                if claims.acr.is_none() {
                    claims.acr = acr.map(str::to_owned);
                }
                let dpop_key = if dpop {
                    Some(self.check_dpop(&claims, req, token.token())?)
                } else {
                    self.check_unbound(&claims, Some(*source))?;
                    None
                };
                let user = self.run_hooks(&claims).await?;
                return Ok(Some(Authenticated {
                    claims,
                    source: *source,
                    user_data: user.data,
                    api_key: None,
                    dpop_key,
                }));
            }
        }
        Ok(None)
    }

    /// The binding of a token presented with the `DPoP` scheme: bound (`cnf.jkt`), with a valid
    /// proof from that key. Returns the key's thumbprint.
    fn check_dpop<C>(
        &self,
        claims: &Claims<C>,
        req: &impl RequestView,
        token: &str,
    ) -> Result<String, AuthError> {
        let binding = |message: &'static str| {
            AuthError::invalid_token(TokenInvalidReason::KeyBinding, message).for_dpop()
        };
        let Some(verifier) = &self.inner.dpop else {
            return Err(binding("DPoP is not accepted here"));
        };
        let Some(jkt) = claims.cnf.as_ref().and_then(|c| c.jkt.as_deref()) else {
            return Err(binding(
                "the token is not DPoP-bound: send it with the Bearer scheme",
            ));
        };
        if claims
            .cnf
            .as_ref()
            .is_some_and(|c| c.x5t_s256.is_some() || c.other)
        {
            // A second binding this server cannot check is never ignored.
            return Err(binding(
                "the token is also bound in a way this server cannot check",
            ));
        }
        let now = self.inner.verifier.config().now();
        let proof = verifier.verify_request(req, Some(token), Some(jkt), now)?;
        Ok(proof.jkt)
    }

    /// A token presented as a bearer token (`source`; `None` outside a request: a handshake
    /// payload, an in-band re-authentication) must not be bound to a key: its binding could not
    /// be checked. With DPoP required, a bearer token in a request is refused.
    fn check_unbound<C>(
        &self,
        claims: &Claims<C>,
        source: Option<TokenSource>,
    ) -> Result<(), AuthError> {
        let binding = |message: &'static str| {
            AuthError::invalid_token(TokenInvalidReason::KeyBinding, message)
        };
        if let Some(cnf) = &claims.cnf {
            if cnf.jkt.is_some() {
                return Err(binding(
                    "the token is DPoP-bound: send it with the DPoP scheme and a proof",
                )
                .for_dpop());
            }
            if cnf.x5t_s256.is_some() {
                return Err(binding(
                    "the token is bound to a client certificate, which this server does not check",
                ));
            }
            if cnf.other {
                return Err(binding(
                    "the token is bound to a key in a way this server cannot check",
                ));
            }
        }
        let required = self
            .inner
            .dpop
            .as_ref()
            .is_some_and(|d| d.config().is_required());
        if required && source != Some(TokenSource::Cookie) {
            return Err(binding("this API accepts DPoP-bound tokens only").for_dpop());
        }
        Ok(())
    }

    /// The API key of the request, if it presents one: in `Authorization: Bearer` (told apart
    /// from a JWT by its format) or in the API-key header. Two credentials are refused.
    fn presented_api_key(
        &self,
        keys: &ApiKeys,
        req: &impl RequestView,
        bearer: Option<&str>,
    ) -> Result<Option<String>, AuthError> {
        let in_bearer = bearer
            .filter(|b| keys.format().is_key(b))
            .map(str::to_owned);
        let in_header = match &self.inner.api_key_header {
            Some(name) => {
                if adapter::header_count(req, name) > 1 {
                    return Err(AuthError::new(
                        ErrorCode::InvalidRequest,
                        "more than one API-key header",
                    ));
                }
                adapter::first_header(req, name).map(|v| v.trim().to_owned())
            }
            None => None,
        };
        match (in_bearer, in_header, bearer) {
            (_, Some(_), Some(_)) => Err(AuthError::new(
                ErrorCode::InvalidRequest,
                "one credential per request: an API key and a bearer token were both sent",
            )),
            (Some(key), None, _) | (None, Some(key), None) => Ok(Some(key)),
            (None, None, _) => Ok(None),
            (Some(_), Some(_), None) => unreachable_pair(),
        }
    }

    async fn run_hooks<C>(&self, claims: &Claims<C>) -> Result<ProvisionedUser, AuthError> {
        if let Some(check) = &self.inner.claims_check {
            check(HookContext::of(claims)).await?;
        }
        match &self.inner.provision {
            Some(provision) => match provision(HookContext::of(claims)).await {
                Ok(user) if user.disabled => Err(AuthError::new(
                    ErrorCode::UserDisabled,
                    "this user is disabled",
                )),
                Ok(user) => Ok(user),
                Err(e) if e.code() == ErrorCode::UserDisabled => Err(e),
                Err(e) => Err(AuthError::new(
                    ErrorCode::UserProvisionFailed,
                    "user provisioning failed",
                )
                .with_source(e)),
            },
            None => Ok(ProvisionedUser::default()),
        }
    }

    /// Runs the user enricher over a `/auth/me` user object.
    pub(crate) async fn enrich<C>(
        &self,
        claims: &Claims<C>,
        user: serde_json::Map<String, Value>,
    ) -> Result<serde_json::Map<String, Value>, AuthError> {
        match &self.inner.enrich {
            Some(enrich) => enrich(HookContext::of(claims), user).await,
            None => Ok(user),
        }
    }
}

/// A key in the bearer implies a bearer: the pair cannot occur; answer as for two credentials.
fn unreachable_pair() -> Result<Option<String>, AuthError> {
    Err(AuthError::new(
        ErrorCode::InvalidRequest,
        "one credential per request",
    ))
}

/// The error for [`Authenticator::verify_upgrade`] on a plain request.
pub(crate) fn not_an_upgrade() -> AuthError {
    AuthError::new(ErrorCode::InvalidRequest, "not a WebSocket upgrade request")
}

/// The error for a request without a credential.
pub(crate) fn token_missing() -> AuthError {
    AuthError::new(ErrorCode::TokenMissing, "no credential was presented")
}

/// The scheme a token came with in `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

/// Parses `Authorization: Bearer <token>` (and, when DPoP is accepted, `DPoP <token>`):
/// `Ok(None)` for another scheme, an error for a malformed credential (RFC 6750 §2.1 b64token:
/// ASCII letters, digits and `-._~+/`, then optional `=` padding; the same for DPoP, RFC 9449
/// §7.1). Works on the header's bytes: a value that is not UTF-8 has no valid token.
fn parse_authorization(value: &[u8], dpop: bool) -> Result<Option<(Scheme, String)>, AuthError> {
    let scheme = match value.iter().position(|&b| b == b' ') {
        Some(space) => &value[..space],
        None => value,
    };
    if scheme.eq_ignore_ascii_case(b"bearer") {
        Ok(parse_bearer(value)?.map(|t| (Scheme::Bearer, t)))
    } else if dpop && scheme.eq_ignore_ascii_case(b"dpop") {
        let rest = value.get(scheme.len()..).unwrap_or_default();
        let mut as_bearer = b"Bearer".to_vec();
        as_bearer.extend_from_slice(rest);
        parse_bearer(&as_bearer)
            .map_err(|_| {
                AuthError::new(ErrorCode::InvalidRequest, "malformed DPoP credential").for_dpop()
            })
            .map(|t| t.map(|t| (Scheme::Dpop, t)))
    } else {
        Ok(None)
    }
}

/// Parses `Authorization: Bearer <token>`: `Ok(None)` for another scheme, an error for a
/// malformed bearer credential.
fn parse_bearer(value: &[u8]) -> Result<Option<String>, AuthError> {
    /// A b64token character other than `=`. Branch-free, so that the check over a whole
    /// token compiles to vector compares.
    fn token_char(b: u8) -> bool {
        let lower = b | 0x20;
        (lower.wrapping_sub(b'a') < 26)
            | (b.wrapping_sub(b'0') < 10)
            | (b == b'-')
            | (b == b'.')
            | (b == b'_')
            | (b == b'~')
            | (b == b'+')
            | (b == b'/')
    }
    let (scheme, token) = match value.iter().position(|&b| b == b' ') {
        Some(space) => (&value[..space], &value[space + 1..]),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    let body = token
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |last| last + 1);
    let valid = body > 0 && token[..body].iter().fold(true, |ok, &b| ok & token_char(b));
    match std::str::from_utf8(token) {
        Ok(token) if valid => Ok(Some(token.to_owned())),
        _ => Err(AuthError::new(
            ErrorCode::InvalidRequest,
            "malformed bearer credential",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        assert_eq!(
            parse_bearer(b"Bearer abc.def-_~+/=")
                .ok()
                .flatten()
                .as_deref(),
            Some("abc.def-_~+/=")
        );
        assert_eq!(
            parse_bearer(b"bearer abc").ok().flatten().as_deref(),
            Some("abc")
        );
        assert_eq!(
            parse_bearer(b"BEARER abc").ok().flatten().as_deref(),
            Some("abc")
        );
        assert_eq!(parse_bearer(b"Basic dXNlcjpwYXNz").ok().flatten(), None);
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer  a",
            "Bearer a b",
            "Bearer a,b",
            "Bearer a=b",
            "Bearer a\u{fffd}b",
            "Bearer =",
            "Bearer ==abc",
        ] {
            assert!(parse_bearer(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(parse_bearer(b"Bearer a\xffb").is_err(), "not UTF-8");
        assert_eq!(
            parse_bearer(b"Bearer abc==").ok().flatten().as_deref(),
            Some("abc==")
        );
    }
}
