use std::time::Duration;

use auth_issuer::{ClientAuth, Fault, TestClient, TestIssuer, TestUser};
use aws_lc_rs::digest;
use serde_json::{Value, json};

use crate::oauth::{
    CLIENT_ID, Pkce, REDIRECT, SECRET, app_client, error_of, exchange, issuer, login_as, refresh,
    sign_in, text, token_request, userinfo,
};
use crate::{b64_encode, decode, verify_with_jwk};

fn now() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(elapsed.as_secs()).expect("fits")
}

#[tokio::test]
async fn code_flow_with_pkce() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let before = now();
    let code = login_as(&issuer, "alice", &pkce, &[]).await;
    let response = exchange(&issuer, &code, &pkce.verifier).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["content-type"], "application/json");
    let tokens: Value = response.json().await.expect("JSON");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 300);
    assert_eq!(tokens["scope"], "openid profile email offline_access");
    let refresh_token = text(&tokens, "refresh_token");
    assert!(
        refresh_token.len() >= 22,
        "at least 128 bits: {refresh_token}"
    );
    assert!(
        refresh_token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );

    let access_token = text(&tokens, "access_token");
    assert!(verify_with_jwk(
        &issuer.public_jwk("rsa-1"),
        "RS256",
        access_token
    ));
    let jws = decode(access_token);
    assert_eq!(jws.header["typ"], "at+jwt");
    assert_eq!(jws.header["kid"], "rsa-1");
    let claims = &jws.claims;
    assert_eq!(claims["iss"], issuer.issuer());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "test-api");
    assert_eq!(claims["client_id"], CLIENT_ID);
    assert_eq!(claims["scope"], "openid profile email offline_access");
    assert_eq!(claims["roles"], json!(["admin", "user"]));
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["email"], "alice@example.com");
    let iat = claims["iat"].as_i64().expect("iat");
    assert!((before..=now()).contains(&iat));
    assert_eq!(claims["exp"].as_i64(), Some(iat + 300));
    assert!(claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    assert!(claims["auth_time"].as_i64().is_some());
    assert_eq!(issuer.requests_to("/token"), 1);
    assert_eq!(issuer.refresh_token_count(), 1);
    assert_eq!(issuer.active_refresh_tokens(), 1);
}

#[tokio::test]
async fn id_token_contents() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "alice").await;
    let id_token = text(&tokens, "id_token");
    assert!(verify_with_jwk(
        &issuer.public_jwk("rsa-1"),
        "RS256",
        id_token
    ));
    let jws = decode(id_token);
    assert_eq!(jws.header["typ"], "JWT");
    let claims = &jws.claims;
    assert_eq!(claims["iss"], issuer.issuer());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["email"], "alice@example.com");
    assert!(claims["auth_time"].as_i64().is_some());
    assert!(claims["sid"].as_str().is_some());
    assert!(claims.get("scope").is_none());
    // at_hash: left half of SHA-256 of the access token, base64url (OIDC Core §3.1.3.6).
    let hash = digest::digest(&digest::SHA256, text(&tokens, "access_token").as_bytes());
    assert_eq!(claims["at_hash"], b64_encode(&hash.as_ref()[..16]));
}

#[tokio::test]
async fn id_token_follows_the_default_key() {
    let issuer = issuer().await;
    issuer.set_default_key("ed-1");
    let tokens = sign_in(&issuer, "bob").await;
    let id_token = text(&tokens, "id_token");
    assert!(verify_with_jwk(
        &issuer.public_jwk("ed-1"),
        "EdDSA",
        id_token
    ));
    // EdDSA (Ed25519): at_hash uses SHA-512.
    let hash = digest::digest(&digest::SHA512, text(&tokens, "access_token").as_bytes());
    assert_eq!(
        decode(id_token).claims["at_hash"],
        b64_encode(&hash.as_ref()[..32])
    );
}

#[tokio::test]
async fn no_id_token_without_openid() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let code = login_as(&issuer, "alice", &pkce, &[("scope", "orders:read")]).await;
    let tokens: Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    assert!(tokens.get("id_token").is_none());
    assert_eq!(tokens["scope"], "orders:read");
}

