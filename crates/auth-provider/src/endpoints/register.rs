//! `POST {path}/register`: dynamic client registration (RFC 7591), when enabled.

use aws_lc_rs::constant_time;
use serde_json::{Map, Value, json};

use crate::client::{Client, ClientAuth};
use crate::engine::{Engine, error_body};
use crate::http::{ProviderRequest, ProviderResponse};
use crate::jwt::{random_b64, unix_now};
use crate::params::parse_scope;
use crate::secret::SecretHash;

/// The most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 20;

/// Metadata echoed back as registered (RFC 7591 §2, OpenID Connect Registration §2).
const ECHOED: [&str; 8] = [
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "contacts",
    "software_id",
    "software_version",
];

/// An RFC 7591 §3.2.2 error.
struct Refusal {
    error: &'static str,
    description: String,
}

fn metadata_error(description: impl Into<String>) -> Refusal {
    Refusal {
        error: "invalid_client_metadata",
        description: description.into(),
    }
}

fn redirect_error(description: impl Into<String>) -> Refusal {
    Refusal {
        error: "invalid_redirect_uri",
        description: description.into(),
    }
}

pub(crate) async fn handle(engine: &Engine, request: &ProviderRequest) -> ProviderResponse {
    let registration = engine
        .registration
        .as_ref()
        .expect("dispatch routes here only when registration is on");
    if let Some(expected) = &registration.initial_access_token {
        let given = request
            .header_value("authorization")
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let valid = given.is_some_and(|given| {
            constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes()).is_ok()
        });
        if !valid {
            let (challenge, description) = if given.is_some() {
                (
                    "Bearer error=\"invalid_token\", error_description=\"the initial access token is not valid\"",
                    "the initial access token is not valid",
                )
            } else {
                ("Bearer", "registration needs an initial access token")
            };
            return ProviderResponse::json(401, &error_body("invalid_token", description))
                .with_header("www-authenticate", challenge);
        }
    }
    let is_json = request
        .header_value("content-type")
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return ProviderResponse::json(
            400,
            &error_body(
                "invalid_request",
                "the registration request must be application/json",
            ),
        );
    }
    let metadata: Map<String, Value> = match serde_json::from_slice(request.body_bytes()) {
        Ok(Value::Object(map)) => map,
        _ => {
            return ProviderResponse::json(
                400,
                &error_body("invalid_client_metadata", "the body must be a JSON object"),
            );
        }
    };
    let (client, secret, answer) = match validate(engine, &metadata) {
        Ok(parts) => parts,
        Err(refusal) => {
            return ProviderResponse::json(400, &error_body(refusal.error, &refusal.description));
        }
    };
    if let Err(error) = engine.store.put_client(&client).await {
        tracing::warn!(%error, "auth-provider: store unavailable");
        return ProviderResponse::json(
            503,
            &error_body(
                "temporarily_unavailable",
                "the provider's storage is unavailable; try again",
            ),
        )
        .with_header("retry-after", "5");
    }
    tracing::info!(
        client_id = client.client_id(),
        auth = client.auth_method_name(),
        "auth-provider: client registered"
    );
    let mut answer = answer;
    if let Some(secret) = secret {
        answer.insert("client_secret".into(), secret.into());
        answer.insert("client_secret_expires_at".into(), 0.into());
    }
    ProviderResponse::json(201, &Value::Object(answer))
}

/// Whether `uri` may be registered as a redirect URI: absolute, no fragment, and `https`, or
/// `http` on a loopback host (RFC 8252 §7.3, §8.3), or (for native clients) a private-use
/// scheme with a dot (RFC 8252 §7.1).
fn check_redirect_uri(uri: &str, native: bool) -> Result<(), Refusal> {
    let parsed = url::Url::parse(uri)
        .map_err(|_| redirect_error(format!("{uri:?} is not an absolute URI")))?;
    if uri.contains('#') {
        return Err(redirect_error(format!("{uri:?} has a fragment")));
    }
    let loopback = crate::params::is_loopback_host(&parsed, true);
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(redirect_error(format!(
            "{uri:?}: http is allowed only on a loopback host; use https"
        ))),
        scheme if native && scheme.contains('.') => Ok(()),
        _ => Err(redirect_error(format!(
            "{uri:?}: use https (or http on a loopback host)"
        ))),
    }
}

fn strings(metadata: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, Refusal> {
    match metadata.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| metadata_error(format!("{name} must be an array of strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(metadata_error(format!(
            "{name} must be an array of strings"
        ))),
    }
}

type Registered = (Client, Option<String>, Map<String, Value>);

