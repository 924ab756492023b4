//! `auth-warp`: OAuth 2.0 / OpenID Connect authentication for [warp] 0.4 applications.
//!
//! For APIs that accept bearer access tokens and for server-rendered apps with browser sign-in.
//! Every decision (verification against the provider's keys, the login flow, sealed session
//! cookies, transparent refresh, guards, error responses) is made by the framework-neutral core,
//! re-exported here as [`auth_core`] so that this crate is the only auth dependency you need.
//! This crate translates warp's requests and replies for it.
//!
//! | item | what |
//! |---|---|
//! | [`auth`] | filter extracting [`Auth<C>`]; refuses a request without a valid credential |
//! | [`optional_auth`] | filter extracting `Option<Auth<C>>`: `None` without a credential, a rejection for a bad one |
//! | [`guard`] | filter admitting only claims that pass a [`Guard`](auth_core::Guard); composes with `and` |
//! | [`helper_routes`] | one filter for `GET /auth/login`, `GET /auth/callback`, `POST /auth/refresh`, `POST /auth/signout`, `GET /auth/me` |
//! | [`recover`] | the `recover` handler rendering [`AuthRejection`]s: taxonomy status, JSON body, RFC 6750 `WWW-Authenticate` |
//! | [`AuthLayer`] | one authentication per request, rejections rendered with the authenticator's settings, refreshed cookies on the reply |
//! | [`serve`] | serves the routes behind the layer (graceful shutdown, HTTP/1 and 2, upgrades) |
//!
//! ```toml
//! [dependencies]
//! auth-warp = "0.1"
//! warp = "0.4"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "signal"] }
//! ```
//!
//! ```no_run
//! use auth_warp::auth_core::{Authenticator, Guard, NoExtraClaims};
//! use auth_warp::{Auth, AuthLayer};
//! use warp::Filter;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // AUTH_ISSUER and AUTH_AUDIENCE; for browser sign-in also APP_URL, AUTH_CLIENT_ID,
//!     // AUTH_CLIENT_SECRET and AUTH_COOKIE_SECRET (without APP_URL: a bearer-only API).
//!     let authenticator = Authenticator::from_env()?;
//!
//!     let me = warp::path!("api" / "me")
//!         .and(auth_warp::auth::<NoExtraClaims>())
//!         .map(|Auth(claims): Auth| warp::reply::json(&serde_json::json!({ "sub": claims.sub })));
//!     let admin = warp::path!("api" / "admin")
//!         .and(auth_warp::guard(Guard::any_role(["admin"])))
//!         .map(|| "welcome, administrator");
//!     let routes = me
//!         .or(admin)
//!         .or(auth_warp::helper_routes(&authenticator))
//!         .recover(auth_warp::recover);
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     auth_warp::serve(listener, AuthLayer::new(authenticator), routes, async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! # How the pieces fit
//! warp filters extract values; they cannot pass state to the reply. So the per-request state
//! lives in a tower [`AuthLayer`] around `warp::service(routes)`: it puts a fresh
//! [`RequestAuth`](auth_core::adapter::RequestAuth) into the request's extensions, where the
//! filters find it; the first filter that needs the claims authenticates the request
//! (`Authorization: Bearer`, then the session cookie, refreshing it when expired) and later
//! ones reuse the result. On the way out the layer renders any [`AuthRejection`] (turned into a
//! reply by [`recover`]) with the authenticator's settings and adds what the outcome needs
//! (refreshed or cleared cookies, `Vary`, `Cache-Control`). Without the layer, the filters
//! reject with a 500 naming the fix. [`serve`] is `warp::serve` with the layer; under it
//! `warp::addr::remote()` is `None` (warp fills it only in its own server).
//!
//! # Errors
//! Every refusal is an [`AuthRejection`] rendered by the core, with the same status, body and
//! `WWW-Authenticate` as every other adapter. Re-map them with your own `recover` before
//! [`recover`] (match `rejection.find::<AuthRejection>()`), or everywhere (helper routes
//! included) with [`AuthenticatorBuilder::error_handler`](auth_core::AuthenticatorBuilder::error_handler).
//!
//! # Features and MSRV
//! | feature | default | what |
//! |---|---|---|
//! | `ws` | no | the `ws` filter, `AuthUpgrade` and `AuthSocket`: authenticated WebSocket upgrades closed (1008) when their token expires, with in-band re-authentication (enables warp's `websocket`) |
//! | `metrics` | no | the SDK's counters and histograms through the `metrics` facade (auth-core's `metrics` feature: the list is in its docs) |
//!
//! Rust 1.89 (the workspace's `rust-version`), warp 0.4, Tokio.
//!
//! [warp]: https://docs.rs/warp/0.4

mod filters;
mod layer;
mod owner;
mod rejection;
mod response;
mod serve;
mod view;
#[cfg(feature = "ws")]
mod ws;

/// The framework-neutral core: configuration, [`Authenticator`](auth_core::Authenticator),
/// [`Guard`](auth_core::Guard), the error taxonomy.
pub use auth_core;

pub use filters::{
    Auth, AuthData, auth, auth_data, guard, helper_routes, optional_auth, optional_auth_data,
};
pub use layer::{AuthLayer, AuthService};
pub use owner::{owned, owned_in};
pub use rejection::{AuthRejection, recover};
pub use response::into_response;
pub use serve::serve;
#[cfg(feature = "ws")]
pub use ws::{AuthSocket, AuthUpgrade, ws};
