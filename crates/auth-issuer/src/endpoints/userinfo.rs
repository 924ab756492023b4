//! `GET|POST {path}/userinfo`: the UserInfo endpoint (OpenID Connect Core §5.3, RFC 6750).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::{Params, is_form, no_store_json};
use crate::server::Shared;
use crate::token::unix_now;
use crate::verify::own_token;

/// A refusal with its RFC 6750 §3 challenge.
#[derive(Debug)]
struct BearerError {
    status: StatusCode,
    /// `None` when the request carried no token at all (RFC 6750 §3.1).
    error: Option<&'static str>,
    description: &'static str,
}

impl BearerError {
    fn invalid_token(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: Some("invalid_token"),
            description,
        }
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let Some(error) = self.error else {
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        };
        let mut challenge = format!(
            "Bearer error=\"{error}\", error_description=\"{}\"",
            self.description
        );
        if error == "insufficient_scope" {
            challenge.push_str(", scope=\"openid\"");
        }
        let body = serde_json::json!({ "error": error, "error_description": self.description });
        let mut response = no_store_json(self.status, body.to_string().into_bytes());
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// `GET|POST {path}/userinfo`: the profile of the access token's subject.
///
/// The token must be an access token (`typ` `at+jwt`) signed by a published key of this
/// issuer, unexpired, unrevoked, with `openid` in its scope. Tokens from
/// [`TestIssuer::token`](crate::TestIssuer::token) qualify too. A configured user is
/// described from the current directory; any other subject from the token's own `name`,
/// `email` and `roles`.
pub(crate) async fn userinfo(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match process(&shared, &method, &headers, &body) {
        Ok(claims) => no_store_json(
            StatusCode::OK,
            Value::Object(claims).to_string().into_bytes(),
        ),
        Err(error) => error.into_response(),
    }
}

/// The bearer token from the `Authorization` header or, for a form POST, the
/// `access_token` field (RFC 6750 §2.1, §2.2).
fn bearer_token(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<String>, BearerError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let from_body = (method == Method::POST && is_form(headers))
        .then(|| Params::parse(body).get("access_token").map(str::to_owned))
        .flatten();
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError {
            status: StatusCode::BAD_REQUEST,
            error: Some("invalid_request"),
            description: "send the access token once, not in the header and the body",
        }),
        (token, None) | (None, token) => Ok(token),
    }
}

fn process(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, BearerError> {
    let Some(token) = bearer_token(method, headers, body)? else {
        return Err(BearerError {
            status: StatusCode::UNAUTHORIZED,
            error: None,
            description: "",
        });
    };
    let token = own_token(shared, &token).ok_or_else(|| {
        BearerError::invalid_token("the access token was not issued by this issuer")
    })?;
    if !token.is_access_token() {
        return Err(BearerError::invalid_token("not an access token"));
    }
    if token.exp().is_none_or(|exp| exp <= unix_now()) {
        return Err(BearerError::invalid_token("the access token expired"));
    }
    let sub = token
        .str_claim("sub")
        .ok_or_else(|| BearerError::invalid_token("the access token has no subject"))?;
    let provider = shared.provider();
    if token
        .str_claim("jti")
        .is_some_and(|jti| provider.grants.is_access_token_revoked(jti))
    {
        return Err(BearerError::invalid_token("the access token was revoked"));
    }
    if provider.directory.is_disabled(sub) {
        return Err(BearerError::invalid_token("the user is disabled"));
    }
    if !token.scopes().any(|scope| scope == "openid") {
        return Err(BearerError {
            status: StatusCode::FORBIDDEN,
            error: Some("insufficient_scope"),
            description: "userinfo needs an access token with the openid scope",
        });
    }
    let mut claims = match provider.directory.user(sub) {
        Some(user) => user.profile_claims(),
        None => ["name", "email", "roles"]
            .into_iter()
            .filter_map(|name| Some((name.to_owned(), token.claims.get(name)?.clone())))
            .collect(),
    };
    claims.insert("sub".into(), sub.into());
    Ok(claims)
}
