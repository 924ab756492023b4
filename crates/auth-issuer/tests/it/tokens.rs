use auth_issuer::{KeySpec, TestIssuer};
use aws_lc_rs::hmac;
use serde_json::json;

use crate::{b64, decode, verify_with_jwk};

fn now() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(elapsed.as_secs()).expect("fits")
}

#[tokio::test]
async fn default_token_structure() {
    let issuer = TestIssuer::start().await;
    let before = now();
    let token = issuer.token().sign();
    let jws = decode(&token);
    assert_eq!(
        jws.header,
        json!({"alg": "RS256", "typ": "at+jwt", "kid": "rsa-1"})
    );
    let claims = &jws.claims;
    assert_eq!(claims["iss"], issuer.issuer());
    assert_eq!(claims["sub"], "test-user");
    assert_eq!(claims["aud"], "test-api");
    assert_eq!(claims["client_id"], "test-client");
    assert_eq!(claims["scope"], "openid profile");
    let iat = claims["iat"].as_i64().expect("iat");
    assert!((before..=now()).contains(&iat));
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert_eq!(claims["exp"].as_i64(), Some(iat + 300));
    let jti = claims["jti"].as_str().expect("jti");
    assert_eq!(jti.len(), 32);
    assert!(jti.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(decode(&issuer.token().sign()).claims["jti"], claims["jti"]);
    assert_eq!(jws.signature.len(), 256);
    assert!(verify_with_jwk(
        &issuer.public_jwk("rsa-1"),
        "RS256",
        &token
    ));
}

#[tokio::test]
async fn builder_audience_is_the_default_aud() {
    let issuer = TestIssuer::builder()
        .audience("orders")
        .start()
        .await
        .expect("start");
    assert_eq!(issuer.audience(), "orders");
    assert_eq!(decode(&issuer.token().sign()).claims["aud"], "orders");
}

#[tokio::test]
async fn es256_signature_is_raw_r_s() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().key("ec-1").sign();
    let jws = decode(&token);
    assert_eq!(jws.header["alg"], "ES256");
    assert_eq!(jws.header["kid"], "ec-1");
    assert_eq!(jws.signature.len(), 64);
    assert!(verify_with_jwk(&issuer.public_jwk("ec-1"), "ES256", &token));
}

#[tokio::test]
async fn eddsa_signature() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().key("ed-1").sign();
    let jws = decode(&token);
    assert_eq!(jws.header["alg"], "EdDSA");
    assert_eq!(jws.signature.len(), 64);
    assert!(verify_with_jwk(&issuer.public_jwk("ed-1"), "EdDSA", &token));
}

#[tokio::test]
async fn es384_signature() {
    let issuer = TestIssuer::start().await;
    let kid = issuer.add_key(KeySpec::P384);
    let token = issuer.token().key(&kid).sign();
    let jws = decode(&token);
    assert_eq!(jws.header["alg"], "ES384");
    assert_eq!(jws.signature.len(), 96);
    assert!(verify_with_jwk(&issuer.public_jwk(&kid), "ES384", &token));
}

#[tokio::test]
async fn rsa_keys_sign_every_rsa_algorithm() {
    let issuer = TestIssuer::start().await;
    let jwk = issuer.public_jwk("rsa-1");
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let token = issuer.token().signing_alg(alg).sign();
        assert_eq!(decode(&token).header["alg"], alg);
        assert!(verify_with_jwk(&jwk, alg, &token), "{alg}");
    }
    // PS256 is not RS256.
    let pss = issuer.token().signing_alg("PS256").sign();
    assert!(!verify_with_jwk(&jwk, "RS256", &pss));
}

#[tokio::test]
#[should_panic(expected = "cannot sign with PS256")]
async fn signing_alg_must_suit_the_key() {
    let issuer = TestIssuer::start().await;
    let _ = issuer.token().key("ec-1").signing_alg("PS256").sign();
}

#[tokio::test]
async fn claim_knobs() {
    let issuer = TestIssuer::start().await;
    let token = issuer
        .token()
        .sub("alice")
        .aud(vec!["a", "b"])
        .scope("read write")
        .roles(&["admin", "ops"])
        .claim("tenant", "t1")
        .claim("nested", json!({"x": [1, 2]}))
        .remove_claim("client_id")
        .exp(100)
        .nbf(50)
        .iat(40)
        .sign();
    let claims = decode(&token).claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], json!(["a", "b"]));
    assert_eq!(claims["scope"], "read write");
    assert_eq!(claims["roles"], json!(["admin", "ops"]));
    assert_eq!(claims["tenant"], "t1");
    assert_eq!(claims["nested"], json!({"x": [1, 2]}));
    assert!(claims.get("client_id").is_none());
    assert_eq!(claims["exp"], 100);
    assert_eq!(claims["nbf"], 50);
    assert_eq!(claims["iat"], 40);
}

