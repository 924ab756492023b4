use auth_issuer::{TestClient, TestIssuer, TestUser};

use crate::decode;
use crate::oauth::{
    CLIENT_ID, Pkce, REDIRECT, app_client, auth_params, exchange, get_authorize, issuer, location,
    login_as, post_authorize, query, text,
};

/// Decodes the few character references the login page writes.
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#13;", "\r")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

/// The hidden inputs of the login form, as a browser would submit them.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.lines()
        .filter_map(|line| line.strip_prefix("<input type=\"hidden\" name=\""))
        .map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"").expect("value");
            let value = rest.strip_suffix("\">").expect("end of input");
            (unescape(name), unescape(value))
        })
        .collect()
}

#[tokio::test]
async fn login_page_lists_users_and_round_trips_the_request() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let params = auth_params(CLIENT_ID, &pkce, &[("state", "s p&a=c/é")]);
    let response = get_authorize(&issuer, &params).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let html = response.text().await.expect("body");
    for needle in [
        "<form id=\"login-form\" method=\"post\" action=\"/authorize\"",
        "data-user=\"alice\"",
        "data-user=\"bob\"",
        "<button type=\"submit\" name=\"user\" value=\"alice\"",
        "id=\"username\"",
        "id=\"sign-in\"",
        "id=\"cancel\"",
        "Alice Example",
    ] {
        assert!(html.contains(needle), "{needle} missing in\n{html}");
    }
    let mut form = hidden_inputs(&html);
    let mut expected = params.clone();
    expected.sort();
    form.sort();
    assert_eq!(form, expected, "hidden inputs carry the request verbatim");

    // The browser clicks "alice".
    form.push(("user".into(), "alice".into()));
    form.push(("username".into(), String::new()));
    let response = post_authorize(&issuer, &form).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let target = location(&response);
    assert_eq!(
        format!(
            "{}://{}{}",
            target.scheme(),
            target.authority(),
            target.path()
        ),
        REDIRECT
    );
    let returned = query(&target);
    assert_eq!(returned["state"], "s p&a=c/é");
    assert_eq!(returned["iss"], issuer.issuer());
    let code = &returned["code"];
    assert!(code.len() >= 43, "{code}");

    let tokens: serde_json::Value = exchange(&issuer, code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(decode(text(&tokens, "access_token")).claims["sub"], "alice");
}

#[tokio::test]
async fn path_prefixed_issuer_posts_the_form_under_its_path() {
    let issuer = TestIssuer::builder()
        .path("/realms/dev")
        .client(app_client())
        .start()
        .await
        .expect("start");
    let params = auth_params(CLIENT_ID, &Pkce::new(), &[]);
    let html = get_authorize(&issuer, &params)
        .await
        .text()
        .await
        .expect("body");
    assert!(html.contains("action=\"/realms/dev/authorize\""), "{html}");
    assert_eq!(issuer.requests_to("/realms/dev/authorize"), 1);
}

#[tokio::test]
async fn typed_username_creates_an_ad_hoc_user_without_roles() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let mut form = auth_params(CLIENT_ID, &pkce, &[]);
    form.push(("username".into(), "  carol ".into()));
    form.push(("action".into(), "sign-in".into()));
    let response = post_authorize(&issuer, &form).await;
    assert_eq!(response.status(), 303);
    let code = query(&location(&response))["code"].clone();
    let tokens: serde_json::Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    let claims = decode(text(&tokens, "access_token")).claims;
    assert_eq!(claims["sub"], "carol");
    assert_eq!(claims["roles"], serde_json::json!([]));
    assert!(claims.get("email").is_none());
}

#[tokio::test]
async fn empty_username_shows_the_page_again() {
    let issuer = issuer().await;
    let mut form = auth_params(CLIENT_ID, &Pkce::new(), &[]);
    form.push(("action".into(), "sign-in".into()));
    let response = post_authorize(&issuer, &form).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("body");
    assert!(html.contains("id=\"error\""), "{html}");
    assert!(html.contains("id=\"login-form\""));
}

#[tokio::test]
async fn cancel_returns_access_denied() {
    let issuer = issuer().await;
    let mut form = auth_params(CLIENT_ID, &Pkce::new(), &[]);
    form.push(("action".into(), "cancel".into()));
    let response = post_authorize(&issuer, &form).await;
    assert_eq!(response.status(), 303);
    let returned = query(&location(&response));
    assert_eq!(returned["error"], "access_denied");
    assert_eq!(returned["state"], "st-1");
    assert_eq!(returned["iss"], issuer.issuer());
    assert!(!returned.contains_key("code"));
}

