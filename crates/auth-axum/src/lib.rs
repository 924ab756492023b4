//! `auth-axum`: OAuth 2.0 / OpenID Connect authentication for [axum] 0.8 applications.
//!
//! For APIs that accept bearer access tokens and for server-rendered apps with browser sign-in.
//! Every decision (verification against the provider's keys, the login flow, sealed session
//! cookies, transparent refresh, guards, error responses) is made by the framework-neutral core,
//! re-exported here as [`auth_core`] so that this crate is the only dependency you need. This
//! crate translates axum's requests and responses for it.
//!
//! | item | what |
//! |---|---|
//! | [`Auth`] | extractor: `Auth(claims): Auth`, `Option<Auth>`, `Auth<MyClaims>` |
//! | [`AuthLayer`] | one authentication per request, rejections rendered with the authenticator's settings, refreshed cookies on the response; [`AuthLayer::required`] protects a whole router, [`AuthLayer::redirect_to_login`] sends browsers to sign in |
//! | [`guard`] | a route layer admitting only claims that pass a [`Guard`](auth_core::Guard) (roles, scopes, permissions) |
//! | [`helper_routes`] | `GET /auth/login`, `GET /auth/callback`, `POST /auth/refresh`, `POST /auth/signout`, `GET /auth/me` |
//! | [`AuthRejection`] | the error: taxonomy status, JSON body, RFC 6750 `WWW-Authenticate` |
//! | `AuthUpgrade` (feature `ws`) | extractor for WebSocket upgrades: authenticated before the `101`, the socket closed (1008) when the token expires |
//! | [`into_response`] | the core's [`AuthResponse`](auth_core::adapter::AuthResponse) as an axum response |
//!
//! ```toml
//! [dependencies]
//! auth-axum = "0.1"
//! axum = "0.8"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! ```no_run
//! use auth_axum::auth_core::{Authenticator, Guard};
//! use auth_axum::{Auth, AuthLayer};
//! use axum::{Json, Router, routing::get};
//!
//! async fn me(Auth(claims): Auth) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "sub": claims.sub, "roles": claims.roles() }))
//! }
//!
//! async fn admin(Auth(claims): Auth) -> String {
//!     format!("welcome, administrator {:?}", claims.sub)
//! }
//!
//! async fn home(auth: Option<Auth>) -> String {
//!     match auth {
//!         Some(Auth(claims)) => format!("signed in as {:?}", claims.sub),
//!         None => "signed out: visit /auth/login".to_owned(),
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // AUTH_ISSUER and AUTH_AUDIENCE; for browser sign-in also APP_URL, AUTH_CLIENT_ID,
//!     // AUTH_CLIENT_SECRET and AUTH_COOKIE_SECRET (without APP_URL: a bearer-only API).
//!     let authenticator = Authenticator::from_env()?;
//!
//!     let app = Router::new()
//!         .route("/", get(home))
//!         .route("/api/me", get(me))
//!         .route(
//!             "/api/admin",
//!             get(admin).route_layer(auth_axum::guard(Guard::any_role(["admin"]))),
//!         )
//!         .merge(auth_axum::helper_routes(&authenticator))
//!         .layer(AuthLayer::new(authenticator));
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! # How the pieces fit
//! [`AuthLayer`] puts a fresh [`RequestAuth`](auth_core::adapter::RequestAuth) into each
//! request's extensions. The first [`Auth`] extractor or [`guard`] that needs the claims
//! authenticates the request through it (`Authorization: Bearer`, then the session cookie,
//! refreshing it when expired); later ones reuse the result. On the way out the layer renders
//! any [`AuthRejection`] with the authenticator's settings and adds what the outcome needs
//! (refreshed or cleared cookies, `Vary`, `Cache-Control`). Without the layer, extractors and
//! guards answer 500 with a message naming the fix.
//!
//! # Errors
//! Every refusal is an [`AuthRejection`] rendered by the core: 401 `token_missing` with a bare
//! `WWW-Authenticate: Bearer` when no credential was sent; 401 `token_expired` /
//! `token_invalid` with `error="invalid_token"`; 400 `invalid_request` (two `Authorization`
//! headers, a malformed bearer credential); 403 `permission_denied` from a guard
//! (`error="insufficient_scope"` and `scope=` for scope rules) or for a cross-site unsafe
//! request that relies on the session cookie; 503 + `Retry-After` while the identity provider
//! is unreachable, so that nobody is signed out by an outage. The body is always
//! `{"error":{"code":…,"message":…}}`. Re-map them per handler with
//! `Result<Auth, AuthRejection>` or axum-extra's `WithRejection`, or everywhere (helper routes
//! included) with [`AuthenticatorBuilder::error_handler`](auth_core::AuthenticatorBuilder::error_handler).
//!
//! # Features
//! | feature | default | what |
//! |---|---|---|
//! | `ws` | no | `AuthUpgrade` and `AuthSocket`: authenticated WebSocket upgrades whose connections close (1008) when their token expires, with in-band re-authentication (enables axum's `ws`) |
//! | `metrics` | no | the SDK's counters and histograms through the `metrics` facade (auth-core's `metrics` feature: the list is in its docs) |
//!
//! The extractors work with any router state: the authenticator is found through the layer,
//! not through `FromRef`.
//!
//! # MSRV
//! Rust 1.89 (the workspace's `rust-version`, which actix-web 4.18 needs), axum 0.8, Tokio.
//!
//! [axum]: https://docs.rs/axum/0.8

mod extract;
mod guard;
mod layer;
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

pub use extract::{Auth, AuthData};
pub use guard::{GuardLayer, GuardService, guard};
pub use layer::{AuthLayer, AuthService, ResponseFuture};
pub use owner::{Owned, OwnerGuardLayer, OwnerGuardService, owner_guard};
pub use rejection::AuthRejection;
pub use response::into_response;
pub use routes::helper_routes;
#[cfg(feature = "ws")]
pub use ws::{AuthSocket, AuthUpgrade};
