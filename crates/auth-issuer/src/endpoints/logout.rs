//! `GET|POST {path}/logout`: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::html;
use super::{Params, is_form, with_query};
use crate::server::Shared;
use crate::verify::own_token;

/// `GET|POST {path}/logout`.
///
/// A valid `id_token_hint` ends the sign-in it came from: the refresh and access tokens of
/// that grant are revoked (its `sid`). `post_logout_redirect_uri` is followed only when it
/// is registered for the client named by `client_id` or by the hint's `aud`; otherwise, or
/// without one, the answer is a small "signed out" page.
pub(crate) async fn logout(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = if method == Method::POST {
        if !is_form(&headers) {
            return html::error_page(
                "POST to the logout endpoint needs an application/x-www-form-urlencoded body",
            );
        }
        Params::parse(&body)
    } else {
        Params::parse(uri.query().unwrap_or("").as_bytes())
    };
    if let Some(name) = params.repeated(&[]) {
        return html::error_page(&format!("parameter {name} is given more than once"));
    }
    let mut hint_client: Option<String> = None;
    let mut sid: Option<String> = None;
    if let Some(hint) = params.get("id_token_hint") {
        // An expired ID token is still a good hint (RP-Initiated Logout §2).
        let Some(token) = own_token(&shared, hint).filter(|t| !t.is_access_token()) else {
            return html::error_page("id_token_hint is not an ID token issued by this issuer");
        };
        hint_client = match token.claims.get("aud") {
            Some(Value::String(aud)) => Some(aud.clone()),
            Some(Value::Array(auds)) if auds.len() == 1 => auds[0].as_str().map(str::to_owned),
            _ => None,
        };
        sid = token.str_claim("sid").map(str::to_owned);
    }
    let client_id = match (params.get("client_id"), hint_client.as_deref()) {
        (Some(given), Some(hinted)) if given != hinted => {
            return html::error_page("client_id does not match the id_token_hint audience");
        }
        (Some(given), _) => Some(given),
        (None, hinted) => hinted,
    };
    let client = match client_id {
        Some(id) => match shared.provider().directory.client(id).cloned() {
            Some(client) => Some(client),
            None => return html::error_page(&format!("unknown client {id:?}")),
        },
        None => None,
    };
    if let Some(sid) = &sid {
        shared.provider().grants.revoke_grant(sid);
        tracing::debug!(sid, "auth-issuer: signed out");
    }
    let Some(target) = params.get("post_logout_redirect_uri") else {
        return html::signed_out_page(&shared.issuer, None);
    };
    let Some(client) = client else {
        return html::signed_out_page(
            &shared.issuer,
            Some("post_logout_redirect_uri was ignored: send client_id or id_token_hint with it"),
        );
    };
    if !client.has_post_logout_redirect_uri(target) {
        return html::signed_out_page(
            &shared.issuer,
            Some("post_logout_redirect_uri was ignored: it is not registered for this client"),
        );
    }
    let mut query = Vec::new();
    if let Some(state) = params.get("state") {
        query.push(("state", state));
    }
    let Ok(location) = HeaderValue::from_str(&with_query(target, &query)) else {
        return html::error_page(
            "the post-logout redirect URI cannot be sent in a Location header",
        );
    };
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}
