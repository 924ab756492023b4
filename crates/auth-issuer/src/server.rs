//! The HTTP side: shared state, routes, request counting and fault injection.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, StreamExt as _};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::endpoints::{authorize, introspect, logout, revoke, token, userinfo};
use crate::fault::Fault;
use crate::grants::Grants;
use crate::keys::KeyStore;
use crate::token::TokenBuilder;
use crate::users::Directory;

/// Everything the routes and the [`crate::TestIssuer`] handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `http://host:port` without a trailing slash.
    pub(crate) origin: String,
    /// `""` or `/segment/...` without a trailing slash.
    pub(crate) path: String,
    /// `origin + path`.
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) dev_endpoints: bool,
    pub(crate) keys: RwLock<KeyStore>,
    pub(crate) settings: Mutex<Settings>,
    pub(crate) counters: Counters,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) provider: Mutex<Provider>,
    /// Turns `true` when the server is shutting down; ends delays and stalls early.
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Token lifetimes: refresh and ID tokens fixed at start, access tokens changeable at run time
/// (whole seconds).
#[derive(Debug)]
pub(crate) struct Lifetimes {
    pub(crate) access_secs: std::sync::atomic::AtomicU64,
    pub(crate) refresh: Duration,
    pub(crate) id: Duration,
}

/// The algorithms accepted for `private_key_jwt` client assertions.
const ASSERTION_ALGS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Users, clients and the grants issued to them.
#[derive(Debug)]
pub(crate) struct Provider {
    pub(crate) directory: Directory,
    pub(crate) grants: Grants,
}

/// Behaviour that tests change at run time.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) jwks_fault: Option<Fault>,
    pub(crate) discovery_fault: Option<Fault>,
    pub(crate) oidc_discovery_enabled: bool,
    pub(crate) issuer_override: Option<String>,
    pub(crate) jwks_extra_keys: Vec<Value>,
    pub(crate) jwks_cache_control: Option<String>,
    pub(crate) token_fault: Option<Fault>,
    /// The token endpoint issues opaque access tokens (introspect them) instead of JWTs.
    pub(crate) opaque_access_tokens: bool,
    /// Opaque access tokens and their claims (for introspection).
    pub(crate) opaque: HashMap<String, Map<String, Value>>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            jwks_fault: None,
            discovery_fault: None,
            oidc_discovery_enabled: true,
            issuer_override: None,
            jwks_extra_keys: Vec::new(),
            jwks_cache_control: None,
            token_fault: None,
            opaque_access_tokens: false,
            opaque: HashMap::new(),
        }
    }
}

/// Request counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) jwks: AtomicU64,
    pub(crate) discovery: AtomicU64,
    pub(crate) by_path: Mutex<HashMap<String, u64>>,
}

impl Counters {
    fn record(&self, path: &str) {
        *lock(&self.by_path).entry(path.to_owned()).or_default() += 1;
    }

    pub(crate) fn reset(&self) {
        self.jwks.store(0, Ordering::Relaxed);
        self.discovery.store(0, Ordering::Relaxed);
        lock(&self.by_path).clear();
    }
}

/// Locks a mutex, ignoring poisoning: a panicking test must not break every later one.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn keys(&self) -> RwLockReadGuard<'_, KeyStore> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn keys_mut(&self) -> RwLockWriteGuard<'_, KeyStore> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lifetime of access tokens issued now.
    pub(crate) fn access_ttl(&self) -> Duration {
        Duration::from_secs(
            self.lifetimes
                .access_secs
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    pub(crate) fn settings(&self) -> MutexGuard<'_, Settings> {
        lock(&self.settings)
    }

    /// Users, clients and grants. Never held across an `.await`.
    pub(crate) fn provider(&self) -> MutexGuard<'_, Provider> {
        lock(&self.provider)
    }

    pub(crate) fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// The JWKS as served: published keys in order, then the extra raw keys.
    pub(crate) fn jwks(&self) -> Value {
        let mut keys: Vec<Value> = self.keys().published().map(|k| k.public_jwk()).collect();
        keys.extend(self.settings().jwks_extra_keys.iter().cloned());
        json!({ "keys": keys })
    }

    /// The discovery document (the same for OIDC and RFC 8414).
    pub(crate) fn discovery_document(&self) -> Value {
        let issuer = self.settings().issuer_override.clone();
        let issuer = issuer.as_deref().unwrap_or(&self.issuer);
        let mut algs: Vec<&'static str> = Vec::new();
        for key in self.keys().published() {
            let alg = key.alg().name();
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        let base = &self.issuer;
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "revocation_endpoint": format!("{base}/revoke"),
            "introspection_endpoint": format!("{base}/introspect"),
            "end_session_endpoint": format!("{base}/logout"),
            "jwks_uri": self.jwks_uri(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
            "revocation_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
            "introspection_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
            "authorization_response_iss_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce",
                "at_hash", "sid", "client_id", "scope", "name", "email", "roles",
            ],
        })
    }
}

