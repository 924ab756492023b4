//! `auth-tonic`: the auth SDK for [tonic](https://docs.rs/tonic) gRPC servers.
//!
//! [`AuthLayer`] is a tower layer for `tonic::transport::Server`: it reads the caller's
//! credential from the request metadata (`authorization: Bearer <jwt>`, or an API key in
//! `x-api-key` / `authorization: Bearer` when the authenticator accepts API keys), verifies it
//! with the same [`Authenticator`] the HTTP adapters use (issuers, keys, claims mapping, hooks,
//! guards), and puts the caller into the request extensions. A refused call never reaches the
//! service: it is answered with a gRPC status, the SDK's error code in the `auth-error-code`
//! metadata.
//!
//! ```no_run
//! use auth_tonic::auth_core::{Authenticator, Guard, Verifier};
//! use auth_tonic::AuthLayer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let authenticator = Authenticator::builder(Verifier::from_env()?).build()?;
//! let (_, health) = tonic_health::server::health_reporter();
//! tonic::transport::Server::builder()
//!     .layer(AuthLayer::new(&authenticator))            // every call needs a valid token
//!     .add_service(health)
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! In a handler, the caller is [`caller`] (or `request.extensions().get::<AuthData>()`), with
//! the application's claims type through [`claims`], and a per-method rule is [`require`]:
//!
//! ```
//! use auth_tonic::auth_core::Guard;
//!
//! fn delete_order(request: &tonic::Request<()>) -> Result<(), tonic::Status> {
//!     auth_tonic::require(request, &Guard::any_role(["admin"]))?;  // PermissionDenied otherwise
//!     let caller = auth_tonic::caller(request)?;
//!     tracing::info!(sub = ?caller.subject, "order deleted");
//!     Ok(())
//! }
//! # let _ = delete_order;
//! ```
//!
//! | SDK error (HTTP status) | gRPC status |
//! |---|---|
//! | 401: `token_missing`, `token_invalid`, `token_expired`, ... | `UNAUTHENTICATED` |
//! | 403: `permission_denied`, `user_disabled`, ... | `PERMISSION_DENIED` |
//! | 503: the provider or its keys unreachable (`jwks_unavailable`, `discovery_failed`, ...) | `UNAVAILABLE` (and `retry-after`) |
//! | 429: `rate_limited` | `RESOURCE_EXHAUSTED` (and `retry-after`) |
//! | 400: `invalid_request` | `INVALID_ARGUMENT` |
//! | 500: `config_invalid`, ... | `INTERNAL` |
//!
//! Features: `metrics` (the SDK's metrics through the `metrics` facade; see `auth-core`).
//! MSRV: Rust 1.89.
//!
//! The status message is the error's client-safe message; no token or key is ever in it.
//! Browser sessions (cookies) and the helper routes are HTTP matters: use an HTTP adapter for
//! them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use auth_core;
use auth_core::adapter::{RequestAuth, RequestView, SimpleRequest, Unauthenticated};
use auth_core::{AuthData, AuthError, Authenticator, Claims, ExtraClaims, Guard, NoExtraClaims};
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// The metadata key that carries the SDK's error code of a refusal (`token_expired`, ...).
pub const ERROR_CODE_METADATA: &str = "auth-error-code";

/// The gRPC status for an SDK error (see the crate docs' table), with the error code in the
/// [`ERROR_CODE_METADATA`] metadata and `retry-after` when the error has one.
#[must_use]
pub fn status_of(error: &AuthError) -> Status {
    let code = match error.status() {
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        503 => Code::Unavailable,
        429 => Code::ResourceExhausted,
        400 => Code::InvalidArgument,
        _ => Code::Internal,
    };
    let mut status = Status::new(code, error.message());
    let metadata = status.metadata_mut();
    metadata.insert(
        ERROR_CODE_METADATA,
        MetadataValue::from_static(error.code().as_str()),
    );
    if let Some(seconds) = error.retry_after() {
        metadata.insert("retry-after", MetadataValue::from(seconds));
    }
    status
}

