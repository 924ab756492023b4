//! DPoP (RFC 9449) on the paths the example apps do not show, against a real auth-issuer over
//! HTTP: `required` mode, bound tokens in a query, in a WebSocket subprotocol and in an in-band
//! re-authentication, introspected (opaque) bound tokens, and API keys beside DPoP.

use std::sync::Arc;
use std::time::Duration;

use auth_core::adapter::{RequestAuth, SimpleRequest, Unauthenticated};
use auth_core::api_key::{ApiKeys, MemoryKeyStore, NewApiKey};
use auth_core::dpop::DpopConfig;
use auth_core::{
    Algorithm, AuthConfig, Authenticator, ClientKey, ErrorCode, Introspection, NoExtraClaims,
    TokenFormat, TokenInvalidReason, TokenSource, Verifier,
};
use auth_issuer::{TestClient, TestIssuer};
use serde_json::json;

const APP: &str = "https://api.example.com";
const RS: &str = "orders-api";
const RS_SECRET: &str = "resource-server-secret";

async fn issuer() -> TestIssuer {
    TestIssuer::builder()
        .client(TestClient::confidential(RS, RS_SECRET))
        .start()
        .await
        .expect("issuer")
}

fn config(issuer: &TestIssuer) -> auth_core::AuthConfigBuilder {
    AuthConfig::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .leeway(Duration::ZERO)
}

fn bound(issuer: &TestIssuer, key: &ClientKey) -> String {
    issuer
        .token()
        .sub("dora")
        .claim("cnf", json!({ "jkt": key.thumbprint() }))
        .sign()
}

async fn outcome(
    authenticator: &Authenticator,
    req: &SimpleRequest,
) -> Result<(), (ErrorCode, Option<TokenInvalidReason>, u16, String)> {
    let auth = RequestAuth::new(authenticator, Unauthenticated::Reject);
    match auth.required_claims::<NoExtraClaims>(req).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let response = auth.render(&e);
            let challenge = response
                .header("www-authenticate")
                .unwrap_or_default()
                .to_owned();
            Err((e.code(), e.reason(), response.status, challenge))
        }
    }
}

fn dpop_request(path: &str, token: &str, key: &ClientKey) -> SimpleRequest {
    let proof = key
        .dpop_proof("GET", &format!("{APP}{path}"), Some(token), None)
        .expect("proof");
    SimpleRequest::get(path)
        .header("authorization", &format!("DPoP {token}"))
        .header("dpop", &proof)
}

#[tokio::test]
async fn with_dpop_required_bearer_is_refused_and_only_dpop_is_challenged() {
    let issuer = issuer().await;
    let authenticator = Authenticator::builder(
        Verifier::new(config(&issuer).build().expect("config")).expect("verifier"),
    )
    .dpop(DpopConfig::new().public_url(APP).required(true))
    .build()
    .expect("authenticator");
    let key = ClientKey::generate(Algorithm::ES256).expect("key");
    let token = bound(&issuer, &key);
    assert_eq!(
        outcome(&authenticator, &dpop_request("/orders", &token, &key)).await,
        Ok(())
    );

    let unbound = issuer.token().sub("dora").sign();
    let bearer =
        SimpleRequest::get("/orders").header("authorization", &format!("Bearer {unbound}"));
    let (code, reason, status, challenge) =
        outcome(&authenticator, &bearer).await.expect_err("refused");
    assert_eq!(
        (code, reason, status),
        (
            ErrorCode::TokenInvalid,
            Some(TokenInvalidReason::KeyBinding),
            401
        )
    );
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(
        !challenge.contains("Bearer"),
        "only DPoP is offered: {challenge}"
    );
    let none = SimpleRequest::get("/orders");
    let (_, _, _, challenge) = outcome(&authenticator, &none).await.expect_err("refused");
    assert!(challenge.starts_with("DPoP algs=\""), "{challenge}");
}

