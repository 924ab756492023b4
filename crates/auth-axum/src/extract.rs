//! The [`Auth`] extractor.

use std::any::TypeId;
use std::ops::Deref;

use auth_core::{AuthError, Claims, ErrorCode, NoExtraClaims};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::layer::{AuthContext, token_missing};
use crate::rejection::{AuthRejection, missing_layer};
use crate::view::HttpView;

/// The verified claims of the request: `Auth(claims): Auth` in a handler.
///
/// `C` is the type of your application's own claims (see [`Claims`]); the default has none.
/// Extraction needs an [`AuthLayer`](crate::AuthLayer) on the router (or the
/// [`Authenticator`](auth_core::Authenticator) as a request extension, see below); without
/// either it answers 500 with a message naming the fix.
///
/// * `Auth<C>` refuses a request without a valid credential: 401 `token_missing` (bare
///   `Bearer` challenge) without one, 401 `token_expired` / `token_invalid`, 400
///   `invalid_request`, 503 while the provider is unreachable, ... (see [`AuthRejection`]).
/// * `Option<Auth<C>>` is `None` without a credential and still refuses a bad one.
/// * `Result<Auth<C>, AuthRejection>` lets the handler decide.
///
/// The credential is read from the sources the [`SessionConfig`](auth_core::SessionConfig)
/// lists (default: `Authorization: Bearer`, then the session cookie). Several extractors and
/// guards in one request share one authentication.
///
/// # Transparent refresh needs the layer
/// When the session cookie's access token has expired, the core refreshes it; the new cookies
/// are appended to the response by [`AuthLayer`](crate::AuthLayer). If the `Authenticator`
/// is only a request extension (`.layer(Extension(authenticator))`), the extractor still
/// authenticates, but refreshed cookies are lost and every request refreshes again: use
/// `AuthLayer`.
///
/// ```
/// use auth_axum::Auth;
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize)]
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
    C: DeserializeOwned + Send + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ctx = AuthContext::find(&mut parts.extensions).ok_or_else(missing_layer)?;
        match authenticate::<C>(&ctx, parts).await? {
            Some(claims) => Ok(Auth(claims)),
            None => Err(ctx.reject_new(token_missing())),
        }
    }
}

impl<S, C> OptionalFromRequestParts<S> for Auth<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Send + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let ctx = AuthContext::find(&mut parts.extensions).ok_or_else(missing_layer)?;
        Ok(authenticate::<C>(&ctx, parts).await?.map(Auth))
    }
}

/// The request's claims as `C`, `None` without a credential.
async fn authenticate<C>(
    ctx: &AuthContext,
    parts: &Parts,
) -> Result<Option<Claims<C>>, AuthRejection>
where
    C: DeserializeOwned + 'static,
{
    let view = HttpView::new(&parts.method, &parts.uri, &parts.headers);
    match ctx.outcome(&view).await {
        Ok(Some(auth)) => retype(auth.claims.clone())
            .map(Some)
            .map_err(|e| ctx.reject_new(e)),
        Ok(None) => Ok(None),
        Err(error) => Err(ctx.reject(error)),
    }
}

/// Reads the application's claims `C` from the verified payload (as the core's verifier does).
fn retype<C>(claims: Claims<NoExtraClaims>) -> Result<Claims<C>, AuthError>
where
    C: DeserializeOwned + 'static,
{
    let raw = if TypeId::of::<C>() == TypeId::of::<NoExtraClaims>() {
        // Nothing to read.
        "null"
    } else {
        claims.raw_json()
    };
    let extra: C = serde_json::from_str(raw).map_err(|e| {
        tracing::debug!(error = %e, "application claims do not match their type");
        AuthError::new(
            ErrorCode::TokenInvalid,
            "token claims do not have the expected shape",
        )
    })?;
    Ok(claims.map_extra(|_| extra))
}
