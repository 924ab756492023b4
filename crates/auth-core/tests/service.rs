//! `ServiceClient` against auth-issuer's token endpoint over real HTTP: the client-credentials
//! grant with each client authentication, caching, one request for concurrent callers, the
//! refresh ahead of expiry, retries of transient failures and none of refused credentials.

use std::time::Duration;

use auth_core::service::ServiceClient;
use auth_core::session::ClientAuth;
use auth_core::{AuthConfig, ClientKey, ErrorCode, NoExtraClaims, Verifier};
use auth_issuer::{Fault, TestClient, TestIssuer};

const ID: &str = "orders-worker";
const SECRET: &str = "worker-secret-0123456789";

async fn issuer_with(client: TestClient) -> TestIssuer {
    TestIssuer::builder()
        .client(client)
        .start()
        .await
        .expect("issuer")
}

fn client(issuer: &TestIssuer) -> ServiceClient {
    ServiceClient::builder(issuer.issuer(), ID)
        .client_secret(SECRET)
        .retries(3, Duration::from_millis(100))
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_token_is_obtained_verifies_and_is_cached() {
    let issuer = issuer_with(TestClient::confidential(ID, SECRET)).await;
    let service = client(&issuer);
    let token = service.access_token().await.expect("token");
    let verifier = Verifier::new(
        AuthConfig::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            .build()
            .expect("config"),
    )
    .expect("verifier");
    let claims = verifier
        .verify::<NoExtraClaims>(token.secret())
        .await
        .expect("the service token verifies");
    assert_eq!(claims.client_id.as_deref(), Some(ID));
    let again = service.access_token().await.expect("token");
    assert!(again.secret() == token.secret(), "served from the cache");
    assert_eq!(issuer.requests_to("/token"), 1);
    assert!(!format!("{token:?}{service:?}").contains(token.secret()));
    assert!(!format!("{service:?}").contains(SECRET));
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let issuer = issuer_with(TestClient::confidential(ID, SECRET)).await;
    issuer.set_token_fault(Some(Fault::Delay(Duration::from_millis(200))));
    let service = client(&issuer);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let service = service.clone();
        tasks.push(tokio::spawn(async move { service.access_token().await }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(
            task.await
                .expect("join")
                .expect("token")
                .secret()
                .to_owned(),
        );
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1);
    assert_eq!(issuer.requests_to("/token"), 1);
}

#[tokio::test]
async fn client_secret_post_works_when_the_provider_wants_it() {
    let issuer = issuer_with(
        TestClient::confidential(ID, SECRET).auth_method(auth_issuer::ClientAuth::Post),
    )
    .await;
    let basic = client(&issuer);
    let refused = basic.access_token().await.expect_err("basic is refused");
    assert_eq!(refused.code(), ErrorCode::ConfigInvalid);
    let post = ServiceClient::builder(issuer.issuer(), ID)
        .client_secret(SECRET)
        .client_auth(ClientAuth::Post)
        .build()
        .expect("client");
    assert!(post.access_token().await.is_ok());
}

#[tokio::test]
async fn refused_credentials_are_config_invalid_and_not_retried() {
    let issuer = issuer_with(TestClient::confidential(ID, SECRET)).await;
    let wrong = ServiceClient::builder(issuer.issuer(), ID)
        .client_secret("not-the-secret")
        .build()
        .expect("client");
    let error = wrong.access_token().await.expect_err("refused");
    assert_eq!(error.code(), ErrorCode::ConfigInvalid);
    assert_eq!(issuer.requests_to("/token"), 1, "no retry of a refusal");
}

#[tokio::test]
async fn transient_failures_are_retried_within_the_bound() {
    let issuer = issuer_with(TestClient::confidential(ID, SECRET)).await;
    let service = client(&issuer);
    // Down for good: three attempts, then a retryable 503-class error.
    issuer.set_token_fault(Some(Fault::Status(500)));
    let error = service.access_token().await.expect_err("down");
    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(error.status(), 503);
    assert_eq!(issuer.requests_to("/token"), 3);
    // Back within the backoff: the caller gets a token.
    let clear = {
        let issuer = issuer.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            issuer.set_token_fault(None);
        })
    };
    service.access_token().await.expect("recovered by a retry");
    clear.await.expect("join");
    assert!(issuer.requests_to("/token") >= 5);
}