/// A layer that authenticates every call of the services it wraps; see the crate docs.
#[derive(Clone)]
#[must_use]
pub struct AuthLayer {
    authenticator: Authenticator,
    guard: Option<Guard>,
    optional: bool,
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("guard", &self.guard)
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

impl AuthLayer {
    /// Every call needs a valid credential (`UNAUTHENTICATED` without one).
    pub fn new(authenticator: &Authenticator) -> Self {
        AuthLayer {
            authenticator: authenticator.clone(),
            guard: None,
            optional: false,
        }
    }

    /// Every call needs a valid credential whose claims pass `guard` (`PERMISSION_DENIED`
    /// otherwise).
    pub fn require(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self.optional = false;
        self
    }

    /// Calls without a credential reach the service too (with no caller in the extensions);
    /// a bad credential is still refused. The handlers decide, with [`caller`] and
    /// [`require`].
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self.guard = None;
        self
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

/// The request's authentication, kept in its extensions for [`claims`] and [`require`].
#[derive(Clone)]
struct CallAuth {
    auth: RequestAuth,
}

/// An `http::Request`'s head as the core reads it (not the body, which need not be `Sync`).
struct HttpView<'a> {
    method: &'a http::Method,
    uri: &'a http::Uri,
    headers: &'a http::HeaderMap,
}

impl<'a> HttpView<'a> {
    fn of<B>(request: &'a http::Request<B>) -> Self {
        HttpView {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
        }
    }
}

impl RequestView for HttpView<'_> {
    fn method(&self) -> &str {
        self.method.as_str()
    }

    fn path(&self) -> &str {
        self.uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for value in self.headers.get_all(name) {
            f(value.as_bytes());
        }
    }
}

/// Any view works once the request was authenticated: the outcome is kept.
fn settled() -> SimpleRequest {
    SimpleRequest::new("POST", "/")
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for AuthService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone that was not polled ready stays here; the ready one serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let auth = RequestAuth::new(&layer.authenticator, Unauthenticated::Reject);
            let decided = {
                let view = HttpView::of(&request);
                if layer.optional {
                    auth.authenticated(&view).await.map(|_| ())
                } else {
                    auth.require(&view, layer.guard.as_ref()).await
                }
            };
            if let Err(error) = decided {
                tracing::debug!(
                    code = error.code().as_str(),
                    path = request.uri().path(),
                    "gRPC call refused"
                );
                return Ok(status_of(&error).into_http());
            }
            if let Ok(Some(caller)) = auth.auth_data::<NoExtraClaims>(&settled()).await {
                request.extensions_mut().insert(caller);
            }
            request.extensions_mut().insert(CallAuth { auth });
            inner.call(request).await
        })
    }
}

/// The caller of an authenticated call.
///
/// # Errors
/// `UNAUTHENTICATED` when the call has none (no credential under [`AuthLayer::optional`]);
/// `INTERNAL` when no [`AuthLayer`] wraps the service.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<&AuthData, Status> {
    if let Some(caller) = request.extensions().get::<AuthData>() {
        return Ok(caller);
    }
    Err(match request.extensions().get::<CallAuth>() {
        Some(_) => status_of(&AuthError::new(
            auth_core::ErrorCode::TokenMissing,
            "no credential was presented",
        )),
        None => missing_layer(),
    })
}

/// The caller's claims with the application's claims type `C` (read from the verified token
/// once per call of this function).
///
/// # Errors
/// As [`caller`]; `UNAUTHENTICATED` (`token_invalid`) when the claims do not fit `C`.
pub async fn claims<C, T>(request: &tonic::Request<T>) -> Result<Claims<C>, Status>
where
    C: ExtraClaims,
{
    let call = request
        .extensions()
        .get::<CallAuth>()
        .ok_or_else(missing_layer)?;
    call.auth
        .required_claims::<C>(&settled())
        .await
        .map_err(|e| status_of(&e))
}

/// Admits the call only when its caller's claims pass `guard`.
///
/// # Errors
/// `PERMISSION_DENIED` when they do not; as [`caller`] without a caller.
pub fn require<T>(request: &tonic::Request<T>, guard: &Guard) -> Result<(), Status> {
    let caller = caller(request)?;
    guard.check(&caller.claims).map_err(|e| status_of(&e))
}

fn missing_layer() -> Status {
    tracing::error!(
        "auth_tonic: no AuthLayer wraps this service: add `.layer(AuthLayer::new(&authenticator))` to the server"
    );
    Status::internal("authentication is not configured for this service")
}
