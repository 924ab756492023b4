//! The access-token verifier.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::ExtraClaims;
use aws_lc_rs::hmac;

use crate::alg::Algorithm;
use crate::claims::{self, Claims, NoExtraClaims, NumericDate};
use crate::config::{AuthConfig, ConfigError};
use crate::discovery::{Discovery, ProviderMetadata};
use crate::error::{AuthError, ErrorCode, TokenInvalidReason as R};
use crate::http::HttpClient;
use crate::introspection::Introspector;
use crate::jwk::KeySet;
use crate::jwks::{KeyCache, Source};
use crate::jws;
use crate::token_cache::{self, Denylist, TokenCache};

/// Verifies JWT access tokens for one issuer. Cheap to clone (an `Arc` inside); build one per
/// process and share it.
///
/// ```no_run
/// use auth_core::{AuthConfig, Verifier};
///
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::new(
///     AuthConfig::builder()
///         .issuer("https://login.example.com/realms/main")
///         .audience("orders-api")
///         .build()?,
/// )?;
/// let claims = verifier.verify::<auth_core::NoExtraClaims>(token).await?;
/// println!("hello {:?}, roles {:?}", claims.sub, claims.roles());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// The trusted issuers; the first is the primary one (discovery for the login flows, the
    /// clock and leeway). A token's `iss` picks among them before any key is looked up.
    issuers: Vec<Issuer>,
    /// Revoked token ids (see [`Verifier::revoke_jti`]).
    denylist: Arc<Denylist>,
}

/// One trusted issuer: its configuration, key cache and discovery.
pub(crate) struct Issuer {
    pub(crate) config: AuthConfig,
    /// The issuer, shared with every `Claims` (no per-token allocation).
    issuer: Arc<str>,
    keys: Keys,
    pub(crate) http: Arc<dyn HttpClient>,
    discovery: Option<Arc<Discovery>>,
    hmac: Vec<(Algorithm, hmac::Key)>,
    /// Opaque tokens (RFC 7662), when configured.
    introspection: Option<Introspector>,
    /// The first issuer of the verifier (its subjects are not qualified by the issuer).
    primary: bool,
    /// For an issuer pattern: the tenants' issuers. The pattern itself verifies nothing.
    tenants: Option<Tenants>,
    /// Tokens that verified (`None` when turned off).
    tokens: Option<TokenCache>,
    /// Revoked token ids, shared by all the verifier's issuers.
    denylist: Arc<Denylist>,
}

/// The issuers an issuer pattern made, one per tenant seen, bounded.
struct Tenants {
    denylist: Arc<Denylist>,
    /// The issuer before and after `{tenant}`.
    prefix: String,
    suffix: String,
    /// The pattern's configuration, each tenant's issuer filled in.
    template: AuthConfig,
    live: moka::sync::Cache<String, Arc<Issuer>>,
}

impl Tenants {
    fn new(
        template: &AuthConfig,
        http: &Arc<dyn HttpClient>,
        denylist: &Arc<Denylist>,
    ) -> Option<Tenants> {
        let (prefix, suffix) = template
            .issuer
            .split_once(crate::config::TENANT_PLACEHOLDER)?;
        let mut template = template.clone();
        template.http = Some(Arc::clone(http));
        Some(Tenants {
            denylist: Arc::clone(denylist),
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            live: moka::sync::Cache::builder()
                .max_capacity(template.max_tenants)
                .build(),
            template,
        })
    }

    /// The tenant `iss` names, when it fits the pattern: one path segment of letters, digits,
    /// `-`, `_` and `.` (not `.` or `..`), at most 128 bytes, and an allowed one.
    fn tenant_of<'a>(&self, iss: &'a str) -> Option<&'a str> {
        let tenant = iss.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        let well_formed = !tenant.is_empty()
            && tenant.len() <= 128
            && tenant != "."
            && tenant != ".."
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        let allowed = self
            .template
            .tenants
            .as_ref()
            .is_none_or(|list| list.iter().any(|t| t == tenant));
        (well_formed && allowed).then_some(tenant)
    }

    /// The issuer of `tenant`, created on first use.
    fn issuer(&self, tenant: &str) -> Result<Arc<Issuer>, AuthError> {
        self.live
            .try_get_with_by_ref(tenant, || {
                let mut config = self.template.clone();
                config.issuer = format!("{}{tenant}{}", self.prefix, self.suffix);
                config.tenants = None;
                let mut issuer = Issuer::new(config, &self.denylist)?;
                issuer.primary = false;
                Ok::<_, ConfigError>(Arc::new(issuer))
            })
            .map_err(|e| AuthError::new(ErrorCode::ConfigInvalid, e.message().to_owned()))
    }
}

/// The issuer a token names: a configured one, or a tenant's of an issuer pattern.
enum Resolved<'a> {
    Fixed(&'a Issuer),
    Tenant(Arc<Issuer>),
}

impl std::ops::Deref for Resolved<'_> {
    type Target = Issuer;

    fn deref(&self) -> &Issuer {
        match self {
            Resolved::Fixed(issuer) => issuer,
            Resolved::Tenant(issuer) => issuer,
        }
    }
}

