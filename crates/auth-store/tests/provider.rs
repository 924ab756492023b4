//! The OAuth provider on `SqlStore`, over real HTTP: a flow interrupted by restarts of the
//! provider on the same database loses nothing. Run against a real SQLite file and, when
//! configured, a real PostgreSQL server (see `store.rs` for `AUTH_TEST_POSTGRES_URL`).

use std::collections::HashMap;
use std::sync::Arc;

use auth_issuer::TestIssuer;
use auth_provider::{KeySpec, ProviderStore, SigningKey};
use auth_store::SqlStore;
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{nanos}_{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Fresh database URLs: an SQLite file, and a PostgreSQL database when configured.
async fn databases() -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("auth-provider-store-{}", unique()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut out = vec![format!("sqlite:{}", dir.join("provider.db").display())];
    match std::env::var("AUTH_TEST_POSTGRES_URL") {
        Ok(admin) if !admin.is_empty() => {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("the configured PostgreSQL server answers");
            let name = format!("auth_provider_{}", unique());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
            out.push(format!("{base}/{name}"));
        }
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the PostgreSQL half: AUTH_TEST_POSTGRES_URL is not set"
            );
            eprintln!("\n*** auth-store: no AUTH_TEST_POSTGRES_URL: SKIPPING PostgreSQL ***\n");
        }
    }
    out
}

/// An issuer on `port` (0: any) over the database `url`, signing with `key`.
async fn issuer(url: &str, key: &SigningKey, port: u16) -> TestIssuer {
    let store = SqlStore::open(url).await.expect("open the store");
    TestIssuer::builder()
        .port(port)
        .signing_key(key.clone())
        .store(Arc::new(store) as Arc<dyn ProviderStore>)
        .dynamic_registration(None)
        .auto_login(Some("alice"))
        .start()
        .await
        .expect("start")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .expect("absolute")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The value of the hidden input `name` in an HTML page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect("the hidden input") + marker.len();
    let end = page[start..].find('"').expect("closing quote");
    page[start..start + end].replace("&amp;", "&")
}

async fn token(
    issuer: &TestIssuer,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http()
        .post(issuer.token_endpoint())
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .expect("token request")
}

#[tokio::test]
async fn a_flow_survives_restarts_of_the_provider_on_the_same_database() {
    let key = SigningKey::generate(KeySpec::P256, "persisted-1");
    for url in databases().await {
        let first = issuer(&url, &key, 0).await;
        let port = first.local_addr().port();
        // A client registers itself (RFC 7591).
        let registered: Value = http()
            .post(format!("{}/register", first.issuer()))
            .json(&json!({
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "scope": "openid email offline_access",
                "client_name": "Restart test",
            }))
            .send()
            .await
            .expect("register")
            .json()
            .await
            .expect("JSON");
        let id = registered["client_id"]
            .as_str()
            .expect("client_id")
            .to_owned();
        let secret = registered["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        // It asks for offline access with prompt=consent; the user approves on the consent
        // page.
        let challenge =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, VERIFIER.as_bytes()));
        let params = [
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email offline_access"),
            ("state", "s1"),
            ("nonce", "n1"),
            ("prompt", "consent"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let authorize =
            url::Url::parse_with_params(&first.authorization_endpoint(), params).expect("URL");
        let page = http().get(authorize).send().await.expect("authorize");
        assert_eq!(page.status(), 200, "{url}: the consent page");
        let page = page.text().await.expect("HTML");
        let consent_token = hidden(&page, "consent_token");
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.push(("consent_token", &consent_token));
        form.push(("consent", "approve"));
        let approved = http()
            .post(first.authorization_endpoint())
            .form(&form)
            .send()
            .await
            .expect("approve");
        assert_eq!(approved.status(), 303, "{url}");
        let callback = query_of(approved.headers()["location"].to_str().expect("ASCII"));
        let code = callback["code"].clone();
        assert_eq!(callback["iss"], first.issuer());

        // Restart between the authorization and the token request.
        first.shutdown().await;
        let second = issuer(&url, &key, port).await;
        let tokens: Value = token(
            &second,
            &id,
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
        .json()
        .await
        .expect("JSON");
        let first_refresh = tokens["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_owned();
        assert!(tokens["id_token"].is_string(), "{url}: {tokens}");
        assert_eq!(
            second
                .provider()
                .authorized_apps("alice")
                .await
                .expect("apps")
                .len(),
            1
        );

        // Restart between two refreshes.
        second.shutdown().await;
        let third = issuer(&url, &key, port).await;
        let refreshed: Value = token(
            &third,
            &id,
            &secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &first_refresh),
            ],
        )
        .await
        .json()
        .await
        .expect("JSON");
        let access = refreshed["access_token"]
            .as_str()
            .expect("access token")
            .to_owned();
        assert_ne!(
            refreshed["refresh_token"],
            first_refresh.as_str(),
            "{url}: rotated"
        );
        let me = http()
            .get(third.userinfo_endpoint())
            .bearer_auth(&access)
            .send()
            .await
            .expect("userinfo");
        assert_eq!(me.status(), 200, "{url}");
        let me: Value = me.json().await.expect("JSON");
        assert_eq!(me["email"], "alice@example.com");

        // The rotated token again: the whole family is revoked, access token included.
        let reused = token(
            &third,
            &id,
            &secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &first_refresh),
            ],
        )
        .await;
        assert_eq!(reused.status(), 400, "{url}");
        let me = http()
            .get(third.userinfo_endpoint())
            .bearer_auth(&access)
            .send()
            .await
            .expect("userinfo");
        assert_eq!(me.status(), 401, "{url}: revoked with its family");
        // The code again: still recognised as used.
        let replayed = token(
            &third,
            &id,
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(replayed.status(), 400, "{url}");
        let body: Value = replayed.json().await.expect("JSON");
        assert_eq!(body["error"], "invalid_grant");
        // The store holds hashes only.
        assert!(!format!("{third:?}").contains(&secret));
        third.shutdown().await;
    }
}

