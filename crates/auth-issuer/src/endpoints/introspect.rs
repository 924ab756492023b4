//! `POST {path}/introspect`: token introspection (RFC 7662).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{OAuthError, Params, authenticate_client, is_form};
use crate::server::Shared;
use crate::token::unix_now;
use crate::verify::own_token;

/// `POST {path}/introspect`, for an authenticated client (a resource server).
///
/// An opaque access token this issuer handed out, or a JWT access token it signed, that has
/// not expired and was not revoked is `{"active": true, ...its claims, "token_type":
/// "Bearer"}`; anything else is `{"active": false}` (RFC 7662 §2.2: nothing more is said
/// about an inactive token).
pub(crate) async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match process(&shared, &headers, &body) {
        Ok(answer) => ([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

fn process(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the introspection request must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body);
    if let Some(name) = params.repeated(&[]) {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is given more than once"
        )));
    }
    // Any registered client that authenticates may introspect (a resource server).
    let _client = authenticate_client(shared, headers, &params)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let now = unix_now();
    let claims = match shared.settings().opaque.get(token) {
        Some(claims) => Some(claims.clone()),
        None => own_token(shared, token)
            .filter(|t| t.is_access_token())
            .map(|t| t.claims),
    };
    let Some(mut claims) = claims else {
        return Ok(inactive());
    };
    let expired = claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now);
    let revoked = claims
        .get("jti")
        .and_then(Value::as_str)
        .is_some_and(|jti| shared.provider().grants.is_access_token_revoked(jti));
    if expired || revoked {
        return Ok(inactive());
    }
    claims.insert("active".into(), Value::Bool(true));
    claims.insert("token_type".into(), "Bearer".into());
    Ok(Value::Object(claims))
}

fn inactive() -> Value {
    json!({ "active": false })
}

/// Registers an opaque access token for `claims`; returns it.
pub(crate) fn register_opaque(shared: &Shared, claims: Map<String, Value>) -> String {
    let token = format!("opq_{}", crate::token::random_hex(24));
    let mut settings = shared.settings();
    let now = unix_now();
    settings.opaque.retain(|_, c| {
        c.get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| exp > now)
    });
    settings.opaque.insert(token.clone(), claims);
    token
}
