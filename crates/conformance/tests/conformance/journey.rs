//! The whole browser journey against each example app and its embedded issuer, over real
//! HTTP: the dev login page, the callback, the signed-in page, the APIs, and sign-out.

use reqwest::StatusCode;
use serde_json::Value;

use crate::app::App;
use crate::support::{attribute_of, hidden_inputs};

/// A browser that follows redirects and keeps its cookies.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

/// Clicks "Sign in" on the app, then the user's button on the dev login page; returns the
/// page the browser lands on.
async fn sign_in_as(running: &App, browser: &reqwest::Client, user: &str) -> String {
    let home = browser
        .get(format!("{}/", running.app_url))
        .send()
        .await
        .expect("home")
        .text()
        .await
        .expect("html");
    let sign_in = attribute_of(&home, "id=\"sign-in\"", "href").expect("a Sign in link");

    // The link leads through /auth/login to the issuer's login page.
    let login = browser
        .get(format!("{}{sign_in}", running.app_url))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    let issuer = running.issuer.as_ref().expect("embedded issuer");
    assert!(
        login.url().as_str().starts_with(issuer.issuer()),
        "{}",
        login.url()
    );
    let page = login.text().await.expect("html");
    assert!(page.contains("id=\"login-form\""), "{page}");
    assert!(page.contains(&format!("data-user=\"{user}\"")), "{page}");

    let action = attribute_of(&page, "id=\"login-form\"", "action").expect("form action");
    let action = reqwest::Url::parse(issuer.issuer())
        .and_then(|base| base.join(&action))
        .expect("action URL");
    let mut fields = hidden_inputs(&page);
    fields.push(("user".to_owned(), user.to_owned()));
    let back = browser
        .post(action)
        .form(&fields)
        .send()
        .await
        .expect("login form");
    let url = back.url().clone();
    assert_eq!(
        back.status(),
        StatusCode::OK,
        "{url}: {:?}",
        back.text().await
    );
    assert_eq!(back.url().as_str(), format!("{}/", running.app_url));
    back.text().await.expect("html")
}

async fn get_json(browser: &reqwest::Client, url: String) -> (StatusCode, Value) {
    let r = browser.get(url).send().await.expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn alice_signs_in_uses_the_apis_and_signs_out(running: App) {
    let browser = browser();
    let app = running.app_url.clone();

    let (status, body) = get_json(&browser, format!("{app}/api/optional")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["authenticated"], false);
    let (status, body) = get_json(&browser, format!("{app}/api/me")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_missing");

    let page = sign_in_as(&running, &browser, "alice").await;
    assert!(
        page.contains("<strong id=\"user-sub\">alice</strong>"),
        "{page}"
    );
    assert!(page.contains("id=\"claims\""), "{page}");
    assert!(page.contains("id=\"sign-out\""), "{page}");

    let (status, body) = get_json(&browser, format!("{app}/api/me")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], "alice");
    assert!(
        body["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "admin"))
    );
    assert_eq!(body["claims"]["sub"], "alice");

    let (status, body) = get_json(&browser, format!("{app}/api/admin")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = get_json(&browser, format!("{app}/api/optional")).await;
    assert_eq!(body["authenticated"], true);

    // "Sign out": the form posts to /auth/signout, the issuer's logout sends the browser home.
    let out = browser
        .post(format!("{app}/auth/signout"))
        .send()
        .await
        .expect("signout");
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(out.url().as_str(), format!("{app}/"));
    let page = out.text().await.expect("html");
    assert!(page.contains("id=\"sign-in\""), "{page}");

    let (status, _) = get_json(&browser, format!("{app}/api/me")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

pub async fn bob_is_not_an_admin(running: App) {
    let browser = browser();
    let app = running.app_url.clone();
    let page = sign_in_as(&running, &browser, "bob").await;
    assert!(
        page.contains("<strong id=\"user-sub\">bob</strong>"),
        "{page}"
    );
    let (status, body) = get_json(&browser, format!("{app}/api/me")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "bob");
    let (status, body) = get_json(&browser, format!("{app}/api/admin")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "permission_denied");
}
