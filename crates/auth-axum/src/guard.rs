//! [`guard`]: a layer that refuses requests whose claims fail a [`Guard`].

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::Guard;
use auth_core::adapter::RequestAuth;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::BoxFuture;
use crate::rejection::{AuthRejection, missing_layer};
use crate::view::HttpView;

/// A layer admitting only requests whose claims pass `guard`: 401 without a valid credential,
/// 403 `permission_denied` when the rule fails (with `error="insufficient_scope"` and the
/// scopes in `WWW-Authenticate` for a scope rule). It needs an
/// [`AuthLayer`](crate::AuthLayer) above it (else it answers 500 naming the fix).
///
/// Use it as a `route_layer`, so that unmatched paths still answer 404. On a
/// [`MethodRouter`](axum::routing::MethodRouter) it guards the methods it was added to, so one
/// route can be open for reading and guarded for writing:
///
/// ```
/// use auth_axum::auth_core::{Authenticator, Guard};
/// use auth_axum::{Auth, AuthLayer};
/// use axum::{Router, routing::{get, post}};
///
/// fn app(authenticator: Authenticator) -> Router {
///     let admin = Router::new()
///         .route("/api/admin", get(async |Auth(claims): Auth| format!("{:?}", claims.sub)))
///         .route_layer(auth_axum::guard(Guard::any_role(["admin"])));
///     Router::new()
///         .merge(admin)
///         .route(
///             "/api/articles",
///             // Anyone may read; writing needs the `articles:write` scope.
///             get(async || "articles").merge(
///                 post(async || "created")
///                     .route_layer(auth_axum::guard(Guard::all_scopes(["articles:write"]))),
///             ),
///         )
///         .layer(AuthLayer::new(authenticator))
/// }
/// # let _ = app;
/// ```
///
/// Inside a handler, [`Guard::check`] with `?` does the same for one route and gets the same
/// response, since [`AuthRejection`] converts from [`AuthError`](auth_core::AuthError).
pub fn guard(guard: Guard) -> GuardLayer {
    GuardLayer {
        guard: Arc::new(guard),
    }
}

/// The layer returned by [`guard`].
#[derive(Clone)]
#[must_use]
pub struct GuardLayer {
    guard: Arc<Guard>,
}

impl fmt::Debug for GuardLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardLayer")
            .field("guard", &self.guard)
            .finish()
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: Arc::clone(&self.guard),
        }
    }
}

/// The service of a [`GuardLayer`].
#[derive(Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Arc<Guard>,
}

impl<S: fmt::Debug> fmt::Debug for GuardService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardService")
            .field("inner", &self.inner)
            .field("guard", &self.guard)
            .finish()
    }
}

impl<S, B> Service<Request<B>> for GuardService<S>
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
        let guard = Arc::clone(&self.guard);
        let auth = req.extensions().get::<RequestAuth>().cloned();
        Box::pin(async move {
            let Some(auth) = auth else {
                return Ok(missing_layer().into_response());
            };
            let view = HttpView::new(req.method(), req.uri(), req.headers());
            if let Err(error) = auth.require(&view, Some(&guard)).await {
                // The `AuthLayer` above renders it with the authenticator's settings.
                return Ok(AuthRejection::from(error).into_response());
            }
            inner.call(req).await
        })
    }
}
