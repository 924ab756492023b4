//! Bearer tokens through the extractor, the layer and the guards, with `oneshot` against an app
//! built from a function; the issuer is a real `TestIssuer` on 127.0.0.1 (its JWKS over HTTP).

mod common;

use std::future::Future;
use std::pin::Pin;

use auth_axum::auth_core::adapter::AuthResponse;
use auth_axum::auth_core::{AuthError, Authenticator, ErrorCode, Guard};
use auth_axum::{Auth, AuthLayer, AuthRejection};
use auth_issuer::TestIssuer;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{app, bearer, body_json, get_req, header};
use serde::Deserialize;
use tower::ServiceExt as _;

const APP: &str = "http://127.0.0.1:3999";

async fn setup() -> (TestIssuer, Router) {
    let issuer = TestIssuer::start().await;
    let app = app(common::authenticator(&issuer, APP));
    (issuer, app)
}

// ---------------------------------------------------------------- Auth

#[tokio::test]
async fn bearer_token_is_accepted() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sub("alice").roles(&["admin"]).sign();
    let response = app
        .oneshot(bearer("/me", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let body = body_json(response).await;
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["roles"][0], "admin");
}

#[tokio::test]
async fn no_credential_is_401_with_a_bare_challenge() {
    let (_issuer, app) = setup().await;
    let response = app.oneshot(get_req("/me")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some("Bearer")
    );
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(body_json(response).await["error"]["code"], "token_missing");
}

#[tokio::test]
async fn expired_token_is_401_invalid_token() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sub("alice").expires_in(-120).sign();
    let response = app
        .oneshot(bearer("/me", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&response, "www-authenticate").expect("challenge");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(body_json(response).await["error"]["code"], "token_expired");
}

