//! [`AuthLayer`]: one [`RequestAuth`] per request, rejections rendered with the
//! authenticator's settings, the outcome's headers on the response.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use auth_core::Authenticator;
use auth_core::adapter::{RequestAuth, Unauthenticated};
use tower_layer::Layer;
use tower_service::Service;
use warp::http::Request;
use warp::reply::Response;

use crate::rejection::Rejected;
use crate::response::into_response;
use crate::view::{BorrowedView, WarpHeaders};

/// A tower [`Layer`] around `warp::service(routes)` that gives every request one
/// [`RequestAuth`], the state that [`auth`](crate::auth), [`optional_auth`](crate::optional_auth)
/// and [`guard`](crate::guard) share: the request is authenticated at most once, when the first
/// of them asks (so public routes cost nothing).
///
/// On the way out it
/// - renders every [`AuthRejection`](crate::AuthRejection) (from [`recover`](crate::recover))
///   with the authenticator's settings (realm, [error
///   handler](auth_core::AuthenticatorBuilder::error_handler), the login redirect of
///   [`redirect_to_login`](Self::redirect_to_login));
/// - adds the `Set-Cookie` headers of a transparent session refresh, or of the clearing of a
///   session that cannot continue (a cookie the handler set itself wins);
/// - adds `Vary: Cookie, Authorization`, and `Cache-Control: private, no-store` to
///   authenticated responses that set no `Cache-Control` of their own.
///
/// warp's filters cannot hand state to the response on their own, which is why this is a layer
/// around the filter's service. [`serve`](crate::serve) runs it; any tower-based server can too.
#[derive(Clone)]
#[must_use]
pub struct AuthLayer {
    authenticator: Authenticator,
    required: bool,
    unauthenticated: Unauthenticated,
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("authenticator", &self.authenticator)
            .field("required", &self.required)
            .field("unauthenticated", &self.unauthenticated)
            .finish()
    }
}

impl AuthLayer {
    /// Authenticates requests that carry a credential, when a filter asks.
    pub fn new(authenticator: Authenticator) -> Self {
        AuthLayer {
            authenticator,
            required: false,
            unauthenticated: Unauthenticated::Reject,
        }
    }

    /// Requires a valid credential on every request, before any filter runs: without one the
    /// answer is 401 (`token_missing`, a challenge without `error`), with a bad one the error's
    /// status. The authenticator's own helper routes stay open.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// For pages: a browser navigating to a page (`GET`/`HEAD` asking for HTML) without a usable
    /// session is redirected (303) to `{prefix}/login?return_to=<the page>` instead of getting
    /// the 401; `fetch` calls and API clients still get the 401. See
    /// [`Unauthenticated::RedirectToLogin`].
    pub fn redirect_to_login(mut self) -> Self {
        self.unauthenticated = Unauthenticated::RedirectToLogin;
        self
    }

    /// The authenticator.
    #[must_use]
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of an [`AuthLayer`].
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

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let auth = RequestAuth::new(&self.layer.authenticator, self.layer.unauthenticated);
        req.extensions_mut().insert(auth.clone());
        let required = self.layer.required;
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let refused = if required {
                let view = BorrowedView {
                    method: req.method(),
                    uri: req.uri(),
                    headers: req.headers(),
                };
                auth.require(&view, None).await.err()
            } else {
                None
            };
            let mut response = match refused {
                Some(error) => into_response(auth.render(&error)),
                None => {
                    let mut response = inner.call(req).await?;
                    if let Some(Rejected(error)) = response.extensions_mut().remove::<Rejected>() {
                        response = into_response(auth.render(&error));
                    }
                    response
                }
            };
            auth.finish(&mut WarpHeaders(response.headers_mut()));
            Ok(response)
        })
    }
}
