//! Startup and scale: what a service sees at boot and under many users.
//!
//! 1. Time to the first verified request: a new `Verifier`, discovery, the JWKS fetch and the
//!    verification of one RS256 token, against auth-issuer on loopback (median of 21).
//! 2. Memory per cached key: the resident memory a key set of 200 P-256 keys adds, per key.
//! 3. 10,000 distinct subjects: 10,000 EdDSA tokens, one per subject, verified once (cache
//!    misses) then again (hits): rates, and the resident memory the cache holds per token.
//! 4. A flood of 100,000 distinct valid tokens against the default 32 MiB cache while one hot
//!    token keeps being used: the memory stays under the bound, and the hot token still hits
//!    (its verification time against a full one).
//!
//! `cargo bench -p auth-bench --bench scale`; without `--bench` (CI) the same at 1/100 scale.
//! Memory is read from `/proc/self/status` (`VmRSS`), so Linux only.

use std::time::{Duration, Instant};

use auth_bench::median;
use auth_core::{AuthConfig, NoExtraClaims, Verifier};
use auth_issuer::{KeySpec, TestIssuer};
use futures_util::FutureExt as _;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let scale = |n: usize| if full { n } else { (n / 100).max(10) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    let config = |cache: u64| {
        AuthConfig::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            .token_cache_bytes(cache)
            .build()
            .expect("config")
    };

    // 1. Time to the first verified request.
    let token = issuer.token().key("rsa-1").sub("first").sign();
    let mut firsts: Vec<f64> = (0..if full { 21 } else { 3 })
        .map(|_| {
            let started = Instant::now();
            let v = Verifier::new(config(0)).expect("verifier");
            rt.block_on(v.verify::<NoExtraClaims>(&token))
                .expect("first token");
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    println!(
        "\n| measure | value |\n|---|---:|\n| time to the first verified request (new verifier: discovery + JWKS + RS256 verify; median of {}) | {:.0} µs |",
        firsts.len(),
        median(&mut firsts)
    );

    // 2. Memory per cached key.
    let keys = scale(200).min(200);
    let before_keys = rss();
    for _ in 0..keys {
        issuer.add_key(KeySpec::P256);
    }
    let v = Verifier::new(config(0)).expect("verifier");
    let baseline = rss();
    rt.block_on(v.warm_up()).expect("warm up");
    let with_keys = rss();
    println!(
        "| resident memory per cached key ({} P-256 keys besides the issuer's own; the issuer generating them added {:.1} MiB) | {:.0} B |",
        keys,
        mib(baseline.saturating_sub(before_keys)),
        with_keys.saturating_sub(baseline) as f64 / keys as f64
    );
    drop(v);

    // 3. Distinct subjects.
    let subjects = scale(10_000);
    let tokens: Vec<String> = (0..subjects)
        .map(|i| issuer.token().key("ed-1").sub(&format!("user-{i}")).sign())
        .collect();
    let v = Verifier::new(config(256 * 1024 * 1024)).expect("verifier");
    rt.block_on(v.warm_up()).expect("warm up");
    let before = rss();
    let misses = rate(&v, &tokens);
    let cached = rss();
    let hits = rate(&v, &tokens);
    println!(
        "| {subjects} distinct subjects (EdDSA), first verification of each (cache misses) | {misses:.0}/s |"
    );
    println!("| the same tokens again (cache hits) | {hits:.0}/s |");
    println!(
        "| resident memory per cached token (payload ~270 B) | {:.0} B |",
        cached.saturating_sub(before) as f64 / subjects as f64
    );
    drop(v);
    drop(tokens);

    // 4. A flood of distinct valid tokens, with a hot token in use.
    let flood = scale(100_000);
    let v = Verifier::new(config(32 * 1024 * 1024)).expect("verifier");
    rt.block_on(v.warm_up()).expect("warm up");
    let hot = issuer.token().key("ed-1").sub("hot").sign();
    for _ in 0..100 {
        verify(&v, &hot);
    }
    let before = rss();
    let started = Instant::now();
    let mut peak = before;
    for i in 0..flood {
        let t = issuer.token().key("ed-1").sub(&format!("flood-{i}")).sign();
        verify(&v, &t);
        if i % 100 == 0 {
            verify(&v, &hot);
        }
        if i % 5_000 == 0 {
            peak = peak.max(rss());
        }
    }
    let flood_time = started.elapsed();
    peak = peak.max(rss());
    let hot_us = time_us(&v, &hot);
    let fresh = issuer.token().key("ed-1").sub("fresh").sign();
    let uncached = Verifier::new(config(0)).expect("verifier");
    rt.block_on(uncached.warm_up()).expect("warm up");
    let full_us = time_us(&uncached, &fresh);
    println!(
        "| flood: {flood} distinct valid tokens in {:.1} s (signing included), cache bound 32 MiB: resident memory growth at its peak | {:.1} MiB |",
        flood_time.as_secs_f64(),
        mib(peak.saturating_sub(before))
    );
    println!(
        "| the hot token after the flood: {hot_us:.2} µs per verification, against {full_us:.2} µs for a full one | {} |",
        if hot_us * 5.0 < full_us {
            "still cached"
        } else {
            "evicted"
        }
    );
}

/// Verifies `token` with a warm key set.
fn verify(v: &Verifier, token: &str) {
    let done = v.verify::<NoExtraClaims>(token).now_or_never();
    assert!(matches!(done, Some(Ok(_))), "verification failed");
}

/// Verifications per second over `tokens`, each once.
fn rate(v: &Verifier, tokens: &[String]) -> f64 {
    let started = Instant::now();
    for t in tokens {
        verify(v, t);
    }
    tokens.len() as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// The median time of one verification of `token`, in µs (after a warm-up).
fn time_us(v: &Verifier, token: &str) -> f64 {
    verify(v, token);
    let mut times: Vec<f64> = (0..201)
        .map(|_| {
            let started = Instant::now();
            verify(v, token);
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    median(&mut times)
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    std::thread::sleep(Duration::from_millis(1));
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
