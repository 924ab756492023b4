//! The HTTP side: shared state, routes, request counting and fault injection around the
//! provider engine.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use auth_provider::{Provider, ProviderRequest, ProviderStore};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::stream::{self, StreamExt as _};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::fault::Fault;
use crate::token::TokenBuilder;
use crate::users::{Directory, TestClient};

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
    /// The engine: endpoints, keys, clients and grants.
    pub(crate) provider: Provider,
    /// The engine's store (for opaque tokens minted by tests).
    pub(crate) store: Arc<dyn ProviderStore>,
    /// The users the dev login page offers.
    pub(crate) directory: Arc<Mutex<Directory>>,
    /// The clients configured at start, in order (the first one is the SDK helpers').
    pub(crate) clients: Mutex<Vec<TestClient>>,
    pub(crate) settings: Mutex<Settings>,
    pub(crate) counters: Counters,
    /// Turns `true` when the server is shutting down; ends delays and stalls early.
    pub(crate) shutdown: watch::Receiver<bool>,
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
    pub(crate) fn settings(&self) -> MutexGuard<'_, Settings> {
        lock(&self.settings)
    }

    /// The JWKS as served: published keys in order, then the extra raw keys.
    pub(crate) fn jwks(&self) -> Value {
        let mut jwks = self.provider.jwks();
        if let Some(keys) = jwks["keys"].as_array_mut() {
            keys.extend(self.settings().jwks_extra_keys.iter().cloned());
        }
        jwks
    }

    /// The discovery document as served (with the test's `issuer` override).
    fn discovery_document(&self) -> Value {
        let mut document = self.provider.discovery_document();
        if let Some(issuer) = self.settings().issuer_override.clone() {
            document["issuer"] = issuer.into();
        }
        document
    }
}

/// Sleeps for `duration`, or less if the server shuts down first.
pub(crate) async fn pause(duration: Duration, mut shutdown: watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        _ = shutdown.wait_for(|&down| down) => {}
    }
}

/// The issuer's routes, with every request counted: the engine's, wrapped in the test
/// knobs, and `/dev/mint` when enabled.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let path = &shared.path;
    let mut router = Router::new();
    if shared.dev_endpoints {
        router = router.route(&format!("{path}/dev/mint"), post(dev_mint));
    }
    router
        .fallback(engine)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), count))
        .with_state(shared)
}

async fn count(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    tracing::trace!(method = %request.method(), path = request.uri().path(), "auth-issuer request");
    shared.counters.record(request.uri().path());
    next.run(request).await
}

fn error_response(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// What the knobs apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Knobs {
    OidcDiscovery,
    OauthMetadata,
    Jwks,
    Token,
    None,
}

fn knobs_for(shared: &Shared, path: &str) -> Knobs {
    let own = |name: &str| path == format!("{}{name}", shared.path);
    if own("/.well-known/openid-configuration") {
        Knobs::OidcDiscovery
    } else if path == format!("/.well-known/oauth-authorization-server{}", shared.path) {
        Knobs::OauthMetadata
    } else if own("/jwks") {
        Knobs::Jwks
    } else if own("/token") {
        Knobs::Token
    } else {
        Knobs::None
    }
}

/// Every request the routes above do not take: to the engine, through the test knobs.
async fn engine(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let knobs = knobs_for(&shared, request.uri().path());
    let is_get = request.method() == axum::http::Method::GET;
    let request = match ProviderRequest::from_axum(request).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    match knobs {
        Knobs::OidcDiscovery | Knobs::OauthMetadata if is_get => {
            shared.counters.discovery.fetch_add(1, Ordering::Relaxed);
            if knobs == Knobs::OidcDiscovery && !shared.settings().oidc_discovery_enabled {
                return error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint");
            }
            let fault = shared.settings().discovery_fault.clone();
            let body = shared.discovery_document().to_string().into_bytes();
            with_cors(&request, answer(&shared, fault, body).await)
        }
        Knobs::Jwks if is_get => {
            shared.counters.jwks.fetch_add(1, Ordering::Relaxed);
            let (fault, cache_control) = {
                let settings = shared.settings();
                (
                    settings.jwks_fault.clone(),
                    settings.jwks_cache_control.clone(),
                )
            };
            let body = shared.jwks().to_string().into_bytes();
            let mut response = answer(&shared, fault, body).await;
            if let Some(value) = cache_control {
                match HeaderValue::from_str(&value) {
                    Ok(value) => {
                        response.headers_mut().insert(header::CACHE_CONTROL, value);
                    }
                    Err(_) => {
                        tracing::warn!(value, "auth-issuer: invalid Cache-Control value ignored");
                    }
                }
            }
            with_cors(&request, response)
        }
        Knobs::Token => token(&shared, request).await,
        _ => shared.provider.handle(request).await.into_response(),
    }
}

/// CORS as the engine answers it, for the documents served here.
fn with_cors(request: &ProviderRequest, mut response: Response) -> Response {
    if request.header_value("origin").is_some() {
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate"),
        );
    }
    response
}

/// `POST {path}/token`, with the fault set by `TestIssuer::set_token_fault`.
///
/// `Status`, `Html`, `InvalidJson` and `Drop` answer without processing the request (no
/// code or refresh token is used up). `Delay` waits, then processes it: a client that gave
/// up meanwhile has lost its answer, as with a real slow server. `Oversized` and `SlowBody`
/// process the request and pad or stall the real answer.
async fn token(shared: &Arc<Shared>, request: ProviderRequest) -> Response {
    let fault = shared.settings().token_fault.clone();
    match fault {
        None => shared.provider.handle(request).await.into_response(),
        Some(Fault::Delay(duration)) => {
            pause(duration, shared.shutdown.clone()).await;
            shared.provider.handle(request).await.into_response()
        }
        Some(fault @ (Fault::Oversized(_) | Fault::SlowBody(_))) => {
            let (status, headers, body) = shared.provider.handle(request).await.into_parts();
            let mut response = answer(shared, Some(fault), body).await;
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            for (name, value) in headers {
                if name != "content-type"
                    && let Ok(value) = HeaderValue::from_str(&value)
                {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Some(fault @ (Fault::Status(_) | Fault::Html | Fault::InvalidJson | Fault::Drop)) => {
            answer(shared, Some(fault), Vec::new()).await
        }
    }
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
        if shared.provider.key(kid).is_none() {
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
