//! [`AuthRejection`]: why a request was refused, as an actix-web [`ResponseError`].

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use auth_core::adapter::AuthResponse;
use auth_core::{AuthError, ErrorCode};

use crate::response::into_response;

/// The error of [`Auth`](crate::Auth), [`OptionalAuth`](crate::OptionalAuth),
/// [`AuthMiddleware::required`](crate::AuthMiddleware::required) and [`guard`](crate::guard):
/// an [`AuthError`], plain data, implementing [`ResponseError`].
///
/// As a response it has the taxonomy's status (401 without or with a bad credential, 403 for a
/// failed guard or a cross-site request riding on the session cookie, 400 for a malformed
/// request, 503 while the identity provider is unreachable, 500 for a setup mistake), the JSON
/// body `{"error":{"code":…,"message":…}}`, an RFC 6750 `WWW-Authenticate` challenge and
/// `Retry-After` for retryable errors: the same bytes as every other adapter. Under an
/// [`AuthMiddleware`](crate::AuthMiddleware) the middleware renders it once more with
/// everything the authenticator knows (the realm, the
/// [`error_handler`](auth_core::AuthenticatorBuilder::error_handler), the login redirect) and
/// adds the cookies the request's outcome needs. So a handler returning
/// `Result<_, AuthRejection>` with `?` on [`Guard::check`](auth_core::Guard::check) gets exactly
/// the response the guard middleware would have produced.
///
/// ```
/// use auth_actix::{Auth, AuthRejection};
/// use actix_web::{HttpResponse, http::StatusCode};
///
/// async fn handler(auth: Result<Auth, AuthRejection>) -> HttpResponse {
///     match auth {
///         Ok(Auth(claims)) => HttpResponse::Ok().body(format!("hello {:?}", claims.sub)),
///         Err(rejection) if rejection.status() == StatusCode::UNAUTHORIZED => {
///             HttpResponse::Unauthorized().body("please sign in")
///         }
///         Err(rejection) => actix_web::ResponseError::error_response(&rejection),
///     }
/// }
/// # let _ = actix_web::web::get().to(handler);
/// ```
#[must_use]
#[derive(Clone)]
pub struct AuthRejection {
    error: AuthError,
}

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

impl ResponseError for AuthRejection {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    /// The core's error response without the authenticator's settings; an
    /// [`AuthMiddleware`](crate::AuthMiddleware) around the route renders it again with them.
    fn error_response(&self) -> HttpResponse {
        into_response(AuthResponse::error(&self.error, None))
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

/// The 500 for a route that cannot reach an `Authenticator`: the message names the fix.
pub(crate) fn missing_setup() -> AuthRejection {
    tracing::error!(
        "auth-actix: no Authenticator for this request; add `.wrap(AuthMiddleware::new(authenticator))` or `.app_data(authenticator)` to the App"
    );
    AuthRejection::from(AuthError::new(
        ErrorCode::ConfigInvalid,
        "no Authenticator for this request: add `.wrap(auth_actix::AuthMiddleware::new(authenticator.clone()))` to the App or scope (or, for a bearer-only API, `.app_data(authenticator.clone())`)",
    ))
}

/// The 500 for an app with sessions but without the middleware: refreshed cookies could not
/// reach the browser.
pub(crate) fn missing_middleware() -> AuthRejection {
    tracing::error!(
        "auth-actix: sessions need the middleware; add `.wrap(AuthMiddleware::new(authenticator))` to the App"
    );
    AuthRejection::from(AuthError::new(
        ErrorCode::ConfigInvalid,
        "browser sessions need the middleware, which sets refreshed cookies: add `.wrap(auth_actix::AuthMiddleware::new(authenticator.clone()))` to the App",
    ))
}
