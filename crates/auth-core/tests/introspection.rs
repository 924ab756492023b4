//! Opaque access tokens introspected (RFC 7662) at a real auth-issuer over HTTP: the same
//! `Claims` and errors as JWTs, `active: false` → `token_invalid`, the cache (one request per
//! token, bounded by `exp` and the maximum TTL), an outage → 503, refused resource-server
//! credentials → `config_invalid`, and `TokenFormat::Auto` telling JWTs from opaque tokens.

mod common;

use std::time::Duration;

use auth_core::{
    AuthConfig, ErrorCode, Introspection, NoExtraClaims, TokenFormat, TokenInvalidReason, Verifier,
};
use auth_issuer::{TestClient, TestIssuer};

const RS: &str = "orders-api";
const RS_SECRET: &str = "resource-server-secret";

async fn issuer() -> TestIssuer {
    TestIssuer::builder()
        .client(TestClient::confidential(RS, RS_SECRET))
        .start()
        .await
        .expect("issuer")
}

fn verifier(issuer: &TestIssuer, introspection: Introspection, format: TokenFormat) -> Verifier {
    Verifier::new(
        AuthConfig::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            .leeway(Duration::ZERO)
            .introspection(introspection)
            .token_format(format)
            .build()
            .expect("config"),
    )
    .expect("verifier")
}

#[tokio::test]
async fn an_opaque_token_is_introspected_into_the_same_claims_and_cached() {
    let issuer = issuer().await;
    let v = verifier(
        &issuer,
        Introspection::new(RS, RS_SECRET),
        TokenFormat::Auto,
    );
    let opaque = issuer
        .token()
        .sub("alice")
        .roles(&["admin"])
        .scope("orders:read")
        .sign_opaque();
    assert!(opaque.starts_with("opq_"));
    let claims = v.verify::<NoExtraClaims>(&opaque).await.expect("active");
    assert_eq!(claims.sub.as_deref(), Some("alice"));
    assert_eq!(claims.roles(), ["admin"]);
    assert!(claims.scopes().contains(&"orders:read"));
    assert_eq!(&*claims.iss, issuer.issuer());
    v.verify::<NoExtraClaims>(&opaque).await.expect("cached");
    assert_eq!(
        issuer.requests_to("/introspect"),
        1,
        "one request per token"
    );
    // A JWT is still verified locally under Auto.
    let jwt = issuer.token().sub("bob").sign();
    v.verify::<NoExtraClaims>(&jwt).await.expect("jwt");
    assert_eq!(issuer.requests_to("/introspect"), 1);
}

#[tokio::test]
async fn inactive_unknown_and_expired_tokens_are_token_invalid() {
    let issuer = issuer().await;
    let v = verifier(
        &issuer,
        Introspection::new(RS, RS_SECRET),
        TokenFormat::Opaque,
    );
    for token in [
        "opq_never_issued".to_owned(),
        issuer.token().sub("alice").expires_in(-10).sign_opaque(),
    ] {
        let error = v
            .verify::<NoExtraClaims>(&token)
            .await
            .expect_err("inactive");
        assert_eq!(error.code(), ErrorCode::TokenInvalid);
        assert_eq!(error.reason(), Some(TokenInvalidReason::Inactive));
        assert_eq!(error.status(), 401);
    }
    // An active token for another audience is refused like a JWT would be.
    let foreign = issuer.token().aud("other-api").sign_opaque();
    let error = v
        .verify::<NoExtraClaims>(&foreign)
        .await
        .expect_err("audience");
    assert_eq!(error.reason(), Some(TokenInvalidReason::AudienceMismatch));
}

#[tokio::test]
async fn a_cached_answer_never_outlives_the_tokens_exp() {
    let issuer = issuer().await;
    let v = verifier(
        &issuer,
        Introspection::new(RS, RS_SECRET).max_ttl(Duration::from_secs(300)),
        TokenFormat::Opaque,
    );
    let token = issuer.token().sub("alice").expires_in(1).sign_opaque();
    v.verify::<NoExtraClaims>(&token).await.expect("active");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let error = v
        .verify::<NoExtraClaims>(&token)
        .await
        .expect_err("expired");
    assert_eq!(error.code(), ErrorCode::TokenExpired);
}

