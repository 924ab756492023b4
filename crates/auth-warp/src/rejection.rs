//! [`AuthRejection`] and [`recover`].

use std::fmt;

use auth_core::adapter::AuthResponse;
use auth_core::{AuthError, ErrorCode};
use warp::http::StatusCode;
use warp::reject::{Reject, Rejection};
use warp::reply::{Reply, Response};

use crate::response::into_response;

/// The rejection of [`auth`](crate::auth), [`optional_auth`](crate::optional_auth) and
/// [`guard`](crate::guard): an [`AuthError`], plain data, a warp [`Reject`].
///
/// [`recover`] turns it into the response: the taxonomy's status (401 without or with a bad
/// credential, 403 for a failed guard or a cross-site request riding on the session cookie,
/// 400 for a malformed request, 503 while the identity provider is unreachable, 500 for a setup
/// mistake), the JSON body `{"error":{"code":…,"message":…}}`, an RFC 6750 `WWW-Authenticate`
/// challenge and `Retry-After` for retryable errors: the same bytes as every other adapter.
/// The [`AuthLayer`](crate::AuthLayer) renders it once more with everything the authenticator
/// knows (the realm, the [`error_handler`](auth_core::AuthenticatorBuilder::error_handler),
/// the login redirect) and adds the cookies the request's outcome needs.
///
/// It is also a [`Reply`], so a handler can return it (`?` on
/// [`Guard::check`](auth_core::Guard::check) inside an `and_then` handler goes through
/// `Rejection` instead: `warp::reject::custom(AuthRejection::from(error))`).
#[must_use]
#[derive(Clone)]
pub struct AuthRejection {
    error: AuthError,
}

/// The marker an [`AuthRejection`] leaves in its response's extensions, so that the layer can
/// render it with the authenticator's settings.
#[derive(Clone)]
pub(crate) struct Rejected(pub(crate) AuthError);

impl AuthRejection {
    /// The HTTP status of the response.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The stable error code (`token_missing`, `token_expired`, `permission_denied`, ...).
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.error.code()
    }

    /// The error.
    #[must_use]
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// The error, to render it your own way.
    #[must_use]
    pub fn into_inner(self) -> AuthError {
        self.error
    }

    /// The JSON body of the default response: `{"error":{"code":…,"message":…}}`.
    #[must_use]
    pub fn body_text(&self) -> String {
        self.error.to_json().to_string()
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        AuthRejection { error }
    }
}

impl Reject for AuthRejection {}

impl Reply for AuthRejection {
    /// The core's error response without the authenticator's settings; the
    /// [`AuthLayer`](crate::AuthLayer) renders it again with them.
    fn into_response(self) -> Response {
        let mut response = into_response(AuthResponse::error(&self.error, None));
        response.extensions_mut().insert(Rejected(self.error));
        response
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRejection")
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for AuthRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// The `recover` handler for the SDK's rejections: `routes.recover(auth_warp::recover)`.
/// Other rejections pass through to the next `recover` (or warp's default).
///
/// ```
/// use warp::Filter;
///
/// let routes = warp::path!("api" / "me")
///     .and(auth_warp::auth::<auth_warp::auth_core::NoExtraClaims>())
///     .map(|auth: auth_warp::Auth| format!("{:?}", auth.0.sub))
///     .recover(auth_warp::recover);
/// # let _ = routes;
/// ```
///
/// # Errors
/// The rejection itself, when it is not the SDK's.
pub async fn recover(rejection: Rejection) -> Result<Response, Rejection> {
    match rejection.find::<AuthRejection>() {
        Some(auth) => Ok(auth.clone().into_response()),
        None => Err(rejection),
    }
}

/// The 500 for a filter without the layer: the message names the fix.
pub(crate) fn missing_layer() -> AuthRejection {
    tracing::error!(
        "auth-warp: no AuthLayer around these routes; serve them with `auth_warp::serve(listener, AuthLayer::new(authenticator), routes)`"
    );
    AuthRejection::from(AuthError::new(
        ErrorCode::ConfigInvalid,
        "no AuthLayer around these routes: serve them with `auth_warp::serve(listener, auth_warp::AuthLayer::new(authenticator), routes)` (or wrap `warp::service(routes)` in the layer)",
    ))
}
