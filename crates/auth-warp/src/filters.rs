//! The filters: [`auth`], [`optional_auth`], [`guard`] and [`helper_routes`].

use std::ops::Deref;
use std::sync::Arc;

use auth_core::adapter::RequestAuth;
use auth_core::{Authenticator, Claims, ExtraClaims, Guard, NoExtraClaims};
use warp::Filter;
use warp::reject::Rejection;
use warp::reply::Response;

use crate::rejection::{AuthRejection, missing_layer};
use crate::response::into_response;
use crate::view::{WarpView, view};

/// The verified claims of the request, extracted by [`auth`].
///
/// `C` is the type of your application's own claims (see [`Claims`]); the default has none.
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

/// The request's [`RequestAuth`], left by the [`AuthLayer`](crate::AuthLayer).
pub(crate) fn request_auth() -> impl Filter<Extract = (RequestAuth,), Error = Rejection> + Clone {
    warp::ext::optional::<RequestAuth>().and_then(async |auth: Option<RequestAuth>| {
        auth.ok_or_else(|| Rejection::from(missing_layer()))
    })
}

/// Extracts the verified claims, refusing a request without a valid credential: 401
/// `token_missing` (a challenge without `error`) without one, 401 `token_expired` /
/// `token_invalid`, 400 `invalid_request`, 503 while the provider is unreachable, ... (see
/// [`AuthRejection`]; add `.recover(auth_warp::recover)`).
///
/// Needs the [`AuthLayer`](crate::AuthLayer) around the routes; several filters of one request
/// share one authentication, whatever their `C`.
///
/// ```
/// use auth_warp::Auth;
/// use warp::Filter;
///
/// #[derive(Debug, Clone, serde::Deserialize)]
/// struct MyClaims {
///     #[serde(default)]
///     plan: Option<String>,
/// }
///
/// let me = warp::path!("api" / "me")
///     .and(auth_warp::auth::<MyClaims>())
///     .map(|Auth(claims): Auth<MyClaims>| format!("{:?} on plan {:?}", claims.sub, claims.extra.plan));
/// # let _ = me;
/// ```
#[must_use]
pub fn auth<C>() -> impl Filter<Extract = (Auth<C>,), Error = Rejection> + Clone
where
    C: ExtraClaims,
{
    request_auth()
        .and(view())
        .and_then(async |auth: RequestAuth, view: WarpView| {
            match auth.required_claims::<C>(&view).await {
                Ok(claims) => Ok(Auth(claims)),
                Err(error) => Err(Rejection::from(AuthRejection::from(error))),
            }
        })
}

/// Extracts the verified claims, `None` without a credential; a bad credential is still
/// refused (see [`auth`]).
#[must_use]
pub fn optional_auth<C>() -> impl Filter<Extract = (Option<Auth<C>>,), Error = Rejection> + Clone
where
    C: ExtraClaims,
{
    request_auth()
        .and(view())
        .and_then(
            async |auth: RequestAuth, view: WarpView| match auth.claims::<C>(&view).await {
                Ok(claims) => Ok(claims.map(Auth)),
                Err(error) => Err(Rejection::from(AuthRejection::from(error))),
            },
        )
}

/// The caller, whichever kind of credential it used: a JWT (a person, a client) or an API key
/// (a machine acting for its owner), extracted by [`auth_data`]. `kind` says which, `subject`
/// is the token's `sub` or the key's owner, and the same guards apply to both. API keys are
/// accepted when the authenticator has them
/// ([`AuthenticatorBuilder::api_keys`](auth_core::AuthenticatorBuilder::api_keys)).
#[derive(Debug, Clone)]
pub struct AuthData<C = NoExtraClaims>(pub auth_core::AuthData<C>);

impl<C> Deref for AuthData<C> {
    type Target = auth_core::AuthData<C>;

    fn deref(&self) -> &auth_core::AuthData<C> {
        &self.0
    }
}