#[tokio::test]
async fn a_bound_token_is_refused_in_a_query_a_subprotocol_and_an_in_band_reauthentication() {
    let issuer = issuer().await;
    let verifier = Verifier::new(config(&issuer).build().expect("config")).expect("verifier");
    let authenticator = Authenticator::builder(verifier)
        .token_sources([TokenSource::Header, TokenSource::Query])
        .dpop(DpopConfig::new().public_url(APP))
        .build()
        .expect("authenticator");
    let key = ClientKey::generate(Algorithm::ES256).expect("key");
    let token = bound(&issuer, &key);

    let query = SimpleRequest::get(&format!("/orders?access_token={token}"));
    let (code, reason, _, _) = outcome(&authenticator, &query).await.expect_err("refused");
    assert_eq!(
        (code, reason),
        (
            ErrorCode::TokenInvalid,
            Some(TokenInvalidReason::KeyBinding)
        )
    );

    let upgrade = SimpleRequest::get("/ws")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", &format!("chat, bearer.{token}"));
    let refused = authenticator
        .verify_upgrade(&upgrade)
        .await
        .expect_err("refused");
    assert_eq!(refused.reason(), Some(TokenInvalidReason::KeyBinding));

    // A connection opened with DPoP cannot re-authenticate in band (no proof travels there).
    let opened = SimpleRequest::get("/ws")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    let opened = {
        let proof = key
            .dpop_proof("GET", &format!("{APP}/ws"), Some(&token), None)
            .expect("proof");
        opened
            .header("authorization", &format!("DPoP {token}"))
            .header("dpop", &proof)
    };
    let auth = RequestAuth::new(&authenticator, Unauthenticated::Reject);
    let mut socket = auth.upgrade(&opened).await.expect("a DPoP upgrade opens");
    let again = bound(&issuer, &key);
    let e = socket.reauthenticate(&again).await.expect_err("refused");
    assert_eq!(e.reason(), Some(TokenInvalidReason::KeyBinding));
}

#[tokio::test]
async fn an_introspected_bound_token_needs_its_proof() {
    let issuer = issuer().await;
    let verifier = Verifier::new(
        config(&issuer)
            .introspection(Introspection::new(RS, RS_SECRET))
            .token_format(TokenFormat::Auto)
            .build()
            .expect("config"),
    )
    .expect("verifier");
    let authenticator = Authenticator::builder(verifier)
        .dpop(DpopConfig::new().public_url(APP))
        .build()
        .expect("authenticator");
    let key = ClientKey::generate(Algorithm::ES256).expect("key");
    let opaque = issuer
        .token()
        .sub("dora")
        .claim("cnf", json!({ "jkt": key.thumbprint() }))
        .sign_opaque();
    assert_eq!(
        outcome(&authenticator, &dpop_request("/orders", &opaque, &key)).await,
        Ok(())
    );
    let bearer = SimpleRequest::get("/orders").header("authorization", &format!("Bearer {opaque}"));
    let (code, reason, _, _) = outcome(&authenticator, &bearer).await.expect_err("refused");
    assert_eq!(
        (code, reason),
        (
            ErrorCode::TokenInvalid,
            Some(TokenInvalidReason::KeyBinding)
        )
    );
}

#[tokio::test]
async fn api_keys_work_beside_dpop_and_never_with_a_dpop_token() {
    let issuer = issuer().await;
    let keys = ApiKeys::builder(
        Arc::new(MemoryKeyStore::new()) as Arc<dyn auth_core::api_key::ApiKeyStore>
    )
    .build()
    .expect("keys");
    let created = keys.create(NewApiKey::new("ci", "svc")).await.expect("key");
    let api_key = created.key.expose().to_owned();
    let authenticator = Authenticator::builder(
        Verifier::new(config(&issuer).build().expect("config")).expect("verifier"),
    )
    .api_keys(keys)
    .dpop(DpopConfig::new().public_url(APP).required(true))
    .build()
    .expect("authenticator");
    // API keys are not OAuth tokens: DPoP does not apply to them, even when required.
    let with_key = SimpleRequest::get("/orders").header("x-api-key", &api_key);
    assert_eq!(outcome(&authenticator, &with_key).await, Ok(()));
    let key = ClientKey::generate(Algorithm::ES256).expect("key");
    let token = bound(&issuer, &key);
    let both = dpop_request("/orders", &token, &key).header("x-api-key", &api_key);
    let (code, _, status, _) = outcome(&authenticator, &both).await.expect_err("refused");
    assert_eq!((code, status), (ErrorCode::InvalidRequest, 400));
}
