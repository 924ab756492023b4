//! Discovery (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS.

use serde_json::{Value, json};

use crate::engine::{ASSERTION_ALGS, Engine};
use crate::http::ProviderResponse;

/// The claims the provider may put in tokens and userinfo.
const CLAIMS: [&str; 27] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "acr",
    "amr",
    "nonce",
    "at_hash",
    "sid",
    "azp",
    "client_id",
    "scope",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "picture",
    "email",
    "email_verified",
    "locale",
    "updated_at",
    "phone_number",
    "roles",
];

/// The discovery document (the same for OpenID Connect and RFC 8414).
pub(crate) fn document(engine: &Engine) -> Value {
    let mut algs: Vec<&'static str> = Vec::new();
    for key in engine.keys().published() {
        let alg = key.algorithm();
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    let scopes: Vec<String> = match engine.supported_scopes() {
        Some(scopes) => scopes.to_vec(),
        None => ["openid", "profile", "email", "offline_access"]
            .map(str::to_owned)
            .to_vec(),
    };
    let client_auth = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ];
    let mut document = json!({
        "issuer": engine.issuer,
        "authorization_endpoint": engine.endpoint("authorize"),
        "token_endpoint": engine.endpoint("token"),
        "userinfo_endpoint": engine.endpoint("userinfo"),
        "revocation_endpoint": engine.endpoint("revoke"),
        "introspection_endpoint": engine.endpoint("introspect"),
        "end_session_endpoint": engine.endpoint("logout"),
        "jwks_uri": engine.endpoint("jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": client_auth,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "claims_parameter_supported": false,
        "prompt_values_supported": ["none", "login", "consent"],
        "scopes_supported": scopes,
        "claims_supported": CLAIMS,
    });
    if engine.registration.is_some() {
        document["registration_endpoint"] = engine.endpoint("register").into();
    }
    // RFC 9449 §5.1: the algorithms DPoP proofs may use.
    let dpop_algs: Vec<&str> = engine
        .dpop
        .config()
        .algorithm_list()
        .iter()
        .map(|alg| alg.as_str())
        .collect();
    document["dpop_signing_alg_values_supported"] = dpop_algs.into();
    if let Some(values) = &engine.acr_values {
        document["acr_values_supported"] = values.clone().into();
    }
    document
}

/// The JWKS: published keys in order.
pub(crate) fn jwks(engine: &Engine) -> Value {
    let keys: Vec<Value> = engine
        .keys()
        .published()
        .map(|key| key.public_jwk())
        .collect();
    json!({ "keys": keys })
}

pub(crate) fn serve_document(engine: &Engine) -> ProviderResponse {
    public_json(&document(engine))
}

pub(crate) fn serve_jwks(engine: &Engine) -> ProviderResponse {
    public_json(&jwks(engine))
}

/// Public metadata: cacheable briefly, so that a rotation shows within a minute.
fn public_json(body: &Value) -> ProviderResponse {
    ProviderResponse::new(200)
        .with_header("content-type", "application/json")
        .with_header("cache-control", "public, max-age=60")
        .with_body(body.to_string().into_bytes())
}
