//! `POST {path}/revoke`: token revocation (RFC 7009).

use super::{OAuthError, authenticate_client, form};
use crate::engine::Engine;
use crate::http::{ProviderRequest, ProviderResponse};
use crate::jwt::own_token;
use crate::secret::token_hash;

/// A refresh token revokes its whole family, access tokens issued under it included
/// (RFC 7009 §2.1). An access token (a JWT this provider signed, `typ` `at+jwt`, or an opaque
/// one) is recorded as revoked until it expires: userinfo and introspection refuse it.
/// Unknown tokens answer `200` all the same; a token issued to another client is refused
/// with `unauthorized_client`.
pub(crate) async fn handle(engine: &Engine, request: &ProviderRequest) -> ProviderResponse {
    match process(engine, request).await {
        Ok(()) => ProviderResponse::new(200)
            .with_header("cache-control", "no-store")
            .with_header("pragma", "no-cache"),
        Err(error) => error.into_response(),
    }
}

async fn process(engine: &Engine, request: &ProviderRequest) -> Result<(), OAuthError> {
    let params = form(request, "revocation", &[])?;
    let client = authenticate_client(engine, request, &params).await?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let other_client = || {
        OAuthError::bad_request(
            "unauthorized_client",
            "the token was issued to another client",
        )
    };
    // token_type_hint only says where to look first (RFC 7009 §2.1); every kind is searched,
    // so unknown hints are ignored.
    let hash = token_hash(token);
    if let Some(record) = engine.store.refresh_token(&hash).await? {
        if record.client_id != client.client_id() {
            return Err(other_client());
        }
        engine
            .store
            .revoke_authorization(&record.authorization_id)
            .await?;
        tracing::debug!(
            client_id = client.client_id(),
            "auth-provider: refresh token revoked"
        );
        return Ok(());
    }
    if let Some(record) = engine.store.opaque_access_token(&hash).await? {
        if record.client_id != client.client_id() {
            return Err(other_client());
        }
        engine
            .store
            .revoke_access_token(&record.jti, record.expires_at)
            .await?;
        return Ok(());
    }
    let access = {
        let keys = engine.keys();
        own_token(&keys, &engine.issuer, token).filter(|t| t.is_access_token())
    };
    let Some(access) = access else {
        return Ok(());
    };
    if access.str_claim("client_id") != Some(client.client_id()) {
        return Err(other_client());
    }
    if let (Some(jti), Some(exp)) = (access.str_claim("jti"), access.exp()) {
        engine.store.revoke_access_token(jti, exp).await?;
        tracing::debug!(jti, "auth-provider: access token revoked");
    }
    Ok(())
}
