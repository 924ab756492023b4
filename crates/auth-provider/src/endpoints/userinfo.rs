//! `GET|POST {path}/userinfo`: the UserInfo endpoint (OpenID Connect Core §5.3, RFC 6750).

use serde_json::{Map, Value};

use crate::engine::{Engine, error_body};
use crate::http::{ProviderRequest, ProviderResponse};
use crate::jwt::{own_token, unix_now};
use crate::params::Params;
use crate::secret::token_hash;

/// A refusal with its RFC 6750 §3 challenge.
#[derive(Debug)]
struct BearerError {
    status: u16,
    /// `None` when the request carried no token at all (RFC 6750 §3.1).
    error: Option<&'static str>,
    description: &'static str,
}

impl BearerError {
    fn invalid_token(description: &'static str) -> Self {
        Self {
            status: 401,
            error: Some("invalid_token"),
            description,
        }
    }

    fn into_response(self) -> ProviderResponse {
        let Some(error) = self.error else {
            return ProviderResponse::new(self.status)
                .with_header("www-authenticate", "Bearer")
                .with_header("cache-control", "no-store");
        };
        let mut challenge = format!(
            "Bearer error=\"{error}\", error_description=\"{}\"",
            self.description
        );
        if error == "insufficient_scope" {
            challenge.push_str(", scope=\"openid\"");
        }
        let mut response =
            ProviderResponse::json(self.status, &error_body(error, self.description))
                .with_header("www-authenticate", challenge);
        if self.status == 503 {
            response = response.with_header("retry-after", "5");
        }
        response
    }
}

/// The profile of the access token's subject, by the token's scope (OpenID Connect Core
/// §5.4). The token must be an access token this provider issued (a JWT it signed with
/// `typ` `at+jwt`, or an opaque one), unexpired, unrevoked, with `openid` in its scope.
pub(crate) async fn handle(engine: &Engine, request: &ProviderRequest) -> ProviderResponse {
    match process(engine, request).await {
        Ok(claims) => ProviderResponse::json(200, &Value::Object(claims)),
        Err(error) => error.into_response(),
    }
}

/// The bearer token from the `Authorization` header or, for a form POST, the
/// `access_token` field (RFC 6750 §2.1, §2.2).
fn bearer_token(request: &ProviderRequest) -> Result<Option<String>, BearerError> {
    let from_header = request
        .header_value("authorization")
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let from_body = (request.method() == "POST" && request.is_form())
        .then(|| {
            Params::parse(request.body_bytes())
                .get("access_token")
                .map(str::to_owned)
        })
        .flatten();
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError {
            status: 400,
            error: Some("invalid_request"),
            description: "send the access token once, not in the header and the body",
        }),
        (token, None) | (None, token) => Ok(token),
    }
}

async fn process(
    engine: &Engine,
    request: &ProviderRequest,
) -> Result<Map<String, Value>, BearerError> {
    let unavailable = |error: crate::store::StoreError| {
        tracing::warn!(%error, "auth-provider: store unavailable");
        BearerError {
            status: 503,
            error: Some("temporarily_unavailable"),
            description: "the provider's storage is unavailable; try again",
        }
    };
    let Some(token) = bearer_token(request)? else {
        return Err(BearerError {
            status: 401,
            error: None,
            description: "",
        });
    };
    let claims = match engine
        .store
        .opaque_access_token(&token_hash(&token))
        .await
        .map_err(unavailable)?
    {
        Some(record) => record.opaque.map(|(_, claims)| claims),
        None => {
            let keys = engine.keys();
            own_token(&keys, &engine.issuer, &token)
                .filter(|t| t.is_access_token())
                .map(|t| t.claims)
        }
    };
    let claims = claims.ok_or_else(|| {
        BearerError::invalid_token("the access token was not issued by this provider")
    })?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= unix_now())
    {
        return Err(BearerError::invalid_token("the access token expired"));
    }
    let sub =
        text("sub").ok_or_else(|| BearerError::invalid_token("the access token has no subject"))?;
    if let Some(jti) = text("jti") {
        let record = engine.store.access_token(jti).await.map_err(unavailable)?;
        if record.as_ref().is_some_and(|record| record.revoked) {
            return Err(BearerError::invalid_token("the access token was revoked"));
        }
        // A client_credentials token: its `sub` is a client, not a user (RFC 9068 §5).
        if record.is_some_and(|record| record.authorization_id.is_none()) {
            return Err(BearerError::invalid_token(
                "the access token was issued to a client, not for a user",
            ));
        }
    }
    let scopes: Vec<String> = text("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|scope| scope == "openid") {
        return Err(BearerError {
            status: 403,
            error: Some("insufficient_scope"),
            description: "userinfo needs an access token with the openid scope",
        });
    }
    let user = engine
        .users
        .claims(sub)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| BearerError::invalid_token("the user is disabled or no longer exists"))?;
    let mut answer = user.for_scopes(&scopes);
    answer.insert("sub".into(), sub.into());
    Ok(answer)
}
