//! The OAuth client: calls to the provider's token, revocation and userinfo endpoints, with the
//! configured client authentication, each bounded by the session's provider timeout and a size
//! cap.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;

use super::{ClientAuth, SessionConfig};
use crate::client_key::{ASSERTION_TYPE, ClientKey};
use crate::discovery::ProviderMetadata;
use crate::error::{AuthError, ErrorCode};
use crate::http::{HttpClient, HttpRequest, send};

/// The largest token-endpoint response read.
const MAX_TOKEN_RESPONSE: usize = 256 * 1024;

/// The largest userinfo response read.
const MAX_USERINFO_RESPONSE: usize = 64 * 1024;

/// The profile claims kept in the session cookie (and shown by `/auth/me`).
pub(crate) const PROFILE_CLAIMS: &[&str] = &[
    "name",
    "preferred_username",
    "given_name",
    "family_name",
    "email",
    "picture",
];

/// Tokens from the token endpoint.
#[derive(Clone, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    pub(crate) expires_in: Option<f64>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
}

/// Who the app is at the provider's endpoints: its client id, secret and authentication
/// method, and the timeout of each call.
#[derive(Clone, Copy)]
pub(crate) struct OAuthClient<'a> {
    pub(crate) id: &'a str,
    pub(crate) secret: Option<&'a str>,
    pub(crate) method: Option<ClientAuth>,
    pub(crate) timeout: std::time::Duration,
    /// The private key of `private_key_jwt`, and the `aud` of its assertions (the endpoint
    /// called when `None`).
    pub(crate) key: Option<(&'a ClientKey, Option<&'a str>)>,
}

impl SessionConfig {
    pub(crate) fn oauth_client(&self) -> OAuthClient<'_> {
        OAuthClient {
            id: &self.client_id,
            secret: self.client_secret.as_ref().map(|s| s.expose()),
            method: self.client_auth,
            timeout: self.provider_timeout,
            key: self
                .client_key
                .as_ref()
                .map(|key| (key, self.assertion_audience.as_deref())),
        }
    }
}

/// A form POST to one of the provider's endpoints, authenticated as this client.
fn authenticated_form(
    s: &SessionConfig,
    endpoint: &str,
    form: &[(&str, &str)],
    max_body: usize,
) -> Result<HttpRequest, AuthError> {
    client_form(&s.oauth_client(), endpoint, form, max_body)
}

/// A form POST authenticated as `client` (`client_secret_basic`, `client_secret_post`,
/// `private_key_jwt`, or a public client's `client_id`).
///
/// # Errors
/// `config_invalid` when a client assertion cannot be signed.
pub(crate) fn client_form(
    client: &OAuthClient<'_>,
    endpoint: &str,
    form: &[(&str, &str)],
    max_body: usize,
) -> Result<HttpRequest, AuthError> {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let client_id = client.id;
    let secret = client.secret;
    let method = client.method.unwrap_or(if client.key.is_some() {
        ClientAuth::PrivateKeyJwt
    } else if secret.is_some() {
        ClientAuth::Basic
    } else {
        ClientAuth::None
    });
    let mut basic = None;
    let assertion;
    match (method, secret) {
        (ClientAuth::PrivateKeyJwt, _) => {
            let (key, audience) = client.key.ok_or_else(|| {
                AuthError::new(
                    ErrorCode::ConfigInvalid,
                    "private_key_jwt needs a client key (AUTH_CLIENT_KEY_FILE)",
                )
            })?;
            // RFC 7523 §3: the audience is the authorization server; by default the endpoint
            // called (OpenID Connect Core §9), else the configured one (the issuer).
            assertion = key.assertion(client_id, audience.unwrap_or(endpoint))?;
            form.push(("client_id", client_id));
            form.push(("client_assertion_type", ASSERTION_TYPE));
            form.push(("client_assertion", &assertion));
        }
        (ClientAuth::Basic, Some(secret)) => {
            // RFC 6749 §2.3.1: form-urlencode both parts, then base64.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            basic = Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
            ));
        }
        (ClientAuth::Post, Some(secret)) => {
            form.push(("client_id", client_id));
            form.push(("client_secret", secret));
        }
        _ => form.push(("client_id", client_id)),
    }
    let mut req = HttpRequest::post_form(endpoint, &form, client.timeout, max_body)
        .header("accept", "application/json");
    if let Some(b) = basic {
        req = req.header("authorization", b);
    }
    Ok(req)
}

/// A token-endpoint exchange (authorization code or refresh token).
///
/// # Errors
/// `invalid_grant` when the provider says the grant is dead (the only final failure);
/// `config_invalid` when it refuses this app's own client credentials; 503 / 429 when it is
/// unreachable, failing or rate limiting.
pub(crate) async fn token_request(
    http: &dyn HttpClient,
    s: &SessionConfig,
    metadata: &ProviderMetadata,
    form: &[(&str, &str)],
) -> Result<TokenResponse, AuthError> {
    let endpoint = metadata.token_endpoint.as_deref().ok_or_else(|| {
        AuthError::new(
            ErrorCode::DiscoveryFailed,
            "the provider has no token endpoint",
        )
    })?;
    token_request_to(http, &s.oauth_client(), endpoint, form).await
}

