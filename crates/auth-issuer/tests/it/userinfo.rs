use std::time::Duration;

use auth_issuer::{TestIssuer, TestUser};
use serde_json::{Value, json};

use crate::oauth::{Pkce, app_client, exchange, http, issuer, login_as, sign_in, text, userinfo};

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

#[tokio::test]
async fn userinfo_describes_the_user() {
    let issuer = TestIssuer::builder()
        .client(app_client())
        .user(
            TestUser::new("alice")
                .name("Alice Example")
                .email("alice@example.com")
                .roles(&["admin"])
                .claim("tenant", "t-1"),
        )
        .start()
        .await
        .expect("start");
    let tokens = sign_in(&issuer, "alice").await;
    let response = userinfo(&issuer, text(&tokens, "access_token")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({
            "sub": "alice",
            "name": "Alice Example",
            "email": "alice@example.com",
            "email_verified": true,
            "roles": ["admin"],
            "tenant": "t-1",
        })
    );
    assert_eq!(issuer.requests_to("/userinfo"), 1);
}

#[tokio::test]
async fn scheme_is_case_insensitive_and_post_works() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "bob").await;
    let token = text(&tokens, "access_token");
    let response = http()
        .get(issuer.userinfo_endpoint())
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let response = http()
        .post(issuer.userinfo_endpoint())
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let response = http()
        .post(issuer.userinfo_endpoint())
        .form(&[("access_token", token)])
        .send()
        .await
        .expect("request");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["sub"], "bob");
}

#[tokio::test]
async fn missing_token_is_401_without_an_error_code() {
    let issuer = issuer().await;
    let response = http()
        .get(issuer.userinfo_endpoint())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response), "Bearer");
}

#[tokio::test]
async fn expired_token_is_invalid_token() {
    let issuer = TestIssuer::builder()
        .client(app_client())
        .access_token_ttl(Duration::ZERO)
        .start()
        .await
        .expect("start");
    let tokens = sign_in(&issuer, "alice").await;
    assert_eq!(tokens["expires_in"], 0);
    let response = userinfo(&issuer, text(&tokens, "access_token")).await;
    assert_eq!(response.status(), 401);
    assert!(challenge(&response).contains("error=\"invalid_token\""));

    let minted = issuer.token().sub("alice").expires_in(-60).sign();
    let response = userinfo(&issuer, &minted).await;
    assert_eq!(response.status(), 401);
    assert!(challenge(&response).contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn revoked_sessions_are_invalid_token() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "alice").await;
    issuer.revoke_refresh_tokens_for("alice");
    let response = userinfo(&issuer, text(&tokens, "access_token")).await;
    assert_eq!(response.status(), 401);
    assert!(challenge(&response).contains("invalid_token"));
}

#[tokio::test]
async fn foreign_and_malformed_tokens_are_invalid_token() {
    let issuer = issuer().await;
    let other = TestIssuer::start().await;
    let tokens = sign_in(&issuer, "alice").await;
    for token in [
        "garbage".to_owned(),
        issuer
            .token()
            .sign_hs256_with(issuer.public_key_pem("rsa-1").as_bytes()),
        issuer.token().unsigned(),
        // Same key material (pooled) but another issuer: the iss is wrong.
        other.token().sign(),
        // An ID token is not an access token.
        text(&tokens, "id_token").to_owned(),
    ] {
        let response = userinfo(&issuer, &token).await;
        assert_eq!(response.status(), 401, "{token}");
        assert!(challenge(&response).contains("invalid_token"));
    }
}

#[tokio::test]
async fn a_token_without_openid_is_insufficient_scope() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let code = login_as(&issuer, "alice", &pkce, &[("scope", "profile")]).await;
    let tokens: Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    let response = userinfo(&issuer, text(&tokens, "access_token")).await;
    assert_eq!(response.status(), 403);
    assert!(challenge(&response).contains("error=\"insufficient_scope\""));
}

#[tokio::test]
async fn minted_tokens_work_too() {
    let issuer = issuer().await;
    let token = issuer.token().sub("alice").scope("openid email").sign();
    let body: Value = userinfo(&issuer, &token).await.json().await.expect("JSON");
    assert_eq!(body["email"], "alice@example.com");
    // Claims follow the token's scope (OpenID Connect Core §5.4): no `profile`, no `name`.
    assert!(body.get("name").is_none(), "{body}");
    // A subject the issuer does not know is an ad-hoc user: nothing but `sub`.
    let token = issuer
        .token()
        .sub("zoe")
        .roles(&["x"])
        .claim("name", "Zoe")
        .sign();
    let body: Value = userinfo(&issuer, &token).await.json().await.expect("JSON");
    assert_eq!(body, json!({"sub": "zoe"}));
}
