//! [`AuthMiddleware`]: one [`RequestAuth`] per request, rejections rendered with the
//! authenticator's settings, the outcome's headers on the response.

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use auth_core::Authenticator;
use auth_core::adapter::{RequestAuth, Unauthenticated};
use futures_util::future::LocalBoxFuture;

use crate::rejection::AuthRejection;
use crate::response::into_response;
use crate::view::{ActixHeaders, ActixView};

/// Middleware (a [`Transform`]) that gives every request under it one [`RequestAuth`], the
/// state that [`Auth`](crate::Auth), [`OptionalAuth`](crate::OptionalAuth) and
/// [`guard`](crate::guard) share: the request is authenticated at most once, when the first of
/// them asks (so public routes under it cost nothing).
///
/// On the way out it
/// - renders every [`AuthRejection`] of the request with the authenticator's settings (realm,
///   [error handler](auth_core::AuthenticatorBuilder::error_handler), the login redirect of
///   [`redirect_to_login`](Self::redirect_to_login));
/// - adds the `Set-Cookie` headers of a transparent session refresh, or of the clearing of a
///   session that cannot continue (a cookie the handler set itself wins);
/// - adds `Vary: Cookie, Authorization`, and `Cache-Control: private, no-store` to
///   authenticated responses that set no `Cache-Control` of their own.
///
/// The authenticator is shared by every worker (it is `Send + Sync`, one key cache for the
/// process): build it once, outside the `HttpServer::new` closure, and clone it in.
///
/// ```
/// use actix_web::{App, web};
/// use auth_actix::auth_core::Authenticator;
/// use auth_actix::{Auth, AuthMiddleware};
///
/// fn app(authenticator: Authenticator) -> App<
///     impl actix_web::dev::ServiceFactory<
///         actix_web::dev::ServiceRequest,
///         Config = (),
///         Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
///         Error = actix_web::Error,
///         InitError = (),
///     >,
/// > {
///     App::new()
///         .service(
///             web::scope("/api")
///                 // Every route of the scope requires a valid credential.
///                 .wrap(AuthMiddleware::new(authenticator.clone()).required())
///                 .route("/me", web::get().to(async |Auth(claims): Auth| format!("{:?}", claims.sub))),
///         )
///         .configure(auth_actix::helper_routes(&authenticator))
///         .wrap(AuthMiddleware::new(authenticator))
/// }
/// # let _ = app;
/// ```
#[derive(Clone)]
#[must_use]
pub struct AuthMiddleware {
    authenticator: Authenticator,
    required: bool,
    unauthenticated: Unauthenticated,
}

impl fmt::Debug for AuthMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthMiddleware")
            .field("authenticator", &self.authenticator)
            .field("required", &self.required)
            .field("unauthenticated", &self.unauthenticated)
            .finish()
    }
}

impl AuthMiddleware {
    /// Authenticates requests that carry a credential, when an extractor or guard asks.
    pub fn new(authenticator: Authenticator) -> Self {
        AuthMiddleware {
            authenticator,
            required: false,
            unauthenticated: Unauthenticated::Reject,
        }
    }

    /// Requires a valid credential on every request under the middleware, before the handler
    /// runs: without one the answer is 401 (`token_missing`, a challenge without `error`), with a
    /// bad one the error's status. The authenticator's own helper routes stay open. For a rule
    /// on the claims (roles, scopes), see [`guard`](crate::guard).
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// For pages: a browser navigating to a page under the middleware (`GET`/`HEAD` asking for
    /// HTML) without a usable session is redirected (303) to
    /// `{prefix}/login?return_to=<the page>` instead of getting the 401; `fetch` calls and API
    /// clients still get the 401. See [`Unauthenticated::RedirectToLogin`].
    pub fn redirect_to_login(mut self) -> Self {
        self.unauthenticated = Unauthenticated::RedirectToLogin;
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for AuthMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Transform = AuthMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthMiddlewareService {
            service: Rc::new(service),
            middleware: self.clone(),
        }))
    }
}

/// The service of an [`AuthMiddleware`].
pub struct AuthMiddlewareService<S> {
    service: Rc<S>,
    middleware: AuthMiddleware,
}

impl<S> fmt::Debug for AuthMiddlewareService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthMiddlewareService")
            .field("middleware", &self.middleware)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for AuthMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let auth = RequestAuth::new(
            &self.middleware.authenticator,
            self.middleware.unauthenticated,
        );
        req.extensions_mut().insert(auth.clone());
        let required = self.middleware.required;
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let refused = if required {
                auth.require(&ActixView::new(req.request()), None)
                    .await
                    .err()
            } else {
                None
            };
            let mut response = match refused {
                Some(error) => req
                    .into_response(into_response(auth.render(&error)))
                    .map_into_right_body(),
                None => {
                    let response = service.call(req).await?;
                    let rejected = response
                        .response()
                        .error()
                        .and_then(|e| e.as_error::<AuthRejection>())
                        .map(|r| r.error().clone());
                    match rejected {
                        Some(error) => response
                            .into_response(into_response(auth.render(&error)))
                            .map_into_right_body(),
                        None => response.map_into_left_body(),
                    }
                }
            };
            auth.finish(&mut ActixHeaders(response.headers_mut()));
            Ok(response)
        })
    }
}