#[tokio::test]
async fn the_maximum_ttl_bounds_the_cache() {
    let issuer = issuer().await;
    let v = verifier(
        &issuer,
        Introspection::new(RS, RS_SECRET).max_ttl(Duration::from_millis(300)),
        TokenFormat::Opaque,
    );
    let token = issuer.token().sub("alice").sign_opaque();
    v.verify::<NoExtraClaims>(&token).await.expect("active");
    tokio::time::sleep(Duration::from_millis(600)).await;
    v.verify::<NoExtraClaims>(&token).await.expect("active");
    assert_eq!(
        issuer.requests_to("/introspect"),
        2,
        "asked again after the TTL"
    );
}

#[tokio::test]
async fn an_introspection_outage_is_503_never_401() {
    let issuer = issuer().await;
    let token = issuer.token().sub("alice").sign_opaque();
    for endpoint in [
        format!("{}/no-such-endpoint", issuer.issuer()), // 404
        "http://127.0.0.1:1/introspect".to_owned(),      // connection refused
    ] {
        let down = verifier(
            &issuer,
            Introspection::new(RS, RS_SECRET).endpoint(endpoint),
            TokenFormat::Opaque,
        );
        let error = down
            .verify::<NoExtraClaims>(&token)
            .await
            .expect_err("down");
        assert_eq!(error.status(), 503, "{error:?}");
        assert!(error.is_retryable());
    }
    // Failures are not cached: the real endpoint answers at once.
    let up = verifier(
        &issuer,
        Introspection::new(RS, RS_SECRET),
        TokenFormat::Opaque,
    );
    up.verify::<NoExtraClaims>(&token).await.expect("active");
}

#[tokio::test]
async fn refused_resource_server_credentials_are_config_invalid() {
    let issuer = issuer().await;
    let v = verifier(
        &issuer,
        Introspection::new(RS, "wrong"),
        TokenFormat::Opaque,
    );
    let token = issuer.token().sub("alice").sign_opaque();
    let error = v
        .verify::<NoExtraClaims>(&token)
        .await
        .expect_err("refused");
    assert_eq!(error.code(), ErrorCode::ConfigInvalid);
}

#[tokio::test]
async fn the_token_endpoint_can_issue_opaque_tokens_that_introspect() {
    let issuer = issuer().await;
    issuer.set_opaque_access_tokens(true);
    let service = auth_core::service::ServiceClient::builder(issuer.issuer(), RS)
        .client_secret(RS_SECRET)
        .build()
        .expect("client");
    let token = service.access_token().await.expect("token");
    assert!(token.secret().starts_with("opq_"));
    let v = verifier(
        &issuer,
        Introspection::new(RS, RS_SECRET),
        TokenFormat::Auto,
    );
    let claims = v
        .verify::<NoExtraClaims>(token.secret())
        .await
        .expect("active");
    assert_eq!(claims.client_id.as_deref(), Some(RS));
}

#[test]
fn opaque_tokens_without_introspection_are_a_configuration_error() {
    let error = AuthConfig::builder()
        .issuer("https://idp.example.com")
        .audience("api")
        .token_format(TokenFormat::Opaque)
        .build()
        .expect_err("no introspection");
    assert_eq!(error.variable(), "AUTH_TOKEN_FORMAT");
    let vars = [
        ("AUTH_ISSUER", "https://idp.example.com"),
        ("AUTH_AUDIENCE", "api"),
        ("AUTH_TOKEN_FORMAT", "auto"),
    ];
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let error = auth_core::AuthConfigBuilder::from_vars(lookup).expect_err("credentials");
    assert_eq!(error.variable(), "AUTH_INTROSPECTION_CLIENT_ID");
}
