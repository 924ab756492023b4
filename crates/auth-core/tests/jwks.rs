//! Key-cache behaviour over real HTTP: discovery, single flight, unknown-kid refetch and its
//! cooldown, outages, faults, freshness and rotation.

mod common;

use std::time::{Duration, Instant};

use auth_core::{AuthConfig, ErrorCode, Verifier};
use auth_issuer::{Fault, KeySpec, TestIssuer};
use common::*;

fn with_policy(issuer: &TestIssuer, policy: auth_core::JwksPolicy) -> Verifier {
    Verifier::new(builder(issuer).jwks_policy(policy).build().expect("cfg")).expect("v")
}

// ---------------------------------------------------------------- discovery

#[tokio::test]
async fn discovery_is_lazy_and_a_verifier_starts_while_the_issuer_is_down() {
    // Reserve a port, then free it: nothing listens there yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let issuer_url = format!("http://127.0.0.1:{port}");
    let cfg = AuthConfig::builder()
        .issuer(&issuer_url)
        .audience("test-api")
        .jwks_policy(fast_policy())
        .build()
        .expect("cfg");
    let v = Verifier::new(cfg).expect("starts without the issuer");
    let err = verify(&v, "a.b.c")
        .await
        .expect_err("malformed never reaches the network");
    assert_eq!(err.code(), ErrorCode::TokenInvalid);

    // A well-formed token: the issuer is unreachable, so 503 and retryable.
    let issuer = TestIssuer::builder()
        .port(port)
        .start()
        .await
        .expect("issuer on the port");
    let token = issuer.token().sign();
    issuer.shutdown().await;
    let err = verify(&v, &token).await.expect_err("issuer down");
    assert_eq!(
        (err.code(), err.status()),
        (ErrorCode::DiscoveryFailed, 503)
    );
    assert!(err.is_retryable());

    // The issuer comes back (same keys from the pool): the verifier recovers by itself.
    let issuer = TestIssuer::builder()
        .port(port)
        .start()
        .await
        .expect("issuer back");
    assert_eq!(issuer.issuer(), issuer_url);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match verify(&v, &token).await {
            Ok(_) => break,
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("did not recover: {e:?}"),
        }
    }
}

#[tokio::test]
async fn discovery_falls_back_to_rfc8414() {
    let issuer = TestIssuer::builder()
        .path("/realms/main")
        .start()
        .await
        .expect("issuer");
    issuer.set_oidc_discovery_enabled(false);
    let v = verifier(&issuer);
    assert!(verify(&v, &issuer.token().sign()).await.is_ok());
    assert_eq!(
        issuer.requests_to("/.well-known/oauth-authorization-server/realms/main"),
        1
    );
}

#[tokio::test]
async fn discovery_issuer_mismatch_is_refused() {
    let issuer = TestIssuer::start().await;
    issuer.set_discovery_issuer_override(Some(format!("{}/other", issuer.issuer())));
    let v = verifier(&issuer);
    assert_code(
        verify(&v, &issuer.token().sign()).await,
        ErrorCode::DiscoveryFailed,
    );
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn jwks_uri_override_skips_discovery() {
    let issuer = TestIssuer::start().await;
    let v = Verifier::new(
        builder(&issuer)
            .jwks_uri(issuer.jwks_uri())
            .build()
            .expect("cfg"),
    )
    .expect("v");
    assert!(verify(&v, &issuer.token().sign()).await.is_ok());
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (0, 1)
    );
}

#[tokio::test]
async fn warm_up_fetches_once_and_later_requests_do_not_fetch() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    v.warm_up().await.expect("warm up");
    assert_eq!(issuer.jwks_requests(), 1);
    for _ in 0..50 {
        assert!(verify(&v, &issuer.token().sign()).await.is_ok());
    }
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );
}

