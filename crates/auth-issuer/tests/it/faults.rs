use std::time::{Duration, Instant};

use auth_issuer::{Fault, TestIssuer};
use serde_json::Value;

use crate::{get, get_json};

fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("client")
}

#[tokio::test]
async fn status_fault() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::Status(503)));
    let response = get(&issuer.jwks_uri()).await;
    assert_eq!(response.status(), 503);
    assert_eq!(issuer.jwks_requests(), 1);

    issuer.set_jwks_fault(None);
    assert_eq!(get(&issuer.jwks_uri()).await.status(), 200);
}

#[tokio::test]
async fn invalid_status_code_becomes_500() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::Status(42)));
    assert_eq!(get(&issuer.jwks_uri()).await.status(), 500);
}

#[tokio::test]
async fn html_fault() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::Html));
    let response = get(&issuer.jwks_uri()).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.expect("body");
    assert!(body.contains("<html>"));
    assert!(serde_json::from_str::<Value>(&body).is_err());
}

#[tokio::test]
async fn invalid_json_fault() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::InvalidJson));
    let response = get(&issuer.jwks_uri()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response.bytes().await.expect("body");
    assert!(serde_json::from_slice::<Value>(&body).is_err());
}

#[tokio::test]
async fn delay_fault() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::Delay(Duration::from_millis(300))));
    let started = Instant::now();
    let jwks = get_json(&issuer.jwks_uri()).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(jwks, issuer.jwks());

    let error = client_with_timeout(Duration::from_millis(50))
        .get(issuer.jwks_uri())
        .send()
        .await
        .expect_err("times out");
    assert!(error.is_timeout(), "{error:?}");
}

#[tokio::test]
async fn oversized_fault() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::Oversized(200_000)));
    let response = get(&issuer.jwks_uri()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(200_000));
    let body = response.bytes().await.expect("body");
    assert_eq!(body.len(), 200_000);
    let jwks: Value = serde_json::from_slice(&body).expect("still valid JSON");
    assert_eq!(jwks, issuer.jwks());
}

#[tokio::test]
async fn huge_oversized_body_is_streamed() {
    let issuer = TestIssuer::start().await;
    let size = 64 * 1024 * 1024;
    issuer.set_jwks_fault(Some(Fault::Oversized(size)));
    let mut response = get(&issuer.jwks_uri()).await;
    assert_eq!(
        response.content_length(),
        Some(u64::try_from(size).expect("fits"))
    );
    // A client with a size limit stops early; here we read a little and hang up.
    let first = response.chunk().await.expect("chunk").expect("some bytes");
    assert!(first.starts_with(b"{"));
}

#[tokio::test]
async fn oversized_smaller_than_the_document_sends_it_unchanged() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::Oversized(10)));
    let response = get(&issuer.jwks_uri()).await;
    let body = response.bytes().await.expect("body");
    assert_eq!(
        serde_json::from_slice::<Value>(&body).expect("JSON"),
        issuer.jwks()
    );
}

#[tokio::test]
async fn informational_status_becomes_500() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::Status(101)));
    assert_eq!(get(&issuer.jwks_uri()).await.status(), 500);
}

#[tokio::test]
async fn slow_body_fault_trips_the_client_timeout() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::SlowBody(Duration::from_secs(60))));
    let client = client_with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let response = client
        .get(issuer.jwks_uri())
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(response.status(), 200);
    let error = response.bytes().await.expect_err("body stalls");
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn short_slow_body_completes() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::SlowBody(Duration::from_millis(200))));
    let started = Instant::now();
    let jwks = get_json(&issuer.jwks_uri()).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(jwks, issuer.jwks());
}

#[tokio::test]
async fn drop_fault_is_a_connection_error() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::Drop));
    let error = get_error(&issuer.jwks_uri()).await;
    assert!(error.status().is_none(), "{error:?}");
    assert!(!error.is_timeout(), "{error:?}");
    assert_eq!(issuer.jwks_requests(), 1);

    // The server keeps working afterwards.
    issuer.set_jwks_fault(None);
    assert_eq!(get(&issuer.jwks_uri()).await.status(), 200);
}

async fn get_error(url: &str) -> reqwest::Error {
    let client = client_with_timeout(Duration::from_secs(10));
    match client.get(url).send().await {
        Err(error) => error,
        Ok(response) => panic!("expected a connection error, got {}", response.status()),
    }
}

#[tokio::test]
async fn discovery_faults_apply_to_both_documents() {
    let issuer = TestIssuer::start().await;
    issuer.set_discovery_fault(Some(Fault::Status(500)));
    assert_eq!(get(&issuer.discovery_url()).await.status(), 500);
    assert_eq!(get(&issuer.oauth_metadata_url()).await.status(), 500);
    // The JWKS is unaffected.
    assert_eq!(get(&issuer.jwks_uri()).await.status(), 200);

    issuer.set_discovery_fault(Some(Fault::Drop));
    let error = get_error(&issuer.discovery_url()).await;
    assert!(error.status().is_none());

    issuer.set_discovery_fault(Some(Fault::InvalidJson));
    let body = get(&issuer.oauth_metadata_url())
        .await
        .bytes()
        .await
        .expect("body");
    assert!(serde_json::from_slice::<Value>(&body).is_err());

    issuer.set_discovery_fault(None);
    assert_eq!(
        get_json(&issuer.discovery_url()).await["issuer"],
        issuer.issuer()
    );
    assert_eq!(issuer.discovery_requests(), 5);
}
