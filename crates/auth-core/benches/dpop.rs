//! `cargo bench -p auth-core --bench dpop`: what DPoP adds to a request, in the same run.
//!
//! - `bearer`: `RequestAuth::required_claims` for `Authorization: Bearer` with a cached
//!   token (the verified-token cache answers): the baseline;
//! - `dpop`: the same token bound to a key, `Authorization: DPoP` and a fresh proof per
//!   request (made in criterion's untimed setup): the cache answers for the token, and the
//!   proof is checked in full (header and payload JSON, the key parsed, the ES256 signature,
//!   `htm`, `htu`, `iat`, `ath`, the thumbprint, the replay cache);
//! - `proof_only`: `DpopVerifier::verify_request` alone;
//! - `sig_only`: the floor: aws-lc-rs's ES256 check of one proof's signature, key parsed once.

use std::hint::black_box;

use auth_core::adapter::{RequestAuth, SimpleRequest, Unauthenticated};
use auth_core::dpop::DpopConfig;
use auth_core::{Algorithm, AuthConfig, Authenticator, ClientKey, NoExtraClaims, Verifier};
use auth_issuer::TestIssuer;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;

const APP: &str = "https://api.example.com";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    let verifier = Verifier::new(
        AuthConfig::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            .build()
            .expect("config"),
    )
    .expect("verifier");
    rt.block_on(verifier.warm_up()).expect("warm up");
    let authenticator = Authenticator::builder(verifier)
        .dpop(DpopConfig::new().public_url(APP))
        .build()
        .expect("authenticator");
    let key = ClientKey::generate(Algorithm::ES256).expect("key");
    let bearer = issuer.token().sub("alice").scope("orders:read").sign();
    let bound = issuer
        .token()
        .sub("alice")
        .scope("orders:read")
        .claim("cnf", serde_json::json!({ "jkt": key.thumbprint() }))
        .sign();
    let url = format!("{APP}/orders");
    let proof = || {
        key.dpop_proof("GET", &url, Some(&bound), None)
            .expect("proof")
    };

    let serve = |req: &SimpleRequest| {
        let auth = RequestAuth::new(&authenticator, Unauthenticated::Reject);
        auth.required_claims::<NoExtraClaims>(black_box(req))
            .now_or_never()
            .expect("no await")
            .expect("accepted")
            .exp
    };
    let bearer_req =
        SimpleRequest::get("/orders").header("authorization", &format!("Bearer {bearer}"));
    let dpop_req = |proof: String| {
        SimpleRequest::get("/orders")
            .header("authorization", &format!("DPoP {bound}"))
            .header("dpop", &proof)
    };
    // Both tokens cached before timing.
    serve(&bearer_req);
    serve(&dpop_req(proof()));

    let mut group = c.benchmark_group("dpop");
    group.bench_function("bearer", |b| b.iter(|| serve(&bearer_req)));
    group.bench_function("dpop", |b| {
        b.iter_batched(
            || dpop_req(proof()),
            |req| serve(&req),
            BatchSize::SmallInput,
        )
    });
    let dpop = authenticator.dpop().expect("dpop on");
    let jkt = key.thumbprint();
    group.bench_function("proof_only", |b| {
        b.iter_batched(
            || dpop_req(proof()),
            |req| {
                dpop.verify_request(&req, Some(&bound), Some(&jkt), std::time::SystemTime::now())
                    .expect("valid")
            },
            BatchSize::SmallInput,
        )
    });
    // The floor: the proof's ES256 signature alone.
    let one = proof();
    let (input, sig) = one.rsplit_once('.').expect("compact");
    let sig = URL_SAFE_NO_PAD.decode(sig).expect("b64");
    let jwk = key.public_jwk();
    let coordinate = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect("member"))
            .expect("b64")
    };
    let mut point = vec![4];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    let raw = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).expect("key");
    raw.verify_sig(input.as_bytes(), &sig).expect("verifies");
    group.bench_function("sig_only", |b| {
        b.iter(|| raw.verify_sig(black_box(input.as_bytes()), black_box(&sig)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
