//! Session flows against auth-issuer over real HTTP: login → callback → me, refresh rotation and
//! reuse, transparent refresh, sign-out, state and redirect attacks, cookie flags, hooks, guards
//! and token sources. The browser is a small cookie jar over `SimpleRequest`; everything between
//! the engine and the provider is real HTTP.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use auth_core::adapter::{
    AuthResponse, RequestAuth, ResponseHeaders, SimpleRequest, Unauthenticated,
};
use auth_core::session::{ClearPolicy, SessionConfig, SessionConfigBuilder};
use auth_core::{
    AuthConfig, Authenticator, AuthenticatorBuilder, ErrorCode, Guard, NoExtraClaims,
    ProvisionedUser, TokenSource, Verifier,
};
use auth_issuer::{Fault, TestClient, TestIssuer, TestUser};
use serde_json::Value;

const APP: &str = "http://127.0.0.1:3999";
const SECRET: &str = "test-cookie-secret-0123456789-abcdef";

/// A browser: cookies by name, no domain logic (one app).
#[derive(Default, Debug)]
struct Browser {
    jar: BTreeMap<String, String>,
}

impl Browser {
    fn absorb(&mut self, response: &AuthResponse) {
        for (name, value) in &response.headers {
            if name != "set-cookie" {
                continue;
            }
            let c = cookie::Cookie::parse(value.clone()).expect("valid Set-Cookie");
            if c.max_age() == Some(cookie::time::Duration::ZERO) {
                self.jar.remove(c.name());
            } else {
                self.jar.insert(c.name().to_owned(), c.value().to_owned());
            }
        }
    }

    fn request(&self, method: &str, path_and_query: &str) -> SimpleRequest {
        let mut r = SimpleRequest::new(method, path_and_query);
        if !self.jar.is_empty() {
            let header: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            r = r.header("cookie", &header.join("; "));
        }
        r
    }
}

/// Response headers for [`RequestAuth::finish`].
#[derive(Default, Debug)]
struct Headers(Vec<(String, Vec<u8>)>);

impl Headers {
    fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(n, _)| n == name).count()
    }
}

impl ResponseHeaders for Headers {
    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for (n, v) in &self.0 {
            if n == name {
                f(v);
            }
        }
    }
    fn append(&mut self, name: &'static str, value: &[u8]) {
        self.0.push((name.to_owned(), value.to_vec()));
    }
}

async fn issuer_with(
    configure: impl FnOnce(auth_issuer::TestIssuerBuilder) -> auth_issuer::TestIssuerBuilder,
) -> TestIssuer {
    let b = TestIssuer::builder()
        .client(
            TestClient::confidential("web-app", "web-secret")
                .redirect_uri(format!("{APP}/auth/callback"))
                .post_logout_redirect_uri(format!("{APP}/")),
        )
        .user(
            TestUser::new("alice")
                .name("Alice")
                .email("alice@example.com")
                .roles(&["admin"]),
        )
        .user(TestUser::new("bob").roles(&["user"]))
        .auto_login(Some("alice"));
    configure(b).start().await.expect("issuer")
}

fn authenticator_with(
    issuer: &TestIssuer,
    session: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
) -> Authenticator {
    built(issuer, session, |b| b)
}

/// An authenticator for `issuer` with sessions for the `web-app` client.
fn built(
    issuer: &TestIssuer,
    session: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
    configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder,
) -> Authenticator {
    let config = AuthConfig::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .jwks_policy(common::fast_policy())
        .build()
        .expect("config");
    let session = session(
        SessionConfig::builder(APP)
            .client_id("web-app")
            .client_secret("web-secret")
            .cookie_secret(SECRET),
    )
    .build()
    .expect("session");
    configure(Authenticator::builder(Verifier::new(config).expect("verifier")).sessions(session))
        .build()
        .expect("authenticator")
}

