//! `cargo bench -p auth-store --bench api_keys` (also run by `cargo xtask bench`).
//!
//! What an API-key request costs next to a JWT one, in the same run:
//! - `jwt_rs256_warm`: `Verifier::verify` of an RS256 access token, key set cached (the
//!   baseline: what the same request costs with a token);
//! - `sha256_only`: SHA-256 of the presented key, the floor of any hash-based key check;
//! - `hit`: `ApiKeys::verify` of a valid key whose record is cached: parse, hash, constant-time
//!   comparison, revocation/expiry checks, the per-key rate limit and the last-used note;
//! - `unknown_cached`: the same unknown key again (answered from the negative cache);
//! - `miss_sqlite` / `miss_postgres`: a valid key not in the cache: one indexed query on a
//!   file-backed SQLite database (and on PostgreSQL when `AUTH_TEST_POSTGRES_URL` is set).

use std::hint::black_box;
use std::sync::Arc;

use auth_core::api_key::{ApiKeyStore, ApiKeys, KeyHash, MemoryKeyStore, NewApiKey};
use auth_core::{AuthConfig, NoExtraClaims, Verifier};
use auth_issuer::TestIssuer;
use auth_store::SqlStore;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;

fn keys_over(store: Arc<dyn ApiKeyStore>) -> ApiKeys {
    ApiKeys::builder(store).build().expect("keys")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
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
    let token = issuer
        .token()
        .key("rsa-1")
        .sub("248289761001")
        .claim("client_id", "s6BhdRkqt3")
        .scope("openid profile email")
        .roles(&["admin", "editor", "viewer"])
        .sign();

    let memory = keys_over(Arc::new(MemoryKeyStore::new()));
    let created = rt
        .block_on(
            memory.create(
                NewApiKey::new("export", "svc-export")
                    .scope("reports:read")
                    .tenant("acme")
                    .rate_limit_per_minute(u32::MAX),
            ),
        )
        .expect("created");
    let key = created.key.expose().to_owned();
    let (_, unknown) = memory.format().generate();

    let mut group = c.benchmark_group("api_key");
    group.bench_function("jwt_rs256_warm", |b| {
        b.iter(|| {
            verifier
                .verify::<NoExtraClaims>(black_box(&token))
                .now_or_never()
                .expect("never awaits")
                .expect("valid")
        })
    });
    group.bench_function("sha256_only", |b| b.iter(|| KeyHash::of(black_box(&key))));
    group.bench_function("hit", |b| {
        b.iter(|| {
            memory
                .verify(black_box(&key))
                .now_or_never()
                .expect("never awaits")
                .expect("valid")
        })
    });
    let _ = rt.block_on(memory.verify(&unknown));
    group.bench_function("unknown_cached", |b| {
        b.iter(|| {
            memory
                .verify(black_box(&unknown))
                .now_or_never()
                .expect("never awaits")
                .expect_err("unknown")
        })
    });

    let dir = std::env::temp_dir().join(format!("auth-store-bench-{}", std::process::id()));
    let mut backends = vec![(
        "miss_sqlite",
        format!("sqlite:{}", dir.join("keys.db").display()),
    )];
    match std::env::var("AUTH_TEST_POSTGRES_URL") {
        Ok(url) => backends.push(("miss_postgres", url)),
        Err(_) => eprintln!("AUTH_TEST_POSTGRES_URL is not set: miss_postgres skipped"),
    }
    for (name, url) in backends {
        let store: Arc<dyn ApiKeyStore> =
            Arc::new(rt.block_on(SqlStore::open(&url)).expect("store"));
        let created = rt
            .block_on(keys_over(Arc::clone(&store)).create(NewApiKey::new("bench", "svc-bench")))
            .expect("created");
        let key = created.key.expose().to_owned();
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let keys = keys_over(Arc::clone(&store));
                    // Nothing pending: this only starts the last-used interval, so that no
                    // write is spawned inside the measurement.
                    rt.block_on(keys.flush_last_used()).expect("flush");
                    keys
                },
                |keys| rt.block_on(keys.verify(&key)).expect("valid"),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
