//! Configuration: a validated [`AuthConfig`], built with [`AuthConfig::builder`] or read from
//! the environment with [`AuthConfig::from_env`].
//!
//! ```
//! use std::time::Duration;
//! use auth_core::AuthConfig;
//!
//! let config = AuthConfig::builder()
//!     .issuer("https://login.example.com/realms/main")
//!     .audience("orders-api")
//!     .leeway(Duration::from_secs(10))
//!     .build()?;
//! assert_eq!(config.issuer(), "https://login.example.com/realms/main");
//! # Ok::<(), auth_core::ConfigError>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::alg::Algorithm;
use crate::claims::ClaimMapping;
use crate::error::{AuthError, ErrorCode};
use crate::http::HttpClient;
use crate::introspection::{Introspection, TokenFormat};
use crate::jwk::KeySet;

/// The default clock leeway: 30 seconds.
///
/// Enough for ordinary clock drift between an identity provider and a fleet of servers, and small
/// enough that an expired token is refused within half a minute (RFC 7519 §4.1.4 suggests "no
/// more than a few minutes").
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The largest leeway accepted: 5 minutes.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The default maximum token size: 16 KiB, checked before any decoding.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A setup error: a missing or invalid configuration value. Its code is always
/// [`ErrorCode::ConfigInvalid`]; [`ConfigError::variable`] names the environment variable or
/// builder setting at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    variable: &'static str,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            variable,
            message: message.into(),
        }
    }

    /// The environment variable (e.g. `AUTH_ISSUER`) or setting at fault.
    #[must_use]
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// What is wrong with the value (without the variable name).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Always [`ErrorCode::ConfigInvalid`].
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        ErrorCode::ConfigInvalid
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration: {}: {}",
            self.variable, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for AuthError {
    fn from(e: ConfigError) -> Self {
        AuthError::new(ErrorCode::ConfigInvalid, e.to_string())
    }
}

/// A secret string (client secret, shared key) that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().into_boxed_str())
    }

    /// The secret value. Keep it out of logs.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// How the key set is fetched, cached and refreshed. Every default is documented on its setter.
///
/// ```
/// use std::time::Duration;
/// use auth_core::JwksPolicy;
/// let policy = JwksPolicy::default()
///     .unknown_kid_cooldown(Duration::from_secs(10))
///     .stale_if_error(Duration::from_secs(6 * 3600));
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksPolicy {
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_body: usize,
    pub(crate) default_ttl: Duration,
    pub(crate) min_ttl: Duration,
    pub(crate) max_ttl: Duration,
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) stale_if_error: Duration,
    pub(crate) background_refresh: bool,
    pub(crate) min_backoff: Duration,
    pub(crate) max_backoff: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        JwksPolicy {
            fetch_timeout: Duration::from_secs(5),
            max_body: 512 * 1024,
            default_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            unknown_kid_cooldown: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(3600),
            background_refresh: true,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl JwksPolicy {
    /// Bound on one fetch, connect to last byte (default 5 s). Also used for discovery.
    #[must_use]
    pub fn fetch_timeout(mut self, d: Duration) -> Self {
        self.fetch_timeout = d;
        self
    }

    /// Cap on a key-set or discovery body (default 512 KiB).
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Freshness when the response has no `Cache-Control: max-age` (default 10 min).
    #[must_use]
    pub fn default_ttl(mut self, d: Duration) -> Self {
        self.default_ttl = d;
        self
    }

    /// Bounds applied to `max-age` (default 60 s to 24 h): a `max-age=0` or `no-store` does not
    /// make every request fetch, and a year-long `max-age` does not pin a key forever.
    #[must_use]
    pub fn ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_ttl = min;
        self.max_ttl = max;
        self
    }

    /// Minimum interval between refetches caused by unknown `kid`s (default 30 s). The first such
    /// refetch is always immediate, even right after a routine fetch; later ones wait for the
    /// cooldown, so a flood of random `kid`s fails fast without reaching the provider.
    #[must_use]
    pub fn unknown_kid_cooldown(mut self, d: Duration) -> Self {
        self.unknown_kid_cooldown = d;
        self
    }

    /// How long past its freshness the last known good key set keeps being used while refreshes
    /// fail (default 1 h). After that, requests answer `jwks_unavailable` (503) until the
    /// provider is back. `Duration::ZERO` fails closed as soon as the set expires.
    #[must_use]
    pub fn stale_if_error(mut self, d: Duration) -> Self {
        self.stale_if_error = d;
        self
    }

    /// Whether a background task refreshes the set before it expires (default on; refresh at
    /// 75–90 % of the freshness lifetime, jittered so that a fleet does not fetch in lockstep).
    #[must_use]
    pub fn background_refresh(mut self, on: bool) -> Self {
        self.background_refresh = on;
        self
    }

    /// Backoff after failed fetches: doubling from `min` to `max` with jitter (default 1 s to
    /// 30 s). While backing off, requests that need a fetch fail fast with `jwks_unavailable`.
    #[must_use]
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max;
        self
    }
}

