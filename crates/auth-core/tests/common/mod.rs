//! Shared test support: a real issuer on 127.0.0.1 and verifiers pointed at it.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::Duration;

use auth_core::{
    AuthConfig, AuthConfigBuilder, AuthError, ErrorCode, JwksPolicy, StandardClaims, Verifier,
};
use auth_issuer::TestIssuer;

/// A key-set policy with short backoff so that recovery tests run fast.
pub fn fast_policy() -> JwksPolicy {
    JwksPolicy::default()
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .fetch_timeout(Duration::from_secs(2))
}

pub fn builder(issuer: &TestIssuer) -> AuthConfigBuilder {
    AuthConfig::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .jwks_policy(fast_policy())
}

pub fn verifier(issuer: &TestIssuer) -> Verifier {
    Verifier::new(builder(issuer).build().expect("valid config")).expect("verifier")
}

pub async fn verify(v: &Verifier, token: &str) -> Result<StandardClaims, AuthError> {
    v.verify::<auth_core::NoExtraClaims>(token).await
}

#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, AuthError>, code: ErrorCode) {
    match result {
        Ok(v) => panic!("expected {code}, got Ok({v:?})"),
        Err(e) => assert_eq!(e.code(), code, "expected {code}, got {e:?}"),
    }
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .expect("base64url")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