/// The outcome of [`Issuer::verify_now`]: done, or a wait first (an introspection or a key-set
/// fetch), with the token-cache key to record the verification under.
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per verification and matched at once; boxing the claims would allocate on every request"
)]
enum Now<E> {
    Done(Result<Claims<E>, AuthError>),
    Wait(Option<[u8; 32]>),
}

/// The outcome of [`Verifier::verify_now`]: done, or a wait at this issuer.
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per verification and matched at once; boxing the claims would allocate on every request"
)]
enum Step<'v, E> {
    Done(Result<Claims<E>, AuthError>),
    Wait(Resolved<'v>, Option<[u8; 32]>),
}

enum Keys {
    Static(Arc<KeySet>),
    Remote(KeyCache),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.primary().config)
            .field("issuers", &self.inner.issuers.len())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Builds a verifier. Nothing is fetched yet: discovery and the key set load on first use
    /// (or on [`warm_up`](Self::warm_up)), so a service starts while its issuer is unreachable.
    ///
    /// # Errors
    /// `config_invalid` when the default HTTP client cannot be created, or when no HTTP client is
    /// available (the `reqwest` feature is off and none was configured).
    pub fn new(config: AuthConfig) -> Result<Verifier, ConfigError> {
        Verifier::with_issuers([config])
    }

    /// A verifier that trusts several issuers (a staging and a production realm, one issuer per
    /// tenant), each with its own configuration: key cache, audiences, algorithm allow-list,
    /// claim mapping. The first is the primary issuer: the login flows, discovery-based
    /// helpers and the clock and leeway use it. A token's `iss` chooses its issuer before any
    /// key lookup; a token from any other issuer is refused without a network call.
    ///
    /// An issuer with a `{tenant}` path segment is a pattern for a multi-tenant provider
    /// (`https://login.microsoftonline.com/{tenant}/v2.0`, Keycloak's
    /// `https://sso.example.com/realms/{tenant}`): a token whose `iss` fills it with a
    /// well-formed tenant (letters, digits, `-`, `_`, `.`), and one of
    /// [`tenants`](crate::AuthConfigBuilder::tenants) when those are set, gets that tenant's own
    /// issuer (discovery, key cache) on first use. At most
    /// [`max_tenants`](crate::AuthConfigBuilder::max_tenants) exist at once, kept by a
    /// frequency-aware cache, so a flood of made-up tenants neither grows memory nor evicts the
    /// tenants in use; the host fetched from is always the pattern's. A pattern cannot serve the
    /// login flows: make a concrete issuer the primary one for those.
    ///
    /// # Errors
    /// `config_invalid` for an empty list, an issuer listed twice, or as [`new`](Self::new).
    pub fn with_issuers(
        configs: impl IntoIterator<Item = AuthConfig>,
    ) -> Result<Verifier, ConfigError> {
        let mut issuers: Vec<Issuer> = Vec::new();
        let denylist = Arc::new(Denylist::new());
        for config in configs {
            if issuers.iter().any(|i| i.config.issuer == config.issuer) {
                return Err(ConfigError::new(
                    "AUTH_ISSUERS",
                    format!("{} is listed twice", config.issuer),
                ));
            }
            let mut issuer = Issuer::new(config, &denylist)?;
            issuer.primary = issuers.is_empty();
            issuers.push(issuer);
        }
        if issuers.is_empty() {
            return Err(ConfigError::new("AUTH_ISSUERS", "no issuer is configured"));
        }
        Ok(Verifier {
            inner: Arc::new(Inner { issuers, denylist }),
        })
    }

    /// Builds a verifier from the environment (see [`AuthConfig::from_env`]). With
    /// `AUTH_ISSUERS` (comma-separated issuer URLs) it trusts each of them, discovered like
    /// `AUTH_ISSUER` and sharing the other `AUTH_*` settings (`AUTH_AUDIENCE`, the leeway...);
    /// `AUTH_ISSUER`, when also set, is the primary issuer, otherwise the first of the list is.
    ///
    /// # Errors
    /// `config_invalid`, naming the variable.
    pub fn from_env() -> Result<Verifier, ConfigError> {
        Verifier::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Verifier, ConfigError> {
        Verifier::with_issuers(AuthConfig::all_from_vars(lookup)?)
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AuthConfig {
        &self.primary().config
    }

    /// Fetches discovery metadata and the key set now, instead of on the first request.
    ///
    /// # Errors
    /// `discovery_failed`, `jwks_fetch_failed` or `jwks_unavailable`. The verifier stays usable and
    /// retries on later requests.
    pub async fn warm_up(&self) -> Result<(), AuthError> {
        // An issuer pattern's tenants are not known before their first token.
        for issuer in self.inner.issuers.iter().filter(|i| i.tenants.is_none()) {
            if let Keys::Remote(cache) = &issuer.keys {
                cache.warm_up().await?;
            }
        }
        Ok(())
    }

    /// Revokes the token id `jti` until `until` (its token's `exp`; after it the token could not
    /// verify anyway): from now on a token with this `jti` is refused with `token_revoked`
    /// (401) by every issuer of this verifier, cached or not. For a revocation feed (a
    /// provider's back-channel, your own sign-out-everywhere).
    pub fn revoke_jti(&self, jti: &str, until: std::time::SystemTime) {
        let until = until
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.inner.denylist.revoke(jti, until);
        for issuer in &self.inner.issuers {
            if let Some(tokens) = &issuer.tokens {
                tokens.remove_jti(jti);
            }
        }
    }

    /// Drops one token from the verified-token cache: its next use is verified in full.
    pub fn forget_token(&self, token: &str) {
        let key = token_cache::key_of(token);
        for issuer in &self.inner.issuers {
            if let Some(tokens) = &issuer.tokens {
                tokens.remove(&key);
            }
            if let Some(tenants) = &issuer.tenants {
                for (_, tenant) in tenants.live.iter() {
                    if let Some(tokens) = &tenant.tokens {
                        tokens.remove(&key);
                    }
                }
            }
        }
    }

    /// The issuer's discovery metadata (fetched on first use).
    ///
    /// # Errors
    /// `discovery_failed` (503, retryable).
    pub async fn provider_metadata(&self) -> Result<Arc<ProviderMetadata>, AuthError> {
        self.primary().metadata().await
    }

    /// The HTTP client (shared with the session engine's token-endpoint calls).
    pub(crate) fn http(&self) -> Arc<dyn HttpClient> {
        Arc::clone(&self.primary().http)
    }

    /// The key set currently cached, if any (diagnostics).
    #[must_use]
    pub fn current_keys(&self) -> Option<Arc<KeySet>> {
        match &self.primary().keys {
            Keys::Static(set) => Some(Arc::clone(set)),
            Keys::Remote(cache) => cache.current(),
        }
    }

    /// How many key-set fetches this verifier has started (diagnostics, metrics).
    #[must_use]
    pub fn key_set_fetches(&self) -> u64 {
        self.inner
            .issuers
            .iter()
            .map(|i| match &i.keys {
                Keys::Static(_) => 0,
                Keys::Remote(cache) => cache.fetch_count(),
            })
            .sum()
    }

    /// Verifies an access token and returns its claims, with the application's own claims
    /// deserialised into `E`.
    ///
    /// Checks, in order: size, compact form, header (`alg` allow-list, `crit`, `b64`), key
    /// (by `kid`, pinned to the key's algorithm), signature, then the claims (`exp`, `nbf`, `iat`,
    /// `iss`, `aud`, `typ` and the RFC 9068 profile when configured). A bad signature therefore
    /// wins over any claim error.
    ///
    /// # Errors
    /// `token_invalid`, `token_expired`, `token_not_yet_valid` (401) for a bad token;
    /// `jwks_unavailable`, `jwks_fetch_failed`, `discovery_failed` (503) when the keys cannot be
    /// had right now.
    pub async fn verify<E>(&self, token: &str) -> Result<Claims<E>, AuthError>
    where
        E: ExtraClaims,
    {
        self.verify_keyed(token, None).await
    }

    /// [`verify`](Self::verify), with the token's verified-token cache key when the caller
    /// already has it (`token_cache::key_of(token)`, kept with an opened session cookie), so
    /// that it is not hashed again.
    pub(crate) async fn verify_keyed<E>(
        &self,
        token: &str,
        key: Option<[u8; 32]>,
    ) -> Result<Claims<E>, AuthError>
    where
        E: ExtraClaims,
    {
        let started = crate::metrics::start();
        let span = tracing::debug_span!(
            "auth.verify",
            issuer = tracing::field::Empty,
            kid = tracing::field::Empty,
            alg = tracing::field::Empty,
            code = tracing::field::Empty,
            elapsed_us = tracing::field::Empty,
        );
        // Only a span a subscriber listens to is timed.
        let timed = (!span.is_disabled()).then(std::time::Instant::now);
        // A token seen before is found first, without parsing it (and, with several issuers,
        // before its `iss` is decoded). A miss is counted once, by the issuer the token
        // resolves to.
        let issuers = &self.inner.issuers;
        let probed = issuers
            .iter()
            .any(|i| i.caches(token))
            .then(|| key.unwrap_or_else(|| token_cache::key_of(token)));
        // An issuer that introspects this token never cached it: probing it is a plain miss.
        let early = probed.as_ref().and_then(|key| {
            let hit = issuers.iter().find_map(|i| i.cache_hit::<E>(key));
            if hit.is_some() {
                crate::metrics::token_cache(true);
            }
            hit
        });
        // With its key in a fresh key set (the usual case), a token is verified here,
        // synchronously: no future state is built or copied.
        let (issuer, wait) =
            match early.map_or_else(|| self.verify_now::<E>(token, &span, probed), Step::Done) {
                Step::Done(result) => {
                    self.record_outcome(&result, started, timed, &span);
                    return result;
                }
                Step::Wait(issuer, wait) => (issuer, wait),
            };
        // A fetch or an introspection first, in its own allocation: its state would otherwise
        // make this future, and every future that awaits a verification (the adapters'
        // per-request ones), kilobytes larger, copied on every request, cache hits included.
        let result = {
            use tracing::Instrument as _;
            Box::pin(
                issuer
                    .verify_after_wait::<E>(token, &span, wait)
                    .instrument(span.clone()),
            )
            .await
        };
        self.record_outcome(&result, started, timed, &span);
        result
    }

    /// The verification of a token the cache did not answer, as far as it goes without
    /// waiting: its issuer (by `iss` when several are trusted), then [`Issuer::verify_now`].
    fn verify_now<E>(
        &self,
        token: &str,
        span: &tracing::Span,
        probed: Option<[u8; 32]>,
    ) -> Step<'_, E>
    where
        E: ExtraClaims,
    {
        let issuer = match self.issuer_of(token) {
            Ok(issuer) => issuer,
            Err(e) => return Step::Done(Err(e)),
        };
        span.record("issuer", tracing::field::display(&issuer.config.issuer));
        // A tenant's issuer (made from a pattern) was not among those probed.
        let known = probed.map(|key| (key, matches!(issuer, Resolved::Fixed(_))));
        match issuer.verify_now::<E>(token, span, known) {
            Now::Done(result) => Step::Done(result),
            Now::Wait(cache_key) => Step::Wait(issuer, cache_key),
        }
    }

    /// Counts and records the outcome of a verification on its span.
    fn record_outcome<E>(
        &self,
        result: &Result<Claims<E>, AuthError>,
        started: crate::metrics::Started,
        timed: Option<std::time::Instant>,
        span: &tracing::Span,
    ) {
        crate::metrics::verification(result, started);
        if let Some(timed) = timed {
            span.record("elapsed_us", timed.elapsed().as_micros() as u64);
        }
        if let Err(e) = result {
            span.record("code", e.code().as_str());
            tracing::debug!(code = e.code().as_str(), issuer = %self.primary().config.issuer, reason = e.message(), "token rejected");
        }
    }

    /// Verifies only the JWS layer (header rules, key, signature) and returns the payload bytes,
    /// for signed payloads that are not JWT access tokens (ID tokens), with the primary
    /// issuer's keys. No claim is checked.
    ///
    /// # Errors
    /// As [`verify`](Self::verify), without the claim errors.
    pub async fn verify_jws(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        let primary = self.primary();
        let parts = jws::split(token, primary.config.max_token_bytes)?;
        let mut header_buf = jws::HeaderBuf::default();
        let header = jws::decode_header(parts.header, &mut header_buf)?;
        primary.check_signature(&parts, &header).await?;
        jws::decode_payload(parts.payload)
    }

    fn primary(&self) -> &Issuer {
        &self.inner.issuers[0]
    }

    /// The trusted issuers' identifiers, the primary first.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.inner.issuers.iter().map(|i| i.config.issuer.as_str())
    }

    /// The issuer `token` claims to come from, among the trusted ones: read from the payload
    /// before any key lookup, so that a foreign `iss` costs no network call.
    fn issuer_of(&self, token: &str) -> Result<Resolved<'_>, AuthError> {
        let issuers = &self.inner.issuers;
        if issuers.len() == 1 && issuers[0].tenants.is_none() {
            return Ok(Resolved::Fixed(&issuers[0]));
        }
        // An opaque token names no issuer: the (first) one that introspects it.
        if let Some(introspecting) = issuers.iter().find(|i| {
            i.introspection.as_ref().is_some_and(|x| {
                x.applies_to(token) && !crate::introspection::looks_like_jwt(token)
            })
        }) {
            return Ok(Resolved::Fixed(introspecting));
        }
        let max = issuers
            .iter()
            .map(|i| i.config.max_token_bytes)
            .max()
            .unwrap_or_default();
        let parts = jws::split(token, max)?;
        let payload = jws::decode_payload(parts.payload)?;
        let registered = claims::parse_registered(&payload)
            .map_err(|_| AuthError::invalid_token(R::Malformed, "token claims are malformed"))?;
        let Some(iss) = registered.iss.as_deref() else {
            return Err(AuthError::invalid_token(
                R::MissingClaim("iss"),
                "token has no iss claim",
            ));
        };
        if let Some(issuer) = issuers
            .iter()
            .find(|i| i.tenants.is_none() && i.config.issuer == iss)
        {
            return Ok(Resolved::Fixed(issuer));
        }
        // An issuer pattern's tenant: its issuer is made (no network yet) on first use.
        for tenants in issuers.iter().filter_map(|i| i.tenants.as_ref()) {
            if let Some(tenant) = tenants.tenant_of(iss) {
                return tenants.issuer(tenant).map(Resolved::Tenant);
            }
        }
        Err(AuthError::invalid_token(
            R::IssuerMismatch,
            "token issuer is not trusted",
        ))
    }
}

