//! `POST {path}/token`: the token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6; RFC 7636
//! §4.6; RFC 8707; RFC 9068; OpenID Connect Core §3.1.3, §12).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::{OAuthError, Params, authenticate_client, is_form, is_resource_uri, parse_scope};
use crate::fault::Fault;
use crate::grants::{Denied, Grant};
use crate::pkce;
use crate::server::{Shared, answer, pause};
use crate::token::{TokenBuilder, random_hex};
use crate::users::TestClient;

/// `POST {path}/token`, with the fault set by `TestIssuer::set_token_fault`.
///
/// `Status`, `Html`, `InvalidJson` and `Drop` answer without processing the request (no
/// code or refresh token is used up). `Delay` waits, then processes it: a client that gave
/// up meanwhile has lost its answer, as with a real slow server. `Oversized` and `SlowBody`
/// process the request and pad or stall the real answer.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = shared.settings().token_fault.clone();
    match fault {
        None => reply(process(&shared, &headers, &body)),
        Some(Fault::Delay(duration)) => {
            pause(duration, shared.shutdown.clone()).await;
            reply(process(&shared, &headers, &body))
        }
        Some(fault @ (Fault::Oversized(_) | Fault::SlowBody(_))) => {
            let (status, body, challenge) = match process(&shared, &headers, &body) {
                Ok(value) => (StatusCode::OK, value.to_string().into_bytes(), None),
                Err(error) => (error.status, error.body(), error.challenge),
            };
            let mut response = answer(&shared, Some(fault), body).await;
            *response.status_mut() = status;
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
        Some(fault @ (Fault::Status(_) | Fault::Html | Fault::InvalidJson | Fault::Drop)) => {
            answer(&shared, Some(fault), Vec::new()).await
        }
    }
}

fn reply(result: Result<Value, OAuthError>) -> Response {
    match result {
        Ok(value) => super::no_store_json(StatusCode::OK, value.to_string().into_bytes()),
        Err(error) => error.into_response(),
    }
}

fn process(shared: &Arc<Shared>, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body);
    if let Some(name) = params.repeated(&["resource"]) {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is given more than once"
        )));
    }
    let client = authenticate_client(shared, headers, &params)?;
    match params.get("grant_type") {
        None => Err(OAuthError::invalid_request("grant_type is missing")),
        Some("authorization_code") => authorization_code(shared, &client, &params),
        Some("refresh_token") => refresh_token(shared, &client, &params),
        Some("client_credentials") => client_credentials(shared, &client, &params),
        Some(_) => Err(OAuthError::bad_request(
            "unsupported_grant_type",
            "supported grant types: authorization_code, refresh_token, client_credentials",
        )),
    }
}

/// The `scope` parameter as scope tokens (RFC 6749 §3.3), or `invalid_scope`.
fn scope_param(params: &Params) -> Result<Vec<String>, OAuthError> {
    parse_scope(params.get("scope").unwrap_or("")).ok_or_else(|| {
        OAuthError::bad_request(
            "invalid_scope",
            "scope holds a character RFC 6749 does not allow",
        )
    })
}

fn required<'a>(params: &'a Params, name: &'static str) -> Result<&'a str, OAuthError> {
    params
        .get(name)
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
}

/// The audiences for the access token: the `resource` values of the token request, which
/// must have been granted (RFC 8707 §2.2), or all granted ones.
fn narrow_audiences(grant: &Grant, params: &Params) -> Result<Vec<String>, Denied> {
    let requested: Vec<String> = params.all("resource").map(str::to_owned).collect();
    if requested.is_empty() {
        return Ok(grant.audiences.clone());
    }
    if requested.iter().all(|r| grant.audiences.contains(r)) {
        Ok(requested)
    } else {
        Err(Denied {
            error: "invalid_target",
            description: "resource was not part of the authorization",
        })
    }
}

fn aud_claim(shared: &Shared, audiences: &[String]) -> Value {
    match audiences {
        [] => shared.audience.clone().into(),
        [one] => one.clone().into(),
        many => many.to_vec().into(),
    }
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// What to put in an access token.
struct Access<'a> {
    sub: &'a str,
    client_id: &'a str,
    scope: &'a [String],
    aud: Value,
    auth_time: Option<i64>,
    profile: Map<String, Value>,
    jti: &'a str,
}

