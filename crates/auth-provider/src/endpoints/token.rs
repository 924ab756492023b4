//! `POST {path}/token`: the token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6; RFC 7636
//! §4.6; RFC 8707; RFC 9068; RFC 9449 §5, §10; RFC 9700 §4.14; OpenID Connect Core §3.1.3,
//! §12).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::dpop::{self, Refusal};
use super::{OAuthError, authenticate_client, form};
use crate::client::Client;
use crate::engine::Engine;
use crate::hooks::UserClaims;
use crate::http::{ProviderRequest, ProviderResponse};
use crate::jwt::{self, random_b64, random_hex, unix_now};
use crate::params::{Params, is_resource_uri, parse_scope};
use crate::pkce;
use crate::secret::token_hash;
use crate::store::{AccessRecord, Authorization, CodeUse, RefreshRecord};

pub(crate) async fn handle(engine: &Engine, request: &ProviderRequest) -> ProviderResponse {
    match process(engine, request).await {
        Ok(body) => ProviderResponse::json(200, &body),
        Err(error) => error.into_response(),
    }
}

/// The token response for a request, or the error to answer.
pub(crate) async fn process(
    engine: &Engine,
    request: &ProviderRequest,
) -> Result<Value, OAuthError> {
    let params = form(request, "token", &["resource"])?;
    let client = authenticate_client(engine, request, &params).await?;
    if let Some(grant) = params.get("grant_type")
        && matches!(
            grant,
            "authorization_code" | "refresh_token" | "client_credentials"
        )
        && !client.allows_grant(grant)
    {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            format!("this client is not registered for the {grant} grant"),
        ));
    }
    // RFC 9449 §5: with one valid proof, the access token is bound to its key.
    let jkt = match dpop::proof_header(request)? {
        Some(proof) => Some(dpop::verify(
            engine,
            proof,
            "POST",
            &engine.token_url,
            None,
        )?),
        None if engine.dpop.config().is_required() => {
            return Err(Refusal::invalid(
                "this provider issues DPoP-bound tokens only: send a DPoP proof",
            )
            .into());
        }
        None => None,
    };
    let jkt = jkt.as_deref();
    match params.get("grant_type") {
        None => Err(OAuthError::invalid_request("grant_type is missing")),
        Some("authorization_code") => authorization_code(engine, &client, &params, jkt).await,
        Some("refresh_token") => refresh_token(engine, &client, &params, jkt).await,
        Some("client_credentials") => client_credentials(engine, &client, &params, jkt).await,
        Some("password") => Err(OAuthError::bad_request(
            "unsupported_grant_type",
            "the password grant is not supported (OAuth 2.1 removed it); use the authorization code flow",
        )),
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
fn narrow_resources(granted: &[String], params: &Params) -> Result<Vec<String>, OAuthError> {
    let requested: Vec<String> = params.all("resource").map(str::to_owned).collect();
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
    if requested.iter().any(|r| !is_resource_uri(r)) {
        return Err(OAuthError::bad_request(
            "invalid_target",
            "resource must be an absolute URI without a fragment",
        ));
    }
    if requested.iter().all(|r| granted.contains(r)) {
        Ok(requested)
    } else {
        Err(OAuthError::bad_request(
            "invalid_target",
            "resource was not part of the authorization",
        ))
    }
}

fn aud_claim(engine: &Engine, audiences: &[String]) -> Value {
    match audiences {
        [] => engine.audience.clone().into(),
        [one] => one.clone().into(),
        many => many.to_vec().into(),
    }
}

fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// What to put in an access token.
struct Access<'a> {
    sub: &'a str,
    client_id: &'a str,
    scope: &'a [String],
    audiences: &'a [String],
    auth_time: Option<i64>,
    acr: Option<&'a str>,
    amr: &'a [String],
    claims: Option<&'a UserClaims>,
    authorization_id: Option<&'a str>,
    /// The DPoP key the token is bound to (`cnf.jkt`).
    jkt: Option<&'a str>,
}

