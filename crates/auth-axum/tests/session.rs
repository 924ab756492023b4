//! Browser sessions over real HTTP on 127.0.0.1: the app served by `axum::serve`, the provider
//! a `TestIssuer`, the browser reqwest plus a small cookie jar. Sign-in through the helper
//! routes, cookie authentication, transparent refresh through the layer, dead sessions, and
//! sign-out.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use auth_issuer::{TestClient, TestIssuer, TestIssuerBuilder, TestUser};
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;

/// The app, its provider, and a browser.
struct Setup {
    app_url: String,
    issuer: TestIssuer,
    browser: Browser,
}

async fn start(configure: impl FnOnce(TestIssuerBuilder) -> TestIssuerBuilder) -> Setup {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let app_url = format!("http://{}", listener.local_addr().expect("addr"));
    let issuer = configure(
        TestIssuer::builder()
            .client(
                TestClient::confidential(common::CLIENT_ID, common::CLIENT_SECRET)
                    .redirect_uri(format!("{app_url}/auth/callback"))
                    .post_logout_redirect_uri(format!("{app_url}/")),
            )
            .user(TestUser::new("alice").roles(&["admin"]))
            .user(TestUser::new("bob").roles(&["user"]))
            .auto_login(Some("alice")),
    )
    .start()
    .await
    .expect("issuer");
    let authenticator = common::authenticator(&issuer, &app_url);
    let app: Router = common::app(authenticator);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Setup {
        app_url,
        issuer,
        browser: Browser::new(),
    }
}

/// A browser without redirects (each hop is checked) and with a cookie jar by name (the app and
/// the issuer share the host 127.0.0.1, but the issuer sets no cookies).
struct Browser {
    jar: BTreeMap<String, String>,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The names of the cookies set (not cleared) by this response.
    fn cookies_set(&self) -> Vec<String> {
        self.set_cookies
            .iter()
            .filter(|c| !c.contains("Max-Age=0"))
            .filter_map(|c| c.split_once('=').map(|(n, _)| n.to_owned()))
            .collect()
    }

    /// The names of the cookies cleared by this response.
    fn cookies_cleared(&self) -> Vec<String> {
        self.set_cookies
            .iter()
            .filter(|c| c.contains("Max-Age=0"))
            .filter_map(|c| c.split_once('=').map(|(n, _)| n.to_owned()))
            .collect()
    }
}

impl Browser {
    fn new() -> Self {
        Browser {
            jar: BTreeMap::new(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    async fn send(&mut self, method: reqwest::Method, url: &str) -> Reply {
        self.send_with(method, url, &[]).await
    }

    async fn send_with(
        &mut self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method, url);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("cookie", cookies.join("; "));
        }
        let response = req.send().await.expect("request");
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect();
        for c in &set_cookies {
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attrs.contains("Max-Age=0") {
                self.jar.remove(name.trim());
            } else {
                self.jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        Reply {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .map(|v| v.to_str().expect("ascii").to_owned()),
            set_cookies,
            body: response.text().await.expect("body"),
        }
    }

    async fn get(&mut self, url: &str) -> Reply {
        self.send(reqwest::Method::GET, url).await
    }

    async fn post(&mut self, url: &str) -> Reply {
        self.send(reqwest::Method::POST, url).await
    }
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app_url)
    }

    /// `/auth/login` → the issuer (auto-login) → `/auth/callback` → signed in.
    async fn sign_in(&mut self) {
        let login = self.browser.get(&self.url("/auth/login")).await;
        assert_eq!(login.status, 303, "{}", login.body);
        let authorize = login.location.expect("to the issuer");
        assert!(authorize.starts_with(self.issuer.issuer()), "{authorize}");
        let back = self.browser.get(&authorize).await;
        assert!((300..400).contains(&back.status), "{}", back.body);
        let callback = back.location.expect("back to the app");
        assert!(
            callback.starts_with(&self.url("/auth/callback")),
            "{callback}"
        );
        let done = self.browser.get(&callback).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some("/"));
        assert!(done.cookies_set().contains(&"auth.session".to_owned()));
    }
}

