//! [`AuthLayer`]: one [`RequestAuth`] per request, rejections rendered with the
//! authenticator's settings, the outcome's headers on the response.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use auth_core::Authenticator;
use auth_core::adapter::{RequestAuth, Unauthenticated};
use axum::extract::Request;
use axum::response::Response;
use tower_layer::Layer;
use tower_service::Service;

use crate::rejection::Rejected;
use crate::response::into_response;
use crate::view::{HttpHeaders, HttpView};

/// The boxed future of the services in this crate.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A [`Layer`] that gives every request under it one [`RequestAuth`], the state that
/// [`Auth`](crate::Auth) and [`guard`](crate::guard) share: the request is authenticated at
/// most once, when the first of them asks (so public routes under the layer cost nothing).
///
/// On the way out the layer
/// - renders every [`AuthRejection`](crate::AuthRejection) of the request with the
///   authenticator's settings (realm, [error
///   handler](auth_core::AuthenticatorBuilder::error_handler), the login redirect of
///   [`redirect_to_login`](Self::redirect_to_login));
/// - adds the `Set-Cookie` headers of a transparent session refresh, or of the clearing of a
///   session that cannot continue (a cookie the handler set itself wins);
/// - adds `Vary: Cookie, Authorization`, and `Cache-Control: private, no-store` to
///   authenticated responses that set no `Cache-Control` of their own.
///
/// Without the layer, extractors and guards answer 500 with a message naming the fix.
///
/// ```
/// use auth_axum::auth_core::Authenticator;
/// use auth_axum::{Auth, AuthLayer};
/// use axum::{Router, routing::get};
///
/// fn app(authenticator: Authenticator) -> Router {
///     let api = Router::new()
///         .route("/api/me", get(async |Auth(claims): Auth| format!("{:?}", claims.sub)))
///         // Every route of `api` requires a valid credential.
///         .route_layer(AuthLayer::new(authenticator.clone()).required());
///     let pages = Router::new()
///         .route("/account", get(async |Auth(claims): Auth| format!("{:?}", claims.sub)))
///         // A browser without a session is sent to the login page, and back here after it.
///         .layer(AuthLayer::new(authenticator.clone()).redirect_to_login());
///     Router::new()
///         .route("/", get(async || "public"))
///         .merge(auth_axum::helper_routes(&authenticator))
///         .merge(api)
///         .merge(pages)
///         .layer(AuthLayer::new(authenticator))
/// }
/// # let _ = app;
/// ```
///
/// An `AuthLayer` inside another (as above) serves the requests that reach it on its own: the
/// outer one then stays out of the way.
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
    /// Authenticates requests that carry a credential, when an extractor or guard asks.
    pub fn new(authenticator: Authenticator) -> Self {
        AuthLayer {
            authenticator,
            required: false,
            unauthenticated: Unauthenticated::Reject,
        }
    }

    /// Requires a valid credential on every request under the layer, before the handler runs:
    /// without one the answer is 401 (`token_missing`, a challenge without `error`), with a bad one
    /// the error's status. The authenticator's own helper routes (`/auth/login`, ...) stay
    /// open, so the layer may wrap them too. Under `Router::layer` unmatched paths answer 401
    /// as well; use `Router::route_layer` to keep their 404. Put CORS handling outside this
    /// layer: preflight requests carry no credential.
    ///
    /// For a rule on the claims (roles, scopes), see [`guard`](crate::guard).
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// For pages: a browser navigating to a page under the layer (`GET`/`HEAD` asking for
    /// HTML) without a usable session is redirected (303) to
    /// `{prefix}/login?return_to=<the page>` instead of getting the 401; `fetch` calls and API
    /// clients still get the 401. Needs sessions on the authenticator; without them it does
    /// nothing. See [`Unauthenticated::RedirectToLogin`].
    pub fn redirect_to_login(mut self) -> Self {
        self.unauthenticated = Unauthenticated::RedirectToLogin;
        self
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

impl<S: fmt::Debug> fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
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
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let auth = RequestAuth::new(&self.layer.authenticator, self.layer.unauthenticated);
        req.extensions_mut().insert(auth.clone());
        // The clone that was not polled ready goes back; the ready one serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if !self.layer.required {
            // Authentication happens in the handler's extractors, if any: the inner service is
            // called now and its future wrapped as it is, with no allocation and no copy of
            // the request into a box.
            return ResponseFuture {
                kind: Kind::Inner {
                    future: inner.call(req),
                    auth,
                },
            };
        }
        ResponseFuture {
            kind: Kind::Required {
                future: Box::pin(async move {
                    let view = HttpView::new(req.method(), req.uri(), req.headers());
                    let response = match auth.require(&view, None).await {
                        Err(error) => into_response(auth.render(&error)),
                        Ok(()) => inner.call(req).await?,
                    };
                    Ok(finish(&auth, response))
                }),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`AuthService`]: the inner service's future, then the request's
    /// authentication outcome on the response (its headers, a rejection rendered with the
    /// authenticator's settings).
    pub struct ResponseFuture<F: Future> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F: Future> {
        // Authentication in the handler's extractors, if any.
        Inner {
            #[pin]
            future: F,
            auth: RequestAuth,
        },
        // `AuthLayer::required`: the credential is checked before the inner service is called.
        Required {
            future: BoxFuture<F::Output>,
        },
    }
}

impl<F: Future> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, auth } => {
                future.poll(cx).map_ok(|response| finish(auth, response))
            }
            KindProj::Required { future } => future.as_mut().poll(cx),
        }
    }
}

/// A rejection of the request rendered with the authenticator's settings, and the outcome's
/// headers on the response.
fn finish(auth: &RequestAuth, mut response: Response) -> Response {
    if let Some(Rejected(error)) = response.extensions_mut().remove::<Rejected>() {
        response = into_response(auth.render(&error));
    }
    auth.finish(&mut HttpHeaders(response.headers_mut()));
    response
}
