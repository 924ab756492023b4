use auth_issuer::TestIssuer;

use crate::get;

#[tokio::test]
async fn counts_jwks_and_discovery() {
    let issuer = TestIssuer::start().await;
    assert_eq!(issuer.jwks_requests(), 0);
    assert_eq!(issuer.discovery_requests(), 0);
    get(&issuer.jwks_uri()).await;
    get(&issuer.jwks_uri()).await;
    get(&issuer.discovery_url()).await;
    get(&issuer.oauth_metadata_url()).await;
    issuer.set_oidc_discovery_enabled(false);
    get(&issuer.discovery_url()).await;
    assert_eq!(issuer.jwks_requests(), 2);
    assert_eq!(issuer.discovery_requests(), 3);
    assert_eq!(issuer.requests_to("/jwks"), 2);
    assert_eq!(issuer.requests_to("/.well-known/openid-configuration"), 2);
    assert_eq!(
        issuer.requests_to("/.well-known/oauth-authorization-server"),
        1
    );
}

#[tokio::test]
async fn counts_any_path_ignoring_the_query() {
    let issuer = TestIssuer::builder()
        .path("/realms/r")
        .start()
        .await
        .expect("start");
    let base = issuer.base_url();
    assert_eq!(get(&format!("{base}/nope")).await.status(), 404);
    get(&format!("{base}/nope?x=1")).await;
    get(&format!("{}?cachebust=2", issuer.jwks_uri())).await;
    assert_eq!(issuer.requests_to("/nope"), 2);
    assert_eq!(issuer.requests_to("/nope?x=1"), 0);
    assert_eq!(issuer.requests_to("/realms/r/jwks"), 1);
    assert_eq!(issuer.requests_to("/jwks"), 0);
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn reset_counters() {
    let issuer = TestIssuer::start().await;
    get(&issuer.jwks_uri()).await;
    get(&issuer.discovery_url()).await;
    get(&format!("{}/other", issuer.base_url())).await;
    issuer.reset_counters();
    assert_eq!(issuer.jwks_requests(), 0);
    assert_eq!(issuer.discovery_requests(), 0);
    assert_eq!(issuer.requests_to("/jwks"), 0);
    assert_eq!(issuer.requests_to("/other"), 0);
    get(&issuer.jwks_uri()).await;
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn clones_share_counters() {
    let issuer = TestIssuer::start().await;
    let clone = issuer.clone();
    get(&clone.jwks_uri()).await;
    assert_eq!(issuer.jwks_requests(), 1);
}
