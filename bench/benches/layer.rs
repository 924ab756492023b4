//! The auth layer in process, without the network: the same axum routes with and without
//! `AuthLayer`, called through the router (`tower::ServiceExt::oneshot`) with the answer's body
//! collected. What the layer and the extractors cost a request, free of the kernel and of wrk's
//! noise (`cargo xtask bench-http` measures the same through loopback).
//!
//! `cargo bench -p auth-bench --bench layer`; CI runs it once in criterion's test mode.

use auth_issuer::TestIssuer;
use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

fn layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    let bare = auth_bench::bare_app();
    let ours = rt.block_on(auth_bench::ours_app(issuer.issuer(), issuer.audience()));
    let token = auth_bench::realistic_token(&issuer, "rsa-1");
    let call = |app: &axum::Router, path: &str, bearer: Option<&str>| {
        let mut request = Request::get(path);
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::empty()).expect("request");
        let app = app.clone();
        rt.block_on(async move {
            let response = app.oneshot(request).await.expect("infallible");
            assert!(response.status().is_success(), "{}", response.status());
            response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes()
        })
    };
    let mut g = c.benchmark_group("layer");
    g.bench_function("public_bare", |b| b.iter(|| call(&bare, "/public", None)));
    g.bench_function("public_layer", |b| b.iter(|| call(&ours, "/public", None)));
    g.bench_function("optional_bare", |b| {
        b.iter(|| call(&bare, "/optional", None));
    });
    g.bench_function("optional_layer_no_credential", |b| {
        b.iter(|| call(&ours, "/optional", None));
    });
    g.bench_function("me_bearer_cached", |b| {
        b.iter(|| call(&ours, "/me", Some(&token)));
    });
    g.finish();
}

criterion_group!(benches, layer);
criterion_main!(benches);
