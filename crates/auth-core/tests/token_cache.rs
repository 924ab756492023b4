//! The verified-token cache against a real auth-issuer: a repeated token is accepted again
//! until its `exp` plus the leeway and never after, not once its key left the key set, not
//! once its `jti` was revoked; the application's claims type still applies; it can be turned
//! off.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{AuthConfigBuilder, ErrorCode, NoExtraClaims, Verifier};
use auth_issuer::{KeySpec, TestIssuer};

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[tokio::test]
async fn a_cached_token_expires_at_exp_plus_leeway_by_the_verifiers_clock() {
    let issuer = TestIssuer::start().await;
    let offset = Arc::new(AtomicI64::new(0));
    let clock = {
        let offset = Arc::clone(&offset);
        Arc::new(move || {
            let delta = offset.load(Ordering::Relaxed);
            SystemTime::now() + Duration::from_secs(delta.max(0) as u64)
        })
    };
    let verifier = Verifier::new(
        common::builder(&issuer)
            .leeway(Duration::from_secs(30))
            .clock(clock)
            .build()
            .expect("config"),
    )
    .expect("verifier");
    let token = issuer.token().sub("alice").exp(now_secs() + 60).sign();
    for _ in 0..3 {
        common::verify(&verifier, &token).await.expect("valid");
    }
    // Within the leeway: still accepted (from the cache).
    offset.store(80, Ordering::Relaxed);
    common::verify(&verifier, &token)
        .await
        .expect("within the leeway");
    // Past exp + leeway: refused, as the full check would.
    offset.store(95, Ordering::Relaxed);
    let error = common::verify(&verifier, &token)
        .await
        .expect_err("expired");
    assert_eq!(error.code(), ErrorCode::TokenExpired);
}

#[tokio::test]
async fn a_cached_token_is_refused_once_its_key_left_the_key_set() {
    let issuer = TestIssuer::start().await;
    let verifier = common::verifier(&issuer);
    let old = issuer.token().sub("alice").sign();
    common::verify(&verifier, &old).await.expect("valid");
    common::verify(&verifier, &old).await.expect("cached");
    // The provider rotates: a new key, and the old one gone from its JWKS.
    let old_kid = issuer.kids()[0].clone();
    let new_kid = issuer.add_key(KeySpec::Rsa2048);
    issuer.set_default_key(&new_kid);
    issuer.remove_key(&old_kid);
    // A token with the new kid makes the verifier refetch the set.
    let fresh = issuer.token().sub("bob").sign();
    common::verify(&verifier, &fresh).await.expect("new key");
    let error = common::verify(&verifier, &old)
        .await
        .expect_err("the old key is gone");
    assert_eq!(error.code(), ErrorCode::TokenInvalid, "{error:?}");
}

#[tokio::test]
async fn a_revoked_jti_is_refused_cached_or_not() {
    let issuer = TestIssuer::start().await;
    let verifier = common::verifier(&issuer);
    let cached = issuer.token().sub("alice").claim("jti", "t-1").sign();
    let never_seen = issuer.token().sub("alice").claim("jti", "t-2").sign();
    let other = issuer.token().sub("alice").claim("jti", "t-3").sign();
    common::verify(&verifier, &cached).await.expect("valid");
    let until = SystemTime::now() + Duration::from_secs(3600);
    verifier.revoke_jti("t-1", until);
    verifier.revoke_jti("t-2", until);
    for token in [&cached, &never_seen] {
        let error = common::verify(&verifier, token).await.expect_err("revoked");
        assert_eq!(error.code(), ErrorCode::TokenRevoked);
        assert_eq!(error.status(), 401);
    }
    common::verify(&verifier, &other)
        .await
        .expect("not revoked");
    // Forgetting a token makes its next use a full verification, with the same answer.
    verifier.forget_token(&other);
    common::verify(&verifier, &other)
        .await
        .expect("verified again");
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Plan {
    plan: String,
}

#[tokio::test]
async fn the_claims_type_applies_to_cached_tokens_and_the_cache_can_be_off() {
    let issuer = TestIssuer::start().await;
    for bytes in [None, Some(0)] {
        let mut builder = common::builder(&issuer);
        if let Some(bytes) = bytes {
            builder = builder.token_cache_bytes(bytes);
        }
        let verifier = Verifier::new(builder.build().expect("config")).expect("verifier");
        let token = issuer.token().sub("alice").claim("plan", "gold").sign();
        for _ in 0..3 {
            let claims = verifier.verify::<Plan>(&token).await.expect("typed");
            assert_eq!(claims.extra.plan, "gold");
            assert!(verifier.verify::<NoExtraClaims>(&token).await.is_ok());
        }
        let without = issuer.token().sub("alice").sign();
        common::verify(&verifier, &without).await.expect("untyped");
        let error = verifier
            .verify::<Plan>(&without)
            .await
            .expect_err("no plan claim");
        assert_eq!(error.code(), ErrorCode::TokenInvalid);
    }
    let off = AuthConfigBuilder::from_vars(|name| match name {
        "AUTH_ISSUER" => Some(issuer.issuer().to_owned()),
        "AUTH_AUDIENCE" => Some(issuer.audience().to_owned()),
        "AUTH_TOKEN_CACHE_BYTES" => Some("0".to_owned()),
        _ => None,
    });
    assert!(off.and_then(AuthConfigBuilder::build).is_ok());
    let bad = AuthConfigBuilder::from_vars(|name| match name {
        "AUTH_ISSUER" => Some(issuer.issuer().to_owned()),
        "AUTH_AUDIENCE" => Some(issuer.audience().to_owned()),
        "AUTH_TOKEN_CACHE_BYTES" => Some("lots".to_owned()),
        _ => None,
    });
    assert_eq!(
        bad.map(drop).expect_err("not a number").variable(),
        "AUTH_TOKEN_CACHE_BYTES"
    );
}

/// A claims type that counts how often a payload is read as it.
#[derive(Debug, Clone)]
struct Counted<const N: usize> {
    plan: String,
}

static READS: [std::sync::atomic::AtomicUsize; 5] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 5];

