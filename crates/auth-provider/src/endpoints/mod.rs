//! The endpoints: routing, CORS, client authentication and error answers.

mod assertion;
pub(crate) mod authorize;
pub(crate) mod discovery;
mod dpop;
mod introspect;
mod logout;
mod register;
mod revoke;
mod token;
mod userinfo;

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::client::{Client, ClientAuth};
use crate::engine::{Engine, error_body};
use crate::http::{ProviderRequest, ProviderResponse};
use crate::params::{Params, form_decode};
use crate::store::StoreError;

/// Routes a request to its endpoint.
pub(crate) async fn dispatch(engine: &Engine, request: &ProviderRequest) -> ProviderResponse {
    engine.maybe_purge().await;
    let path = request.path();
    let method = request.method();
    let Some(name) = endpoint_name(engine, path) else {
        return not_found();
    };
    // Pages a browser navigates to get no CORS; the JSON endpoints answer any origin,
    // without credentials, so that a browser application can call them.
    let html = matches!(name, "authorize" | "logout");
    let origin = request.header_value("origin").is_some() && !html;
    if origin
        && method == "OPTIONS"
        && request
            .header_value("access-control-request-method")
            .is_some()
    {
        return cors(
            ProviderResponse::new(204)
                .with_header("access-control-allow-methods", "GET, POST")
                .with_header(
                    "access-control-allow-headers",
                    "Authorization, Content-Type, DPoP",
                )
                .with_header("access-control-max-age", "600"),
        );
    }
    let response = match (name, method) {
        ("openid-configuration" | "oauth-authorization-server", "GET") => {
            discovery::serve_document(engine)
        }
        ("jwks", "GET") => discovery::serve_jwks(engine),
        ("authorize", "GET" | "POST") => authorize::handle(engine, request).await,
        ("token", "POST") => token::handle(engine, request).await,
        ("revoke", "POST") => revoke::handle(engine, request).await,
        ("introspect", "POST") => introspect::handle(engine, request).await,
        ("userinfo", "GET" | "POST") => userinfo::handle(engine, request).await,
        ("logout", "GET" | "POST") => logout::handle(engine, request).await,
        ("register", "POST") if engine.registration.is_some() => {
            register::handle(engine, request).await
        }
        ("register", _) if engine.registration.is_none() => not_found(),
        _ => ProviderResponse::json(405, &error_body("invalid_request", "method not allowed"))
            .with_header("allow", allowed_methods(name)),
    };
    if origin { cors(response) } else { response }
}

/// The endpoint a path names, if any.
fn endpoint_name<'a>(engine: &Engine, path: &'a str) -> Option<&'a str> {
    if let Some(rest) = path.strip_prefix("/.well-known/oauth-authorization-server") {
        return (rest == engine.path).then_some("oauth-authorization-server");
    }
    let rest = path.strip_prefix(engine.path.as_str())?;
    match rest {
        "/.well-known/openid-configuration" => Some("openid-configuration"),
        "/jwks" | "/authorize" | "/token" | "/revoke" | "/introspect" | "/userinfo" | "/logout"
        | "/register" => Some(&rest[1..]),
        _ => None,
    }
}

fn allowed_methods(name: &str) -> &'static str {
    match name {
        "token" | "revoke" | "introspect" | "register" => "POST",
        "authorize" | "userinfo" | "logout" => "GET, POST",
        _ => "GET",
    }
}

fn cors(response: ProviderResponse) -> ProviderResponse {
    response
        .with_header("access-control-allow-origin", "*")
        .with_header(
            "access-control-expose-headers",
            "WWW-Authenticate, DPoP-Nonce",
        )
}

fn not_found() -> ProviderResponse {
    ProviderResponse::json(404, &error_body("not_found", "no such endpoint"))
}

/// An OAuth error answered as JSON (RFC 6749 §5.2), with `Cache-Control: no-store`.
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) description: Cow<'static, str>,
    /// The `WWW-Authenticate` challenge, for `401` answers.
    pub(crate) challenge: Option<String>,
    /// The `DPoP-Nonce` to use, for `use_dpop_nonce` (RFC 9449 §8).
    pub(crate) dpop_nonce: Option<String>,
}

impl OAuthError {
    pub(crate) fn bad_request(
        error: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status: 400,
            error,
            description: description.into(),
            challenge: None,
            dpop_nonce: None,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::bad_request("invalid_request", description)
    }