impl Issuer {
    fn new(config: AuthConfig, denylist: &Arc<Denylist>) -> Result<Issuer, ConfigError> {
        let http = match &config.http {
            Some(client) => Arc::clone(client),
            None => default_client()?,
        };
        let http_for_flows = Arc::clone(&http);
        let discovery = Discovery::new(
            config.issuer.clone(),
            Arc::clone(&http),
            config.jwks.clone(),
        );
        let keys = match (&config.static_keys, &config.jwks_uri) {
            (Some(set), _) => Keys::Static(Arc::clone(set)),
            (None, Some(uri)) => Keys::Remote(KeyCache::new(
                Source::Fixed(uri.clone()),
                http,
                config.jwks.clone(),
                config.algorithms.clone(),
            )),
            (None, None) => Keys::Remote(KeyCache::new(
                Source::Discovered(Arc::clone(&discovery)),
                http,
                config.jwks.clone(),
                config.algorithms.clone(),
            )),
        };
        let hmac = match &config.hmac_secret {
            Some(secret) => config
                .algorithms
                .iter()
                .filter_map(|&alg| {
                    let a = match alg {
                        Algorithm::HS256 => hmac::HMAC_SHA256,
                        Algorithm::HS384 => hmac::HMAC_SHA384,
                        Algorithm::HS512 => hmac::HMAC_SHA512,
                        _ => return None,
                    };
                    Some((alg, hmac::Key::new(a, secret)))
                })
                .collect(),
            None => Vec::new(),
        };
        let issuer = Arc::from(config.issuer.as_str());
        let tenants = Tenants::new(&config, &http_for_flows, denylist);
        let tokens =
            (config.token_cache_bytes > 0).then(|| TokenCache::new(config.token_cache_bytes));
        let introspection = config
            .introspection
            .clone()
            .map(|settings| Introspector::new(settings, config.token_format));
        Ok(Issuer {
            config,
            issuer,
            keys,
            http: http_for_flows,
            discovery: Some(discovery),
            hmac,
            introspection,
            primary: true,
            tenants,
            tokens,
            denylist: Arc::clone(denylist),
        })
    }

