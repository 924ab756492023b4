//! The resource-server protocols, over real HTTP against each example app: RFC 9728 metadata
//! and the discovery a client (an MCP client) performs from a 401, DPoP (RFC 9449) proofs and
//! their defects, server nonces, and step-up (RFC 9470).

use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::ClientKey;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header::{AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode, Url};
use serde_json::{Value, json};

use crate::app::{self, App, Kind};

const METADATA: &str = "/.well-known/oauth-protected-resource";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn challenge(r: &Response) -> String {
    r.headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn code_of(r: Response) -> (StatusCode, String) {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// A DPoP client key that can also sign proofs with chosen defects.
struct DpopKey {
    key: ClientKey,
    pair: EcdsaKeyPair,
    jwk: Value,
}

impl DpopKey {
    fn new() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("key");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let key = ClientKey::from_pem(&pem).expect("PEM");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("pair");
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256",
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        });
        DpopKey { key, pair, jwk }
    }

    /// A correct proof, made by the SDK's client side.
    fn proof(&self, method: &str, url: &str, token: &str, nonce: Option<&str>) -> String {
        self.key
            .dpop_proof(method, url, Some(token), nonce)
            .expect("proof")
    }

    /// A proof from chosen header and claims.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign");
        format!("{input}.{}", b64(sig.as_ref()))
    }

    fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk })
    }

    fn claims(&self, method: &str, url: &str, token: &str) -> Value {
        json!({
            "jti": b64(now().to_be_bytes()) + &b64(rand16()),
            "htm": method,
            "htu": url,
            "iat": now(),
            "ath": b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())),
        })
    }
}

fn rand16() -> [u8; 16] {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("random");
    b
}

impl App {
    /// A token bound to `key`.
    fn bound_token(&self, sub: &str, key: &DpopKey) -> String {
        self.issuer()
            .token()
            .sub(sub)
            .claim("cnf", json!({ "jkt": key.key.thumbprint() }))
            .sign()
    }

    async fn dpop_get(&self, path: &str, token: &str, proofs: &[String]) -> Response {
        let mut request = self
            .http
            .get(self.url(path))
            .header(AUTHORIZATION, format!("DPoP {token}"));
        for proof in proofs {
            request = request.header("dpop", proof);
        }
        request.send().await.expect("GET")
    }
}

