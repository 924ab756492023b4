//! [`owner_guard`]: middleware that lets only a resource's owner through, and the [`Owned`]
//! extractor that hands its decision to the handler.

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, FromRequest, HttpMessage as _, HttpRequest};
use auth_core::owner::{Access, AccessMode, Ownership};
use auth_core::{AuthError, ErrorCode};
use futures_util::future::LocalBoxFuture;

use crate::extract::request_auth;
use crate::rejection::AuthRejection;
use crate::view::ActixView;

/// Middleware admitting a request to the resource its path parameter `param` names only when
/// `ownership` allows it, in the mode of the request's method
/// ([`AccessMode::for_method`]: `GET` reads, `PUT`/`POST` claim a free resource or rewrite the
/// caller's own, `PATCH`/`DELETE` write): 401 without a credential, 403 `permission_denied`
/// when the resource belongs to someone else. The handler gets the decision with [`Owned`].
/// Wrap the resource (`web::resource("/api/notes/{id}").wrap(...)`), inside the
/// [`AuthMiddleware`](crate::AuthMiddleware).
///
/// ```
/// use std::sync::Arc;
/// use actix_web::{HttpResponse, web};
/// use auth_actix::auth_core::owner::{MemoryOwnerStore, Ownership};
/// use auth_actix::Owned;
///
/// async fn put_note(Owned(access): Owned, body: String) -> HttpResponse {
///     // ... store `body` as note `access.id` ...
///     if access.created() { HttpResponse::Created().finish() } else { HttpResponse::Ok().finish() }
/// }
///
/// fn routes(cfg: &mut web::ServiceConfig) {
///     let notes = Ownership::builder(Arc::new(MemoryOwnerStore::new()), "notes")
///         .build()
///         .expect("a valid kind");
///     cfg.service(
///         web::resource("/api/notes/{id}")
///             .wrap(auth_actix::owner_guard(notes, "id"))
///             .route(web::put().to(put_note)),
///     );
/// }
/// # let _ = routes;
/// ```
pub fn owner_guard(ownership: Ownership, param: &str) -> OwnerGuardMiddleware {
    OwnerGuardMiddleware {
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

/// The middleware returned by [`owner_guard`].
#[derive(Clone, Debug)]
#[must_use]
pub struct OwnerGuardMiddleware {
    config: Arc<Config>,
}

impl OwnerGuardMiddleware {
    /// Uses `mode` whatever the method (for a `POST` that only changes an existing resource,
    /// [`AccessMode::Write`]).
    pub fn mode(self, mode: AccessMode) -> Self {
        OwnerGuardMiddleware {
            config: Arc::new(Config {
                ownership: self.config.ownership.clone(),
                param: self.config.param.clone(),
                mode: Some(mode),
            }),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for OwnerGuardMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Transform = OwnerGuardService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(OwnerGuardService {
            service: Rc::new(service),
            config: Arc::clone(&self.config),
        }))
    }
}

/// The service of an [`OwnerGuardMiddleware`].
pub struct OwnerGuardService<S> {
    service: Rc<S>,
    config: Arc<Config>,
}

impl<S> fmt::Debug for OwnerGuardService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerGuardService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn config_error(message: &'static str) -> AuthRejection {
    tracing::error!("auth-actix: {message}");
    AuthRejection::from(AuthError::new(ErrorCode::ConfigInvalid, message))
}

impl<S, B> Service<ServiceRequest> for OwnerGuardService<S>
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
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            let decided = async {
                let auth = request_auth(req.request())?;
                let id = req.match_info().get(&config.param).ok_or_else(|| {
                    config_error("owner_guard names a path parameter this route does not have")
                })?;
                let view = ActixView::new(req.request());
                auth.owned(&view, &config.ownership, id, config.mode)
                    .await
                    .map_err(AuthRejection::from)
            }
            .await;
            match decided {
                Ok(access) => {
                    req.extensions_mut().insert(access);
                    Ok(service.call(req).await?.map_into_left_body())
                }
                // The `AuthMiddleware` around renders it with the authenticator's settings.
                Err(rejection) => Ok(req.error_response(rejection).map_into_right_body()),
            }
        })
    }
}

/// The decision of the resource's [`owner_guard`]: which resource, its owner, and why the
/// caller was let through. Without an `owner_guard` it answers 500 naming the fix.
#[derive(Debug, Clone)]
pub struct Owned(pub Access);

impl FromRequest for Owned {
    type Error = AuthRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Access>()
                .cloned()
                .map(Owned)
                .ok_or_else(|| {
                    config_error(
                        "no owner_guard on this resource: add `.wrap(auth_actix::owner_guard(ownership, \"id\"))`",
                    )
                }),
        )
    }
}
