//! [`AuthLayer`]: authentication at most once per request, refreshed cookies on the response.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::{AuthError, Authenticated, Authenticator, ErrorCode, NoExtraClaims};
use axum::extract::Request;
use axum::http::header::SET_COOKIE;
use axum::http::{Extensions, HeaderValue};
use axum::response::{IntoResponse, Response};
use tokio::sync::OnceCell;
use tower_layer::Layer;
use tower_service::Service;

use crate::rejection::{AuthRejection, ErrorHandler, Render, copy_error};
use crate::view::HttpView;

/// The boxed future of the services in this crate.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The result of authenticating a request (claims are re-typed per extractor).
pub(crate) type Outcome = Result<Option<Authenticated<NoExtraClaims>>, AuthError>;

/// What a layer leaves in the request extensions: the authenticator and the request's
/// authentication result, computed on first use and shared by every extractor and guard.
#[derive(Clone)]
pub(crate) struct AuthContext {
    authenticator: Authenticator,
    render: Render,
    outcome: Arc<OnceCell<Outcome>>,
    /// Whether a layer appends the outcome's `Set-Cookie` headers to the response (then
    /// rejections leave them out, so that they are not sent twice).
    sets_cookies: bool,
}

impl AuthContext {
    fn new(authenticator: Authenticator, render: Render, sets_cookies: bool) -> Self {
        AuthContext {
            authenticator,
            render,
            outcome: Arc::new(OnceCell::new()),
            sets_cookies,
        }
    }

    /// The context a layer left in the extensions; else one over a bare `Authenticator`
    /// extension (inserted, so that later extractors share its result); else `None`.
    pub(crate) fn find(extensions: &mut Extensions) -> Option<AuthContext> {
        if let Some(ctx) = extensions.get::<AuthContext>() {
            return Some(ctx.clone());
        }
        let authenticator = extensions.get::<Authenticator>()?.clone();
        let ctx = AuthContext::new(authenticator.clone(), Render::With(authenticator), false);
        extensions.insert(ctx.clone());
        Some(ctx)
    }

    /// Like [`find`](Self::find), for a service that appends the cookies itself when it had to
    /// create the context. The flag says whether it did.
    pub(crate) fn find_or_own(extensions: &mut Extensions) -> Option<(AuthContext, bool)> {
        if let Some(ctx) = extensions.get::<AuthContext>() {
            return Some((ctx.clone(), false));
        }
        let authenticator = extensions.get::<Authenticator>()?.clone();
        let ctx = AuthContext::new(authenticator.clone(), Render::With(authenticator), true);
        extensions.insert(ctx.clone());
        Some((ctx, true))
    }

    /// Authenticates the request, once: later calls return the first result.
    pub(crate) async fn outcome(&self, view: &HttpView<'_>) -> &Outcome {
        self.outcome
            .get_or_init(|| {
                self.authenticator
                    .authenticate_optional::<NoExtraClaims>(view)
            })
            .await
    }

    /// A rejection for an error of the shared outcome.
    pub(crate) fn reject(&self, error: &AuthError) -> AuthRejection {
        if let Some(source) = std::error::Error::source(error) {
            tracing::debug!(code = error.code().as_str(), %source, "authentication failed");
        }
        AuthRejection::new(copy_error(error, !self.sets_cookies), self.render.clone())
    }

    /// A rejection for an error found after authentication (a missing credential, a guard).
    pub(crate) fn reject_new(&self, error: AuthError) -> AuthRejection {
        AuthRejection::new(error, self.render.clone())
    }

    /// Appends the outcome's `Set-Cookie` headers (a refreshed session, or the clearing of a
    /// dead one) unless the response already sets a cookie of the same name, and the caching
    /// headers of a credential-dependent response (see
    /// [`credential_dependent_headers`](auth_core::web::credential_dependent_headers)).
    pub(crate) fn apply_cookies(&self, mut response: Response) -> Response {
        let Some(outcome) = self.outcome.get() else {
            return response; // authentication was never consulted: nothing depended on it
        };
        let authenticated = matches!(outcome, Ok(Some(_)));
        for (name, value) in auth_core::web::credential_dependent_headers(authenticated) {
            let headers = response.headers_mut();
            if *name == "cache-control" && headers.contains_key(axum::http::header::CACHE_CONTROL) {
                continue;
            }
            headers.append(*name, HeaderValue::from_static(value));
        }
        let cookies: &[String] = match outcome {
            Ok(Some(auth)) => &auth.set_cookies,
            Err(error) => error.set_cookies(),
            Ok(None) => return response,
        };
        if cookies.is_empty() {
            return response;
        }
        let present: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| cookie_name(v).to_owned())
            .collect();
        for cookie in cookies {
            if present.iter().any(|name| name == cookie_name(cookie)) {
                continue;
            }
            match HeaderValue::from_str(cookie) {
                Ok(value) => {
                    response.headers_mut().append(SET_COOKIE, value);
                }
                Err(_) => tracing::warn!("dropped an invalid Set-Cookie value"),
            }
        }
        response
    }
}