#[tokio::test]
async fn a_token_near_its_expiry_is_refreshed_in_the_background() {
    let issuer = issuer_with(TestClient::confidential(ID, SECRET)).await;
    issuer.set_access_token_ttl(Duration::from_secs(12));
    let service = ServiceClient::builder(issuer.issuer(), ID)
        .client_secret(SECRET)
        .refresh_ahead(Duration::from_secs(20))
        .build()
        .expect("client");
    let first = service.access_token().await.expect("token");
    // refresh_ahead is capped at half the lifetime: a refresh from 6 s before expiry on.
    tokio::time::sleep(Duration::from_millis(6_300)).await;
    let still = service.access_token().await.expect("token");
    assert!(
        still.secret() == first.secret(),
        "the current token is served at once"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(issuer.requests_to("/token"), 2, "one background refresh");
    let fresh = service.access_token().await.expect("token");
    assert!(
        fresh.secret() != first.secret(),
        "the refreshed token is served"
    );
    assert!(fresh.expires_at() > first.expires_at());
}

#[test]
fn configuration_errors_name_the_variable() {
    let no_secret = ServiceClient::builder("https://idp.example.com", ID).build();
    assert_eq!(
        no_secret.expect_err("secret").variable(),
        "AUTH_CLIENT_SECRET"
    );
    let public = ServiceClient::builder("https://idp.example.com", ID)
        .client_secret("x")
        .client_auth(ClientAuth::None)
        .build();
    assert_eq!(public.expect_err("public").variable(), "AUTH_CLIENT_AUTH");
    let vars = [("AUTH_CLIENT_ID", ID), ("AUTH_CLIENT_SECRET", SECRET)];
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let no_issuer = ServiceClient::from_vars(lookup);
    assert_eq!(no_issuer.expect_err("issuer").variable(), "AUTH_ISSUER");
    let with_endpoint = |name: &str| match name {
        "AUTH_TOKEN_ENDPOINT" => Some("https://idp.example.com/token".to_owned()),
        "AUTH_CLIENT_AUTH" => Some("client_secret_post".to_owned()),
        other => lookup(other),
    };
    assert!(ServiceClient::from_vars(with_endpoint).is_ok());
    let bad_method = |name: &str| match name {
        "AUTH_CLIENT_AUTH" => Some("tls_client_auth".to_owned()),
        "AUTH_ISSUER" => Some("https://idp.example.com".to_owned()),
        other => lookup(other),
    };
    assert_eq!(
        ServiceClient::from_vars(bad_method)
            .expect_err("method")
            .variable(),
        "AUTH_CLIENT_AUTH"
    );
    let key_missing = |name: &str| match name {
        "AUTH_CLIENT_AUTH" => Some("private_key_jwt".to_owned()),
        "AUTH_ISSUER" => Some("https://idp.example.com".to_owned()),
        other => lookup(other),
    };
    assert_eq!(
        ServiceClient::from_vars(key_missing)
            .expect_err("no key")
            .variable(),
        "AUTH_CLIENT_KEY_FILE"
    );
    let unreadable = |name: &str| match name {
        "AUTH_CLIENT_KEY_FILE" => Some("/nonexistent/key.pem".to_owned()),
        "AUTH_ISSUER" => Some("https://idp.example.com".to_owned()),
        other => lookup(other),
    };
    assert_eq!(
        ServiceClient::from_vars(unreadable)
            .expect_err("no file")
            .variable(),
        "AUTH_CLIENT_KEY_FILE"
    );
}

#[tokio::test]
async fn bearer_puts_the_token_on_a_reqwest_request_and_invalidate_forgets_it() {
    let issuer = issuer_with(TestClient::confidential(ID, SECRET)).await;
    let service = client(&issuer);
    let request = service
        .bearer(reqwest::Client::new().get("http://127.0.0.1:1/api"))
        .await
        .expect("token")
        .build()
        .expect("request");
    let token = service.access_token().await.expect("token");
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        header == format!("Bearer {}", token.secret()),
        "a bearer header"
    );
    service.invalidate();
    let fresh = service.access_token().await.expect("token");
    assert!(
        fresh.secret() != token.secret(),
        "a new token after invalidate"
    );
    assert_eq!(issuer.requests_to("/token"), 2);
}

const CLIENT_KEY: &str = include_str!("data/client-p256.pem");

#[tokio::test]
async fn private_key_jwt_obtains_tokens_with_a_fresh_assertion_each_time() {
    let key = ClientKey::from_pem(CLIENT_KEY).expect("key");
    let issuer = issuer_with(TestClient::private_key_jwt(ID, key.public_jwk())).await;
    let service = ServiceClient::builder(issuer.issuer(), ID)
        .client_key(key.clone())
        .build()
        .expect("client");
    let first = service.access_token().await.expect("token");
    service.invalidate();
    // A second request signs a new assertion (a fresh jti): the issuer refuses replays.
    let second = service.access_token().await.expect("token again");
    assert_ne!(first.secret(), second.secret());
    assert_eq!(issuer.requests_to("/token"), 2);
    assert!(!format!("{service:?}").contains("BEGIN"));

    // The issuer identifier as the audience (RFC 7523bis) is accepted as well.
    let to_issuer = ServiceClient::builder(issuer.issuer(), ID)
        .client_key(key)
        .client_assertion_audience(issuer.issuer())
        .build()
        .expect("client");
    assert!(to_issuer.access_token().await.is_ok());
}

