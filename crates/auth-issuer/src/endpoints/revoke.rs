//! `POST {path}/revoke`: token revocation (RFC 7009).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{OAuthError, Params, authenticate_client, is_form};
use crate::server::Shared;
use crate::token::unix_now;
use crate::verify::own_token;

/// `POST {path}/revoke`.
///
/// A refresh token revokes its whole family, access tokens issued under it included
/// (RFC 7009 §2.1). An access token (a JWT this issuer signed, `typ` `at+jwt`) is recorded
/// as revoked until it expires: userinfo refuses it. Unknown tokens answer `200` all the
/// same; a token issued to another client is refused with `unauthorized_client`.
pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match process(&shared, &headers, &body) {
        Ok(()) => (
            StatusCode::OK,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

fn process(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the revocation request must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body);
    if let Some(name) = params.repeated(&[]) {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is given more than once"
        )));
    }
    let client = authenticate_client(shared, headers, &params)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    // token_type_hint only says where to look first (RFC 7009 §2.1); both kinds are
    // searched, so unknown hints are ignored.
    if shared
        .provider()
        .grants
        .revoke_refresh_token(token, client.client_id())?
    {
        tracing::debug!(
            client_id = client.client_id(),
            "auth-issuer: refresh token revoked"
        );
        return Ok(());
    }
    let Some(access) = own_token(shared, token).filter(|t| t.is_access_token()) else {
        return Ok(());
    };
    if access.str_claim("client_id") != Some(client.client_id()) {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            "the token was issued to another client",
        ));
    }
    if let (Some(jti), Some(exp)) = (access.str_claim("jti"), access.exp()) {
        shared
            .provider()
            .grants
            .revoke_access_token(jti, exp, unix_now());
        tracing::debug!(jti, "auth-issuer: access token revoked");
    }
    Ok(())
}
