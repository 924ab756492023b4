//! Browser sessions: login (authorization code + PKCE), callback, cookies, refresh rotation,
//! sign-out and the userinfo envelope, framework-neutral.
//!
//! A [`SessionConfig`] turns an [`Authenticator`](crate::Authenticator) into a login client:
//! [`AuthenticatorBuilder::sessions`](crate::AuthenticatorBuilder::sessions). Adapters mount
//! [`Authenticator::handle`](crate::Authenticator::handle) as the helper routes `/auth/login`,
//! `/auth/callback`, `POST /auth/refresh`, `POST /auth/signout` and `/auth/me`; the session
//! cookie becomes a credential source beside `Authorization: Bearer`.
//!
//! The engine's parts, one file each: `routes` (the five flows), `oauth` (the token, revocation
//! and userinfo endpoints), `refresh` (one refresh per session, the grace window), `cookies`
//! (the sealed cookies and the cross-site check), `seal` (AES-256-GCM).
//!
//! Cookies (see `docs/sessions.md`): the access token, the refresh token and each login's flow
//! state live in separate cookies, sealed with AES-256-GCM under a key derived from
//! `AUTH_COOKIE_SECRET`; `HttpOnly` always, `Secure` and the `__Host-` prefix whenever the app is
//! served over https, `SameSite=Lax` by default.

pub(crate) mod cookies;
pub(crate) mod oauth;
pub(crate) mod opened;
pub(crate) mod refresh;
mod routes;
pub(crate) mod seal;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigError, Secret};
use seal::{MIN_SECRET_LEN, Sealer};

/// How long a finished refresh is shared with requests racing it (see
/// [`SessionConfigBuilder::refresh_grace`]).
const DEFAULT_REFRESH_GRACE: Duration = Duration::from_secs(5);
const MAX_REFRESH_GRACE: Duration = Duration::from_secs(60);

/// When a failed refresh clears the session cookies.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClearPolicy {
    /// Only when the failure is final: `invalid_grant` (expired, revoked or reused refresh token,
    /// disabled user). Network errors and 5xx keep the cookies and answer 503 + `Retry-After`.
    #[default]
    TerminalOnly,
    /// On any failure.
    Always,
    /// Never (the application decides).
    Never,
}

/// How the client authenticates at the token endpoint.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic` (RFC 6749 §2.3.1): the default with a secret.
    Basic,
    /// `client_secret_post`.
    Post,
    /// A public client: no secret, PKCE only.
    None,
    /// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT signed with the
    /// client's [`ClientKey`](crate::ClientKey), whose public key the provider has registered.
    PrivateKeyJwt,
}

impl ClientAuth {
    /// The method's registered name (`client_secret_basic`, `client_secret_post`, `none`,
    /// `private_key_jwt`), as in `token_endpoint_auth_method`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "client_secret_basic",
            Self::Post => "client_secret_post",
            Self::None => "none",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// The `SameSite` attribute.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent on top-level cross-site navigations (needed for the redirect back from the provider).
    #[default]
    Lax,
    /// Never sent cross-site. The login flow cookie stays `Lax` regardless.
    Strict,
    /// Always sent (requires `Secure`).
    None,
}

