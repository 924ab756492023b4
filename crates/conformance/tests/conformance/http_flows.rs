//! One condition per scenario, over real HTTP against each example app and its embedded
//! issuer: Bearer access, the role guard, refresh (rotation, revocation, outages), sign-out,
//! CSRF and state attacks, open redirects, cookie attributes and a cancelled sign-in.
//!
//! Redirects are not followed, so that every hop can be checked; the cookie jar is explicit,
//! so that scenarios can read it and replay old cookies. Where the login page is not the point,
//! the issuer signs the user in at once (`set_auto_login`).

use crate::app::App;
use crate::support::{attribute, hidden_inputs, tag};

use auth_issuer::{Fault, TestIssuer};
use reqwest::cookie::CookieStore as _;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, LOCATION, RETRY_AFTER, SET_COOKIE, VARY};
use reqwest::{Response, StatusCode, Url};
use serde_json::Value;

pub const SESSION: &str = "auth.session";
pub const REFRESH: &str = "auth.refresh";

/// A client without cookies or redirects: another browser, or a replay with chosen cookies.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl App {
    pub fn issuer(&self) -> &TestIssuer {
        self.issuer.as_ref().expect("embedded issuer")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app_url)
    }

    /// An issuer endpoint's URL path, as `TestIssuer::requests_to` counts it.
    pub fn issuer_path(&self, endpoint: &str) -> String {
        let issuer = Url::parse(self.issuer().issuer()).expect("issuer URL");
        format!("{}{endpoint}", issuer.path().trim_end_matches('/'))
    }

    /// `/auth/login`, with `return_to` percent-encoded as a query value.
    pub fn login_url(&self, return_to: Option<&str>) -> Url {
        let params = return_to.map(|r| ("return_to", r));
        Url::parse_with_params(&self.url("/auth/login"), params).expect("login URL")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// A same-origin POST, as the browser sends it from the app's own page.
    pub async fn post(&self, path: &str) -> Response {
        self.post_from(path, &self.app_url).await
    }

    pub async fn post_from(&self, path: &str, origin: &str) -> Response {
        self.http
            .post(self.url(path))
            .header("origin", origin)
            .send()
            .await
            .expect("POST")
    }

    /// The `Cookie` header the browser would send to the app now.
    pub fn cookie_header(&self) -> String {
        let url = Url::parse(&self.app_url).expect("app URL");
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().expect("ASCII cookies").to_owned())
            .unwrap_or_default()
    }

    /// The value of a cookie in the jar, for the app.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookie_header()
            .split("; ")
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    }

    /// `GET /auth/login` (with `return_to`), then the issuer's authorize endpoint with
    /// auto-login as `user`: returns the callback URL the issuer sends the browser to.
    pub async fn start_sign_in(&self, user: &str, return_to: Option<&str>) -> String {
        self.issuer().set_auto_login(Some(user.into()));
        let login = self
            .http
            .get(self.login_url(return_to))
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), StatusCode::SEE_OTHER);
        let authorize = location(&login);
        assert!(
            authorize.starts_with(&self.issuer().authorization_endpoint()),
            "{authorize}"
        );
        let back = self.http.get(authorize).send().await.expect("authorize");
        assert_eq!(back.status(), StatusCode::FOUND);
        let callback = location(&back);
        assert!(
            callback.starts_with(&self.url("/auth/callback?")),
            "{callback}"
        );
        callback
    }

    /// Signs `user` in; returns the callback's answer (303 to `return_to`, session cookies).
    pub async fn sign_in_to(&self, user: &str, return_to: Option<&str>) -> Response {
        let callback = self.start_sign_in(user, return_to).await;
        let done = self.http.get(callback).send().await.expect("callback");
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert!(self.cookie(SESSION).is_some() && self.cookie(REFRESH).is_some());
        done
    }

    pub async fn sign_in(&self, user: &str) -> Response {
        self.sign_in_to(user, None).await
    }
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("ASCII Location")
        .to_owned()
}

pub fn header(response: &Response, name: impl reqwest::header::AsHeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_owned())
}

/// The status and the JSON body (`null` when the body is not JSON).
pub async fn json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The status and the body's `error.code` (empty when there is none).
pub async fn error_code(response: Response) -> (StatusCode, String) {
    let (status, body) = json(response).await;
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code)
}