fn authenticator(issuer: &TestIssuer) -> Authenticator {
    authenticator_with(issuer, |s| s)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Follows the provider side of a login (auto-login) and returns the callback path+query.
async fn provider_round_trip(login: &AuthResponse) -> String {
    assert_eq!(login.status, 303, "{login:?}");
    let authorize = login.header("location").expect("location").to_owned();
    let r = http().get(&authorize).send().await.expect("authorize");
    assert!(
        r.status().is_redirection(),
        "authorize answered {}",
        r.status()
    );
    let back = r.headers()["location"].to_str().expect("ascii").to_owned();
    back.strip_prefix(APP)
        .expect("redirect to the app")
        .to_owned()
}

async fn sign_in(auth: &Authenticator, browser: &mut Browser, return_to: &str) -> AuthResponse {
    let login = auth
        .login(&browser.request("GET", &format!("/auth/login?return_to={return_to}")))
        .await;
    browser.absorb(&login);
    let callback = provider_round_trip(&login).await;
    let done = auth.callback(&browser.request("GET", &callback)).await;
    browser.absorb(&done);
    done
}

fn body(r: &AuthResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------- login and callback

#[tokio::test]
async fn login_callback_me() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    let done = sign_in(&auth, &mut browser, "/dashboard").await;
    assert_eq!(
        (done.status, done.header("location")),
        (303, Some("/dashboard")),
        "{:?}",
        body(&done)
    );
    assert!(browser.jar.contains_key("auth.session") && browser.jar.contains_key("auth.refresh"));
    assert!(
        !browser.jar.keys().any(|k| k.contains("flow")),
        "flow cookie cleared"
    );
    let me = auth.me(&browser.request("GET", "/auth/me")).await;
    assert_eq!(me.status, 200, "{:?}", body(&me));
    let me = body(&me);
    assert_eq!(me["success"], true);
    assert_eq!(me["data"]["user"]["sub"], "alice");
    assert_eq!(me["data"]["user"]["roles"], serde_json::json!(["admin"]));
    assert_eq!(me["data"]["claims"]["iss"], issuer.issuer());
}

#[tokio::test]
async fn login_request_uses_pkce_state_and_nonce() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let login = auth.login(&SimpleRequest::get("/auth/login")).await;
    let url = url::Url::parse(login.header("location").expect("location")).expect("url");
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["redirect_uri"], format!("{APP}/auth/callback"));
    assert!(q["state"].len() >= 43 && q.contains_key("nonce"));
    let cookie = login
        .headers
        .iter()
        .find(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .expect("flow cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
}

#[tokio::test]
async fn open_redirects_are_refused() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    for target in [
        "//evil.com",
        "/%5Cevil.com",
        "https://evil.com",
        "javascript:alert(1)",
        "%2F%2Fevil.com",
        "/%0d%0aSet-Cookie:x=y",
    ] {
        let r = auth
            .login(&SimpleRequest::get(&format!(
                "/auth/login?return_to={target}"
            )))
            .await;
        assert_eq!(r.status, 400, "{target}");
        assert_eq!(body(&r)["error"]["code"], "invalid_request");
    }
}

#[tokio::test]
async fn callback_state_attacks_are_state_mismatch() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    let login = auth.login(&browser.request("GET", "/auth/login")).await;
    browser.absorb(&login);
    let callback = provider_round_trip(&login).await;
    let url = url::Url::parse(&format!("{APP}{callback}")).expect("url");
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let (code, state) = (&q["code"], &q["state"]);
    let iss = urlencode(issuer.issuer());
    let cases = [
        format!("/auth/callback?code={code}&iss={iss}"),
        format!("/auth/callback?code={code}&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&iss={iss}"),
        format!("/auth/callback?code={code}&state={state}&state={state}&iss={iss}"),
        format!("/auth/callback?code={code}&code={code}&state={state}&iss={iss}"),
    ];
    for path in &cases {
        let r = auth.callback(&browser.request("GET", path)).await;
        assert_eq!(body(&r)["error"]["code"], "state_mismatch", "{path}");
        assert_eq!(r.status, 400);
    }
    // Another browser (no flow cookie) presenting this browser's response.
    let r = auth
        .callback(&Browser::default().request("GET", &callback))
        .await;
    assert_eq!(body(&r)["error"]["code"], "state_mismatch");
    // The real one succeeds once; a replay fails.
    let ok = auth.callback(&browser.request("GET", &callback)).await;
    assert_eq!(ok.status, 303, "{:?}", body(&ok));
    browser.absorb(&ok);
    let replay = auth.callback(&browser.request("GET", &callback)).await;
    assert_eq!(body(&replay)["error"]["code"], "state_mismatch");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn callback_with_another_issuer_is_refused() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    let login = auth.login(&browser.request("GET", "/auth/login")).await;
    browser.absorb(&login);
    let callback = provider_round_trip(&login).await;
    let forged = callback.replace(
        &urlencode(issuer.issuer()),
        &urlencode("https://evil.example.com"),
    );
    assert_ne!(forged, callback);
    let r = auth.callback(&browser.request("GET", &forged)).await;
    assert_eq!(body(&r)["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn provider_error_responses_are_typed() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    let login = auth.login(&browser.request("GET", "/auth/login")).await;
    browser.absorb(&login);
    let url = url::Url::parse(login.header("location").expect("location")).expect("url");
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let path = format!(
        "/auth/callback?error=access_denied&state={state}&iss={}",
        urlencode(issuer.issuer())
    );
    let r = auth.callback(&browser.request("GET", &path)).await;
    // Back to return_to (default /) with the stable code; flow cookie cleared; no session.
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/?auth_error=permission_denied"))
    );
    browser.absorb(&r);
    assert!(browser.jar.is_empty(), "{:?}", browser.jar.keys());
    assert_eq!(
        issuer.requests_to("/token"),
        0,
        "no token request after an error response"
    );
}

// ---------------------------------------------------------------- cookies

#[tokio::test]
async fn cookie_flags_and_sizes() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    let done = sign_in(&auth, &mut browser, "/").await;
    for (name, value) in &done.headers {
        if name != "set-cookie" {
            continue;
        }
        assert!(value.contains("HttpOnly"), "{value}");
        assert!(
            value.contains("SameSite=Lax") && value.contains("Path=/"),
            "{value}"
        );
        assert!(value.len() < 4096, "{} bytes", value.len());
        assert!(!value.contains("Secure"), "http dev app: not Secure");
    }
    // Over https: Secure and __Host-.
    let https = authenticator_with(&issuer, |s| s.app_url("https://app.example.com"));
    let login = https.login(&SimpleRequest::get("/auth/login")).await;
    let c = login.header("set-cookie").expect("cookie");
    assert!(
        c.starts_with("__Host-auth.flow-") && c.contains("Secure") && !c.contains("Domain"),
        "{c}"
    );
}