    /// The issuer's discovery metadata.
    pub(crate) async fn metadata(&self) -> Result<Arc<ProviderMetadata>, AuthError> {
        if self.tenants.is_some() {
            return Err(AuthError::new(
                ErrorCode::ConfigInvalid,
                "an issuer pattern ({tenant}) has no discovery document of its own: make a concrete issuer the primary one",
            ));
        }
        match &self.discovery {
            Some(d) => d.metadata().await,
            None => Err(AuthError::new(
                ErrorCode::DiscoveryFailed,
                "discovery is not configured",
            )),
        }
    }

    /// The signature's algorithm (from the allow-list) and its decoded bytes: checked before
    /// any key lookup, so that a malformed signature never causes a fetch.
    fn signature_of(
        &self,
        parts: &jws::Parts<'_>,
        header: &jws::Header<'_>,
    ) -> Result<(Algorithm, jws::SigBuf), AuthError> {
        let alg = jws::check_alg(header, &self.config.algorithms)?;
        Ok((alg, jws::decode_signature(parts.signature, alg)?))
    }

    /// Checks the signature with a key at hand (a shared secret, a static key set, or a fresh
    /// remote one); `Err(cache)` when that remote key set must be fetched, refreshed or
    /// refetched first ([`check_signature`](Self::check_signature)).
    fn check_signature_now(
        &self,
        parts: &jws::Parts<'_>,
        header: &jws::Header<'_>,
        alg: Algorithm,
        sig: &jws::SigBuf,
    ) -> Result<Result<(), AuthError>, &KeyCache> {
        if alg.is_symmetric() {
            let Some((_, key)) = self.hmac.iter().find(|(a, _)| *a == alg) else {
                return Ok(Err(AuthError::invalid_token(
                    R::AlgorithmNotAllowed,
                    "the token's algorithm is not allowed",
                )));
            };
            return Ok(
                hmac::verify(key, parts.signing_input.as_bytes(), sig.as_slice()).map_err(|_| {
                    AuthError::invalid_token(R::BadSignature, "token signature is invalid")
                }),
            );
        }
        let kid = header.kid.as_deref();
        let check = |key: &aws_lc_rs::signature::ParsedPublicKey| {
            jws::verify_signature(key, parts.signing_input, sig.as_slice())
        };
        match &self.keys {
            Keys::Static(set) => Ok(set
                .find(kid, alg)
                .map_err(crate::jwk::Miss::into_error)
                .and_then(check)),
            Keys::Remote(cache) => match cache.with_fresh_key(kid, alg, check) {
                Ok(answer) => Ok(answer.and_then(|checked| checked)),
                Err(_) => Err(cache),
            },
        }
    }