/// One `Set-Cookie` header: name, value and attributes.
#[derive(Debug)]
pub struct SetCookie {
    raw: String,
    name: String,
    value: String,
    attributes: Vec<(String, String)>,
}

impl SetCookie {
    fn parse(raw: &str) -> Self {
        let mut parts = raw.split(';').map(str::trim);
        let (name, value) = parts
            .next()
            .and_then(|pair| pair.split_once('='))
            .expect("name=value");
        let attributes = parts
            .map(|attr| {
                let (key, value) = attr.split_once('=').unwrap_or((attr, ""));
                (key.to_ascii_lowercase(), value.to_owned())
            })
            .collect();
        SetCookie {
            raw: raw.to_owned(),
            name: name.to_owned(),
            value: value.to_owned(),
            attributes,
        }
    }

    /// The attribute's value (`""` for a flag), case-insensitive name.
    fn attribute(&self, key: &str) -> Option<&str> {
        let key = key.to_ascii_lowercase();
        self.attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    fn clears(&self) -> bool {
        self.value.is_empty() && self.attribute("Max-Age") == Some("0")
    }
}

pub fn set_cookies(response: &Response) -> Vec<SetCookie> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| SetCookie::parse(v.to_str().expect("ASCII Set-Cookie")))
        .collect()
}

pub fn set_cookie<'a>(cookies: &'a [SetCookie], name: &str) -> Option<&'a SetCookie> {
    cookies.iter().find(|c| c.name == name)
}

// ----------------------------------------------------------------------------------------

