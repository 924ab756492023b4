use auth_issuer::{KeyOptions, KeySpec, TestIssuer};
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use serde_json::{Value, json};

use crate::{b64, decode, get, get_json};

fn key<'a>(jwks: &'a Value, kid: &str) -> &'a Value {
    jwks["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("no {kid} in {jwks}"))
}

#[tokio::test]
async fn default_jwks_has_rsa_ec_and_okp_keys() {
    let issuer = TestIssuer::start().await;
    let response = get(&issuer.jwks_uri()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().get("cache-control").is_none());
    let jwks: Value = response.json().await.expect("JSON");
    assert_eq!(issuer.kids(), ["rsa-1", "ec-1", "ed-1"]);
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(kids, ["rsa-1", "ec-1", "ed-1"]);
    assert_eq!(jwks, issuer.jwks());

    let rsa = key(&jwks, "rsa-1");
    assert_eq!(rsa["kty"], "RSA");
    assert_eq!(rsa["alg"], "RS256");
    assert_eq!(rsa["use"], "sig");
    let n = b64(rsa["n"].as_str().expect("n"));
    assert_eq!(n.len(), 256, "2048-bit modulus");
    assert_ne!(n[0], 0, "no leading zero");
    assert_eq!(b64(rsa["e"].as_str().expect("e")), [1, 0, 1]);
    assert!(
        rsa.get("d").is_none() && rsa.get("p").is_none(),
        "no private members"
    );

    let ec = key(&jwks, "ec-1");
    assert_eq!(ec["kty"], "EC");
    assert_eq!(ec["crv"], "P-256");
    assert_eq!(ec["alg"], "ES256");
    assert_eq!(b64(ec["x"].as_str().expect("x")).len(), 32);
    assert_eq!(b64(ec["y"].as_str().expect("y")).len(), 32);
    assert!(ec.get("d").is_none());

    let ed = key(&jwks, "ed-1");
    assert_eq!(ed["kty"], "OKP");
    assert_eq!(ed["crv"], "Ed25519");
    assert_eq!(ed["alg"], "EdDSA");
    assert_eq!(b64(ed["x"].as_str().expect("x")).len(), 32);
    assert!(ed.get("d").is_none());

    for kid in ["rsa-1", "ec-1", "ed-1"] {
        assert_eq!(&issuer.public_jwk(kid), key(&jwks, kid));
    }
}

#[tokio::test]
async fn other_key_sizes_and_curves() {
    let issuer = TestIssuer::builder()
        .keys(vec![KeySpec::P384, KeySpec::Rsa3072, KeySpec::P256])
        .start()
        .await
        .expect("start");
    assert_eq!(issuer.kids(), ["ec-1", "rsa-1", "ec-2"]);
    assert_eq!(issuer.default_kid(), "ec-1");
    let jwks = get_json(&issuer.jwks_uri()).await;
    let p384 = key(&jwks, "ec-1");
    assert_eq!(p384["crv"], "P-384");
    assert_eq!(p384["alg"], "ES384");
    assert_eq!(b64(p384["x"].as_str().expect("x")).len(), 48);
    assert_eq!(b64(p384["y"].as_str().expect("y")).len(), 48);
    let rsa = key(&jwks, "rsa-1");
    assert_eq!(b64(rsa["n"].as_str().expect("n")).len(), 384);
    assert_eq!(key(&jwks, "ec-2")["crv"], "P-256");
}

#[tokio::test]
async fn key_options_shape_the_jwk() {
    let issuer = TestIssuer::builder()
        .key_with(
            KeySpec::Rsa2048,
            KeyOptions::new()
                .kid("bare")
                .alg_in_jwk(false)
                .use_sig(false),
        )
        .key_with(KeySpec::Rsa2048, KeyOptions::new().alg("PS256"))
        .start()
        .await
        .expect("start");
    assert_eq!(issuer.kids(), ["bare", "rsa-1"]);
    let bare = issuer.public_jwk("bare");
    assert!(
        bare.get("alg").is_none() && bare.get("use").is_none(),
        "{bare}"
    );
    assert_eq!(bare["kid"], "bare");
    let pss = issuer.public_jwk("rsa-1");
    assert_eq!(pss["alg"], "PS256");
    // Two RSA keys in one issuer are distinct.
    assert_ne!(bare["n"], pss["n"]);

    let token = issuer.token().key("rsa-1").sign();
    assert_eq!(decode(&token).header["alg"], "PS256");
    assert!(crate::verify_with_jwk(&pss, "PS256", &token));
}

