//! `auth-actix`: OAuth 2.0 / OpenID Connect authentication for [actix-web] 4 applications.
//!
//! For APIs that accept bearer access tokens and for server-rendered apps with browser sign-in.
//! Every decision (verification against the provider's keys, the login flow, sealed session
//! cookies, transparent refresh, guards, error responses) is made by the framework-neutral core,
//! re-exported here as [`auth_core`] so that this crate is the only dependency you need. This
//! crate translates actix-web's requests and responses for it (actix-web 4 speaks `http` 0.2;
//! the core speaks bytes and strings, so nothing is converted twice).
//!
//! | item | what |
//! |---|---|
//! | [`Auth`] | extractor: `Auth(claims): Auth`, `Auth<MyClaims>`, `Result<Auth, AuthRejection>` |
//! | [`OptionalAuth`] | extractor: `None` without a credential, a rejection for a bad one |
//! | [`AuthMiddleware`] | one authentication per request, rejections rendered with the authenticator's settings, refreshed cookies on the response; [`AuthMiddleware::required`] protects a scope, [`AuthMiddleware::redirect_to_login`] sends browsers to sign in |
//! | [`guard`] | middleware admitting only claims that pass a [`Guard`](auth_core::Guard), on a scope, a resource or one route |
//! | [`helper_routes`] | `GET /auth/login`, `GET /auth/callback`, `POST /auth/refresh`, `POST /auth/signout`, `GET /auth/me`, for `App::configure` |
//! | [`AuthRejection`] | the error, a [`ResponseError`](actix_web::ResponseError): taxonomy status, JSON body, RFC 6750 `WWW-Authenticate` |
//! | [`into_response`] | the core's [`AuthResponse`](auth_core::adapter::AuthResponse) as an `HttpResponse` |
//!
//! ```toml
//! [dependencies]
//! auth-actix = "0.1"
//! actix-web = "4.18"
//! ```
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use auth_actix::auth_core::{Authenticator, Guard};
//! use auth_actix::{Auth, AuthMiddleware, OptionalAuth};
//!
//! async fn me(Auth(claims): Auth) -> web::Json<serde_json::Value> {
//!     web::Json(serde_json::json!({ "sub": claims.sub, "roles": claims.roles() }))
//! }
//!
//! async fn home(OptionalAuth(claims): OptionalAuth) -> String {
//!     match claims {
//!         Some(claims) => format!("signed in as {:?}", claims.sub),
//!         None => "signed out: visit /auth/login".to_owned(),
//!     }
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // AUTH_ISSUER and AUTH_AUDIENCE; for browser sign-in also APP_URL, AUTH_CLIENT_ID,
//!     // AUTH_CLIENT_SECRET and AUTH_COOKIE_SECRET (without APP_URL: a bearer-only API).
//!     // Built once: every worker shares it (one key cache for the process).
//!     let authenticator = Authenticator::from_env()?;
//!     HttpServer::new(move || {
//!         App::new()
//!             .route("/", web::get().to(home))
//!             .route("/api/me", web::get().to(me))
//!             .service(
//!                 web::resource("/api/admin")
//!                     .wrap(auth_actix::guard(Guard::any_role(["admin"])))
//!                     .route(web::get().to(me)),
//!             )
//!             .configure(auth_actix::helper_routes(&authenticator))
//!             .wrap(AuthMiddleware::new(authenticator.clone()))
//!     })
//!     .bind(("127.0.0.1", 3000))?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! # How the pieces fit
//! [`AuthMiddleware`] puts a fresh [`RequestAuth`](auth_core::adapter::RequestAuth) into each
//! request's extensions. The first extractor or [`guard`] that needs the claims authenticates
//! the request through it (`Authorization: Bearer`, then the session cookie, refreshing it when
//! expired); later ones reuse the result. On the way out the middleware renders any
//! [`AuthRejection`] with the authenticator's settings and adds what the outcome needs
//! (refreshed or cleared cookies, `Vary`, `Cache-Control`). An API without browser sessions may
//! skip the middleware and put the [`Authenticator`](auth_core::Authenticator) in `app_data`
//! instead (then responses get no `Vary` / `Cache-Control` from the SDK); with sessions, the
//! middleware is required (the extractors answer 500 naming it otherwise).
//!
//! # Errors
//! Every refusal is an [`AuthRejection`] rendered by the core, with the same status, body and
//! `WWW-Authenticate` as every other adapter: 401 `token_missing` with a bare
//! `WWW-Authenticate: Bearer` when no credential was sent; 401 `token_expired` /
//! `token_invalid` with `error="invalid_token"`; 400 `invalid_request`; 403
//! `permission_denied` from a guard or for a cross-site unsafe request that relies on the
//! session cookie; 503 + `Retry-After` while the identity provider is unreachable. Re-map them
//! per handler with `Result<Auth, AuthRejection>`, or everywhere (helper routes included) with
//! [`AuthenticatorBuilder::error_handler`](auth_core::AuthenticatorBuilder::error_handler).
//!
//! # Features and MSRV
//! | feature | default | what |
//! |---|---|---|
//! | `ws` | no | `AuthUpgrade` and `AuthSocket`: authenticated WebSocket upgrades on actix-ws, closed (1008) when their token expires, with in-band re-authentication |
//! | `metrics` | no | the SDK's counters and histograms through the `metrics` facade (auth-core's `metrics` feature: the list is in its docs) |
//!
//! Rust 1.89 (actix-web 4.18's), actix-web 4.
//!
//! [actix-web]: https://docs.rs/actix-web/4

mod extract;
mod guard;
mod middleware;
mod owner;
mod rejection;
mod response;
mod routes;
mod view;
#[cfg(feature = "ws")]
mod ws;

/// The framework-neutral core: configuration, [`Authenticator`](auth_core::Authenticator),
/// [`Guard`](auth_core::Guard), the error taxonomy.
pub use auth_core;

/// actix-ws, whose `Message`, `Session` and `MessageStream` the WebSocket types use (feature
/// `ws`).
#[cfg(feature = "ws")]
pub use actix_ws;
pub use extract::{Auth, AuthData, OptionalAuth, OptionalAuthData};
pub use guard::{GuardMiddleware, GuardService, guard};
pub use middleware::{AuthMiddleware, AuthMiddlewareService};
pub use owner::{Owned, OwnerGuardMiddleware, OwnerGuardService, owner_guard};
pub use rejection::AuthRejection;
pub use response::into_response;
pub use routes::helper_routes;
#[cfg(feature = "ws")]
pub use ws::{AuthSocket, AuthUpgrade};