impl<'de, const N: usize> serde::Deserialize<'de> for Counted<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        READS[N].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Plan::deserialize(d).map(|p| Counted { plan: p.plan })
    }
}

fn reads(n: usize) -> usize {
    READS[n].load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn a_cached_token_is_read_as_each_claims_type_once() {
    let issuer = TestIssuer::start().await;
    let verifier = Verifier::new(common::builder(&issuer).build().expect("config")).expect("v");
    let token = issuer.token().sub("alice").claim("plan", "gold").sign();
    for _ in 0..4 {
        let claims = verifier.verify::<Counted<0>>(&token).await.expect("typed");
        assert_eq!(claims.extra.plan, "gold");
    }
    assert_eq!(reads(0), 1, "read once, then cloned from the cached entry");
    // More types than the entry keeps: each still gets its own, correct reading.
    for _ in 0..3 {
        assert_eq!(
            verifier
                .verify::<Counted<1>>(&token)
                .await
                .expect("1")
                .extra
                .plan,
            "gold"
        );
        assert_eq!(
            verifier
                .verify::<Counted<2>>(&token)
                .await
                .expect("2")
                .extra
                .plan,
            "gold"
        );
        assert_eq!(
            verifier
                .verify::<Counted<3>>(&token)
                .await
                .expect("3")
                .extra
                .plan,
            "gold"
        );
        assert_eq!(
            verifier
                .verify::<Counted<0>>(&token)
                .await
                .expect("0")
                .extra
                .plan,
            "gold"
        );
    }
    assert_eq!((reads(0), reads(1), reads(2)), (1, 1, 1));
    assert_eq!(reads(3), 3, "a fourth type is read every time");
    // Without the cache, every verification reads the payload.
    let off = common::builder(&issuer)
        .token_cache_bytes(0)
        .build()
        .expect("config");
    let verifier = Verifier::new(off).expect("verifier");
    for _ in 0..3 {
        verifier.verify::<Counted<4>>(&token).await.expect("typed");
    }
    assert_eq!(reads(4), 3);
}

#[tokio::test]
async fn with_several_issuers_a_cached_token_still_follows_its_own_issuers_keys() {
    let first = TestIssuer::start().await;
    let second = TestIssuer::start().await;
    let verifier = Verifier::with_issuers([
        common::builder(&first).build().expect("config"),
        common::builder(&second).build().expect("config"),
    ])
    .expect("verifier");
    let token = second.token().sub("bob").sign();
    for _ in 0..3 {
        let claims = common::verify(&verifier, &token).await.expect("valid");
        assert_eq!(&*claims.iss, second.issuer());
    }
    let old_kid = second.kids()[0].clone();
    let new_kid = second.add_key(KeySpec::Rsa2048);
    second.set_default_key(&new_kid);
    second.remove_key(&old_kid);
    common::verify(&verifier, &second.token().sub("carol").sign())
        .await
        .expect("the new key");
    let error = common::verify(&verifier, &token)
        .await
        .expect_err("its key is gone from its issuer");
    assert_eq!(error.code(), ErrorCode::TokenInvalid);
    // The first issuer's tokens are untouched.
    common::verify(&verifier, &first.token().sub("alice").sign())
        .await
        .expect("first issuer");
}
