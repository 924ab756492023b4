//! [`AuthRejection`]: why a request was refused.

use std::fmt;

use auth_core::adapter::AuthResponse;
use auth_core::{AuthError, ErrorCode};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::response::into_response;

/// The rejection of [`Auth`](crate::Auth), [`AuthLayer::required`](crate::AuthLayer::required)
/// and [`guard`](crate::guard): an [`AuthError`], plain data.
///
/// As a response it has the taxonomy's status (401 without or with a bad credential, 403 for a
/// failed guard or a cross-site request riding on the session cookie, 400 for a malformed
/// request, 503 while the identity provider is unreachable, 500 for a setup mistake), the JSON
/// body `{"error":{"code":…,"message":…}}`, an RFC 6750 `WWW-Authenticate` challenge (a bare
/// `Bearer` when no credential was sent; `error="insufficient_scope"` and `scope=` for a failed
/// scope guard) and `Retry-After` for retryable errors. Under an
/// [`AuthLayer`](crate::AuthLayer) the layer renders it once more, with everything the
/// authenticator knows: the realm, the
/// [`error_handler`](auth_core::AuthenticatorBuilder::error_handler), the redirect to the login
/// route of [`AuthLayer::redirect_to_login`](crate::AuthLayer::redirect_to_login), and any
/// cookie-clearing `Set-Cookie` headers. So a handler that returns `Err(AuthRejection)` (for
/// instance with `?` on [`Guard::check`](auth_core::Guard::check)) gets exactly the response the
/// extractor would have produced. Rejections are logged at TRACE under the target
/// `auth::rejection`.
///
/// # Customising
/// * Every rejection, helper routes included:
///   [`AuthenticatorBuilder::error_handler`](auth_core::AuthenticatorBuilder::error_handler).
/// * Per handler: take `Result<Auth, AuthRejection>` and map the error yourself, or use
///   axum-extra's `WithRejection<Auth, MyError>` with `impl From<AuthRejection> for MyError`.
///   [`error`](Self::error) gives the [`AuthError`] (code, status, message, reason, challenge).
///
/// ```
/// use auth_axum::{Auth, AuthRejection};
/// use axum::http::StatusCode;
/// use axum::response::{IntoResponse, Response};
///
/// async fn handler(auth: Result<Auth, AuthRejection>) -> Response {
///     match auth {
///         Ok(Auth(claims)) => format!("hello {:?}", claims.sub).into_response(),
///         Err(rejection) if rejection.status() == StatusCode::UNAUTHORIZED => {
///             (StatusCode::UNAUTHORIZED, "please sign in").into_response()
///         }
///         Err(rejection) => rejection.into_response(),
///     }
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(handler));
/// ```
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

impl IntoResponse for AuthRejection {
    /// The core's error response without the authenticator's settings; an
    /// [`AuthLayer`](crate::AuthLayer) around the route renders it again with them.
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

/// The 500 answered when no [`AuthLayer`](crate::AuthLayer) is above the route: the message
/// names the fix.
pub(crate) fn missing_layer() -> AuthRejection {
    tracing::error!(
        "auth-axum: no AuthLayer above this route; add `.layer(AuthLayer::new(authenticator))` to the router"
    );
    AuthRejection::from(AuthError::new(
        ErrorCode::ConfigInvalid,
        "no AuthLayer above this route: add `.layer(auth_axum::AuthLayer::new(authenticator))` to the router that serves it",
    ))
}