/// Signs an RFC 9068 access token with the default key; returns it and its `exp`.
fn mint_access(shared: &Arc<Shared>, access: Access<'_>) -> (String, i64) {
    let mut builder = TokenBuilder::new(Arc::clone(shared));
    for (name, value) in access.profile {
        builder = builder.claim(&name, value);
    }
    builder = builder
        .sub(access.sub)
        .aud(access.aud)
        .claim("client_id", access.client_id)
        .claim("jti", access.jti)
        .expires_in(seconds(shared.access_ttl()));
    builder = if access.scope.is_empty() {
        builder.remove_claim("scope")
    } else {
        builder.scope(&access.scope.join(" "))
    };
    if let Some(auth_time) = access.auth_time {
        builder = builder.claim("auth_time", auth_time);
    }
    let exp = builder.claims_json()["exp"].as_i64().unwrap_or_default();
    if shared.settings().opaque_access_tokens {
        return (builder.sign_opaque(), exp);
    }
    (builder.sign(), exp)
}

/// What to put in an ID token (OpenID Connect Core §2, §3.1.3.6, §12.2).
struct Identity<'a> {
    grant: &'a Grant,
    profile: Map<String, Value>,
    nonce: Option<&'a str>,
    access_token: &'a str,
}

fn mint_id_token(shared: &Arc<Shared>, identity: Identity<'_>) -> String {
    let mut builder = TokenBuilder::new(Arc::clone(shared))
        .typ(Some("JWT"))
        .remove_claim("client_id")
        .remove_claim("scope")
        .remove_claim("nbf");
    for (name, value) in identity.profile {
        builder = builder.claim(&name, value);
    }
    let grant = identity.grant;
    let hash = digest::digest(
        builder.algorithm().at_hash_digest(),
        identity.access_token.as_bytes(),
    );
    let half = &hash.as_ref()[..hash.as_ref().len() / 2];
    builder = builder
        .sub(&grant.sub)
        .aud(grant.client_id.as_str())
        .expires_in(seconds(shared.lifetimes.id))
        .claim("auth_time", grant.auth_time)
        .claim("sid", grant.sid.as_str())
        .claim("at_hash", URL_SAFE_NO_PAD.encode(half));
    if let Some(nonce) = identity.nonce {
        builder = builder.claim("nonce", nonce);
    }
    builder.sign()
}

/// The tokens for a grant: an access token with `scope`, an ID token when `scope` has
/// `openid`, and the refresh token if there is one.
fn respond_for_grant(
    shared: &Arc<Shared>,
    grant: &Grant,
    scope: &[String],
    audiences: &[String],
    nonce: Option<&str>,
    refresh_token: Option<String>,
    jti: &str,
) -> Value {
    let profile = shared
        .provider()
        .directory
        .user(&grant.sub)
        .map(crate::users::TestUser::profile_claims)
        .unwrap_or_default();
    let (access_token, _) = mint_access(
        shared,
        Access {
            sub: &grant.sub,
            client_id: &grant.client_id,
            scope,
            aud: aud_claim(shared, audiences),
            auth_time: Some(grant.auth_time),
            profile: profile.clone(),
            jti,
        },
    );
    let mut response = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": seconds(shared.access_ttl()),
    });
    if !scope.is_empty() {
        response["scope"] = scope.join(" ").into();
    }
    if let Some(refresh_token) = refresh_token {
        response["refresh_token"] = refresh_token.into();
    }
    if scope.iter().any(|s| s == "openid") {
        let id_token = mint_id_token(
            shared,
            Identity {
                grant,
                profile,
                nonce,
                access_token: &access_token,
            },
        );
        response["id_token"] = id_token.into();
    }
    response
}

/// The `exp` an access token issued now will get.
fn access_exp(shared: &Shared) -> i64 {
    crate::token::unix_now().saturating_add(seconds(shared.access_ttl()))
}

