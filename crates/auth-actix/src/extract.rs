//! The [`Auth`] and [`OptionalAuth`] extractors.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use auth_core::ExtraClaims;
use auth_core::adapter::{RequestAuth, Unauthenticated};
use auth_core::{Authenticator, Claims, NoExtraClaims};
use futures_util::future::LocalBoxFuture;

use crate::rejection::{AuthRejection, missing_middleware, missing_setup};
use crate::view::ActixView;

/// The verified claims of the request: `Auth(claims): Auth` in a handler.
///
/// `C` is the type of your application's own claims (see [`Claims`]); the default has none.
/// Extraction needs an [`AuthMiddleware`](crate::AuthMiddleware) on the app or scope, or, for
/// an API without browser sessions, the [`Authenticator`] in `app_data`; without either it
/// answers 500 with a message naming the fix.
///
/// * `Auth<C>` refuses a request without a valid credential: 401 `token_missing` (bare
///   `Bearer` challenge) without one, 401 `token_expired` / `token_invalid`, 400
///   `invalid_request`, 503 while the provider is unreachable, ... (see [`AuthRejection`]).
/// * [`OptionalAuth<C>`] is `None` without a credential and still refuses a bad one. (actix-web's
///   own `Option<Auth<C>>` turns *every* error into `None`, so a forged token would look like no
///   token: use `OptionalAuth`.)
/// * `Result<Auth<C>, AuthRejection>` lets the handler decide.
///
/// Several extractors and guards in one request share one authentication, whatever their `C`.
///
/// ```
/// use auth_actix::{Auth, OptionalAuth};
/// use serde::Deserialize;
///
/// #[derive(Debug, Clone, Deserialize)]
/// struct MyClaims {
///     #[serde(default)]
///     plan: Option<String>,
/// }
///
/// async fn me(Auth(claims): Auth) -> String {
///     format!("{:?} has roles {:?}", claims.sub, claims.roles())
/// }
///
/// async fn plan(Auth(claims): Auth<MyClaims>) -> String {
///     format!("plan {:?}", claims.extra.plan)
/// }
///
/// async fn greeting(OptionalAuth(claims): OptionalAuth) -> String {
///     match claims {
///         Some(claims) => format!("hello {:?}", claims.sub),
///         None => "hello stranger".to_owned(),
///     }
/// }
/// # let _ = (actix_web::web::get().to(me), actix_web::web::get().to(plan), actix_web::web::get().to(greeting));
/// ```
#[derive(Debug, Clone)]
pub struct Auth<C = NoExtraClaims>(pub Claims<C>);

impl<C> Auth<C> {
    /// The claims.
    #[must_use]
    pub fn into_inner(self) -> Claims<C> {
        self.0
    }
}

impl<C> Deref for Auth<C> {
    type Target = Claims<C>;

    fn deref(&self) -> &Claims<C> {
        &self.0
    }
}

/// The verified claims of the request, `None` without a credential; a bad credential is still
/// refused (see [`Auth`]).
#[derive(Debug, Clone)]
pub struct OptionalAuth<C = NoExtraClaims>(pub Option<Claims<C>>);

impl<C> OptionalAuth<C> {
    /// The claims, if any.
    #[must_use]
    pub fn into_inner(self) -> Option<Claims<C>> {
        self.0
    }
}

impl<C> FromRequest for Auth<C>
where
    C: ExtraClaims,
{
    type Error = AuthRejection;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let auth = request_auth(&req)?;
            Ok(Auth(
                auth.required_claims::<C>(&ActixView::new(&req)).await?,
            ))
        })
    }
}

impl<C> FromRequest for OptionalAuth<C>
where
    C: ExtraClaims,
{
    type Error = AuthRejection;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let auth = request_auth(&req)?;
            Ok(OptionalAuth(auth.claims::<C>(&ActixView::new(&req)).await?))
        })
    }
}

/// The request's [`RequestAuth`]: the one the middleware left, or, for a bearer-only
/// authenticator in `app_data`, one created here and kept for the rest of the request.
pub(crate) fn request_auth(req: &HttpRequest) -> Result<RequestAuth, AuthRejection> {
    if let Some(auth) = req.extensions().get::<RequestAuth>() {
        return Ok(auth.clone());
    }
    let authenticator = req
        .app_data::<Authenticator>()
        .cloned()
        .or_else(|| {
            req.app_data::<actix_web::web::Data<Authenticator>>()
                .map(|data| data.get_ref().clone())
        })
        .ok_or_else(missing_setup)?;
    if authenticator.session_config().is_some() {
        return Err(missing_middleware());
    }
    let auth = RequestAuth::new(&authenticator, Unauthenticated::Reject);
    req.extensions_mut().insert(auth.clone());
    Ok(auth)
}

/// The caller, whichever kind of credential it used: a JWT (a person, a client) or an API key
/// (a machine acting for its owner). `AuthData(caller): AuthData` in a handler; `caller.kind`
/// says which, `caller.subject` is the token's `sub` or the key's owner, and the same guards
/// apply to both. [`OptionalAuthData`] is `None` without a credential. API keys are accepted
/// when the authenticator has them ([`AuthenticatorBuilder::api_keys`](auth_core::AuthenticatorBuilder::api_keys)).
#[derive(Debug, Clone)]
pub struct AuthData<C = NoExtraClaims>(pub auth_core::AuthData<C>);

impl<C> Deref for AuthData<C> {
    type Target = auth_core::AuthData<C>;

    fn deref(&self) -> &auth_core::AuthData<C> {
        &self.0
    }
}

/// The caller, `None` without a credential; a bad credential is still refused.
#[derive(Debug, Clone)]
pub struct OptionalAuthData<C = NoExtraClaims>(pub Option<auth_core::AuthData<C>>);

impl<C> FromRequest for AuthData<C>
where
    C: ExtraClaims,
{
    type Error = AuthRejection;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let auth = request_auth(&req)?;
            Ok(AuthData(
                auth.required_auth_data::<C>(&ActixView::new(&req)).await?,
            ))
        })
    }
}

impl<C> FromRequest for OptionalAuthData<C>
where
    C: ExtraClaims,
{
    type Error = AuthRejection;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let auth = request_auth(&req)?;
            Ok(OptionalAuthData(
                auth.auth_data::<C>(&ActixView::new(&req)).await?,
            ))
        })
    }
}
