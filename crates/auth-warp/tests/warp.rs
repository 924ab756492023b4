//! auth-warp over real HTTP on 127.0.0.1: the routes served by `auth_warp::serve`, the issuer a
//! real `TestIssuer`; and one check in warp's own test style (`warp::test`).

use std::time::Duration;

use auth_issuer::TestIssuer;
use auth_warp::auth_core::adapter::{RequestAuth, Unauthenticated};
use auth_warp::auth_core::{
    Authenticator, AuthenticatorBuilder, Guard, JwksPolicy, NoExtraClaims, Verifier,
};
use auth_warp::{Auth, AuthLayer, AuthRejection};
use serde_json::{Value, json};
use warp::Filter;
use warp::reject::Rejection;

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

/// The routes every test app has, with the helper routes and `recover`.
fn routes(
    authenticator: Authenticator,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Rejection> + Clone {
    let me = warp::path!("me")
        .and(auth_warp::auth::<NoExtraClaims>())
        .map(|Auth(claims): Auth| {
            warp::reply::json(&json!({ "sub": claims.sub, "roles": claims.roles() }))
        });
    let optional = warp::path!("optional")
        .and(auth_warp::optional_auth::<NoExtraClaims>())
        .map(|auth: Option<Auth>| {
            warp::reply::json(&json!({ "sub": auth.and_then(|Auth(c)| c.sub) }))
        });
    let public = warp::path!("public").map(|| "public");
    let admin = warp::path!("admin")
        .and(auth_warp::guard(Guard::any_role(["admin"])))
        .map(|| "admin");
    let write = warp::path!("write")
        .and(auth_warp::guard(Guard::all_scopes(["articles:write"])))
        .map(|| "written");
    let editor = warp::path!("editor")
        .and(auth_warp::auth::<NoExtraClaims>())
        .and_then(async |Auth(claims): Auth| {
            Guard::all_scopes(["articles:write"])
                .check(&claims)
                .map(|()| "ok")
                .map_err(|e| warp::reject::custom(AuthRejection::from(e)))
        });
    let items = warp::path!("items").and(
        warp::get().map(|| "items").or(warp::delete()
            .and(auth_warp::guard(Guard::any_role(["admin"])))
            .map(|| "deleted")),
    );
    me.or(optional)
        .or(public)
        .or(admin)
        .or(write)
        .or(editor)
        .or(items)
        .or(auth_warp::helper_routes(&authenticator))
        .recover(auth_warp::recover)
}

/// Serves `routes` behind `layer` on a free port; the base URL.
async fn spawn<F>(layer: AuthLayer, routes: F) -> String
where
    F: Filter<Error = Rejection> + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(auth_warp::serve(
        listener,
        layer,
        routes,
        std::future::pending(),
    ));
    url
}

async fn app(authenticator: Authenticator) -> String {
    let routes = routes(authenticator.clone());
    spawn(AuthLayer::new(authenticator), routes).await
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("response");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn bearer_token_is_accepted_and_not_cached() {
    let issuer = TestIssuer::start().await;
    let url = app(authenticator(&issuer)).await;
    let token = issuer.token().sub("alice").roles(&["admin"]).sign();
    let r = send(http().get(format!("{url}/me")).bearer_auth(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["sub"], "alice");
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert_eq!(r.header("vary"), Some("Cookie, Authorization"));
}

#[tokio::test]
async fn refusals_have_the_taxonomy_status_body_and_challenge() {
    let issuer = TestIssuer::start().await;
    let url = app(authenticator(&issuer)).await;
    let r = send(http().get(format!("{url}/me"))).await;
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, Some("Bearer"))
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["error"]["code"], "token_missing");
    let expired = issuer.token().sub("alice").expires_in(-120).sign();
    let r = send(http().get(format!("{url}/me")).bearer_auth(&expired)).await;
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap_or_default()
            .contains(r#"error="invalid_token""#)
    );
    assert_eq!(r.json()["error"]["code"], "token_expired");
    let token = issuer.token().sub("alice").sign();
    let r = send(
        http()
            .get(format!("{url}/me"))
            .header("authorization", format!("Bearer {token}"))
            .header("authorization", format!("Bearer {token}")),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "invalid_request");
    let r = send(http().get(format!("{url}/optional")).header(
        "authorization",
        reqwest::header::HeaderValue::from_bytes(b"Bearer t\xc3\xb6ken").expect("obs-text"),
    ))
    .await;
    assert_eq!(
        r.status, 400,
        "a non-ASCII credential is refused, not ignored"
    );
}

