//! [`require`]: a layer that refuses requests whose claims fail a [`Guard`].

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::Guard;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::{AuthContext, BoxFuture, token_missing};
use crate::rejection::missing_layer;
use crate::view::HttpView;

/// A layer admitting only requests whose claims pass `guard`: 401 without a valid credential,
/// 403 `permission_denied` when the rule fails (with `error="insufficient_scope"` and the
/// scopes in `WWW-Authenticate` for a scope rule).
///
/// Use it as a `route_layer` (so that unmatched paths still answer 404), under an
/// [`AuthLayer`](crate::AuthLayer):
///
/// ```
/// use auth_axum::{Auth, AuthLayer};
/// use auth_core::{Authenticator, Guard};
/// use axum::{Router, routing::{get, post}};
///
/// fn app(authenticator: Authenticator) -> Router {
///     let admin = Router::new()
///         .route("/api/admin", get(async |Auth(claims): Auth| format!("{:?}", claims.sub)))
///         .route_layer(auth_axum::require(Guard::any_role(["admin"])));
///     let writers = Router::new()
///         .route("/api/articles", post(async || "created"))
///         .route_layer(auth_axum::require(Guard::all_scopes(["articles:write"])));
///     Router::new()
///         .merge(admin)
///         .merge(writers)
///         .layer(AuthLayer::new(authenticator))
/// }
/// # let _ = app;
/// ```
///
/// Inside a handler, [`Guard::check`] with `?` does the same for one route, since
/// [`AuthRejection`](crate::AuthRejection) converts from [`AuthError`](auth_core::AuthError).
pub fn require(guard: Guard) -> GuardLayer {
    GuardLayer {
        guard: Arc::new(guard),
    }
}

/// The layer returned by [`require`].
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

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = Arc::clone(&self.guard);
        let found = AuthContext::find_or_own(req.extensions_mut());
        Box::pin(async move {
            let Some((ctx, owned)) = found else {
                return Ok(missing_layer().into_response());
            };
            // Without an `AuthLayer` this service created the context: it appends the cookies.
            let finish = |response: Response| {
                if owned {
                    ctx.apply_cookies(response)
                } else {
                    response
                }
            };
            let view = HttpView::new(req.method(), req.uri(), req.headers());
            let rejection = match ctx.outcome(&view).await {
                Ok(Some(auth)) => guard.check(&auth.claims).err().map(|e| ctx.reject_new(e)),
                Ok(None) => Some(ctx.reject_new(token_missing())),
                Err(error) => Some(ctx.reject(error)),
            };
            if let Some(rejection) = rejection {
                return Ok(finish(rejection.into_response()));
            }
            let response = inner.call(req).await?;
            Ok(finish(response))
        })
    }
}