pub async fn the_resource_metadata_is_published_and_named_in_every_challenge(app: App) {
    let r = app.get(METADATA).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/json")
    );
    let doc: Value = r.json().await.expect("JSON");
    assert_eq!(doc["resource"], app.app_url.as_str());
    assert_eq!(doc["authorization_servers"], json!([app.issuer().issuer()]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    let algs = doc["dpop_signing_alg_values_supported"]
        .as_array()
        .expect("DPoP algs");
    assert!(algs.contains(&json!("ES256")), "{doc}");
    assert_eq!(doc["dpop_bound_access_tokens_required"], false);

    let me = app.get("/api/me").await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let c = challenge(&me);
    let pointer = format!("resource_metadata=\"{}{METADATA}\"", app.app_url);
    assert!(c.starts_with("Bearer "), "{c}");
    assert!(c.contains(&pointer), "{c}");
    assert!(
        c.contains("DPoP algs=\""),
        "both schemes are challenged: {c}"
    );
    assert!(!c.contains("error="), "no error without a credential: {c}");

    let post = app.http.post(app.url(METADATA)).send().await.expect("POST");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// The MCP authorization flow: 401 → resource metadata → authorization-server metadata →
/// authorization code with PKCE and `resource` = the resource identifier → token → 200.
pub async fn a_client_discovers_the_issuer_from_a_401_and_its_token_reaches_the_api(app: App) {
    let http = crate::http_flows::bare_client();
    let first = http.get(app.url("/api/me")).send().await.expect("GET");
    let c = challenge(&first);
    let pointer = c
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("resource_metadata")
        .to_owned();
    let doc: Value = http
        .get(&pointer)
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("JSON");
    let resource = doc["resource"].as_str().expect("resource").to_owned();
    // RFC 9728 §3.3: the identifier is the one the metadata URL was made from.
    assert!(pointer.starts_with(&resource), "{pointer} {resource}");
    let issuer = doc["authorization_servers"][0].as_str().expect("an AS");
    // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    let issuer_url = Url::parse(issuer).expect("issuer URL");
    let as_metadata = format!(
        "{}/.well-known/oauth-authorization-server{}",
        issuer_url.origin().ascii_serialization(),
        issuer_url.path().trim_end_matches('/')
    );
    let asm: Value = http
        .get(&as_metadata)
        .send()
        .await
        .expect("AS metadata")
        .json()
        .await
        .expect("JSON");
    assert_eq!(asm["issuer"], issuer);
    let authorize = asm["authorization_endpoint"].as_str().expect("authorize");
    let token_endpoint = asm["token_endpoint"].as_str().expect("token");

    app.issuer().set_auto_login(Some("alice".to_owned()));
    let verifier = b64(rand16()) + &b64(rand16());
    let challenge_s256 = b64(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let redirect_uri = app.url("/auth/callback");
    let url = Url::parse_with_params(
        authorize,
        [
            ("response_type", "code"),
            ("client_id", "example-app"),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", "openid"),
            ("state", "client-state-0123456789"),
            ("code_challenge", challenge_s256.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", resource.as_str()),
        ],
    )
    .expect("URL");
    let back = http.get(url).send().await.expect("authorize");
    let location = back.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    let code = Url::parse(&location)
        .expect("redirect")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let tokens: Value = http
        .post(token_endpoint)
        .basic_auth("example-app", Some("example-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("resource", resource.as_str()),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("JSON");
    let access = tokens["access_token"].as_str().expect("access token");
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).expect("a JWT"))
            .expect("b64"),
    )
    .expect("claims");
    assert_eq!(payload["aud"], resource.as_str(), "RFC 8707 audience");
    let me = http
        .get(app.url("/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.expect("JSON");
    assert_eq!(me["sub"], "alice");
}

pub async fn a_dpop_bound_token_with_its_proof_reaches_the_api(app: App) {
    let key = DpopKey::new();
    let token = app.bound_token("dora", &key);
    // `htu` leaves out the query.
    let proof = key.proof("GET", &app.url("/api/me?x=1"), &token, None);
    let r = app.dpop_get("/api/me?x=1", &token, &[proof]).await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", challenge(&r));
    assert!(
        r.headers().get("dpop-nonce").is_none(),
        "no nonces unless on"
    );
    let me: Value = r.json().await.expect("JSON");
    assert_eq!(me["sub"], "dora");
    // The same token again, with a new proof: the cached verification still needs the proof.
    let again = key.proof("GET", &app.url("/api/me"), &token, None);
    assert_eq!(
        app.dpop_get("/api/me", &token, &[again]).await.status(),
        StatusCode::OK
    );
    let none = app.dpop_get("/api/me", &token, &[]).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&none).starts_with("DPoP "),
        "{}",
        challenge(&none)
    );
}

async fn assert_invalid_proof(app: &App, token: &str, proofs: &[String], why: &str) {
    let r = app.dpop_get("/api/me", token, proofs).await;
    let c = challenge(&r);
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_dpop_proof".to_owned()),
        "{why}"
    );
    assert!(c.starts_with("DPoP "), "{why}: {c}");
    assert!(c.contains("error=\"invalid_dpop_proof\""), "{why}: {c}");
    assert!(c.contains("algs=\""), "{why}: {c}");
}

pub async fn defective_dpop_proofs_are_invalid_dpop_proof(app: App) {
    let key = DpopKey::new();
    let token = app.bound_token("dora", &key);
    let url = app.url("/api/me");

    let proof = key.proof("GET", &url, &token, None);
    assert_eq!(
        app.dpop_get("/api/me", &token, std::slice::from_ref(&proof))
            .await
            .status(),
        StatusCode::OK
    );
    assert_invalid_proof(&app, &token, &[proof], "a replayed proof").await;

    let post = key.proof("POST", &url, &token, None);
    assert_invalid_proof(&app, &token, &[post], "another method").await;
    let other = key.proof("GET", &app.url("/api/admin"), &token, None);
    assert_invalid_proof(&app, &token, &[other], "another URL").await;
    let host = key.proof("GET", "http://evil.example/api/me", &token, None);
    assert_invalid_proof(&app, &token, &[host], "another host").await;
    let wrong_ath = key.proof("GET", &url, "another-token", None);
    assert_invalid_proof(&app, &token, &[wrong_ath], "another token's hash").await;
    let two = [
        key.proof("GET", &url, &token, None),
        key.proof("GET", &url, &token, None),
    ];
    assert_invalid_proof(&app, &token, &two, "two DPoP headers").await;
    assert_invalid_proof(&app, &token, &["not-a-jwt".to_owned()], "not a JWT").await;

    let mut stale = key.claims("GET", &url, &token);
    stale["iat"] = json!(now() - 301);
    assert_invalid_proof(
        &app,
        &token,
        &[key.sign(&key.header(), &stale)],
        "stale iat",
    )
    .await;
    let mut future = key.claims("GET", &url, &token);
    future["iat"] = json!(now() + 120);
    assert_invalid_proof(
        &app,
        &token,
        &[key.sign(&key.header(), &future)],
        "future iat",
    )
    .await;
    let mut no_jti = key.claims("GET", &url, &token);
    no_jti.as_object_mut().expect("object").remove("jti");
    assert_invalid_proof(&app, &token, &[key.sign(&key.header(), &no_jti)], "no jti").await;
    let mut no_ath = key.claims("GET", &url, &token);
    no_ath.as_object_mut().expect("object").remove("ath");
    assert_invalid_proof(&app, &token, &[key.sign(&key.header(), &no_ath)], "no ath").await;
    let mut typ = key.header();
    typ["typ"] = json!("JWT");
    let claims = key.claims("GET", &url, &token);
    assert_invalid_proof(&app, &token, &[key.sign(&typ, &claims)], "typ JWT").await;
    let mut private = key.header();
    private["jwk"]["d"] = json!(b64([7u8; 32]));
    let claims = key.claims("GET", &url, &token);
    assert_invalid_proof(
        &app,
        &token,
        &[key.sign(&private, &claims)],
        "a private jwk",
    )
    .await;
    let mut alg = key.header();
    alg["alg"] = json!("HS256");
    let claims = key.claims("GET", &url, &token);
    assert_invalid_proof(&app, &token, &[key.sign(&alg, &claims)], "a symmetric alg").await;
    // A well-formed signature that does not verify: one byte flipped...
    let claims = key.claims("GET", &url, &token);
    let signed = key.sign(&key.header(), &claims);
    let (input, sig) = signed.rsplit_once('.').expect("compact");
    let mut sig = URL_SAFE_NO_PAD.decode(sig).expect("b64");
    sig[10] ^= 1;
    let flipped = format!("{input}.{}", b64(&sig));
    assert_invalid_proof(&app, &token, &[flipped], "a flipped signature byte").await;
    // ...and a proof signed by another key that names the token's key in its `jwk`.
    let other = DpopKey::new();
    let claims = key.claims("GET", &url, &token);
    let forged = other.sign(&key.header(), &claims);
    assert_invalid_proof(&app, &token, &[forged], "another key's signature").await;
}

pub async fn bindings_that_do_not_hold_are_invalid_token(app: App) {
    let key = DpopKey::new();
    let url = app.url("/api/me");
    // A bound token sent as a bearer token.
    let bound = app.bound_token("dora", &key);
    let r = app
        .http
        .get(&url)
        .bearer_auth(&bound)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&r).contains("error=\"invalid_token\""),
        "{}",
        challenge(&r)
    );
    assert_eq!(code_of(r).await.1, "token_invalid");
    // An unbound token sent with the DPoP scheme.
    let unbound = app.issuer().token().sub("dora").sign();
    let proof = key.proof("GET", &url, &unbound, None);
    let r = app.dpop_get("/api/me", &unbound, &[proof]).await;
    let c = challenge(&r);
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "token_invalid".to_owned())
    );
    assert!(
        c.starts_with("DPoP ") && c.contains("error=\"invalid_token\""),
        "{c}"
    );
    // A valid proof by another key than the token's.
    let other = DpopKey::new();
    let proof = other.proof("GET", &url, &bound, None);
    let r = app.dpop_get("/api/me", &bound, &[proof]).await;
    let c = challenge(&r);
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "token_invalid".to_owned())
    );
    assert!(
        c.starts_with("DPoP ") && c.contains("error=\"invalid_token\""),
        "{c}"
    );
}