    /// Checks the signature, waiting for the key set when it must be fetched first.
    async fn check_signature(
        &self,
        parts: &jws::Parts<'_>,
        header: &jws::Header<'_>,
    ) -> Result<Algorithm, AuthError> {
        let (alg, sig) = self.signature_of(parts, header)?;
        let cache = match self.check_signature_now(parts, header, alg, &sig) {
            Ok(checked) => return checked.map(|()| alg),
            Err(cache) => cache,
        };
        let check = |key: &aws_lc_rs::signature::ParsedPublicKey| {
            jws::verify_signature(key, parts.signing_input, sig.as_slice())
        };
        cache.with_key(header.kid.as_deref(), alg, check).await??;
        Ok(alg)
    }

    /// Whether this issuer's token cache may hold `token`: it has one, and does not introspect
    /// the token instead.
    fn caches(&self, token: &str) -> bool {
        self.tokens.is_some()
            && !self
                .introspection
                .as_ref()
                .is_some_and(|x| x.applies_to(token))
    }

    /// The cached verification of the token whose key is `key`, if it still holds (an entry
    /// that no longer does is dropped).
    fn cache_hit<E>(&self, key: &[u8; 32]) -> Option<Result<Claims<E>, AuthError>>
    where
        E: ExtraClaims,
    {
        let cache = self.tokens.as_ref()?;
        let hit = cache.get(key)?;
        if self.still_valid(&hit) {
            return Some(claims::retype::<E>(&hit.claims));
        }
        cache.remove(key);
        None
    }