fn validate(engine: &Engine, metadata: &Map<String, Value>) -> Result<Registered, Refusal> {
    let text = |name: &str| -> Result<Option<&str>, Refusal> {
        match metadata.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(metadata_error(format!("{name} must be a string"))),
        }
    };
    let native = match text("application_type")? {
        None | Some("web") => false,
        Some("native") => true,
        Some(other) => {
            return Err(metadata_error(format!(
                "application_type {other:?} is not web or native"
            )));
        }
    };
    let method = match text("token_endpoint_auth_method")? {
        None => ClientAuth::Basic,
        Some(name) => ClientAuth::from_name(name).ok_or_else(|| {
            metadata_error(format!(
                "token_endpoint_auth_method {name:?} is not supported"
            ))
        })?,
    };
    let grant_types =
        strings(metadata, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    for grant in &grant_types {
        if !matches!(
            grant.as_str(),
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(metadata_error(format!(
                "grant type {grant:?} is not supported (authorization_code, refresh_token, client_credentials)"
            )));
        }
    }
    // A client that registered itself acts only for users who consented; a service client
    // (tokens with no user) is the operator's to create.
    if grant_types.iter().any(|g| g == "client_credentials") {
        return Err(metadata_error(
            "client_credentials is not available to clients that register themselves",
        ));
    }
    let response_types =
        strings(metadata, "response_types")?.unwrap_or_else(|| vec!["code".to_owned()]);
    if response_types.iter().any(|t| t != "code") {
        return Err(metadata_error("only the response type code is supported"));
    }
    let uses_code = grant_types.iter().any(|g| g == "authorization_code");
    if uses_code != response_types.iter().any(|t| t == "code") {
        return Err(metadata_error(
            "grant_types authorization_code and response_types code go together",
        ));
    }
    let redirect_uris = strings(metadata, "redirect_uris")?.unwrap_or_default();
    if uses_code && redirect_uris.is_empty() {
        return Err(redirect_error(
            "redirect_uris is required for the authorization code grant",
        ));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(redirect_error(format!(
            "at most {MAX_REDIRECT_URIS} redirect URIs"
        )));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri, native)?;
    }
    let post_logout = strings(metadata, "post_logout_redirect_uris")?.unwrap_or_default();
    for uri in &post_logout {
        check_redirect_uri(uri, native)?;
    }
    let scope = match text("scope")? {
        None => None,
        Some(scope) => {
            let values = parse_scope(scope)
                .ok_or_else(|| metadata_error("scope holds a character RFC 6749 does not allow"))?;
            if let Some(supported) = engine.supported_scopes()
                && let Some(unknown) = values.iter().find(|v| !supported.contains(v))
            {
                return Err(metadata_error(format!(
                    "scope {unknown:?} is not supported by this provider"
                )));
            }
            Some(values)
        }
    };
    let mut jwks = Vec::new();
    if method == ClientAuth::PrivateKeyJwt {
        if metadata.contains_key("jwks_uri") {
            return Err(metadata_error(
                "jwks_uri is not supported: register the public keys in jwks",
            ));
        }
        let keys = metadata
            .get("jwks")
            .and_then(|jwks| jwks.get("keys"))
            .and_then(Value::as_array)
            .filter(|keys| !keys.is_empty())
            .ok_or_else(|| metadata_error("private_key_jwt needs jwks with at least one key"))?;
        jwks.clone_from(keys);
    }

    let client_id = random_b64(16);
    let secret = matches!(method, ClientAuth::Basic | ClientAuth::Post).then(|| random_b64(32));
    let mut client = match &secret {
        // A generated secret has 256 random bits: SHA-256 suffices (see `SecretHash`).
        Some(secret) => Client::with_secret_hash(client_id.clone(), SecretHash::sha256(secret)),
        None => Client::public(client_id.clone()),
    };
    client = client
        .auth_method(method)
        .native(native)
        .refresh_tokens(grant_types.iter().any(|g| g == "refresh_token"))
        .grant_types(grant_types.clone())
        .first_party(false);
    for key in jwks {
        client = client.jwk(key);
    }
    for uri in &redirect_uris {
        client = client.redirect_uri(uri.clone());
    }
    for uri in &post_logout {
        client = client.post_logout_redirect_uri(uri.clone());
    }
    if let Some(scope) = &scope {
        client = client.scopes(scope.clone());
    }
    let mut answer = Map::new();
    answer.insert("client_id".into(), client_id.into());
    answer.insert("client_id_issued_at".into(), unix_now().into());
    answer.insert("redirect_uris".into(), json!(redirect_uris));
    if !post_logout.is_empty() {
        answer.insert("post_logout_redirect_uris".into(), json!(post_logout));
    }
    answer.insert("grant_types".into(), json!(grant_types));
    answer.insert("response_types".into(), json!(response_types));
    answer.insert("token_endpoint_auth_method".into(), method.name().into());
    answer.insert(
        "application_type".into(),
        if native { "native" } else { "web" }.into(),
    );
    if let Some(scope) = &scope {
        answer.insert("scope".into(), scope.join(" ").into());
    }
    if let Some(jwks) = metadata
        .get("jwks")
        .filter(|_| method == ClientAuth::PrivateKeyJwt)
    {
        answer.insert("jwks".into(), jwks.clone());
    }
    for name in ECHOED {
        if let Some(value) = metadata.get(name) {
            answer.insert(name.into(), value.clone());
        }
    }
    client.set_metadata(answer.clone());
    Ok((client, secret, answer))
}