#[tokio::test]
async fn the_store_keeps_no_secret_in_clear() {
    for url in databases().await {
        let store = SqlStore::open(&url).await.expect("open");
        let provider = auth_provider::Provider::builder("http://127.0.0.1:1")
            .key(SigningKey::generate(KeySpec::P256, "k"))
            .users(NoUsers)
            .secret_hash_iterations(1_000)
            .store(Arc::new(store.clone()))
            .client(auth_provider::Client::confidential(
                "web",
                "hunter2-hunter2",
            ))
            .build()
            .await
            .expect("build");
        let stored = store.client("web").await.expect("read").expect("there");
        let hash = stored.secret_hash().expect("hashed");
        assert!(hash.as_str().starts_with("pbkdf2-sha256$1000$"), "{url}");
        assert!(!hash.as_str().contains("hunter2"));
        drop(provider);
    }
}

#[derive(Debug)]
struct NoUsers;

impl auth_provider::Users for NoUsers {
    fn authenticate<'a>(
        &'a self,
        _: &'a auth_provider::AuthorizeContext<'a>,
    ) -> auth_provider::BoxFuture<'a, auth_provider::Authentication> {
        Box::pin(async { auth_provider::Authentication::Denied("no users".into()) })
    }

    fn claims<'a>(
        &'a self,
        _: &'a str,
    ) -> auth_provider::BoxFuture<
        'a,
        Result<Option<auth_provider::UserClaims>, auth_provider::StoreError>,
    > {
        Box::pin(async { Ok(None) })
    }
}

/// A DPoP proof of `key` for a token request to `issuer`.
fn token_proof(key: &auth_core::ClientKey, issuer: &TestIssuer) -> String {
    key.dpop_proof("POST", &issuer.token_endpoint(), None, None)
        .expect("a DPoP proof")
}

/// A public client's token request with an optional DPoP proof: status and body.
async fn public_token(
    issuer: &TestIssuer,
    form: &[(&str, &str)],
    proof: Option<String>,
) -> (u16, Value) {
    let mut form = form.to_vec();
    form.push(("client_id", "spa"));
    let mut request = http().post(issuer.token_endpoint()).form(&form);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let response = request.send().await.expect("token request");
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A code for `spa`, signed in as alice, with `extra` authorization parameters.
async fn spa_code(issuer: &TestIssuer, extra: &[(&str, &str)]) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, VERIFIER.as_bytes()));
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", "spa"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid offline_access"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let authorize =
        url::Url::parse_with_params(&issuer.authorization_endpoint(), params).expect("URL");
    let response = http().get(authorize).send().await.expect("authorize");
    assert_eq!(response.status(), 302);
    query_of(response.headers()["location"].to_str().expect("ASCII"))["code"].clone()
}

#[tokio::test]
async fn dpop_bindings_and_acr_survive_a_restart() {
    let key = SigningKey::generate(KeySpec::P256, "persisted-2");
    let dpop = auth_core::ClientKey::generate(auth_core::Algorithm::ES256).expect("a key");
    let other = auth_core::ClientKey::generate(auth_core::Algorithm::ES256).expect("a key");
    for url in databases().await {
        let first = issuer(&url, &key, 0).await;
        let port = first.local_addr().port();
        first
            .provider()
            .register_client(
                auth_provider::Client::public("spa")
                    .redirect_uri(REDIRECT)
                    .first_party(true),
            )
            .await
            .expect("register spa");
        // A code pinned to a key (dpop_jkt), and one for a step-up sign-in.
        let jkt = dpop.thumbprint();
        let pinned = spa_code(&first, &[("dpop_jkt", &jkt)]).await;
        let code = spa_code(&first, &[("acr_values", "urn:example:mfa")]).await;

        first.shutdown().await;
        let second = issuer(&url, &key, port).await;
        let redeem = |code: &str| {
            [
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ]
            .map(|(n, v)| (n, v.to_owned()))
        };
        let form = redeem(&pinned);
        let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, body) = public_token(&second, &form, Some(token_proof(&other, &second))).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{url}: the code remembers its dpop_jkt"
        );
        let form = redeem(&code);
        let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, tokens) =
            public_token(&second, &form, Some(token_proof(&dpop, &second))).await;
        assert_eq!(status, 200, "{url}: {tokens}");
        assert_eq!(tokens["token_type"], "DPoP");
        let refresh = tokens["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_owned();

        second.shutdown().await;
        let third = issuer(&url, &key, port).await;
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        let (status, body) = public_token(&third, &form, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{url}: the refresh token stays bound"
        );
        let (status, refreshed) =
            public_token(&third, &form, Some(token_proof(&dpop, &third))).await;
        assert_eq!(status, 200, "{url}: {refreshed}");
        let id_token = refreshed["id_token"].as_str().expect("an ID token");
        let payload = id_token.split('.').nth(1).expect("payload");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("JSON");
        assert_eq!(claims["acr"], "urn:example:mfa", "{url}: the acr is stored");
        third.shutdown().await;
    }
}
