use std::time::Duration;

use auth_issuer::{Fault, TestIssuer};

use crate::get_json;

async fn refused(url: &str) -> bool {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .is_err_and(|error| error.is_connect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_on_a_multi_thread_runtime() {
    let issuer = TestIssuer::start().await;
    let jwks = get_json(&issuer.jwks_uri()).await;
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let issuer = TestIssuer::start().await;
    let url = issuer.jwks_uri();
    get_json(&url).await;
    issuer.shutdown().await;
    assert!(refused(&url).await);
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_stalled_body() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::SlowBody(Duration::from_secs(60))));
    let response = reqwest::get(issuer.jwks_uri()).await.expect("headers");
    let started = std::time::Instant::now();
    issuer.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    drop(response);
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let issuer = TestIssuer::start().await;
    let url = issuer.jwks_uri();
    let clone = issuer.clone();
    drop(issuer);
    get_json(&url).await;
    drop(clone);
    let mut stopped = false;
    for _ in 0..50 {
        if refused(&url).await {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        stopped,
        "server still answering after the last handle was dropped"
    );
}

#[tokio::test]
async fn fixed_port_and_try_start() {
    let first = TestIssuer::try_start().await.expect("start");
    let port = first.local_addr().port();
    let error = TestIssuer::builder()
        .port(port)
        .start()
        .await
        .expect_err("port in use");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
}

#[tokio::test]
async fn ipv6_loopback() {
    let Ok(issuer) = TestIssuer::builder()
        .bind(std::net::Ipv6Addr::LOCALHOST.into())
        .start()
        .await
    else {
        // No IPv6 on this machine.
        return;
    };
    assert!(
        issuer.issuer().starts_with("http://[::1]:"),
        "{}",
        issuer.issuer()
    );
    get_json(&issuer.jwks_uri()).await;
}

#[tokio::test]
async fn debug_output_has_no_key_material() {
    let issuer = TestIssuer::start().await;
    let debug = format!("{issuer:?}");
    assert!(debug.contains("rsa-1"), "{debug}");
    let n = issuer.public_jwk("rsa-1")["n"]
        .as_str()
        .expect("n")
        .to_owned();
    assert!(!debug.contains(&n[..16]));
    assert!(debug.len() < 500, "{debug}");
    let token = format!("{:?}", issuer.token());
    assert!(token.len() < 1000, "{token}");
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TestIssuer>();
    assert_send_sync::<auth_issuer::TokenBuilder>();
    assert_send_sync::<auth_issuer::TestIssuerBuilder>();
}
