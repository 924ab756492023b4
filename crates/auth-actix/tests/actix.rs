//! auth-actix in actix-web's own test style (`atest::init_service`, `TestRequest`,
//! `call_service`); the issuer is a real `TestIssuer` on 127.0.0.1 (its JWKS over HTTP).

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use actix_web::test as atest;
use actix_web::{App, HttpResponse, web};
use auth_actix::auth_core::{Authenticator, AuthenticatorBuilder, Guard, JwksPolicy, Verifier};
use auth_actix::{Auth, AuthMiddleware, AuthRejection, OptionalAuth};
use auth_issuer::TestIssuer;
use serde_json::{Value, json};

const APP: &str = "http://127.0.0.1:3999";

fn verifier(issuer: &TestIssuer) -> Verifier {
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

fn builder(issuer: &TestIssuer) -> AuthenticatorBuilder {
    let sessions = issuer.session_config(APP).build().expect("sessions");
    Authenticator::builder(verifier(issuer)).sessions(sessions)
}

fn authenticator(issuer: &TestIssuer) -> Authenticator {
    builder(issuer).build().expect("authenticator")
}

async fn me(Auth(claims): Auth) -> web::Json<Value> {
    web::Json(json!({ "sub": claims.sub, "roles": claims.roles() }))
}

async fn optional(OptionalAuth(claims): OptionalAuth) -> web::Json<Value> {
    web::Json(json!({ "sub": claims.and_then(|c| c.sub) }))
}

async fn editor(Auth(claims): Auth) -> Result<&'static str, AuthRejection> {
    Guard::all_scopes(["articles:write"]).check(&claims)?;
    Ok("ok")
}

/// The routes every test app has.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(me))
        .route("/optional", web::get().to(optional))
        .route("/public", web::get().to(async || "public"))
        .route("/editor", web::get().to(editor))
        .service(
            web::resource("/admin")
                .wrap(auth_actix::guard(Guard::any_role(["admin"])))
                .route(web::get().to(me)),
        )
        .service(
            web::resource("/write")
                .wrap(auth_actix::guard(Guard::all_scopes(["articles:write"])))
                .route(web::get().to(me)),
        )
        .service(
            web::resource("/items")
                .route(web::get().to(async || "items"))
                .route(
                    web::delete()
                        .to(me)
                        .wrap(auth_actix::guard(Guard::any_role(["admin"]))),
                ),
        );
}

/// The app: routes, helper routes and the middleware.
macro_rules! app {
    ($authenticator:expr) => {{
        let authenticator: Authenticator = $authenticator;
        atest::init_service(
            App::new()
                .configure(routes)
                .configure(auth_actix::helper_routes(&authenticator))
                .wrap(AuthMiddleware::new(authenticator)),
        )
        .await
    }};
}

fn bearer(path: &str, token: &str) -> atest::TestRequest {
    atest::TestRequest::get()
        .uri(path)
        .insert_header(("authorization", format!("Bearer {token}")))
}

fn header<B>(response: &actix_web::dev::ServiceResponse<B>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_owned())
}

async fn body_json<B: MessageBody>(response: actix_web::dev::ServiceResponse<B>) -> Value {
    let bytes = atest::read_body(response).await;
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------- Auth

#[actix_web::test]
async fn bearer_token_is_accepted() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let token = issuer.token().sub("alice").roles(&["admin"]).sign();
    let response = atest::call_service(&app, bearer("/me", &token).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("private, no-store")
    );
    assert_eq!(
        header(&response, "vary").as_deref(),
        Some("Cookie, Authorization")
    );
    let body = body_json(response).await;
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["roles"][0], "admin");
}

#[actix_web::test]
async fn no_credential_is_401_with_a_bare_challenge() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let response =
        atest::call_service(&app, atest::TestRequest::get().uri("/me").to_request()).await;
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