#[tokio::test]
async fn public_routes_need_nothing_and_stay_cacheable() {
    let issuer = TestIssuer::start().await;
    let url = app(authenticator(&issuer)).await;
    let r = send(http().get(format!("{url}/public")).bearer_auth("not-a-jwt")).await;
    assert_eq!(r.status, 200);
    assert_eq!((r.header("vary"), r.header("cache-control")), (None, None));
}

#[tokio::test]
async fn optional_auth_is_none_without_some_with_and_refuses_a_bad_credential() {
    let issuer = TestIssuer::start().await;
    let url = app(authenticator(&issuer)).await;
    let r = send(http().get(format!("{url}/optional"))).await;
    assert_eq!((r.status, r.json()["sub"].clone()), (200, Value::Null));
    assert_eq!(r.header("vary"), Some("Cookie, Authorization"));
    let bob = issuer.token().sub("bob").sign();
    let r = send(http().get(format!("{url}/optional")).bearer_auth(&bob)).await;
    assert_eq!(r.json()["sub"], "bob");
    let expired = issuer.token().sub("bob").expires_in(-120).sign();
    let r = send(http().get(format!("{url}/optional")).bearer_auth(&expired)).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (401, json!("token_expired"))
    );
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Plan {
    plan: String,
}

#[tokio::test]
async fn application_claims_are_typed_and_a_wrong_shape_is_token_invalid() {
    let issuer = TestIssuer::start().await;
    let routes = warp::path!("plan")
        .and(auth_warp::auth::<Plan>())
        .map(|Auth(claims): Auth<Plan>| claims.extra.plan)
        .recover(auth_warp::recover);
    let url = spawn(AuthLayer::new(authenticator(&issuer)), routes).await;
    let gold = issuer.token().claim("plan", "gold").sign();
    let r = send(http().get(format!("{url}/plan")).bearer_auth(&gold)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "gold"));
    let wrong = issuer.token().claim("plan", 42).sign();
    let r = send(http().get(format!("{url}/plan")).bearer_auth(&wrong)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "token_invalid");
}

// ---------------------------------------------------------------- guards

