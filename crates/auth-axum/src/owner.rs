//! [`owner_guard`]: a layer that lets only a resource's owner through, and the [`Owned`]
//! extractor that hands its decision to the handler.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::adapter::RequestAuth;
use auth_core::owner::{Access, AccessMode, Ownership};
use auth_core::{AuthError, ErrorCode};
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::BoxFuture;
use crate::rejection::{AuthRejection, missing_layer};
use crate::view::HttpView;

/// A layer admitting a request to the resource its path parameter `param` names only when
/// `ownership` allows it, in the mode of the request's method
/// ([`AccessMode::for_method`]: `GET` reads, `PUT`/`POST` claim a free resource or rewrite the
/// caller's own, `PATCH`/`DELETE` write): 401 without a credential, 403 `permission_denied`
/// when the resource belongs to someone else. The handler gets the decision with [`Owned`]
/// (`created()` for a 201, `is_unowned()` for a 404). It needs an
/// [`AuthLayer`](crate::AuthLayer) above it; use it as a `route_layer`.
///
/// ```
/// use std::sync::Arc;
/// use auth_axum::auth_core::owner::{MemoryOwnerStore, Ownership};
/// use auth_axum::auth_core::Authenticator;
/// use auth_axum::{AuthLayer, Owned};
/// use axum::http::StatusCode;
/// use axum::{Router, routing::get};
///
/// async fn put_note(Owned(access): Owned, body: String) -> StatusCode {
///     // ... store `body` as note `access.id` ...
///     if access.created() { StatusCode::CREATED } else { StatusCode::OK }
/// }
///
/// fn app(authenticator: Authenticator) -> Result<Router, auth_axum::auth_core::ConfigError> {
///     let notes = Ownership::builder(Arc::new(MemoryOwnerStore::new()), "notes").build()?;
///     Ok(Router::new()
///         .route(
///             "/api/notes/{id}",
///             get(async |Owned(access): Owned| format!("{:?}", access.owner))
///                 .put(put_note)
///                 .route_layer(auth_axum::owner_guard(notes, "id")),
///         )
///         .layer(AuthLayer::new(authenticator)))
/// }
/// # let _ = app;
/// ```
pub fn owner_guard(ownership: Ownership, param: &str) -> OwnerGuardLayer {
    OwnerGuardLayer {
        config: Arc::new(Config {
            ownership,
            param: param.to_owned(),
            mode: None,
        }),
    }
}

struct Config {
    ownership: Ownership,
    param: String,
    mode: Option<AccessMode>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerGuard")
            .field("ownership", &self.ownership)
            .field("param", &self.param)
            .field("mode", &self.mode)
            .finish()
    }
}

/// The layer returned by [`owner_guard`].
#[derive(Clone, Debug)]
#[must_use]
pub struct OwnerGuardLayer {
    config: Arc<Config>,
}

impl OwnerGuardLayer {
    /// Uses `mode` whatever the method (for a `POST` that only changes an existing resource,
    /// [`AccessMode::Write`]).
    pub fn mode(self, mode: AccessMode) -> Self {
        OwnerGuardLayer {
            config: Arc::new(Config {
                ownership: self.config.ownership.clone(),
                param: self.config.param.clone(),
                mode: Some(mode),
            }),
        }
    }
}

impl<S> Layer<S> for OwnerGuardLayer {
    type Service = OwnerGuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OwnerGuardService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of an [`OwnerGuardLayer`].
#[derive(Clone, Debug)]
pub struct OwnerGuardService<S> {
    inner: S,
    config: Arc<Config>,
}

fn no_such_param(param: &str) -> AuthRejection {
    tracing::error!(
        param,
        "auth-axum: owner_guard's path parameter is not in this route"
    );
    AuthRejection::from(AuthError::new(
        ErrorCode::ConfigInvalid,
        "owner_guard names a path parameter this route does not have",
    ))
}

impl<S, B> Service<Request<B>> for OwnerGuardService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let Some(auth) = parts.extensions.get::<RequestAuth>().cloned() else {
                return Ok(missing_layer().into_response());
            };
            let id = match RawPathParams::from_request_parts(&mut parts, &()).await {
                Ok(params) => params
                    .iter()
                    .find(|(name, _)| *name == config.param)
                    .map(|(_, value)| value.to_owned()),
                Err(_) => None,
            };
            let Some(id) = id else {
                return Ok(no_such_param(&config.param).into_response());
            };
            let view = HttpView::new(&parts.method, &parts.uri, &parts.headers);
            match auth.owned(&view, &config.ownership, &id, config.mode).await {
                Ok(access) => {
                    parts.extensions.insert(access);
                    inner.call(Request::from_parts(parts, body)).await
                }
                // The `AuthLayer` above renders it with the authenticator's settings.
                Err(error) => Ok(AuthRejection::from(error).into_response()),
            }
        })
    }
}

/// The decision of the route's [`owner_guard`]: which resource, its owner, and why the caller
/// was let through. Without an `owner_guard` on the route it answers 500 naming the fix.
#[derive(Debug, Clone)]
pub struct Owned(pub Access);

impl<S: Send + Sync> FromRequestParts<S> for Owned {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Access>().cloned().map(Owned).ok_or_else(|| {
            tracing::error!("auth-axum: `Owned` on a route without an owner_guard");
            AuthRejection::from(AuthError::new(
                ErrorCode::ConfigInvalid,
                "no owner_guard on this route: add `.route_layer(auth_axum::owner_guard(ownership, \"id\"))`",
            ))
        })
    }
}