#[tokio::test]
async fn tampered_foreign_and_rotated_cookies() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    // Tampered: treated as no session, never a 500.
    let mut tampered = Browser {
        jar: browser.jar.clone(),
    };
    let v = tampered.jar.get_mut("auth.session").expect("session");
    v.replace_range(10..12, "AA");
    tampered.jar.remove("auth.refresh");
    let r = auth.me(&tampered.request("GET", "/auth/me")).await;
    assert_eq!(
        (r.status, body(&r)["error"]["code"].clone()),
        (401, Value::from("token_missing"))
    );
    // Sealed with another secret: no session.
    let other = authenticator_with(&issuer, |s| {
        s.cookie_secret("a-completely-different-secret-0123456789")
    });
    assert_eq!(
        other.me(&browser.request("GET", "/auth/me")).await.status,
        401
    );
    // Rotation: the old secret listed as old still opens existing cookies.
    let rotated = authenticator_with(&issuer, |s| {
        s.cookie_secret("the-next-secret-0123456789-abcdefgh")
            .old_cookie_secret(SECRET)
    });
    assert_eq!(
        rotated.me(&browser.request("GET", "/auth/me")).await.status,
        200
    );
}

// ---------------------------------------------------------------- refresh

#[tokio::test]
async fn refresh_rotates_tokens() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let old_refresh = browser.jar["auth.refresh"].clone();
    let r = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(r.status, 200, "{:?}", body(&r));
    browser.absorb(&r);
    assert_ne!(
        browser.jar["auth.refresh"], old_refresh,
        "a new refresh cookie"
    );
    assert_eq!(
        auth.me(&browser.request("GET", "/auth/me")).await.status,
        200
    );
}

#[tokio::test]
async fn refresh_reuse_signs_out_cleanly() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let stolen = Browser {
        jar: browser.jar.clone(),
    };
    let r = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    browser.absorb(&r);
    assert_eq!(r.status, 200);
    // Another instance (no shared grace cache) replays the rotated refresh token.
    let other_instance = authenticator(&issuer);
    let replay = other_instance
        .refresh(&stolen.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(replay.status, 401, "{:?}", body(&replay));
    assert_eq!(body(&replay)["error"]["code"], "invalid_grant");
    let mut cleared = Browser {
        jar: stolen.jar.clone(),
    };
    cleared.absorb(&replay);
    assert!(
        cleared.jar.is_empty(),
        "cookies cleared: {:?}",
        cleared.jar.keys()
    );
    // The provider revoked the whole family: the legitimate browser's refresh fails too.
    let again = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(again.status, 401);
}

#[tokio::test]
async fn a_replay_of_superseded_cookies_after_the_next_rotation_reaches_the_provider() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let cookies_a = Browser {
        jar: browser.jar.clone(),
    };
    // A -> B, then B -> C: the session's newest state is C.
    for _ in 0..2 {
        let r = auth
            .refresh(&browser.request("POST", "/auth/refresh"))
            .await;
        assert_eq!(r.status, 200, "{:?}", body(&r));
        browser.absorb(&r);
    }
    let before = issuer.requests_to("/token");
    // Well within the grace window, but A's result (B) has itself been rotated.
    let replay = auth
        .refresh(&cookies_a.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(replay.status, 401, "{:?}", body(&replay));
    assert_eq!(body(&replay)["error"]["code"], "invalid_grant");
    assert_eq!(
        issuer.requests_to("/token") - before,
        1,
        "the replayed refresh token went to the provider"
    );
    let mut cleared = Browser {
        jar: cookies_a.jar.clone(),
    };
    cleared.absorb(&replay);
    assert!(
        cleared.jar.is_empty(),
        "cookies cleared: {:?}",
        cleared.jar.keys()
    );
    // The provider's reuse detection revoked the family: the current session ends too.
    let current = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(current.status, 401, "{:?}", body(&current));
}

#[tokio::test]
async fn a_replay_through_transparent_refresh_after_the_next_rotation_is_refused() {
    // Access tokens live 2 s (inside the 5 s margin): every cookie use refreshes.
    let issuer = issuer_with(|b| b.access_token_ttl(Duration::from_secs(2))).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let cookies_a = Browser {
        jar: browser.jar.clone(),
    };
    for _ in 0..2 {
        let r = auth
            .refresh(&browser.request("POST", "/auth/refresh"))
            .await;
        assert_eq!(r.status, 200, "{:?}", body(&r));
        browser.absorb(&r);
    }
    let replay = auth
        .authenticate::<NoExtraClaims>(&cookies_a.request("GET", "/api/me"))
        .await
        .expect_err("superseded cookies are refused");
    assert_eq!(replay.code(), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn superseded_cookies_share_the_refresh_they_raced() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let racing = Browser {
        jar: browser.jar.clone(),
    };
    let r = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(r.status, 200);
    browser.absorb(&r);
    let before = issuer.requests_to("/token");
    // A request that left before the new cookies arrived gets the same new tokens.
    let late = auth.refresh(&racing.request("POST", "/auth/refresh")).await;
    assert_eq!(late.status, 200, "{:?}", body(&late));
    assert_eq!(
        issuer.requests_to("/token"),
        before,
        "served from the grace window"
    );
    let mut late_browser = Browser {
        jar: racing.jar.clone(),
    };
    late_browser.absorb(&late);
    let me = auth.me(&late_browser.request("GET", "/auth/me")).await;
    assert_eq!(me.status, 200, "{:?}", body(&me));
}

#[tokio::test]
async fn a_zero_grace_window_sends_every_replay_to_the_provider() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator_with(&issuer, |s| s.refresh_grace(Duration::ZERO));
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let racing = Browser {
        jar: browser.jar.clone(),
    };
    let r = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(r.status, 200);
    let late = auth.refresh(&racing.request("POST", "/auth/refresh")).await;
    assert_eq!(late.status, 401, "{:?}", body(&late));
}

