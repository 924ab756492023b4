//! With the `metrics` feature: the counters a verification records, read through a real
//! Prometheus recorder.
#![cfg(feature = "metrics")]

use auth_core::NoExtraClaims;
use auth_issuer::TestIssuer;

mod common;

#[test]
fn a_verification_is_counted_by_outcome_and_code() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let issuer = TestIssuer::start().await;
            let verifier = common::verifier(&issuer);
            let first = issuer.token().sub("alice").sign();
            let second = issuer.token().sub("bob").sign();
            for token in [&first, &second, &second] {
                verifier.verify::<NoExtraClaims>(token).await.expect("ok");
            }
            let _ = verifier.verify::<NoExtraClaims>("a.b.c").await;
            let text = handle.render();
            assert!(
                text.contains(r#"auth_verifications_total{outcome="ok",code="none"} 3"#),
                "{text}"
            );
            assert!(
                text.contains(
                    r#"auth_verifications_total{outcome="error",code="token_invalid"} 1"#
                ),
                "{text}"
            );
            assert!(
                text.contains(r#"auth_key_cache_total{result="hit"} 1"#)
                    || text.contains(r#"auth_key_cache_total{result="hit"} 2"#),
                "{text}"
            );
            assert!(
                text.contains(&format!(
                    r#"auth_jwks_fetches_total{{issuer="{}",result="ok"}} 1"#,
                    issuer.issuer()
                )),
                "{text}"
            );
        });
    });
}
