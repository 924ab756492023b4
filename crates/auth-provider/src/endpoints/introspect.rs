//! `POST {path}/introspect`: token introspection (RFC 7662).

use serde_json::{Map, Value, json};

use super::{OAuthError, authenticate_client, form};
use crate::engine::Engine;
use crate::http::{ProviderRequest, ProviderResponse};
use crate::jwt::{own_token, unix_now};
use crate::secret::token_hash;

/// For an authenticated client (a resource server). An opaque access token this provider
/// issued, or a JWT access token it signed, that has not expired and was not revoked is
/// `{"active": true, ...its claims, "token_type": "Bearer"}`, or for a DPoP-bound token
/// `"token_type": "DPoP"` with its `cnf` (RFC 9449 §6.2); anything else is
/// `{"active": false}` (RFC 7662 §2.2: nothing more is said about an inactive token).
pub(crate) async fn handle(engine: &Engine, request: &ProviderRequest) -> ProviderResponse {
    match process(engine, request).await {
        Ok(answer) => ProviderResponse::json(200, &answer),
        Err(error) => error.into_response(),
    }
}

async fn process(engine: &Engine, request: &ProviderRequest) -> Result<Value, OAuthError> {
    let params = form(request, "introspection", &[])?;
    // Any confidential client may introspect (a resource server); a public client proves
    // nothing about itself.
    let client = authenticate_client(engine, request, &params).await?;
    if !client.is_confidential() {
        return Err(OAuthError::invalid_client(
            "introspection needs client authentication; a public client cannot introspect",
        ));
    }
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let now = unix_now();
    let claims: Option<Map<String, Value>> =
        match engine.store.opaque_access_token(&token_hash(token)).await? {
            Some(record) => record
                .opaque
                .map(|(_, claims)| claims)
                .filter(|_| !record.revoked),
            None => {
                let keys = engine.keys();
                own_token(&keys, &engine.issuer, token)
                    .filter(|t| t.is_access_token())
                    .map(|t| t.claims)
            }
        };
    let Some(mut claims) = claims else {
        return Ok(inactive());
    };
    // A client that registered itself learns only about its own tokens; the operator's
    // clients (resource servers) about any (RFC 7662 §4).
    if client.registered_metadata().is_some()
        && claims.get("client_id").and_then(Value::as_str) != Some(client.client_id())
    {
        return Ok(inactive());
    }
    let expired = claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now);
    let revoked = match claims.get("jti").and_then(Value::as_str) {
        Some(jti) => engine
            .store
            .access_token(jti)
            .await?
            .is_some_and(|record| record.revoked),
        None => false,
    };
    if expired || revoked {
        return Ok(inactive());
    }
    let token_type = if super::dpop::bound_key(&claims).is_some() {
        "DPoP"
    } else {
        "Bearer"
    };
    claims.insert("active".into(), Value::Bool(true));
    claims.insert("token_type".into(), token_type.into());
    Ok(Value::Object(claims))
}

fn inactive() -> Value {
    json!({ "active": false })
}