#[tokio::test]
async fn a_grace_window_over_a_minute_is_a_setup_error() {
    let err = SessionConfig::builder(APP)
        .client_id("web-app")
        .refresh_grace(Duration::from_secs(61))
        .build()
        .expect_err("too long");
    assert_eq!(err.variable(), "refresh_grace");
}

#[tokio::test]
async fn transient_refresh_failure_keeps_cookies() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    issuer.set_token_fault(Some(Fault::Status(503)));
    let r = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(r.status, 503, "{:?}", body(&r));
    assert!(r.header("retry-after").is_some());
    assert!(
        !r.headers.iter().any(|(n, _)| n == "set-cookie"),
        "cookies kept"
    );
    issuer.set_token_fault(None);
    let r = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(r.status, 200, "recovers: {:?}", body(&r));
}

#[tokio::test]
async fn clear_policy_always_clears_on_transient_failures() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator_with(&issuer, |s| s.clear_policy(ClearPolicy::Always));
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    issuer.set_token_fault(Some(Fault::Status(503)));
    let r = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(r.status, 503);
    assert!(
        r.headers
            .iter()
            .any(|(n, v)| n == "set-cookie" && v.contains("Max-Age=0"))
    );
}

/// One request of `browser` to `/api/me` through `RequestAuth`, required: how many cookies the
/// response sets.
fn use_session(
    auth: &Authenticator,
    browser: &Browser,
) -> impl std::future::Future<Output = Result<usize, auth_core::AuthError>> + use<> {
    let (auth, req) = (auth.clone(), browser.request("GET", "/api/me"));
    async move {
        let per_request = RequestAuth::new(&auth, Unauthenticated::Reject);
        per_request.required_claims::<NoExtraClaims>(&req).await?;
        let mut headers = Headers::default();
        per_request.finish(&mut headers);
        Ok(headers.count("set-cookie"))
    }
}

#[tokio::test]
async fn expired_access_cookie_is_refreshed_transparently_once_for_concurrent_requests() {
    // Access tokens live 2 s: inside the engine's 5 s margin, so every use refreshes first.
    let issuer = issuer_with(|b| b.access_token_ttl(Duration::from_secs(2))).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let before = issuer.requests_to("/token");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        tasks.push(tokio::spawn(use_session(&auth, &browser)));
    }
    for t in tasks {
        let set = t.await.expect("join").expect("authenticated");
        assert!(set > 0, "new cookies come with the response");
    }
    assert_eq!(
        issuer.requests_to("/token") - before,
        1,
        "one refresh for 20 concurrent requests"
    );
}

#[tokio::test]
async fn a_remembered_session_cookie_still_expires_on_time() {
    // Access tokens live 7 s: beyond the engine's 5 s margin at first, within it 2.5 s later.
    let issuer = issuer_with(|b| b.access_token_ttl(Duration::from_secs(7))).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let before = issuer.requests_to("/token");
    // The second use is answered from the opened-cookie cache: no new cookies, no refresh.
    for _ in 0..2 {
        assert_eq!(use_session(&auth, &browser).await.expect("signed in"), 0);
    }
    assert_eq!(issuer.requests_to("/token"), before);
    // The remembered expiry is checked on every request: now the token is refreshed.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(use_session(&auth, &browser).await.expect("refreshed") > 0);
    assert_eq!(issuer.requests_to("/token"), before + 1);
}

// ---------------------------------------------------------------- sign-out