#[tokio::test]
async fn bad_signature_is_401_token_invalid() {
    let (issuer, app) = setup().await;
    let token = issuer
        .token()
        .sub("alice")
        .sign_hs256_with(issuer.public_key_pem("rsa-1").as_bytes());
    let response = app
        .oneshot(bearer("/me", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(response).await["error"]["code"], "token_invalid");
}

#[tokio::test]
async fn two_authorization_headers_are_400_invalid_request() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sub("alice").sign();
    let req = Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(req).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let challenge = header(&response, "www-authenticate").expect("challenge");
    assert!(
        challenge.contains(r#"error="invalid_request""#),
        "{challenge}"
    );
    assert_eq!(
        body_json(response).await["error"]["code"],
        "invalid_request"
    );
}

#[tokio::test]
async fn a_non_ascii_credential_is_refused_not_ignored() {
    let (_issuer, app) = setup().await;
    let req = Request::get("/optional")
        .header(
            "authorization",
            axum::http::HeaderValue::from_bytes(b"Bearer t\xc3\xb6ken").expect("obs-text"),
        )
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(req).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn public_routes_under_the_layer_need_nothing() {
    let (_issuer, app) = setup().await;
    let req = Request::get("/public")
        .header("authorization", "Bearer not-a-jwt")
        .body(Body::empty())
        .expect("request");
    // Nobody asks for the claims, so the bad credential is never looked at.
    let response = app.oneshot(req).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- Option<Auth>

#[tokio::test]
async fn optional_auth_is_none_without_a_credential() {
    let (_issuer, app) = setup().await;
    let response = app.oneshot(get_req("/optional")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await["sub"], serde_json::Value::Null);
}

#[tokio::test]
async fn optional_auth_is_some_with_a_good_credential() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sub("bob").sign();
    let response = app
        .oneshot(bearer("/optional", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await["sub"], "bob");
}

#[tokio::test]
async fn optional_auth_rejects_a_bad_credential() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sub("bob").expires_in(-120).sign();
    let response = app
        .oneshot(bearer("/optional", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(response).await["error"]["code"], "token_expired");
}

// ---------------------------------------------------------------- application claims

#[derive(Debug, Clone, Deserialize)]
struct Plan {
    plan: String,
}

fn plan_app(issuer: &TestIssuer) -> Router {
    Router::new()
        .route(
            "/plan",
            get(async |Auth(claims): Auth<Plan>| claims.extra.plan),
        )
        .layer(AuthLayer::new(common::authenticator(issuer, APP)))
}

#[tokio::test]
async fn application_claims_are_typed() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().sub("alice").claim("plan", "gold").sign();
    let response = plan_app(&issuer)
        .oneshot(bearer("/plan", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&bytes[..], b"gold");
}

#[tokio::test]
async fn application_claims_of_the_wrong_shape_are_token_invalid() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().sub("alice").claim("plan", 42).sign();
    let response = plan_app(&issuer)
        .oneshot(bearer("/plan", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(response).await["error"]["code"], "token_invalid");
}

// ---------------------------------------------------------------- guards

#[tokio::test]
async fn role_guard_admits_the_role() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sub("alice").roles(&["admin"]).sign();
    let response = app
        .oneshot(bearer("/admin", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn role_guard_refuses_others_with_403() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sub("bob").roles(&["user"]).sign();
    let response = app
        .oneshot(bearer("/admin", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = header(&response, "www-authenticate").expect("challenge");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert_eq!(
        body_json(response).await["error"]["code"],
        "permission_denied"
    );
}

#[tokio::test]
async fn role_guard_without_credential_is_401() {
    let (_issuer, app) = setup().await;
    let response = app.oneshot(get_req("/admin")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some("Bearer")
    );
}

#[tokio::test]
async fn scope_guard_names_the_scope() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sub("bob").scope("articles:read").sign();
    let response = app
        .oneshot(bearer("/write", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = header(&response, "www-authenticate").expect("challenge");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"scope="articles:write""#),
        "{challenge}"
    );

    let token = issuer
        .token()
        .sub("bob")
        .scope("articles:read articles:write")
        .sign();
    let response = app_again(&issuer)
        .oneshot(bearer("/write", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_guard_on_one_method_leaves_the_others_open() {
    let (issuer, app) = setup().await;
    let send = |method: &str, token: Option<String>| {
        let mut request = Request::builder().method(method).uri("/items");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        app.clone()
            .oneshot(request.body(Body::empty()).expect("request"))
    };
    let status = |r: Result<Response, _>| r.map(|r: Response| r.status()).expect("infallible");
    assert_eq!(status(send("GET", None).await), StatusCode::OK);
    assert_eq!(status(send("DELETE", None).await), StatusCode::UNAUTHORIZED);
    let bob = issuer.token().sub("bob").roles(&["user"]).sign();
    assert_eq!(
        status(send("DELETE", Some(bob)).await),
        StatusCode::FORBIDDEN
    );
    let alice = issuer.token().sub("alice").roles(&["admin"]).sign();
    assert_eq!(
        status(send("DELETE", Some(alice.clone())).await),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_cross_site_unsafe_request_with_a_bearer_token_is_not_origin_checked() {
    let (issuer, app) = setup().await;
    let alice = issuer.token().sub("alice").roles(&["admin"]).sign();
    let request = Request::delete("/items")
        .header("authorization", format!("Bearer {alice}"))
        .header("origin", "https://other.example")
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}

fn app_again(issuer: &TestIssuer) -> Router {
    app(common::authenticator(issuer, APP))
}

#[tokio::test]
async fn guard_failure_inside_a_handler_with_question_mark() {
    let issuer = TestIssuer::start().await;
    let app = Router::new()
        .route(
            "/editor",
            get(
                async |Auth(claims): Auth| -> Result<String, AuthRejection> {
                    Guard::any_role(["editor"]).check(&claims)?;
                    Ok("ok".to_owned())
                },
            ),
        )
        .layer(AuthLayer::new(common::authenticator(&issuer, APP)));
    let token = issuer.token().sub("bob").sign();
    let response = app
        .oneshot(bearer("/editor", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body_json(response).await["error"]["code"],
        "permission_denied"
    );
}

// ---------------------------------------------------------------- AuthLayer::required

fn required_app(issuer: &TestIssuer) -> Router {
    let authenticator = common::authenticator(issuer, APP);
    Router::new()
        .route("/anything", get(async || "secret"))
        .merge(auth_axum::helper_routes(&authenticator))
        .layer(AuthLayer::new(authenticator).required())
}

#[tokio::test]
async fn require_refuses_requests_without_credential() {
    let issuer = TestIssuer::start().await;
    let response = required_app(&issuer)
        .oneshot(get_req("/anything"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some("Bearer")
    );
    assert_eq!(body_json(response).await["error"]["code"], "token_missing");
}

#[tokio::test]
async fn require_admits_a_valid_credential() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().sub("alice").sign();
    let response = required_app(&issuer)
        .oneshot(bearer("/anything", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn require_leaves_the_helper_routes_open() {
    let issuer = TestIssuer::start().await;
    let response = required_app(&issuer)
        .oneshot(get_req("/auth/login"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = header(&response, "location").expect("location");
    assert!(location.starts_with(issuer.issuer()), "{location}");
    assert!(header(&response, "set-cookie").is_some(), "flow cookie");
}

// ---------------------------------------------------------------- customisation

/// An app whose authenticator renders every rejection as 418 with its own body, keeping the
/// standard headers.
fn teapot_app(issuer: &TestIssuer) -> Router {
    let authenticator = common::builder(issuer, APP)
        .realm("api")
        .error_handler(|err, mut response| {
            response.status = 418;
            response.with_json_body(&serde_json::json!({ "custom": err.code().as_str() }))
        })
        .build()
        .expect("authenticator");
    common::routes()
        .route(
            "/editor",
            get(
                async |Auth(claims): Auth| -> Result<String, AuthRejection> {
                    Guard::any_role(["editor"]).check(&claims)?;
                    Ok("ok".to_owned())
                },
            ),
        )
        .merge(auth_axum::helper_routes(&authenticator))
        .layer(AuthLayer::new(authenticator))
}

#[tokio::test]
async fn the_error_handler_renders_every_rejection_and_keeps_the_challenge() {
    let issuer = TestIssuer::start().await;
    let app = teapot_app(&issuer);
    let bob = issuer.token().sub("bob").sign();
    let cases = [
        (
            get_req("/me"),
            "token_missing",
            Some(r#"Bearer realm="api""#),
        ),
        (bearer("/admin", &bob), "permission_denied", None),
        // `?` on a guard inside a handler: the same rendering as the guard layer.
        (bearer("/editor", &bob), "permission_denied", None),
        (bearer("/me", "not-a-jwt"), "token_invalid", None),
        // A helper route's refusal goes through the same handler.
        (
            get_req("/auth/callback?code=x&state=y"),
            "state_mismatch",
            None,
        ),
    ];
    for (request, code, challenge) in cases {
        let path = request.uri().to_string();
        let response = app.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT, "{path}");
        let www = header(&response, "www-authenticate");
        if let Some(challenge) = challenge {
            assert_eq!(www.as_deref(), Some(challenge), "{path}");
        }
        if code != "state_mismatch" {
            let www = www.unwrap_or_default();
            assert!(www.starts_with(r#"Bearer realm="api""#), "{path}: {www}");
        }
        assert_eq!(body_json(response).await["custom"], code, "{path}");
    }
}

#[tokio::test]
async fn a_guard_in_a_handler_gets_the_realm_like_the_guard_layer() {
    let issuer = TestIssuer::start().await;
    let authenticator = common::builder(&issuer, APP)
        .realm("api")
        .build()
        .expect("authenticator");
    let app = Router::new()
        .route(
            "/editor",
            get(
                async |Auth(claims): Auth| -> Result<String, AuthRejection> {
                    Guard::all_scopes(["articles:write"]).check(&claims)?;
                    Ok("ok".to_owned())
                },
            ),
        )
        .route(
            "/layered",
            get(async || "ok").route_layer(auth_axum::guard(Guard::all_scopes(["articles:write"]))),
        )
        .layer(AuthLayer::new(authenticator));
    let token = issuer.token().sub("bob").sign();
    let mut seen = Vec::new();
    for path in ["/editor", "/layered"] {
        let response = app
            .clone()
            .oneshot(bearer(path, &token))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        seen.push((
            header(&response, "www-authenticate"),
            body_json(response).await,
        ));
    }
    assert_eq!(seen[0], seen[1]);
    let www = seen[0].0.clone().unwrap_or_default();
    assert!(www.contains(r#"realm="api""#), "{www}");
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
}

#[tokio::test]
async fn a_handler_can_take_the_rejection() {
    let issuer = TestIssuer::start().await;
    let app = Router::new()
        .route(
            "/",
            get(async |auth: Result<Auth, AuthRejection>| match auth {
                Ok(_) => "in".into_response(),
                Err(rejection) => {
                    assert_eq!(rejection.code(), ErrorCode::TokenMissing);
                    assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
                    assert!(rejection.body_text().contains("token_missing"));
                    (StatusCode::UNAUTHORIZED, "please sign in").into_response()
                }
            }),
        )
        .layer(AuthLayer::new(common::authenticator(&issuer, APP)));
    let response = app.oneshot(get_req("/")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------- setup mistakes

#[tokio::test]
async fn missing_layer_is_500_naming_the_fix() {
    let response = common::routes()
        .oneshot(get_req("/me"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "config_invalid");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("AuthLayer"), "{message}");
}

#[tokio::test]
async fn missing_layer_under_a_guard_is_500_naming_the_fix() {
    let response = common::routes()
        .oneshot(get_req("/admin"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = body_json(response).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("AuthLayer"))
    );
}

#[tokio::test]
async fn optional_auth_without_layer_is_500_too() {
    let response = common::routes()
        .oneshot(get_req("/optional"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn a_bearer_only_api_needs_no_browser_settings() {
    let issuer = TestIssuer::start().await;
    // No APP_URL, client id or cookie secret: tokens only.
    let authenticator = Authenticator::builder(common::verifier(&issuer))
        .build()
        .expect("a bearer-only authenticator");
    let app = common::routes().layer(AuthLayer::new(authenticator));
    let token = issuer.token().sub("alice").roles(&["admin"]).sign();
    let response = app
        .clone()
        .oneshot(bearer("/admin", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    // A cookie is not a credential here.
    let request = Request::get("/me")
        .header("cookie", "auth.session=anything")
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(response).await["error"]["code"], "token_missing");
}

#[tokio::test]
async fn the_test_issuer_builds_a_ready_authenticator_in_one_line() {
    let issuer = TestIssuer::start().await;
    let app = common::app(issuer.authenticator(APP));
    let token = issuer.token().sub("alice").sign();
    let response = app
        .clone()
        .oneshot(bearer("/me", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await["sub"], "alice");
    let login = app
        .oneshot(get_req("/auth/login"))
        .await
        .expect("infallible");
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let api = common::routes().layer(AuthLayer::new(issuer.bearer_authenticator()));
    let response = api
        .oneshot(bearer("/me", &token))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- types and conversion

fn assert_send<T: Send>() {}
fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn extractors_and_layers_are_send() {
    assert_send::<Auth>();
    assert_send::<Auth<Plan>>();
    assert_send::<Option<Auth>>();
    assert_send_sync::<AuthRejection>();
    assert_send_sync::<AuthLayer>();
    assert_send_sync::<auth_axum::GuardLayer>();
}

#[test]
fn extraction_futures_are_send() {
    let (mut parts, ()) = Request::new(()).into_parts();
    let fut: Pin<Box<dyn Future<Output = _> + Send + '_>> = Box::pin(<Auth as FromRequestParts<
        (),
    >>::from_request_parts(
        &mut parts, &()
    ));
    drop(fut);
    let fut: Pin<Box<dyn Future<Output = _> + Send + '_>> = Box::pin(
        <Auth as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &()),
    );
    drop(fut);
}

#[test]
fn the_status_survives_conversion() {
    for &code in ErrorCode::ALL {
        let rejection = AuthRejection::from(AuthError::new(code, "x"));
        assert_eq!(rejection.status().as_u16(), code.status(), "{code}");
        let response: Response = rejection.into_response();
        assert_eq!(response.status().as_u16(), code.status(), "{code}");
    }
}

#[test]
fn auth_responses_convert_without_panicking() {
    let mut core = AuthResponse::new(200)
        .with_cookies(["a=1".to_owned(), "b=2".to_owned()])
        .with_header("x-bad", "line\r\nbreak")
        .with_header("bad name", "v")
        .with_header("location", "/ok");
    core.body = b"{}".to_vec();
    let response = auth_axum::into_response(core);
    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert!(response.headers().get("x-bad").is_none());
    assert_eq!(response.headers()["location"], "/ok");
    assert_eq!(
        auth_axum::into_response(AuthResponse::new(1000)).status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

// ---------------------------------------------------------------- caching

#[tokio::test]
async fn credential_dependent_responses_are_not_cached() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sub("alice").sign();
    let signed_in = app
        .clone()
        .oneshot(bearer("/me", &token))
        .await
        .expect("infallible");
    assert_eq!(
        header(&signed_in, "cache-control").as_deref(),
        Some("private, no-store")
    );
    assert_eq!(
        header(&signed_in, "vary").as_deref(),
        Some("Cookie, Authorization")
    );
    // Signed out, the page still depended on the (absent) credential.
    let anonymous = app
        .clone()
        .oneshot(get_req("/optional"))
        .await
        .expect("infallible");
    assert_eq!(
        header(&anonymous, "vary").as_deref(),
        Some("Cookie, Authorization")
    );
    assert_eq!(header(&anonymous, "cache-control"), None);
    // A public route never consulted authentication: cacheable as the handler decides.
    let public = app.oneshot(get_req("/public")).await.expect("infallible");
    assert_eq!(
        (header(&public, "vary"), header(&public, "cache-control")),
        (None, None)
    );
}