#[tokio::test]
async fn sign_in_use_the_cookie_and_sign_out() {
    let mut s = start(|b| b).await;
    s.sign_in().await;

    let me = s.browser.get(&s.url("/me")).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["sub"], "alice");
    assert!(
        me.set_cookies.is_empty(),
        "a fresh session needs no refresh"
    );

    let admin = s.browser.get(&s.url("/admin")).await;
    assert_eq!(admin.status, 200, "{}", admin.body);

    let optional = s.browser.get(&s.url("/optional")).await;
    assert_eq!(optional.json()["sub"], "alice");

    let helper_me = s.browser.get(&s.url("/auth/me")).await;
    assert_eq!(helper_me.status, 200, "{}", helper_me.body);
    assert_eq!(helper_me.json()["data"]["user"]["sub"], "alice");

    let signout = s.browser.post(&s.url("/auth/signout")).await;
    assert_eq!(signout.status, 303, "{}", signout.body);
    let logout = signout.location.clone().expect("to the issuer's logout");
    assert!(logout.starts_with(s.issuer.issuer()), "{logout}");
    assert!(
        signout
            .cookies_cleared()
            .contains(&"auth.session".to_owned())
    );
    assert!(
        signout
            .cookies_cleared()
            .contains(&"auth.refresh".to_owned())
    );
    let back = s.browser.get(&logout).await;
    assert_eq!(back.location.as_deref(), Some(s.url("/").as_str()));

    let me = s.browser.get(&s.url("/me")).await;
    assert_eq!(me.status, 401);
    assert_eq!(me.json()["error"]["code"], "token_missing");
}

#[tokio::test]
async fn the_layer_appends_refreshed_cookies_to_the_handler_response() {
    // Access tokens expire on arrival (the verifier's leeway still accepts them): every
    // request after the sign-in refreshes the session.
    let mut s = start(|b| b.access_token_ttl(Duration::ZERO)).await;
    s.sign_in().await;
    let issued = s.issuer.refresh_token_count();

    let me = s.browser.get(&s.url("/me")).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["sub"], "alice");
    let set = me.cookies_set();
    assert!(set.contains(&"auth.session".to_owned()), "{set:?}");
    assert!(set.contains(&"auth.refresh".to_owned()), "{set:?}");
    assert_eq!(s.issuer.refresh_token_count(), issued + 1);

    // The rotated refresh token works for the next request.
    let me = s.browser.get(&s.url("/me")).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(s.issuer.refresh_token_count(), issued + 2);
}

#[tokio::test]
async fn a_guard_and_an_extractor_share_one_refresh() {
    let mut s = start(|b| b.access_token_ttl(Duration::ZERO)).await;
    s.sign_in().await;
    let issued = s.issuer.refresh_token_count();
    let admin = s.browser.get(&s.url("/admin")).await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(s.issuer.refresh_token_count(), issued + 1);
    let sessions = admin
        .cookies_set()
        .iter()
        .filter(|n| *n == "auth.session")
        .count();
    assert_eq!(sessions, 1, "{:?}", admin.set_cookies);
}

#[tokio::test]
async fn routes_that_do_not_ask_for_claims_do_not_refresh() {
    let mut s = start(|b| b.access_token_ttl(Duration::ZERO)).await;
    s.sign_in().await;
    let issued = s.issuer.refresh_token_count();
    let public = s.browser.get(&s.url("/public")).await;
    assert_eq!(public.status, 200);
    assert!(public.set_cookies.is_empty());
    assert_eq!(s.issuer.refresh_token_count(), issued);
}

#[tokio::test]
async fn a_dead_session_is_refused_and_its_cookies_cleared_once() {
    let mut s = start(|b| b.access_token_ttl(Duration::ZERO)).await;
    s.sign_in().await;
    assert!(s.issuer.revoke_refresh_tokens_for("alice") > 0);

    let me = s.browser.get(&s.url("/me")).await;
    assert_eq!(me.status, 401, "{}", me.body);
    assert_eq!(me.json()["error"]["code"], "invalid_grant");
    let cleared = me.cookies_cleared();
    for name in ["auth.session", "auth.refresh"] {
        assert_eq!(
            cleared.iter().filter(|n| *n == name).count(),
            1,
            "{:?}",
            me.set_cookies
        );
    }

    // The browser dropped the cookies: signed out, not refused.
    let optional = s.browser.get(&s.url("/optional")).await;
    assert_eq!(optional.status, 200);
    assert_eq!(optional.json()["sub"], Value::Null);
}