#[tokio::test]
async fn signout_revokes_clears_and_redirects_to_end_session() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let stolen = Browser {
        jar: browser.jar.clone(),
    };
    let r = auth
        .signout(&browser.request("POST", "/auth/signout"))
        .await;
    assert_eq!(r.status, 303, "{:?}", body(&r));
    let location = r.header("location").expect("location");
    assert!(
        location.contains("/logout?")
            && location.contains("id_token_hint=")
            && location.contains("post_logout_redirect_uri="),
        "{location}"
    );
    browser.absorb(&r);
    assert!(browser.jar.is_empty(), "{:?}", browser.jar.keys());
    assert_eq!(issuer.requests_to("/revoke"), 1);
    assert_eq!(
        auth.me(&browser.request("GET", "/auth/me")).await.status,
        401
    );
    // The revoked refresh token is dead at the provider too.
    let other_instance = authenticator(&issuer);
    assert_eq!(
        other_instance
            .refresh(&stolen.request("POST", "/auth/refresh"))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let r = auth
        .signout(
            &browser
                .request("POST", "/auth/signout")
                .header("origin", "https://evil.example.com"),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = auth
        .refresh(
            &browser
                .request("POST", "/auth/refresh")
                .header("sec-fetch-site", "cross-site"),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = auth
        .signout(
            &browser
                .request("POST", "/auth/signout")
                .header("origin", APP)
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(r.status, 200);
}

// ---------------------------------------------------------------- token sources, guards, hooks

#[tokio::test]
async fn token_sources() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let token = issuer.token().sub("carol").sign();
    let ok = auth
        .authenticate::<NoExtraClaims>(
            &SimpleRequest::get("/x").header("authorization", &format!("bearer {token}")),
        )
        .await
        .expect("bearer");
    assert_eq!(
        (ok.claims.sub.as_deref(), ok.source),
        (Some("carol"), TokenSource::Header)
    );
    let e = auth
        .authenticate::<NoExtraClaims>(&SimpleRequest::get("/x"))
        .await
        .expect_err("none");
    assert_eq!(e.code(), ErrorCode::TokenMissing);
    assert_eq!(
        auth.error_response(&e).header("www-authenticate"),
        Some("Bearer")
    );
    let two = SimpleRequest::get("/x")
        .header("authorization", &format!("Bearer {token}"))
        .header("authorization", &format!("Bearer {token}"));
    assert_eq!(
        auth.authenticate::<NoExtraClaims>(&two)
            .await
            .expect_err("two")
            .code(),
        ErrorCode::InvalidRequest
    );
    // ?access_token= is ignored unless enabled...
    let q = SimpleRequest::get(&format!("/x?access_token={token}"));
    assert_eq!(
        auth.authenticate::<NoExtraClaims>(&q)
            .await
            .expect_err("off")
            .code(),
        ErrorCode::TokenMissing
    );
    let with_query = built(
        &issuer,
        |s| s,
        |b| b.token_sources([TokenSource::Header, TokenSource::Query]),
    );
    assert!(with_query.authenticate::<NoExtraClaims>(&q).await.is_ok());
    let both = q
        .clone()
        .header("authorization", &format!("Bearer {token}"));
    assert_eq!(
        with_query
            .authenticate::<NoExtraClaims>(&both)
            .await
            .expect_err("both")
            .code(),
        ErrorCode::InvalidRequest
    );
    assert!(
        auth.authenticate_optional::<NoExtraClaims>(&SimpleRequest::get("/x"))
            .await
            .expect("ok")
            .is_none()
    );
}

#[tokio::test]
async fn guards() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let req = |t: String| SimpleRequest::get("/x").header("authorization", &format!("Bearer {t}"));
    let admin = auth
        .authenticate::<NoExtraClaims>(&req(issuer
            .token()
            .roles(&["admin"])
            .scope("read write")
            .sign()))
        .await
        .expect("ok");
    let user = auth
        .authenticate::<NoExtraClaims>(&req(issuer.token().roles(&["user"]).scope("read").sign()))
        .await
        .expect("ok");
    let g = Guard::any_role(["admin", "owner"]);
    assert!(g.check(&admin.claims).is_ok());
    assert_eq!(g.check(&user.claims).expect_err("denied").status(), 403);
    let scopes = Guard::all_scopes(["read", "write"]);
    let e = scopes.check(&user.claims).expect_err("denied");
    assert_eq!(
        e.www_authenticate(None).as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="a required scope is missing", scope="read write""#
        )
    );
    assert!(
        Guard::any_role(["owner"])
            .or(Guard::all_scopes(["read"]))
            .check(&user.claims)
            .is_ok()
    );
    assert!(
        Guard::any_role(["user"])
            .and(Guard::all_scopes(["write"]))
            .check(&user.claims)
            .is_err()
    );
}

#[tokio::test]
async fn hooks_check_provision_and_enrich() {
    let issuer = issuer_with(|b| b).await;
    let req =
        |t: String| SimpleRequest::get("/auth/me").header("authorization", &format!("Bearer {t}"));
    let auth = built(
        &issuer,
        |s| s,
        |b| {
            b.claims_check(|ctx| async move {
                if ctx.claims.get("banned").is_some() {
                    Err(auth_core::AuthError::new(ErrorCode::TokenRevoked, "banned"))
                } else {
                    Ok(())
                }
            })
            .provisioning(|ctx| async move {
                match ctx.sub.as_deref() {
                    Some("disabled") => Ok(ProvisionedUser::disabled()),
                    Some("broken") => Err(auth_core::AuthError::new(ErrorCode::Unknown, "db down")),
                    _ => {
                        let mut data = serde_json::Map::new();
                        data.insert("plan".into(), "pro".into());
                        Ok(ProvisionedUser::new(data))
                    }
                }
            })
            .user_enricher(|_ctx, mut user| async move {
                user.insert("seats".into(), 3.into());
                Ok(user)
            })
        },
    );
    let me = auth.me(&req(issuer.token().sub("alice").sign())).await;
    let me_body = body(&me);
    assert_eq!(
        (
            me_body["data"]["user"]["plan"].clone(),
            me_body["data"]["user"]["seats"].clone()
        ),
        (Value::from("pro"), Value::from(3))
    );
    let banned = auth
        .me(&req(issuer.token().claim("banned", true).sign()))
        .await;
    assert_eq!(
        (banned.status, body(&banned)["error"]["code"].clone()),
        (401, Value::from("token_revoked"))
    );
    let disabled = auth.me(&req(issuer.token().sub("disabled").sign())).await;
    assert_eq!(
        (disabled.status, body(&disabled)["error"]["code"].clone()),
        (403, Value::from("user_disabled"))
    );
    let broken = auth.me(&req(issuer.token().sub("broken").sign())).await;
    assert_eq!(
        (broken.status, body(&broken)["error"]["code"].clone()),
        (500, Value::from("user_provision_failed"))
    );
    assert!(
        !String::from_utf8_lossy(&broken.body).contains("db down"),
        "internal detail stays internal"
    );
}

