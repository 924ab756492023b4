//! `private_key_jwt` (RFC 7523): assertions signed here with aws-lc-rs, checked by the issuer.

use auth_issuer::{TestClient, TestIssuer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::b64_encode;
use crate::oauth::{error_of, token_request};

const ID: &str = "key-client";
const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

struct Client {
    key: EcdsaKeyPair,
}

impl Client {
    fn new() -> Self {
        Self {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key"),
        }
    }

    fn jwk(&self) -> Value {
        let point = self.key.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256", "kid": "k1",
            "x": b64_encode(&point[1..33]), "y": b64_encode(&point[33..65]),
        })
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64_encode(header.to_string().as_bytes()),
            b64_encode(claims.to_string().as_bytes())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign");
        format!("{input}.{}", b64_encode(signature.as_ref()))
    }

    fn assertion(&self, issuer: &TestIssuer, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = json!({
            "iss": ID, "sub": ID, "aud": issuer.token_endpoint(),
            "jti": format!("{}", now() as u128 * 1000 + u128::from(rand_u16())),
            "iat": now(), "exp": now() + 60,
        });
        edit(&mut claims);
        self.sign(&json!({"alg": "ES256", "kid": "k1"}), &claims)
    }
}

fn rand_u16() -> u16 {
    let mut b = [0u8; 2];
    aws_lc_rs::rand::fill(&mut b).expect("rand");
    u16::from_le_bytes(b)
}

async fn exchange(issuer: &TestIssuer, assertion: &str) -> reqwest::Response {
    token_request(
        issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", TYPE),
            ("client_assertion", assertion),
        ],
        None,
    )
    .await
}

async fn setup() -> (TestIssuer, Client) {
    let client = Client::new();
    let issuer = TestIssuer::builder()
        .client(TestClient::private_key_jwt(ID, client.jwk()))
        .start()
        .await
        .expect("issuer");
    (issuer, client)
}

#[tokio::test]
async fn a_valid_assertion_authenticates_once() {
    let (issuer, client) = setup().await;
    let assertion = client.assertion(&issuer, |_| {});
    let response = exchange(&issuer, &assertion).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert!(body["access_token"].is_string());
    // The same assertion again: its jti was used.
    assert_eq!(
        error_of(exchange(&issuer, &assertion).await).await,
        (401, "invalid_client".into())
    );
    // The issuer identifier as the audience is accepted too.
    let to_issuer = client.assertion(&issuer, |c| c["aud"] = issuer.issuer().into());
    assert_eq!(exchange(&issuer, &to_issuer).await.status(), 200);
    let discovery: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        issuer.issuer()
    ))
    .await
    .expect("discovery")
    .json()
    .await
    .expect("json");
    assert!(
        discovery["token_endpoint_auth_methods_supported"]
            .as_array()
            .expect("methods")
            .iter()
            .any(|m| m == "private_key_jwt")
    );
}

#[tokio::test]
async fn bad_assertions_are_invalid_client() {
    let (issuer, client) = setup().await;
    let other = Client::new();
    let cases: Vec<(&str, String)> = vec![
        ("another audience", client.assertion(&issuer, |c| c["aud"] = "https://elsewhere.example/token".into())),
        ("expired", client.assertion(&issuer, |c| c["exp"] = (now() - 120).into())),
        ("no exp", client.assertion(&issuer, |c| { c.as_object_mut().map(|o| o.remove("exp")); })),
        ("no jti", client.assertion(&issuer, |c| { c.as_object_mut().map(|o| o.remove("jti")); })),
        ("valid for a day", client.assertion(&issuer, |c| c["exp"] = (now() + 86_400).into())),
        ("iss differs from sub", client.assertion(&issuer, |c| c["iss"] = "someone-else".into())),
        ("signed by another key", other.assertion(&issuer, |_| {})),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64_encode(br#"{"alg":"none"}"#),
                b64_encode(json!({"iss": ID, "sub": ID, "aud": issuer.token_endpoint(), "jti": "x", "exp": now() + 60}).to_string().as_bytes())
            ),
        ),
        ("not a JWT", "garbage".to_owned()),
    ];
    for (case, assertion) in cases {
        assert_eq!(
            error_of(exchange(&issuer, &assertion).await).await,
            (401, "invalid_client".into()),
            "{case}"
        );
    }
    // A wrong assertion type, and an assertion next to a secret.
    let wrong_type = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:example:other"),
            ("client_assertion", &client.assertion(&issuer, |_| {})),
        ],
        None,
    )
    .await;
    assert_eq!(error_of(wrong_type).await, (401, "invalid_client".into()));
    let both = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", TYPE),
            ("client_assertion", &client.assertion(&issuer, |_| {})),
        ],
        Some((ID, "a-secret")),
    )
    .await;
    assert_eq!(error_of(both).await, (400, "invalid_request".into()));
    // A private_key_jwt client cannot authenticate with only its id.
    let bare = token_request(
        &issuer,
        &[("grant_type", "client_credentials"), ("client_id", ID)],
        None,
    )
    .await;
    assert_eq!(error_of(bare).await, (401, "invalid_client".into()));
}