/// Issues an RFC 9068 access token (or an opaque one) and records it; returns the token.
async fn issue_access(engine: &Engine, access: Access<'_>) -> Result<String, OAuthError> {
    let now = unix_now();
    let exp = now.saturating_add(seconds(engine.access_ttl()));
    let jti = random_hex(16);
    let mut claims = Map::new();
    if let Some(user) = access.claims {
        // What the user consented to: standard claims by scope, others always.
        claims = user.for_scopes(access.scope);
    }
    claims.insert("iss".into(), engine.issuer.clone().into());
    claims.insert("sub".into(), access.sub.into());
    claims.insert("aud".into(), aud_claim(engine, access.audiences));
    claims.insert("exp".into(), exp.into());
    claims.insert("iat".into(), now.into());
    claims.insert("nbf".into(), now.into());
    claims.insert("jti".into(), jti.clone().into());
    claims.insert("client_id".into(), access.client_id.into());
    if !access.scope.is_empty() {
        claims.insert("scope".into(), access.scope.join(" ").into());
    }
    if let Some(auth_time) = access.auth_time {
        claims.insert("auth_time".into(), auth_time.into());
    }
    // RFC 9068 §2.2.1, RFC 9470 §3: how the user authenticated.
    if let Some(acr) = access.acr {
        claims.insert("acr".into(), acr.into());
    }
    if !access.amr.is_empty() {
        claims.insert("amr".into(), access.amr.to_vec().into());
    }
    // RFC 9449 §6: the key the token is bound to; kept in an opaque token's stored claims,
    // so that introspection answers it.
    if let Some(jkt) = access.jkt {
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    let opaque = engine
        .opaque_access_tokens
        .load(std::sync::atomic::Ordering::Relaxed);
    let (token, opaque_record) = if opaque {
        let token = format!("opq_{}", random_b64(32));
        let hash = token_hash(&token);
        (token, Some((hash, claims)))
    } else {
        let key = engine
            .keys()
            .default_key()
            .expect("a provider always has a key");
        let mut header = Map::new();
        header.insert("typ".into(), "at+jwt".into());
        (jwt::sign(&key, header, &claims), None)
    };
    engine
        .store
        .insert_access_token(&AccessRecord {
            jti,
            authorization_id: access.authorization_id.map(str::to_owned),
            client_id: access.client_id.to_owned(),
            expires_at: exp,
            revoked: false,
            opaque: opaque_record,
        })
        .await?;
    Ok(token)
}

/// An ID token (OpenID Connect Core §2, §3.1.3.6, §12.2).
fn id_token(
    engine: &Engine,
    authorization: &Authorization,
    claims: &UserClaims,
    scope: &[String],
    nonce: Option<&str>,
    access_token: &str,
) -> String {
    let key = engine
        .keys()
        .default_key()
        .expect("a provider always has a key");
    let now = unix_now();
    let hash = digest::digest(key.alg().at_hash_digest(), access_token.as_bytes());
    let half = &hash.as_ref()[..hash.as_ref().len() / 2];
    let mut body = claims.for_scopes(scope);
    body.insert("iss".into(), engine.issuer.clone().into());
    body.insert("sub".into(), authorization.sub.clone().into());
    body.insert("aud".into(), authorization.client_id.clone().into());
    body.insert("azp".into(), authorization.client_id.clone().into());
    body.insert(
        "exp".into(),
        now.saturating_add(seconds(engine.lifetimes.id)).into(),
    );
    body.insert("iat".into(), now.into());
    body.insert("jti".into(), random_hex(16).into());
    body.insert("auth_time".into(), authorization.auth_time.into());
    if let Some(acr) = &authorization.acr {
        body.insert("acr".into(), acr.clone().into());
    }
    if !authorization.amr.is_empty() {
        body.insert("amr".into(), authorization.amr.clone().into());
    }
    body.insert("sid".into(), authorization.id.clone().into());
    body.insert("at_hash".into(), URL_SAFE_NO_PAD.encode(half).into());
    if let Some(nonce) = nonce {
        body.insert("nonce".into(), nonce.into());
    }
    let mut header = Map::new();
    header.insert("typ".into(), "JWT".into());
    jwt::sign(&key, header, &body)
}

/// The user's claims, or `invalid_grant` when the user is gone or disabled.
async fn active_user(engine: &Engine, sub: &str) -> Result<UserClaims, OAuthError> {
    engine
        .users
        .claims(sub)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user is disabled or no longer exists"))
}

/// Issues a refresh token for `authorization`, bound to the DPoP key `jkt` if given.
async fn issue_refresh(
    engine: &Engine,
    authorization: &Authorization,
    jkt: Option<&str>,
) -> Result<String, OAuthError> {
    let token = random_b64(32);
    engine
        .store
        .insert_refresh_token(&RefreshRecord {
            hash: token_hash(&token),
            authorization_id: authorization.id.clone(),
            client_id: authorization.client_id.clone(),
            dpop_jkt: jkt.map(str::to_owned),
            expires_at: unix_now().saturating_add(seconds(engine.lifetimes.refresh)),
            rotated: false,
        })
        .await?;
    engine
        .refresh_issued
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(token)
}

/// `DPoP` for a token bound to a key, `Bearer` otherwise (RFC 9449 §5).
fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() { "DPoP" } else { "Bearer" }
}

