//! Opaque access tokens: token introspection (RFC 7662) at the issuer, with a bounded cache.
//!
//! ```
//! use std::time::Duration;
//! use auth_core::{AuthConfig, Introspection, TokenFormat};
//!
//! # fn main() -> Result<(), auth_core::ConfigError> {
//! let config = AuthConfig::builder()
//!     .issuer("https://login.example.com")
//!     .audience("orders-api")
//!     .introspection(
//!         Introspection::new("orders-api", "resource-server-secret")
//!             .max_ttl(Duration::from_secs(60)),
//!     )
//!     .token_format(TokenFormat::Auto) // JWTs verified locally, anything else introspected
//!     .build()?;
//! # let _ = config; Ok(()) }
//! ```
//!
//! An introspected token goes through the same claim checks as a JWT's payload (`exp` when
//! present, `nbf`, `iat`, `iss` when present, `aud`), into the same `Claims` type, with the
//! same errors: `active: false` is 401 `token_invalid`; an unreachable or failing
//! introspection endpoint is 503, never 401.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use serde_json::Value;

use crate::config::Secret;
use crate::error::{AuthError, ErrorCode, TokenInvalidReason as R};
use crate::http::send;
use crate::session::ClientAuth;
use crate::session::oauth::{OAuthClient, client_form};

/// The largest introspection answer read.
const MAX_RESPONSE: usize = 64 * 1024;

/// Which tokens an issuer's verifier introspects.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// Every token is a JWT, verified locally (the default without introspection).
    Jwt,
    /// Every token is opaque and introspected.
    Opaque,
    /// A token that looks like a JWT (three dot-separated parts, a JSON header) is verified
    /// locally; any other is introspected (the default with introspection).
    Auto,
}