#[tokio::test]
async fn private_key_jwt_from_the_environment_with_an_ed25519_key() {
    use aws_lc_rs::signature::Ed25519KeyPair;
    use base64::Engine as _;
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).expect("ed");
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
    );
    let dir = std::env::temp_dir().join(format!("auth-core-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("ed25519.pem");
    std::fs::write(&path, &pem).expect("write");
    let key = ClientKey::from_pem(&pem).expect("key");
    assert_eq!(key.algorithm(), auth_core::Algorithm::EdDSA);
    let issuer = issuer_with(TestClient::private_key_jwt(ID, key.public_jwk())).await;
    let vars = |name: &str| match name {
        "AUTH_ISSUER" => Some(issuer.issuer().to_owned()),
        "AUTH_CLIENT_ID" => Some(ID.to_owned()),
        "AUTH_CLIENT_KEY_FILE" => Some(path.display().to_string()),
        _ => None,
    };
    let service = ServiceClient::from_vars(vars).expect("client from env");
    assert!(service.access_token().await.is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_unregistered_key_is_config_invalid_and_not_retried() {
    let registered = ClientKey::from_pem(CLIENT_KEY).expect("key");
    let issuer = issuer_with(TestClient::private_key_jwt(ID, registered.public_jwk())).await;
    let other = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .expect("ec");
    use base64::Engine as _;
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(other.as_ref())
    );
    // Same kid as the registered key, different key: the signature does not verify.
    let wrong = ClientKey::from_pem(&pem)
        .expect("key")
        .with_kid(registered.kid());
    let service = ServiceClient::builder(issuer.issuer(), ID)
        .client_key(wrong)
        .retries(3, Duration::from_millis(50))
        .build()
        .expect("client");
    let error = service.access_token().await.expect_err("refused");
    assert_eq!(error.code(), ErrorCode::ConfigInvalid);
    assert_eq!(issuer.requests_to("/token"), 1, "no retry of a refusal");
    // A secret is not accepted from a private_key_jwt client either.
    let secret = ServiceClient::builder(issuer.issuer(), ID)
        .client_secret(SECRET)
        .build()
        .expect("client");
    assert_eq!(
        secret.access_token().await.expect_err("refused").code(),
        ErrorCode::ConfigInvalid
    );
}

/// A resource server on loopback that accepts a bearer token while the issuer's introspection
/// says it is active (so it refuses a revoked one); answers the token's `client_id`.
#[cfg(feature = "reqwest-middleware")]
async fn resource_server(issuer: &TestIssuer) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let introspection = format!("{}/introspect", issuer.issuer());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let introspection = introspection.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let token = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                    .and_then(|(_, v)| v.trim().strip_prefix("Bearer ").map(str::to_owned));
                let mut active = serde_json::Value::Null;
                if let Some(token) = token {
                    let form = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("token", &token)
                        .finish();
                    active = reqwest::Client::new()
                        .post(&introspection)
                        .basic_auth(ID, Some(SECRET))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form)
                        .send()
                        .await
                        .expect("introspect")
                        .text()
                        .await
                        .ok()
                        .and_then(|text| serde_json::from_str(&text).ok())
                        .unwrap_or_default();
                }
                let answer = if active["active"] == true {
                    let body = serde_json::json!({ "client_id": active["client_id"] }).to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
                };
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

/// `ServiceClient` in a `reqwest-middleware` stack, against a resource server that checks the
/// bearer token by introspection (and so refuses a revoked one).
#[cfg(feature = "reqwest-middleware")]
#[tokio::test]
async fn as_a_reqwest_middleware_it_adds_the_token_and_replaces_a_refused_one() {
    let issuer = issuer_with(TestClient::confidential(ID, SECRET)).await;
    let service = ServiceClient::builder(issuer.issuer(), ID)
        .client_secret(SECRET)
        .scope("reports:read")
        .build()
        .expect("client");
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(service.clone())
        .build();
    let userinfo = resource_server(&issuer).await;
    let answer = http.get(&userinfo).send().await.expect("resource");
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value =
        serde_json::from_str(&answer.text().await.expect("body")).expect("json");
    assert_eq!(body["client_id"], ID);
    assert_eq!(issuer.requests_to("/token"), 1);

    // The provider revokes the cached token: the called service answers 401, and the
    // middleware fetches a fresh token and sends the request once more.
    let cached = service.access_token().await.expect("cached");
    let revoked = reqwest::Client::new()
        .post(issuer.revocation_endpoint())
        .basic_auth(ID, Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", cached.secret())
                .finish(),
        )
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);
    let answer = http.get(&userinfo).send().await.expect("userinfo");
    assert_eq!(answer.status(), 200, "retried with a fresh token");
    assert_eq!(issuer.requests_to("/token"), 2);
    assert_ne!(
        service.access_token().await.expect("fresh").secret(),
        cached.secret()
    );

    // A request that brings its own Authorization header keeps it.
    let own = http
        .get(&userinfo)
        .header("authorization", "Bearer not-a-token")
        .send()
        .await
        .expect("userinfo");
    assert_eq!(own.status(), 401);
    assert_eq!(issuer.requests_to("/token"), 2);
}
