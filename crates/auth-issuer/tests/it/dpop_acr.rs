//! DPoP-bound tokens (RFC 9449) and `acr` (step-up) from the dev issuer.

use auth_core::{Algorithm, ClientKey};
use auth_issuer::{TestClient, TestIssuer};
use serde_json::{Value, json};

use crate::decode;
use crate::oauth::{
    CLIENT_ID, Pkce, REDIRECT, SECRET, app_client, auth_params, exchange, get_authorize, http,
    location, query, text,
};

/// An issuer with `test-client` and the public client `spa`, signing alice in at once.
async fn issuer() -> TestIssuer {
    TestIssuer::builder()
        .client(app_client())
        .client(TestClient::public("spa").redirect_uri(REDIRECT))
        .auto_login(Some("alice"))
        .start()
        .await
        .expect("start")
}

/// A code for `client_id` with `extra` authorization parameters.
async fn code_for(
    issuer: &TestIssuer,
    client_id: &str,
    pkce: &Pkce,
    extra: &[(&str, &str)],
) -> String {
    let response = get_authorize(issuer, &auth_params(client_id, pkce, extra)).await;
    assert_eq!(response.status(), 302);
    query(&location(&response))["code"].clone()
}

fn key() -> ClientKey {
    ClientKey::generate(Algorithm::ES256).expect("an ES256 key")
}

#[tokio::test]
async fn dev_users_sign_in_at_the_first_acr_asked_for() {
    let issuer = issuer().await;
    let pkce = Pkce::new();
    let code = code_for(
        &issuer,
        CLIENT_ID,
        &pkce,
        &[("acr_values", "urn:example:mfa urn:example:pwd")],
    )
    .await;
    let tokens: Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        decode(text(&tokens, "id_token")).claims["acr"],
        "urn:example:mfa"
    );
    assert_eq!(
        decode(text(&tokens, "access_token")).claims["acr"],
        "urn:example:mfa"
    );
    // Without acr_values: no acr.
    let pkce = Pkce::new();
    let code = code_for(&issuer, CLIENT_ID, &pkce, &[]).await;
    let tokens: Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    assert!(
        decode(text(&tokens, "id_token"))
            .claims
            .get("acr")
            .is_none()
    );
    assert!(
        decode(text(&tokens, "access_token"))
            .claims
            .get("acr")
            .is_none()
    );
}

#[tokio::test]
async fn max_age_zero_gives_a_fresh_auth_time() {
    let issuer = issuer().await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let pkce = Pkce::new();
    let code = code_for(
        &issuer,
        CLIENT_ID,
        &pkce,
        &[("max_age", "0"), ("acr_values", "urn:example:mfa")],
    )
    .await;
    let tokens: Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    let id = decode(text(&tokens, "id_token")).claims;
    assert!(
        id["auth_time"].as_i64().expect("auth_time") >= before,
        "{id}"
    );
    assert_eq!(id["acr"], "urn:example:mfa");
}

#[tokio::test]
async fn a_dpop_token_is_bound_and_userinfo_needs_the_proof() {
    let issuer = issuer().await;
    let key = key();
    let pkce = Pkce::new();
    let code = code_for(&issuer, "spa", &pkce, &[]).await;
    let proof = key
        .dpop_proof("POST", &issuer.token_endpoint(), None, None)
        .expect("proof");
    let response = http()
        .post(issuer.token_endpoint())
        .header("dpop", proof)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", pkce.verifier.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.expect("JSON");
    assert_eq!(tokens["token_type"], "DPoP");
    let token = text(&tokens, "access_token");
    assert_eq!(decode(token).claims["cnf"]["jkt"], key.thumbprint());

    let bearer = http()
        .get(issuer.userinfo_endpoint())
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(bearer.status(), 401);
    let proof = key
        .dpop_proof("GET", &issuer.userinfo_endpoint(), Some(token), None)
        .expect("proof");
    let bound = http()
        .get(issuer.userinfo_endpoint())
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(bound.status(), 200);
    let me: Value = bound.json().await.expect("JSON");
    assert_eq!(me["sub"], "alice");
}

#[tokio::test]
async fn minted_tokens_carry_cnf_and_acr_to_introspection() {
    let issuer = issuer().await;
    let key = key();
    let opaque = issuer
        .token()
        .sub("alice")
        .claim("cnf", json!({ "jkt": key.thumbprint() }))
        .claim("acr", "urn:example:mfa")
        .claim("auth_time", 1_765_000_000)
        .sign_opaque();
    let answer: Value = http()
        .post(format!("{}/introspect", issuer.issuer()))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("token", opaque.as_str())])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"]["jkt"], key.thumbprint());
    assert_eq!(answer["acr"], "urn:example:mfa");
    assert_eq!(answer["auth_time"], 1_765_000_000);
}

#[tokio::test]
async fn discovery_lists_the_dpop_algorithms() {
    let issuer = issuer().await;
    let document: Value = http()
        .get(issuer.discovery_url())
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");
    let algs = document["dpop_signing_alg_values_supported"]
        .as_array()
        .expect("dpop algs");
    assert!(algs.contains(&json!("ES256")), "{document}");
}
