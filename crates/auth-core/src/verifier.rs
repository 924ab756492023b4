//! The access-token verifier.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use aws_lc_rs::hmac;
use serde::de::DeserializeOwned;

use crate::alg::Algorithm;
use crate::claims::{self, Claims, NumericDate};
use crate::config::{AuthConfig, ConfigError};
use crate::discovery::{Discovery, ProviderMetadata};
use crate::error::{AuthError, ErrorCode, TokenInvalidReason as R};
use crate::http::HttpClient;
use crate::jwk::KeySet;
use crate::jwks::{KeyCache, Source};
use crate::jws;

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
    config: AuthConfig,
    /// The issuer, shared with every `Claims` (no per-token allocation).
    issuer: Arc<str>,
    keys: Keys,
    http: Arc<dyn HttpClient>,
    discovery: Option<Arc<Discovery>>,
    hmac: Vec<(Algorithm, hmac::Key)>,
}

enum Keys {
    Static(Arc<KeySet>),
    Remote(KeyCache),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.inner.config)
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
        Ok(Verifier {
            inner: Arc::new(Inner {
                config,
                issuer,
                keys,
                http: http_for_flows,
                discovery: Some(discovery),
                hmac,
            }),
        })
    }

    /// Builds a verifier from the environment (see [`AuthConfig::from_env`]).
    ///
    /// # Errors
    /// `config_invalid`, naming the variable.
    pub fn from_env() -> Result<Verifier, ConfigError> {
        Verifier::new(AuthConfig::from_env()?)
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// Fetches discovery metadata and the key set now, instead of on the first request.
    ///
    /// # Errors
    /// `discovery_failed`, `jwks_fetch_failed` or `jwks_unavailable`. The verifier stays usable and
    /// retries on later requests.
    pub async fn warm_up(&self) -> Result<(), AuthError> {
        match &self.inner.keys {
            Keys::Static(_) => Ok(()),
            Keys::Remote(cache) => cache.warm_up().await,
        }
    }

    /// The issuer's discovery metadata (fetched on first use).
    ///
    /// # Errors
    /// `discovery_failed` (503, retryable).
    pub async fn provider_metadata(&self) -> Result<Arc<ProviderMetadata>, AuthError> {
        match &self.inner.discovery {
            Some(d) => d.metadata().await,
            None => Err(AuthError::new(
                ErrorCode::DiscoveryFailed,
                "discovery is not configured",
            )),
        }
    }

    /// The HTTP client (shared with the session engine's token-endpoint calls).
    pub(crate) fn http(&self) -> Arc<dyn HttpClient> {
        Arc::clone(&self.inner.http)
    }

    /// The key set currently cached, if any (diagnostics).
    #[must_use]
    pub fn current_keys(&self) -> Option<Arc<KeySet>> {
        match &self.inner.keys {
            Keys::Static(set) => Some(Arc::clone(set)),
            Keys::Remote(cache) => cache.current(),
        }
    }

    /// How many key-set fetches this verifier has started (diagnostics, metrics).
    #[must_use]
    pub fn key_set_fetches(&self) -> u64 {
        match &self.inner.keys {
            Keys::Static(_) => 0,
            Keys::Remote(cache) => cache.fetch_count(),
        }
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
        E: DeserializeOwned + 'static,
    {
        let result = self.verify_inner(token).await;
        if let Err(e) = &result {
            tracing::debug!(code = e.code().as_str(), issuer = %self.inner.config.issuer, reason = e.message(), "token rejected");
        }
        result
    }

    /// Verifies only the JWS layer (header rules, key, signature) and returns the payload bytes,
    /// for signed payloads that are not JWT access tokens. No claim is checked.
    ///
    /// # Errors
    /// As [`verify`](Self::verify), without the claim errors.
    pub async fn verify_jws(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        let parts = jws::split(token, self.inner.config.max_token_bytes)?;
        let mut header_buf = jws::HeaderBuf::default();
        let header = jws::decode_header(parts.header, &mut header_buf)?;
        self.check_signature(&parts, &header).await?;
        jws::decode_payload(parts.payload)
    }

    /// The JOSE layer: algorithm allow-list, key selection, signature.
    async fn check_signature(
        &self,
        parts: &jws::Parts<'_>,
        header: &jws::Header<'_>,
    ) -> Result<(), AuthError> {
        let alg = jws::check_alg(header, &self.inner.config.algorithms)?;
        let sig = jws::decode_signature(parts.signature, alg)?;
        if alg.is_symmetric() {
            let key = self
                .inner
                .hmac
                .iter()
                .find(|(a, _)| *a == alg)
                .map(|(_, k)| k)
                .ok_or_else(|| {
                    AuthError::invalid_token(
                        R::AlgorithmNotAllowed,
                        "the token's algorithm is not allowed",
                    )
                })?;
            return hmac::verify(key, parts.signing_input.as_bytes(), sig.as_slice()).map_err(
                |_| AuthError::invalid_token(R::BadSignature, "token signature is invalid"),
            );
        }
        let kid = header.kid.as_deref();
        let check = |key: &aws_lc_rs::signature::ParsedPublicKey| {
            jws::verify_signature(key, parts.signing_input, sig.as_slice())
        };
        match &self.inner.keys {
            Keys::Static(set) => check(set.find(kid, alg).map_err(crate::jwk::Miss::into_error)?),
            Keys::Remote(cache) => cache.with_key(kid, alg, check).await?,
        }
    }

    async fn verify_inner<E>(&self, token: &str) -> Result<Claims<E>, AuthError>
    where
        E: DeserializeOwned + 'static,
    {
        let config = &self.inner.config;
        let parts = jws::split(token, config.max_token_bytes)?;
        let mut header_buf = jws::HeaderBuf::default();
        let header = jws::decode_header(parts.header, &mut header_buf)?;
        self.check_signature(&parts, &header).await?;

        // Signature verified: now the claims.
        let payload = jws::decode_payload(parts.payload)?;
        let registered = claims::parse_registered(&payload).map_err(|e| {
            tracing::debug!(error = %e, "malformed claims");
            AuthError::invalid_token(R::Malformed, "token claims are malformed")
        })?;
        let now = config
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let leeway = config.leeway.as_secs_f64();

        let exp = registered.exp.ok_or_else(|| {
            AuthError::invalid_token(R::MissingClaim("exp"), "token has no exp claim")
        })?;
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
        if config.require_typ && !header.typ.as_deref().is_some_and(is_at_jwt) {
            return Err(AuthError::invalid_token(
                R::TypMismatch,
                "token is not an access token (typ)",
            ));
        }
        if config.rfc9068 {
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
        let iss = Arc::clone(&self.inner.issuer);
        Ok(claims::assemble(
            checked,
            iss,
            exp,
            extra,
            payload,
            Arc::clone(&config.claim_mapping),
        ))
    }
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
fn default_client() -> Result<Arc<dyn HttpClient>, ConfigError> {
    crate::http::ReqwestClient::new()
        .map(|c| Arc::new(c) as Arc<dyn HttpClient>)
        .map_err(|e| ConfigError::new("http_client", e.to_string()))
}

#[cfg(not(feature = "reqwest"))]
fn default_client() -> Result<Arc<dyn HttpClient>, ConfigError> {
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