/// Configuration of browser sessions: the login client (client id and secret, redirect URI,
/// scopes) and its cookies. Build with [`SessionConfig::builder`] or [`SessionConfig::from_env`].
///
/// ```
/// use auth_core::session::SessionConfig;
/// let sessions = SessionConfig::builder("https://app.example.com")
///     .client_id("web-app")
///     .client_secret("client-secret")
///     .cookie_secret("a cookie secret of at least 32 characters")
///     .build()?;
/// assert_eq!(sessions.redirect_uri(), "https://app.example.com/auth/callback");
/// # Ok::<(), auth_core::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SessionConfig {
    pub(crate) app_url: url::Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) provider_timeout: Duration,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) prefix: String,
    pub(crate) scopes: String,
    pub(crate) resource: Option<String>,
    pub(crate) audience_param: Option<String>,
    pub(crate) extra_params: Vec<(String, String)>,
    pub(crate) cookie_base: String,
    /// The session cookie's name, read on every request (`cookie_name("session")`).
    pub(crate) session_cookie: String,
    pub(crate) secure: bool,
    pub(crate) host_prefix: bool,
    pub(crate) same_site: SameSite,
    pub(crate) domain: Option<String>,
    pub(crate) sealer: Arc<Sealer>,
    pub(crate) return_to_origins: Vec<String>,
    pub(crate) clear_policy: ClearPolicy,
    pub(crate) client_auth: Option<ClientAuth>,
    pub(crate) client_key: Option<crate::ClientKey>,
    pub(crate) assertion_audience: Option<String>,
    pub(crate) end_session: bool,
    pub(crate) post_logout_path: String,
    pub(crate) flow_ttl: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) refresh_grace: Duration,
    /// Session cookies opened before, by their sealed value.
    pub(crate) opened: opened::OpenedSessions,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("app_url", &self.app_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("prefix", &self.prefix)
            .field("scopes", &self.scopes)
            .field("secure", &self.secure)
            .field("host_prefix", &self.host_prefix)
            .field("same_site", &self.same_site)
            .field("clear_policy", &self.clear_policy)
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    /// Starts a builder for an app served at `app_url` (e.g. `https://app.example.com`).
    pub fn builder(app_url: impl Into<String>) -> SessionConfigBuilder {
        SessionConfigBuilder {
            app_url: app_url.into(),
            ..SessionConfigBuilder::default()
        }
    }

    /// Reads the session settings from the environment (see
    /// [`SessionConfigBuilder::from_env`]) and builds them.
    ///
    /// # Errors
    /// `config_invalid` naming the variable.
    pub fn from_env() -> Result<SessionConfig, ConfigError> {
        SessionConfigBuilder::from_env()?.build()
    }

    /// The path prefix of the helper routes (default `/auth`).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The OAuth client id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The redirect URI registered with the provider: `{app_url}{prefix}/callback`.
    #[must_use]
    pub fn redirect_uri(&self) -> String {
        format!(
            "{}{}/callback",
            self.app_url.as_str().trim_end_matches('/'),
            self.prefix
        )
    }

    /// Whether cookies are sealed with a random per-process key (no `AUTH_COOKIE_SECRET`).
    #[must_use]
    pub fn uses_ephemeral_key(&self) -> bool {
        self.sealer.is_ephemeral()
    }

    pub(crate) fn cookie_name(&self, suffix: &str) -> String {
        cookie_name(self.host_prefix, &self.cookie_base, suffix)
    }

    pub(crate) fn app_origin(&self) -> String {
        self.app_url.origin().ascii_serialization()
    }

    /// Whether `origin` (an `Origin` header value) is the app's own or an allowed one.
    pub(crate) fn is_trusted_origin(&self, origin: &str) -> bool {
        origin == self.app_origin() || self.allowed_origins.iter().any(|o| o == origin)
    }
}

/// Builds a [`SessionConfig`].
#[derive(Default)]
#[must_use]
pub struct SessionConfigBuilder {
    app_url: String,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    provider_timeout: Option<Duration>,
    allowed_origins: Vec<String>,
    prefix: Option<String>,
    scopes: Option<String>,
    resource: Option<String>,
    audience_param: Option<String>,
    extra_params: Vec<(String, String)>,
    cookie_base: Option<String>,
    secure: Option<bool>,
    host_prefix: Option<bool>,
    same_site: SameSite,
    domain: Option<String>,
    secret: Option<String>,
    old_secrets: Vec<String>,
    return_to_origins: Vec<String>,
    clear_policy: ClearPolicy,
    client_auth: Option<ClientAuth>,
    client_key: Option<crate::ClientKey>,
    assertion_audience: Option<String>,
    end_session: Option<bool>,
    post_logout_path: Option<String>,
    flow_ttl: Option<Duration>,
    session_ttl: Option<Duration>,
    refresh_grace: Option<Duration>,
    session_cache_bytes: Option<u64>,
}

