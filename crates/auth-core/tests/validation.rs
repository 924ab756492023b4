//! Token validation rules over real HTTP against auth-issuer: one small test per condition,
//! RFC 8725 attack classes included.

mod common;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use auth_core::{Algorithm, AuthConfig, ErrorCode, Verifier};
use auth_issuer::{KeyOptions, KeySpec, TestIssuer};
use common::*;
use serde_json::json;

// ---------------------------------------------------------------- accepted tokens

#[tokio::test]
async fn accepts_rs256_es256_and_eddsa() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    for kid in ["rsa-1", "ec-1", "ed-1"] {
        let token = issuer.token().key(kid).sub("alice").sign();
        let claims = verify(&v, &token)
            .await
            .unwrap_or_else(|e| panic!("{kid}: {e:?}"));
        assert_eq!(claims.sub.as_deref(), Some("alice"));
        assert_eq!(&*claims.iss, issuer.issuer());
        assert_eq!(claims.aud, [issuer.audience()]);
    }
}

#[tokio::test]
async fn accepts_every_rsa_algorithm_and_es384() {
    let issuer = TestIssuer::start().await;
    // Published without "alg": the key may be used with every allowed RSA algorithm.
    let rsa = issuer.add_key_with(KeySpec::Rsa2048, KeyOptions::new().alg_in_jwk(false));
    let ec384 = issuer.add_key(KeySpec::P384);
    let v = verifier(&issuer);
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let token = issuer.token().key(&rsa).signing_alg(alg).sign();
        assert!(verify(&v, &token).await.is_ok(), "{alg}");
    }
    assert!(verify(&v, &issuer.token().key(&ec384).sign()).await.is_ok());
}

#[tokio::test]
async fn application_claims_deserialize_into_e() {
    #[derive(Debug, Clone, serde::Deserialize)]
    struct Mine {
        plan: String,
        #[serde(default)]
        seats: u32,
    }
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let token = issuer
        .token()
        .claim("plan", "pro")
        .claim("seats", 3)
        .roles(&["admin"])
        .sign();
    let claims = v.verify::<Mine>(&token).await.expect("valid");
    assert_eq!((claims.extra.plan.as_str(), claims.extra.seats), ("pro", 3));
    assert!(claims.has_role("admin"));
    assert_eq!(claims.scopes(), ["openid", "profile"]);
    // A claim of the wrong type for E is a typed error, not a panic.
    let bad = issuer.token().claim("plan", 5).sign();
    assert_code(v.verify::<Mine>(&bad).await, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn claims_serialize_to_the_original_object() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let token = issuer.token().claim("nested", json!({"a": [1, 2]})).sign();
    let claims = verify(&v, &token).await.expect("valid");
    let out = serde_json::to_value(&claims).expect("serializes");
    assert_eq!(out["nested"], json!({"a": [1, 2]}));
    assert_eq!(claims.get("nested.a"), Some(&json!([1, 2])));
}

// ---------------------------------------------------------------- compact form

#[tokio::test]
async fn rejects_malformed_compact_forms() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let good = issuer.token().sign();
    let (h, rest) = good.split_once('.').expect("dot");
    let (p, s) = rest.split_once('.').expect("dot");
    let cases = [
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}.x.y"),
        format!("{h}.{p}."),
        format!("{h}..{s}"),
        format!(".{p}.{s}"),
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}.{s}="),
        format!("{h} .{p}.{s}"),
        format!("{h}.{p}.{s}\n"),
        format!(r#"{{"protected":"{h}","payload":"{p}","signature":"{s}"}}"#),
        String::new(),
    ];
    for bad in cases {
        assert_code(verify(&v, &bad).await, ErrorCode::TokenInvalid);
    }
    assert!(verify(&v, &good).await.is_ok());
}