#[tokio::test]
async fn helper_routes_dispatch_and_methods() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    assert!(auth.handle(&SimpleRequest::get("/other")).await.is_none());
    assert_eq!(
        auth.handle(&SimpleRequest::get("/auth/login"))
            .await
            .map(|r| r.status),
        Some(303)
    );
    assert_eq!(
        auth.handle(&SimpleRequest::get("/auth/signout"))
            .await
            .map(|r| r.status),
        Some(405)
    );
    assert_eq!(
        auth.handle(&SimpleRequest::get("/auth/me"))
            .await
            .map(|r| r.status),
        Some(401)
    );
}

#[tokio::test]
async fn prompt_and_extra_authorization_parameters() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator_with(&issuer, |s| {
        s.prompt("consent").authorization_param("ui_locales", "fr")
    });
    let login = auth.login(&SimpleRequest::get("/auth/login")).await;
    let url = url::Url::parse(login.header("location").expect("location")).expect("url");
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(
        (q["prompt"].as_str(), q["ui_locales"].as_str()),
        ("consent", "fr")
    );
    // The flow's own parameters cannot be overridden.
    let err = SessionConfig::builder(APP)
        .client_id("web-app")
        .authorization_param("state", "fixed")
        .build()
        .expect_err("reserved");
    assert_eq!(err.variable(), "authorization_param");
}

