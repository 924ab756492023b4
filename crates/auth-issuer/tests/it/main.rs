//! Integration tests: a real `TestIssuer` over real HTTP.

mod assertion;
mod authorize;
mod counters;
mod dev_mint;
mod discovery;
mod dpop_acr;
mod faults;
mod jwks;
mod lifecycle;
mod logout;
mod oauth;
mod refresh;
mod revoke;
mod rotation;
mod token_flow;
mod tokens;
mod userinfo;

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Decodes base64url without padding, panicking on bad input.
pub(crate) fn b64(data: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(data).expect("base64url")
}

/// A compact JWS split into its parts.
#[derive(Debug)]
pub(crate) struct Jws {
    pub(crate) header: Value,
    pub(crate) claims: Value,
    pub(crate) signing_input: String,
    pub(crate) signature: Vec<u8>,
}

pub(crate) fn decode(token: &str) -> Jws {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS has three parts: {token}");
    Jws {
        header: serde_json::from_slice(&b64(parts[0])).expect("header JSON"),
        claims: serde_json::from_slice(&b64(parts[1])).expect("claims JSON"),
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: b64(parts[2]),
    }
}

/// Verifies `token`'s signature with a public JWK the way a verifier would: from the JWK
/// members alone, with the algorithm given.
pub(crate) fn verify_with_jwk(jwk: &Value, alg: &str, token: &str) -> bool {
    let jws = decode(token);
    let message = jws.signing_input.as_bytes();
    let member = |name: &str| b64(jwk[name].as_str().expect("JWK member"));
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => {
            let params: &'static signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let key = RsaPublicKeyComponents {
                n: member("n"),
                e: member("e"),
            };
            key.verify(params, message, &jws.signature).is_ok()
        }
        "ES256" | "ES384" => {
            let algorithm = if alg == "ES256" {
                &signature::ECDSA_P256_SHA256_FIXED
            } else {
                &signature::ECDSA_P384_SHA384_FIXED
            };
            let mut point = vec![0x04];
            point.extend(member("x"));
            point.extend(member("y"));
            UnparsedPublicKey::new(algorithm, point)
                .verify(message, &jws.signature)
                .is_ok()
        }
        "EdDSA" => UnparsedPublicKey::new(&signature::ED25519, member("x"))
            .verify(message, &jws.signature)
            .is_ok(),
        other => panic!("no verifier for {other}"),
    }
}

pub(crate) async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("request")
}

pub(crate) async fn get_json(url: &str) -> Value {
    let response = get(url).await;
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.expect("JSON body")
}

/// Encodes base64url without padding.
pub(crate) fn b64_encode(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}