/// Where the current time comes from (for tests; the default is the system clock).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A validated configuration. Cheap to clone.
#[derive(Clone)]
pub struct AuthConfig {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) static_keys: Option<Arc<KeySet>>,
    pub(crate) leeway: Duration,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) require_typ: bool,
    pub(crate) rfc9068: bool,
    pub(crate) max_token_bytes: usize,
    pub(crate) jwks: JwksPolicy,
    pub(crate) hmac_secret: Option<Arc<[u8]>>,
    pub(crate) claim_mapping: Arc<ClaimMapping>,
    pub(crate) http: Option<Arc<dyn HttpClient>>,
    pub(crate) clock: Option<Clock>,
    pub(crate) introspection: Option<Introspection>,
    pub(crate) token_format: TokenFormat,
    /// For an issuer pattern (`{tenant}` in the issuer): the allowed tenants (all when `None`)
    /// and how many tenants' issuers may exist at once.
    pub(crate) tenants: Option<Arc<[String]>>,
    pub(crate) max_tenants: u64,
    /// The verified-token cache's bound in bytes; 0 turns it off.
    pub(crate) token_cache_bytes: u64,
}

/// The placeholder of an issuer pattern.
pub(crate) const TENANT_PLACEHOLDER: &str = "{tenant}";

/// How many tenants of an issuer pattern have an issuer (key cache, discovery) at once, by
/// default.
pub(crate) const DEFAULT_MAX_TENANTS: u64 = 100;