#[tokio::test]
async fn a_dead_session_on_a_public_page_is_cleared_too() {
    let mut s = start(|b| b.access_token_ttl(Duration::ZERO)).await;
    s.sign_in().await;
    s.issuer.revoke_refresh_tokens_for("alice");
    // `Option<Auth>` refuses the dead session (a bad credential), and the cookies go.
    let optional = s.browser.get(&s.url("/optional")).await;
    assert_eq!(optional.status, 401, "{}", optional.body);
    assert!(
        optional
            .cookies_cleared()
            .contains(&"auth.session".to_owned())
    );
}

#[tokio::test]
async fn a_cross_site_unsafe_request_riding_on_the_session_cookie_is_403() {
    let mut s = start(|b| b).await;
    s.sign_in().await; // alice, an admin
    let url = s.url("/items");
    let delete = reqwest::Method::DELETE;
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("origin", "https://evil.example")][..],
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ][..],
        &[("sec-fetch-site", "same-site")][..],
    ] {
        let r = s.browser.send_with(delete.clone(), &url, headers).await;
        assert_eq!(r.status, 403, "{headers:?}: {}", r.body);
        assert_eq!(
            r.json()["error"]["code"],
            "permission_denied",
            "{headers:?}"
        );
    }
    let app_url = s.app_url.clone();
    for headers in [
        &[
            ("origin", app_url.as_str()),
            ("sec-fetch-site", "same-origin"),
        ][..],
        &[][..],
    ] {
        let r = s.browser.send_with(delete.clone(), &url, headers).await;
        assert_eq!(r.status, 200, "{headers:?}: {}", r.body);
    }
    // A safe method is not checked: `SameSite` and the handler's own rules apply.
    let r = s
        .browser
        .send_with(
            reqwest::Method::GET,
            &s.url("/me"),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn an_unauthenticated_browser_navigation_is_sent_to_sign_in() {
    let mut s = start(|b| b).await;
    let url = s.url("/account?tab=keys");
    let page = s
        .browser
        .send_with(
            reqwest::Method::GET,
            &url,
            &[
                ("accept", "text/html,application/xhtml+xml"),
                ("sec-fetch-mode", "navigate"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some("/auth/login?return_to=%2Faccount%3Ftab%3Dkeys")
    );
    // `fetch` and API clients still get the 401.
    let api = s
        .browser
        .send_with(
            reqwest::Method::GET,
            &url,
            &[("accept", "application/json")],
        )
        .await;
    assert_eq!(api.status, 401, "{}", api.body);
    let post = s
        .browser
        .send_with(reqwest::Method::POST, &url, &[("accept", "text/html")])
        .await;
    assert_eq!(post.status, 401, "{}", post.body);
    // Following the redirect signs in and comes back to the page.
    let login = s
        .browser
        .get(&s.url(page.location.as_deref().unwrap_or_default()))
        .await;
    let back = s.browser.get(&login.location.expect("to the issuer")).await;
    let done = s
        .browser
        .get(&back.location.expect("to the callback"))
        .await;
    assert_eq!(done.location.as_deref(), Some("/account?tab=keys"));
    let page = s
        .browser
        .send_with(reqwest::Method::GET, &url, &[("accept", "text/html")])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["sub"], "alice");
}

#[tokio::test]
async fn helper_routes_answer_other_methods_with_405() {
    let mut s = start(|b| b).await;
    let r = s.browser.get(&s.url("/auth/signout")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["error"]["code"], "invalid_request");
    let r = s.browser.post(&s.url("/auth/login")).await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn a_callback_without_a_login_is_400_state_mismatch() {
    let mut s = start(|b| b).await;
    let r = s
        .browser
        .get(&s.url("/auth/callback?code=x&state=0123456789abcdef0123"))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "state_mismatch");
}

#[tokio::test]
async fn the_provider_being_down_is_503_not_401() {
    let mut s = start(|b| b).await;
    s.issuer
        .set_discovery_fault(Some(auth_issuer::Fault::Status(503)));
    let r = s.browser.get(&s.url("/auth/login")).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("discovery_failed"), "{}", r.body);
}
