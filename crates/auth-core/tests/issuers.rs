//! One verifier, several trusted issuers, each a real auth-issuer over HTTP: the token's `iss`
//! picks the issuer (and its key cache, audiences and algorithms) before any key lookup; an
//! untrusted `iss` costs no network call; `AUTH_ISSUERS` configures it from the environment.

mod common;

use auth_core::{AuthConfig, ErrorCode, NoExtraClaims, TokenInvalidReason, Verifier};
use auth_issuer::{KeySpec, TestIssuer};

fn config(issuer: &TestIssuer) -> AuthConfig {
    AuthConfig::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .expect("config")
}

#[tokio::test]
async fn each_trusted_issuer_verifies_its_own_tokens() {
    let staging = TestIssuer::start().await;
    let production = TestIssuer::start().await;
    let verifier =
        Verifier::with_issuers([config(&staging), config(&production)]).expect("verifier");
    assert_eq!(
        verifier.issuers().collect::<Vec<_>>(),
        [staging.issuer(), production.issuer()]
    );
    for (issuer, sub) in [(&staging, "alice"), (&production, "bob")] {
        let token = issuer.token().sub(sub).sign();
        let claims = verifier
            .verify::<NoExtraClaims>(&token)
            .await
            .expect("trusted");
        assert_eq!(claims.sub.as_deref(), Some(sub));
        assert_eq!(&*claims.iss, issuer.issuer());
    }
    // The primary issuer is the first one: its configuration is the verifier's.
    assert_eq!(verifier.config().issuer(), staging.issuer());
}

#[tokio::test]
async fn an_untrusted_issuer_is_refused_without_a_network_call() {
    let trusted = TestIssuer::start().await;
    let other = TestIssuer::start().await;
    let elsewhere = TestIssuer::start().await;
    let verifier = Verifier::with_issuers([config(&trusted), config(&other)]).expect("verifier");
    let token = elsewhere.token().sub("mallory").sign();
    let refused = verifier.verify::<NoExtraClaims>(&token).await;
    let error = refused.expect_err("untrusted");
    assert_eq!(error.code(), ErrorCode::TokenInvalid);
    assert_eq!(error.reason(), Some(TokenInvalidReason::IssuerMismatch));
    assert_eq!(
        elsewhere.discovery_requests() + elsewhere.jwks_requests(),
        0
    );
    assert_eq!(
        verifier.key_set_fetches(),
        0,
        "no key set was fetched for it"
    );
}

#[tokio::test]
async fn a_token_signed_by_another_trusted_issuer_is_refused() {
    // iss says A, the signature is B's: A's keys decide, and refuse it.
    // (Issuers share a process-wide key pool: give each its own kind of key.)
    let a = TestIssuer::builder()
        .keys(vec![KeySpec::Rsa2048])
        .start()
        .await
        .expect("issuer");
    let b = TestIssuer::builder()
        .keys(vec![KeySpec::Ed25519])
        .start()
        .await
        .expect("issuer");
    let verifier = Verifier::with_issuers([config(&a), config(&b)]).expect("verifier");
    let forged = b.token().claim("iss", a.issuer()).sign();
    let refused = verifier.verify::<NoExtraClaims>(&forged).await;
    common::assert_code(refused, ErrorCode::TokenInvalid);
    assert_eq!(b.jwks_requests(), 0, "B's keys were never consulted");
}

#[tokio::test]
async fn each_issuer_keeps_its_own_audiences() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::builder()
        .audience("b-api")
        .start()
        .await
        .expect("issuer");
    let verifier = Verifier::with_issuers([config(&a), config(&b)]).expect("verifier");
    let for_a = b.token().aud(a.audience()).sign();
    let refused = verifier.verify::<NoExtraClaims>(&for_a).await;
    let error = refused.expect_err("b's token for a's audience");
    assert_eq!(error.reason(), Some(TokenInvalidReason::AudienceMismatch));
    assert!(
        verifier
            .verify::<NoExtraClaims>(&b.token().sign())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn tokens_without_iss_or_with_a_malformed_payload_are_refused() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let verifier = Verifier::with_issuers([config(&a), config(&b)]).expect("verifier");
    let no_iss = a.token().remove_claim("iss").sign();
    let error = verifier
        .verify::<NoExtraClaims>(&no_iss)
        .await
        .expect_err("no iss");
    assert_eq!(
        error.reason(),
        Some(TokenInvalidReason::MissingClaim("iss"))
    );
    let garbage = verifier
        .verify::<NoExtraClaims>("e30.bm90LWpzb24.c2ln")
        .await;
    common::assert_code(garbage, ErrorCode::TokenInvalid);
}

