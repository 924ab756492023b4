//! [`AuthRejection`]: why a request was refused, rendered by the core's error taxonomy.

use std::fmt;
use std::sync::Arc;

use auth_core::{AuthError, AuthResponse, Authenticator, ErrorCode};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::response::into_response;

/// A user-supplied renderer for rejections (see [`AuthLayer::with_error_handler`]).
///
/// [`AuthLayer::with_error_handler`]: crate::AuthLayer::with_error_handler
pub(crate) type ErrorHandler = Arc<dyn Fn(AuthError) -> Response + Send + Sync>;

/// How a rejection becomes a response.
#[derive(Clone, Default)]
pub(crate) enum Render {
    /// [`Authenticator::error_response`] (with its realm), or the bare core rendering without
    /// an authenticator.
    #[default]
    Core,
    /// Core rendering with this authenticator's settings.
    With(Authenticator),
    /// The application's handler.
    Custom(ErrorHandler),
}

impl fmt::Debug for Render {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Render::Core | Render::With(_) => "core",
            Render::Custom(_) => "custom",
        })
    }
}

/// The rejection of [`Auth`](crate::Auth), [`AuthLayer::require`](crate::AuthLayer::require) and
/// [`require`](crate::require): an [`AuthError`] that renders as the core's error response.
///
/// The response has the taxonomy's status (401 without or with a bad credential, 403 for a
/// failed guard, 400 for a malformed request, 503 while the identity provider is unreachable,
/// 500 for a setup mistake), the JSON body `{"error":{"code":…,"message":…}}`, an RFC 6750
/// `WWW-Authenticate` challenge (a bare `Bearer` when no credential was sent;
/// `error="insufficient_scope"` and `scope=` for a failed scope guard), `Retry-After` for
/// retryable errors, and any cookie-clearing `Set-Cookie` headers. Rejections are logged at
/// TRACE.
///
/// # Customising
/// * For every rejection under a layer: [`AuthLayer::with_error_handler`](crate::AuthLayer::with_error_handler).
/// * Per handler: take `Result<Auth, AuthRejection>` and map the error yourself, or use
///   axum-extra's `WithRejection<Auth, MyError>` with `impl From<AuthRejection> for MyError`.
///   [`into_inner`](Self::into_inner) gives the [`AuthError`] (code, status, message,
///   challenge).
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
///
/// An [`AuthError`] converts into a rejection, so handlers returning
/// `Result<_, AuthRejection>` can use `?` on [`Guard::check`](auth_core::Guard::check).
#[must_use]
pub struct AuthRejection {
    error: AuthError,
    render: Render,
}

impl AuthRejection {
    pub(crate) fn new(error: AuthError, render: Render) -> Self {
        AuthRejection { error, render }
    }

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
    /// A rejection rendered without an authenticator's settings (no `realm` in the challenge).
    fn from(error: AuthError) -> Self {
        AuthRejection::new(error, Render::Core)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        tracing::trace!(
            code = self.error.code().as_str(),
            status = self.error.status(),
            message = self.error.message(),
            "request rejected"
        );
        match self.render {
            Render::Custom(handler) => handler(self.error),
            Render::With(authenticator) => into_response(authenticator.error_response(&self.error)),
            Render::Core => into_response(AuthResponse::error(&self.error, None)),
        }
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRejection")
            .field("error", &self.error)
            .field("render", &self.render)
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

/// A copy of an error (errors are not `Clone`: their source is a boxed error), with or without
/// its `Set-Cookie` headers. The source survives as text.
pub(crate) fn copy_error(error: &AuthError, with_cookies: bool) -> AuthError {
    let mut copy = AuthError::new(error.code(), error.message().to_owned());
    if let Some(scope) = error.required_scope() {
        copy = copy.with_required_scope(scope);
    }
    if let Some(secs) = error.retry_after() {
        copy = copy.with_retry_after(secs);
    }
    if with_cookies && !error.set_cookies().is_empty() {
        copy = copy.with_set_cookies(error.set_cookies().to_vec());
    }
    if let Some(source) = std::error::Error::source(error) {
        copy = copy.with_source(source.to_string());
    }
    copy
}

/// The 500 answered when no `Authenticator` is reachable: the message names the fix.
pub(crate) fn missing_layer() -> AuthRejection {
    tracing::error!(
        "auth-axum: no Authenticator for this request; add `AuthLayer::new(authenticator)` to the router"
    );
    AuthRejection::from(AuthError::new(
        ErrorCode::ConfigInvalid,
        "no Authenticator for this request: add `AuthLayer` to the router (`.layer(AuthLayer::new(authenticator))`) or provide the `Authenticator` as a request extension",
    ))
}