impl AuthConfig {
    /// Every trusted issuer's configuration from the environment, the primary first: one for
    /// `AUTH_ISSUER`, or one per issuer of `AUTH_ISSUERS` (comma-separated, each sharing the
    /// other `AUTH_*` settings; `AUTH_ISSUER`, when also set, is the primary). What
    /// [`Verifier::from_env`](crate::Verifier::from_env) and `auth doctor` read.
    ///
    /// # Errors
    /// `config_invalid` naming the variable; `AUTH_JWKS_URI` with `AUTH_ISSUERS` (each issuer's
    /// keys are discovered).
    pub fn all_from_vars(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<AuthConfig>, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let Some(list) = get("AUTH_ISSUERS") else {
            return Ok(vec![AuthConfigBuilder::from_vars(&lookup)?.build()?]);
        };
        if get("AUTH_JWKS_URI").is_some() {
            return Err(ConfigError::new(
                "AUTH_JWKS_URI",
                "cannot be shared by several issuers (AUTH_ISSUERS): each one's keys are discovered",
            ));
        }
        let mut issuers: Vec<String> = get("AUTH_ISSUER")
            .into_iter()
            .map(|i| i.trim().to_owned())
            .collect();
        for issuer in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if !issuers.iter().any(|known| known == issuer) {
                issuers.push(issuer.to_owned());
            }
        }
        if issuers.is_empty() {
            return Err(ConfigError::new("AUTH_ISSUERS", "lists no issuer"));
        }
        issuers
            .iter()
            .map(|issuer| {
                let one = |name: &str| match name {
                    "AUTH_ISSUER" => Some(issuer.clone()),
                    // The tenant settings are for the issuer pattern among them.
                    "AUTH_TENANTS" | "AUTH_MAX_TENANTS" if !issuer.contains(TENANT_PLACEHOLDER) => {
                        None
                    }
                    _ => lookup(name),
                };
                AuthConfigBuilder::from_vars(one)?.build().map_err(|e| {
                    if e.variable() == "AUTH_ISSUER" {
                        ConfigError::new("AUTH_ISSUERS", format!("{issuer}: {}", e.message()))
                    } else {
                        e
                    }
                })
            })
            .collect()
    }

    /// How long an introspection answer may stand in for a missing `exp`.
    pub(crate) fn introspection_max_ttl(&self) -> Duration {
        self.introspection
            .as_ref()
            .map_or(Duration::ZERO, |i| i.max_ttl)
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("jwks_uri", &self.jwks_uri)
            .field("static_keys", &self.static_keys.is_some())
            .field("leeway", &self.leeway)
            .field("algorithms", &self.algorithms)
            .field("require_typ", &self.require_typ)
            .field("rfc9068", &self.rfc9068)
            .field("max_token_bytes", &self.max_token_bytes)
            .field("jwks", &self.jwks)
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Starts a builder.
    pub fn builder() -> AuthConfigBuilder {
        AuthConfigBuilder::default()
    }

    /// Reads the configuration from the environment (see [`AuthConfigBuilder::from_env`]).
    ///
    /// # Errors
    /// `config_invalid`, naming the variable, for a missing or bad value.
    pub fn from_env() -> Result<AuthConfig, ConfigError> {
        AuthConfigBuilder::from_env()?.build()
    }

    /// The issuer identifier, exactly as configured (tokens' `iss` must equal it).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The accepted audiences (empty only with `insecure_skip_audience_check`).
    #[must_use]
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// For an issuer pattern (`{tenant}` in the issuer): the allowed tenants, `None` when any
    /// tenant is (or for a concrete issuer).
    #[must_use]
    pub fn tenants(&self) -> Option<&[String]> {
        self.tenants.as_deref()
    }

    /// Whether the issuer is a pattern for a multi-tenant provider (`{tenant}` in it).
    #[must_use]
    pub fn is_issuer_pattern(&self) -> bool {
        self.issuer.contains(TENANT_PLACEHOLDER)
    }

    /// The configured JWKS URI override, if any.
    #[must_use]
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }

    /// The clock leeway.
    #[must_use]
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// The algorithm allow-list.
    #[must_use]
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The key-set policy.
    #[must_use]
    pub fn jwks_policy(&self) -> &JwksPolicy {
        &self.jwks
    }

    pub(crate) fn now(&self) -> SystemTime {
        match &self.clock {
            Some(clock) => clock(),
            None => SystemTime::now(),
        }
    }
}

/// Builds an [`AuthConfig`]; [`build`](AuthConfigBuilder::build) validates everything.
#[derive(Default)]
#[must_use]
pub struct AuthConfigBuilder {
    issuer: Option<String>,
    audiences: Vec<String>,
    skip_audience: bool,
    jwks_uri: Option<String>,
    static_keys: Option<Arc<KeySet>>,
    leeway: Option<Duration>,
    algorithms: Option<Vec<Algorithm>>,
    require_typ: bool,
    rfc9068: bool,
    max_token_bytes: Option<usize>,
    jwks: JwksPolicy,
    hmac_secret: Option<Arc<[u8]>>,
    claim_mapping: Option<ClaimMapping>,
    http: Option<Arc<dyn HttpClient>>,
    clock: Option<Clock>,
    insecure_http: bool,
    introspection: Option<Introspection>,
    token_format: Option<TokenFormat>,
    tenants: Option<Vec<String>>,
    max_tenants: Option<u64>,
    token_cache_bytes: Option<u64>,
}

