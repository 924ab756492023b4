//! Every JWT library side by side: the same token and key per algorithm, interleaved rounds (the
//! machine is shared and noisy: each round times every contender in a rotating order, and
//! ratios are medians of per-round ratios).
//!
//! - in this process: the raw aws-lc-rs signature check (the floor), our verifier cold (cache
//!   off) and with its verified-token cache, jsonwebtoken 12 (aws-lc-rs), jwt-simple (BoringSSL);
//! - josekit (OpenSSL) in the `josekit-peer` process, which times ours beside it: BoringSSL and
//!   OpenSSL define the same C symbols and cannot link into one binary;
//! - Node's `jose` (panva) through `node/jose-bench.mjs`, between two timings of ours.
//!
//! `cargo bench -p auth-bench --features peers --bench peers` (`PEER_ROUNDS`, default 40; build
//! `josekit-peer` first with `cargo build --release -p auth-bench-josekit --features josekit`,
//! and `npm ci` in `bench/node`; `cargo xtask bench` does both). Without `--bench` (`cargo test --benches`, CI): one quick round
//! that checks every contender accepts the token and refuses a tampered one.

use std::path::{Path, PathBuf};
use std::process::Command;

use auth_bench::{
    Contender, Fixture, JsonWebToken, Ours, RawSignature, fixture_json, fixtures, interleaved,
    rows, sanity_check, timed,
};
use auth_issuer::TestIssuer;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds: usize = if full {
        std::env::var("PEER_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(40)
    } else {
        1
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    println!(
        "Side by side: {rounds} interleaved rounds of {:?} per contender; `cold ÷ library` is our \
         verifier with its token cache off over the library, `cached ÷ library` with it on (the \
         same token again)",
        auth_bench::BATCH
    );
    for f in fixtures(&issuer) {
        let contenders: Vec<Box<dyn Contender>> = vec![
            Box::new(RawSignature::new(&f)),
            Box::new(rt.block_on(Ours::new(&f, false))),
            Box::new(rt.block_on(Ours::new(&f, true))),
            Box::new(JsonWebToken::new(&f)),
            Box::new(JwtSimple::new(&f)),
        ];
        sanity_check(&contenders, &f.token);
        let rates = interleaved(&contenders, &f.token, rounds, full);
        println!(
            "\n{} ({} characters)\n\n| library | verifications/s | µs each | cold ÷ library | cached ÷ library |\n|---|---:|---:|---:|---:|",
            f.alg,
            f.token.len()
        );
        for row in rows(&contenders, &rates, 1, 2) {
            println!("{row}");
        }
        josekit(&f, rounds, full);
        node_jose(&f, &*contenders[1], &*contenders[2], full);
    }
}

/// jwt-simple's own claims (it types the registered ones itself).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SimpleExtra {
    client_id: Option<String>,
    scope: Option<String>,
}

enum SimpleKey {
    Rs(jwt_simple::prelude::RS256PublicKey),
    Es(jwt_simple::prelude::ES256PublicKey),
    Ed(jwt_simple::prelude::Ed25519PublicKey),
}

/// jwt-simple 0.15 with its default backend (BoringSSL); issuer and audience required, time
/// checked.
struct JwtSimple {
    key: SimpleKey,
    options: jwt_simple::prelude::VerificationOptions,
}

impl JwtSimple {
    fn new(f: &Fixture) -> Self {
        use base64::Engine as _;
        use jwt_simple::prelude::*;
        let b64 = |m: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(f.jwk[m].as_str().unwrap_or_default())
                .expect("base64url")
        };
        let key = match f.alg {
            "ES256" => {
                let mut point = vec![4];
                point.extend(b64("x"));
                point.extend(b64("y"));
                SimpleKey::Es(ES256PublicKey::from_bytes(&point).expect("P-256 key"))
            }
            "EdDSA" => SimpleKey::Ed(Ed25519PublicKey::from_bytes(&b64("x")).expect("Ed25519")),
            _ => SimpleKey::Rs(
                RS256PublicKey::from_components(&b64("n"), &b64("e")).expect("RSA key"),
            ),
        };
        let options = VerificationOptions {
            allowed_issuers: Some(HashSet::from([f.issuer.clone()])),
            allowed_audiences: Some(HashSet::from([f.audience.clone()])),
            ..VerificationOptions::default()
        };
        JwtSimple { key, options }
    }
}

