//! Calling other protected services: a client-credentials token client (RFC 6749 §4.4) that
//! caches its token, refreshes it ahead of expiry, shares one request among concurrent callers
//! and retries transient failures with a bounded backoff.
//!
//! ```no_run
//! use auth_core::service::ServiceClient;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = ServiceClient::builder("https://login.example.com/realms/main", "orders-worker")
//!     .client_secret("s3cret")
//!     .scope("inventory:read")
//!     .build()?;
//! let token = client.access_token().await?;          // cached until shortly before it expires
//! let answer = reqwest::Client::new()
//!     .get("https://inventory.internal/api/items")
//!     .bearer_auth(token.secret())
//!     .send()
//!     .await?;
//! # let _ = answer;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;

use crate::ClientKey;
use crate::config::{ConfigError, JwksPolicy, Secret};
use crate::discovery::Discovery;
use crate::error::{AuthError, ErrorCode};
use crate::http::HttpClient;
use crate::session::ClientAuth;
use crate::session::oauth::{self, OAuthClient};

/// Lifetime assumed for a token whose response has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// A token is not handed out when it has less than this left (it could expire in flight).
const MIN_REMAINING: Duration = Duration::from_secs(5);

/// An access token for calling another service. Its `Debug` output never shows the token.
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<str>,
    expires_at: SystemTime,
}

impl AccessToken {
    /// The token, for `Authorization: Bearer`. Keep it out of logs.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// When it expires (from the token response's `expires_in`).
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Where the token endpoint is.
enum Endpoint {
    /// Read from the issuer's discovery document.
    Discovered(Arc<Discovery>),
    /// Configured.
    Fixed(String),
}

/// A client-credentials token client. Cheap to clone (shared state); one per set of
/// credentials and scopes.
#[derive(Clone)]
pub struct ServiceClient {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    client_id: String,
    credential: Credential,
    method: ClientAuth,
    scope: Option<String>,
    resources: Vec<String>,
    audience: Option<String>,
    http: Arc<dyn HttpClient>,
    timeout: Duration,
    refresh_ahead: Duration,
    attempts: u32,
    backoff: Duration,
    cached: ArcSwapOption<Cached>,
    /// Held by the one fetch in flight: concurrent callers wait for it, then read its result.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

/// What proves the client's identity.
enum Credential {
    Secret(Secret),
    Key {
        key: ClientKey,
        audience: Option<String>,
    },
}

struct Cached {
    token: AccessToken,
    /// From when on a fresh token is fetched in the background.
    refresh_at: SystemTime,
}

impl fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceClient")
            .field("client_id", &self.inner.client_id)
            .field("method", &self.inner.method)
            .field("scope", &self.inner.scope)
            .finish_non_exhaustive()
    }
}

impl ServiceClient {
    /// A builder for `client_id` at `issuer` (its token endpoint is discovered).
    pub fn builder(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> ServiceClientBuilder {
        ServiceClientBuilder {
            issuer: issuer.into(),
            token_endpoint: None,
            client_id: client_id.into(),
            secret: None,
            key: None,
            assertion_audience: None,
            method: ClientAuth::Basic,
            scope: None,
            resources: Vec::new(),
            audience: None,
            http: None,
            timeout: Duration::from_secs(10),
            refresh_ahead: Duration::from_secs(60),
            attempts: 3,
            backoff: Duration::from_millis(200),
        }
    }

    /// A client from the environment:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `AUTH_ISSUER` | the issuer (its token endpoint is discovered) |
    /// | `AUTH_TOKEN_ENDPOINT` | the token endpoint, skipping discovery (optional) |
    /// | `AUTH_CLIENT_ID` | the client id (required) |
    /// | `AUTH_CLIENT_SECRET` | its secret (required unless a private key is given) |
    /// | `AUTH_CLIENT_KEY_FILE` | a PEM private key for `private_key_jwt` (RFC 7523), or `AUTH_CLIENT_KEY` with the PEM text; `AUTH_CLIENT_KEY_ID` / `AUTH_CLIENT_KEY_ALG` override its `kid` (default: RFC 7638 thumbprint) and algorithm |
    /// | `AUTH_CLIENT_ASSERTION_AUDIENCE` | the assertions' `aud` (optional: the token endpoint) |
    /// | `AUTH_CLIENT_AUTH` | `client_secret_basic` (default with a secret), `client_secret_post` or `private_key_jwt` (default with a key) |
    /// | `AUTH_CLIENT_SCOPE` | scopes to ask for, space-separated (optional) |
    /// | `AUTH_CLIENT_RESOURCE` | RFC 8707 resource indicators, comma-separated (optional) |
    ///
    /// # Errors
    /// `config_invalid` naming the variable.
    pub fn from_env() -> Result<ServiceClient, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_vars(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ServiceClient, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let issuer = get("AUTH_ISSUER").unwrap_or_default();
        let client_id = get("AUTH_CLIENT_ID")
            .ok_or_else(|| ConfigError::new("AUTH_CLIENT_ID", "is required"))?;
        let mut b = ServiceClient::builder(issuer, client_id);
        if let Some(secret) = get("AUTH_CLIENT_SECRET") {
            b = b.client_secret(secret);
        }
        if let Some(key) = crate::client_key::key_from_vars(&get)? {
            b = b.client_key(key);
        }
        if let Some(audience) = get("AUTH_CLIENT_ASSERTION_AUDIENCE") {
            b = b.client_assertion_audience(audience);
        }
        if let Some(endpoint) = get("AUTH_TOKEN_ENDPOINT") {
            b = b.token_endpoint(endpoint);
        }
        match crate::client_key::method_from_vars(&get)? {
            None => {}
            Some(ClientAuth::None) => {
                return Err(ConfigError::new(
                    "AUTH_CLIENT_AUTH",
                    "the client_credentials grant needs a confidential client: client_secret_basic, client_secret_post or private_key_jwt",
                ));
            }
            Some(method) => b = b.client_auth(method),
        }
        if let Some(scope) = get("AUTH_CLIENT_SCOPE") {
            b = b.scope(scope);
        }
        if let Some(list) = get("AUTH_CLIENT_RESOURCE") {
            for resource in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                b = b.resource(resource);
            }
        }
        b.build()
    }