/// Sleeps for `duration`, or less if the server shuts down first.
pub(crate) async fn pause(duration: Duration, mut shutdown: watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        _ = shutdown.wait_for(|&down| down) => {}
    }
}

/// The issuer's routes, with every request counted.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let path = &shared.path;
    let mut router = Router::new()
        .route(
            &format!("{path}/.well-known/openid-configuration"),
            get(oidc_discovery),
        )
        .route(
            &format!("/.well-known/oauth-authorization-server{path}"),
            get(oauth_metadata),
        )
        .route(&format!("{path}/jwks"), get(jwks))
        .route(
            &format!("{path}/authorize"),
            get(authorize::get).post(authorize::post),
        )
        .route(&format!("{path}/token"), post(token::token))
        .route(&format!("{path}/revoke"), post(revoke::revoke))
        .route(&format!("{path}/introspect"), post(introspect::introspect))
        .route(
            &format!("{path}/userinfo"),
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            &format!("{path}/logout"),
            get(logout::logout).post(logout::logout),
        );
    if shared.dev_endpoints {
        router = router.route(&format!("{path}/dev/mint"), post(dev_mint));
    }
    router
        .fallback(not_found)
        .layer(middleware::from_fn(cors))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), count))
        .with_state(shared)
}

/// CORS for the endpoints a browser application calls with `fetch` (discovery, JWKS, token,
/// revocation, userinfo): any origin, no cookies. The HTML endpoints (authorize, logout) are
/// navigated to, not fetched, and get no CORS headers.
async fn cors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let html = path.ends_with("/authorize") || path.ends_with("/logout");
    if html || !request.headers().contains_key(header::ORIGIN) {
        return next.run(request).await;
    }
    let preflight = request.method() == axum::http::Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        response
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate"),
    );
    response
}

async fn count(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    tracing::trace!(method = %request.method(), path = request.uri().path(), "auth-issuer request");
    shared.counters.record(request.uri().path());
    next.run(request).await
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

fn error_response(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn oidc_discovery(State(shared): State<Arc<Shared>>) -> Response {
    shared.counters.discovery.fetch_add(1, Ordering::Relaxed);
    if !shared.settings().oidc_discovery_enabled {
        return not_found().await;
    }
    serve_discovery(&shared).await
}

async fn oauth_metadata(State(shared): State<Arc<Shared>>) -> Response {
    shared.counters.discovery.fetch_add(1, Ordering::Relaxed);
    serve_discovery(&shared).await
}

async fn serve_discovery(shared: &Shared) -> Response {
    let fault = shared.settings().discovery_fault.clone();
    let body = shared.discovery_document().to_string();
    answer(shared, fault, body.into_bytes()).await
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.counters.jwks.fetch_add(1, Ordering::Relaxed);
    let (fault, cache_control) = {
        let settings = shared.settings();
        (
            settings.jwks_fault.clone(),
            settings.jwks_cache_control.clone(),
        )
    };
    let body = shared.jwks().to_string();
    let mut response = answer(&shared, fault, body.into_bytes()).await;
    if let Some(value) = cache_control {
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                response.headers_mut().insert(header::CACHE_CONTROL, value);
            }
            Err(_) => tracing::warn!(value, "auth-issuer: invalid Cache-Control value ignored"),
        }
    }
    response
}

/// Whitespace that pads [`Fault::Oversized`] bodies, sent a slice at a time.
static PADDING: [u8; 64 * 1024] = [b' '; 64 * 1024];