#[tokio::test]
async fn extra_claims_and_resource_audience() {
    let issuer = TestIssuer::builder()
        .client(app_client())
        .user(
            TestUser::new("dora")
                .roles(&["ops"])
                .claim("tenant", "t-1")
                .claim("sub", "ignored"),
        )
        .start()
        .await
        .expect("start");
    let pkce = Pkce::new();
    let code = login_as(
        &issuer,
        "dora",
        &pkce,
        &[("resource", "https://orders.example/")],
    )
    .await;
    let tokens: Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    let claims = decode(text(&tokens, "access_token")).claims;
    assert_eq!(claims["aud"], "https://orders.example/");
    assert_eq!(claims["sub"], "dora");
    assert_eq!(claims["tenant"], "t-1");
    assert_eq!(claims["roles"], json!(["ops"]));
    assert_eq!(decode(text(&tokens, "id_token")).claims["tenant"], "t-1");

    let pkce = Pkce::new();
    let code = login_as(&issuer, "dora", &pkce, &[("audience", "orders-api")]).await;
    let tokens: Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        decode(text(&tokens, "access_token")).claims["aud"],
        "orders-api"
    );
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let code = login_as(&issuer, "alice", &pkce, &[]).await;
    let other = Pkce::new();
    let (status, error) = error_of(exchange(&issuer, &code, &other.verifier).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    // The failed attempt used the code up.
    let (_, error) = error_of(exchange(&issuer, &code, &pkce.verifier).await).await;
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn missing_verifier_is_invalid_request() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let code = login_as(&issuer, "alice", &pkce, &[]).await;
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(error_of(response).await, (400, "invalid_request".into()));
    // The challenge itself is no verifier (that would be `plain`).
    let (_, error) = error_of(exchange(&issuer, &code, &pkce.challenge).await).await;
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn code_reuse_fails_and_revokes_what_the_code_gave() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let code = login_as(&issuer, "alice", &pkce, &[]).await;
    let first: Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    let access_token = text(&first, "access_token");
    assert_eq!(userinfo(&issuer, access_token).await.status(), 200);

    let (status, error) = error_of(exchange(&issuer, &code, &pkce.verifier).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let (_, error) = error_of(refresh(&issuer, text(&first, "refresh_token")).await).await;
    assert_eq!(error, "invalid_grant");
    assert_eq!(issuer.active_refresh_tokens(), 0);
    assert_eq!(userinfo(&issuer, access_token).await.status(), 401);
}

#[tokio::test]
async fn redirect_uri_must_match_at_the_token_endpoint() {
    let issuer = TestIssuer::builder()
        .client(app_client().redirect_uri("http://127.0.0.1:9/other"))
        .start()
        .await
        .expect("start");
    let pkce = Pkce::new();
    let code = login_as(&issuer, "alice", &pkce, &[]).await;
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", &pkce.verifier),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(error_of(response).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn a_code_is_bound_to_its_client() {
    let issuer = issuer().await;
    issuer.add_client(TestClient::confidential("other", "other-secret").redirect_uri(REDIRECT));
    let pkce = Pkce::new();
    let code = login_as(&issuer, "alice", &pkce, &[]).await;
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
        ],
        Some(("other", "other-secret")),
    )
    .await;
    assert_eq!(error_of(response).await, (400, "invalid_grant".into()));
}

/// Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1).
#[tokio::test]
async fn basic_and_post_client_authentication() {
    let issuer = issuer().await;
    let secret = "p@ss:w+rd/=é";
    issuer.add_client(TestClient::confidential("svc:1", secret));
    let form = [("grant_type", "client_credentials")];

    let encoded = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let response = token_request(&issuer, &form, Some((&encoded("svc:1"), &encoded(secret)))).await;
    assert_eq!(response.status(), 200);

    let response = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "svc:1"),
            ("client_secret", secret),
        ],
        None,
    )
    .await;
    assert_eq!(response.status(), 200);

    // Both at once is one method too many.
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(error_of(response).await, (400, "invalid_request".into()));
}

#[tokio::test]
async fn wrong_secret_is_invalid_client() {
    let issuer = issuer().await;
    let form = [("grant_type", "client_credentials")];
    let response = token_request(&issuer, &form, Some((CLIENT_ID, "wrong"))).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    assert_eq!(error_of(response).await.1, "invalid_client");

    let response = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ],
        None,
    )
    .await;
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));

    // A confidential client that sends no secret, an unknown client.
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
        ],
        None,
    )
    .await;
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));
    let response = token_request(&issuer, &form, Some(("nobody", "x"))).await;
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));
    let response = token_request(&issuer, &form, None).await;
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));
}