/// Extracts the caller ([`AuthData`]), refusing a request without a valid credential (as
/// [`auth`]).
#[must_use]
pub fn auth_data<C>() -> impl Filter<Extract = (AuthData<C>,), Error = Rejection> + Clone
where
    C: ExtraClaims,
{
    request_auth()
        .and(view())
        .and_then(async |auth: RequestAuth, view: WarpView| {
            match auth.required_auth_data::<C>(&view).await {
                Ok(data) => Ok(AuthData(data)),
                Err(error) => Err(Rejection::from(AuthRejection::from(error))),
            }
        })
}

/// Extracts the caller, `None` without a credential; a bad credential is still refused.
#[must_use]
pub fn optional_auth_data<C>()
-> impl Filter<Extract = (Option<AuthData<C>>,), Error = Rejection> + Clone
where
    C: ExtraClaims,
{
    request_auth()
        .and(view())
        .and_then(async |auth: RequestAuth, view: WarpView| {
            match auth.auth_data::<C>(&view).await {
                Ok(data) => Ok(data.map(AuthData)),
                Err(error) => Err(Rejection::from(AuthRejection::from(error))),
            }
        })
}

/// Admits only requests whose claims pass `guard`: 401 without a valid credential, 403
/// `permission_denied` when the rule fails (with `error="insufficient_scope"` and the scopes in
/// `WWW-Authenticate` for a scope rule). Extracts nothing: compose it with `and`, before or
/// after [`auth`] (they share one authentication).
///
/// ```
/// use auth_warp::auth_core::Guard;
/// use warp::Filter;
///
/// let admin = warp::path!("api" / "admin")
///     .and(auth_warp::guard(Guard::any_role(["admin"])))
///     .map(|| "welcome");
/// // Anyone may read; writing needs the `articles:write` scope.
/// let articles = warp::path!("api" / "articles").and(
///     warp::get().map(|| "articles").or(warp::post()
///         .and(auth_warp::guard(Guard::all_scopes(["articles:write"])))
///         .map(|| "created")),
/// );
/// # let _ = (admin, articles);
/// ```
#[must_use]
pub fn guard(guard: Guard) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    let guard = Arc::new(guard);
    request_auth()
        .and(view())
        .and_then(move |auth: RequestAuth, view: WarpView| {
            let guard = Arc::clone(&guard);
            async move {
                auth.require(&view, Some(&guard))
                    .await
                    .map_err(|error| Rejection::from(AuthRejection::from(error)))
            }
        })
        .untuple_one()
}

/// The browser-session routes under the configured prefix (default `/auth`), as one filter to
/// combine with `or` at the root of your routes:
///
/// | route | what |
/// |---|---|
/// | `GET {prefix}/login?return_to=/path` | redirects to the provider (authorization code + PKCE) |
/// | `GET {prefix}/callback` | finishes the sign-in, sets the session cookies, redirects back |
/// | `POST {prefix}/refresh` | rotates the tokens (200, 401 when the session is over) |
/// | `POST {prefix}/signout` | revokes, clears the cookies, redirects (RP-initiated logout) |
/// | `GET {prefix}/me` | `{"success":true,"data":{"user":…,"claims":…}}` |
/// | `GET /.well-known/oauth-protected-resource[/path]` | the RFC 9728 metadata, when configured (`AuthenticatorBuilder::resource_metadata`, or `APP_URL` / `AUTH_RESOURCE` for `from_env`); not under the prefix |
///
/// Each route is served by [`Authenticator::handle`], which also answers other methods with
/// 405; other paths are rejected as not found, so that the next `or` branch is tried.
///
/// ```
/// use auth_warp::auth_core::Authenticator;
/// use warp::Filter;
///
/// fn routes(authenticator: Authenticator) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
///     warp::path!("health").map(|| "ok").or(auth_warp::helper_routes(&authenticator))
/// }
/// # let _ = routes;
/// ```
#[must_use]
pub fn helper_routes(
    authenticator: &Authenticator,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + use<> {
    let authenticator = authenticator.clone();
    view().and_then(move |view: WarpView| {
        let authenticator = authenticator.clone();
        async move {
            match authenticator.handle(&view).await {
                Some(response) => Ok(into_response(response)),
                None => Err(warp::reject::not_found()),
            }
        }
    })
}