/// How many body bytes [`Fault::SlowBody`] sends before stalling.
const SLOW_BODY_PREFIX: usize = 8;

/// Answers `200 OK` with the JSON `document`, or with the injected `fault`.
pub(crate) async fn answer(
    shared: &Shared,
    fault: Option<Fault>,
    mut document: Vec<u8>,
) -> Response {
    let Some(fault) = fault else {
        return json_response(Body::from(document));
    };
    tracing::debug!(?fault, "auth-issuer: injecting fault");
    match fault {
        Fault::Status(code) => {
            // 1xx are not final answers: treat them as invalid, like codes out of range.
            let status = StatusCode::from_u16(code)
                .ok()
                .filter(|status| !status.is_informational())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error_response(status, "server_error", "injected fault")
        }
        Fault::Html => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\
             <body><h1>Please sign in</h1></body></html>\n",
        )
            .into_response(),
        Fault::InvalidJson => json_response(Body::from(r#"{"keys": [{"kty": "RSA", "n": "#)),
        Fault::Delay(duration) => {
            pause(duration, shared.shutdown.clone()).await;
            json_response(Body::from(document))
        }
        Fault::Oversized(size) if size > document.len() => {
            // Stream the padding rather than allocate it: the size may be huge.
            let mut padding = size - document.len();
            let chunks = std::iter::from_fn(move || {
                let chunk = padding.min(PADDING.len());
                padding -= chunk;
                (chunk > 0).then(|| Ok::<_, Infallible>(Bytes::from_static(&PADDING[..chunk])))
            });
            let body =
                stream::once(async move { Ok(Bytes::from(document)) }).chain(stream::iter(chunks));
            let mut response = json_response(Body::from_stream(body));
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            response
        }
        Fault::Oversized(_) => json_response(Body::from(document)),
        Fault::SlowBody(duration) => {
            let rest = document.split_off(SLOW_BODY_PREFIX.min(document.len()));
            let shutdown = shared.shutdown.clone();
            let stalled = async move {
                pause(duration, shutdown).await;
                Ok::<_, Infallible>(Bytes::from(rest))
            };
            let body =
                stream::once(async move { Ok(Bytes::from(document)) }).chain(stream::once(stalled));
            json_response(Body::from_stream(body))
        }
        Fault::Drop => {
            // A body whose first poll fails makes hyper abort the connection before the
            // buffered response head is flushed: the client gets no status at all.
            let body = stream::once(async {
                Err::<Bytes, _>(io::Error::other("auth-issuer: injected connection drop"))
            });
            Body::from_stream(body).into_response()
        }
    }
}

fn json_response(body: Body) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The body of `POST {issuer}/dev/mint`; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MintRequest {
    sub: Option<String>,
    roles: Option<Vec<String>>,
    aud: Option<Value>,
    scope: Option<String>,
    expires_in: Option<i64>,
    kid: Option<String>,
    claims: Map<String, Value>,
}

/// Lifetime of tokens minted by `/dev/mint` unless the request says otherwise.
const DEFAULT_EXPIRES_IN: i64 = 300;

async fn dev_mint(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: MintRequest = if body.iter().all(u8::is_ascii_whitespace) {
        MintRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(error) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!("invalid mint request: {error}"),
                );
            }
        }
    };
    let mut token = TokenBuilder::new(Arc::clone(&shared));
    if let Some(kid) = &request.kid {
        if shared.keys().get(kid).is_none() {
            return error_response(StatusCode::BAD_REQUEST, "invalid_request", "unknown kid");
        }
        token = token.key(kid);
    }
    if let Some(sub) = &request.sub {
        token = token.sub(sub);
    }
    if let Some(roles) = request.roles {
        token = token.claim("roles", roles);
    }
    if let Some(aud) = request.aud {
        token = token.aud(aud);
    }
    if let Some(scope) = &request.scope {
        token = token.scope(scope);
    }
    let expires_in = request.expires_in.unwrap_or(DEFAULT_EXPIRES_IN);
    token = token.expires_in(expires_in);
    for (name, value) in request.claims {
        token = token.claim(&name, value);
    }
    axum::Json(json!({
        "access_token": token.sign(),
        "token_type": "Bearer",
        "expires_in": expires_in,
    }))
    .into_response()
}