    /// Verifies `token` for this issuer without waiting, when nothing has to be fetched: the
    /// usual case (a cache hit, or a key in a fresh key set). `known`: its cache key when the
    /// caller computed it, and whether this issuer's cache was already probed with it.
    /// [`Now::Wait`] (nothing counted twice, nothing cached yet) when an introspection or a key
    /// set fetch must come first: [`verify_after_wait`](Self::verify_after_wait) goes on.
    fn verify_now<E>(
        &self,
        token: &str,
        span: &tracing::Span,
        known: Option<([u8; 32], bool)>,
    ) -> Now<E>
    where
        E: ExtraClaims,
    {
        let _in_span = span.enter();
        if self
            .introspection
            .as_ref()
            .is_some_and(|x| x.applies_to(token))
        {
            return Now::Wait(None);
        }
        let cache_key = match (&self.tokens, known) {
            (None, _) => None,
            (Some(cache), Some((key, true))) => {
                crate::metrics::token_cache(false);
                Some((cache, key))
            }
            (Some(cache), known) => {
                let key = known.map_or_else(|| token_cache::key_of(token), |(key, _)| key);
                let hit = self.cache_hit::<E>(&key);
                crate::metrics::token_cache(hit.is_some());
                if let Some(hit) = hit {
                    return Now::Done(hit);
                }
                Some((cache, key))
            }
        };
        let mut header_buf = jws::HeaderBuf::default();
        let checked = self
            .jws_parts(token, span, &mut header_buf)
            .and_then(|(parts, header)| {
                let (alg, sig) = self.signature_of(&parts, &header)?;
                Ok(match self.check_signature_now(&parts, &header, alg, &sig) {
                    Ok(checked) => Some(
                        checked
                            .and_then(|()| self.verified_claims(&parts, &header, alg, cache_key)),
                    ),
                    Err(_) => None,
                })
            });
        match checked {
            Ok(Some(result)) => Now::Done(result),
            Ok(None) => Now::Wait(cache_key.map(|(_, key)| key)),
            Err(e) => Now::Done(Err(e)),
        }
    }

    /// Goes on from [`verify_now`](Self::verify_now) once waiting is needed: introspects, or
    /// waits for the key set (fetched, refreshed or refetched for an unknown kid) and checks
    /// the signature then. The token is parsed again (cheap next to the network call).
    async fn verify_after_wait<E>(
        &self,
        token: &str,
        span: &tracing::Span,
        cache_key: Option<[u8; 32]>,
    ) -> Result<Claims<E>, AuthError>
    where
        E: ExtraClaims,
    {
        if let Some(introspection) = &self.introspection
            && introspection.applies_to(token)
        {
            let payload = introspection.introspect(self, token).await?;
            return self.claims_of(payload, None, ClaimSource::Introspection);
        }
        let cache_key = cache_key.and_then(|key| Some((self.tokens.as_ref()?, key)));
        let mut header_buf = jws::HeaderBuf::default();
        let (parts, header) = self.jws_parts(token, span, &mut header_buf)?;
        let alg = self.check_signature(&parts, &header).await?;
        self.verified_claims(&parts, &header, alg, cache_key)
    }

    /// The compact JWS's segments and its decoded header (recorded on the span).
    fn jws_parts<'t, 'b>(
        &self,
        token: &'t str,
        span: &tracing::Span,
        header_buf: &'b mut jws::HeaderBuf,
    ) -> Result<(jws::Parts<'t>, jws::Header<'b>), AuthError> {
        let parts = jws::split(token, self.config.max_token_bytes)?;
        let header = jws::decode_header(parts.header, header_buf)?;
        if !span.is_disabled() {
            if let Some(kid) = header.kid.as_deref() {
                span.record("kid", tracing::field::display(crate::log_safe(kid)));
            }
            span.record("alg", header.alg.as_ref());
        }
        Ok((parts, header))
    }