#[tokio::test]
async fn bad_key_options_are_start_errors() {
    let wrong_alg = TestIssuer::builder()
        .key_with(KeySpec::P256, KeyOptions::new().alg("RS256"))
        .start()
        .await;
    assert_eq!(
        wrong_alg.expect_err("ES key with RS256").kind(),
        std::io::ErrorKind::InvalidInput
    );
    let duplicate = TestIssuer::builder()
        .key_with(KeySpec::P256, KeyOptions::new().kid("k"))
        .key_with(KeySpec::Ed25519, KeyOptions::new().kid("k"))
        .start()
        .await;
    assert!(duplicate.is_err());
    let none = TestIssuer::builder().keys(Vec::new()).start().await;
    assert!(none.is_err());
}

#[tokio::test]
async fn default_key_material_is_shared_between_issuers() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    assert_eq!(a.public_jwk("rsa-1"), b.public_jwk("rsa-1"));
    assert_ne!(a.issuer(), b.issuer());
}

#[tokio::test]
async fn extra_keys_are_appended_verbatim() {
    let issuer = TestIssuer::start().await;
    let weak = json!({"kty": "RSA", "kid": "weak", "n": "AQAB", "e": "AQAB", "alg": "RS256"});
    let enc = json!({"kty": "EC", "kid": "enc", "use": "enc", "crv": "P-256", "x": "x", "y": "y"});
    let oct = json!({"kty": "oct", "kid": "rsa-1", "k": "c2VjcmV0"});
    issuer.set_jwks_extra_keys(vec![weak.clone(), enc.clone(), oct.clone()]);
    let jwks = get_json(&issuer.jwks_uri()).await;
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 6);
    assert_eq!(keys[3..], [weak, enc, oct]);
    // Extras are not the issuer's own keys.
    assert_eq!(issuer.kids(), ["rsa-1", "ec-1", "ed-1"]);

    issuer.set_jwks_extra_keys(Vec::new());
    assert_eq!(
        get_json(&issuer.jwks_uri()).await["keys"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[tokio::test]
async fn cache_control_header() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_cache_control(Some("public, max-age=60".to_owned()));
    let response = get(&issuer.jwks_uri()).await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    // Only on the JWKS.
    let response = get(&issuer.discovery_url()).await;
    assert!(response.headers().get("cache-control").is_none());

    issuer.set_jwks_cache_control(None);
    let response = get(&issuer.jwks_uri()).await;
    assert!(response.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn spki_der_and_pem_export() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().sign();
    let jws = decode(&token);
    let der = issuer.public_key_spki_der("rsa-1");
    assert_eq!(der[0], 0x30, "DER SEQUENCE");
    assert!(
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der)
            .verify(jws.signing_input.as_bytes(), &jws.signature)
            .is_ok()
    );

    let pem = issuer.public_key_pem("rsa-1");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    assert!(pem.ends_with("-----END PUBLIC KEY-----\n"), "{pem}");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(pem.lines().all(|l| l.len() <= 64));
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64"),
        der
    );

    for kid in ["ec-1", "ed-1"] {
        let der = issuer.public_key_spki_der(kid);
        assert_eq!(der[0], 0x30);
        assert!(issuer.public_key_pem(kid).contains("BEGIN PUBLIC KEY"));
    }
    let token = issuer.token().key("ec-1").sign();
    let jws = decode(&token);
    assert!(
        UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            issuer.public_key_spki_der("ec-1")
        )
        .verify(jws.signing_input.as_bytes(), &jws.signature)
        .is_ok()
    );
}