// ---------------------------------------------------------------- single flight and kids

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_with_1000_concurrent_verifications_fetches_once() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(Fault::Delay(Duration::from_millis(200))));
    let v = verifier(&issuer);
    let token = issuer.token().sign();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (v, token) = (v.clone(), token.clone());
            tokio::spawn(async move { verify(&v, &token).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("valid");
    }
    assert_eq!(issuer.jwks_requests(), 1);
    assert_eq!(issuer.discovery_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_kid_with_1000_concurrent_verifications_causes_one_fetch() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    v.warm_up().await.expect("warm up");
    // A key published a moment after the routine fetch must work at once.
    let new_kid = issuer.add_key(KeySpec::P256);
    issuer.set_jwks_fault(Some(Fault::Delay(Duration::from_millis(200))));
    let token = issuer.token().key(&new_kid).sign();
    let before = issuer.jwks_requests();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (v, token) = (v.clone(), token.clone());
            tokio::spawn(async move { verify(&v, &token).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("new key accepted");
    }
    assert_eq!(issuer.jwks_requests() - before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kids_cause_at_most_one_fetch_per_cooldown_window() {
    let issuer = TestIssuer::start().await;
    // A cooldown far longer than the test: the whole test runs inside one window, however
    // slow the machine.
    let policy = auth_core::JwksPolicy::default().unknown_kid_cooldown(Duration::from_secs(3600));
    let v = with_policy(&issuer, policy);
    v.warm_up().await.expect("warm up");
    let before = issuer.jwks_requests();
    let tokens: Vec<String> = (0..2000)
        .map(|i| issuer.token().kid(Some(&format!("random-{i}"))).sign())
        .collect();
    let mut tasks = Vec::new();
    for token in tokens {
        let v = v.clone();
        tasks.push(tokio::spawn(
            async move { verify(&v, &token).await.map(|_| ()) },
        ));
    }
    for t in tasks {
        let err = t.await.expect("join").expect_err("unknown kid");
        assert_eq!(err.code(), ErrorCode::TokenInvalid);
    }
    assert!(
        issuer.jwks_requests() - before <= 1,
        "{} fetches",
        issuer.jwks_requests() - before
    );
    // Sequential floods fail fast too, without requests.
    for i in 0..200 {
        let t = issuer.token().kid(Some(&format!("again-{i}"))).sign();
        assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    }
    assert!(issuer.jwks_requests() - before <= 1);
}

#[tokio::test]
async fn unknown_kid_refetches_are_rate_limited_then_allowed_again() {
    let issuer = TestIssuer::start().await;
    let policy = fast_policy().unknown_kid_cooldown(Duration::from_millis(500));
    let v = with_policy(&issuer, policy);
    v.warm_up().await.expect("warm up");
    let t = |kid: &str| issuer.token().kid(Some(kid)).sign();
    assert_code(verify(&v, &t("x1")).await, ErrorCode::TokenInvalid);
    assert_eq!(
        issuer.jwks_requests(),
        2,
        "first unknown kid refetches immediately"
    );
    let added = issuer.add_key(KeySpec::Ed25519);
    // Within the cooldown: no refetch, so even a real new key is not found yet.
    assert_code(
        verify(&v, &issuer.token().key(&added).sign()).await,
        ErrorCode::TokenInvalid,
    );
    assert_eq!(issuer.jwks_requests(), 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(verify(&v, &issuer.token().key(&added).sign()).await.is_ok());
    assert_eq!(issuer.jwks_requests(), 3);
}

#[tokio::test]
async fn a_known_kid_with_a_bad_signature_never_refetches() {
    let issuer = TestIssuer::start().await;
    let other = issuer.add_key(KeySpec::Rsa2048);
    let v = verifier(&issuer);
    v.warm_up().await.expect("warm up");
    for _ in 0..20 {
        let forged = issuer.token().key(&other).kid(Some("rsa-1")).sign();
        assert_code(verify(&v, &forged).await, ErrorCode::TokenInvalid);
    }
    assert_eq!(issuer.jwks_requests(), 1);
}

// ---------------------------------------------------------------- outages and faults

#[tokio::test]
async fn keys_survive_a_jwks_outage_within_the_stale_window() {
    let issuer = TestIssuer::start().await;
    let policy = fast_policy()
        .ttl_bounds(Duration::from_millis(300), Duration::from_millis(300))
        .stale_if_error(Duration::from_secs(3600))
        .background_refresh(false);
    let v = with_policy(&issuer, policy);
    v.warm_up().await.expect("warm up");
    issuer.set_jwks_fault(Some(Fault::Status(500)));
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..5 {
        assert!(
            verify(&v, &issuer.token().sign()).await.is_ok(),
            "stale keys keep working"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        issuer.jwks_requests() >= 2,
        "a refresh was attempted in the background"
    );
    issuer.set_jwks_fault(None);
    let before = issuer.jwks_requests();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(verify(&v, &issuer.token().sign()).await.is_ok());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(issuer.jwks_requests() > before, "refreshed after recovery");
}

#[tokio::test]
async fn the_stale_window_is_bounded() {
    let issuer = TestIssuer::start().await;
    let policy = fast_policy()
        .ttl_bounds(Duration::from_millis(200), Duration::from_millis(200))
        .stale_if_error(Duration::from_millis(200))
        .background_refresh(false);
    let v = with_policy(&issuer, policy);
    v.warm_up().await.expect("warm up");
    issuer.set_jwks_fault(Some(Fault::Status(500)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let err = verify(&v, &issuer.token().sign())
        .await
        .expect_err("keys too old");
    assert!(
        matches!(
            err.code(),
            ErrorCode::JwksFetchFailed | ErrorCode::JwksUnavailable
        ),
        "{err:?}"
    );
    assert_eq!(err.status(), 503);
    assert!(err.retry_after().is_some());
}

async fn assert_fault_fails_within(fault: Fault, bound: Duration) {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_fault(Some(fault.clone()));
    // A backoff long enough that a loaded machine still reaches the second request
    // inside it (jitter takes up to a fifth off).
    let policy = fast_policy()
        .backoff(Duration::from_secs(1), Duration::from_secs(1))
        .fetch_timeout(Duration::from_millis(500))
        .max_body(64 * 1024);
    let v = with_policy(&issuer, policy);
    let started = Instant::now();
    let err = verify(&v, &issuer.token().sign()).await.expect_err("fault");
    assert_eq!(err.code(), ErrorCode::JwksFetchFailed, "{fault:?}: {err:?}");
    assert_eq!(err.status(), 503);
    assert!(
        started.elapsed() < bound,
        "{fault:?} took {:?}",
        started.elapsed()
    );
    // Right after a failure, requests fail fast (backoff) without another request...
    let n = issuer.jwks_requests();
    assert_code(
        verify(&v, &issuer.token().sign()).await,
        ErrorCode::JwksUnavailable,
    );
    assert_eq!(issuer.jwks_requests(), n);
    // ...and recover once the endpoint is healthy again.
    issuer.set_jwks_fault(None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        verify(&v, &issuer.token().sign()).await.is_ok(),
        "{fault:?}: recovered"
    );
}

#[tokio::test]
async fn slow_jwks_fails_within_the_timeout() {
    assert_fault_fails_within(
        Fault::Delay(Duration::from_secs(30)),
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test]
async fn slow_body_fails_within_the_timeout() {
    assert_fault_fails_within(
        Fault::SlowBody(Duration::from_secs(30)),
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test]
async fn oversized_jwks_fails_at_the_cap() {
    assert_fault_fails_within(Fault::Oversized(10 * 1024 * 1024), Duration::from_secs(3)).await;
}

#[tokio::test]
async fn jwks_500_html_invalid_json_and_dropped_connections_fail_cleanly() {
    for fault in [
        Fault::Status(500),
        Fault::Status(404),
        Fault::Status(302),
        Fault::Html,
        Fault::InvalidJson,
        Fault::Drop,
    ] {
        assert_fault_fails_within(fault, Duration::from_secs(3)).await;
    }
}

// ---------------------------------------------------------------- freshness and rotation

#[tokio::test]
async fn cache_control_max_age_drives_background_refresh() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_cache_control(Some("public, max-age=1".into()));
    let policy = fast_policy().ttl_bounds(Duration::from_secs(1), Duration::from_secs(60));
    let v = with_policy(&issuer, policy);
    v.warm_up().await.expect("warm up");
    assert_eq!(issuer.jwks_requests(), 1);
    // No traffic at all: the background task refreshes before expiry (at 75–90 % of 1 s).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let n = issuer.jwks_requests();
    assert!((2..=4).contains(&n), "{n} fetches");
    drop(v);
}

#[tokio::test]
async fn rotation_add_retire_remove() {
    let issuer = TestIssuer::start().await;
    let policy = fast_policy().ttl_bounds(Duration::from_millis(200), Duration::from_secs(60));
    issuer.set_jwks_cache_control(Some("max-age=0".into()));
    let v = with_policy(&issuer, policy);
    let old = issuer.token().sign();
    assert!(verify(&v, &old).await.is_ok());
    // A new key becomes the signer: accepted at once (unknown-kid refetch).
    let new = issuer.add_key(KeySpec::Rsa2048);
    issuer.set_default_key(&new);
    issuer.retire_key("rsa-1");
    assert!(verify(&v, &issuer.token().sign()).await.is_ok());
    // Retired but still published: old tokens keep working.
    assert!(verify(&v, &old).await.is_ok());
    // Removed: after the next refresh, tokens signed by it are refused.
    issuer.remove_key("rsa-1");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while verify(&v, &old).await.is_ok() {
        assert!(Instant::now() < deadline, "removed key still accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_code(verify(&v, &old).await, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn an_empty_key_set_does_not_replace_good_keys() {
    let issuer = TestIssuer::start().await;
    let policy = fast_policy().ttl_bounds(Duration::from_millis(200), Duration::from_millis(200));
    let v = with_policy(&issuer, policy);
    v.warm_up().await.expect("warm up");
    for kid in issuer.kids() {
        issuer.remove_key(&kid);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let token = issuer.token().key("rsa-1").sign();
    assert!(verify(&v, &token).await.is_ok(), "last good keys kept");
}

// ---------------------------------------------------------------- bring your own HTTP client

/// Counts requests and delegates to the default client; optionally never answers.
struct CountingClient {
    inner: auth_core::http::ReqwestClient,
    calls: std::sync::atomic::AtomicUsize,
    hang: bool,
}

impl auth_core::http::HttpClient for CountingClient {
    fn execute(
        &self,
        request: auth_core::http::HttpRequest,
    ) -> auth_core::http::BoxFuture<
        '_,
        Result<auth_core::http::HttpResponse, auth_core::http::HttpError>,
    > {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.hang {
            // Ignores request.timeout entirely: the SDK's own bound must still apply.
            return Box::pin(std::future::pending());
        }
        self.inner.execute(request)
    }
}

fn counting(hang: bool) -> std::sync::Arc<CountingClient> {
    std::sync::Arc::new(CountingClient {
        inner: auth_core::http::ReqwestClient::new().expect("client"),
        calls: std::sync::atomic::AtomicUsize::new(0),
        hang,
    })
}

#[tokio::test]
async fn a_custom_http_client_is_used_for_discovery_and_keys() {
    let issuer = TestIssuer::start().await;
    let client = counting(false);
    let v = Verifier::new(
        builder(&issuer)
            .http_client(client.clone())
            .build()
            .expect("cfg"),
    )
    .expect("v");
    assert!(verify(&v, &issuer.token().sign()).await.is_ok());
    assert_eq!(client.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_client_that_ignores_timeouts_is_still_bounded() {
    let issuer = TestIssuer::start().await;
    let client = counting(true);
    let policy = fast_policy().fetch_timeout(Duration::from_millis(300));
    let v = Verifier::new(
        builder(&issuer)
            .http_client(client)
            .jwks_policy(policy)
            .build()
            .expect("cfg"),
    )
    .expect("v");
    let started = Instant::now();
    assert_code(
        verify(&v, &issuer.token().sign()).await,
        ErrorCode::DiscoveryFailed,
    );
    // Two discovery URLs, each bounded by the timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
