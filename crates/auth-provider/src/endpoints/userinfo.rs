//! `GET|POST {path}/userinfo`: the UserInfo endpoint (OpenID Connect Core §5.3, RFC 6750,
//! RFC 9449 §7).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::dpop;
use crate::engine::{Engine, error_body};
use crate::http::{ProviderRequest, ProviderResponse};
use crate::jwt::{own_token, unix_now};
use crate::params::Params;
use crate::secret::token_hash;

/// A refusal with its RFC 6750 §3 (or RFC 9449 §7.1) challenge.
#[derive(Debug)]
struct BearerError {
    status: u16,
    /// `None` when the request carried no token at all (RFC 6750 §3.1).
    error: Option<&'static str>,
    description: Cow<'static, str>,
    /// The challenge's scheme: `DPoP` for refusals about DPoP (RFC 9449 §7.1).
    dpop: bool,
    /// The `DPoP-Nonce` to use, for `use_dpop_nonce`.
    nonce: Option<String>,
}

impl BearerError {
    fn invalid_token(description: &'static str) -> Self {
        Self {
            status: 401,
            error: Some("invalid_token"),
            description: description.into(),
            dpop: false,
            nonce: None,
        }
    }

    /// `invalid_token` with the `DPoP` challenge: a binding that does not hold.
    fn unbound(description: &'static str) -> Self {
        Self {
            dpop: true,
            ..Self::invalid_token(description)
        }
    }

    fn into_response(self, engine: &Engine) -> ProviderResponse {
        let algs = format!("algs=\"{}\"", engine.dpop.algs());
        let Some(error) = self.error else {
            return ProviderResponse::new(self.status)
                .with_header("www-authenticate", "Bearer")
                .with_header("www-authenticate", format!("DPoP {algs}"))
                .with_header("cache-control", "no-store");
        };
        // The descriptions are the provider's own; a quote would end the quoted string.
        let description = self.description.replace(['"', '\\'], "'");
        let mut challenge = format!(
            "{} error=\"{error}\", error_description=\"{description}\"",
            if self.dpop { "DPoP" } else { "Bearer" }
        );
        if error == "insufficient_scope" {
            challenge.push_str(", scope=\"openid\"");
        }
        if self.dpop {
            challenge.push_str(", ");
            challenge.push_str(&algs);
        }
        let mut response =
            ProviderResponse::json(self.status, &error_body(error, &self.description))
                .with_header("www-authenticate", challenge);
        if self.status == 503 {
            response = response.with_header("retry-after", "5");
        }
        if let Some(nonce) = self.nonce {
            response = response.with_header("dpop-nonce", nonce);
        }
        response
    }
}

impl From<dpop::Refusal> for BearerError {
    /// A refused proof at a protected resource: `401` with the `DPoP` challenge (RFC 9449
    /// §7.1).
    fn from(refusal: dpop::Refusal) -> Self {
        Self {
            status: 401,
            error: Some(refusal.error),
            description: refusal.description.into(),
            dpop: true,
            nonce: refusal.nonce,
        }
    }
}

/// The profile of the access token's subject, by the token's scope (OpenID Connect Core
/// §5.4). The token must be an access token this provider issued (a JWT it signed with
/// `typ` `at+jwt`, or an opaque one), unexpired, unrevoked, with `openid` in its scope. A
/// DPoP-bound token (`cnf.jkt`) must come as `Authorization: DPoP` with a proof of its key
/// for this request (RFC 9449 §7); as a Bearer token it is refused.
pub(crate) async fn handle(engine: &Engine, request: &ProviderRequest) -> ProviderResponse {
    match process(engine, request).await {
        Ok(claims) => ProviderResponse::json(200, &Value::Object(claims)),
        Err(error) => error.into_response(engine),
    }
}

/// How the access token came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// `Authorization: Bearer`, or the `access_token` form field.
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1).
    Dpop,
}

/// The access token from the `Authorization` header (`Bearer` or `DPoP`) or, for a form
/// POST, the `access_token` field (RFC 6750 §2.1, §2.2).
fn access_token(request: &ProviderRequest) -> Result<Option<(String, Scheme)>, BearerError> {
    let from_header = request
        .header_value("authorization")
        .and_then(|value| value.trim().split_once(' '))
        .and_then(|(scheme, token)| {
            let scheme = if scheme.eq_ignore_ascii_case("bearer") {
                Scheme::Bearer
            } else if scheme.eq_ignore_ascii_case("dpop") {
                Scheme::Dpop
            } else {
                return None;
            };
            Some((token.trim().to_owned(), scheme))
        });
    let from_body = (request.method() == "POST" && request.is_form())
        .then(|| {
            Params::parse(request.body_bytes())
                .get("access_token")
                .map(|token| (token.to_owned(), Scheme::Bearer))
        })
        .flatten();
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError {
            status: 400,
            error: Some("invalid_request"),
            description: "send the access token once, not in the header and the body".into(),
            dpop: false,
            nonce: None,
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
            description: "the provider's storage is unavailable; try again".into(),
            dpop: false,
            nonce: None,
        }
    };
    let Some((token, scheme)) = access_token(request)? else {
        return Err(BearerError {
            status: 401,
            error: None,
            description: "".into(),
            dpop: false,
            nonce: None,
        });
    };
    // RFC 9449 §7.1: a request made with the `DPoP` scheme is answered with its challenge.
    answer(engine, request, &token, scheme, unavailable)
        .await
        .map_err(|mut e| {
            e.dpop |= scheme == Scheme::Dpop && e.error == Some("invalid_token");
            e
        })
}

async fn answer(
    engine: &Engine,
    request: &ProviderRequest,
    token: &str,
    scheme: Scheme,
    unavailable: impl Fn(crate::store::StoreError) -> BearerError + Copy,
) -> Result<Map<String, Value>, BearerError> {
    let claims = match engine
        .store
        .opaque_access_token(&token_hash(token))
        .await
        .map_err(unavailable)?
    {
        Some(record) => record.opaque.map(|(_, claims)| claims),
        None => {
            let keys = engine.keys();
            own_token(&keys, &engine.issuer, token)
                .filter(|t| t.is_access_token())
                .map(|t| t.claims)
        }
    };
    let claims = claims.ok_or_else(|| {
        BearerError::invalid_token("the access token was not issued by this provider")
    })?;
    // RFC 9449 §7.1: a bound token only with a proof of its key, for this request.
    match (scheme, dpop::bound_key(&claims)) {
        (Scheme::Dpop, Some(bound)) => {
            let proof = dpop::proof_header(request)?
                .ok_or_else(|| dpop::Refusal::invalid("the DPoP proof is missing"))?;
            let jkt = dpop::verify(
                engine,
                proof,
                request.method(),
                &engine.userinfo_url,
                Some(token),
            )?;
            if jkt != bound {
                return Err(BearerError::unbound(
                    "the access token is bound to another DPoP key",
                ));
            }
        }
        (Scheme::Dpop, None) => {
            return Err(BearerError::unbound(
                "the access token is not DPoP-bound: send it as a Bearer token",
            ));
        }
        (Scheme::Bearer, Some(_)) => {
            return Err(BearerError::unbound(
                "the access token is DPoP-bound: send it with Authorization: DPoP and a proof",
            ));
        }
        (Scheme::Bearer, None) => {}
    }
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
            description: "userinfo needs an access token with the openid scope".into(),
            dpop: false,
            nonce: None,
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
