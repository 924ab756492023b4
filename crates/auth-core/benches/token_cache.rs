//! `cargo bench -p auth-core --bench token_cache` (run by `cargo xtask bench`).
//!
//! For each algorithm, in the same run:
//! - `full`: a warm-key verification with the verified-token cache off (every check, the
//!   signature included), one fresh setup per iteration;
//! - `full_cache_on`: the same with the cache on, each token not yet cached (forgotten in the
//!   untimed setup): the full path plus what the cache adds to it (hashing the token, the miss,
//!   the insert);
//! - `hit_{1,2,4}t`: the same token again and again from 1, 2 and 4 threads at once (the cost
//!   per verification across all threads; the machine may have fewer cores);
//! - `hit_typed_1t`: a hit read as an application claims type (`AppClaims`), which the cached
//!   entry keeps once read (a clone per hit), and `parse_typed`: what reading the payload as
//!   that type costs, i.e. what each hit would pay without it.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use auth_core::{AuthConfig, ExtraClaims, NoExtraClaims, Verifier};
use auth_issuer::TestIssuer;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;

mod support;
use support::{AppClaims, kid_for, realistic_token};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    let verifier = |cache: bool| {
        let mut b = AuthConfig::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience());
        if !cache {
            b = b.token_cache_bytes(0);
        }
        let v = Verifier::new(b.build().expect("config")).expect("verifier");
        rt.block_on(v.warm_up()).expect("warm up");
        v
    };
    let off = verifier(false);
    let on = verifier(true);
    for alg in ["RS256", "ES256", "EdDSA"] {
        let token = realistic_token(&issuer, kid_for(alg));
        let verify = |v: &Verifier| {
            v.verify::<NoExtraClaims>(black_box(&token))
                .now_or_never()
                .expect("the warm path never awaits")
                .expect("valid")
        };
        let mut group = c.benchmark_group(format!("token_cache_{alg}"));
        group.bench_function("full", |b| {
            b.iter_batched(|| (), |()| verify(&off), BatchSize::PerIteration)
        });
        group.bench_function("full_cache_on", |b| {
            b.iter_batched(
                || on.forget_token(&token),
                |()| verify(&on),
                BatchSize::PerIteration,
            )
        });
        verify(&on);
        for threads in [1usize, 2, 4] {
            group.bench_function(format!("hit_{threads}t"), |b| {
                b.iter_custom(|iters| hits::<NoExtraClaims>(&on, &token, threads, iters))
            });
        }
        group.bench_function("hit_typed_1t", |b| {
            b.iter_custom(|iters| hits::<AppClaims>(&on, &token, 1, iters))
        });
        let claims = verify(&on);
        let payload = claims.raw_json();
        group.bench_function("parse_typed", |b| {
            b.iter(|| serde_json::from_str::<AppClaims>(black_box(payload)).expect("fits"))
        });
        group.finish();
    }
}

/// `iters` cache hits spread over `threads` threads started together; the wall time of all.
fn hits<C: ExtraClaims>(verifier: &Verifier, token: &str, threads: usize, iters: u64) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..per_thread {
                    let claims = verifier
                        .verify::<C>(black_box(token))
                        .now_or_never()
                        .expect("a hit never awaits")
                        .expect("valid");
                    black_box(claims);
                }
            });
        }
        barrier.wait();
        let started = Instant::now();
        // The scope joins every thread before it returns.
        started
    })
    .elapsed()
}

criterion_group!(benches, bench);
criterion_main!(benches);