fn authorization_code(
    shared: &Arc<Shared>,
    client: &TestClient,
    params: &Params,
) -> Result<Value, OAuthError> {
    let code = required(params, "code")?;
    let redirect_uri = required(params, "redirect_uri")?;
    let verifier = params.get("code_verifier").ok_or_else(|| {
        OAuthError::invalid_request("code_verifier is missing (PKCE is required)")
    })?;
    if !pkce::is_well_formed(verifier) {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        ));
    }
    let now = Instant::now();
    let jti = random_hex(16);
    let (grant, nonce, audiences, refresh) = {
        let mut provider = shared.provider();
        let (grant, nonce) =
            provider
                .grants
                .redeem_code(code, client.client_id(), redirect_uri, verifier, now)?;
        if provider.directory.is_disabled(&grant.sub) {
            return Err(OAuthError::bad_request(
                "invalid_grant",
                "the user is disabled",
            ));
        }
        let audiences = narrow_audiences(&grant, params)?;
        provider
            .grants
            .record_access_token(&grant.sid, &jti, access_exp(shared));
        let refresh = client.gets_refresh_tokens().then(|| {
            provider
                .grants
                .issue_refresh_token(&grant.sid, shared.lifetimes.refresh, now)
        });
        (grant, nonce, audiences, refresh)
    };
    Ok(respond_for_grant(
        shared,
        &grant,
        &grant.scope,
        &audiences,
        nonce.as_deref(),
        refresh,
        &jti,
    ))
}

fn refresh_token(
    shared: &Arc<Shared>,
    client: &TestClient,
    params: &Params,
) -> Result<Value, OAuthError> {
    let token = required(params, "refresh_token")?;
    if !client.gets_refresh_tokens() {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            "this client may not use refresh tokens",
        ));
    }
    let requested_scope = scope_param(params)?;
    let now = Instant::now();
    let jti = random_hex(16);
    let (grant, audiences, refresh) = {
        let mut provider = shared.provider();
        let provider = &mut *provider;
        let directory = &provider.directory;
        let mut audiences = Vec::new();
        let grant = provider
            .grants
            .use_refresh_token(token, client.client_id(), now, |grant| {
                if directory.is_disabled(&grant.sub) {
                    return Err(Denied {
                        error: "invalid_grant",
                        description: "the user is disabled",
                    });
                }
                if requested_scope.iter().any(|s| !grant.scope.contains(s)) {
                    return Err(Denied {
                        error: "invalid_scope",
                        description: "the requested scope exceeds the scope originally granted",
                    });
                }
                audiences = narrow_audiences(grant, params)?;
                Ok(())
            })?;
        provider
            .grants
            .record_access_token(&grant.sid, &jti, access_exp(shared));
        let refresh =
            provider
                .grants
                .issue_refresh_token(&grant.sid, shared.lifetimes.refresh, now);
        (grant, audiences, refresh)
    };
    // RFC 6749 §6: an omitted scope means the scope originally granted. The new refresh
    // token keeps the original grant; only this access token is narrowed.
    let scope = if requested_scope.is_empty() {
        grant.scope.clone()
    } else {
        requested_scope
    };
    // A refreshed ID token has no nonce (OpenID Connect Core §12.2).
    Ok(respond_for_grant(
        shared,
        &grant,
        &scope,
        &audiences,
        None,
        Some(refresh),
        &jti,
    ))
}

fn client_credentials(
    shared: &Arc<Shared>,
    client: &TestClient,
    params: &Params,
) -> Result<Value, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            "client_credentials needs a confidential client",
        ));
    }
    let scope = scope_param(params)?;
    let resources: Vec<String> = params.all("resource").map(str::to_owned).collect();
    if resources.iter().any(|r| !is_resource_uri(r)) {
        return Err(OAuthError::bad_request(
            "invalid_target",
            "resource must be an absolute URI without a fragment",
        ));
    }
    let audiences = match (resources.is_empty(), params.get("audience")) {
        (false, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "send resource or audience, not both",
            ));
        }
        (true, Some(audience)) => vec![audience.to_owned()],
        (_, None) => resources,
    };
    let jti = random_hex(16);
    let (access_token, _) = mint_access(
        shared,
        Access {
            sub: client.client_id(),
            client_id: client.client_id(),
            scope: &scope,
            aud: aud_claim(shared, &audiences),
            auth_time: None,
            profile: Map::new(),
            jti: &jti,
        },
    );
    let mut response = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": seconds(shared.access_ttl()),
    });
    if !scope.is_empty() {
        response["scope"] = scope.join(" ").into();
    }
    Ok(response)
}
