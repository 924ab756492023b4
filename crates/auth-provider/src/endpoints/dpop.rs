//! DPoP (RFC 9449) at the provider's endpoints: the one proof a request carries, checked by
//! `auth_core`'s verifier against the endpoint's own URL.

use std::time::SystemTime;

use auth_core::AuthError;
use auth_core::ErrorCode;
use serde_json::{Map, Value};

use crate::engine::Engine;
use crate::http::ProviderRequest;

/// Why a request's proof was refused.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// `invalid_dpop_proof` or `use_dpop_nonce`.
    pub(crate) error: &'static str,
    pub(crate) description: String,
    /// The nonce to use, for `use_dpop_nonce` (the `DPoP-Nonce` header).
    pub(crate) nonce: Option<String>,
}

impl Refusal {
    pub(crate) fn invalid(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_dpop_proof",
            description: description.into(),
            nonce: None,
        }
    }

    fn from_core(engine: &Engine, error: &AuthError, now: SystemTime) -> Self {
        if error.is(ErrorCode::UseDpopNonce) {
            Self {
                error: "use_dpop_nonce",
                description: error.message().to_owned(),
                nonce: engine.dpop.current_nonce(now),
            }
        } else {
            Self::invalid(error.message())
        }
    }
}

/// The request's `DPoP` header: `None` without one, a refusal for more than one (RFC 9449
/// §4.3: exactly one; a comma joins repeated header fields).
pub(crate) fn proof_header(request: &ProviderRequest) -> Result<Option<&str>, Refusal> {
    let mut values = request.header_values("dpop");
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(proof), None) if !proof.contains(',') => Ok(Some(proof)),
        _ => Err(Refusal::invalid("more than one DPoP proof")),
    }
}

/// Checks `proof` for a request with `method` to `url` carrying `access_token` (`None` at the
/// token endpoint); the thumbprint of its key.
pub(crate) fn verify(
    engine: &Engine,
    proof: &str,
    method: &str,
    url: &url::Url,
    access_token: Option<&str>,
) -> Result<String, Refusal> {
    let now = SystemTime::now();
    engine
        .dpop
        .verify(proof, method, url, access_token, None, now)
        .map(|verified| verified.jkt)
        .map_err(|error| Refusal::from_core(engine, &error, now))
}

/// The `cnf.jkt` of a token's claims: the key it is bound to.
pub(crate) fn bound_key(claims: &Map<String, Value>) -> Option<&str> {
    claims
        .get("cnf")
        .and_then(|cnf| cnf.get("jkt"))
        .and_then(Value::as_str)
}

/// Whether `value` can be a JWK SHA-256 thumbprint (RFC 7638): 43 base64url characters.
pub(crate) fn is_thumbprint(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