#[tokio::test]
async fn signout_ends_the_refresh_grace_window_too() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let before_refresh = Browser {
        jar: browser.jar.clone(),
    };
    let r = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(r.status, 200);
    browser.absorb(&r);
    // Within the grace window, the pre-refresh cookies share the new tokens...
    let shared = auth
        .refresh(&before_refresh.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(shared.status, 200);
    // ...but not once the session signed out: the replay must reach the provider and fail.
    let out = auth
        .signout(&browser.request("POST", "/auth/signout"))
        .await;
    assert_eq!(out.status, 303);
    let replay = auth
        .refresh(&before_refresh.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(replay.status, 401, "{:?}", body(&replay));
}

async fn sign_in_as_client(
    client: TestClient,
    session: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
) -> (TestIssuer, AuthResponse) {
    let issuer = TestIssuer::builder()
        .client(client.redirect_uri(format!("{APP}/auth/callback")))
        .user(TestUser::new("alice").roles(&["admin"]))
        .auto_login(Some("alice"))
        .start()
        .await
        .expect("issuer");
    let config = AuthConfig::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .jwks_policy(common::fast_policy())
        .build()
        .expect("config");
    let session = session(SessionConfig::builder(APP).cookie_secret(SECRET))
        .build()
        .expect("session");
    let auth = Authenticator::builder(Verifier::new(config).expect("verifier"))
        .sessions(session)
        .build()
        .expect("authenticator");
    let mut browser = Browser::default();
    let done = sign_in(&auth, &mut browser, "/").await;
    (issuer, done)
}

#[tokio::test]
async fn client_secret_post_is_supported() {
    let (_issuer, done) = sign_in_as_client(
        TestClient::confidential("post-app", "post-secret")
            .auth_method(auth_issuer::ClientAuth::Post),
        |s| {
            s.client_id("post-app")
                .client_secret("post-secret")
                .client_auth(auth_core::session::ClientAuth::Post)
        },
    )
    .await;
    assert_eq!(done.status, 303, "{:?}", body(&done));
    assert_eq!(done.header("location"), Some("/"));
    // The same client with the SDK's default (Basic) is refused by the provider: the method matters.
    let (_issuer, basic) = sign_in_as_client(
        TestClient::confidential("post-app", "post-secret")
            .auth_method(auth_issuer::ClientAuth::Post),
        |s| s.client_id("post-app").client_secret("post-secret"),
    )
    .await;
    assert!(basic.status >= 400, "{basic:?}");
}

#[tokio::test]
async fn a_public_client_signs_in_with_pkce_only() {
    let (_issuer, done) =
        sign_in_as_client(TestClient::public("spa"), |s| s.client_id("spa")).await;
    assert_eq!(done.status, 303, "{:?}", body(&done));
}

#[tokio::test]
async fn a_wrong_client_secret_fails_the_sign_in_cleanly() {
    let (_issuer, done) =
        sign_in_as_client(TestClient::confidential("web-app", "web-secret"), |s| {
            s.client_id("web-app").client_secret("not-the-secret")
        })
        .await;
    // invalid_client is an operator problem: 500 config_invalid, and no session cookies.
    assert_eq!(
        (done.status, body(&done)["error"]["code"].clone()),
        (500, Value::from("config_invalid"))
    );
    assert!(
        !done
            .headers
            .iter()
            .any(|(n, v)| n == "set-cookie" && v.starts_with("auth.session="))
    );
}

// ---------------------------------------------------------------- setup from the environment

/// A lookup over fixed variables.
fn vars(pairs: &[(&'static str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(&'static str, String)> = pairs.to_vec();
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

#[tokio::test]
async fn from_vars_without_an_app_url_is_a_bearer_only_api() {
    let issuer = issuer_with(|b| b).await;
    let lookup = vars(&[
        ("AUTH_ISSUER", issuer.issuer().to_owned()),
        ("AUTH_AUDIENCE", issuer.audience().to_owned()),
    ]);
    let auth = AuthenticatorBuilder::from_vars(lookup)
        .expect("no client id, cookie secret or app URL needed")
        .build()
        .expect("authenticator");
    assert!(auth.session_config().is_none());
    assert_eq!(auth.token_sources(), &[TokenSource::Header]);
    assert!(auth.helper_paths().is_empty());
    let token = issuer.token().sub("carol").sign();
    let req = SimpleRequest::get("/x").header("authorization", &format!("Bearer {token}"));
    assert!(auth.authenticate::<NoExtraClaims>(&req).await.is_ok());
    // A session cookie means nothing to it, and the helper routes do not exist.
    let cookie = SimpleRequest::get("/x").header("cookie", "auth.session=whatever");
    let err = auth
        .authenticate::<NoExtraClaims>(&cookie)
        .await
        .expect_err("no cookie source");
    assert_eq!(err.code(), ErrorCode::TokenMissing);
    assert!(
        auth.handle(&SimpleRequest::get("/auth/login"))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn from_vars_with_an_app_url_needs_a_client_id_at_start_up() {
    let issuer = issuer_with(|b| b).await;
    let mut pairs = vec![
        ("AUTH_ISSUER", issuer.issuer().to_owned()),
        ("AUTH_AUDIENCE", issuer.audience().to_owned()),
        ("APP_URL", "http://127.0.0.1:3000".to_owned()),
    ];
    let err = AuthenticatorBuilder::from_vars(vars(&pairs)).expect_err("no client id");
    assert_eq!(err.variable(), "AUTH_CLIENT_ID");
    pairs.push(("AUTH_CLIENT_ID", "web-app".to_owned()));
    let auth = AuthenticatorBuilder::from_vars(vars(&pairs))
        .expect("config")
        .build()
        .expect("authenticator");
    assert_eq!(
        auth.session_config().map(SessionConfig::client_id),
        Some("web-app")
    );
    assert_eq!(
        auth.token_sources(),
        &[TokenSource::Header, TokenSource::Cookie]
    );
}

#[tokio::test]
async fn a_cookie_source_without_sessions_is_a_setup_error() {
    let issuer = issuer_with(|b| b).await;
    let verifier = Verifier::new(
        AuthConfig::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            .build()
            .expect("config"),
    )
    .expect("verifier");
    let err = Authenticator::builder(verifier)
        .token_sources([TokenSource::Header, TokenSource::Cookie])
        .build()
        .expect_err("cookies need sessions");
    assert_eq!(err.code(), ErrorCode::ConfigInvalid);
}

// ---------------------------------------------------------------- WebSocket upgrades

fn ws_upgrade(browser: &Browser, origin: Option<&str>) -> SimpleRequest {
    let mut r = browser
        .request("GET", "/ws")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    if let Some(origin) = origin {
        r = r.header("origin", origin);
    }
    r
}

async fn ws_open(
    auth: &Authenticator,
    req: &SimpleRequest,
) -> Result<auth_core::ws::SocketAuth, auth_core::AuthError> {
    RequestAuth::new(auth, Unauthenticated::Reject)
        .upgrade(req)
        .await
}

#[tokio::test]
async fn the_session_cookie_authenticates_a_same_origin_upgrade() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let conn = ws_open(&auth, &ws_upgrade(&browser, Some(APP)))
        .await
        .expect("same origin");
    assert_eq!(conn.claims().sub.as_deref(), Some("alice"));
    assert_eq!(conn.authenticated().source, TokenSource::Cookie);
    // Not a browser (no Origin): no cross-site page can be behind it.
    assert!(ws_open(&auth, &ws_upgrade(&browser, None)).await.is_ok());
}

#[tokio::test]
async fn a_cookie_authenticated_upgrade_from_another_origin_is_refused() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    for origin in [
        "https://evil.example",
        "null",
        "http://127.0.0.1:3998",
        "https://127.0.0.1:3999",
    ] {
        let refused = ws_open(&auth, &ws_upgrade(&browser, Some(origin))).await;
        common::assert_code(refused, ErrorCode::PermissionDenied);
    }
}

#[tokio::test]
async fn allow_listed_origins_may_use_the_cookie_on_upgrades() {
    let issuer = issuer_with(|b| b).await;
    let auth = built(
        &issuer,
        |s| s,
        |b| {
            b.websocket(
                auth_core::ws::WebSocketConfig::new()
                    .allowed_origin("https://admin.example.com")
                    .expect("origin"),
            )
        },
    );
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let conn = ws_open(
        &auth,
        &ws_upgrade(&browser, Some("https://admin.example.com")),
    )
    .await;
    assert!(conn.is_ok(), "{conn:?}");
    let refused = ws_open(
        &auth,
        &ws_upgrade(&browser, Some("https://other.example.com")),
    )
    .await;
    common::assert_code(refused, ErrorCode::PermissionDenied);
}

#[tokio::test]
async fn a_token_upgrade_needs_no_origin_check() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let t = issuer.token().sub("alice").sign();
    let req = ws_upgrade(&Browser::default(), Some("https://elsewhere.example"))
        .header("sec-websocket-protocol", &format!("bearer.{t}, chat"));
    let conn = ws_open(&auth, &req).await.expect("a token is not ambient");
    assert_eq!(conn.authenticated().source, TokenSource::Subprotocol);
}

// ---------------------------------------------------------------- Socket.IO-style handshakes

/// A handshake request as Socket.IO's first HTTP request (long-polling): a plain `GET`.
fn handshake(browser: &Browser, origin: Option<&str>) -> SimpleRequest {
    let mut r = browser.request("GET", "/socket.io/?EIO=4&transport=polling");
    if let Some(origin) = origin {
        r = r.header("origin", origin);
    }
    r
}

#[tokio::test]
async fn a_handshake_takes_the_payload_token_first_then_the_header_then_the_cookie() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let bob = issuer.token().sub("bob").sign();
    let carol = issuer.token().sub("carol").sign();
    let req = handshake(&browser, Some(APP)).header("authorization", &format!("Bearer {carol}"));
    let by_payload = auth
        .verify_handshake(&req, Some(&bob))
        .await
        .expect("payload");
    assert_eq!(by_payload.claims().sub.as_deref(), Some("bob"));
    let by_header = auth.verify_handshake(&req, None).await.expect("header");
    assert_eq!(by_header.claims().sub.as_deref(), Some("carol"));
    assert_eq!(by_header.authenticated().source, TokenSource::Header);
    let by_cookie = auth
        .verify_handshake(&handshake(&browser, Some(APP)), None)
        .await
        .expect("cookie");
    assert_eq!(by_cookie.claims().sub.as_deref(), Some("alice"));
    assert_eq!(by_cookie.authenticated().source, TokenSource::Cookie);
    let none = auth
        .verify_handshake(&handshake(&Browser::default(), None), None)
        .await;
    common::assert_code(none, ErrorCode::TokenMissing);
    // A bad payload token is refused, not skipped for the cookie.
    let bad = auth
        .verify_handshake(&handshake(&browser, Some(APP)), Some("not.a.jwt"))
        .await;
    common::assert_code(bad, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn a_cookie_handshake_needs_a_trusted_origin_even_on_a_get() {
    let issuer = issuer_with(|b| b).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let refused = auth
        .verify_handshake(&handshake(&browser, Some("https://evil.example")), None)
        .await;
    common::assert_code(refused, ErrorCode::PermissionDenied);
    // A token is not ambient: no Origin check for it.
    let t = issuer.token().sub("bob").sign();
    let ok = auth
        .verify_handshake(&handshake(&browser, Some("https://evil.example")), Some(&t))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn an_expired_session_is_not_refreshed_by_a_handshake() {
    // Access tokens live 2 s: inside the engine's 5 s margin, so the cookie counts as expired.
    let issuer = issuer_with(|b| b.access_token_ttl(Duration::from_secs(2))).await;
    let auth = authenticator(&issuer);
    let mut browser = Browser::default();
    sign_in(&auth, &mut browser, "/").await;
    let before = issuer.requests_to("/token");
    let refused = auth
        .verify_handshake(&handshake(&browser, Some(APP)), None)
        .await;
    common::assert_code(refused, ErrorCode::TokenExpired);
    assert_eq!(
        issuer.requests_to("/token"),
        before,
        "no refresh: its rotated cookies could not reach the browser"
    );
}

#[tokio::test]
async fn a_private_key_jwt_client_signs_in_and_refreshes() {
    let key = auth_core::ClientKey::from_pem(include_str!("data/client-p256.pem")).expect("key");
    let jwk = key.public_jwk();
    let issuer = issuer_with(|b| {
        b.client(
            TestClient::private_key_jwt("key-app", jwk)
                .redirect_uri(format!("{APP}/auth/callback")),
        )
    })
    .await;
    let auth = authenticator_with(&issuer, |s| s.client_id("key-app").client_key(key));
    let mut browser = Browser::default();
    let done = sign_in(&auth, &mut browser, "/").await;
    assert_eq!(done.status, 303, "{:?}", body(&done));
    let r = auth
        .refresh(&browser.request("POST", "/auth/refresh"))
        .await;
    assert_eq!(r.status, 200, "{:?}", body(&r));
    // The code exchange and the refresh each carried their own assertion.
    assert_eq!(issuer.requests_to("/token"), 2);
}