    /// After a good signature: the claims checked, revocation checked, and the verification
    /// cached under `cache_key` (when the token cache is on).
    fn verified_claims<E>(
        &self,
        parts: &jws::Parts<'_>,
        header: &jws::Header<'_>,
        alg: Algorithm,
        cache_key: Option<(&TokenCache, [u8; 32])>,
    ) -> Result<Claims<E>, AuthError>
    where
        E: ExtraClaims,
    {
        let payload = jws::decode_payload(parts.payload)?;
        let Some((cache, key)) = cache_key else {
            let claims = self.claims_of::<E>(payload, header.typ.as_deref(), ClaimSource::Jwt)?;
            self.check_revocation(claims.jti.as_deref())?;
            return Ok(claims);
        };
        let claims =
            self.claims_of::<NoExtraClaims>(payload, header.typ.as_deref(), ClaimSource::Jwt)?;
        self.check_revocation(claims.jti.as_deref())?;
        let result = claims::retype::<E>(&claims)?;
        let kid = header.kid.as_deref();
        let key_seq = match &self.keys {
            Keys::Remote(keys) if !alg.is_symmetric() => keys.fresh_seq_with(kid, alg).map(Some),
            _ => Some(None),
        };
        // Only a key still in the current fresh set is recorded (a refresh may have dropped it
        // since the check).
        if let Some(key_seq) = key_seq {
            let until = claims.exp.as_f64() + self.config.leeway.as_secs_f64();
            cache.insert(
                key,
                token_cache::Verified {
                    claims,
                    until,
                    kid: kid.map(Box::from),
                    alg,
                    key_seq,
                    weight: 0,
                },
            );
        }
        Ok(result)
    }

    /// Whether a cached verification still holds now: not expired (leeway included, as the
    /// full check), not revoked, and its key still in the fresh key set.
    fn still_valid(&self, hit: &token_cache::Verified) -> bool {
        let now = self
            .config
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if now >= hit.until || self.denylist.is_revoked(hit.claims.jti.as_deref()) {
            return false;
        }
        match (hit.key_seq, &self.keys) {
            (Some(seq), Keys::Remote(keys)) => keys.still_has(seq, hit.kid.as_deref(), hit.alg),
            _ => true,
        }
    }

    fn check_revocation(&self, jti: Option<&str>) -> Result<(), AuthError> {
        if self.denylist.is_revoked(jti) {
            return Err(AuthError::new(
                ErrorCode::TokenRevoked,
                "the token was revoked",
            ));
        }
        Ok(())
    }

    /// The claim checks, the same for a signed token's payload and an introspection answer
    /// (which may lack `exp`, has no `typ`, and is not held to the RFC 9068 profile).
    pub(crate) fn claims_of<E>(
        &self,
        payload: Vec<u8>,
        typ: Option<&str>,
        source: ClaimSource,
    ) -> Result<Claims<E>, AuthError>
    where
        E: ExtraClaims,
    {
        let config = &self.config;
        let registered = claims::parse_registered(&payload).map_err(|e| {
            tracing::debug!(error = %e, "malformed claims");
            AuthError::invalid_token(R::Malformed, "token claims are malformed")
        })?;
        let now = config
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let leeway = config.leeway.as_secs_f64();

        let exp = match (registered.exp, source) {
            (Some(exp), _) => exp,
            // RFC 7662 makes `exp` optional: the answer is trusted for the cache's lifetime.
            (None, ClaimSource::Introspection) => {
                NumericDate::from_secs((now + config.introspection_max_ttl().as_secs_f64()) as i64)
            }
            (None, ClaimSource::Jwt) => {
                return Err(AuthError::invalid_token(
                    R::MissingClaim("exp"),
                    "token has no exp claim",
                ));
            }
        };
        if exp.as_f64() <= now - leeway {
            return Err(AuthError::new(ErrorCode::TokenExpired, "token has expired"));
        }
        if registered
            .nbf
            .is_some_and(|nbf: NumericDate| nbf.as_f64() > now + leeway)
        {
            return Err(AuthError::new(
                ErrorCode::TokenNotYetValid,
                "token is not valid yet",
            ));
        }
        if registered
            .iat
            .is_some_and(|iat: NumericDate| iat.as_f64() > now + leeway)
        {
            return Err(AuthError::new(
                ErrorCode::TokenNotYetValid,
                "token was issued in the future",
            ));
        }
        match registered.iss.as_deref() {
            Some(iss) if iss == config.issuer => {}
            Some(_) => {
                return Err(AuthError::invalid_token(
                    R::IssuerMismatch,
                    "token issuer is not trusted",
                ));
            }
            // The issuer's own introspection endpoint answered: it speaks for its tokens.
            None if source == ClaimSource::Introspection => {}
            None => {
                return Err(AuthError::invalid_token(
                    R::MissingClaim("iss"),
                    "token has no iss claim",
                ));
            }
        }
        if !config.audiences.is_empty()
            && !registered
                .aud
                .iter()
                .any(|a| config.audiences.iter().any(|c| c == a))
        {
            return Err(AuthError::invalid_token(
                R::AudienceMismatch,
                "token is not meant for this audience",
            ));
        }
        if source == ClaimSource::Jwt && config.require_typ && !typ.is_some_and(is_at_jwt) {
            return Err(AuthError::invalid_token(
                R::TypMismatch,
                "token is not an access token (typ)",
            ));
        }
        if source == ClaimSource::Jwt && config.rfc9068 {
            let missing = if registered.sub.is_none() {
                Some("sub")
            } else if registered.client_id.is_none() {
                Some("client_id")
            } else if registered.iat.is_none() {
                Some("iat")
            } else if registered.jti.is_none() {
                Some("jti")
            } else {
                None
            };
            if let Some(name) = missing {
                return Err(AuthError::invalid_token(
                    R::MissingClaim(name),
                    format!("token lacks the {name} claim required by RFC 9068"),
                ));
            }
        }
        let extra = claims::parse_extra::<E>(&payload)?;
        let checked = registered.into_checked();
        // The decoded payload buffer becomes the claims' raw JSON without a copy. It is valid UTF-8:
        // the strict parse above validated every string, and JSON outside strings is ASCII.
        let iss = Arc::clone(&self.issuer);
        let mut claims = claims::assemble(
            checked,
            iss,
            exp,
            extra,
            payload,
            Arc::clone(&config.claim_mapping),
        );
        claims.secondary_issuer = !self.primary;
        Ok(claims)
    }
}