async fn assert_error_page(issuer: &TestIssuer, params: &[(String, String)], needle: &str) {
    let response = get_authorize(issuer, params).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let html = response.text().await.expect("body");
    assert!(html.contains(needle), "{needle} missing in\n{html}");
}

#[tokio::test]
async fn unregistered_redirect_uri_shows_an_error_page_and_does_not_redirect() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let evil = auth_params(
        CLIENT_ID,
        &pkce,
        &[("redirect_uri", "http://evil.example/cb")],
    );
    assert_error_page(&issuer, &evil, "is not registered").await;
    // Exact match: a trailing slash or another port is another URI.
    let slash = auth_params(
        CLIENT_ID,
        &pkce,
        &[("redirect_uri", "http://127.0.0.1:9/callback/")],
    );
    assert_error_page(&issuer, &slash, "is not registered").await;
    let missing: Vec<_> = auth_params(CLIENT_ID, &pkce, &[])
        .into_iter()
        .filter(|(n, _)| n != "redirect_uri")
        .collect();
    assert_error_page(&issuer, &missing, "redirect_uri is missing").await;
    let unknown = auth_params("nobody", &pkce, &[]);
    assert_error_page(&issuer, &unknown, "unknown client").await;
    // The error page escapes what it echoes.
    let xss = auth_params(CLIENT_ID, &pkce, &[("redirect_uri", "<script>x</script>")]);
    let html = get_authorize(&issuer, &xss)
        .await
        .text()
        .await
        .expect("body");
    assert!(!html.contains("<script>x"), "{html}");
}

#[tokio::test]
async fn a_client_without_redirect_uris_gets_a_page_naming_the_fix() {
    let issuer = TestIssuer::start().await;
    let params = auth_params(CLIENT_ID, &Pkce::new(), &[]);
    assert_error_page(&issuer, &params, "has no registered redirect URIs").await;
}

async fn redirected_error(issuer: &TestIssuer, params: &[(String, String)]) -> (String, String) {
    let response = get_authorize(issuer, params).await;
    assert_eq!(response.status(), 302);
    let returned = query(&location(&response));
    assert_eq!(returned["iss"], issuer.issuer());
    assert!(!returned.contains_key("code"));
    (
        returned["error"].clone(),
        returned.get("state").cloned().unwrap_or_default(),
    )
}

#[tokio::test]
async fn pkce_is_required_and_s256_only() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let plain = auth_params(
        CLIENT_ID,
        &pkce,
        &[
            ("code_challenge_method", "plain"),
            ("code_challenge", &pkce.verifier),
        ],
    );
    assert_eq!(
        redirected_error(&issuer, &plain).await,
        ("invalid_request".into(), "st-1".into())
    );
    let no_method: Vec<_> = auth_params(CLIENT_ID, &pkce, &[])
        .into_iter()
        .filter(|(n, _)| n != "code_challenge_method")
        .collect();
    assert_eq!(
        redirected_error(&issuer, &no_method).await.0,
        "invalid_request"
    );
    let no_challenge: Vec<_> = auth_params(CLIENT_ID, &pkce, &[])
        .into_iter()
        .filter(|(n, _)| n != "code_challenge")
        .collect();
    assert_eq!(
        redirected_error(&issuer, &no_challenge).await.0,
        "invalid_request"
    );
    let short = auth_params(CLIENT_ID, &pkce, &[("code_challenge", "abc")]);
    assert_eq!(redirected_error(&issuer, &short).await.0, "invalid_request");
}

#[tokio::test]
async fn unsupported_response_type() {
    let issuer = issuer().await;
    let params = auth_params(
        CLIENT_ID,
        &Pkce::new(),
        &[("response_type", "code id_token")],
    );
    // Hybrid and implicit requests expect the answer in the fragment.
    let response = get_authorize(&issuer, &params).await;
    assert_eq!(response.status(), 302);
    let location = location(&response);
    let fragment = location.fragment().expect("a fragment");
    assert!(location.query().is_none());
    let returned: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(fragment.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(returned["error"], "unsupported_response_type");
    assert_eq!(returned["state"], "st-1");
    assert_eq!(returned["iss"], issuer.issuer());
    // Any other unknown type answers in the query.
    let params = auth_params(CLIENT_ID, &Pkce::new(), &[("response_type", "device")]);
    assert_eq!(
        redirected_error(&issuer, &params).await.0,
        "unsupported_response_type"
    );
}

#[tokio::test]
async fn duplicate_parameters_are_refused() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let mut params = auth_params(CLIENT_ID, &pkce, &[]);
    params.push(("scope".into(), "admin".into()));
    assert_eq!(
        redirected_error(&issuer, &params).await.0,
        "invalid_request"
    );
    // A repeated client_id or redirect_uri cannot be trusted: no redirect at all.
    let mut params = auth_params(CLIENT_ID, &pkce, &[]);
    params.push(("redirect_uri".into(), REDIRECT.into()));
    assert_error_page(&issuer, &params, "more than once").await;
}

