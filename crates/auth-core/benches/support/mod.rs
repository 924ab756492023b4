//! Shared by the `verify` benchmark, the `verify_loop` harness and the side-by-side benchmark
//! (`bench/`, which includes this file): the same token and the same raw aws-lc-rs key, so that
//! every measurement compares the same bytes.

use auth_issuer::TestIssuer;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The raw aws-lc-rs key for a published JWK, parsed once: the baseline's key.
#[allow(
    dead_code,
    reason = "the token_cache bench does not compare with the raw check"
)]
pub(crate) fn raw_key(jwk: &serde_json::Value, alg: &str) -> ParsedPublicKey {
    let field = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect("member"))
            .expect("b64")
    };
    match alg {
        "ES256" => {
            let mut point = vec![4];
            point.extend(field("x"));
            point.extend(field("y"));
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).expect("ec")
        }
        "EdDSA" => ParsedPublicKey::new(&signature::ED25519, field("x")).expect("ed25519"),
        _ => RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .expect("rsa"),
    }
}

/// An RFC 9068-shaped token with ~10 claims, like the research baseline's tokens.
pub(crate) fn realistic_token(issuer: &TestIssuer, kid: &str) -> String {
    issuer
        .token()
        .key(kid)
        .sub("248289761001")
        .claim("client_id", "s6BhdRkqt3")
        .scope("openid profile email")
        .roles(&["admin", "editor", "viewer"])
        // An hour: the side-by-side benchmark (bench/) runs longer than the default 5 minutes.
        .expires_in(3600)
        .sign()
}

/// The issuer key id for an algorithm name.
pub(crate) fn kid_for(alg: &str) -> &'static str {
    match alg {
        "ES256" => "ec-1",
        "EdDSA" => "ed-1",
        _ => "rsa-1",
    }
}

/// An application's claims type, as `Auth<AppClaims>` would read it from `realistic_token`.
#[derive(Clone, serde::Deserialize)]
#[allow(dead_code, reason = "read by serde only; not every includer uses it")]
pub(crate) struct AppClaims {
    client_id: String,
    roles: Vec<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    tenant_id: Option<String>,
}