#[tokio::test]
async fn rejects_oversized_tokens_before_decoding_and_without_fetching() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let huge = issuer.token().claim("pad", "x".repeat(20_000)).sign();
    let err = verify(&v, &huge).await.expect_err("too big");
    assert_eq!(err.code(), ErrorCode::TokenInvalid);
    assert!(err.message().contains("larger"), "{err:?}");
    assert_eq!(issuer.jwks_requests() + issuer.discovery_requests(), 0);
}

#[tokio::test]
async fn rejects_tampered_payload() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let good = issuer.token().sub("alice").sign();
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64_decode(parts[1])).expect("json");
    claims["sub"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    assert_code(verify(&v, &forged).await, ErrorCode::TokenInvalid);
}

// ---------------------------------------------------------------- algorithms

#[tokio::test]
async fn rejects_alg_none_in_any_case() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let unsigned = issuer.token().alg(alg).unsigned();
        assert_code(verify(&v, &unsigned).await, ErrorCode::TokenInvalid);
        // "none" with a signature attached.
        let signed = issuer.token().alg(alg).sign();
        assert_code(verify(&v, &signed).await, ErrorCode::TokenInvalid);
    }
}

#[tokio::test]
async fn allow_list_is_checked_before_any_key_lookup_or_fetch() {
    let issuer = TestIssuer::start().await;
    let v = Verifier::new(
        builder(&issuer)
            .algorithms([Algorithm::RS256])
            .build()
            .expect("cfg"),
    )
    .expect("verifier");
    let ps256 = issuer.token().signing_alg("PS256").sign();
    assert_code(verify(&v, &ps256).await, ErrorCode::TokenInvalid);
    assert_eq!(issuer.jwks_requests() + issuer.discovery_requests(), 0);
    assert!(verify(&v, &issuer.token().sign()).await.is_ok());
}

#[tokio::test]
async fn rejects_hs256_signed_with_the_public_key_in_every_form() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let pem = issuer.public_key_pem("rsa-1");
    let der = issuer.public_key_spki_der("rsa-1");
    let jwk = issuer.public_jwk("rsa-1").to_string();
    let n = b64_decode(issuer.public_jwk("rsa-1")["n"].as_str().expect("n"));
    let pem_trimmed = pem.trim_end().to_owned();
    for secret in [
        pem.as_bytes(),
        pem_trimmed.as_bytes(),
        &der,
        jwk.as_bytes(),
        &n,
    ] {
        for alg in ["HS256", "HS384", "HS512"] {
            let token = issuer.token().kid(Some("rsa-1")).sign_hmac(alg, secret);
            assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
        }
    }
}

#[tokio::test]
async fn hs256_works_only_with_a_configured_shared_secret() {
    let issuer = TestIssuer::start().await;
    let secret = "0123456789abcdef0123456789abcdef";
    let v = Verifier::new(builder(&issuer).hmac_secret(secret).build().expect("cfg")).expect("v");
    let good = issuer.token().sign_hs256_with(secret.as_bytes());
    assert!(verify(&v, &good).await.is_ok());
    let wrong = issuer
        .token()
        .sign_hs256_with(b"another-secret-another-secret-xx");
    assert_code(verify(&v, &wrong).await, ErrorCode::TokenInvalid);
    // RSA tokens still verify with the same verifier.
    assert!(verify(&v, &issuer.token().sign()).await.is_ok());
}

