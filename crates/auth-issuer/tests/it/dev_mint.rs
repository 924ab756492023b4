use auth_issuer::TestIssuer;
use serde_json::{Value, json};

use crate::{decode, verify_with_jwk};

async fn mint(issuer: &TestIssuer, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/dev/mint", issuer.issuer()))
        .json(&body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn dev_mint_is_off_by_default() {
    let issuer = TestIssuer::start().await;
    assert_eq!(mint(&issuer, json!({})).await.status(), 404);
    assert_eq!(issuer.requests_to("/dev/mint"), 1);
}

#[tokio::test]
async fn dev_mint_defaults() {
    let issuer = TestIssuer::builder()
        .dev_endpoints(true)
        .start()
        .await
        .expect("start");
    let response = reqwest::Client::new()
        .post(format!("{}/dev/mint", issuer.issuer()))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let token = body["access_token"].as_str().expect("access_token");
    let jws = decode(token);
    assert_eq!(jws.claims["sub"], "test-user");
    assert_eq!(jws.claims["iss"], issuer.issuer());
    assert!(verify_with_jwk(&issuer.public_jwk("rsa-1"), "RS256", token));
}

#[tokio::test]
async fn dev_mint_with_everything() {
    let issuer = TestIssuer::builder()
        .path("/realms/dev")
        .dev_endpoints(true)
        .start()
        .await
        .expect("start");
    let response = mint(
        &issuer,
        json!({
            "sub": "alice",
            "roles": ["admin"],
            "aud": ["api", "other"],
            "scope": "read",
            "expires_in": 60,
            "kid": "ed-1",
            "claims": {"tenant": "t1", "email": "alice@example.com"},
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["expires_in"], 60);
    let token = body["access_token"].as_str().expect("access_token");
    let jws = decode(token);
    assert_eq!(jws.header["kid"], "ed-1");
    let claims = &jws.claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["roles"], json!(["admin"]));
    assert_eq!(claims["aud"], json!(["api", "other"]));
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["tenant"], "t1");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(
        claims["exp"].as_i64(),
        claims["iat"].as_i64().map(|iat| iat + 60)
    );
    assert!(verify_with_jwk(&issuer.public_jwk("ed-1"), "EdDSA", token));
}

#[tokio::test]
async fn dev_mint_rejects_bad_requests() {
    let issuer = TestIssuer::builder()
        .dev_endpoints(true)
        .start()
        .await
        .expect("start");
    assert_eq!(mint(&issuer, json!({"sub": 5})).await.status(), 400);
    assert_eq!(mint(&issuer, json!({"unknown": true})).await.status(), 400);
    assert_eq!(mint(&issuer, json!({"kid": "ghost"})).await.status(), 400);
    let response = reqwest::Client::new()
        .get(format!("{}/dev/mint", issuer.issuer()))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 405);
}
