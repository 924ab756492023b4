//! [`AuthResponse`] → axum [`Response`].

use auth_core::adapter::AuthResponse;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

/// Converts the core's response description into an axum [`Response`].
///
/// Repeated headers (several `Set-Cookie`) are all kept, in order. A status outside
/// 100–999 becomes 500; a header whose name or value is not valid HTTP is dropped (and logged
/// at WARN) instead of panicking.
///
/// ```
/// use auth_axum::auth_core::adapter::AuthResponse;
///
/// let core = AuthResponse::redirect("/home").with_cookies(["a=1".to_owned(), "b=2".to_owned()]);
/// let response = auth_axum::into_response(core);
/// assert_eq!(response.status(), 303);
/// assert_eq!(response.headers().get_all("set-cookie").iter().count(), 2);
/// ```
#[must_use]
pub fn into_response(response: AuthResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or_else(|_| {
        tracing::warn!(
            status = response.status,
            "invalid status in an auth response"
        );
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    for (name, value) in response.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            _ => {
                tracing::warn!(header = %name.escape_debug(), "dropped an invalid header from an auth response")
            }
        }
    }
    out
}