impl fmt::Debug for SessionConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfigBuilder")
            .field("app_url", &self.app_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl SessionConfigBuilder {
    /// A builder filled from the environment, for further adjustment:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `APP_URL` | where the app is served, e.g. `https://app.example.com` (required) |
    /// | `AUTH_CLIENT_ID` | the OAuth client id registered with the provider (required) |
    /// | `AUTH_CLIENT_SECRET` | its secret (optional: without it the app is a public client, PKCE only) |
    /// | `AUTH_CLIENT_KEY_FILE` | a PEM private key for `private_key_jwt` instead of a secret (or `AUTH_CLIENT_KEY`: the PEM text); `AUTH_CLIENT_KEY_ID` and `AUTH_CLIENT_KEY_ALG` override its `kid` and algorithm |
    /// | `AUTH_CLIENT_AUTH` | `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none` (optional: chosen from the credentials given) |
    /// | `AUTH_CLIENT_ASSERTION_AUDIENCE` | the `aud` of `private_key_jwt` assertions (optional: the endpoint called) |
    /// | `AUTH_COOKIE_SECRET` | 32+ characters sealing the cookies (optional: without it an ephemeral key is used and a warning logged, so sessions end at every restart) |
    /// | `AUTH_COOKIE_SECRET_OLD` | older cookie secrets, comma-separated, still accepted for reading (optional) |
    /// | `AUTH_SCOPES` | requested scopes, space-separated (optional) |
    ///
    /// # Errors
    /// `config_invalid` naming the variable when a value cannot be used. Missing required
    /// values are reported by [`build`](Self::build), also naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// ```
    /// use auth_core::session::SessionConfigBuilder;
    /// let vars = [("APP_URL", "http://127.0.0.1:3000"), ("AUTH_CLIENT_ID", "web-app")];
    /// let sessions = SessionConfigBuilder::from_vars(|name| {
    ///     vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    /// })?
    /// .build()?;
    /// assert_eq!(sessions.client_id(), "web-app");
    /// # Ok::<(), auth_core::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut b = SessionConfigBuilder::default();
        if let Some(app_url) = get("APP_URL") {
            b.app_url = app_url;
        }
        if let Some(id) = get("AUTH_CLIENT_ID") {
            b = b.client_id(id);
        }
        if let Some(secret) = get("AUTH_CLIENT_SECRET") {
            b = b.client_secret(secret);
        }
        if let Some(key) = crate::client_key::key_from_vars(&get)? {
            b = b.client_key(key);
        }
        if let Some(method) = crate::client_key::method_from_vars(&get)? {
            b = b.client_auth(method);
        }
        if let Some(audience) = get("AUTH_CLIENT_ASSERTION_AUDIENCE") {
            b = b.client_assertion_audience(audience);
        }
        if let Some(secret) = get("AUTH_COOKIE_SECRET") {
            b = b.cookie_secret(secret);
        }
        if let Some(old) = get("AUTH_COOKIE_SECRET_OLD") {
            for s in old.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                b = b.old_cookie_secret(s);
            }
        }
        if let Some(scopes) = get("AUTH_SCOPES") {
            b = b.scopes(scopes);
        }
        if let Some(bytes) = get("AUTH_SESSION_CACHE_BYTES") {
            let bytes = bytes.parse().map_err(|_| {
                ConfigError::new(
                    "AUTH_SESSION_CACHE_BYTES",
                    "must be a whole number of bytes (0 turns the cache off)",
                )
            })?;
            b = b.session_cache_bytes(bytes);
        }
        Ok(b)
    }

    /// The app's URL (`APP_URL`): the redirect URI and the cookies' origin derive from it.
    pub fn app_url(mut self, app_url: impl Into<String>) -> Self {
        self.app_url = app_url.into();
        self
    }

    /// The OAuth client id registered with the provider (required).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The OAuth client secret (absent for a public client, which uses PKCE only).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(Secret::new(secret));
        self
    }

    /// The bound on each call to the provider's token, revocation and userinfo endpoints
    /// (default 5 s).
    pub fn provider_timeout(mut self, timeout: Duration) -> Self {
        self.provider_timeout = Some(timeout);
        self
    }

    /// Another origin (`https://admin.example.com`) whose pages may send cookie-authenticated
    /// unsafe requests (`POST`, `PUT`, `PATCH`, `DELETE`) to this app. By default only the app's
    /// own origin may: a cross-site request carrying the session cookie is refused with 403.
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins
            .push(origin.into().trim_end_matches('/').to_owned());
        self
    }

    /// The helper-route prefix (default `/auth`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Requested scopes, space-separated (default `openid profile email offline_access`).
    pub fn scopes(mut self, scopes: impl Into<String>) -> Self {
        self.scopes = Some(scopes.into());
        self
    }

    /// An RFC 8707 `resource` indicator sent with the authorization and token requests.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// An `audience` parameter (Auth0 style) sent with the authorization request.
    pub fn audience_param(mut self, audience: impl Into<String>) -> Self {
        self.audience_param = Some(audience.into());
        self
    }

    /// The OIDC `prompt` parameter (`login`, `consent`, `select_account`, `none`). Some providers
    /// issue a refresh token for `offline_access` only with `prompt=consent` (OIDC Core §11,
    /// Google, oidc-provider's defaults); most first-party setups need none.
    pub fn prompt(self, prompt: impl Into<String>) -> Self {
        self.authorization_param("prompt", prompt)
    }

    /// Any extra authorization request parameter (`login_hint`, `acr_values`, `ui_locales`,
    /// Google's `access_type=offline`, ...). The parameters the flow itself sets (`state`,
    /// `code_challenge`, `redirect_uri`, ...) cannot be overridden.
    pub fn authorization_param(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }

    /// The cookie secret: any string of at least 32 characters. Keys are derived from it.
    pub fn cookie_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// An older secret, still accepted for reading cookies (key rotation).
    pub fn old_cookie_secret(mut self, secret: impl Into<String>) -> Self {
        self.old_secrets.push(secret.into());
        self
    }

    /// The cookie name stem (default `auth`: `auth.session`, `auth.refresh`, `auth.flow-…`).
    pub fn cookie_name(mut self, base: impl Into<String>) -> Self {
        self.cookie_base = Some(base.into());
        self
    }

    /// `Secure` cookies (default: on when the app URL is https).
    pub fn secure_cookies(mut self, on: bool) -> Self {
        self.secure = Some(on);
        self
    }

    /// The `__Host-` name prefix (default: on when cookies are `Secure` and no domain is set).
    pub fn host_prefix(mut self, on: bool) -> Self {
        self.host_prefix = Some(on);
        self
    }

    /// `SameSite` for the session cookies (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// A cookie `Domain` (disables the `__Host-` prefix).
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Another origin (`https://other.example.com`) that `return_to` may point at. By default
    /// only same-origin relative paths are accepted.
    pub fn allow_return_to_origin(mut self, origin: impl Into<String>) -> Self {
        self.return_to_origins
            .push(origin.into().trim_end_matches('/').to_owned());
        self
    }

    /// When a failed refresh clears cookies (default [`ClearPolicy::TerminalOnly`]).
    pub fn clear_policy(mut self, policy: ClearPolicy) -> Self {
        self.clear_policy = policy;
        self
    }

    /// The token-endpoint client authentication (default: `private_key_jwt` with a
    /// [`client_key`](Self::client_key), else Basic with a client secret, else none).
    pub fn client_auth(mut self, method: ClientAuth) -> Self {
        self.client_auth = Some(method);
        self
    }

    /// Authenticates the client with `private_key_jwt` (RFC 7523): a short-lived JWT signed
    /// with `key` instead of a shared secret.
    pub fn client_key(mut self, key: crate::ClientKey) -> Self {
        self.client_key = Some(key);
        self
    }

    /// The `aud` of `private_key_jwt` assertions: by default the endpoint called (the token
    /// endpoint, as OpenID Connect Core §9 says and Okta and Entra ID require); set the
    /// issuer identifier here for providers that follow RFC 7523bis and want it.
    pub fn client_assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.assertion_audience = Some(audience.into());
        self
    }

    /// Whether sign-out redirects to the provider's `end_session_endpoint` when it has one
    /// (default on).
    pub fn end_session(mut self, on: bool) -> Self {
        self.end_session = Some(on);
        self
    }

    /// Where the browser lands after sign-out (default `/`).
    pub fn post_logout_path(mut self, path: impl Into<String>) -> Self {
        self.post_logout_path = Some(path.into());
        self
    }

    /// How long a login may take, provider round trip included (default 10 min).
    pub fn flow_ttl(mut self, ttl: Duration) -> Self {
        self.flow_ttl = Some(ttl);
        self
    }

    /// `Max-Age` of the refresh cookie (default 14 days).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = Some(ttl);
        self
    }

    /// How long a finished refresh is shared with requests that still carry the cookies from
    /// before it (default 5 s, at most 60 s). Requests already in flight when the browser got
    /// the new cookies need only a moment; the shared result is dropped earlier still, as soon
    /// as the session refreshes again, so a replay of superseded cookies always reaches the
    /// provider (whose reuse detection then ends the session). `Duration::ZERO` disables it.
    pub fn refresh_grace(mut self, grace: Duration) -> Self {
        self.refresh_grace = Some(grace);
        self
    }

    /// The bound, in bytes, of the cache of opened session cookies (`AUTH_SESSION_CACHE_BYTES`,
    /// default 8 MiB, about 2,500 signed-in browsers); `0` turns it off.
    ///
    /// A browser sends the same sealed session cookie on every request until its access token
    /// is refreshed; opening it (base64url, AES-256-GCM and JSON over 1.5–2.5 KB) is then done
    /// once, and later requests find its access token and expiry by the whole cookie value
    /// (compared in constant time). Only cookies that opened are kept; the expiry is still
    /// checked on every request. Nothing about a session's lifetime changes.
    pub fn session_cache_bytes(mut self, bytes: u64) -> Self {
        self.session_cache_bytes = Some(bytes);
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// `config_invalid` naming the setting: a missing or bad `APP_URL`, a missing
    /// `AUTH_CLIENT_ID`, a short `AUTH_COOKIE_SECRET`, a prefix not starting with `/`,
    /// `SameSite=None` without `Secure`.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        if self.app_url.trim().is_empty() {
            return Err(ConfigError::new(
                "APP_URL",
                "is required for browser sessions",
            ));
        }
        let client_id = self
            .client_id
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new("AUTH_CLIENT_ID", "is required for browser sessions")
            })?;
        let app_url = url::Url::parse(&self.app_url)
            .map_err(|e| ConfigError::new("APP_URL", format!("is not an absolute URL ({e})")))?;
        if !matches!(app_url.scheme(), "http" | "https") || app_url.host().is_none() {
            return Err(ConfigError::new("APP_URL", "must be an http(s) URL"));
        }
        let prefix = self.prefix.unwrap_or_else(|| "/auth".into());
        if !prefix.starts_with('/') || prefix.ends_with('/') {
            return Err(ConfigError::new(
                "prefix",
                "must start with / and not end with /",
            ));
        }
        let secure = self.secure.unwrap_or(app_url.scheme() == "https");
        if self.same_site == SameSite::None && !secure {
            return Err(ConfigError::new(
                "same_site",
                "SameSite=None requires Secure cookies",
            ));
        }
        let host_prefix = self.host_prefix.unwrap_or(secure && self.domain.is_none());
        let cookie_base = self.cookie_base.unwrap_or_else(|| "auth".into());
        if host_prefix && (!secure || self.domain.is_some()) {
            return Err(ConfigError::new(
                "host_prefix",
                "__Host- needs Secure and no Domain",
            ));
        }
        let sealer = match &self.secret {
            Some(secret) => {
                if secret.chars().count() < MIN_SECRET_LEN {
                    return Err(ConfigError::new(
                        "AUTH_COOKIE_SECRET",
                        "must be at least 32 characters",
                    ));
                }
                let old: Vec<Vec<u8>> = self
                    .old_secrets
                    .iter()
                    .map(|s| s.as_bytes().to_vec())
                    .collect();
                Sealer::new(secret.as_bytes(), &old)
            }
            None => {
                tracing::warn!(
                    "AUTH_COOKIE_SECRET is not set: cookies are sealed with a random key, so every \
                     restart signs everybody out and several instances cannot share sessions. Set \
                     AUTH_COOKIE_SECRET (32+ characters) outside development."
                );
                Sealer::ephemeral()
            }
        }
        .map_err(|()| ConfigError::new("AUTH_COOKIE_SECRET", "cannot derive the sealing key"))?;
        const RESERVED: &[&str] = &[
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "resource",
            "audience",
        ];
        if let Some((name, _)) = self
            .extra_params
            .iter()
            .find(|(n, _)| RESERVED.contains(&n.as_str()))
        {
            return Err(ConfigError::new(
                "authorization_param",
                format!("{name} is set by the flow itself"),
            ));
        }
        let provider_timeout = self.provider_timeout.unwrap_or(Duration::from_secs(5));
        if provider_timeout.is_zero() || provider_timeout > Duration::from_secs(60) {
            return Err(ConfigError::new(
                "provider_timeout",
                "must be between 1 ms and 60 s",
            ));
        }
        for origin in &self.allowed_origins {
            let ok =
                url::Url::parse(origin).is_ok_and(|u| u.origin().ascii_serialization() == *origin);
            if !ok {
                return Err(ConfigError::new(
                    "allow_origin",
                    format!("{origin:?} is not an origin (scheme://host[:port])"),
                ));
            }
        }
        let client_auth = match (self.client_auth, &self.client_key) {
            (None, Some(_)) => Some(ClientAuth::PrivateKeyJwt),
            (Some(ClientAuth::PrivateKeyJwt), None) => {
                return Err(ConfigError::new(
                    "AUTH_CLIENT_KEY_FILE",
                    "private_key_jwt needs the client's private key",
                ));
            }
            (method, _) => method,
        };
        let refresh_grace = self.refresh_grace.unwrap_or(DEFAULT_REFRESH_GRACE);
        if refresh_grace > MAX_REFRESH_GRACE {
            return Err(ConfigError::new(
                "refresh_grace",
                "must be at most 60 seconds",
            ));
        }
        Ok(SessionConfig {
            app_url,
            client_id,
            client_secret: self.client_secret,
            provider_timeout,
            allowed_origins: self.allowed_origins,
            prefix,
            scopes: self
                .scopes
                .unwrap_or_else(|| "openid profile email offline_access".into()),
            resource: self.resource,
            audience_param: self.audience_param,
            extra_params: self.extra_params,
            session_cookie: cookie_name(host_prefix, &cookie_base, "session"),
            cookie_base,
            secure,
            host_prefix,
            same_site: self.same_site,
            domain: self.domain,
            sealer: Arc::new(sealer),
            return_to_origins: self.return_to_origins,
            clear_policy: self.clear_policy,
            client_auth,
            client_key: self.client_key,
            assertion_audience: self.assertion_audience,
            end_session: self.end_session.unwrap_or(true),
            post_logout_path: self.post_logout_path.unwrap_or_else(|| "/".into()),
            flow_ttl: self.flow_ttl.unwrap_or(Duration::from_secs(600)),
            session_ttl: self
                .session_ttl
                .unwrap_or(Duration::from_secs(14 * 24 * 3600)),
            refresh_grace,
            opened: opened::OpenedSessions::new(
                usize::try_from(
                    self.session_cache_bytes
                        .unwrap_or(DEFAULT_SESSION_CACHE_BYTES),
                )
                .unwrap_or(usize::MAX),
            ),
        })
    }
}