#[actix_web::test]
async fn expired_and_forged_tokens_are_401_invalid_token() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let expired = issuer.token().sub("alice").expires_in(-120).sign();
    let forged = issuer
        .token()
        .sub("alice")
        .sign_hs256_with(issuer.public_key_pem("rsa-1").as_bytes());
    for (token, code) in [(expired, "token_expired"), (forged, "token_invalid")] {
        let response = atest::call_service(&app, bearer("/me", &token).to_request()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = header(&response, "www-authenticate").expect("challenge");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert_eq!(body_json(response).await["error"]["code"], code);
    }
}

#[actix_web::test]
async fn two_authorization_headers_are_400_invalid_request() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let token = issuer.token().sub("alice").sign();
    let request = atest::TestRequest::get()
        .uri("/me")
        .append_header(("authorization", format!("Bearer {token}")))
        .append_header(("authorization", format!("Bearer {token}")))
        .to_request();
    let response = atest::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_json(response).await["error"]["code"],
        "invalid_request"
    );
}

#[actix_web::test]
async fn a_non_ascii_credential_is_refused_not_ignored() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let value =
        actix_web::http::header::HeaderValue::from_bytes(b"Bearer t\xc3\xb6ken").expect("obs-text");
    let request = atest::TestRequest::get()
        .uri("/optional")
        .insert_header(("authorization", value))
        .to_request();
    let response = atest::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn public_routes_under_the_middleware_need_nothing() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let response = atest::call_service(&app, bearer("/public", "not-a-jwt").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        (
            header(&response, "vary"),
            header(&response, "cache-control")
        ),
        (None, None)
    );
}

// ---------------------------------------------------------------- OptionalAuth

#[actix_web::test]
async fn optional_auth_is_none_without_some_with_and_refuses_a_bad_credential() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let none = atest::call_service(
        &app,
        atest::TestRequest::get().uri("/optional").to_request(),
    )
    .await;
    assert_eq!(none.status(), StatusCode::OK);
    assert_eq!(
        header(&none, "vary").as_deref(),
        Some("Cookie, Authorization")
    );
    assert_eq!(body_json(none).await["sub"], Value::Null);
    let bob = issuer.token().sub("bob").sign();
    let some = atest::call_service(&app, bearer("/optional", &bob).to_request()).await;
    assert_eq!(body_json(some).await["sub"], "bob");
    let expired = issuer.token().sub("bob").expires_in(-120).sign();
    let bad = atest::call_service(&app, bearer("/optional", &expired).to_request()).await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(bad).await["error"]["code"], "token_expired");
}

// ---------------------------------------------------------------- application claims

#[derive(Debug, Clone, serde::Deserialize)]
struct Plan {
    plan: String,
}

#[actix_web::test]
async fn application_claims_are_typed_and_a_wrong_shape_is_token_invalid() {
    let issuer = TestIssuer::start().await;
    let app = atest::init_service(
        App::new()
            .route(
                "/plan",
                web::get().to(async |Auth(claims): Auth<Plan>| claims.extra.plan),
            )
            .wrap(AuthMiddleware::new(authenticator(&issuer))),
    )
    .await;
    let gold = issuer.token().sub("alice").claim("plan", "gold").sign();
    let response = atest::call_service(&app, bearer("/plan", &gold).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(&atest::read_body(response).await[..], b"gold");
    let wrong = issuer.token().sub("alice").claim("plan", 42).sign();
    let response = atest::call_service(&app, bearer("/plan", &wrong).to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "token_invalid");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`plan`")),
        "{body}"
    );
}

// ---------------------------------------------------------------- guards