#[tokio::test]
async fn request_objects_are_not_supported() {
    let issuer = issuer().await;
    let params = auth_params(CLIENT_ID, &Pkce::new(), &[("request", "e30.e30.")]);
    assert_eq!(
        redirected_error(&issuer, &params).await.0,
        "request_not_supported"
    );
}

#[tokio::test]
async fn login_page_escapes_request_values() {
    let issuer = issuer().await;
    let attack = "\"><script>alert(1)</script>";
    let params = auth_params(
        CLIENT_ID,
        &Pkce::new(),
        &[
            ("state", attack),
            ("login_hint", "<img src=x onerror=alert(2)>"),
            ("scope", "openid <b>"),
        ],
    );
    let response = get_authorize(&issuer, &params).await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = response.text().await.expect("body");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The hint prefills the username field, escaped.
    assert!(
        html.contains("value=\"&lt;img src=x onerror=alert(2)&gt;\""),
        "{html}"
    );
    // And the state survives the round trip exactly.
    let hidden = hidden_inputs(&html);
    assert!(hidden.contains(&("state".to_owned(), attack.to_owned())));
}

#[tokio::test]
async fn a_scope_with_forbidden_characters_is_invalid_scope() {
    let issuer = issuer().await;
    let params = auth_params(CLIENT_ID, &Pkce::new(), &[("scope", "openid a\"b")]);
    assert_eq!(redirected_error(&issuer, &params).await.0, "invalid_scope");
}

#[tokio::test]
async fn auto_login_redirects_at_once() {
    let issuer = TestIssuer::builder()
        .client(app_client())
        .auto_login(Some("bob"))
        .start()
        .await
        .expect("start");
    let pkce = Pkce::new();
    let response = get_authorize(&issuer, &auth_params(CLIENT_ID, &pkce, &[])).await;
    assert_eq!(response.status(), 302);
    let returned = query(&location(&response));
    assert_eq!(returned["state"], "st-1");
    assert_eq!(returned["iss"], issuer.issuer());
    let tokens: serde_json::Value = exchange(&issuer, &returned["code"], &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(decode(text(&tokens, "access_token")).claims["sub"], "bob");

    // Switched off at run time: the login page again.
    issuer.set_auto_login(None);
    let response = get_authorize(&issuer, &auth_params(CLIENT_ID, &pkce, &[])).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn prompt_none_without_auto_login_is_login_required() {
    let issuer = issuer().await;
    let params = auth_params(CLIENT_ID, &Pkce::new(), &[("prompt", "none")]);
    assert_eq!(redirected_error(&issuer, &params).await.0, "login_required");
    issuer.set_auto_login(Some("alice".into()));
    let response = get_authorize(&issuer, &params).await;
    assert!(query(&location(&response)).contains_key("code"));
}

#[tokio::test]
async fn a_disabled_user_is_denied() {
    let issuer = issuer().await;
    issuer.disable_user("alice");
    let mut form = auth_params(CLIENT_ID, &Pkce::new(), &[]);
    form.push(("user".into(), "alice".into()));
    let response = post_authorize(&issuer, &form).await;
    assert_eq!(query(&location(&response))["error"], "access_denied");
    issuer.enable_user("alice");
    login_as(&issuer, "alice", &Pkce::new(), &[]).await;
}

#[tokio::test]
async fn configured_users_replace_the_defaults() {
    let issuer = TestIssuer::builder()
        .user(TestUser::new("zed").name("Zed <Z>").roles(&["ops"]))
        .client(TestClient::public("spa").redirect_uri(REDIRECT))
        .start()
        .await
        .expect("start");
    let params = auth_params("spa", &Pkce::new(), &[]);
    let html = get_authorize(&issuer, &params)
        .await
        .text()
        .await
        .expect("body");
    assert!(html.contains("data-user=\"zed\""));
    assert!(html.contains("Zed &lt;Z&gt;"));
    assert!(!html.contains("data-user=\"alice\""));
    // The default client is gone too.
    assert_error_page(
        &issuer,
        &auth_params(CLIENT_ID, &Pkce::new(), &[]),
        "unknown client",
    )
    .await;
}

#[tokio::test]
async fn posting_something_other_than_a_form_is_an_error_page() {
    let issuer = issuer().await;
    let response = crate::oauth::http()
        .post(issuer.authorization_endpoint())
        .json(&serde_json::json!({"client_id": CLIENT_ID}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
}