impl fmt::Debug for AuthConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfigBuilder")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl AuthConfigBuilder {
    /// A builder filled from the environment, for further adjustment:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `AUTH_ISSUER` | issuer URL (required) |
    /// | `AUTH_AUDIENCE` | accepted audiences, comma-separated (required) |
    /// | `AUTH_JWKS_URI` | key-set URL, skipping discovery (optional) |
    /// | `AUTH_LEEWAY_SECS` | clock leeway in whole seconds, 0–300 (optional, default 30) |
    /// | `AUTH_TOKEN_FORMAT` | `jwt` (default), `opaque` or `auto` (JWTs locally, others introspected) |
    /// | `AUTH_INTROSPECTION_CLIENT_ID`, `_SECRET` | the resource server's credentials for RFC 7662 introspection (default `AUTH_CLIENT_ID`, `AUTH_CLIENT_SECRET`) |
    /// | `AUTH_INTROSPECTION_ENDPOINT` | the endpoint, instead of the discovery document's |
    /// | `AUTH_INTROSPECTION_MAX_TTL_SECS` | the longest an answer is reused (default 60) |
    ///
    /// The login client's settings (`AUTH_CLIENT_ID`, `AUTH_CLIENT_SECRET`, `APP_URL`, ...) are
    /// read by [`SessionConfigBuilder::from_env`](crate::session::SessionConfigBuilder::from_env):
    /// a bearer-only API needs none of them.
    ///
    /// # Errors
    /// `config_invalid` naming the variable when a value cannot be parsed. Missing required
    /// values are reported by [`build`](AuthConfigBuilder::build), also naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut b = AuthConfigBuilder::default();
        if let Some(issuer) = get("AUTH_ISSUER") {
            b = b.issuer(issuer);
        }
        if let Some(list) = get("AUTH_TENANTS") {
            b = b.tenants(list.split(',').map(str::trim).filter(|t| !t.is_empty()));
        }
        if let Some(bytes) = get("AUTH_TOKEN_CACHE_BYTES") {
            let bytes = bytes.parse().map_err(|_| {
                ConfigError::new(
                    "AUTH_TOKEN_CACHE_BYTES",
                    "must be a whole number of bytes (0 turns the cache off)",
                )
            })?;
            b = b.token_cache_bytes(bytes);
        }
        if let Some(max) = get("AUTH_MAX_TENANTS") {
            let max = max
                .parse()
                .map_err(|_| ConfigError::new("AUTH_MAX_TENANTS", "must be a whole number"))?;
            b = b.max_tenants(max);
        }
        if let Some(aud) = get("AUTH_AUDIENCE") {
            let list: Vec<String> = aud
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if list.is_empty() {
                return Err(ConfigError::new("AUTH_AUDIENCE", "no audience in the list"));
            }
            b = b.audiences(list);
        }
        if let Some(uri) = get("AUTH_JWKS_URI") {
            b = b.jwks_uri(uri);
        }
        if let Some(secs) = get("AUTH_LEEWAY_SECS") {
            let secs: u64 = secs.parse().map_err(|_| {
                ConfigError::new("AUTH_LEEWAY_SECS", "must be a whole number of seconds")
            })?;
            b = b.leeway(Duration::from_secs(secs));
        }
        let format = match get("AUTH_TOKEN_FORMAT").as_deref() {
            None => None,
            Some("jwt") => Some(TokenFormat::Jwt),
            Some("opaque") => Some(TokenFormat::Opaque),
            Some("auto") => Some(TokenFormat::Auto),
            Some(other) => {
                return Err(ConfigError::new(
                    "AUTH_TOKEN_FORMAT",
                    format!("{other:?} is not one of jwt, opaque, auto"),
                ));
            }
        };
        if let Some(format) = format {
            b = b.token_format(format);
        }
        let id = get("AUTH_INTROSPECTION_CLIENT_ID");
        let secret = get("AUTH_INTROSPECTION_CLIENT_SECRET");
        let wants = id.is_some() || matches!(format, Some(TokenFormat::Opaque | TokenFormat::Auto));
        if wants {
            // The resource server's own client, else the app's login client.
            let id = id.or_else(|| get("AUTH_CLIENT_ID")).ok_or_else(|| {
                ConfigError::new(
                    "AUTH_INTROSPECTION_CLIENT_ID",
                    "is required for introspection",
                )
            })?;
            let secret = secret
                .or_else(|| get("AUTH_CLIENT_SECRET"))
                .ok_or_else(|| {
                    ConfigError::new(
                        "AUTH_INTROSPECTION_CLIENT_SECRET",
                        "is required for introspection",
                    )
                })?;
            let mut introspection = Introspection::new(id, secret);
            if let Some(endpoint) = get("AUTH_INTROSPECTION_ENDPOINT") {
                introspection = introspection.endpoint(endpoint);
            }
            if let Some(secs) = get("AUTH_INTROSPECTION_MAX_TTL_SECS") {
                let secs: u64 = secs.parse().map_err(|_| {
                    ConfigError::new(
                        "AUTH_INTROSPECTION_MAX_TTL_SECS",
                        "must be a whole number of seconds",
                    )
                })?;
                introspection = introspection.max_ttl(Duration::from_secs(secs));
            }
            b = b.introspection(introspection);
        }
        Ok(b)
    }

    /// The issuer identifier (required). Tokens' `iss` must equal it exactly; discovery reads
    /// `{issuer}/.well-known/openid-configuration`, then RFC 8414's
    /// `/.well-known/oauth-authorization-server{path}`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an accepted audience: a token is accepted when its `aud` contains any of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds several accepted audiences.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Accepts tokens for any audience. RFC 9068 §4 requires resource servers to check `aud`;
    /// only use this for tools (such as `auth verify` without `--audience`).
    pub fn insecure_skip_audience_check(mut self) -> Self {
        self.skip_audience = true;
        self
    }

    /// Fetches keys from this URL instead of the one discovery advertises.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Uses a fixed key set: no discovery, no fetching.
    pub fn static_keys(mut self, keys: KeySet) -> Self {
        self.static_keys = Some(Arc::new(keys));
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat` (default [`DEFAULT_LEEWAY`], at most
    /// [`MAX_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// The algorithm allow-list (default: every asymmetric algorithm, plus HMAC when a shared
    /// secret is configured). Checked before any key lookup or refetch.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Requires the header `typ` to be `at+jwt` (RFC 9068 §2.1; case-insensitive, with or without
    /// `application/`). Off by default because several providers omit `typ`.
    pub fn require_access_token_typ(mut self, on: bool) -> Self {
        self.require_typ = on;
        self
    }

    /// The full RFC 9068 profile: `typ` = `at+jwt`, and `sub`, `client_id`, `iat` and `jti`
    /// required.
    pub fn rfc9068_profile(mut self, on: bool) -> Self {
        self.rfc9068 = on;
        self
    }

    /// Maximum token length in bytes (default 16 KiB), checked before decoding.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = Some(bytes);
        self
    }

    /// The key-set policy.
    pub fn jwks_policy(mut self, policy: JwksPolicy) -> Self {
        self.jwks = policy;
        self
    }

    /// A shared secret for HS256/384/512 tokens. Must be at least as long as the hash (32 bytes
    /// for HS256, RFC 7518 §3.2). Remote key sets never yield HMAC keys.
    pub fn hmac_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.hmac_secret = Some(Arc::from(secret.as_ref()));
        self
    }

    /// Where roles, permissions, scopes, email and tenant live in tokens (default
    /// [`ClaimMapping::default`]).
    pub fn claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.claim_mapping = Some(mapping);
        self
    }

    /// A custom HTTP client.
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = Some(client);
        self
    }

    /// A custom clock (tests).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Introspects opaque access tokens at the issuer (RFC 7662); see
    /// [`introspection`](crate::introspection). The token format then defaults to
    /// [`TokenFormat::Auto`].
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Which tokens are introspected rather than verified as JWTs (default
    /// [`TokenFormat::Jwt`], or [`TokenFormat::Auto`] with [`introspection`](Self::introspection)).
    pub fn token_format(mut self, format: TokenFormat) -> Self {
        self.token_format = Some(format);
        self
    }

    /// For an issuer pattern (an issuer with a `{tenant}` path segment, such as
    /// `https://login.microsoftonline.com/{tenant}/v2.0`): only these tenants are trusted
    /// (`AUTH_TENANTS`, comma-separated). Without it, any tenant of the provider is.
    pub fn tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenants = Some(tenants.into_iter().map(Into::into).collect());
        self
    }

    /// For an issuer pattern: how many tenants have their own issuer (discovery and key cache)
    /// at once (`AUTH_MAX_TENANTS`, default 100). The cache is frequency-aware: a flood of
    /// tokens naming new tenants does not evict the tenants in use.
    pub fn max_tenants(mut self, max: u64) -> Self {
        self.max_tenants = Some(max);
        self
    }

    /// The verified-token cache's bound, in bytes of cached claims (`AUTH_TOKEN_CACHE_BYTES`,
    /// default 32 MiB, about 35,000 typical access tokens); `0` turns the cache off, so that
    /// every request pays the full signature check.
    ///
    /// A JWT that verified is then accepted again from the cache until its `exp` (plus the
    /// leeway, as the full check would), as long as the key that signed it is still in the
    /// issuer's fresh key set and its `jti` was not revoked ([`Verifier::revoke_jti`]).
    ///
    /// [`Verifier::revoke_jti`]: crate::Verifier::revoke_jti
    pub fn token_cache_bytes(mut self, bytes: u64) -> Self {
        self.token_cache_bytes = Some(bytes);
        self
    }

    /// Allows `http://` issuer and key-set URLs on non-loopback hosts. Loopback hosts
    /// (`localhost`, `127.0.0.0/8`, `[::1]`) are always allowed for development.
    pub fn insecure_allow_http(mut self, on: bool) -> Self {
        self.insecure_http = on;
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// `config_invalid` naming the variable: missing issuer or audience, a URL that is not
    /// absolute `https` (or loopback `http`), a leeway above 5 minutes, an empty algorithm list,
    /// a too-short shared secret.
    pub fn build(self) -> Result<AuthConfig, ConfigError> {
        let issuer = self
            .issuer
            .ok_or_else(|| ConfigError::new("AUTH_ISSUER", "is required"))?;
        check_url("AUTH_ISSUER", &issuer, self.insecure_http)?;
        let pattern = issuer.contains(TENANT_PLACEHOLDER);
        if pattern {
            check_pattern(&issuer)?;
        } else if self.tenants.is_some() {
            return Err(ConfigError::new(
                "AUTH_TENANTS",
                "needs an issuer pattern: a {tenant} segment in AUTH_ISSUER",
            ));
        }
        let max_tenants = self.max_tenants.unwrap_or(DEFAULT_MAX_TENANTS);
        if max_tenants == 0 {
            return Err(ConfigError::new("AUTH_MAX_TENANTS", "must be at least 1"));
        }
        if let Some(uri) = &self.jwks_uri {
            check_url("AUTH_JWKS_URI", uri, self.insecure_http)?;
        }
        if self.audiences.is_empty() && !self.skip_audience {
            return Err(ConfigError::new(
                "AUTH_AUDIENCE",
                "is required (RFC 9068 §4: a resource server must check aud)",
            ));
        }
        if self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::new("AUTH_AUDIENCE", "an audience is empty"));
        }
        let leeway = self.leeway.unwrap_or(DEFAULT_LEEWAY);
        if leeway > MAX_LEEWAY {
            return Err(ConfigError::new(
                "AUTH_LEEWAY_SECS",
                "must be at most 300 seconds",
            ));
        }
        let algorithms = match self.algorithms {
            Some(list) => list,
            None => {
                let mut list = Algorithm::ASYMMETRIC.to_vec();
                if let Some(secret) = &self.hmac_secret {
                    // Only the HMAC algorithms this secret is long enough for (RFC 7518 §3.2).
                    let len = secret.len();
                    list.extend(
                        Algorithm::HMAC
                            .iter()
                            .filter(|a| a.hmac_len().is_some_and(|n| n <= len)),
                    );
                }
                list
            }
        };
        if algorithms.is_empty() {
            return Err(ConfigError::new("algorithms", "the allow-list is empty"));
        }
        if let Some(secret) = &self.hmac_secret {
            let needed = algorithms
                .iter()
                .filter_map(|a| a.hmac_len())
                .max()
                .unwrap_or(32);
            if secret.len() < needed {
                return Err(ConfigError::new(
                    "hmac_secret",
                    format!("must be at least {needed} bytes for the allowed HMAC algorithms"),
                ));
            }
        } else if algorithms.iter().any(|a| a.is_symmetric()) {
            return Err(ConfigError::new(
                "algorithms",
                "HS256/384/512 need a configured shared secret (hmac_secret)",
            ));
        }
        let max_token_bytes = self.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
        if max_token_bytes < 64 {
            return Err(ConfigError::new("max_token_bytes", "is too small"));
        }
        let p = &self.jwks;
        if p.fetch_timeout.is_zero() || p.max_body == 0 || p.min_ttl > p.max_ttl {
            return Err(ConfigError::new(
                "jwks_policy",
                "timeout, body cap or TTL bounds invalid",
            ));
        }
        let token_format = match (self.token_format, &self.introspection) {
            (None, None) => TokenFormat::Jwt,
            (None, Some(_)) => TokenFormat::Auto,
            (Some(TokenFormat::Jwt), _) => TokenFormat::Jwt,
            (Some(format), Some(_)) => format,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "AUTH_TOKEN_FORMAT",
                    "opaque tokens need introspection (AUTH_INTROSPECTION_CLIENT_ID and _SECRET)",
                ));
            }
        };
        if let Some(introspection) = &self.introspection
            && !matches!(
                introspection.method,
                crate::session::ClientAuth::Basic | crate::session::ClientAuth::Post
            )
        {
            return Err(ConfigError::new(
                "AUTH_INTROSPECTION_CLIENT_ID",
                "introspection authenticates with its client secret: client_secret_basic or client_secret_post",
            ));
        }
        if let Some(endpoint) = self
            .introspection
            .as_ref()
            .and_then(|i| i.endpoint.as_deref())
        {
            check_url("AUTH_INTROSPECTION_ENDPOINT", endpoint, self.insecure_http)?;
        }
        Ok(AuthConfig {
            issuer,
            audiences: self.audiences,
            jwks_uri: self.jwks_uri,
            static_keys: self.static_keys,
            leeway,
            algorithms,
            require_typ: self.require_typ || self.rfc9068,
            rfc9068: self.rfc9068,
            max_token_bytes,
            jwks: self.jwks,
            hmac_secret: self.hmac_secret,
            claim_mapping: Arc::new(self.claim_mapping.unwrap_or_default()),
            http: self.http,
            clock: self.clock,
            token_format,
            introspection: self.introspection,
            tenants: self.tenants.map(Arc::from),
            max_tenants,
            token_cache_bytes: self
                .token_cache_bytes
                .unwrap_or(crate::token_cache::DEFAULT_CAPACITY_BYTES),
        })
    }
}

