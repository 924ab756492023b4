//! Wycheproof primitive vectors (ECDSA P-256 P1363, RSA PKCS#1 v1.5, RSA-PSS, Ed25519) through our
//! own key import (JWK → parsed key) and signature check, with the JWS layer's length rule.
#![cfg(test)]

use serde_json::Value;

use crate::alg::Algorithm;
use crate::jwk::KeySet;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}

fn run(file: &str, alg: Algorithm, min_cases: usize) {
    let path = format!(
        "{}/tests/data/wycheproof/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
        .unwrap_or_default();
    let mut checked = 0;
    let mut failures = Vec::new();
    for group in data["testGroups"].as_array().into_iter().flatten() {
        let mut jwk = match group.get("publicKeyJwk").or_else(|| group.get("keyJwk")) {
            Some(jwk) => jwk.clone(),
            // Edge-case EC keys come only as an uncompressed point: 04 || x || y.
            None => {
                let point = hex(group["publicKey"]["uncompressed"]
                    .as_str()
                    .unwrap_or_default());
                let half = (point.len() - 1) / 2;
                let b64 = |b: &[u8]| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
                };
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..=half]), "y": b64(&point[1 + half..])})
            }
        };
        jwk["kid"] = Value::from("k");
        let set = serde_json::json!({ "keys": [jwk] }).to_string();
        let keys = KeySet::from_jwks_json(set.as_bytes(), &[alg]).expect("set");
        let key = keys
            .find(Some("k"), alg)
            .unwrap_or_else(|m| panic!("{file}: key not usable: {m:?} {:?}", keys.skipped()));
        for case in group["tests"].as_array().into_iter().flatten() {
            let expected = match case["result"].as_str() {
                Some("valid") => true,
                Some("invalid") => false,
                _ => continue,
            };
            let msg = hex(case["msg"].as_str().unwrap_or_default());
            let sig = hex(case["sig"].as_str().unwrap_or_default());
            let length_ok = alg.fixed_signature_len().is_none_or(|n| n == sig.len());
            let accepted = length_ok && key.verify_sig(&msg, &sig).is_ok();
            checked += 1;
            if accepted != expected {
                failures.push(format!("tcId {}: expected {expected}", case["tcId"]));
            }
        }
    }
    assert!(failures.is_empty(), "{file}: {failures:?}");
    assert!(checked >= min_cases, "{file}: only {checked} cases");
}

#[test]
fn ecdsa_p256_p1363() {
    run(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        Algorithm::ES256,
        200,
    );
}

#[test]
fn rsa_pkcs1_2048_sha256() {
    run("rsa_signature_2048_sha256_test.json", Algorithm::RS256, 200);
}

#[test]
fn rsa_pss_2048_sha256() {
    run(
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        Algorithm::PS256,
        80,
    );
}

#[test]
fn ed25519() {
    run("ed25519_test.json", Algorithm::EdDSA, 140);
}