#[tokio::test]
async fn rejects_a_key_alg_mismatch() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    // The RSA key named, but the header claims ES256 (signature made with the EC key).
    let token = issuer.token().key("ec-1").kid(Some("rsa-1")).sign();
    assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
    // The EC key named with an RSA algorithm.
    let token = issuer.token().key("rsa-1").kid(Some("ec-1")).sign();
    assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn jwk_alg_pins_the_algorithm() {
    // rsa-1 is published with "alg":"RS256": a PS256 signature by the same key is refused.
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    assert_eq!(issuer.public_jwk("rsa-1")["alg"], "RS256");
    let ps = issuer.token().key("rsa-1").signing_alg("PS256").sign();
    assert_code(verify(&v, &ps).await, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn rejects_ecdsa_r_s_zero_and_der_signatures() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let good = issuer.token().key("ec-1").sign();
    let (input, sig) = good.rsplit_once('.').expect("dot");
    let zero = format!("{input}.{}", b64(&[0u8; 64]));
    assert_code(verify(&v, &zero).await, ErrorCode::TokenInvalid);
    // The same (valid) r and s, DER-encoded.
    let raw = b64_decode(sig);
    let der_int = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|&b| b == 0).collect();
        let mut v = if x[0] & 0x80 != 0 { vec![0] } else { vec![] };
        v.extend(x);
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let mut body = der_int(&raw[..32]);
    body.extend(der_int(&raw[32..]));
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    let der_token = format!("{input}.{}", b64(&der));
    assert_code(verify(&v, &der_token).await, ErrorCode::TokenInvalid);
    assert!(verify(&v, &good).await.is_ok());
}

#[tokio::test]
async fn a_different_key_of_the_same_type_fails_the_signature() {
    let issuer = TestIssuer::start().await;
    let other = issuer.add_key(KeySpec::Rsa2048);
    let v = verifier(&issuer);
    let token = issuer.token().key(&other).kid(Some("rsa-1")).sign();
    assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
}

// ---------------------------------------------------------------- header parameters

