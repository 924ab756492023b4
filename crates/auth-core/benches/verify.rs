//! `cargo bench -p auth-core --bench verify` (or `cargo xtask bench`, which also prints the
//! ratio table for docs/benchmarks.md).
//!
//! For each algorithm, in the same run:
//! - `sig_only/<alg>`: the floor: aws-lc-rs `ParsedPublicKey::verify_sig` over the token's signing
//!   input, key parsed once (from the same JWK), signature pre-decoded;
//! - `warm/<alg>`: `Verifier::verify` with the key set cached: every check (size, compact form,
//!   base64url, strict header and claims JSON, allow-list, key lookup, signature, claims);
//! - `cold/<alg>`: a new verifier each time: discovery + JWKS fetch over loopback + parse + verify.

use std::hint::black_box;

use auth_core::{AuthConfig, NoExtraClaims, Verifier};
use auth_issuer::TestIssuer;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// The raw aws-lc-rs key for a published JWK, parsed once.
fn raw_key(jwk: &serde_json::Value, alg: &str) -> ParsedPublicKey {
    let field = |name: &str| b64(jwk[name].as_str().expect("member"));
    match alg {
        "RS256" => RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .expect("rsa"),
        "ES256" => {
            let mut point = vec![4];
            point.extend(field("x"));
            point.extend(field("y"));
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).expect("ec")
        }
        _ => ParsedPublicKey::new(&signature::ED25519, field("x")).expect("ed25519"),
    }
}

fn realistic_token(issuer: &TestIssuer, kid: &str) -> String {
    // RFC 9068-shaped, ~10 claims, like the research baseline tokens.
    issuer
        .token()
        .key(kid)
        .sub("248289761001")
        .claim("client_id", "s6BhdRkqt3")
        .scope("openid profile email")
        .roles(&["admin", "editor", "viewer"])
        .sign()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    let config = || {
        AuthConfig::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            .build()
            .expect("config")
    };
    let verifier = Verifier::new(config()).expect("verifier");
    rt.block_on(verifier.warm_up()).expect("warm up");

    for (alg, kid) in [("RS256", "rsa-1"), ("ES256", "ec-1"), ("EdDSA", "ed-1")] {
        let token = realistic_token(&issuer, kid);
        let (input, sig) = token.rsplit_once('.').expect("compact");
        let sig = b64(sig);
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
