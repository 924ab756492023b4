//! Measurement harness for `cargo xtask bench`:
//! - `verify_loop <RS256|ES256|EdDSA> <sig|warm> <iterations>` verifies one realistic token in a
//!   loop, with raw aws-lc-rs (`sig`) or through `Verifier::verify` with a warm key cache. Run under
//!   `valgrind --tool=callgrind` with two iteration counts: the difference divided by the
//!   difference in iterations is the per-token instruction count, free of start-up work.
//! - `verify_loop <alg> hit <iterations>`: the same token from the verified-token cache (on, as
//!   by default), read as the default claims; `hit_typed`: read as an application claims type.
//! - `verify_loop <alg> paired <rounds>` times short batches of both, interleaved (ABBA), and
//!   prints the median per-round ratio: machine drift hits both sides of each round alike.

use auth_core::{AuthConfig, ExtraClaims, NoExtraClaims, Verifier};
use auth_issuer::TestIssuer;
use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::FutureExt as _;

#[path = "../benches/support/mod.rs"]
mod support;
use support::{AppClaims, kid_for, raw_key, realistic_token};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (alg, mode) = (
        args.get(1).map_or("RS256", String::as_str),
        args.get(2).map_or("warm", String::as_str),
    );
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let kid = kid_for(alg);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    let token = realistic_token(&issuer, kid);
    // The full verification every time: the verified-token cache is off.
    let config = AuthConfig::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .token_cache_bytes(0)
        .build()
        .expect("config");
    let verifier = Verifier::new(config).expect("verifier");
    rt.block_on(verifier.warm_up()).expect("warm up");
    let key = raw_key(&issuer.public_jwk(kid), alg);
    let (input, sig) = token.rsplit_once('.').expect("compact");
    let sig = URL_SAFE_NO_PAD.decode(sig).expect("sig");
    if mode == "paired" {
        paired(
            alg,
            n,
            || loop_sig(&key, input.as_bytes(), &sig, 200),
            || loop_warm(&verifier, &token, 200),
        );
        return;
    }
    let ok = match mode {
        "sig" => loop_sig(&key, input.as_bytes(), &sig, n),
        "hit" | "hit_typed" => {
            let config = AuthConfig::builder()
                .issuer(issuer.issuer())
                .audience(issuer.audience())
                .build()
                .expect("config");
            let cached = Verifier::new(config).expect("verifier");
            rt.block_on(cached.warm_up()).expect("warm up");
            if mode == "hit" {
                loop_hit::<NoExtraClaims>(&cached, &token, n)
            } else {
                loop_hit::<AppClaims>(&cached, &token, n)
            }
        }
        _ => loop_warm(&verifier, &token, n),
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

/// Measured region for callgrind (`--toggle-collect=*loop_hit*`): the first call verifies and
/// caches, the others hit.
#[inline(never)]
fn loop_hit<C: ExtraClaims>(verifier: &Verifier, token: &str, n: usize) -> usize {
    (0..n)
        .filter(|_| {
            matches!(
                verifier
                    .verify::<C>(std::hint::black_box(token))
                    .now_or_never(),
                Some(Ok(_))
            )
        })
        .count()
}

/// Interleaved timing: per round, batches of `sig` and `warm` in ABBA order; prints
/// `alg sig_per_sec warm_per_sec median_ratio min_ratio max_ratio`.
fn paired(alg: &str, rounds: usize, sig: impl Fn() -> usize, warm: impl Fn() -> usize) {
    use std::time::Instant;
    let time = |f: &dyn Fn() -> usize| {
        let t = Instant::now();
        assert_eq!(f(), 200);
        t.elapsed().as_secs_f64() / 200.0
    };
    for _ in 0..20 {
        sig();
        warm();
    }
    let (mut ratios, mut sigs, mut warms) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (s1, w1, w2, s2) = (time(&sig), time(&warm), time(&warm), time(&sig));
        let (s, w) = ((s1 + s2) / 2.0, (w1 + w2) / 2.0);
        ratios.push(s / w);
        sigs.push(s);
        warms.push(w);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (r, s, w) = (median(&mut ratios), median(&mut sigs), median(&mut warms));
    println!(
        "{alg} {:.0} {:.0} {r:.3} {:.3} {:.3}",
        1.0 / s,
        1.0 / w,
        ratios[0],
        ratios[ratios.len() - 1]
    );
}