/// Whether refresh tokens issued to `client` are bound to the request's DPoP key: only a
/// public client's (RFC 9449 §5: a confidential client's are already sender-constrained by
/// its authentication).
fn refresh_binding<'a>(client: &Client, jkt: Option<&'a str>) -> Option<&'a str> {
    jkt.filter(|_| !client.is_confidential())
}

/// The tokens for an authorization: an access token with `scope` (bound to the DPoP key
/// `jkt`, if any), an ID token when `scope` has `openid`, and the refresh token if there is
/// one.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site per grant, each naming every part of the answer"
)]
async fn respond(
    engine: &Engine,
    authorization: &Authorization,
    claims: &UserClaims,
    scope: &[String],
    audiences: &[String],
    nonce: Option<&str>,
    refresh_token: Option<String>,
    jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    let access_token = issue_access(
        engine,
        Access {
            sub: &authorization.sub,
            client_id: &authorization.client_id,
            scope,
            audiences,
            auth_time: Some(authorization.auth_time),
            acr: authorization.acr.as_deref(),
            amr: &authorization.amr,
            claims: Some(claims),
            authorization_id: Some(&authorization.id),
            jkt,
        },
    )
    .await?;
    let mut response = json!({
        "access_token": access_token,
        "token_type": token_type(jkt),
        "expires_in": seconds(engine.access_ttl()),
    });
    if !scope.is_empty() {
        response["scope"] = scope.join(" ").into();
    }
    if let Some(refresh_token) = refresh_token {
        response["refresh_token"] = refresh_token.into();
    }
    if scope.iter().any(|s| s == "openid") {
        response["id_token"] =
            id_token(engine, authorization, claims, scope, nonce, &access_token).into();
    }
    Ok(response)
}

fn gets_refresh_token(client: &Client, authorization: &Authorization) -> bool {
    client.gets_refresh_tokens() && authorization.scope.iter().any(|s| s == "offline_access")
}

async fn authorization_code(
    engine: &Engine,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
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
    // Any attempt uses the code up, successful or not; a second one revokes everything
    // issued for it (RFC 6749 §4.1.2, RFC 9700 §4.2.4).
    let record = match engine.store.take_code(&token_hash(code)).await? {
        CodeUse::First(record) => record,
        CodeUse::Replayed { authorization_id } => {
            engine.store.revoke_authorization(&authorization_id).await?;
            tracing::info!(
                client_id = client.client_id(),
                "auth-provider: authorization code replayed; its tokens are revoked"
            );
            return Err(OAuthError::invalid_grant(
                "authorization code already used; the tokens issued for it are revoked",
            ));
        }
        _ => return Err(OAuthError::invalid_grant("unknown authorization code")),
    };
    if unix_now() >= record.expires_at {
        return Err(OAuthError::invalid_grant("authorization code expired"));
    }
    let authorization = engine
        .store
        .authorization(&record.authorization_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown authorization code"))?;
    if authorization.client_id != client.client_id() {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    if record.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the one in the authorization request",
        ));
    }
    if !pkce::verify(verifier, &record.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    // RFC 9449 §10: the authorization request named the key the proof must use.
    if let Some(expected) = &record.dpop_jkt {
        match jkt {
            None => {
                return Err(Refusal::invalid(
                    "the authorization request named a DPoP key (dpop_jkt): send a proof made with it",
                )
                .into());
            }
            Some(jkt) if jkt != expected => {
                return Err(
                    Refusal::invalid("the DPoP proof's key is not the one dpop_jkt named").into(),
                );
            }
            Some(_) => {}
        }
    }
    if authorization.revoked {
        return Err(OAuthError::invalid_grant("the grant was revoked"));
    }
    let claims = active_user(engine, &authorization.sub).await?;
    let audiences = narrow_resources(&authorization.resources, params)?;
    let refresh = if gets_refresh_token(client, &authorization) {
        Some(issue_refresh(engine, &authorization, refresh_binding(client, jkt)).await?)
    } else {
        None
    };
    respond(
        engine,
        &authorization,
        &claims,
        &authorization.scope,
        &audiences,
        record.nonce.as_deref(),
        refresh,
        jkt,
    )
    .await
}

