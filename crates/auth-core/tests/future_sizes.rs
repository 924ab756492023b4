//! The futures every request awaits stay small: each adapter's extractor and the framework's
//! boxed handler future embed them, and they are moved (copied) as they are built and boxed on
//! every request. The slow paths (a key-set fetch, an introspection, a session refresh, an
//! API-key lookup, the whole authentication) are boxed out of them. The bounds are about twice
//! today's sizes (verify 152 bytes, `RequestAuth::claims` 248 bytes on rustc 1.95): a failure
//! means a slow path's state came back inline (it was 672 and 1,232 bytes before 2026-12-07).

use auth_core::adapter::{RequestAuth, SimpleRequest, Unauthenticated};
use auth_core::{AuthConfig, Authenticator, NoExtraClaims, Verifier};

#[test]
fn per_request_futures_stay_small() {
    let config = AuthConfig::builder()
        .issuer("https://issuer.example.com")
        .audience("api")
        .build()
        .expect("config");
    let verifier = Verifier::new(config).expect("verifier");
    let authenticator = Authenticator::builder(verifier.clone())
        .build()
        .expect("authenticator");
    let request = SimpleRequest::new("GET", "/");
    let per_request = RequestAuth::new(&authenticator, Unauthenticated::Reject);

    let verify = verifier.verify::<NoExtraClaims>("a.b.c");
    assert!(
        size_of_val(&verify) <= 320,
        "verify: {} bytes",
        size_of_val(&verify)
    );
    let claims = per_request.claims::<NoExtraClaims>(&request);
    assert!(
        size_of_val(&claims) <= 512,
        "claims: {} bytes",
        size_of_val(&claims)
    );
    let caller = per_request.auth_data::<NoExtraClaims>(&request);
    assert!(
        size_of_val(&caller) <= 768,
        "auth_data: {} bytes",
        size_of_val(&caller)
    );
}
