//! `GET|POST {path}/logout`: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use serde_json::Value;

use crate::engine::Engine;
use crate::http::{ProviderRequest, ProviderResponse};
use crate::jwt::own_token;
use crate::pages as html;
use crate::params::{Params, with_query};

/// `GET|POST {path}/logout`.
///
/// A valid `id_token_hint` ends the sign-in it came from: the refresh and access tokens of
/// that grant are revoked (its `sid`). `post_logout_redirect_uri` is followed only when it
/// is registered for the client named by `client_id` or by the hint's `aud`; otherwise, or
/// without one, the answer is a small "signed out" page.
pub(crate) async fn handle(engine: &Engine, request: &ProviderRequest) -> ProviderResponse {
    let params = if request.method() == "POST" {
        if !request.is_form() {
            return html::error_page(
                "POST to the logout endpoint needs an application/x-www-form-urlencoded body",
            );
        }
        Params::parse(request.body_bytes())
    } else {
        Params::parse(request.query().as_bytes())
    };
    if let Some(name) = params.repeated(&[]) {
        return html::error_page(&format!("parameter {name} is given more than once"));
    }
    let mut hint_client: Option<String> = None;
    let mut sid: Option<String> = None;
    let mut hint_sub: Option<String> = None;
    if let Some(hint) = params.get("id_token_hint") {
        // An expired ID token is still a good hint (RP-Initiated Logout §2).
        let token = {
            let keys = engine.keys();
            own_token(&keys, &engine.issuer, hint).filter(|t| !t.is_access_token())
        };
        let Some(token) = token else {
            return html::error_page("id_token_hint is not an ID token issued by this provider");
        };
        hint_client = match token.claims.get("aud") {
            Some(Value::String(aud)) => Some(aud.clone()),
            Some(Value::Array(auds)) if auds.len() == 1 => auds[0].as_str().map(str::to_owned),
            _ => None,
        };
        sid = token.str_claim("sid").map(str::to_owned);
        hint_sub = token.str_claim("sub").map(str::to_owned);
    }
    let client_id = match (params.get("client_id"), hint_client.as_deref()) {
        (Some(given), Some(hinted)) if given != hinted => {
            return html::error_page("client_id does not match the id_token_hint audience");
        }
        (Some(given), _) => Some(given),
        (None, hinted) => hinted,
    };
    let client = match client_id {
        Some(id) => match engine.find_client(id).await {
            Ok(Some(client)) => Some(client),
            Ok(None) => return html::error_page(&format!("unknown client {id:?}")),
            Err(error) => {
                tracing::warn!(%error, "auth-provider: store unavailable");
                return html::respond(503, html::page("Temporarily unavailable", ""))
                    .with_header("retry-after", "5");
            }
        },
        None => None,
    };
    if let Some(sid) = &sid {
        // Only a sign-in of the hint's own client and user.
        let owned = match engine.store.authorization(sid).await {
            Ok(found) => found.filter(|a| {
                Some(a.client_id.as_str()) == hint_client.as_deref()
                    && Some(a.sub.as_str()) == hint_sub.as_deref()
            }),
            Err(error) => {
                tracing::warn!(%error, "auth-provider: store unavailable");
                return html::respond(503, html::page("Temporarily unavailable", ""))
                    .with_header("retry-after", "5");
            }
        };
        if owned.is_some() {
            if let Err(error) = engine.store.revoke_authorization(sid).await {
                tracing::warn!(%error, "auth-provider: store unavailable");
                return html::respond(503, html::page("Temporarily unavailable", ""))
                    .with_header("retry-after", "5");
            }
            tracing::debug!(sid, "auth-provider: signed out");
        }
    }
    // The host ends its own session too.
    let headers = engine.users.end_session(request, hint_sub.as_deref()).await;
    let mut response = destination(engine, &params, client.as_ref());
    for (name, value) in headers {
        response = response.with_header(name, value);
    }
    response
}

/// Where the browser goes after logout: the registered post-logout redirect URI, or the
/// "signed out" page.
fn destination(
    engine: &Engine,
    params: &Params,
    client: Option<&crate::client::Client>,
) -> ProviderResponse {
    let Some(target) = params.get("post_logout_redirect_uri") else {
        return html::signed_out_page(&engine.issuer, None);
    };
    let Some(client) = client else {
        return html::signed_out_page(
            &engine.issuer,
            Some("post_logout_redirect_uri was ignored: send client_id or id_token_hint with it"),
        );
    };
    if !client.has_post_logout_redirect_uri(target) {
        return html::signed_out_page(
            &engine.issuer,
            Some("post_logout_redirect_uri was ignored: it is not registered for this client"),
        );
    }
    let mut query = Vec::new();
    if let Some(state) = params.get("state") {
        query.push(("state", state));
    }
    ProviderResponse::redirect(&with_query(target, &query), false)
}