/// How to introspect: the resource server's own client credentials at the issuer, the
/// endpoint (default: the discovery document's `introspection_endpoint`) and the cache.
#[derive(Clone)]
pub struct Introspection {
    pub(crate) client_id: String,
    pub(crate) secret: Secret,
    pub(crate) method: ClientAuth,
    pub(crate) endpoint: Option<String>,
    pub(crate) max_ttl: Duration,
    pub(crate) capacity: u64,
    pub(crate) timeout: Duration,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .field("endpoint", &self.endpoint)
            .field("max_ttl", &self.max_ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Introspection {
    /// Introspection as the client `client_id` with `secret` (`client_secret_basic`).
    #[must_use]
    pub fn new(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Introspection {
            client_id: client_id.into(),
            secret: Secret::new(secret),
            method: ClientAuth::Basic,
            endpoint: None,
            max_ttl: Duration::from_secs(60),
            capacity: 10_000,
            timeout: Duration::from_secs(5),
        }
    }

    /// How the secret is sent: [`ClientAuth::Basic`] (default) or [`ClientAuth::Post`]; any
    /// other method is refused when the configuration is built.
    #[must_use]
    pub fn client_auth(mut self, method: ClientAuth) -> Self {
        self.method = method;
        self
    }

    /// The introspection endpoint, instead of the discovery document's.
    #[must_use]
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The longest an answer is reused (default 60 s; never beyond the token's `exp`). A
    /// revoked token stays accepted for at most this long.
    #[must_use]
    pub fn max_ttl(mut self, ttl: Duration) -> Self {
        self.max_ttl = ttl;
        self
    }

    /// How many answers are cached at most (default 10,000).
    #[must_use]
    pub fn capacity(mut self, entries: u64) -> Self {
        self.capacity = entries;
        self
    }

    /// The timeout of one introspection request (default 5 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// An issuer's introspection, at run time.
pub(crate) struct Introspector {
    settings: Introspection,
    format: TokenFormat,
    /// Answers by SHA-256 of the token: the active claims, or `None` for an inactive token.
    cache: moka::future::Cache<[u8; 32], Option<Arc<[u8]>>>,
}

impl Introspector {
    pub(crate) fn new(settings: Introspection, format: TokenFormat) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(settings.capacity)
            .time_to_live(settings.max_ttl)
            .build();
        Introspector {
            settings,
            format,
            cache,
        }
    }

    /// Whether `token` is introspected rather than verified as a JWT.
    pub(crate) fn applies_to(&self, token: &str) -> bool {
        match self.format {
            TokenFormat::Jwt => false,
            TokenFormat::Opaque => true,
            TokenFormat::Auto => !looks_like_jwt(token),
        }
    }

    /// The active token's claims (the introspection answer), from the cache or the endpoint.
    pub(crate) async fn introspect(
        &self,
        issuer: &crate::verifier::Issuer,
        token: &str,
    ) -> Result<Vec<u8>, AuthError> {
        if token.is_empty() || token.len() > issuer.config.max_token_bytes {
            return Err(AuthError::invalid_token(R::TooLarge, "token is too large"));
        }
        let key: [u8; 32] = digest::digest(&digest::SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .unwrap_or([0; 32]);
        let mut asked = false;
        let answer = self
            .cache
            .try_get_with(key, async {
                asked = true;
                let result = self.ask(issuer, token).await;
                crate::metrics::introspection(&result, false);
                result
            })
            .await
            .map_err(|e| (*e).clone());
        if !asked {
            crate::metrics::introspection(&answer, true);
        }
        let answer = answer?;
        match answer {
            Some(claims) => Ok(claims.to_vec()),
            None => Err(AuthError::invalid_token(
                R::Inactive,
                "the token is not active",
            )),
        }
    }

    async fn ask(
        &self,
        issuer: &crate::verifier::Issuer,
        token: &str,
    ) -> Result<Option<Arc<[u8]>>, AuthError> {
        let unavailable = |message: &'static str| AuthError::new(ErrorCode::Network, message);
        let endpoint = match &self.settings.endpoint {
            Some(url) => url.clone(),
            None => issuer
                .metadata()
                .await?
                .raw
                .get("introspection_endpoint")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    AuthError::new(
                        ErrorCode::ConfigInvalid,
                        "the issuer advertises no introspection_endpoint: configure one",
                    )
                })?,
        };
        let client = OAuthClient {
            id: &self.settings.client_id,
            secret: Some(self.settings.secret.expose()),
            method: Some(self.settings.method),
            timeout: self.settings.timeout,
            key: None,
        };
        let form = [("token", token), ("token_type_hint", "access_token")];
        let request = client_form(&client, &endpoint, &form, MAX_RESPONSE)?;
        use tracing::Instrument as _;
        let span =
            tracing::info_span!("auth.upstream", kind = "introspection", endpoint = %endpoint);
        let response = send(&*issuer.http, request)
            .instrument(span)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "introspection endpoint unreachable");
                unavailable("the token introspection endpoint is unreachable").with_source(e)
            })?;
        match response.status {
            200 => {}
            401 | 403 => {
                tracing::error!(
                    status = response.status,
                    "the introspection endpoint refused this resource server's credentials"
                );
                return Err(AuthError::new(
                    ErrorCode::ConfigInvalid,
                    "the introspection endpoint refused this service's credentials",
                ));
            }
            429 => {
                return Err(AuthError::new(
                    ErrorCode::RateLimited,
                    "the introspection endpoint is rate limiting",
                ));
            }
            _ => return Err(unavailable("the token introspection endpoint failed")),
        }
        let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(&response.body) else {
            return Err(unavailable(
                "the introspection endpoint sent an invalid answer",
            ));
        };
        match answer.remove("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Ok(None),
            _ => {
                return Err(unavailable(
                    "the introspection answer has no boolean active",
                ));
            }
        }
        match answer.get("token_type").and_then(Value::as_str) {
            None => {}
            Some(t)
                if t.eq_ignore_ascii_case("bearer") || t.eq_ignore_ascii_case("access_token") => {}
            // RFC 9449 §6.2: a DPoP-bound token is `DPoP`, with `cnf.jkt`, which the
            // authenticator then checks against the request's proof like a JWT's.
            Some(t)
                if t.eq_ignore_ascii_case("dpop")
                    && answer
                        .get("cnf")
                        .and_then(|c| c.get("jkt"))
                        .is_some_and(Value::is_string) => {}
            // Another token type (or `DPoP` without a key) is not one this server can check.
            Some(_) => return Ok(None),
        }
        answer.remove("token_type");
        let bytes = serde_json::to_vec(&Value::Object(answer))
            .map_err(|_| unavailable("the introspection answer cannot be re-encoded"))?;
        Ok(Some(Arc::from(bytes)))
    }
}

/// A compact JWS: three dot-separated parts, the first a base64url JSON object (`eyJ` is
/// `{"`).
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|&b| b == b'.').count() == 2
}