#[tokio::test]
async fn expires_in_is_relative_and_may_be_negative() {
    let issuer = TestIssuer::start().await;
    let builder = issuer.token().expires_in(-60);
    let claims = builder.claims_json();
    assert_eq!(
        claims["exp"].as_i64(),
        claims["iat"].as_i64().map(|iat| iat - 60)
    );
    let claims = issuer.token().claim("exp", "tomorrow").claims_json();
    assert_eq!(claims["exp"], "tomorrow");
}

#[tokio::test]
async fn header_knobs() {
    let issuer = TestIssuer::start().await;
    let header = decode(&issuer.token().kid(None).typ(None).sign()).header;
    assert_eq!(header, json!({"alg": "RS256"}));

    let header = decode(&issuer.token().kid(Some("ghost")).typ(Some("JWT")).sign()).header;
    assert_eq!(header["kid"], "ghost");
    assert_eq!(header["typ"], "JWT");

    let header = decode(
        &issuer
            .token()
            .header("crit", json!(["exp"]))
            .header("jku", "https://evil.example/jwks")
            .remove_header("typ")
            .sign(),
    )
    .header;
    assert_eq!(header["crit"], json!(["exp"]));
    assert_eq!(header["jku"], "https://evil.example/jwks");
    assert!(header.get("typ").is_none());

    let header = issuer.token().remove_header("alg").header_json();
    assert!(header.get("alg").is_none());
}

#[tokio::test]
async fn alg_override_changes_the_header_not_the_signature() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().alg("ES256").sign();
    assert_eq!(decode(&token).header["alg"], "ES256");
    assert!(verify_with_jwk(
        &issuer.public_jwk("rsa-1"),
        "RS256",
        &token
    ));

    // An explicit alg and kid survive a later key change.
    let token = issuer
        .token()
        .alg("RS256")
        .kid(Some("x"))
        .key("ed-1")
        .sign();
    let jws = decode(&token);
    assert_eq!(jws.header["alg"], "RS256");
    assert_eq!(jws.header["kid"], "x");
    assert!(verify_with_jwk(&issuer.public_jwk("ed-1"), "EdDSA", &token));
}

#[tokio::test]
async fn hmac_key_confusion_tokens() {
    let issuer = TestIssuer::start().await;
    let pem = issuer.public_key_pem("rsa-1");
    let token = issuer.token().sign_hs256_with(pem.as_bytes());
    let jws = decode(&token);
    assert_eq!(jws.header["alg"], "HS256");
    assert_eq!(jws.header["kid"], "rsa-1");
    let key = hmac::Key::new(hmac::HMAC_SHA256, pem.as_bytes());
    assert!(hmac::verify(&key, jws.signing_input.as_bytes(), &jws.signature).is_ok());

    for (alg, algorithm) in [("HS384", hmac::HMAC_SHA384), ("HS512", hmac::HMAC_SHA512)] {
        let token = issuer.token().sign_hmac(alg, b"secret");
        let jws = decode(&token);
        assert_eq!(jws.header["alg"], alg);
        let key = hmac::Key::new(algorithm, b"secret");
        assert!(hmac::verify(&key, jws.signing_input.as_bytes(), &jws.signature).is_ok());
    }
}

#[tokio::test]
async fn unsigned_token() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().unsigned();
    assert!(token.ends_with('.'));
    let jws = decode(&token);
    assert_eq!(jws.header["alg"], "none");
    assert!(jws.signature.is_empty());
    assert_eq!(jws.claims["sub"], "test-user");
}

#[tokio::test]
async fn sign_raw_signs_exactly_the_bytes() {
    let issuer = TestIssuer::start().await;
    let header = br#"{"alg":"RS256","kid":"rsa-1","kid":"other"}"#;
    let payload = br#"{"sub":"a","exp":"soon"}"#;
    let token = issuer.sign_raw("rsa-1", header, payload);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(b64(parts[0]), header);
    assert_eq!(b64(parts[1]), payload);
    assert!(verify_with_jwk(
        &issuer.public_jwk("rsa-1"),
        "RS256",
        &token
    ));

    let token = issuer.sign_raw("ed-1", b"{}", b"not json");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(b64(parts[1]), b"not json");
}

#[tokio::test]
async fn getters_show_what_will_be_signed() {
    let issuer = TestIssuer::start().await;
    let builder = issuer.token().sub("bob").key("ec-1");
    let header = builder.header_json();
    let claims = builder.claims_json();
    let jws = decode(&builder.sign());
    assert_eq!(jws.header, header);
    assert_eq!(jws.claims, claims);
}

#[tokio::test]
async fn tokens_verify_against_the_served_jwks() {
    let issuer = TestIssuer::start().await;
    let jwks = crate::get_json(&issuer.jwks_uri()).await;
    for (kid, alg) in [("rsa-1", "RS256"), ("ec-1", "ES256"), ("ed-1", "EdDSA")] {
        let token = issuer.token().key(kid).sign();
        let jwk = jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == kid)
            .expect("published");
        assert_eq!(jwk["alg"], alg);
        assert!(verify_with_jwk(jwk, alg, &token), "{kid}");
        // A tampered payload does not verify.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = crate::b64_encode(br#"{"sub":"mallory"}"#);
        assert!(!verify_with_jwk(jwk, alg, &parts.join(".")), "{kid}");
    }
}