impl Contender for JwtSimple {
    fn name(&self) -> &'static str {
        "jwt-simple 0.15 (BoringSSL)"
    }
    fn verify(&self, token: &str) -> bool {
        use jwt_simple::prelude::*;
        let options = Some(self.options.clone());
        match &self.key {
            SimpleKey::Rs(k) => k.verify_token::<SimpleExtra>(token, options).is_ok(),
            SimpleKey::Es(k) => k.verify_token::<SimpleExtra>(token, options).is_ok(),
            SimpleKey::Ed(k) => k.verify_token::<SimpleExtra>(token, options).is_ok(),
        }
    }
}

/// The `josekit-peer` binary beside this one (same profile directory), if built.
fn josekit_peer() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/peers-<hash> → target/<profile>/josekit-peer
    let path = exe.parent()?.parent()?.join("josekit-peer");
    path.exists().then_some(path)
}

/// josekit's rows, timed in its own process with ours beside it.
fn josekit(f: &Fixture, rounds: usize, full: bool) {
    let Some(peer) = josekit_peer() else {
        println!(
            "\n(josekit skipped: build it with `cargo build --release -p auth-bench-josekit`)"
        );
        return;
    };
    let file = std::env::temp_dir().join(format!("josekit-bench-{}.json", f.alg));
    std::fs::write(&file, fixture_json(f, rounds, full).to_string()).expect("write the fixture");
    let out = Command::new(peer).arg(&file).output();
    let _ = std::fs::remove_file(&file);
    match out {
        Ok(out) if out.status.success() => {
            println!("\nIn the josekit process (ours timed there too):\n");
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
        Ok(out) => panic!(
            "josekit-peer failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("josekit-peer did not start: {e}"),
    }
}

/// Node's `jose`, timed by `node/jose-bench.mjs` for about as long as ours is timed just before
/// and after it. Skipped, with a note, without node or without `npm ci` in `bench/node`.
fn node_jose(f: &Fixture, cold: &dyn Contender, cached: &dyn Contender, full: bool) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    if !dir.join("node_modules/jose").exists() {
        println!("\n(Node jose skipped: run `npm ci` in {})", dir.display());
        return;
    }
    let input = fixture_json(f, 1, full);
    let seconds = input["seconds"].as_f64().unwrap_or(0.05);
    let file = std::env::temp_dir().join(format!("jose-bench-{}.json", f.alg));
    std::fs::write(&file, input.to_string()).expect("write the fixture");
    let ours = |c: &dyn Contender| {
        let probe = timed(c, &f.token, 20);
        timed(c, &f.token, ((probe * seconds) as usize).max(1))
    };
    let (cold_before, cached_before) = (ours(cold), ours(cached));
    let out = Command::new("node")
        .arg(dir.join("jose-bench.mjs"))
        .arg(&file)
        .output();
    let (cold_after, cached_after) = (ours(cold), ours(cached));
    let _ = std::fs::remove_file(&file);
    let rate = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .last()
            .and_then(|r| r.parse::<f64>().ok()),
        Ok(out) => panic!(
            "Node jose failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => {
            println!("\n(Node jose skipped: {e})");
            None
        }
    };
    if let Some(rate) = rate {
        let (cold, cached) = (
            f64::midpoint(cold_before, cold_after),
            f64::midpoint(cached_before, cached_after),
        );
        println!(
            "\nNode, timed between two timings of ours:\n\n| Node jose (panva) `jwtVerify` | {rate:.0} | {:.2} | {:.2}× | {:.1}× |",
            1e6 / rate,
            cold / rate,
            cached / rate
        );
    }
}