#[test]
fn an_issuer_listed_twice_or_no_issuer_is_a_configuration_error() {
    let config = AuthConfig::builder()
        .issuer("https://idp.example.com")
        .audience("api")
        .build()
        .expect("config");
    let twice = Verifier::with_issuers([config.clone(), config]).expect_err("twice");
    assert_eq!(twice.variable(), "AUTH_ISSUERS");
    let none = Verifier::with_issuers([]).expect_err("none");
    assert_eq!(none.variable(), "AUTH_ISSUERS");
}

#[tokio::test]
async fn auth_issuers_configures_several_issuers_from_the_environment() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::builder()
        .audience(a.audience())
        .start()
        .await
        .expect("issuer");
    let list = format!("{}, {}", a.issuer(), b.issuer());
    let vars = [
        ("AUTH_ISSUERS", list.as_str()),
        ("AUTH_AUDIENCE", a.audience()),
    ];
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let verifier = Verifier::from_vars(lookup).expect("from AUTH_ISSUERS");
    assert_eq!(verifier.issuers().count(), 2);
    for issuer in [&a, &b] {
        let token = issuer.token().sub("carol").sign();
        assert!(verifier.verify::<NoExtraClaims>(&token).await.is_ok());
    }
    // AUTH_JWKS_URI cannot be shared by several issuers.
    let with_jwks = |name: &str| match name {
        "AUTH_JWKS_URI" => Some(a.jwks_uri()),
        other => lookup(other),
    };
    let error = Verifier::from_vars(with_jwks).expect_err("shared JWKS URI");
    assert_eq!(error.variable(), "AUTH_JWKS_URI");
    // A bad URL in the list names AUTH_ISSUERS.
    let bad = |name: &str| match name {
        "AUTH_ISSUERS" => Some("not a url".to_owned()),
        other => lookup(other),
    };
    let error = Verifier::from_vars(bad).expect_err("bad URL");
    assert_eq!(error.variable(), "AUTH_ISSUERS");
}

#[tokio::test]
async fn the_same_sub_at_two_issuers_is_two_principals_for_ownership() {
    use std::sync::Arc;

    use auth_core::owner::{AccessMode, MemoryOwnerStore, Ownership};

    let primary = TestIssuer::start().await;
    let partner = TestIssuer::start().await;
    let verifier = Verifier::with_issuers([config(&primary), config(&partner)]).expect("verifier");
    let ours = verifier
        .verify::<NoExtraClaims>(&primary.token().sub("alice").sign())
        .await
        .expect("primary");
    let theirs = verifier
        .verify::<NoExtraClaims>(&partner.token().sub("alice").sign())
        .await
        .expect("partner");
    assert_eq!(
        ours.principal().as_deref(),
        Some("alice"),
        "unchanged for one issuer"
    );
    assert_eq!(
        theirs.principal().as_deref(),
        Some(format!("{} alice", partner.issuer()).as_str())
    );
    let notes = Ownership::builder(Arc::new(MemoryOwnerStore::default()), "notes")
        .build()
        .expect("ownership");
    notes
        .authorize(&ours, "n1", AccessMode::Claim)
        .await
        .expect("alice (primary) claims n1");
    let refused = notes.authorize(&theirs, "n1", AccessMode::Write).await;
    common::assert_code(refused, ErrorCode::PermissionDenied);
}

/// An issuer pattern over a real auth-issuer served under a path (`/acme`), as a
/// multi-tenant provider serves each tenant (Entra ID, Keycloak realms).
async fn tenant_issuer() -> (TestIssuer, String) {
    let acme = TestIssuer::builder()
        .path("/acme")
        .start()
        .await
        .expect("issuer");
    let pattern = acme.issuer().replace("/acme", "/{tenant}");
    (acme, pattern)
}