/// Where a token's claims come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimSource {
    /// A signed JWT's payload.
    Jwt,
    /// The issuer's introspection endpoint (RFC 7662).
    Introspection,
}

/// `at+jwt`, case-insensitive, with or without the `application/` prefix (RFC 9068 §2.1).
fn is_at_jwt(typ: &str) -> bool {
    let t = typ.as_bytes();
    let rest = if t.len() > 12 && t[..12].eq_ignore_ascii_case(b"application/") {
        &t[12..]
    } else {
        t
    };
    rest.eq_ignore_ascii_case(b"at+jwt")
}

#[cfg(feature = "reqwest")]
pub(crate) fn default_client() -> Result<Arc<dyn HttpClient>, ConfigError> {
    crate::http::ReqwestClient::new()
        .map(|c| Arc::new(c) as Arc<dyn HttpClient>)
        .map_err(|e| ConfigError::new("http_client", e.to_string()))
}

#[cfg(not(feature = "reqwest"))]
pub(crate) fn default_client() -> Result<Arc<dyn HttpClient>, ConfigError> {
    Err(ConfigError::new(
        "http_client",
        "no HTTP client: enable the `reqwest` feature or call AuthConfigBuilder::http_client",
    ))
}

#[cfg(test)]
mod tests {
    use super::is_at_jwt;

    #[test]
    fn typ_matching() {
        for ok in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            assert!(is_at_jwt(ok), "{ok}");
        }
        for bad in [
            "JWT",
            "",
            "application/jwt",
            "at+jwt ",
            "dpop+jwt",
            "application/",
        ] {
            assert!(!is_at_jwt(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod tenant_tests {
    use super::*;
    use crate::NoExtraClaims;

    /// A flood of tokens naming made-up tenants: at most `max_tenants` issuers exist, and the
    /// tenant in use keeps its issuer (and its warm key cache).
    #[tokio::test]
    async fn made_up_tenants_stay_within_the_bound_and_do_not_evict_the_tenant_in_use() {
        let acme = auth_issuer::TestIssuer::builder()
            .path("/acme")
            .start()
            .await
            .expect("issuer");
        let pattern = acme.issuer().replace("/acme", "/{tenant}");
        let verifier = Verifier::new(
            AuthConfig::builder()
                .issuer(&pattern)
                .audience(acme.audience())
                .max_tenants(4)
                .build()
                .expect("config"),
        )
        .expect("verifier");
        let good = acme.token().sub("alice").sign();
        for _ in 0..20 {
            verifier.verify::<NoExtraClaims>(&good).await.expect("acme");
        }
        let fetches = acme.jwks_requests();
        // The flood comes while the tenant in use keeps being used.
        for n in 0..200 {
            let forged = acme
                .token()
                .claim("iss", pattern.replace("{tenant}", &format!("t{n}")))
                .sign();
            let _ = verifier.verify::<NoExtraClaims>(&forged).await;
            verifier
                .verify::<NoExtraClaims>(&good)
                .await
                .expect("acme during the flood");
        }
        let tenants = verifier.inner.issuers[0]
            .tenants
            .as_ref()
            .expect("a pattern");
        tenants.live.run_pending_tasks();
        assert!(
            tenants.live.entry_count() <= 4,
            "{} tenant issuers",
            tenants.live.entry_count()
        );
        assert!(
            tenants.live.contains_key("acme"),
            "the hot tenant was evicted"
        );
        verifier
            .verify::<NoExtraClaims>(&good)
            .await
            .expect("acme still verifies");
        assert_eq!(acme.jwks_requests(), fetches, "with its cached keys");
    }
}