#[tokio::test]
async fn embedded_jwk_is_never_trusted() {
    let issuer = TestIssuer::start().await;
    let attacker = issuer.add_key(KeySpec::Rsa2048);
    let attacker_jwk = issuer.public_jwk(&attacker);
    issuer.remove_key(&attacker);
    let v = verifier(&issuer);
    // Attacker key embedded, kid of the attacker key, then colliding with the real kid.
    for kid in [attacker.as_str(), "rsa-1"] {
        let token = issuer
            .token()
            .key(&attacker)
            .kid(Some(kid))
            .header("jwk", attacker_jwk.clone())
            .sign();
        assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
    }
    // And without any kid.
    let token = issuer
        .token()
        .key(&attacker)
        .kid(None)
        .header("jwk", attacker_jwk)
        .sign();
    assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn jku_and_x5u_are_never_fetched() {
    let issuer = TestIssuer::start().await;
    let attacker = issuer.add_key(KeySpec::Rsa2048);
    issuer.remove_key(&attacker);
    let v = verifier(&issuer);
    let url = format!("{}/attacker/jwks", issuer.base_url());
    for header in ["jku", "x5u"] {
        let token = issuer
            .token()
            .key(&attacker)
            .header(header, url.clone())
            .sign();
        assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
    }
    assert_eq!(issuer.requests_to("/attacker/jwks"), 0);
    // x5c with a junk certificate is ignored too.
    let token = issuer
        .token()
        .key(&attacker)
        .header("x5c", json!(["MIIB"]))
        .sign();
    assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn kid_injection_is_an_opaque_unknown_key() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    assert!(verify(&v, &issuer.token().sign()).await.is_ok());
    let long = "k".repeat(10_000);
    for kid in [
        "../../../../dev/null",
        "' OR '1'='1",
        "$(id)",
        "\u{0}",
        long.as_str(),
    ] {
        let token = issuer.token().kid(Some(kid)).sign();
        assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
    }
    for kid in [json!(null), json!(7), json!({"a": 1}), json!(["rsa-1"])] {
        let token = issuer.token().header("kid", kid).sign();
        assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
    }
}

#[tokio::test]
async fn unknown_crit_and_b64_false_are_rejected() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    for crit in [json!(["exp"]), json!([]), json!([1]), json!(["b64"])] {
        let token = issuer.token().header("crit", crit).header("exp", 1).sign();
        assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
    }
    let token = issuer
        .token()
        .header("b64", false)
        .header("crit", json!(["b64"]))
        .sign();
    assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
    let token = issuer.token().header("b64", false).sign();
    assert_code(verify(&v, &token).await, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn duplicate_members_are_rejected_in_header_and_claims() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let exp = now() + 300;
    let claims = format!(
        r#"{{"iss":"{}","aud":"{}","sub":"a","exp":{exp}}}"#,
        issuer.issuer(),
        issuer.audience()
    );
    let ok = issuer.sign_raw(
        "rsa-1",
        br#"{"alg":"RS256","kid":"rsa-1"}"#,
        claims.as_bytes(),
    );
    assert!(verify(&v, &ok).await.is_ok());
    let dup_header = issuer.sign_raw(
        "rsa-1",
        br#"{"alg":"RS256","kid":"rsa-1","kid":"x"}"#,
        claims.as_bytes(),
    );
    assert_code(verify(&v, &dup_header).await, ErrorCode::TokenInvalid);
    let dup_claim = claims.replacen(r#""sub":"a""#, r#""sub":"a","sub":"admin""#, 1);
    let t = issuer.sign_raw(
        "rsa-1",
        br#"{"alg":"RS256","kid":"rsa-1"}"#,
        dup_claim.as_bytes(),
    );
    assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    let nested = claims.replacen(r#""sub":"a""#, r#""sub":"a","r":{"x":1,"x":2}"#, 1);
    let t = issuer.sign_raw(
        "rsa-1",
        br#"{"alg":"RS256","kid":"rsa-1"}"#,
        nested.as_bytes(),
    );
    assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    // An escaped name is the same member: `\u0065xp` is `exp`, `\u006bid` is `kid`.
    let escaped = claims.replacen(r#""sub":"a""#, r#""sub":"a","\u0065xp":1"#, 1);
    let t = issuer.sign_raw(
        "rsa-1",
        br#"{"alg":"RS256","kid":"rsa-1"}"#,
        escaped.as_bytes(),
    );
    assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    let t = issuer.sign_raw(
        "rsa-1",
        br#"{"alg":"RS256","kid":"rsa-1","\u006bid":"x"}"#,
        claims.as_bytes(),
    );
    assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    // Members the verifier does not read are held to the same rule, at the top level too.
    for dup in [r#""roles":[],"roles":["admin"]"#, r#""r":1,"r":1"#] {
        let t = issuer.sign_raw(
            "rsa-1",
            br#"{"alg":"RS256","kid":"rsa-1"}"#,
            claims
                .replacen(r#""sub":"a""#, &format!(r#""sub":"a",{dup}"#), 1)
                .as_bytes(),
        );
        assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    }
    let t = issuer.sign_raw(
        "rsa-1",
        br#"{"alg":"RS256","kid":"rsa-1","x5t":"a","x5t":"b"}"#,
        claims.as_bytes(),
    );
    assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn header_and_claims_must_be_json_objects() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let header = br#"{"alg":"RS256","kid":"rsa-1"}"#;
    for payload in [
        &b"[]"[..],
        b"\"x\"",
        b"1",
        b"null",
        b"",
        b"{",
        b"\xff\xfe{}",
    ] {
        let t = issuer.sign_raw("rsa-1", header, payload);
        assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    }
    let t = issuer.sign_raw("rsa-1", br#"["RS256"]"#, b"{}");
    assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
}

// ---------------------------------------------------------------- keys in the set

#[tokio::test]
async fn weak_enc_and_private_keys_in_the_set_are_skipped() {
    let issuer = TestIssuer::start().await;
    let mut weak = issuer.public_jwk("rsa-1");
    // A 1024-bit modulus (odd, top bit set).
    let mut n = vec![0xC5u8; 128];
    n[127] |= 1;
    weak["n"] = json!(b64(&n));
    weak["kid"] = json!("weak");
    let mut enc = issuer.public_jwk("rsa-1");
    enc["kid"] = json!("enc");
    enc["use"] = json!("enc");
    let mut ops = issuer.public_jwk("rsa-1");
    ops["kid"] = json!("ops");
    ops["key_ops"] = json!(["encrypt"]);
    let mut private = issuer.public_jwk("ec-1");
    private["kid"] = json!("private");
    private["d"] = json!("AAAA");
    let oct = json!({"kty":"oct","kid":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"});
    issuer.set_jwks_extra_keys(vec![weak, enc, ops, private, oct]);
    let v = verifier(&issuer);
    for kid in ["weak", "enc", "ops"] {
        let t = issuer.token().key("rsa-1").kid(Some(kid)).sign();
        assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    }
    let t = issuer.token().key("ec-1").kid(Some("private")).sign();
    assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    let t = issuer
        .token()
        .kid(Some("oct"))
        .sign_hs256_with(b"secret-secret-secret-secret-secret");
    assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    let keys = v.current_keys().expect("fetched");
    let skipped: Vec<_> = keys
        .skipped()
        .iter()
        .map(|s| (s.kid().unwrap_or(""), s.reason()))
        .collect();
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    assert!(
        verify(&v, &issuer.token().sign()).await.is_ok(),
        "good keys still work"
    );
}

#[tokio::test]
async fn token_without_kid_needs_exactly_one_fitting_key() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    // One RSA key, one P-256 key, one Ed25519 key: each algorithm has exactly one candidate.
    for kid in ["rsa-1", "ec-1", "ed-1"] {
        let t = issuer.token().key(kid).kid(None).sign();
        assert!(verify(&v, &t).await.is_ok(), "{kid}");
    }
    issuer.add_key(KeySpec::Rsa2048);
    let v = verifier(&issuer);
    let t = issuer.token().key("rsa-1").kid(None).sign();
    assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn duplicate_kids_in_the_set_are_rejected_deterministically() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_extra_keys(vec![issuer.public_jwk("rsa-1")]);
    let v = verifier(&issuer);
    for _ in 0..3 {
        assert_code(
            verify(&v, &issuer.token().sign()).await,
            ErrorCode::TokenInvalid,
        );
    }
    // Other keys keep working.
    assert!(verify(&v, &issuer.token().key("ec-1").sign()).await.is_ok());
}

// ---------------------------------------------------------------- claims

#[tokio::test]
async fn exp_is_required() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    assert_code(
        verify(&v, &issuer.token().remove_claim("exp").sign()).await,
        ErrorCode::TokenInvalid,
    );
}

#[tokio::test]
async fn expired_token() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let err = verify(&v, &issuer.token().expires_in(-3600).sign())
        .await
        .expect_err("expired");
    assert_eq!((err.code(), err.status()), (ErrorCode::TokenExpired, 401));
    assert!(!err.is_retryable());
    assert_code(
        verify(&v, &issuer.token().exp(-1).sign()).await,
        ErrorCode::TokenExpired,
    );
}

#[tokio::test]
async fn expired_within_leeway_is_accepted() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer); // default leeway 30 s
    assert!(
        verify(&v, &issuer.token().expires_in(-10).sign())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn nbf_and_iat_in_the_future_are_rejected() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let t = issuer.token().nbf(now() + 3600).sign();
    assert_code(verify(&v, &t).await, ErrorCode::TokenNotYetValid);
    let t = issuer.token().iat(now() + 3600).sign();
    assert_code(verify(&v, &t).await, ErrorCode::TokenNotYetValid);
    let t = issuer.token().nbf(now() + 10).iat(now() + 10).sign();
    assert!(verify(&v, &t).await.is_ok(), "within leeway");
}

#[tokio::test]
async fn time_boundaries_are_exact() {
    let issuer = TestIssuer::start().await;
    let t0: i64 = now();
    let clock: auth_core::Clock = Arc::new(move || UNIX_EPOCH + Duration::from_secs(t0 as u64));
    let leeway = 10;
    let v = Verifier::new(
        builder(&issuer)
            .leeway(Duration::from_secs(leeway as u64))
            .clock(clock)
            .build()
            .expect("cfg"),
    )
    .expect("v");
    let exp = |e: i64| issuer.token().exp(e).iat(t0 - 100).nbf(t0 - 100).sign();
    assert_code(verify(&v, &exp(t0 - leeway)).await, ErrorCode::TokenExpired);
    assert!(verify(&v, &exp(t0 - leeway + 1)).await.is_ok());
    let nbf = |n: i64| issuer.token().nbf(n).iat(t0 - 100).sign();
    assert!(verify(&v, &nbf(t0 + leeway)).await.is_ok());
    assert_code(
        verify(&v, &nbf(t0 + leeway + 1)).await,
        ErrorCode::TokenNotYetValid,
    );
}

#[tokio::test]
async fn numeric_dates_must_be_json_numbers() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let exp = now() + 300;
    assert!(
        verify(&v, &issuer.token().claim("exp", exp as f64 + 0.5).sign())
            .await
            .is_ok()
    );
    for bad in [
        json!(exp.to_string()),
        json!(true),
        json!(null),
        json!([exp]),
        json!({"t": exp}),
    ] {
        assert_code(
            verify(&v, &issuer.token().claim("exp", bad.clone()).sign()).await,
            ErrorCode::TokenInvalid,
        );
        assert_code(
            verify(&v, &issuer.token().claim("nbf", bad.clone()).sign()).await,
            ErrorCode::TokenInvalid,
        );
        assert_code(
            verify(&v, &issuer.token().claim("iat", bad).sign()).await,
            ErrorCode::TokenInvalid,
        );
    }
}

#[tokio::test]
async fn extreme_numeric_dates_never_panic() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let header = br#"{"alg":"RS256","kid":"rsa-1"}"#;
    let claims = |exp: &str| {
        format!(
            r#"{{"iss":"{}","aud":"{}","exp":{exp}}}"#,
            issuer.issuer(),
            issuer.audience()
        )
    };
    for (exp, ok) in [
        ("1e308", true),
        ("9007199254740993", true),
        ("9223372036854775808", true),
        ("18446744073709551615", true),
        ("-1", false),
        ("-1e308", false),
        ("1e400", false),
    ] {
        let t = issuer.sign_raw("rsa-1", header, claims(exp).as_bytes());
        assert_eq!(verify(&v, &t).await.is_ok(), ok, "exp = {exp}");
    }
}

#[tokio::test]
async fn issuer_must_match_exactly() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let iss = issuer.issuer().to_owned();
    for bad in [
        json!(format!("{iss}/")),
        json!(iss.to_uppercase()),
        json!(iss.replace("http://", "https://")),
        json!([iss.clone()]),
        json!(1),
    ] {
        assert_code(
            verify(&v, &issuer.token().claim("iss", bad).sign()).await,
            ErrorCode::TokenInvalid,
        );
    }
    assert_code(
        verify(&v, &issuer.token().remove_claim("iss").sign()).await,
        ErrorCode::TokenInvalid,
    );
}

#[tokio::test]
async fn audience_rules() {
    let issuer = TestIssuer::start().await;
    let v = Verifier::new(
        builder(&issuer)
            .audience("second-api")
            .build()
            .expect("cfg"),
    )
    .expect("v");
    let aud = issuer.audience().to_owned();
    for ok in [
        json!(aud.clone()),
        json!(["x", aud.clone()]),
        json!(["second-api"]),
    ] {
        assert!(
            verify(&v, &issuer.token().aud(ok.clone()).sign())
                .await
                .is_ok(),
            "{ok}"
        );
    }
    for bad in [
        json!([]),
        json!(["x"]),
        json!(aud.to_uppercase()),
        json!([aud.clone(), 5]),
        json!({aud.clone(): 1}),
        json!(5),
    ] {
        assert_code(
            verify(&v, &issuer.token().aud(bad.clone()).sign()).await,
            ErrorCode::TokenInvalid,
        );
    }
    assert_code(
        verify(&v, &issuer.token().remove_claim("aud").sign()).await,
        ErrorCode::TokenInvalid,
    );
}

#[tokio::test]
async fn audience_check_can_be_skipped_explicitly() {
    let issuer = TestIssuer::start().await;
    let cfg = AuthConfig::builder()
        .issuer(issuer.issuer())
        .insecure_skip_audience_check()
        .build()
        .expect("cfg");
    let v = Verifier::new(cfg).expect("v");
    assert!(
        verify(&v, &issuer.token().aud("anything").sign())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn typ_is_not_required_by_default() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    assert!(
        verify(&v, &issuer.token().typ(Some("JWT")).sign())
            .await
            .is_ok()
    );
    assert!(verify(&v, &issuer.token().typ(None).sign()).await.is_ok());
}

#[tokio::test]
async fn typ_at_jwt_when_required() {
    let issuer = TestIssuer::start().await;
    let v = Verifier::new(
        builder(&issuer)
            .require_access_token_typ(true)
            .build()
            .expect("cfg"),
    )
    .expect("v");
    for ok in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        assert!(
            verify(&v, &issuer.token().typ(Some(ok)).sign())
                .await
                .is_ok(),
            "{ok}"
        );
    }
    for bad in [
        Some("JWT"),
        None,
        Some("id_token"),
        Some("dpop+jwt"),
        Some("logout+jwt"),
    ] {
        assert_code(
            verify(&v, &issuer.token().typ(bad).sign()).await,
            ErrorCode::TokenInvalid,
        );
    }
}

#[tokio::test]
async fn rfc9068_profile_requires_its_claims() {
    let issuer = TestIssuer::start().await;
    let v = Verifier::new(builder(&issuer).rfc9068_profile(true).build().expect("cfg")).expect("v");
    assert!(verify(&v, &issuer.token().sign()).await.is_ok());
    for claim in ["sub", "client_id", "iat", "jti"] {
        let t = issuer.token().remove_claim(claim).sign();
        assert_code(verify(&v, &t).await, ErrorCode::TokenInvalid);
    }
    assert_code(
        verify(&v, &issuer.token().typ(Some("JWT")).sign()).await,
        ErrorCode::TokenInvalid,
    );
    assert_code(
        verify(&v, &issuer.token().claim("client_id", 5).sign()).await,
        ErrorCode::TokenInvalid,
    );
}

#[tokio::test]
async fn signature_failure_takes_precedence_over_claim_errors() {
    let issuer = TestIssuer::start().await;
    let other = issuer.add_key(KeySpec::Rsa2048);
    let v = verifier(&issuer);
    let expired_and_forged = issuer
        .token()
        .key(&other)
        .kid(Some("rsa-1"))
        .expires_in(-3600)
        .aud("wrong")
        .sign();
    let err = verify(&v, &expired_and_forged).await.expect_err("forged");
    assert_eq!(err.code(), ErrorCode::TokenInvalid);
    assert!(err.message().contains("signature"), "{err:?}");
}

#[tokio::test]
async fn errors_carry_rfc6750_challenges_and_never_the_token() {
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let token = issuer.token().expires_in(-3600).sign();
    let err = verify(&v, &token).await.expect_err("expired");
    let challenge = err.www_authenticate(Some("api")).expect("challenge");
    assert!(
        challenge.starts_with("Bearer realm=\"api\", error=\"invalid_token\""),
        "{challenge}"
    );
    for text in [format!("{err}"), format!("{err:?}"), challenge] {
        assert!(!text.contains(&token[..20]), "token leaked: {text}");
    }
}

#[tokio::test]
async fn every_token_invalid_names_its_reason() {
    use auth_core::TokenInvalidReason as R;
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let strict = Verifier::new(
        builder(&issuer)
            .rfc9068_profile(true)
            .build()
            .expect("config"),
    )
    .expect("verifier");
    let good = issuer.token().sign();
    let (head, rest) = good.split_once('.').expect("compact");
    let (payload, signature) = rest.split_once('.').expect("compact");
    let flipped = {
        let mut sig = b64_decode(signature);
        sig[0] ^= 1;
        format!("{head}.{payload}.{}", b64(&sig))
    };
    let cases: Vec<(&str, &Verifier, String, R)> = vec![
        ("too large", &v, "a".repeat(64 * 1024), R::TooLarge),
        (
            "two segments",
            &v,
            format!("{head}.{payload}"),
            R::Malformed,
        ),
        ("alg none", &v, issuer.token().unsigned(), R::Unsigned),
        (
            "crit",
            &v,
            issuer.token().header("crit", json!(["exp"])).sign(),
            R::UnsupportedHeader,
        ),
        (
            "alg off the list",
            &v,
            issuer.token().alg("HS256").sign(),
            R::AlgorithmNotAllowed,
        ),
        (
            "unknown kid",
            &v,
            issuer.token().kid(Some("nobody")).sign(),
            R::UnknownKey,
        ),
        ("bad signature", &v, flipped, R::BadSignature),
        (
            "no exp",
            &v,
            issuer.token().remove_claim("exp").sign(),
            R::MissingClaim("exp"),
        ),
        (
            "other issuer",
            &v,
            issuer.token().claim("iss", "https://other.example").sign(),
            R::IssuerMismatch,
        ),
        (
            "other audience",
            &v,
            issuer.token().aud("billing-api").sign(),
            R::AudienceMismatch,
        ),
        (
            "typ JWT under RFC 9068",
            &strict,
            issuer.token().typ(Some("JWT")).sign(),
            R::TypMismatch,
        ),
    ];
    for (what, verifier, token, reason) in cases {
        let err = verifier
            .verify::<auth_core::NoExtraClaims>(&token)
            .await
            .expect_err(what);
        assert_eq!(err.code(), ErrorCode::TokenInvalid, "{what}: {err:?}");
        assert_eq!(err.reason(), Some(reason), "{what}: {err:?}");
    }
    // Errors that are not `token_invalid` have no reason.
    let expired = v
        .verify::<auth_core::NoExtraClaims>(&issuer.token().expires_in(-600).sign())
        .await
        .expect_err("expired");
    assert_eq!(
        (expired.code(), expired.reason()),
        (ErrorCode::TokenExpired, None)
    );
}

#[tokio::test]
async fn a_claims_shape_error_names_the_claim_and_keeps_serde_s_error() {
    #[derive(Debug, Clone, serde::Deserialize)]
    #[allow(dead_code)]
    struct Mine {
        plan: String,
        limits: Limits,
    }
    #[derive(Debug, Clone, serde::Deserialize)]
    #[allow(dead_code)]
    struct Limits {
        seats: u32,
    }
    let issuer = TestIssuer::start().await;
    let v = verifier(&issuer);
    let nested = issuer
        .token()
        .claim("plan", "pro")
        .claim("limits", json!({ "seats": "many" }))
        .sign();
    let err = v.verify::<Mine>(&nested).await.expect_err("wrong type");
    assert_eq!(
        err.reason(),
        Some(auth_core::TokenInvalidReason::ClaimsShape)
    );
    assert!(
        err.message().contains("`limits.seats`"),
        "{}",
        err.message()
    );
    let source = std::error::Error::source(&err)
        .expect("serde's error")
        .to_string();
    assert!(source.contains("invalid type"), "{source}");
    let missing = issuer.token().claim("limits", json!({ "seats": 1 })).sign();
    let err = v.verify::<Mine>(&missing).await.expect_err("missing");
    assert!(err.message().contains("`plan`"), "{}", err.message());
    // The message is safe for clients: no claim value.
    assert!(!format!("{err}").contains("many"));
}