#[actix_web::test]
async fn role_guard_admits_the_role_refuses_others_and_needs_a_credential() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let alice = issuer.token().sub("alice").roles(&["admin"]).sign();
    let response = atest::call_service(&app, bearer("/admin", &alice).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let bob = issuer.token().sub("bob").roles(&["user"]).sign();
    let response = atest::call_service(&app, bearer("/admin", &bob).to_request()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body_json(response).await["error"]["code"],
        "permission_denied"
    );
    let response =
        atest::call_service(&app, atest::TestRequest::get().uri("/admin").to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn scope_guard_names_the_scope() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let token = issuer.token().sub("bob").scope("openid").sign();
    let response = atest::call_service(&app, bearer("/write", &token).to_request()).await;
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
}

#[actix_web::test]
async fn a_guard_on_one_method_leaves_the_others_open() {
    let issuer = TestIssuer::start().await;
    let app = app!(authenticator(&issuer));
    let get = atest::call_service(&app, atest::TestRequest::get().uri("/items").to_request()).await;
    assert_eq!(get.status(), StatusCode::OK);
    let delete = atest::call_service(
        &app,
        atest::TestRequest::delete().uri("/items").to_request(),
    )
    .await;
    assert_eq!(delete.status(), StatusCode::UNAUTHORIZED);
    let bob = issuer.token().sub("bob").roles(&["user"]).sign();
    let request = atest::TestRequest::delete()
        .uri("/items")
        .insert_header(("authorization", format!("Bearer {bob}")))
        .to_request();
    assert_eq!(
        atest::call_service(&app, request).await.status(),
        StatusCode::FORBIDDEN
    );
    let alice = issuer.token().sub("alice").roles(&["admin"]).sign();
    let request = atest::TestRequest::delete()
        .uri("/items")
        .insert_header(("authorization", format!("Bearer {alice}")))
        // Cross-site, but a bearer token: no origin check.
        .insert_header(("sec-fetch-site", "cross-site"))
        .to_request();
    assert_eq!(
        atest::call_service(&app, request).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_guard_in_a_handler_gets_the_realm_like_the_guard_middleware() {
    let issuer = TestIssuer::start().await;
    let app = app!(
        builder(&issuer)
            .realm("api")
            .build()
            .expect("authenticator")
    );
    let token = issuer.token().sub("bob").sign();
    let mut seen = Vec::new();
    for path in ["/editor", "/write"] {
        let response = atest::call_service(&app, bearer(path, &token).to_request()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        seen.push((
            header(&response, "www-authenticate"),
            body_json(response).await,
        ));
    }
    assert_eq!(seen[0], seen[1]);
    let www = seen[0].0.clone().unwrap_or_default();
    assert!(www.contains(r#"realm="api""#), "{www}");
}

// ---------------------------------------------------------------- AuthMiddleware::required

#[actix_web::test]
async fn required_refuses_requests_without_credential_and_leaves_helper_routes_open() {
    let issuer = TestIssuer::start().await;
    let authenticator = authenticator(&issuer);
    let app = atest::init_service(
        App::new()
            .route("/anything", web::get().to(async || "secret"))
            .configure(auth_actix::helper_routes(&authenticator))
            .wrap(AuthMiddleware::new(authenticator).required()),
    )
    .await;
    let response = atest::call_service(
        &app,
        atest::TestRequest::get().uri("/anything").to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some("Bearer")
    );
    let token = issuer.token().sub("alice").sign();
    let response = atest::call_service(&app, bearer("/anything", &token).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let login = atest::call_service(
        &app,
        atest::TestRequest::get().uri("/auth/login").to_request(),
    )
    .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let location = header(&login, "location").expect("location");
    assert!(location.starts_with(issuer.issuer()), "{location}");
    assert!(header(&login, "set-cookie").is_some(), "flow cookie");
}

// ---------------------------------------------------------------- customisation

#[actix_web::test]
async fn the_error_handler_renders_every_rejection_and_keeps_the_challenge() {
    let issuer = TestIssuer::start().await;
    let app = app!(
        builder(&issuer)
            .realm("api")
            .error_handler(|err, mut response| {
                response.status = 418;
                response.with_json_body(&json!({ "custom": err.code().as_str() }))
            })
            .build()
            .expect("authenticator")
    );
    let bob = issuer.token().sub("bob").sign();
    let cases = [
        (atest::TestRequest::get().uri("/me"), "token_missing"),
        (bearer("/admin", &bob), "permission_denied"),
        (bearer("/editor", &bob), "permission_denied"),
        (bearer("/me", "not-a-jwt"), "token_invalid"),
        (
            atest::TestRequest::get().uri("/auth/callback?code=x&state=y"),
            "state_mismatch",
        ),
    ];
    for (request, code) in cases {
        let response = atest::call_service(&app, request.to_request()).await;
        assert_eq!(response.status().as_u16(), 418, "{code}");
        if code != "state_mismatch" {
            let www = header(&response, "www-authenticate").unwrap_or_default();
            assert!(www.starts_with(r#"Bearer realm="api""#), "{code}: {www}");
        }
        assert_eq!(body_json(response).await["custom"], code);
    }
}

#[actix_web::test]
async fn a_handler_can_take_the_rejection() {
    let issuer = TestIssuer::start().await;
    let app = atest::init_service(
        App::new()
            .route(
                "/",
                web::get().to(async |auth: Result<Auth, AuthRejection>| match auth {
                    Ok(_) => HttpResponse::Ok().body("in"),
                    Err(rejection) => {
                        assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
                        assert!(rejection.body_text().contains("token_missing"));
                        HttpResponse::Unauthorized().body("please sign in")
                    }
                }),
            )
            .wrap(AuthMiddleware::new(authenticator(&issuer))),
    )
    .await;
    let response = atest::call_service(&app, atest::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(&atest::read_body(response).await[..], b"please sign in");
}

// ---------------------------------------------------------------- setup

#[actix_web::test]
async fn without_an_authenticator_extractors_and_guards_answer_500_naming_the_fix() {
    let app = atest::init_service(App::new().configure(routes)).await;
    for path in ["/me", "/optional", "/admin"] {
        let response =
            atest::call_service(&app, atest::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        let body = body_json(response).await;
        assert_eq!(body["error"]["code"], "config_invalid");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("AuthMiddleware"), "{message}");
        assert!(message.contains("app_data"), "{message}");
    }
}

#[actix_web::test]
async fn a_bearer_only_api_works_from_app_data_alone() {
    let issuer = TestIssuer::start().await;
    let app = atest::init_service(
        App::new()
            .app_data(issuer.bearer_authenticator())
            .configure(routes),
    )
    .await;
    let alice = issuer.token().sub("alice").roles(&["admin"]).sign();
    let response = atest::call_service(&app, bearer("/admin", &alice).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response =
        atest::call_service(&app, atest::TestRequest::get().uri("/me").to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn sessions_without_the_middleware_answer_500_naming_it() {
    let issuer = TestIssuer::start().await;
    let app = atest::init_service(
        App::new()
            .app_data(authenticator(&issuer))
            .configure(routes),
    )
    .await;
    let token = issuer.token().sub("alice").sign();
    let response = atest::call_service(&app, bearer("/me", &token).to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = body_json(response).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("AuthMiddleware")),
        "{body}"
    );
}

// ---------------------------------------------------------------- workers

#[test]
fn the_authenticator_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Authenticator>();
    assert_send_sync::<AuthMiddleware>();
    assert_send_sync::<auth_actix::GuardMiddleware>();
}

#[test]
fn every_worker_shares_one_key_cache() {
    // actix's own server: four workers, each a single-threaded runtime.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let issuer = runtime.block_on(TestIssuer::start());
    let authenticator = issuer.bearer_authenticator();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                App::new()
                    .wrap(AuthMiddleware::new(authenticator.clone()))
                    .configure(routes)
            })
            .workers(4)
            .listen(listener)
            .expect("listen")
            .run();
            handle_tx.send(server.handle()).expect("send the handle");
            server.await
        })
    });
    let handle = handle_rx.recv().expect("the server starts");
    let token = issuer.token().sub("alice").sign();
    let before = issuer.jwks_requests();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let request = http.get(format!("http://{addr}/me")).bearer_auth(&token);
            tasks.push(tokio::spawn(async move {
                request.send().await.expect("response").status().as_u16()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("task"), 200);
        }
        handle.stop(true).await;
    });
    server.join().expect("server thread").expect("server");
    assert_eq!(
        issuer.jwks_requests() - before,
        1,
        "one key fetch for every worker"
    );
}
