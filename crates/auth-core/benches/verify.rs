//! `cargo bench -p auth-core --bench verify` (or `cargo xtask bench`, which also prints the
//! ratio table for docs/benchmarks.md).
//!
//! For each algorithm, in the same run:
//! - `sig_only/<alg>`: the floor: aws-lc-rs `ParsedPublicKey::verify_sig` over the token's signing
//!   input, key parsed once (from the same JWK), signature pre-decoded;
//! - `warm/<alg>`: `Verifier::verify` with the key set cached and the verified-token cache off:
//!   every check (size, compact form, base64url, strict header and claims JSON, allow-list, key
//!   lookup, signature, claims);
//! - `cold/<alg>`: a new verifier each time: discovery + JWKS fetch over loopback + parse + verify.

use std::hint::black_box;

use auth_core::{AuthConfig, NoExtraClaims, Verifier};
use auth_issuer::TestIssuer;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;

mod support;
use support::{kid_for, raw_key, realistic_token};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    // The verified-token cache is off: these measure the full verification (the cache has
    // its own benchmark, `token_cache`).
    let config = || {
        AuthConfig::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            .token_cache_bytes(0)
            .build()
            .expect("config")
    };
    let verifier = Verifier::new(config()).expect("verifier");
    rt.block_on(verifier.warm_up()).expect("warm up");

    for alg in ["RS256", "ES256", "EdDSA"] {
        let kid = kid_for(alg);
        let token = realistic_token(&issuer, kid);
        let (input, sig) = token.rsplit_once('.').expect("compact");
        let sig = URL_SAFE_NO_PAD.decode(sig).expect("base64url");
        let key = raw_key(&issuer.public_jwk(kid), alg);
        key.verify_sig(input.as_bytes(), &sig)
            .expect("raw verifies");
        // The warm path never awaits: poll it once, without runtime overhead.
        let warm = || {
            verifier
                .verify::<NoExtraClaims>(black_box(&token))
                .now_or_never()
        };
        assert!(
            matches!(warm(), Some(Ok(_))),
            "warm path must complete without awaiting"
        );

        let mut group = c.benchmark_group(alg);
        group.bench_function("sig_only", |b| {
            b.iter(|| key.verify_sig(black_box(input.as_bytes()), black_box(&sig)))
        });
        group.bench_function("warm", |b| b.iter(warm));
        group.sample_size(20);
        group.bench_function("cold", |b| {
            b.iter_batched(
                || Verifier::new(config()).expect("verifier"),
                |v| {
                    rt.block_on(v.verify::<NoExtraClaims>(&token))
                        .expect("valid")
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