/// An issuer pattern has one `{tenant}` placeholder, a whole path segment after the host, so
/// that the host (where discovery and keys are fetched) is never the token's choice.
fn check_pattern(issuer: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| ConfigError::new("AUTH_ISSUER", format!("issuer pattern: {why}"));
    if issuer.matches(TENANT_PLACEHOLDER).count() != 1 {
        return Err(bad("use {tenant} once"));
    }
    let (prefix, suffix) = issuer
        .split_once(TENANT_PLACEHOLDER)
        .ok_or_else(|| bad("use {tenant} once"))?;
    let after_scheme = prefix.split_once("://").map_or("", |(_, rest)| rest);
    if !after_scheme.contains('/') || !prefix.ends_with('/') {
        return Err(bad("{tenant} must be a whole path segment after the host"));
    }
    if !(suffix.is_empty() || suffix.starts_with('/')) {
        return Err(bad("{tenant} must be a whole path segment after the host"));
    }
    Ok(())
}

pub(crate) fn check_url(
    variable: &'static str,
    value: &str,
    insecure_http: bool,
) -> Result<(), ConfigError> {
    let url = url::Url::parse(value)
        .map_err(|e| ConfigError::new(variable, format!("is not an absolute URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(variable, "must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            variable,
            "must not have a query or fragment",
        ));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if insecure_http || is_loopback(&url) => Ok(()),
        "http" => Err(ConfigError::new(
            variable,
            "must use https (http is allowed only for loopback hosts or with insecure_allow_http)",
        )),
        _ => Err(ConfigError::new(variable, "must be an http(s) URL")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<AuthConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AuthConfigBuilder::from_vars(|n| map.get(n).cloned())?.build()
    }

    #[test]
    fn introspection_sends_its_secret_or_is_refused() {
        let with = |method| {
            AuthConfig::builder()
                .issuer("https://idp.example.com")
                .audience("api")
                .introspection(Introspection::new("rs", "rs-secret").client_auth(method))
                .build()
                .map(drop)
        };
        assert!(with(crate::session::ClientAuth::Basic).is_ok());
        assert!(with(crate::session::ClientAuth::Post).is_ok());
        for method in [
            crate::session::ClientAuth::None,
            crate::session::ClientAuth::PrivateKeyJwt,
        ] {
            let error = with(method).expect_err("no secret sent");
            assert_eq!(error.variable(), "AUTH_INTROSPECTION_CLIENT_ID");
        }
    }

    #[test]
    fn env_happy_path() {
        let c = from(&[
            ("AUTH_ISSUER", "https://idp.example.com/realms/x"),
            ("AUTH_AUDIENCE", "a, b,,"),
            ("AUTH_LEEWAY_SECS", "12"),
            ("AUTH_CLIENT_SECRET", "s3cret"),
        ])
        .expect("valid");
        assert_eq!(c.audiences(), ["a", "b"]);
        assert_eq!(c.leeway(), Duration::from_secs(12));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn env_errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("AUTH_AUDIENCE", "a")], "AUTH_ISSUER"),
            (&[("AUTH_ISSUER", "https://x")], "AUTH_AUDIENCE"),
            (
                &[("AUTH_ISSUER", "not a url"), ("AUTH_AUDIENCE", "a")],
                "AUTH_ISSUER",
            ),
            (
                &[
                    ("AUTH_ISSUER", "http://idp.example.com"),
                    ("AUTH_AUDIENCE", "a"),
                ],
                "AUTH_ISSUER",
            ),
            (
                &[("AUTH_ISSUER", "https://x?q=1"), ("AUTH_AUDIENCE", "a")],
                "AUTH_ISSUER",
            ),
            (
                &[
                    ("AUTH_ISSUER", "https://x"),
                    ("AUTH_AUDIENCE", "a"),
                    ("AUTH_LEEWAY_SECS", "-1"),
                ],
                "AUTH_LEEWAY_SECS",
            ),
            (
                &[
                    ("AUTH_ISSUER", "https://x"),
                    ("AUTH_AUDIENCE", "a"),
                    ("AUTH_LEEWAY_SECS", "301"),
                ],
                "AUTH_LEEWAY_SECS",
            ),
            (
                &[
                    ("AUTH_ISSUER", "https://x"),
                    ("AUTH_AUDIENCE", "a"),
                    ("AUTH_JWKS_URI", "ftp://x"),
                ],
                "AUTH_JWKS_URI",
            ),
            (
                &[("AUTH_ISSUER", "https://x"), ("AUTH_AUDIENCE", " , ")],
                "AUTH_AUDIENCE",
            ),
        ];
        for (vars, var) in cases {
            let err = from(vars).expect_err("invalid");
            assert_eq!(err.variable(), *var, "{vars:?}");
            assert_eq!(AuthError::from(err).code(), ErrorCode::ConfigInvalid);
        }
    }

    #[test]
    fn loopback_http_is_allowed() {
        assert!(
            from(&[
                ("AUTH_ISSUER", "http://127.0.0.1:8080"),
                ("AUTH_AUDIENCE", "a")
            ])
            .is_ok()
        );
        assert!(
            from(&[
                ("AUTH_ISSUER", "http://localhost:8080/x"),
                ("AUTH_AUDIENCE", "a")
            ])
            .is_ok()
        );
    }

    #[test]
    fn hmac_needs_a_long_secret() {
        let b = || AuthConfig::builder().issuer("https://x").audience("a");
        assert!(b().hmac_secret("short").build().is_err());
        assert!(b().hmac_secret("x".repeat(32)).build().is_ok());
        assert!(b().algorithms([Algorithm::HS256]).build().is_err());
        let c = b().hmac_secret("x".repeat(32)).build().expect("valid");
        assert!(
            c.algorithms().contains(&Algorithm::HS256)
                && !c.algorithms().contains(&Algorithm::HS384)
        );
        assert!(
            b().hmac_secret("x".repeat(32))
                .algorithms([Algorithm::HS512])
                .build()
                .is_err()
        );
    }
}
