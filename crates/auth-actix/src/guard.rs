//! [`guard`]: middleware that refuses requests whose claims fail a [`Guard`].

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::Error;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use auth_core::Guard;
use futures_util::future::LocalBoxFuture;

use crate::extract::request_auth;
use crate::rejection::AuthRejection;
use crate::view::ActixView;

/// Middleware admitting only requests whose claims pass `guard`: 401 without a valid
/// credential, 403 `permission_denied` when the rule fails (with `error="insufficient_scope"`
/// and the scopes in `WWW-Authenticate` for a scope rule). It works under an
/// [`AuthMiddleware`](crate::AuthMiddleware), which renders the refusal with the
/// authenticator's settings.
///
/// `.wrap()` it on a scope, a resource, or a single route:
///
/// ```
/// use actix_web::web;
/// use auth_actix::auth_core::Guard;
/// use auth_actix::Auth;
///
/// fn routes(cfg: &mut web::ServiceConfig) {
///     cfg.service(
///         web::scope("/admin")
///             .wrap(auth_actix::guard(Guard::any_role(["admin"])))
///             .route("/stats", web::get().to(async || "stats")),
///     )
///     .service(
///         web::resource("/articles")
///             // Anyone may read; writing needs the `articles:write` scope.
///             .route(web::get().to(async || "articles"))
///             .route(
///                 web::post()
///                     .to(async |Auth(claims): Auth| format!("created by {:?}", claims.sub))
///                     .wrap(auth_actix::guard(Guard::all_scopes(["articles:write"]))),
///             ),
///     );
/// }
/// # let _ = routes;
/// ```
///
/// Inside a handler, [`Guard::check`] with `?` does the same for one route and gets the same
/// response, since [`AuthRejection`] converts from [`AuthError`](auth_core::AuthError).
pub fn guard(guard: Guard) -> GuardMiddleware {
    GuardMiddleware {
        guard: Arc::new(guard),
    }
}

/// The middleware returned by [`guard`].
#[derive(Clone)]
#[must_use]
pub struct GuardMiddleware {
    guard: Arc<Guard>,
}

impl fmt::Debug for GuardMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardMiddleware")
            .field("guard", &self.guard)
            .finish()
    }
}

impl<S, B> Transform<S, ServiceRequest> for GuardMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Transform = GuardService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(GuardService {
            service: Rc::new(service),
            guard: Arc::clone(&self.guard),
        }))
    }
}

/// The service of a [`GuardMiddleware`].
pub struct GuardService<S> {
    service: Rc<S>,
    guard: Arc<Guard>,
}

impl<S> fmt::Debug for GuardService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardService")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for GuardService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let guard = Arc::clone(&self.guard);
        Box::pin(async move {
            let checked = match request_auth(req.request()) {
                Ok(auth) => auth
                    .require(&ActixView::new(req.request()), Some(&guard))
                    .await
                    .map_err(AuthRejection::from),
                Err(rejection) => Err(rejection),
            };
            match checked {
                // The `AuthMiddleware` around renders it with the authenticator's settings.
                Err(rejection) => Ok(req.error_response(rejection).map_into_right_body()),
                Ok(()) => Ok(service.call(req).await?.map_into_left_body()),
            }
        })
    }
}