    pub(crate) fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::bad_request("invalid_grant", description)
    }

    /// `401 invalid_client` with a Basic challenge (RFC 6749 §5.2; a `401` always carries
    /// a challenge, RFC 9110 §15.5.2).
    pub(crate) fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status: 401,
            error: "invalid_client",
            description: description.into(),
            challenge: Some("Basic realm=\"auth-provider\", charset=\"UTF-8\"".to_owned()),
            dpop_nonce: None,
        }
    }

    /// The store failed: `503 temporarily_unavailable` (never an answer that would make a
    /// client drop its tokens).
    pub(crate) fn unavailable(error: &StoreError) -> Self {
        tracing::warn!(%error, "auth-provider: store unavailable");
        Self {
            status: 503,
            error: "temporarily_unavailable",
            description: "the provider's storage is unavailable; try again".into(),
            challenge: None,
            dpop_nonce: None,
        }
    }

    pub(crate) fn into_response(self) -> ProviderResponse {
        let mut response =
            ProviderResponse::json(self.status, &error_body(self.error, &self.description));
        if let Some(challenge) = self.challenge {
            response = response.with_header("www-authenticate", challenge);
        }
        if self.status == 503 {
            response = response.with_header("retry-after", "5");
        }
        if let Some(nonce) = self.dpop_nonce {
            response = response.with_header("dpop-nonce", nonce);
        }
        response
    }
}

/// A refused DPoP proof at the token endpoint: `400` (RFC 9449 §5).
impl From<dpop::Refusal> for OAuthError {
    fn from(refusal: dpop::Refusal) -> Self {
        let mut error = Self::bad_request(refusal.error, refusal.description);
        error.dpop_nonce = refusal.nonce;
        error
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        Self::unavailable(&error)
    }
}

/// The parameters of a form POST, refusing other content types and repeated parameters
/// (RFC 6749 §3.2: "parameters MUST NOT be included more than once"), except `repeatable`.
pub(crate) fn form(
    request: &ProviderRequest,
    what: &str,
    repeatable: &[&str],
) -> Result<Params, OAuthError> {
    if !request.is_form() {
        return Err(OAuthError::invalid_request(format!(
            "the {what} request must be application/x-www-form-urlencoded"
        )));
    }
    let params = Params::parse(request.body_bytes());
    if let Some(name) = params.repeated(repeatable) {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is given more than once"
        )));
    }
    Ok(params)
}

/// The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1: both
/// form-urlencoded, then joined with `:` and base64-encoded). `Ok(None)` without the header.
fn basic_credentials(request: &ProviderRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = request.header_value("authorization") else {
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "client authentication uses HTTP Basic, not this scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    Ok(Some((id, secret)))
}

/// Authenticates the client of a token, revocation or introspection request (RFC 6749 §2.3,
/// §3.2.1).
pub(crate) async fn authenticate_client(
    engine: &Engine,
    request: &ProviderRequest,
    params: &Params,
) -> Result<Client, OAuthError> {
    let basic = basic_credentials(request)?;
    if let Some(assertion_type) = params.get("client_assertion_type") {
        if basic.is_some() || params.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: a client assertion, HTTP Basic or client_secret",
            ));
        }
        let assertion = params
            .single("client_assertion")
            .ok_or_else(|| OAuthError::invalid_client("client_assertion is missing"))?;
        return assertion::authenticate(engine, assertion_type, assertion, params.get("client_id"))
            .await;
    }
    let form_id = params.get("client_id");
    let form_secret = params.get("client_secret");
    let (client_id, secret, method) = match (&basic, form_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: HTTP Basic or client_secret, not both",
            ));
        }
        (Some((id, secret)), None) => {
            if form_id.is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_client(
                    "client_id differs from the Basic credentials",
                ));
            }
            (id.as_str(), Some(secret.as_str()), ClientAuth::Basic)
        }
        (None, Some(secret)) => {
            let id = form_id
                .ok_or_else(|| OAuthError::invalid_client("client_secret without client_id"))?;
            (id, Some(secret), ClientAuth::Post)
        }
        (None, None) => {
            let id = form_id
                .ok_or_else(|| OAuthError::invalid_client("client authentication required"))?;
            (id, None, ClientAuth::None)
        }
    };
    let client = engine
        .find_client(client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    if !client.accepts(method) {
        let description = match method {
            _ if client.accepts(ClientAuth::PrivateKeyJwt) => {
                "this client authenticates with private_key_jwt"
            }
            ClientAuth::None => "client authentication required: send the client secret",
            _ if !client.has_secret() => "a public client must not send a client secret",
            ClientAuth::Basic => "this client must not use client_secret_basic",
            ClientAuth::Post => "this client must not use client_secret_post",
            ClientAuth::PrivateKeyJwt => "this client authenticates with private_key_jwt",
        };
        return Err(OAuthError::invalid_client(description));
    }
    if let Some(given) = secret {
        let valid = match client.secret_hash() {
            Some(hash) => {
                engine
                    .verified
                    .verify(client.client_id(), hash, given)
                    .await
            }
            None => false,
        };
        if !valid {
            return Err(OAuthError::invalid_client("invalid client secret"));
        }
    }
    Ok(client)
}