#[tokio::test]
async fn an_issuer_pattern_trusts_each_tenant_with_its_own_issuer() {
    let (acme, pattern) = tenant_issuer().await;
    let verifier = Verifier::new(
        AuthConfig::builder()
            .issuer(&pattern)
            .audience(acme.audience())
            .build()
            .expect("pattern config"),
    )
    .expect("verifier");
    verifier
        .warm_up()
        .await
        .expect("a pattern has nothing to warm up");
    let token = acme.token().sub("alice").sign();
    let claims = verifier
        .verify::<NoExtraClaims>(&token)
        .await
        .expect("a tenant of the pattern");
    assert_eq!(&*claims.iss, acme.issuer());
    // A tenant's subject is qualified by its issuer (two tenants' `alice` are two people).
    assert_eq!(
        claims.principal().as_deref(),
        Some(format!("{} alice", acme.issuer()).as_str())
    );
    // Another tenant of the same provider gets its own issuer, discovered at its own path:
    // there is none here, so its keys cannot be had (503, never a 401 nor acme's keys).
    let beta = acme
        .token()
        .sub("bob")
        .claim("iss", pattern.replace("{tenant}", "beta"))
        .sign();
    let error = verifier
        .verify::<NoExtraClaims>(&beta)
        .await
        .expect_err("beta has no discovery document");
    assert!(error.is_retryable(), "{error:?}");
    // The pattern's own text, a path that is not one segment, and a host that is not the
    // pattern's are refused without a network call.
    let fetched = acme.discovery_requests();
    for iss in [
        pattern.clone(),
        pattern.replace("{tenant}", "a/b"),
        pattern.replace("{tenant}", ".."),
        pattern.replace("{tenant}", ""),
        pattern
            .replace("{tenant}", "acme")
            .replace("127.0.0.1", "localhost"),
    ] {
        let forged = acme
            .token()
            .sub("mallory")
            .claim("iss", iss.as_str())
            .sign();
        let error = verifier
            .verify::<NoExtraClaims>(&forged)
            .await
            .expect_err(&iss);
        assert_eq!(
            error.reason(),
            Some(TokenInvalidReason::IssuerMismatch),
            "{iss}"
        );
    }
    assert_eq!(acme.discovery_requests(), fetched);
    // The login flows need a concrete issuer.
    assert_eq!(
        verifier
            .provider_metadata()
            .await
            .expect_err("pattern")
            .code(),
        ErrorCode::ConfigInvalid
    );
}

#[tokio::test]
async fn an_allow_list_of_tenants_refuses_the_others_without_a_network_call() {
    let (acme, pattern) = tenant_issuer().await;
    let vars = |name: &str| match name {
        "AUTH_ISSUER" => Some(pattern.clone()),
        "AUTH_AUDIENCE" => Some(acme.audience().to_owned()),
        "AUTH_TENANTS" => Some("acme, contoso".to_owned()),
        "AUTH_MAX_TENANTS" => Some("10".to_owned()),
        _ => None,
    };
    let verifier = Verifier::from_vars(vars).expect("verifier");
    let token = acme.token().sub("alice").sign();
    assert!(verifier.verify::<NoExtraClaims>(&token).await.is_ok());
    let fetched = acme.discovery_requests();
    let other = acme
        .token()
        .claim("iss", pattern.replace("{tenant}", "fabrikam"))
        .sign();
    let error = verifier
        .verify::<NoExtraClaims>(&other)
        .await
        .expect_err("not allowed");
    assert_eq!(error.reason(), Some(TokenInvalidReason::IssuerMismatch));
    assert_eq!(acme.discovery_requests(), fetched);
}

#[test]
fn malformed_issuer_patterns_are_configuration_errors() {
    for issuer in [
        "https://{tenant}.example.com/v2.0",
        "https://login.example.com/{tenant}/x/{tenant}",
        "https://login.example.com/t-{tenant}/v2.0",
        "https://login.example.com/{tenant}x",
    ] {
        let error = AuthConfig::builder()
            .issuer(issuer)
            .audience("api")
            .build()
            .map(drop)
            .expect_err(issuer);
        assert_eq!(error.variable(), "AUTH_ISSUER", "{issuer}");
    }
    let error = AuthConfig::builder()
        .issuer("https://login.example.com/realms/main")
        .audience("api")
        .tenants(["acme"])
        .build()
        .map(drop)
        .expect_err("tenants without a pattern");
    assert_eq!(error.variable(), "AUTH_TENANTS");
}