fn cookie_name(set_cookie: &str) -> &str {
    set_cookie
        .split_once('=')
        .map_or(set_cookie, |(name, _)| name)
        .trim()
}

/// A [`Layer`] that makes an [`Authenticator`] available to [`Auth`](crate::Auth) and
/// [`require`](crate::require), authenticates each request at most once, and appends the
/// `Set-Cookie` headers of a transparent session refresh to the response.
///
/// Authentication is lazy by default: it runs when the first extractor or guard asks for it,
/// so public routes under the layer cost nothing. With [`require`](Self::require) it runs
/// before the handler, and requests without a valid credential are answered 401.
///
/// The layer is what makes cookie sessions work: when the access token in the session cookie
/// has expired, the core refreshes it and the new cookies must reach the browser. An
/// extractor alone cannot add headers to the response.
///
/// ```
/// use auth_axum::{Auth, AuthLayer};
/// use auth_core::Authenticator;
/// use axum::{Router, routing::get};
///
/// fn app(authenticator: Authenticator) -> Router {
///     let api = Router::new()
///         .route("/api/me", get(async |Auth(claims): Auth| format!("{:?}", claims.sub)))
///         // Every route of `api` requires a valid credential.
///         .layer(AuthLayer::new(authenticator.clone()).require());
///     Router::new()
///         .route("/", get(async || "public"))
///         .merge(auth_axum::helper_routes(&authenticator))
///         .merge(api)
///         .layer(AuthLayer::new(authenticator))
/// }
/// # let _ = app;
/// ```
#[derive(Clone)]
#[must_use]
pub struct AuthLayer {
    authenticator: Authenticator,
    require: bool,
    handler: Option<ErrorHandler>,
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("authenticator", &self.authenticator)
            .field("require", &self.require)
            .field("error_handler", &self.handler.is_some())
            .finish()
    }
}

impl AuthLayer {
    /// Authenticates requests that carry a credential, when an extractor or guard asks.
    pub fn new(authenticator: Authenticator) -> Self {
        AuthLayer {
            authenticator,
            require: false,
            handler: None,
        }
    }

    /// Requires a valid credential on every request under the layer: without one the answer is
    /// 401 (`token_missing`, bare `Bearer` challenge), with a bad one the error's status. The
    /// authenticator's own helper routes (`/auth/login`, ...) stay open, so the layer may wrap
    /// them too. Under `Router::layer` unmatched paths answer 401 as well; use
    /// `Router::route_layer` to keep their 404. Put CORS handling outside this layer:
    /// preflight requests carry no credential.
    pub fn require(mut self) -> Self {
        self.require = true;
        self
    }

    /// Renders every rejection under this layer (extractors, [`require`](Self::require),
    /// [`require`](crate::require) guards) with `handler` instead of the core's JSON error
    /// response. Refreshed or cleared session cookies are still appended by the layer.
    ///
    /// ```
    /// use auth_axum::AuthLayer;
    /// use auth_core::{AuthError, Authenticator};
    /// use axum::http::StatusCode;
    /// use axum::response::{IntoResponse, Response};
    ///
    /// fn layer(authenticator: Authenticator) -> AuthLayer {
    ///     AuthLayer::new(authenticator).with_error_handler(|err: AuthError| -> Response {
    ///         let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    ///         (status, format!("denied: {}", err.code())).into_response()
    ///     })
    /// }
    /// # let _ = layer;
    /// ```
    pub fn with_error_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(AuthError) -> Response + Send + Sync + 'static,
    {
        self.handler = Some(Arc::new(handler));
        self
    }

    fn render(&self) -> Render {
        match &self.handler {
            Some(handler) => Render::Custom(Arc::clone(handler)),
            None => Render::With(self.authenticator.clone()),
        }
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
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let ctx = AuthContext::new(self.layer.authenticator.clone(), self.layer.render(), true);
        req.extensions_mut().insert(ctx.clone());
        let require =
            self.layer.require && !self.layer.authenticator.is_helper_route(req.uri().path());
        // The clone that was not polled ready goes back; the ready one serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if require {
                let view = HttpView::new(req.method(), req.uri(), req.headers());
                let rejection = match ctx.outcome(&view).await {
                    Ok(Some(_)) => None,
                    Ok(None) => Some(ctx.reject_new(token_missing())),
                    Err(error) => Some(ctx.reject(error)),
                };
                if let Some(rejection) = rejection {
                    return Ok(ctx.apply_cookies(rejection.into_response()));
                }
            }
            let response = inner.call(req).await?;
            Ok(ctx.apply_cookies(response))
        })
    }
}

/// The error for a request without a credential.
pub(crate) fn token_missing() -> AuthError {
    AuthError::new(ErrorCode::TokenMissing, "no credential was presented")
}