#[tokio::test]
async fn a_restricted_auth_method_is_enforced() {
    let issuer = issuer().await;
    issuer.add_client(TestClient::confidential("basic-only", "s").auth_method(ClientAuth::Basic));
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "basic-only"),
            ("client_secret", "s"),
        ],
        None,
    )
    .await;
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));
    let response = token_request(
        &issuer,
        &[("grant_type", "client_credentials")],
        Some(("basic-only", "s")),
    )
    .await;
    assert_eq!(response.status(), 200);
}

async fn public_exchange(issuer: &TestIssuer, secret: Option<&str>) -> reqwest::Response {
    let pkce = Pkce::new();
    let code = login_as(issuer, "alice", &pkce, &[("client_id", "spa")]).await;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", "spa"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    if let Some(secret) = secret {
        form.push(("client_secret", secret));
    }
    token_request(issuer, &form, None).await
}

#[tokio::test]
async fn public_client_without_secret() {
    let issuer = issuer().await;
    issuer.add_client(TestClient::public("spa").redirect_uri(REDIRECT));
    let response = public_exchange(&issuer, None).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.expect("JSON");
    assert_eq!(
        decode(text(&tokens, "access_token")).claims["client_id"],
        "spa"
    );
    let refreshed = token_request(
        &issuer,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", text(&tokens, "refresh_token")),
        ],
        None,
    )
    .await;
    assert_eq!(refreshed.status(), 200);

    let response = public_exchange(&issuer, Some("made-up")).await;
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));
    // Nor as Basic.
    let response = token_request(
        &issuer,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        Some(("spa", "made-up")),
    )
    .await;
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));
}

#[tokio::test]
async fn client_credentials() {
    let issuer = issuer().await;
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read"),
            ("audience", "orders-api"),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.expect("JSON");
    assert!(tokens.get("refresh_token").is_none());
    assert!(tokens.get("id_token").is_none());
    assert_eq!(tokens["scope"], "orders:read");
    let claims = decode(text(&tokens, "access_token")).claims;
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["client_id"], CLIENT_ID);
    assert_eq!(claims["aud"], "orders-api");
    assert!(claims.get("roles").is_none());

    issuer.add_client(TestClient::public("spa"));
    let response = token_request(
        &issuer,
        &[("grant_type", "client_credentials"), ("client_id", "spa")],
        None,
    )
    .await;
    assert_eq!(
        error_of(response).await,
        (400, "unauthorized_client".into())
    );
}

#[tokio::test]
async fn unsupported_and_missing_grant_type() {
    let issuer = issuer().await;
    let response = token_request(
        &issuer,
        &[("grant_type", "password")],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(
        error_of(response).await,
        (400, "unsupported_grant_type".into())
    );
    let response = token_request(&issuer, &[("scope", "x")], Some((CLIENT_ID, SECRET))).await;
    assert_eq!(error_of(response).await, (400, "invalid_request".into()));
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "password"),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(error_of(response).await, (400, "invalid_request".into()));
}

#[tokio::test]
async fn the_token_endpoint_takes_forms_only() {
    let issuer = issuer().await;
    let response = crate::oauth::http()
        .post(issuer.token_endpoint())
        .basic_auth(CLIENT_ID, Some(SECRET))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(error_of(response).await, (400, "invalid_request".into()));
    let response = crate::oauth::http()
        .get(issuer.token_endpoint())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn token_faults() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let code = login_as(&issuer, "alice", &pkce, &[]).await;

    issuer.set_token_fault(Some(Fault::Status(503)));
    assert_eq!(exchange(&issuer, &code, &pkce.verifier).await.status(), 503);
    // The JWKS is unaffected.
    assert_eq!(crate::get(&issuer.jwks_uri()).await.status(), 200);

    issuer.set_token_fault(Some(Fault::Drop));
    let error = crate::oauth::http()
        .post(issuer.token_endpoint())
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect_err("dropped");
    assert!(error.status().is_none(), "{error:?}");

    // The faulty answers did not use the code up.
    issuer.set_token_fault(Some(Fault::Delay(Duration::from_millis(200))));
    let started = std::time::Instant::now();
    let response = exchange(&issuer, &code, &pkce.verifier).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(response.status(), 200);
    assert_eq!(issuer.requests_to("/token"), 3);

    issuer.set_token_fault(Some(Fault::Oversized(10_000)));
    let response = token_request(
        &issuer,
        &[("grant_type", "client_credentials")],
        Some((CLIENT_ID, "wrong")),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.content_length(), Some(10_000));
    let body: Value = serde_json::from_slice(&response.bytes().await.expect("body")).expect("JSON");
    assert_eq!(body["error"], "invalid_client");
    issuer.set_token_fault(None);
}
