//! What operators watch: with metrics on (`METRICS=1`, here `Settings::metrics`), each app's
//! `/metrics` counts its verifications by outcome and code, the key-set and discovery fetches
//! per issuer and the key-cache hits, in the Prometheus text format.

use reqwest::StatusCode;

use crate::app::{Kind, start_with};

/// The value of the sample `name{labels}` in a Prometheus text page, if present.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

pub async fn metrics_count_verifications_fetches_and_cache_hits(kind: Kind) {
    let settings = example_shared::Settings {
        metrics: true,
        ..example_shared::Settings::dev()
    };
    let app = start_with(kind, settings).await;
    let scrape = async || {
        let response = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("metrics");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("text")
    };
    // The recorder is one per process and the scenario runs for each app in parallel: compare
    // before and after rather than absolute values.
    let before = scrape().await;
    let ok = |text: &str| {
        sample(
            text,
            "auth_verifications_total",
            r#"outcome="ok",code="none""#,
        )
        .unwrap_or(0.0)
    };
    let expired = |text: &str| {
        sample(
            text,
            "auth_verifications_total",
            r#"outcome="error",code="token_expired""#,
        )
        .unwrap_or(0.0)
    };
    let hits = |text: &str| sample(text, "auth_key_cache_total", r#"result="hit""#).unwrap_or(0.0);
    for _ in 0..3 {
        let response = app
            .http
            .get(app.url("/api/me"))
            .bearer_auth(app.issuer().token().sub("alice").sign())
            .send()
            .await
            .expect("me");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app
        .http
        .get(app.url("/api/me"))
        .bearer_auth(app.issuer().token().sub("alice").expires_in(-3600).sign())
        .send()
        .await
        .expect("me");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let after = scrape().await;
    assert!(ok(&after) - ok(&before) >= 3.0, "{after}");
    assert!(expired(&after) - expired(&before) >= 1.0, "{after}");
    assert!(hits(&after) - hits(&before) >= 3.0, "{after}");
    let issuer = app.issuer().issuer();
    assert!(
        sample(
            &after,
            "auth_jwks_fetches_total",
            &format!(r#"issuer="{issuer}",result="ok""#)
        )
        .is_some_and(|n| n >= 1.0),
        "{after}"
    );
    assert!(
        sample(
            &after,
            "auth_discovery_fetches_total",
            &format!(r#"issuer="{issuer}",result="ok""#)
        )
        .is_some_and(|n| n >= 1.0),
        "{after}"
    );
    assert!(
        after.contains("auth_verification_duration_seconds"),
        "{after}"
    );
}