pub async fn a_stale_sign_in_is_challenged_to_step_up(app: App) {
    let old = app
        .issuer()
        .token()
        .sub("alice")
        .claim("auth_time", now() - 120)
        .sign();
    let r = app
        .http
        .get(app.url("/api/step-up"))
        .bearer_auth(&old)
        .send()
        .await
        .expect("GET");
    let c = challenge(&r);
    assert_eq!(
        code_of(r).await,
        (
            StatusCode::UNAUTHORIZED,
            "insufficient_user_authentication".to_owned()
        )
    );
    assert!(
        c.contains("error=\"insufficient_user_authentication\""),
        "{c}"
    );
    assert!(c.contains("max_age=\"60\""), "{c}");
    assert!(c.contains("acr_values=\"urn:example:mfa\""), "{c}");
    // Other routes keep accepting the older sign-in.
    let me = app
        .http
        .get(app.url("/api/me"))
        .bearer_auth(&old)
        .send()
        .await
        .expect("GET");
    assert_eq!(me.status(), StatusCode::OK);
    let fresh = app
        .issuer()
        .token()
        .sub("alice")
        .claim("auth_time", now() - 5)
        .sign();
    let r = app
        .http
        .get(app.url("/api/step-up"))
        .bearer_auth(&fresh)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    let mfa = app
        .issuer()
        .token()
        .sub("alice")
        .claim("auth_time", now() - 3600)
        .claim("acr", "urn:example:mfa")
        .sign();
    let r = app
        .http
        .get(app.url("/api/step-up"))
        .bearer_auth(&mfa)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    let none = app.issuer().token().sub("alice").sign();
    let r = app
        .http
        .get(app.url("/api/step-up"))
        .bearer_auth(&none)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "no auth_time, no acr");
}