#[tokio::test]
async fn role_and_scope_guards() {
    let issuer = TestIssuer::start().await;
    let url = app(authenticator(&issuer)).await;
    let alice = issuer.token().sub("alice").roles(&["admin"]).sign();
    let bob = issuer
        .token()
        .sub("bob")
        .roles(&["user"])
        .scope("openid")
        .sign();
    assert_eq!(
        send(http().get(format!("{url}/admin")).bearer_auth(&alice))
            .await
            .status,
        200
    );
    let r = send(http().get(format!("{url}/admin")).bearer_auth(&bob)).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (403, json!("permission_denied"))
    );
    assert_eq!(send(http().get(format!("{url}/admin"))).await.status, 401);
    let r = send(http().get(format!("{url}/write")).bearer_auth(&bob)).await;
    assert_eq!(r.status, 403);
    let www = r.header("www-authenticate").unwrap_or_default();
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
    assert!(www.contains(r#"scope="articles:write""#), "{www}");
}

#[tokio::test]
async fn a_guard_on_one_method_leaves_the_others_open() {
    let issuer = TestIssuer::start().await;
    let url = app(authenticator(&issuer)).await;
    assert_eq!(send(http().get(format!("{url}/items"))).await.status, 200);
    assert_eq!(
        send(http().delete(format!("{url}/items"))).await.status,
        401
    );
    let bob = issuer.token().sub("bob").roles(&["user"]).sign();
    assert_eq!(
        send(http().delete(format!("{url}/items")).bearer_auth(&bob))
            .await
            .status,
        403
    );
    let alice = issuer.token().sub("alice").roles(&["admin"]).sign();
    let r = send(
        http()
            .delete(format!("{url}/items"))
            .bearer_auth(&alice)
            .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!(r.status, 200, "a bearer token is not origin-checked");
}

#[tokio::test]
async fn a_guard_in_a_handler_gets_the_realm_like_the_guard_filter() {
    let issuer = TestIssuer::start().await;
    let url = app(builder(&issuer)
        .realm("api")
        .build()
        .expect("authenticator"))
    .await;
    let token = issuer.token().sub("bob").sign();
    let mut seen = Vec::new();
    for path in ["/editor", "/write"] {
        let r = send(http().get(format!("{url}{path}")).bearer_auth(&token)).await;
        assert_eq!(r.status, 403, "{path}");
        seen.push((r.header("www-authenticate").map(str::to_owned), r.json()));
    }
    assert_eq!(seen[0], seen[1]);
    assert!(
        seen[0]
            .0
            .as_deref()
            .unwrap_or_default()
            .contains(r#"realm="api""#)
    );
}

// ---------------------------------------------------------------- the layer

#[tokio::test]
async fn required_refuses_requests_without_credential_and_leaves_helper_routes_open() {
    let issuer = TestIssuer::start().await;
    let authenticator = authenticator(&issuer);
    let routes = warp::path!("anything")
        .map(|| "secret")
        .or(auth_warp::helper_routes(&authenticator))
        .recover(auth_warp::recover);
    let url = spawn(AuthLayer::new(authenticator).required(), routes).await;
    let r = send(http().get(format!("{url}/anything"))).await;
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, Some("Bearer"))
    );
    let token = issuer.token().sub("alice").sign();
    assert_eq!(
        send(http().get(format!("{url}/anything")).bearer_auth(&token))
            .await
            .status,
        200
    );
    let login = send(http().get(format!("{url}/auth/login"))).await;
    assert_eq!(login.status, 303);
    assert!(
        login
            .header("location")
            .unwrap_or_default()
            .starts_with(issuer.issuer())
    );
    assert!(login.header("set-cookie").is_some(), "flow cookie");
}

#[tokio::test]
async fn the_error_handler_renders_every_rejection_and_keeps_the_challenge() {
    let issuer = TestIssuer::start().await;
    let url = app(builder(&issuer)
        .realm("api")
        .error_handler(|err, mut response| {
            response.status = 418;
            response.with_json_body(&json!({ "custom": err.code().as_str() }))
        })
        .build()
        .expect("authenticator"))
    .await;
    let bob = issuer.token().sub("bob").sign();
    let cases = [
        (http().get(format!("{url}/me")), "token_missing"),
        (
            http().get(format!("{url}/admin")).bearer_auth(&bob),
            "permission_denied",
        ),
        (
            http().get(format!("{url}/editor")).bearer_auth(&bob),
            "permission_denied",
        ),
        (
            http().get(format!("{url}/me")).bearer_auth("not-a-jwt"),
            "token_invalid",
        ),
        (
            http().get(format!("{url}/auth/callback?code=x&state=y")),
            "state_mismatch",
        ),
    ];
    for (request, code) in cases {
        let r = send(request).await;
        assert_eq!(r.status, 418, "{code}: {}", r.body);
        if code != "state_mismatch" {
            let www = r.header("www-authenticate").unwrap_or_default();
            assert!(www.starts_with(r#"Bearer realm="api""#), "{code}: {www}");
        }
        assert_eq!(r.json()["custom"], code);
    }
}

#[tokio::test]
async fn without_the_layer_filters_answer_500_naming_the_fix() {
    let issuer = TestIssuer::start().await;
    let authenticator = authenticator(&issuer);
    let routes = routes(authenticator.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    for path in ["/me", "/optional", "/admin"] {
        let r = send(http().get(format!("{url}{path}"))).await;
        assert_eq!(r.status, 500, "{path}");
        assert_eq!(r.json()["error"]["code"], "config_invalid");
        let message = r.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains("AuthLayer"), "{message}");
    }
}

// ---------------------------------------------------------------- warp::test

#[tokio::test]
async fn filters_work_in_warp_test_style_with_a_request_auth_extension() {
    let issuer = TestIssuer::start().await;
    let authenticator = issuer.bearer_authenticator();
    let token = issuer.token().sub("alice").sign();
    let response = warp::test::request()
        .path("/me")
        .header("authorization", format!("Bearer {token}"))
        .extension(RequestAuth::new(&authenticator, Unauthenticated::Reject))
        .reply(&routes(authenticator.clone()))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(response.body()).expect("json");
    assert_eq!(body["sub"], "alice");
}
