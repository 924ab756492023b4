//! `auth-axum`: OAuth 2.0 / OpenID Connect authentication for [axum] 0.8 applications.
//!
//! For APIs that accept bearer access tokens and for server-rendered apps with browser sign-in:
//! a thin adapter over [`auth_core`], which verifies tokens against the provider's keys, runs
//! the login flow and keeps the session in sealed cookies. This crate takes the credential
//! from the request, finds the [`Authenticator`](auth_core::Authenticator), calls the core,
//! turns its errors into responses and mounts its routes.
//!
//! | item | what |
//! |---|---|
//! | [`Auth`] | extractor: `Auth(claims): Auth`, `Option<Auth>`, `Auth<MyClaims>` |
//! | [`AuthLayer`] | finds the authenticator, authenticates once per request, appends refreshed cookies; [`AuthLayer::require`] protects a whole router |
//! | [`require`] | a route layer admitting only claims that pass a [`Guard`](auth_core::Guard) (roles, scopes, permissions) |
//! | [`helper_routes`] | `GET /auth/login`, `GET /auth/callback`, `POST /auth/refresh`, `POST /auth/signout`, `GET /auth/me` |
//! | [`AuthRejection`] | the error response: taxonomy status, JSON body, RFC 6750 `WWW-Authenticate` |
//! | [`into_response`] | the core's [`AuthResponse`](auth_core::AuthResponse) as an axum response |
//!
//! ```no_run
//! use auth_axum::{Auth, AuthLayer};
//! use auth_core::{AuthConfig, Authenticator, Guard, SessionConfig, Verifier};
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
//!     // AUTH_ISSUER, AUTH_AUDIENCE, AUTH_CLIENT_ID, AUTH_CLIENT_SECRET, APP_URL,
//!     // AUTH_COOKIE_SECRET
//!     let verifier = Verifier::new(AuthConfig::from_env()?)?;
//!     let authenticator = Authenticator::new(verifier, SessionConfig::from_env()?.build()?);
//!
//!     let app = Router::new()
//!         .route("/", get(home))
//!         .route("/api/me", get(me))
//!         .route(
//!             "/api/admin",
//!             get(admin).route_layer(auth_axum::require(Guard::any_role(["admin"]))),
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
//! [`AuthLayer`] puts the authenticator and an empty, shared authentication slot into the
//! request extensions. The first [`Auth`] extractor or [`require`] guard that needs the
//! claims authenticates the request (`Authorization: Bearer`, then the session cookie,
//! refreshing it when expired); later ones reuse the result. On the way out the layer appends
//! the `Set-Cookie` headers of a refresh, or of the clearing of a session that cannot
//! continue. Without the layer, extractors answer 500 with a message naming the fix; an
//! `Authenticator` provided as a request extension (`.layer(Extension(authenticator))`) also
//! works, but then refreshed cookies cannot reach the browser.
//!
//! # Errors
//! Every refusal is an [`AuthRejection`] rendered by the core: 401 `token_missing` with a bare
//! `WWW-Authenticate: Bearer` when no credential was sent; 401 `token_expired` /
//! `token_invalid` with `error="invalid_token"`; 400 `invalid_request` (two `Authorization`
//! headers, a malformed bearer credential); 403 `permission_denied` from a guard
//! (`error="insufficient_scope"` and `scope=` for scope rules); 503 + `Retry-After` while the
//! identity provider is unreachable, so that nobody is signed out by an outage. The body is
//! always `{"error":{"code":…,"message":…}}`. Re-map them per handler with
//! `Result<Auth, AuthRejection>` or axum-extra's `WithRejection`, or for a whole router with
//! [`AuthLayer::with_error_handler`].
//!
//! # Features
//! No optional features. The extractors work with any router state: the authenticator is
//! found through the layer, not through `FromRef`.
//!
//! # MSRV
//! Rust 1.88 (the workspace's `rust-version`), axum 0.8, Tokio.
//!
//! [axum]: https://docs.rs/axum/0.8

mod extract;
mod guard;
mod layer;
mod rejection;
mod response;
mod routes;
mod view;

pub use extract::Auth;
pub use guard::{GuardLayer, GuardService, require};
pub use layer::{AuthLayer, AuthService};
pub use rejection::AuthRejection;
pub use response::into_response;
pub use routes::helper_routes;
