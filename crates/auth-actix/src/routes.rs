//! [`helper_routes`]: login, callback, refresh, sign-out and me, and the RFC 9728 metadata,
//! served by the core.

use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::Authenticator;

use crate::response::into_response;
use crate::view::ActixView;

/// The browser-session routes under the configured prefix (default `/auth`), for
/// [`App::configure`](actix_web::App::configure):
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
/// 405. They need no [`AuthMiddleware`](crate::AuthMiddleware); under one, they are left alone
/// by [`AuthMiddleware::required`](crate::AuthMiddleware::required). An authenticator without
/// sessions has only the metadata route, if the metadata is configured.
///
/// ```
/// use actix_web::App;
/// use auth_actix::auth_core::Authenticator;
///
/// fn app(authenticator: &Authenticator) {
///     let _ = App::new().configure(auth_actix::helper_routes(authenticator));
/// }
/// # let _ = app;
/// ```
pub fn helper_routes(authenticator: &Authenticator) -> impl FnOnce(&mut web::ServiceConfig) {
    let authenticator = authenticator.clone();
    move |cfg| {
        for path in authenticator.helper_paths() {
            let authenticator = authenticator.clone();
            let canonical = path.clone();
            cfg.route(
                &path,
                web::route().to(move |req: HttpRequest| {
                    let authenticator = authenticator.clone();
                    let canonical = canonical.clone();
                    async move { serve(&authenticator, &canonical, &req).await }
                }),
            );
        }
    }
}

async fn serve(authenticator: &Authenticator, path: &str, req: &HttpRequest) -> HttpResponse {
    let view = ActixView::new(req).with_path(path);
    match authenticator.handle(&view).await {
        Some(response) => into_response(response),
        None => HttpResponse::NotFound().finish(),
    }
}
