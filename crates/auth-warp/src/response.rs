//! [`AuthResponse`] → warp [`Response`].

use auth_core::adapter::AuthResponse;
use warp::http::StatusCode;
use warp::http::header::{HeaderName, HeaderValue};
use warp::reply::{Reply, Response};

/// Converts the core's response description into a warp [`Response`].
///
/// Repeated headers (several `Set-Cookie`) are all kept, in order. A status outside 100–999
/// becomes 500; a header whose name or value is not valid HTTP is dropped (and logged at WARN)
/// instead of panicking.
///
/// ```
/// use auth_warp::auth_core::adapter::AuthResponse;
///
/// let core = AuthResponse::redirect("/home").with_cookies(["a=1".to_owned(), "b=2".to_owned()]);
/// let response = auth_warp::into_response(core);
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
    let mut out = response.body.into_response();
    *out.status_mut() = status;
    let headers = out.headers_mut();
    headers.clear();
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
