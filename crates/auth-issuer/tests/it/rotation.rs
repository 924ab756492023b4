use auth_issuer::{KeyOptions, KeySpec, TestIssuer};
use serde_json::Value;

use crate::{decode, get_json, verify_with_jwk};

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

#[tokio::test]
async fn add_key_publishes_without_changing_the_default() {
    let issuer = TestIssuer::start().await;
    let kid = issuer.add_key(KeySpec::Rsa2048);
    assert_eq!(kid, "rsa-2");
    assert_eq!(issuer.kids(), ["rsa-1", "ec-1", "ed-1", "rsa-2"]);
    assert_eq!(kids(&get_json(&issuer.jwks_uri()).await), issuer.kids());
    assert_eq!(issuer.default_kid(), "rsa-1");
    assert_eq!(decode(&issuer.token().sign()).header["kid"], "rsa-1");
    // A fresh key, not the pooled default material.
    assert_ne!(
        issuer.public_jwk("rsa-2")["n"],
        issuer.public_jwk("rsa-1")["n"]
    );

    let named = issuer.add_key_with(KeySpec::Ed25519, KeyOptions::new().kid("next"));
    assert_eq!(named, "next");
    assert_eq!(issuer.add_key(KeySpec::P256), "ec-2");
}

#[tokio::test]
#[should_panic(expected = "already exists")]
async fn duplicate_kid_panics() {
    let issuer = TestIssuer::start().await;
    issuer.add_key_with(KeySpec::P256, KeyOptions::new().kid("ec-1"));
}

#[tokio::test]
#[should_panic(expected = "no key with kid")]
async fn unknown_kid_panics() {
    let issuer = TestIssuer::start().await;
    issuer.set_default_key("nope");
}

#[tokio::test]
async fn full_rotation() {
    let issuer = TestIssuer::start().await;
    let new = issuer.add_key(KeySpec::P256);

    issuer.set_default_key(&new);
    let token = issuer.token().sign();
    let jws = decode(&token);
    assert_eq!(jws.header["kid"], new.as_str());
    assert_eq!(jws.header["alg"], "ES256");
    let jwks = get_json(&issuer.jwks_uri()).await;
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == new.as_str())
        .expect("new key published");
    assert!(verify_with_jwk(jwk, "ES256", &token));

    // Retired: still published, not the signer.
    issuer.retire_key("rsa-1");
    assert!(issuer.kids().contains(&"rsa-1".to_owned()));
    assert_eq!(issuer.default_kid(), new);

    // Removed: gone from the JWKS, still usable for negative tests.
    issuer.remove_key("rsa-1");
    assert_eq!(issuer.kids(), ["ec-1", "ed-1", new.as_str()]);
    assert_eq!(kids(&get_json(&issuer.jwks_uri()).await), issuer.kids());
    let orphan = issuer.token().key("rsa-1").sign();
    assert_eq!(decode(&orphan).header["kid"], "rsa-1");
    assert!(verify_with_jwk(
        &issuer.public_jwk("rsa-1"),
        "RS256",
        &orphan
    ));
}

#[tokio::test]
async fn retiring_the_default_hands_over_to_the_newest_active_key() {
    let issuer = TestIssuer::start().await;
    issuer.retire_key("rsa-1");
    assert_eq!(issuer.default_kid(), "ed-1");
    issuer.remove_key("ed-1");
    assert_eq!(issuer.default_kid(), "ec-1");
    // Nothing else active: the default stays.
    issuer.retire_key("ec-1");
    assert_eq!(issuer.default_kid(), "ec-1");
    // Setting a retired key as default brings it back.
    issuer.set_default_key("rsa-1");
    assert_eq!(issuer.default_kid(), "rsa-1");
}

#[tokio::test]
async fn retiring_another_key_keeps_the_default() {
    let issuer = TestIssuer::start().await;
    issuer.retire_key("ec-1");
    issuer.remove_key("ed-1");
    assert_eq!(issuer.default_kid(), "rsa-1");
    assert_eq!(issuer.kids(), ["rsa-1", "ec-1"]);
}
