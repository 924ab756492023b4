//! [`helper_routes`]: login, callback, refresh, sign-out and me, and the RFC 9728 metadata,
//! served by the core.

use auth_core::Authenticator;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::response::into_response;
use crate::view::HttpView;

/// The browser-session routes under the configured prefix (default `/auth`), to merge into
/// your router:
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
/// 405. The session routes work under [`Router::nest`] as well (they match on their own path);
/// merge the metadata route at the root, where clients look for it. They
/// need no [`AuthLayer`](crate::AuthLayer); under one, they are left alone by
/// [`AuthLayer::required`](crate::AuthLayer::required).
///
/// ```
/// use auth_axum::auth_core::Authenticator;
/// use axum::Router;
///
/// fn app(authenticator: &Authenticator) -> Router {
///     Router::new().merge(auth_axum::helper_routes(authenticator))
/// }
/// # let _ = app;
/// ```
pub fn helper_routes<S>(authenticator: &Authenticator) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut router = Router::new();
    for path in authenticator.helper_paths() {
        let authenticator = authenticator.clone();
        let canonical = path.clone();
        router = router.route(
            &path,
            any(move |req: Request| {
                let authenticator = authenticator.clone();
                let canonical = canonical.clone();
                async move { serve(&authenticator, &canonical, req).await }
            }),
        );
    }
    router
}

async fn serve(authenticator: &Authenticator, path: &str, req: Request) -> Response {
    let view = HttpView::new(req.method(), req.uri(), req.headers()).with_path(path);
    match authenticator.handle(&view).await {
        Some(response) => into_response(response),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
