//! The [`Auth`] extractor.

use std::ops::Deref;

use auth_core::adapter::RequestAuth;
use auth_core::{Claims, ExtraClaims, NoExtraClaims};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

use crate::rejection::{AuthRejection, missing_layer};
use crate::view::HttpView;

/// The verified claims of the request: `Auth(claims): Auth` in a handler.
///
/// `C` is the type of your application's own claims (see [`Claims`]); the default has none.
/// Extraction needs an [`AuthLayer`](crate::AuthLayer) on the router; without one it answers
/// 500 with a message naming the fix.
///
/// * `Auth<C>` refuses a request without a valid credential: 401 `token_missing` (bare
///   `Bearer` challenge) without one, 401 `token_expired` / `token_invalid`, 400
///   `invalid_request`, 503 while the provider is unreachable, ... (see [`AuthRejection`]).
/// * `Option<Auth<C>>` is `None` without a credential and still refuses a bad one.
/// * `Result<Auth<C>, AuthRejection>` lets the handler decide.
///
/// The credential is read from the authenticator's
/// [`token_sources`](auth_core::AuthenticatorBuilder::token_sources) (default:
/// `Authorization: Bearer`, then the session cookie when sessions are configured). Several
/// extractors and guards in one request share one authentication, whatever their `C`; when the
/// session cookie's access token has expired, the core refreshes it and the layer sets the new
/// cookies on the response.
///
/// ```
/// use auth_axum::Auth;
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
/// async fn greeting(auth: Option<Auth>) -> String {
///     match auth {
///         Some(Auth(claims)) => format!("hello {:?}", claims.sub),
///         None => "hello stranger".to_owned(),
///     }
/// }
/// # let _ = axum::Router::<()>::new()
/// #     .route("/me", axum::routing::get(me))
/// #     .route("/plan", axum::routing::get(plan))
/// #     .route("/", axum::routing::get(greeting));
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

impl<S, C> FromRequestParts<S> for Auth<C>
where
    S: Send + Sync,
    C: ExtraClaims,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = request_auth(parts)?;
        let view = HttpView::new(&parts.method, &parts.uri, &parts.headers);
        Ok(Auth(auth.required_claims::<C>(&view).await?))
    }
}

impl<S, C> OptionalFromRequestParts<S> for Auth<C>
where
    S: Send + Sync,
    C: ExtraClaims,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = request_auth(parts)?;
        let view = HttpView::new(&parts.method, &parts.uri, &parts.headers);
        Ok(auth.claims::<C>(&view).await?.map(Auth))
    }
}

/// The request's [`RequestAuth`], left by the [`AuthLayer`](crate::AuthLayer).
fn request_auth(parts: &Parts) -> Result<RequestAuth, AuthRejection> {
    parts
        .extensions
        .get::<RequestAuth>()
        .cloned()
        .ok_or_else(missing_layer)
}

/// The caller, whichever kind of credential it used: a JWT (a person, a client) or an API key
/// (a machine acting for its owner). `AuthData(caller): AuthData` in a handler; `caller.kind`
/// says which, `caller.subject` is the token's `sub` or the key's owner, and the same guards
/// apply to both. `Option<AuthData<C>>` is `None` without a credential. API keys are accepted
/// when the authenticator has them ([`AuthenticatorBuilder::api_keys`](auth_core::AuthenticatorBuilder::api_keys)).
///
/// ```
/// use auth_axum::AuthData;
///
/// async fn me(AuthData(caller): AuthData) -> String {
///     format!("{} {:?} scopes {:?}", caller.kind.as_str(), caller.subject, caller.scopes)
/// }
/// # let _ = axum::Router::<()>::new().route("/me", axum::routing::get(me));
/// ```
#[derive(Debug, Clone)]
pub struct AuthData<C = NoExtraClaims>(pub auth_core::AuthData<C>);

impl<C> Deref for AuthData<C> {
    type Target = auth_core::AuthData<C>;

    fn deref(&self) -> &auth_core::AuthData<C> {
        &self.0
    }
}

impl<S, C> FromRequestParts<S> for AuthData<C>
where
    S: Send + Sync,
    C: ExtraClaims,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = request_auth(parts)?;
        let view = HttpView::new(&parts.method, &parts.uri, &parts.headers);
        Ok(AuthData(auth.required_auth_data::<C>(&view).await?))
    }
}

impl<S, C> OptionalFromRequestParts<S> for AuthData<C>
where
    S: Send + Sync,
    C: ExtraClaims,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = request_auth(parts)?;
        let view = HttpView::new(&parts.method, &parts.uri, &parts.headers);
        Ok(auth.auth_data::<C>(&view).await?.map(AuthData))
    }
}