pub async fn a_bearer_token_reaches_the_api_with_private_caching(app: App) {
    let token = app.issuer().token().sub("carol").sign();
    let me = app
        .http
        .get(app.url("/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        header(&me, CACHE_CONTROL).as_deref(),
        Some("private, no-store")
    );
    assert_eq!(header(&me, VARY).as_deref(), Some("Cookie, Authorization"));
    let (_, body) = json(me).await;
    assert_eq!(body["sub"], "carol");
}

pub async fn no_credential_is_401_with_a_bare_bearer_challenge(app: App) {
    let me = app.get("/api/me").await;
    // Both schemes, each with the RFC 9728 pointer and no `error` (RFC 6750 §3.1).
    let metadata = format!("{}/.well-known/oauth-protected-resource", app.app_url);
    let algs = "ES256 ES384 EdDSA PS256 RS256";
    assert_eq!(
        header(&me, "www-authenticate"),
        Some(format!(
            "Bearer resource_metadata=\"{metadata}\", DPoP algs=\"{algs}\", resource_metadata=\"{metadata}\""
        )),
        "no error attribute without a credential (RFC 6750 §3.1)"
    );
    assert_eq!(header(&me, VARY).as_deref(), Some("Cookie, Authorization"));
    assert_eq!(
        error_code(me).await,
        (StatusCode::UNAUTHORIZED, "token_missing".into())
    );
}

pub async fn two_authorization_headers_are_400_invalid_request(app: App) {
    let token = app.issuer().token().sub("carol").sign();
    let me = app
        .http
        .get(app.url("/api/me"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .expect("me");
    assert_eq!(
        error_code(me).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
}

pub async fn the_admin_api_refuses_users_without_the_admin_role(app: App) {
    for token in [
        app.issuer().token().sub("bob").roles(&["user"]).sign(),
        app.issuer().token().sub("carol").sign(),
    ] {
        let admin = app
            .http
            .get(app.url("/api/admin"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("admin");
        assert_eq!(
            error_code(admin).await,
            (StatusCode::FORBIDDEN, "permission_denied".into())
        );
    }
    // The same through a browser session.
    app.sign_in("bob").await;
    assert_eq!(
        error_code(app.get("/api/admin").await).await,
        (StatusCode::FORBIDDEN, "permission_denied".into())
    );
    let admin = app
        .http
        .get(app.url("/api/admin"))
        .bearer_auth(app.issuer().token().sub("dave").roles(&["admin"]).sign())
        .send()
        .await
        .expect("admin");
    assert_eq!(
        admin.status(),
        StatusCode::OK,
        "the header wins over the cookie"
    );
}

pub async fn refresh_rotates_the_refresh_cookie(app: App) {
    app.sign_in("alice").await;
    let before = app.cookie(REFRESH).expect("refresh cookie");

    let refresh = app.post("/auth/refresh").await;
    assert_eq!(refresh.status(), StatusCode::OK);
    let cookies = set_cookies(&refresh);
    assert!(set_cookie(&cookies, SESSION).is_some(), "{cookies:?}");
    assert!(set_cookie(&cookies, REFRESH).is_some(), "{cookies:?}");
    let (_, body) = json(refresh).await;
    assert_eq!(body["success"], true);
    assert!(body["data"]["expiresAt"].is_i64(), "{body}");

    assert_ne!(app.cookie(REFRESH).expect("refresh cookie"), before);
    // The provider rotated: one refresh token from the sign-in, one from the refresh, and
    // only the new one is still usable.
    assert_eq!(app.issuer().refresh_token_count(), 2);
    assert_eq!(app.issuer().active_refresh_tokens(), 1);
    let (status, body) = json(app.get("/api/me").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "alice");
}

pub async fn a_revoked_refresh_token_signs_out_cleanly(app: App) {
    app.sign_in("alice").await;
    assert_eq!(app.issuer().revoke_refresh_tokens_for("alice"), 1);

    let refresh = app.post("/auth/refresh").await;
    let cookies = set_cookies(&refresh);
    for name in [SESSION, REFRESH] {
        let cookie = set_cookie(&cookies, name).unwrap_or_else(|| panic!("{name}: {cookies:?}"));
        assert!(cookie.clears(), "{}", cookie.raw);
    }
    assert_eq!(
        error_code(refresh).await,
        (StatusCode::UNAUTHORIZED, "invalid_grant".into())
    );
    assert_eq!(app.cookie(SESSION), None);
    assert_eq!(app.cookie(REFRESH), None);
    assert_eq!(
        error_code(app.get("/api/me").await).await,
        (StatusCode::UNAUTHORIZED, "token_missing".into())
    );
}

pub async fn an_old_refresh_cookie_within_the_grace_window_does_not_trip_reuse_detection(app: App) {
    app.sign_in("alice").await;
    let old_cookies = app.cookie_header();
    assert_eq!(app.post("/auth/refresh").await.status(), StatusCode::OK);
    let token_requests = app.issuer().requests_to(&app.issuer_path("/token"));

    // A request that left the browser before the new cookies arrived.
    let late = bare_client()
        .post(app.url("/auth/refresh"))
        .header("origin", &app.app_url)
        .header("cookie", &old_cookies)
        .send()
        .await
        .expect("late refresh");
    assert_eq!(late.status(), StatusCode::OK);
    assert!(set_cookie(&set_cookies(&late), REFRESH).is_some());
    // Answered from the engine's grace cache: the provider never saw the rotated token.
    assert_eq!(
        app.issuer().requests_to(&app.issuer_path("/token")),
        token_requests
    );
    assert_eq!(app.issuer().refresh_token_count(), 2);
    assert_eq!(app.issuer().active_refresh_tokens(), 1);
    // The family is intact: the current cookies still refresh.
    assert_eq!(app.post("/auth/refresh").await.status(), StatusCode::OK);
}

pub async fn a_refresh_cookie_replayed_after_the_next_rotation_is_refused_and_trips_reuse_detection(
    app: App,
) {
    app.sign_in("alice").await;
    let cookies_a = app.cookie_header();
    // A -> B -> C.
    assert_eq!(app.post("/auth/refresh").await.status(), StatusCode::OK);
    assert_eq!(app.post("/auth/refresh").await.status(), StatusCode::OK);
    let token_requests = app.issuer().requests_to(&app.issuer_path("/token"));

    let replay = bare_client()
        .post(app.url("/auth/refresh"))
        .header("origin", &app.app_url)
        .header("cookie", &cookies_a)
        .send()
        .await
        .expect("replay");
    let cleared = set_cookies(&replay);
    assert_eq!(
        error_code(replay).await,
        (StatusCode::UNAUTHORIZED, "invalid_grant".into())
    );
    assert!(
        set_cookie(&cleared, REFRESH).is_some_and(SetCookie::clears),
        "the refresh cookie is cleared: {cleared:?}"
    );
    // The provider saw the replayed token and revoked the family.
    assert_eq!(
        app.issuer().requests_to(&app.issuer_path("/token")),
        token_requests + 1
    );
    assert_eq!(app.issuer().active_refresh_tokens(), 0);
    assert_eq!(
        app.post("/auth/refresh").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

pub async fn sign_out_revokes_clears_and_redirects_to_the_issuer_logout(app: App) {
    app.sign_in("alice").await;
    let revoke = app.issuer_path("/revoke");
    assert_eq!(app.issuer().requests_to(&revoke), 0);

    let out = app.post("/auth/signout").await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let target = Url::parse(&location(&out)).expect("absolute logout URL");
    assert!(
        target
            .as_str()
            .starts_with(&app.issuer().end_session_endpoint()),
        "{target}"
    );
    let query: Vec<(String, String)> = target.query_pairs().into_owned().collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        param("post_logout_redirect_uri"),
        Some(app.url("/").as_str())
    );
    assert_eq!(param("client_id"), Some("example-app"));
    let hint = param("id_token_hint").expect("id_token_hint");
    assert_eq!(hint.split('.').count(), 3, "a JWT: {hint}");
    let cookies = set_cookies(&out);
    for name in [SESSION, REFRESH] {
        let cookie = set_cookie(&cookies, name).unwrap_or_else(|| panic!("{name}: {cookies:?}"));
        assert!(cookie.clears(), "{}", cookie.raw);
    }

    assert_eq!(app.issuer().requests_to(&revoke), 1);
    assert_eq!(app.issuer().active_refresh_tokens(), 0);
    assert_eq!(app.cookie(SESSION), None);
    assert_eq!(app.cookie(REFRESH), None);
    assert_eq!(app.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);

    // The issuer's logout sends the browser back to the app's home page.
    let back = app.http.get(target).send().await.expect("logout");
    assert_eq!(back.status(), StatusCode::FOUND);
    assert_eq!(location(&back), app.url("/"));
}

pub async fn a_callback_without_a_flow_cookie_is_state_mismatch(app: App) {
    let made_up = app.get("/auth/callback?code=x&state=y").await;
    assert_eq!(
        error_code(made_up).await,
        (StatusCode::BAD_REQUEST, "state_mismatch".into())
    );
    // A real callback URL, opened in another browser (login CSRF): no flow cookie there.
    let callback = app.start_sign_in("alice", None).await;
    let elsewhere = bare_client().get(&callback).send().await.expect("callback");
    assert_eq!(
        error_code(elsewhere).await,
        (StatusCode::BAD_REQUEST, "state_mismatch".into())
    );
    // The browser that started the flow still completes it.
    let here = app.http.get(&callback).send().await.expect("callback");
    assert_eq!(here.status(), StatusCode::SEE_OTHER);
}

pub async fn a_replayed_callback_is_state_mismatch(app: App) {
    let callback = app.start_sign_in("alice", None).await;
    let first = app.http.get(&callback).send().await.expect("callback");
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let flow = set_cookies(&first)
        .into_iter()
        .find(|c| c.name.starts_with("auth.flow-"))
        .expect("the flow cookie is cleared");
    assert!(flow.clears(), "{}", flow.raw);

    let second = app.http.get(&callback).send().await.expect("replay");
    assert_eq!(
        error_code(second).await,
        (StatusCode::BAD_REQUEST, "state_mismatch".into())
    );
}

pub async fn a_callback_from_another_issuer_is_refused(app: App) {
    // RFC 9207: the issuer advertises `iss` in its authorization responses; a response that
    // names another issuer (a mix-up attack) or none is refused, and no code is exchanged.
    let tokens_before = app.issuer().requests_to(&app.issuer_path("/token"));
    for forged in [Some("https://evil.example"), None] {
        let callback = Url::parse(&app.start_sign_in("alice", None).await).expect("callback URL");
        let iss = callback
            .query_pairs()
            .find(|(k, _)| k == "iss")
            .map(|(_, v)| v.into_owned());
        assert_eq!(iss.as_deref(), Some(app.issuer().issuer()), "{callback}");
        let pairs: Vec<(String, String)> = callback
            .query_pairs()
            .filter(|(k, _)| k != "iss")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut url = callback.clone();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .extend_pairs(forged.map(|i| ("iss", i)));
        let r = app.http.get(url).send().await.expect("callback");
        assert_eq!(
            error_code(r).await,
            (StatusCode::BAD_REQUEST, "invalid_request".into()),
            "iss = {forged:?}"
        );
    }
    assert_eq!(
        app.issuer().requests_to(&app.issuer_path("/token")),
        tokens_before,
        "no code was exchanged"
    );
    assert!(app.cookie(SESSION).is_none());
}

pub async fn a_duplicated_state_is_refused(app: App) {
    let callback = app.start_sign_in("alice", None).await;
    let state = Url::parse(&callback)
        .expect("callback URL")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let doubled = format!("{callback}&state={state}");
    assert_eq!(
        error_code(app.http.get(doubled).send().await.expect("callback")).await,
        (StatusCode::BAD_REQUEST, "state_mismatch".into())
    );
    assert_eq!(app.cookie(SESSION), None);
    // The same callback with one state completes: the duplicate was the only fault.
    let once = app.http.get(&callback).send().await.expect("callback");
    assert_eq!(once.status(), StatusCode::SEE_OTHER);
}

pub async fn cross_site_posts_are_refused(app: App) {
    app.sign_in("alice").await;
    let evil = "https://evil.example.com";
    for path in ["/auth/signout", "/auth/refresh"] {
        let response = app.post_from(path, evil).await;
        assert!(set_cookies(&response).is_empty(), "{path}");
        assert_eq!(
            error_code(response).await,
            (StatusCode::FORBIDDEN, "permission_denied".into()),
            "{path}"
        );
    }
    // Without Origin, the Fetch Metadata header is enough.
    let fetch_metadata = app
        .http
        .post(app.url("/auth/signout"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("signout");
    assert_eq!(fetch_metadata.status(), StatusCode::FORBIDDEN);
    // Nothing happened: still signed in, nothing revoked or rotated.
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);
    assert_eq!(app.issuer().requests_to(&app.issuer_path("/revoke")), 0);
    assert_eq!(app.issuer().refresh_token_count(), 1);
}

pub async fn open_redirect_targets_are_400(app: App) {
    for target in [
        "//evil.com",
        "/\\evil.com",
        "https://evil.com",
        "javascript:alert(1)",
        "%2F%2Fevil.com",
        "/%0d%0aSet-Cookie:x=y",
    ] {
        // As the value (percent-encoded in the URL) and as typed into the URL.
        let encoded = app
            .http
            .get(app.login_url(Some(target)))
            .send()
            .await
            .expect("login");
        let raw = app
            .http
            .get(app.url(&format!("/auth/login?return_to={target}")))
            .send()
            .await
            .expect("login");
        for response in [encoded, raw] {
            let url = response.url().to_string();
            assert!(response.headers().get(LOCATION).is_none(), "{url}");
            assert!(set_cookies(&response).is_empty(), "{url}");
            assert_eq!(
                error_code(response).await,
                (StatusCode::BAD_REQUEST, "invalid_request".into()),
                "{url}"
            );
        }
    }
    assert_eq!(app.issuer().requests_to(&app.issuer_path("/authorize")), 0);
}

pub async fn a_same_origin_return_to_is_where_sign_in_lands(app: App) {
    let done = app.sign_in_to("alice", Some("/api/me")).await;
    assert_eq!(location(&done), "/api/me");
    let (status, body) = json(app.get("/api/me").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "alice");
}

pub async fn session_cookies_are_httponly_lax_and_small(app: App) {
    // The flow cookie of /auth/login, then the cookies of a whole sign-in.
    let flow = set_cookies(&app.get("/auth/login").await);
    assert_eq!(flow.len(), 1, "{flow:?}");
    assert!(flow[0].name.starts_with("auth.flow-"), "{}", flow[0].raw);
    assert_eq!(flow[0].attribute("Max-Age"), Some("600"));

    let done = app.sign_in("alice").await;
    let cookies = set_cookies(&done);
    assert!(set_cookie(&cookies, SESSION).is_some(), "{cookies:?}");
    assert!(set_cookie(&cookies, REFRESH).is_some(), "{cookies:?}");
    for cookie in cookies.iter().chain(&flow) {
        let raw = &cookie.raw;
        assert!(cookie.attribute("HttpOnly").is_some(), "{raw}");
        assert_eq!(cookie.attribute("SameSite"), Some("Lax"), "{raw}");
        assert_eq!(cookie.attribute("Path"), Some("/"), "{raw}");
        assert!(cookie.attribute("Secure").is_none(), "not on http: {raw}");
        assert!(cookie.attribute("Domain").is_none(), "host-only: {raw}");
        assert!(
            raw.len() + "Set-Cookie: ".len() < 4096,
            "{} is {} bytes",
            cookie.name,
            raw.len()
        );
    }
}

pub async fn a_provider_outage_during_refresh_keeps_the_session(app: App) {
    app.sign_in("alice").await;
    let (session, refresh_token) = (app.cookie(SESSION), app.cookie(REFRESH));

    app.issuer().set_token_fault(Some(Fault::Status(503)));
    let refresh = app.post("/auth/refresh").await;
    assert!(header(&refresh, RETRY_AFTER).is_some());
    assert!(set_cookies(&refresh).is_empty());
    assert_eq!(
        error_code(refresh).await,
        (StatusCode::SERVICE_UNAVAILABLE, "network".into())
    );
    assert_eq!(
        (app.cookie(SESSION), app.cookie(REFRESH)),
        (session, refresh_token.clone())
    );
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);

    app.issuer().set_token_fault(None);
    assert_eq!(app.post("/auth/refresh").await.status(), StatusCode::OK);
    assert_ne!(app.cookie(REFRESH), refresh_token);
}

pub async fn cancelling_on_the_login_page_returns_home_with_an_error(app: App) {
    let issuer = app.issuer();
    issuer.set_auto_login(None);
    let login = app.get("/auth/login").await;
    let page = app
        .http
        .get(location(&login))
        .send()
        .await
        .expect("login page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");

    let form = tag(&html, "id=\"login-form\"").expect("login form");
    let action = Url::parse(issuer.issuer())
        .and_then(|base| base.join(&attribute(form, "action").expect("action")))
        .expect("action URL");
    let cancel = tag(&html, "id=\"cancel\"").expect("cancel button");
    let mut fields = hidden_inputs(&html);
    fields.push((
        attribute(cancel, "name").expect("name"),
        attribute(cancel, "value").expect("value"),
    ));
    let cancelled = app
        .http
        .post(action)
        .form(&fields)
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    let callback = location(&cancelled);
    assert!(callback.contains("error=access_denied"), "{callback}");

    let back = app.http.get(callback).send().await.expect("callback");
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&back), "/?auth_error=permission_denied");
    assert_eq!(app.cookie(SESSION), None);

    let home = app
        .get("/?auth_error=permission_denied")
        .await
        .text()
        .await
        .expect("html");
    assert!(home.contains("id=\"auth-error\""), "{home}");
    assert!(home.contains("<code>permission_denied</code>"), "{home}");
    assert!(home.contains("id=\"sign-in\""), "{home}");
}

pub async fn an_api_key_and_a_jwt_reach_the_same_route(app: App) {
    let key = app.demo_key.clone().expect("the demo key");
    for request in [
        app.http.get(app.url("/api/me")).header("x-api-key", &key),
        app.http.get(app.url("/api/me")).bearer_auth(&key),
    ] {
        let (status, body) = json(request.send().await.expect("me")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["kind"], "api_token");
        assert_eq!(body["sub"], "alice", "a key acts as its owner");
        assert_eq!(body["roles"], serde_json::json!(["user"]));
        assert!(
            !body.to_string().contains(&key[20..]),
            "the secret is never echoed"
        );
    }
    let jwt = app.issuer().token().sub("bob").sign();
    let (status, body) = json(
        app.http
            .get(app.url("/api/me"))
            .bearer_auth(&jwt)
            .send()
            .await
            .expect("me"),
    )
    .await;
    assert_eq!(
        (status, body["kind"].clone()),
        (StatusCode::OK, "jwt".into())
    );
    let both = app
        .http
        .get(app.url("/api/me"))
        .bearer_auth(&jwt)
        .header("x-api-key", &key)
        .send()
        .await
        .expect("me");
    assert_eq!(
        error_code(both).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    // The demo key is not an admin; a look-alike key is token_invalid.
    let admin = app
        .http
        .get(app.url("/api/admin"))
        .header("x-api-key", &key)
        .send()
        .await
        .expect("admin");
    assert_eq!(
        error_code(admin).await,
        (StatusCode::FORBIDDEN, "permission_denied".into())
    );
    let mut forged = key.clone();
    forged.pop();
    forged.push(if key.ends_with('a') { 'b' } else { 'a' });
    let r = app
        .http
        .get(app.url("/api/me"))
        .header("x-api-key", &forged)
        .send()
        .await
        .expect("me");
    assert_eq!(
        error_code(r).await,
        (StatusCode::UNAUTHORIZED, "token_invalid".into())
    );
}