async fn refresh_token(
    engine: &Engine,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    let token = required(params, "refresh_token")?;
    if !client.gets_refresh_tokens() {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            "this client may not use refresh tokens",
        ));
    }
    let requested_scope = scope_param(params)?;
    let hash = token_hash(token);
    let record = engine
        .store
        .refresh_token(&hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    if record.client_id != client.client_id() {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    // RFC 9449 §5: a bound refresh token is used with a proof of its key. Checked before
    // reuse detection, so that a copy without the key cannot revoke the family.
    if let Some(bound) = &record.dpop_jkt {
        match jkt {
            None => {
                return Err(Refusal::invalid(
                    "the refresh token is bound to a DPoP key: send a proof made with it",
                )
                .into());
            }
            Some(jkt) if jkt != bound => {
                return Err(OAuthError::invalid_grant(
                    "the refresh token is bound to another DPoP key",
                ));
            }
            Some(_) => {}
        }
    }
    let authorization = engine
        .store
        .authorization(&record.authorization_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    if authorization.revoked {
        return Err(OAuthError::invalid_grant("refresh token revoked"));
    }
    let reuse = || async {
        engine.store.revoke_authorization(&authorization.id).await?;
        tracing::info!(
            client_id = client.client_id(),
            "auth-provider: refresh token reused; its family is revoked"
        );
        Err(OAuthError::invalid_grant(
            "refresh token already used; every token of its family is revoked",
        ))
    };
    if record.rotated {
        return reuse().await;
    }
    if unix_now() >= record.expires_at {
        return Err(OAuthError::invalid_grant("refresh token expired"));
    }
    let claims = active_user(engine, &authorization.sub).await?;
    if requested_scope
        .iter()
        .any(|s| !authorization.scope.contains(s))
    {
        return Err(OAuthError::bad_request(
            "invalid_scope",
            "the requested scope exceeds the scope originally granted",
        ));
    }
    let audiences = narrow_resources(&authorization.resources, params)?;
    // The new tokens are stored before the old refresh token is used up, so that a store
    // failure (503) leaves it usable for the client's retry.
    let refresh = issue_refresh(engine, &authorization, refresh_binding(client, jkt)).await?;
    // RFC 6749 §6: an omitted scope means the scope originally granted. The new refresh
    // token keeps the original grant; only this access token is narrowed.
    let scope = if requested_scope.is_empty() {
        authorization.scope.clone()
    } else {
        requested_scope
    };
    // A refreshed ID token has no nonce (OpenID Connect Core §12.2).
    let body = respond(
        engine,
        &authorization,
        &claims,
        &scope,
        &audiences,
        None,
        Some(refresh),
        jkt,
    )
    .await?;
    // Checks passed and the answer is ready: rotate. Losing this race means another request
    // used the token first (revoking the family also ends what was just issued).
    if !engine.store.rotate_refresh_token(&hash).await? {
        return reuse().await;
    }
    Ok(body)
}

async fn client_credentials(
    engine: &Engine,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            "client_credentials needs a confidential client",
        ));
    }
    let scope = scope_param(params)?;
    if let Some(unknown) = scope
        .iter()
        .find(|s| !client.allows_scope(s, engine.supported_scopes()))
    {
        return Err(OAuthError::bad_request(
            "invalid_scope",
            format!("scope {unknown:?} is not allowed for this client"),
        ));
    }
    // No user is involved: nothing to sign in (`openid`) or to stay signed in for.
    if let Some(user_scope) = scope
        .iter()
        .find(|s| *s == "openid" || *s == "offline_access")
    {
        return Err(OAuthError::bad_request(
            "invalid_scope",
            format!("{user_scope} needs a user: client_credentials cannot grant it"),
        ));
    }
    let resources: Vec<String> = params.all("resource").map(str::to_owned).collect();
    if resources.iter().any(|r| !is_resource_uri(r)) {
        return Err(OAuthError::bad_request(
            "invalid_target",
            "resource must be an absolute URI without a fragment",
        ));
    }
    if params
        .get("audience")
        .is_some_and(|a| !crate::params::is_plain(a))
    {
        return Err(OAuthError::bad_request(
            "invalid_target",
            "audience must hold no whitespace or control character",
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
    let access_token = issue_access(
        engine,
        Access {
            sub: client.client_id(),
            client_id: client.client_id(),
            scope: &scope,
            audiences: &audiences,
            auth_time: None,
            acr: None,
            amr: &[],
            claims: None,
            authorization_id: None,
            jkt,
        },
    )
    .await?;
    let mut response = json!({
        "access_token": access_token,
        "token_type": token_type(jkt),
        "expires_in": seconds(engine.access_ttl()),
    });
    if !scope.is_empty() {
        response["scope"] = scope.join(" ").into();
    }
    Ok(response)
}
