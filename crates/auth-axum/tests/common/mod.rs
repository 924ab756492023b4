//! Shared test support: an authenticator pointed at a real `auth_issuer::TestIssuer`, and the
//! app under test, built from a function (axum `examples/testing` style).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::Duration;

use auth_axum::{Auth, AuthLayer};
use auth_core::{AuthConfig, Authenticator, Guard, JwksPolicy, SessionConfig, Verifier};
use auth_issuer::TestIssuer;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use axum::routing::get;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};

pub const COOKIE_SECRET: &str = "test-cookie-secret-0123456789-abcdef";
pub const CLIENT_ID: &str = "web-app";
pub const CLIENT_SECRET: &str = "web-secret";

pub fn authenticator(issuer: &TestIssuer, app_url: &str) -> Authenticator {
    let config = AuthConfig::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .jwks_policy(
            JwksPolicy::default()
                .backoff(Duration::from_millis(50), Duration::from_millis(200))
                .fetch_timeout(Duration::from_secs(2)),
        )
        .build()
        .expect("config");
    let session = SessionConfig::builder(app_url)
        .cookie_secret(COOKIE_SECRET)
        .build()
        .expect("session config");
    Authenticator::new(Verifier::new(config).expect("verifier"), session)
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
            get(me).route_layer(auth_axum::require(Guard::any_role(["admin"]))),
        )
        .route(
            "/write",
            get(me).route_layer(auth_axum::require(Guard::all_scopes(["articles:write"]))),
        )
}

/// The app: routes, helper routes and the layer.
pub fn app(authenticator: Authenticator) -> Router {
    routes()
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