/// The error of a session flow called on an authenticator built without sessions.
pub(crate) fn not_configured() -> crate::AuthError {
    tracing::error!(
        "a session flow was called on an Authenticator without sessions: add AuthenticatorBuilder::sessions(SessionConfig)"
    );
    crate::AuthError::new(
        crate::ErrorCode::ConfigInvalid,
        "browser sessions are not configured",
    )
}

/// Validates a `return_to` value: a same-origin relative path, or an absolute URL on an
/// explicitly allowed origin. Refuses `//evil`, `/\evil`, `javascript:`, control characters and
/// their percent-encoded forms.
pub(crate) fn safe_return_to(raw: &str, allowed_origins: &[String]) -> Option<String> {
    if raw.is_empty() || raw.len() > 2048 {
        return None;
    }
    let decoded: String = url::form_urlencoded::parse(format!("x={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let suspicious = |s: &str| {
        s.chars().any(|c| c.is_control() || c == '\\')
            || s.starts_with("//")
            || s.contains("/\\")
            || s.to_ascii_lowercase().contains("javascript:")
    };
    if suspicious(raw) || suspicious(&decoded) {
        return None;
    }
    if raw.starts_with('/') {
        return Some(raw.to_owned());
    }
    let url = url::Url::parse(raw).ok()?;
    let origin = url.origin().ascii_serialization();
    allowed_origins.contains(&origin).then(|| url.to_string())
}

/// The default bound of the opened-session cache (8 MiB).
const DEFAULT_SESSION_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// A cookie's full name: `[__Host-]{base}.{suffix}`.
fn cookie_name(host_prefix: bool, base: &str, suffix: &str) -> String {
    let prefix = if host_prefix { "__Host-" } else { "" };
    format!("{prefix}{base}.{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_accepts_only_safe_targets() {
        let allowed = vec!["https://other.example.com".to_owned()];
        for ok in [
            "/",
            "/dashboard?tab=1#x",
            "/a/b%20c",
            "https://other.example.com/x",
        ] {
            assert!(safe_return_to(ok, &allowed).is_some(), "{ok}");
        }
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "https://evil.com",
            "https:evil.com",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "%2F%2Fevil.com",
            "/%2F%2Fevil.com",
            "/%5Cevil.com",
            "/%0d%0aLocation:%20https://evil.com",
            "/\r\nLocation: x",
            "http://other.example.com.evil.com/",
            "https://other.example.com@evil.com/",
            "evil.com",
            "",
        ] {
            assert_eq!(safe_return_to(bad, &allowed), None, "{bad}");
        }
    }

    #[test]
    fn config_defaults_follow_the_scheme() {
        let dev = SessionConfig::builder("http://127.0.0.1:3000")
            .client_id("app")
            .build()
            .expect("dev");
        assert!(!dev.secure && !dev.host_prefix);
        assert_eq!(dev.cookie_name("session"), "auth.session");
        assert_eq!(dev.redirect_uri(), "http://127.0.0.1:3000/auth/callback");
        let prod = SessionConfig::builder("https://app.example.com")
            .client_id("app")
            .cookie_secret("x".repeat(32))
            .build()
            .expect("prod");
        assert!(prod.secure && prod.host_prefix);
        assert_eq!(prod.cookie_name("session"), "__Host-auth.session");
        assert!(!prod.uses_ephemeral_key());
        let err = SessionConfig::builder("https://x")
            .client_id("app")
            .cookie_secret("short")
            .build()
            .expect_err("short");
        assert_eq!(err.variable(), "AUTH_COOKIE_SECRET");
        assert!(
            SessionConfig::builder("not a url")
                .client_id("app")
                .build()
                .is_err()
        );
        assert!(
            SessionConfig::builder("http://x")
                .client_id("app")
                .same_site(SameSite::None)
                .build()
                .is_err()
        );
    }

    #[test]
    fn a_missing_client_id_or_app_url_is_reported_at_setup() {
        let err = SessionConfig::builder("https://app.example.com")
            .build()
            .expect_err("no client id");
        assert_eq!(err.variable(), "AUTH_CLIENT_ID");
        let err = SessionConfigBuilder::from_vars(|_| None)
            .and_then(SessionConfigBuilder::build)
            .expect_err("nothing set");
        assert_eq!(err.variable(), "APP_URL");
    }

    #[test]
    fn allowed_origins_must_be_origins() {
        let err = SessionConfig::builder("https://app.example.com")
            .client_id("app")
            .allow_origin("https://admin.example.com/path")
            .build()
            .expect_err("a path is not an origin");
        assert_eq!(err.variable(), "allow_origin");
        let ok = SessionConfig::builder("https://app.example.com")
            .client_id("app")
            .allow_origin("https://admin.example.com/")
            .build()
            .expect("trailing slash trimmed");
        assert!(ok.is_trusted_origin("https://admin.example.com"));
        assert!(ok.is_trusted_origin("https://app.example.com"));
        assert!(!ok.is_trusted_origin("https://evil.example.com"));
    }
}
