use auth_issuer::TestIssuer;
use serde_json::Value;

use crate::{get, get_json};

fn assert_document(doc: &Value, issuer: &TestIssuer) {
    let iss = issuer.issuer();
    assert_eq!(doc["issuer"], iss);
    assert_eq!(doc["jwks_uri"], issuer.jwks_uri());
    for (member, suffix) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("revocation_endpoint", "/revoke"),
        ("end_session_endpoint", "/logout"),
    ] {
        assert_eq!(doc[member], format!("{iss}{suffix}"), "{member}");
    }
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256", "EdDSA"])
    );
    for member in [
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "scopes_supported",
    ] {
        assert!(doc[member].is_array(), "{member}");
    }
}

#[tokio::test]
async fn issuer_urls_at_the_origin() {
    let issuer = TestIssuer::start().await;
    let base = issuer.base_url();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(issuer.issuer(), base);
    assert_eq!(issuer.jwks_uri(), format!("{base}/jwks"));
    assert_eq!(
        issuer.discovery_url(),
        format!("{base}/.well-known/openid-configuration")
    );
    assert_eq!(
        issuer.oauth_metadata_url(),
        format!("{base}/.well-known/oauth-authorization-server")
    );
    assert_eq!(
        issuer.local_addr().port().to_string(),
        base.rsplit(':').next().unwrap_or("")
    );
}

#[tokio::test]
async fn oidc_discovery_document() {
    let issuer = TestIssuer::start().await;
    let response = get(&format!(
        "{}/.well-known/openid-configuration",
        issuer.issuer()
    ))
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: Value = response.json().await.expect("JSON");
    assert_document(&doc, &issuer);
}

#[tokio::test]
async fn rfc8414_metadata_document() {
    let issuer = TestIssuer::start().await;
    let doc = get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        issuer.base_url()
    ))
    .await;
    assert_document(&doc, &issuer);
}

#[tokio::test]
async fn path_prefix_issuer_serves_both_documents() {
    let issuer = TestIssuer::builder()
        .path("/realms/test")
        .start()
        .await
        .expect("start");
    let base = issuer.base_url();
    assert_eq!(issuer.issuer(), format!("{base}/realms/test"));
    assert_eq!(issuer.jwks_uri(), format!("{base}/realms/test/jwks"));

    let oidc = get_json(&format!(
        "{base}/realms/test/.well-known/openid-configuration"
    ))
    .await;
    assert_document(&oidc, &issuer);
    let oauth = get_json(&format!(
        "{base}/.well-known/oauth-authorization-server/realms/test"
    ))
    .await;
    assert_document(&oauth, &issuer);
    assert_eq!(get_json(&issuer.discovery_url()).await, oidc);
    assert_eq!(get_json(&issuer.oauth_metadata_url()).await, oauth);

    // The JWKS the documents advertise is really there.
    let jwks = get_json(oidc["jwks_uri"].as_str().expect("jwks_uri")).await;
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(3));

    // Not at the origin's well-known locations.
    let response = get(&format!("{base}/.well-known/openid-configuration")).await;
    assert_eq!(response.status(), 404);
    let response = get(&format!("{base}/.well-known/oauth-authorization-server")).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn path_is_normalised() {
    let issuer = TestIssuer::builder()
        .path("realms/x/")
        .start()
        .await
        .expect("start");
    assert_eq!(issuer.issuer(), format!("{}/realms/x", issuer.base_url()));
    let root = TestIssuer::builder()
        .path("/")
        .start()
        .await
        .expect("start");
    assert_eq!(root.issuer(), root.base_url());
}

#[tokio::test]
async fn invalid_path_is_an_error() {
    for path in ["/a/{b}", "/a b", "/a?x", "/a//b"] {
        let error = TestIssuer::builder()
            .path(path)
            .start()
            .await
            .expect_err(path);
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{path}");
    }
}

#[tokio::test]
async fn oidc_discovery_can_be_switched_off() {
    let issuer = TestIssuer::builder()
        .path("/tenant")
        .start()
        .await
        .expect("start");
    issuer.set_oidc_discovery_enabled(false);
    assert_eq!(get(&issuer.discovery_url()).await.status(), 404);
    let doc = get_json(&issuer.oauth_metadata_url()).await;
    assert_eq!(doc["issuer"], issuer.issuer());

    issuer.set_oidc_discovery_enabled(true);
    assert_eq!(get(&issuer.discovery_url()).await.status(), 200);
}

#[tokio::test]
async fn issuer_override_changes_only_the_issuer_member() {
    let issuer = TestIssuer::start().await;
    issuer.set_discovery_issuer_override(Some("https://evil.example".to_owned()));
    for url in [issuer.discovery_url(), issuer.oauth_metadata_url()] {
        let doc = get_json(&url).await;
        assert_eq!(doc["issuer"], "https://evil.example");
        assert_eq!(doc["jwks_uri"], issuer.jwks_uri());
    }
    issuer.set_discovery_issuer_override(None);
    assert_eq!(
        get_json(&issuer.discovery_url()).await["issuer"],
        issuer.issuer()
    );
}

#[tokio::test]
async fn advertised_algorithms_follow_the_published_keys() {
    let issuer = TestIssuer::builder()
        .keys(vec![auth_issuer::KeySpec::P384])
        .start()
        .await
        .expect("start");
    let doc = get_json(&issuer.discovery_url()).await;
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES384"])
    );
}

#[tokio::test]
async fn advertised_endpoints_are_served() {
    let issuer = TestIssuer::start().await;
    let doc = get_json(&issuer.discovery_url()).await;
    for (member, url) in [
        ("authorization_endpoint", issuer.authorization_endpoint()),
        ("token_endpoint", issuer.token_endpoint()),
        ("userinfo_endpoint", issuer.userinfo_endpoint()),
        ("revocation_endpoint", issuer.revocation_endpoint()),
        ("end_session_endpoint", issuer.end_session_endpoint()),
    ] {
        assert_eq!(doc[member], url.as_str(), "{member}");
        let status = get(&url).await.status();
        assert_ne!(status, 404, "{member}");
    }
}

#[tokio::test]
async fn discovery_advertises_what_the_endpoints_do() {
    let issuer = TestIssuer::start().await;
    let doc = get_json(&issuer.discovery_url()).await;
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    // private_key_jwt assertions: asymmetric algorithms only (no `none`, no HMAC).
    let algs = doc["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .expect("assertion algorithms");
    assert!(algs.iter().any(|a| a == "ES256") && algs.iter().any(|a| a == "RS256"));
    assert!(
        !algs
            .iter()
            .any(|a| a == "none" || a.as_str().is_some_and(|a| a.starts_with("HS")))
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    assert_eq!(
        doc["response_modes_supported"],
        serde_json::json!(["query"])
    );
    for claim in [
        "sub",
        "name",
        "email",
        "roles",
        "nonce",
        "at_hash",
        "auth_time",
    ] {
        assert!(
            doc["claims_supported"]
                .as_array()
                .is_some_and(|claims| claims.iter().any(|c| c == claim)),
            "{claim}"
        );
    }
}

#[tokio::test]
async fn json_endpoints_answer_cors_preflights() {
    let issuer = TestIssuer::start().await;
    let client = reqwest::Client::new();
    let response = client
        .request(reqwest::Method::OPTIONS, issuer.token_endpoint())
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("preflight");
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let response = client
        .get(issuer.jwks_uri())
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    // Without an Origin, no CORS headers.
    let response = client.get(issuer.jwks_uri()).send().await.expect("request");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
