//! Shared test support: an authenticator pointed at a real `auth_issuer::TestIssuer`, and the
//! app under test, built from a function (axum `examples/testing` style).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::Duration;

use auth_axum::auth_core::{Authenticator, AuthenticatorBuilder, Guard, JwksPolicy, Verifier};
use auth_axum::{Auth, AuthLayer};
use auth_issuer::TestIssuer;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use axum::routing::{delete, get};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "web-app";
pub const CLIENT_SECRET: &str = "web-secret";

/// A verifier for `issuer` that backs off for a short time only (tests inject faults).
pub fn verifier(issuer: &TestIssuer) -> Verifier {
    let config = issuer
        .auth_config()
        .jwks_policy(
            JwksPolicy::default()
                .backoff(Duration::from_millis(50), Duration::from_millis(200))
                .fetch_timeout(Duration::from_secs(2)),
        )
        .build()
        .expect("config");
    Verifier::new(config).expect("verifier")
}

/// The builder of an authenticator with sessions for an app at `app_url`, signing in through
/// the issuer's first client.
pub fn builder(issuer: &TestIssuer, app_url: &str) -> AuthenticatorBuilder {
    let sessions = issuer
        .session_config(app_url)
        .build()
        .expect("session config");
    Authenticator::builder(verifier(issuer)).sessions(sessions)
}

pub fn authenticator(issuer: &TestIssuer, app_url: &str) -> Authenticator {
    builder(issuer, app_url).build().expect("authenticator")
}

pub async fn me(Auth(claims): Auth) -> axum::Json<Value> {
    axum::Json(json!({ "sub": claims.sub, "roles": claims.roles() }))
}

pub async fn optional(auth: Option<Auth>) -> axum::Json<Value> {
    axum::Json(json!({ "sub": auth.map(|Auth(c)| c.sub) }))
}

/// The routes every test app has, without any layer.
pub fn routes() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/optional", get(optional))
        .route("/public", get(async || "public"))
        .route(
            "/admin",
            get(me).route_layer(auth_axum::guard(Guard::any_role(["admin"]))),
        )
        .route(
            "/write",
            get(me).route_layer(auth_axum::guard(Guard::all_scopes(["articles:write"]))),
        )
        // Open for reading, guarded for deleting.
        .route(
            "/items",
            get(async || "items")
                .merge(delete(me).route_layer(auth_axum::guard(Guard::any_role(["admin"])))),
        )
}

/// The app: routes, helper routes and the layer.
pub fn app(authenticator: Authenticator) -> Router {
    // Pages: a browser without a session is sent to sign in.
    let pages = Router::new()
        .route("/account", get(me).post(me))
        .layer(AuthLayer::new(authenticator.clone()).redirect_to_login());
    routes()
        .merge(pages)
        .merge(auth_axum::helper_routes(&authenticator))
        .layer(AuthLayer::new(authenticator))
}

pub fn get_req(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

pub fn bearer(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

pub async fn body_json(response: Response<Body>) -> Value {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

pub fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_owned())
}
