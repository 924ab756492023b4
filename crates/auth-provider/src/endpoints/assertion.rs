//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::OAuthError;
use crate::client::{Client, ClientAuth};
use crate::engine::Engine;
use crate::jwt::unix_now;
use crate::keys::{Alg, verify_with_jwk};

/// The only `client_assertion_type` accepted.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest lifetime (`exp` from now) an assertion may claim.
const MAX_LIFETIME_SECS: i64 = 600;

/// Clock skew allowed for `exp`, `nbf` and `iat`.
const LEEWAY_SECS: i64 = 60;

fn part(segment: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).ok()?).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The client that `assertion` authenticates, after every RFC 7523 §3 check: signed by one of
/// the client's registered keys with an asymmetric algorithm; `iss` = `sub` = the client id
/// (and `form_client_id`, when sent); `aud` naming this issuer or one of its endpoints; not
/// expired, not issued for longer than ten minutes, not used before (`jti`).
pub(crate) async fn authenticate(
    engine: &Engine,
    assertion_type: &str,
    assertion: &str,
    form_client_id: Option<&str>,
) -> Result<Client, OAuthError> {
    if assertion_type != JWT_BEARER {
        return Err(OAuthError::invalid_client(
            "unsupported client_assertion_type",
        ));
    }
    let invalid =
        |why: &str| OAuthError::invalid_client(format!("invalid client assertion: {why}"));
    let mut segments = assertion.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(invalid("not a compact JWS"));
    };
    let header_json = part(header).ok_or_else(|| invalid("malformed header"))?;
    let claims = part(payload).ok_or_else(|| invalid("malformed claims"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| invalid("malformed signature"))?;
    // Asymmetric algorithms only: `none` and HMAC are refused.
    let alg = header_json
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Alg::parse)
        .ok_or_else(|| invalid("unsupported alg"))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let sub = text("sub").ok_or_else(|| invalid("sub is missing"))?;
    if text("iss") != Some(sub) {
        return Err(invalid("iss must equal sub (the client id)"));
    }
    if form_client_id.is_some_and(|id| id != sub) {
        return Err(invalid("client_id differs from the assertion's sub"));
    }
    let client = engine
        .find_client(sub)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    if !client.accepts(ClientAuth::PrivateKeyJwt) {
        return Err(OAuthError::invalid_client(
            "this client does not use private_key_jwt",
        ));
    }
    let kid = header_json.get("kid").and_then(Value::as_str);
    let message = &assertion.as_bytes()[..header.len() + 1 + payload.len()];
    let signed = client
        .jwks()
        .iter()
        .filter(|jwk| kid.is_none_or(|kid| jwk.get("kid").and_then(Value::as_str) == Some(kid)))
        .any(|jwk| verify_with_jwk(jwk, alg, message, &signature));
    if !signed {
        return Err(invalid("no registered key of the client signed it"));
    }
    let base = &engine.issuer;
    let accepted = |aud: &str| {
        aud == base
            || ["token", "revoke", "introspect"]
                .iter()
                .any(|endpoint| aud == format!("{base}/{endpoint}"))
    };
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(accepted),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid("aud must be the issuer or its token endpoint"));
    }
    let now = unix_now();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("exp is missing"))?;
    if exp.saturating_add(LEEWAY_SECS) <= now {
        return Err(invalid("expired"));
    }
    if exp > now.saturating_add(MAX_LIFETIME_SECS + LEEWAY_SECS) {
        return Err(invalid("exp is too far ahead"));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECS))
    {
        return Err(invalid("not valid yet (nbf)"));
    }
    let jti = text("jti").ok_or_else(|| invalid("jti is missing"))?;
    if !engine
        .store
        .use_once(
            // Hashed: any client id and jti, in one printable key of bounded length.
            &format!(
                "assertion:{}",
                crate::secret::token_hash(&format!("{sub}\u{0}{jti}"))
            ),
            exp.saturating_add(LEEWAY_SECS),
        )
        .await?
    {
        return Err(invalid("jti was used before"));
    }
    Ok(client)
}
