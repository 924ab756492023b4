//! `Provider::router()`: the endpoints as an axum `Router` (feature `axum`).

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;

use crate::Provider;
use crate::http::{MAX_BODY, ProviderRequest, ProviderResponse};

impl Provider {
    /// The provider's endpoints as an axum `Router`, to [`merge`](Router::merge) into the
    /// host application's router (the paths are absolute: `{path}/authorize`, ...).
    ///
    /// ```
    /// # async fn run(provider: auth_provider::Provider) {
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/", axum::routing::get(|| async { "home" }))
    ///     .merge(provider.router());
    /// # let _ = app;
    /// # }
    /// ```
    pub fn router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let path = self.path();
        let mut router = Router::new();
        let mut paths: Vec<String> = [
            "/.well-known/openid-configuration",
            "/jwks",
            "/authorize",
            "/token",
            "/revoke",
            "/introspect",
            "/userinfo",
            "/logout",
            "/register",
        ]
        .iter()
        .map(|name| format!("{path}{name}"))
        .collect();
        paths.push(format!("/.well-known/oauth-authorization-server{path}"));
        for route in paths {
            router = router.route(&route, axum::routing::any(serve));
        }
        router.with_state(self.clone())
    }
}

impl ProviderRequest {
    /// Reads an axum request (at most [`MAX_BODY`] bytes of body), for a handler of the host's
    /// own that calls [`Provider::handle`] (feature `axum`). Header values that are not
    /// visible ASCII are left out.
    ///
    /// # Errors
    ///
    /// The response to send instead: `413` for a larger body, `400` for a body that cannot be
    /// read.
    pub async fn from_axum(request: Request) -> Result<Self, Response> {
        read_axum(request).await
    }
}

async fn read_axum(request: Request) -> Result<ProviderRequest, Response> {
    let (parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let mut provider = ProviderRequest::new(parts.method.as_str(), &target);
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            provider = provider.header(name.as_str(), value);
        }
    }
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(provider.body(collected.to_bytes().to_vec())),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(StatusCode::PAYLOAD_TOO_LARGE.into_response())
        }
        Err(_) => Err(StatusCode::BAD_REQUEST.into_response()),
    }
}

/// The axum response (feature `axum`).
impl IntoResponse for ProviderResponse {
    fn into_response(self) -> Response {
        into_axum(self)
    }
}

fn into_axum(response: ProviderResponse) -> Response {
    let (status, headers, body) = response.into_parts();
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.headers_mut()
                .append(HeaderName::from_static(name), value);
        }
    }
    out
}

async fn serve(State(provider): State<Provider>, request: Request) -> Response {
    match read_axum(request).await {
        Ok(request) => into_axum(provider.handle(request).await),
        Err(response) => response,
    }
}