/// The step-up sign-in: `/auth/login?max_age=60` brings a fresh `auth_time` into the session.
pub async fn signing_in_with_max_age_satisfies_the_step_up_route(app: App) {
    app.issuer().set_auto_login(Some("alice".to_owned()));
    let login = Url::parse_with_params(
        &app.url("/auth/login"),
        [("max_age", "60"), ("return_to", "/api/step-up")],
    )
    .expect("URL");
    let to_issuer = app.http.get(login).send().await.expect("login");
    let location = to_issuer.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.contains("max_age=60"), "{location}");
    let back = app.http.get(&location).send().await.expect("authorize");
    let callback = back.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    let done = app.http.get(&callback).send().await.expect("callback");
    assert_eq!(
        done.headers()[LOCATION].to_str().expect("location"),
        "/api/step-up"
    );
    let r = app.get("/api/step-up").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("JSON");
    assert!(
        body["auth_time"].as_i64().is_some_and(|t| now() - t <= 60),
        "{body}"
    );
}

/// The other way to step up: `/auth/login?acr_values=urn:example:mfa` (the dev issuer signs in
/// at the class asked for), and the session's token carries it.
pub async fn signing_in_with_acr_values_satisfies_the_step_up_route(app: App) {
    app.issuer().set_auto_login(Some("alice".to_owned()));
    let login = Url::parse_with_params(
        &app.url("/auth/login"),
        [
            ("acr_values", "urn:example:mfa"),
            ("return_to", "/api/step-up"),
        ],
    )
    .expect("URL");
    let to_issuer = app.http.get(login).send().await.expect("login");
    let location = to_issuer.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.contains("acr_values=urn%3Aexample%3Amfa"),
        "{location}"
    );
    let back = app.http.get(&location).send().await.expect("authorize");
    let callback = back.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    let done = app.http.get(&callback).send().await.expect("callback");
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let r = app.get("/api/step-up").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["acr"], "urn:example:mfa", "{body}");
    // A malformed step-up request is refused before the provider is asked.
    let bad = app.get("/auth/login?max_age=soon").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

/// With `AUTH_DPOP_NONCE=1`: a proof without the server's nonce is `use_dpop_nonce` with a
/// `DPoP-Nonce`; with it, the request passes and the answer carries the next nonce.
pub async fn dpop_nonces_are_issued_and_enforced(kind: Kind) {
    let settings = example_shared::Settings {
        dpop_nonces: true,
        ..example_shared::Settings::dev()
    };
    let app = app::start_with(kind, settings).await;
    let key = DpopKey::new();
    let token = app.bound_token("dora", &key);
    let url = app.url("/api/me");
    let first = app
        .dpop_get("/api/me", &token, &[key.proof("GET", &url, &token, None)])
        .await;
    let nonce = first
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .expect("a DPoP-Nonce")
        .to_owned();
    let c = challenge(&first);
    assert_eq!(
        code_of(first).await,
        (StatusCode::UNAUTHORIZED, "use_dpop_nonce".to_owned())
    );
    assert!(
        c.starts_with("DPoP ") && c.contains("error=\"use_dpop_nonce\""),
        "{c}"
    );
    let forged = key.proof("GET", &url, &token, Some("forged-nonce"));
    let r = app.dpop_get("/api/me", &token, &[forged]).await;
    assert_eq!(code_of(r).await.1, "use_dpop_nonce");
    let ok = app
        .dpop_get(
            "/api/me",
            &token,
            &[key.proof("GET", &url, &token, Some(&nonce))],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.headers().get("dpop-nonce").is_some(), "the next nonce");
}
