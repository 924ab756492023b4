//! Instruction-count harness for `cargo xtask bench --callgrind`:
//! `verify_loop <RS256|ES256|EdDSA> <sig|warm> <iterations>` verifies one realistic token in a
//! loop, either with raw aws-lc-rs (`sig`) or through `Verifier::verify` with a warm key cache.
//! Run it under `valgrind --tool=callgrind` twice with different iteration counts: the difference
//! divided by the difference in iterations is the per-token cost, free of start-up work.

use auth_core::{AuthConfig, NoExtraClaims, Verifier};
use auth_issuer::TestIssuer;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::FutureExt as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (alg, mode) = (
        args.get(1).map_or("RS256", String::as_str),
        args.get(2).map_or("warm", String::as_str),
    );
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let kid = match alg {
        "ES256" => "ec-1",
        "EdDSA" => "ed-1",
        _ => "rsa-1",
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    let token = issuer
        .token()
        .key(kid)
        .sub("248289761001")
        .claim("client_id", "s6BhdRkqt3")
        .scope("openid profile email")
        .roles(&["admin", "editor", "viewer"])
        .sign();
    let config = AuthConfig::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .expect("config");
    let verifier = Verifier::new(config).expect("verifier");
    rt.block_on(verifier.warm_up()).expect("warm up");
    let jwk = issuer.public_jwk(kid);
    let field = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect("member"))
            .expect("b64")
    };
    let key = match alg {
        "ES256" => {
            let mut p = vec![4];
            p.extend(field("x"));
            p.extend(field("y"));
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p).expect("ec")
        }
        "EdDSA" => ParsedPublicKey::new(&signature::ED25519, field("x")).expect("ed"),
        _ => RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .expect("rsa"),
    };
    let (input, sig) = token.rsplit_once('.').expect("compact");
    let sig = URL_SAFE_NO_PAD.decode(sig).expect("sig");
    let ok = if mode == "sig" {
        loop_sig(&key, input.as_bytes(), &sig, n)
    } else {
        loop_warm(&verifier, &token, n)
    };
    assert_eq!(ok, n);
    println!("{alg} {mode} {n} ok");
}

/// Measured region for callgrind (`--toggle-collect=*loop_sig*`).
#[inline(never)]
fn loop_sig(key: &ParsedPublicKey, input: &[u8], sig: &[u8], n: usize) -> usize {
    (0..n)
        .filter(|_| key.verify_sig(std::hint::black_box(input), sig).is_ok())
        .count()
}

/// Measured region for callgrind (`--toggle-collect=*loop_warm*`).
#[inline(never)]
fn loop_warm(verifier: &Verifier, token: &str, n: usize) -> usize {
    (0..n)
        .filter(|_| {
            matches!(
                verifier
                    .verify::<NoExtraClaims>(std::hint::black_box(token))
                    .now_or_never(),
                Some(Ok(_))
            )
        })
        .count()
}