/// A token request to `endpoint`, authenticated as `client`; errors as [`token_request`].
pub(crate) async fn token_request_to(
    http: &dyn HttpClient,
    client: &OAuthClient<'_>,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Result<TokenResponse, AuthError> {
    use tracing::Instrument as _;
    let transient = |msg| AuthError::new(ErrorCode::Network, msg);
    let req = client_form(client, endpoint, form, MAX_TOKEN_RESPONSE)?;
    let grant = form
        .iter()
        .find(|(name, _)| *name == "grant_type")
        .map_or("", |(_, value)| *value);
    let span = tracing::info_span!("auth.upstream", kind = "token", grant, endpoint);
    let response = send(http, req).instrument(span).await.map_err(|e| {
        tracing::warn!(error = %e, "token endpoint unreachable");
        transient("the identity provider is unreachable").with_source(e)
    })?;
    match response.status {
        200 => {
            let tokens: TokenResponse = serde_json::from_slice(&response.body)
                .map_err(|_| transient("the identity provider sent an invalid token response"))?;
            if tokens
                .token_type
                .as_deref()
                .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
            {
                return Err(AuthError::new(
                    ErrorCode::InvalidGrant,
                    "unsupported token type",
                ));
            }
            Ok(tokens)
        }
        400 | 401 => {
            let error = serde_json::from_slice::<Value>(&response.body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            tracing::info!(status = response.status, error = %crate::log_safe(&error), "token endpoint refused the grant");
            if error == "invalid_grant" {
                Err(AuthError::new(
                    ErrorCode::InvalidGrant,
                    "the session is no longer valid",
                ))
            } else if error == "invalid_client" || error == "unauthorized_client" {
                // The app's own credentials or registration: an operator problem, never the
                // user's, so the session is kept.
                tracing::error!(
                    "the provider rejected this app's client credentials: check AUTH_CLIENT_ID, AUTH_CLIENT_SECRET and the client's registration"
                );
                Err(AuthError::new(
                    ErrorCode::ConfigInvalid,
                    "the identity provider rejected this app's client credentials",
                ))
            } else {
                Err(AuthError::new(
                    ErrorCode::Unknown,
                    "the identity provider refused the request",
                ))
            }
        }
        429 => Err(AuthError::new(
            ErrorCode::RateLimited,
            "the identity provider is rate limiting",
        )),
        _ => Err(transient("the identity provider failed")),
    }
}

/// Revokes a refresh token (RFC 7009), best effort: a failure is logged, never shown.
pub(crate) async fn revoke(
    http: &dyn HttpClient,
    s: &SessionConfig,
    endpoint: &str,
    refresh_token: &str,
) {
    let form = [
        ("token", refresh_token),
        ("token_type_hint", "refresh_token"),
    ];
    let req = match authenticated_form(s, endpoint, &form, MAX_USERINFO_RESPONSE) {
        Ok(req) => req,
        Err(e) => {
            tracing::warn!(error = %e, "refresh token revocation skipped");
            return;
        }
    };
    match send(http, req).await {
        Ok(r) if r.status == 200 => {}
        Ok(r) => tracing::warn!(status = r.status, "refresh token revocation was refused"),
        Err(e) => tracing::warn!(error = %e, "refresh token revocation failed"),
    }
}

/// Fills missing profile claims from the userinfo endpoint (best effort: a failure only means
/// a thinner `/auth/me`). Called once per sign-in, never per request.
pub(crate) async fn userinfo_profile(
    http: &dyn HttpClient,
    s: &SessionConfig,
    metadata: &ProviderMetadata,
    access_token: &str,
    sub: &str,
    profile: &mut serde_json::Map<String, Value>,
) {
    let Some(endpoint) = &metadata.userinfo_endpoint else {
        return;
    };
    let req = HttpRequest::get(endpoint, s.provider_timeout, MAX_USERINFO_RESPONSE)
        .header("authorization", format!("Bearer {access_token}"))
        .header("accept", "application/json");
    match send(http, req).await {
        Ok(r) if r.status == 200 => {
            if let Ok(claims) = serde_json::from_slice::<Value>(&r.body) {
                // OIDC Core §5.3.2: the userinfo sub must match; otherwise ignore it.
                if claims.get("sub").and_then(Value::as_str) == Some(sub) {
                    keep_profile(profile, &claims);
                } else {
                    tracing::warn!("userinfo answered for another subject; ignored");
                }
            }
        }
        Ok(r) => tracing::debug!(status = r.status, "userinfo refused"),
        Err(e) => tracing::debug!(error = %e, "userinfo unreachable"),
    }
}

/// Copies the profile claims present in `claims` (strings only, bounded length) into `profile`,
/// without replacing values already there.
pub(crate) fn keep_profile(profile: &mut serde_json::Map<String, Value>, claims: &Value) {
    for key in PROFILE_CLAIMS {
        if let Some(Value::String(v)) = claims.get(*key)
            && v.len() <= 512
            && !profile.contains_key(*key)
        {
            profile.insert((*key).to_owned(), Value::String(v.clone()));
        }
    }
}