    /// A valid access token: the cached one while it has more than a few seconds left (a
    /// fresh one is fetched in the background once it nears its expiry), otherwise a new one.
    /// Concurrent callers share one token request.
    ///
    /// # Errors
    /// `network` / `discovery_failed` (503, retryable) when the provider stays unreachable
    /// after the retries; `rate_limited` (429); `config_invalid` when it refuses the client's
    /// credentials (never retried).
    pub async fn access_token(&self) -> Result<AccessToken, AuthError> {
        let now = SystemTime::now();
        if let Some(cached) = self.usable(now) {
            if now >= cached.refresh_at {
                self.refresh_in_background();
            }
            return Ok(cached.token.clone());
        }
        let _turn = self.inner.fetching.lock().await;
        // Another caller may have fetched it while this one waited.
        if let Some(cached) = self.usable(SystemTime::now()) {
            return Ok(cached.token.clone());
        }
        self.fetch().await
    }

    /// Adds `Authorization: Bearer <token>` to a reqwest request, with a valid token from
    /// [`access_token`](Self::access_token).
    ///
    /// ```no_run
    /// # async fn run(service: auth_core::service::ServiceClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let http = reqwest::Client::new();
    /// let items = service
    ///     .bearer(http.get("https://inventory.internal/api/items"))
    ///     .await?
    ///     .send()
    ///     .await?;
    /// # let _ = items; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`access_token`](Self::access_token).
    #[cfg(feature = "reqwest")]
    pub async fn bearer(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, AuthError> {
        let token = self.access_token().await?;
        Ok(request.bearer_auth(token.secret()))
    }

    /// Drops the cached token (after the called service answered 401 with it, say): the next
    /// [`access_token`](Self::access_token) fetches a new one.
    pub fn invalidate(&self) {
        self.inner.cached.store(None);
    }

    /// Drops `token` from the cache if it is still the cached one.
    #[cfg_attr(not(feature = "reqwest-middleware"), allow(dead_code))]
    fn forget(&self, token: &AccessToken) {
        self.inner.cached.rcu(|current| match current {
            Some(cached) if Arc::ptr_eq(&cached.token.secret, &token.secret) => None,
            other => other.clone(),
        });
    }

    fn usable(&self, now: SystemTime) -> Option<Arc<Cached>> {
        self.inner.cached.load_full().filter(|c| {
            c.token
                .expires_at
                .duration_since(now)
                .is_ok_and(|left| left > MIN_REMAINING)
        })
    }

    fn refresh_in_background(&self) {
        let Ok(turn) = Arc::clone(&self.inner.fetching).try_lock_owned() else {
            return; // a fetch is already running
        };
        let this = self.clone();
        tokio::spawn(async move {
            let _turn = turn;
            if let Err(e) = this.fetch().await {
                tracing::warn!(
                    code = e.code().as_str(),
                    "refreshing the service token ahead of expiry failed; the current one is kept"
                );
            }
        });
    }

    /// One token request, retried with exponential backoff on transient failures.
    async fn fetch(&self) -> Result<AccessToken, AuthError> {
        let inner = &self.inner;
        let mut delay = inner.backoff;
        let mut attempt = 1;
        loop {
            match self.request().await {
                Ok(token) => return Ok(token),
                Err(e) if e.is_retryable() && attempt < inner.attempts => {
                    tracing::debug!(
                        code = e.code().as_str(),
                        attempt,
                        "token request failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn request(&self) -> Result<AccessToken, AuthError> {
        let inner = &self.inner;
        let endpoint = match &inner.endpoint {
            Endpoint::Fixed(url) => url.clone(),
            Endpoint::Discovered(discovery) => discovery
                .metadata()
                .await?
                .token_endpoint
                .clone()
                .ok_or_else(|| {
                AuthError::new(
                    ErrorCode::DiscoveryFailed,
                    "the provider has no token endpoint",
                )
            })?,
        };
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &inner.scope {
            form.push(("scope", scope));
        }
        for resource in &inner.resources {
            form.push(("resource", resource));
        }
        if let Some(audience) = &inner.audience {
            form.push(("audience", audience));
        }
        let client = match &inner.credential {
            Credential::Secret(secret) => OAuthClient {
                id: &inner.client_id,
                secret: Some(secret.expose()),
                method: Some(inner.method),
                timeout: inner.timeout,
                key: None,
            },
            Credential::Key { key, audience } => OAuthClient {
                id: &inner.client_id,
                secret: None,
                method: Some(ClientAuth::PrivateKeyJwt),
                timeout: inner.timeout,
                key: Some((key, audience.as_deref())),
            },
        };
        let requested = SystemTime::now();
        let result = oauth::token_request_to(&*inner.http, &client, &endpoint, &form).await;
        crate::metrics::service_token(&result);
        let tokens = result?;
        let lifetime = tokens
            .expires_in
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(DEFAULT_LIFETIME, |s| {
                Duration::from_secs_f64(s.min(86_400.0 * 365.0))
            });
        // Counted from the request, not the answer: the token's clock started at the provider.
        let expires_at = requested + lifetime;
        let ahead = inner.refresh_ahead.min(lifetime / 2);
        let token = AccessToken {
            secret: Arc::from(tokens.access_token.as_str()),
            expires_at,
        };
        inner.cached.store(Some(Arc::new(Cached {
            token: token.clone(),
            refresh_at: expires_at - ahead,
        })));
        Ok(token)
    }
}

/// Builds a [`ServiceClient`]; see [`ServiceClient::builder`].
#[must_use]
pub struct ServiceClientBuilder {
    issuer: String,
    token_endpoint: Option<String>,
    client_id: String,
    secret: Option<Secret>,
    key: Option<ClientKey>,
    assertion_audience: Option<String>,
    method: ClientAuth,
    scope: Option<String>,
    resources: Vec<String>,
    audience: Option<String>,
    http: Option<Arc<dyn HttpClient>>,
    timeout: Duration,
    refresh_ahead: Duration,
    attempts: u32,
    backoff: Duration,
}

impl fmt::Debug for ServiceClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceClientBuilder")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ServiceClientBuilder {
    /// The client secret (required).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(Secret::new(secret));
        self
    }

    /// How the secret is sent: [`ClientAuth::Basic`] (default) or [`ClientAuth::Post`].
    /// With a [`client_key`](Self::client_key) the method is `private_key_jwt`.
    pub fn client_auth(mut self, method: ClientAuth) -> Self {
        self.method = method;
        self
    }

    /// Authenticates with `private_key_jwt` (RFC 7523 §2.2): each token request carries a
    /// fresh one-minute JWT signed with `key`, instead of a shared secret.
    pub fn client_key(mut self, key: ClientKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The `aud` of `private_key_jwt` assertions: by default the token endpoint (OpenID
    /// Connect Core §9; Okta and Entra ID require it); the issuer identifier for providers that
    /// follow RFC 7523bis and want it.
    pub fn client_assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.assertion_audience = Some(audience.into());
        self
    }

    /// The token endpoint, instead of discovering it from the issuer.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// The scopes to ask for (space-separated).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// An RFC 8707 resource indicator (repeatable): the service the token is for.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Auth0's `audience` parameter (its equivalent of a resource indicator).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The HTTP client (default: the SDK's reqwest client, redirects not followed).
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = Some(client);
        self
    }

    /// The timeout of each token request (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long before expiry a fresh token is fetched in the background (default 60 s, at
    /// most half the token's lifetime).
    pub fn refresh_ahead(mut self, ahead: Duration) -> Self {
        self.refresh_ahead = ahead;
        self
    }

    /// Attempts per token request, the first included (default 3; transient failures only),
    /// and the delay before the first retry (default 200 ms, doubling).
    pub fn retries(mut self, attempts: u32, first_delay: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = first_delay;
        self
    }

    /// Validates and builds. Nothing is fetched yet.
    ///
    /// # Errors
    /// `config_invalid`: no secret, no issuer nor token endpoint, an invalid URL.
    pub fn build(self) -> Result<ServiceClient, ConfigError> {
        let credential = match (self.key, self.secret, self.method) {
            (Some(key), _, ClientAuth::Basic | ClientAuth::PrivateKeyJwt) => Credential::Key {
                key,
                audience: self.assertion_audience,
            },
            (None, _, ClientAuth::PrivateKeyJwt) => {
                return Err(ConfigError::new(
                    "AUTH_CLIENT_KEY_FILE",
                    "private_key_jwt needs the client's private key",
                ));
            }
            (_, Some(secret), _) => Credential::Secret(secret),
            (_, None, _) => {
                return Err(ConfigError::new(
                    "AUTH_CLIENT_SECRET",
                    "is required (or a private key: AUTH_CLIENT_KEY_FILE)",
                ));
            }
        };
        if self.method == ClientAuth::None {
            return Err(ConfigError::new(
                "AUTH_CLIENT_AUTH",
                "the client_credentials grant needs a confidential client (a secret)",
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::new("AUTH_CLIENT_ID", "is required"));
        }
        let http = match self.http {
            Some(http) => http,
            None => crate::verifier::default_client()?,
        };
        let endpoint = match self.token_endpoint {
            Some(url) => {
                crate::config::check_url("AUTH_TOKEN_ENDPOINT", &url, false)?;
                Endpoint::Fixed(url)
            }
            None if self.issuer.trim().is_empty() => {
                return Err(ConfigError::new(
                    "AUTH_ISSUER",
                    "is required (or AUTH_TOKEN_ENDPOINT)",
                ));
            }
            None => {
                crate::config::check_url("AUTH_ISSUER", &self.issuer, false)?;
                Endpoint::Discovered(Discovery::new(
                    self.issuer,
                    Arc::clone(&http),
                    JwksPolicy::default(),
                ))
            }
        };
        Ok(ServiceClient {
            inner: Arc::new(Inner {
                endpoint,
                client_id: self.client_id,
                credential,
                method: self.method,
                scope: self.scope,
                resources: self.resources,
                audience: self.audience,
                http,
                timeout: self.timeout,
                refresh_ahead: self.refresh_ahead,
                attempts: self.attempts,
                backoff: self.backoff,
                cached: ArcSwapOption::empty(),
                fetching: Arc::new(tokio::sync::Mutex::new(())),
            }),
        })
    }
}

/// `ServiceClient` as a [`reqwest_middleware`] middleware (feature `reqwest-middleware`): each
/// request gets `Authorization: Bearer <token>` (unless it has an `Authorization` header
/// already). When the called service answers 401, the token is dropped from the cache and the
/// request is sent once more with a fresh token (when its body can be cloned).
///
/// ```no_run
/// # async fn run(service: auth_core::service::ServiceClient) -> Result<(), Box<dyn std::error::Error>> {
/// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(service)                                   // cheap: clones share the token
///     .build();
/// let items = http.get("https://inventory.internal/api/items").send().await?;
/// # let _ = items; Ok(()) }
/// ```
#[cfg(feature = "reqwest-middleware")]
#[async_trait::async_trait]
impl reqwest_middleware::Middleware for ServiceClient {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        if request
            .headers()
            .contains_key(reqwest::header::AUTHORIZATION)
        {
            return next.run(request, extensions).await;
        }
        let token = self
            .access_token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let retry = request.try_clone();
        set_bearer(&mut request, &token)?;
        let response = next.clone().run(request, extensions).await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        // The service refused this token (revoked, or its key rotated away): forget it, unless
        // another request replaced it already, and try once with a fresh one.
        self.forget(&token);
        let Some(mut again) = retry else {
            return Ok(response);
        };
        let fresh = self
            .access_token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        set_bearer(&mut again, &fresh)?;
        next.run(again, extensions).await
    }
}

#[cfg(feature = "reqwest-middleware")]
fn set_bearer(
    request: &mut reqwest::Request,
    token: &AccessToken,
) -> reqwest_middleware::Result<()> {
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.secret()))
        .map_err(|_| {
        reqwest_middleware::Error::middleware(AuthError::new(
            ErrorCode::InvalidGrant,
            "the provider issued an access token that is not a valid header value",
        ))
    })?;
    value.set_sensitive(true);
    request
        .headers_mut()
        .insert(reqwest::header::AUTHORIZATION, value);
    Ok(())
}
