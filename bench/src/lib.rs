//! Side-by-side benchmarks of the SDK against its peers: what `cargo xtask bench` runs to fill
//! `docs/benchmarks.md`.
//!
//! - `benches/peers.rs`: the same token, the same key, in interleaved rounds: our verifier cold
//!   and with its verified-token cache, the raw aws-lc-rs signature check as the floor,
//!   jsonwebtoken and jwt-simple in the bench's process; josekit in its own process
//!   (`josekit/`: jwt-simple's BoringSSL and josekit's OpenSSL define the same C symbols and
//!   cannot link into one binary), with ours timed beside it there too; then Node's `jose`
//!   (panva) through `node/jose-bench.mjs`, between two timings of ours.
//! - `src/bin/peer-http.rs`: the HTTP comparison's apps (axum without auth, axum with our layer,
//!   axum 0.7 with jwt-authorizer), measured with `wrk` by `cargo xtask bench-http`.
//!
//! The peers are dependencies of this crate only; the SDK's crates never depend on them.

#![allow(
    missing_debug_implementations,
    reason = "the contenders hold peer types without Debug; nothing here is public API"
)]

use std::time::{Duration, Instant};

use auth_core::{AuthConfig, NoExtraClaims, Verifier};
use auth_issuer::TestIssuer;
use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::FutureExt as _;
use serde::Deserialize;
use serde_json::Value;

// auth-core's bench support (the token and the raw key), so that both benchmarks measure the
// same bytes.
#[path = "../../crates/auth-core/benches/support/mod.rs"]
#[allow(
    dead_code,
    reason = "kid_for is auth-core's; the kids are in ALGORITHMS here"
)]
mod support;

/// The algorithms compared, with the issuer's key id for each.
pub const ALGORITHMS: [(&str, &str); 3] =
    [("RS256", "rsa-1"), ("ES256", "ec-1"), ("EdDSA", "ed-1")];

/// One algorithm's token and public key, shared by every contender.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: &'static str,
    /// An RFC 9068-shaped access token with 10 claims (valid for an hour).
    pub token: String,
    /// The public key as a JWK (with `kid`, `alg`, `use`).
    pub jwk: Value,
    /// The expected `iss`.
    pub issuer: String,
    /// The expected `aud`.
    pub audience: String,
}

/// The fixtures of every algorithm, from `issuer`'s keys.
#[must_use]
pub fn fixtures(issuer: &TestIssuer) -> Vec<Fixture> {
    ALGORITHMS
        .iter()
        .map(|&(alg, kid)| Fixture {
            alg,
            token: realistic_token(issuer, kid),
            jwk: issuer.public_jwk(kid),
            issuer: issuer.issuer().to_owned(),
            audience: issuer.audience().to_owned(),
        })
        .collect()
}

/// The token the SDK's own benchmarks use (auth-core's bench support): `typ: at+jwt`, `kid`,
/// iss, sub, aud, exp (an hour), iat, nbf, jti, client_id, scope and three roles.
#[must_use]
pub fn realistic_token(issuer: &TestIssuer, kid: &str) -> String {
    support::realistic_token(issuer, kid)
}

/// Something that verifies a token with every check on: signature, `exp`, `nbf`, `iss`, `aud`,
/// and the claims read into the library's claims type.
pub trait Contender {
    /// Its name in the tables.
    fn name(&self) -> &'static str;
    /// Whether `token` verified.
    fn verify(&self, token: &str) -> bool;
}

fn b64_str<'a>(jwk: &'a Value, member: &str) -> &'a str {
    jwk[member].as_str().unwrap_or_default()
}

/// The floor: aws-lc-rs's signature check of the token's signing input, with the key parsed
/// once and the signature decoded once (the crypto alone, no parsing).
pub struct RawSignature {
    key: ParsedPublicKey,
    input: Vec<u8>,
    sig: Vec<u8>,
}

impl RawSignature {
    /// The floor for `f`.
    ///
    /// # Panics
    /// When the fixture's key or token is malformed.
    #[must_use]
    pub fn new(f: &Fixture) -> Self {
        let key = support::raw_key(&f.jwk, f.alg);
        let (input, sig) = f.token.rsplit_once('.').expect("a compact JWS");
        RawSignature {
            key,
            input: input.as_bytes().to_vec(),
            sig: URL_SAFE_NO_PAD.decode(sig).expect("base64url signature"),
        }
    }
}

impl Contender for RawSignature {
    fn name(&self) -> &'static str {
        "aws-lc-rs signature only"
    }
    fn verify(&self, _token: &str) -> bool {
        self.key
            .verify_sig(std::hint::black_box(&self.input), &self.sig)
            .is_ok()
    }
}

/// Our `Verifier`, key set warm; with the verified-token cache on or off.
pub struct Ours {
    verifier: Verifier,
    cached: bool,
}

impl Ours {
    /// Our verifier for `f`'s issuer, its key set fetched.
    ///
    /// # Panics
    /// When the issuer cannot be reached.
    pub async fn new(f: &Fixture, cached: bool) -> Self {
        let mut builder = AuthConfig::builder()
            .issuer(&f.issuer)
            .audience(&f.audience);
        if !cached {
            builder = builder.token_cache_bytes(0);
        }
        let verifier = Verifier::new(builder.build().expect("config")).expect("verifier");
        verifier.warm_up().await.expect("warm up");
        Ours { verifier, cached }
    }
}

impl Contender for Ours {
    fn name(&self) -> &'static str {
        if self.cached {
            "auth-core, token cache (repeated token)"
        } else {
            "auth-core, cold (cache off)"
        }
    }
    fn verify(&self, token: &str) -> bool {
        // The key set is warm: the future completes without waiting.
        matches!(
            self.verifier.verify::<NoExtraClaims>(token).now_or_never(),
            Some(Ok(_))
        )
    }
}

/// The claims the peers read: what our `Claims` types eagerly (the registered claims,
/// `client_id`, `scope`).
#[derive(Debug, Deserialize)]
pub struct PeerClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience (a string or an array).
    pub aud: Value,
    /// Expiry.
    pub exp: u64,
    /// Issued at.
    pub iat: Option<u64>,
    /// Not before.
    pub nbf: Option<u64>,
    /// Token id.
    pub jti: Option<String>,
    /// RFC 9068 client.
    pub client_id: Option<String>,
    /// Scopes.
    pub scope: Option<String>,
}

/// jsonwebtoken 12 on aws-lc-rs.
pub struct JsonWebToken {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

impl JsonWebToken {
    /// A decoding key from the JWK's components and a validation with issuer, audience,
    /// `exp` and `nbf`.
    ///
    /// # Panics
    /// When the fixture's key is malformed.
    #[must_use]
    pub fn new(f: &Fixture) -> Self {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let (key, alg) = match f.alg {
            "ES256" => (
                DecodingKey::from_ec_components(b64_str(&f.jwk, "x"), b64_str(&f.jwk, "y")),
                Algorithm::ES256,
            ),
            "EdDSA" => (
                DecodingKey::from_ed_components(b64_str(&f.jwk, "x")),
                Algorithm::EdDSA,
            ),
            _ => (
                DecodingKey::from_rsa_components(b64_str(&f.jwk, "n"), b64_str(&f.jwk, "e")),
                Algorithm::RS256,
            ),
        };
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&f.issuer]);
        validation.set_audience(&[&f.audience]);
        validation.validate_nbf = true;
        JsonWebToken {
            key: key.expect("a valid key"),
            validation,
        }
    }
}

impl Contender for JsonWebToken {
    fn name(&self) -> &'static str {
        "jsonwebtoken 12 (aws-lc-rs)"
    }
    fn verify(&self, token: &str) -> bool {
        jsonwebtoken::decode::<PeerClaims>(token, &self.key, &self.validation).is_ok()
    }
}

/// The median of `values` (sorted in place); 0 for none.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// How long one batch of one contender runs in the full benchmark.
pub const BATCH: Duration = Duration::from_millis(4);

/// Runs `c` `iterations` times on `token`; verifications per second.
///
/// # Panics
/// When a verification fails: a contender that refuses the fixture measures nothing.
pub fn timed(c: &dyn Contender, token: &str, iterations: usize) -> f64 {
    let start = Instant::now();
    let mut ok = 0usize;
    for _ in 0..iterations {
        ok += usize::from(c.verify(std::hint::black_box(token)));
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(ok, iterations, "{} failed a verification", c.name());
    iterations as f64 / elapsed
}

/// Checks that each contender accepts `token` and refuses a tampered copy.
///
/// # Panics
/// When one does not.
pub fn sanity_check(contenders: &[Box<dyn Contender>], token: &str) {
    let tampered = tamper(token);
    for c in contenders {
        assert!(c.verify(token), "{} refused the token", c.name());
        if !c.name().starts_with("aws-lc-rs") {
            assert!(
                !c.verify(&tampered),
                "{} accepted a tampered token",
                c.name()
            );
        }
    }
}

/// The token with one payload character changed (the signature no longer matches).
#[must_use]
pub fn tamper(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    if let Some(payload) = parts.get_mut(1) {
        let last = payload.pop().unwrap_or('A');
        payload.push(if last == 'A' { 'B' } else { 'A' });
    }
    parts.join(".")
}

/// Per contender, its rate in each of `rounds` rounds. Each round times every contender for
/// about [`BATCH`], in a rotating order, reversed every other round, so that drift of the
/// machine hits all alike. `full == false`: two verifications per contender (a quick check).
#[must_use]
pub fn interleaved(
    contenders: &[Box<dyn Contender>],
    token: &str,
    rounds: usize,
    full: bool,
) -> Vec<Vec<f64>> {
    let batch: Vec<usize> = contenders
        .iter()
        .map(|c| {
            if full {
                let probe = timed(&**c, token, 200);
                ((probe * BATCH.as_secs_f64()) as usize).max(1)
            } else {
                2
            }
        })
        .collect();
    let n = contenders.len();
    let mut rates = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..n).map(|i| (i + round) % n).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            rates[i].push(timed(&*contenders[i], token, batch[i]));
        }
    }
    rates
}

/// One table row per contender: the median rate, and the median over rounds of the per-round
/// ratio of contender `cold` (ours, cache off) and `cached` (ours, cache on) to it.
#[must_use]
pub fn rows(
    contenders: &[Box<dyn Contender>],
    rates: &[Vec<f64>],
    cold: usize,
    cached: usize,
) -> Vec<String> {
    let ratio = |ours: usize, other: usize| {
        let mut r: Vec<f64> = rates[ours]
            .iter()
            .zip(&rates[other])
            .map(|(a, b)| a / b)
            .collect();
        median(&mut r)
    };
    contenders
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let rate = median(&mut rates[i].clone());
            format!(
                "| {} | {:.0} | {:.2} | {:.3}× | {:.2}× |",
                c.name(),
                rate,
                1e6 / rate,
                ratio(cold, i),
                ratio(cached, i)
            )
        })
        .collect()
}

/// The fixture as the JSON the helper processes read (josekit's, Node's).
#[must_use]
pub fn fixture_json(f: &Fixture, rounds: usize, full: bool) -> Value {
    serde_json::json!({
        "alg": f.alg, "token": f.token, "jwk": f.jwk, "issuer": f.issuer,
        "audience": f.audience, "rounds": rounds, "full": full,
        "seconds": if full { 2.0 } else { 0.05 },
    })
}

/// The fixture back from [`fixture_json`], with the rounds and the mode.
#[must_use]
pub fn fixture_from_json(v: &Value) -> Option<(Fixture, usize, bool)> {
    let alg = ALGORITHMS
        .iter()
        .map(|(alg, _)| *alg)
        .find(|a| Some(*a) == v["alg"].as_str())?;
    let text = |k: &str| v[k].as_str().map(str::to_owned);
    Some((
        Fixture {
            alg,
            token: text("token")?,
            jwk: v["jwk"].clone(),
            issuer: text("issuer")?,
            audience: text("audience")?,
        },
        usize::try_from(v["rounds"].as_u64()?).ok()?,
        v["full"].as_bool()?,
    ))
}

async fn public() -> axum::Json<Value> {
    axum::Json(serde_json::json!({ "ok": true }))
}

/// The HTTP comparison's baseline app: axum without authentication (`/public`, and `/optional`
/// answering `{"authenticated":false}`).
pub fn bare_app() -> axum::Router {
    use axum::routing::get;
    axum::Router::new().route("/public", get(public)).route(
        "/optional",
        get(async || axum::Json(serde_json::json!({ "authenticated": false }))),
    )
}

/// The same routes under auth-axum's `AuthLayer` for `issuer` and `audience` (key set fetched
/// before it returns): `/optional` with `Option<Auth>`, `/me` with `Auth`.
///
/// # Panics
/// When the issuer cannot be reached.
pub async fn ours_app(issuer: &str, audience: &str) -> axum::Router {
    use auth_axum::auth_core::Authenticator;
    use auth_axum::{Auth, AuthLayer};
    use axum::routing::get;
    let config = AuthConfig::builder()
        .issuer(issuer)
        .audience(audience)
        .build()
        .expect("config");
    let verifier = Verifier::new(config).expect("verifier");
    verifier.warm_up().await.expect("the issuer answers");
    let authenticator = Authenticator::builder(verifier)
        .build()
        .expect("authenticator");
    axum::Router::new()
        .route("/public", get(public))
        .route(
            "/optional",
            get(async |auth: Option<Auth>| {
                axum::Json(serde_json::json!({ "authenticated": auth.is_some() }))
            }),
        )
        .route(
            "/me",
            get(async |Auth(claims): Auth| {
                axum::Json(serde_json::json!({ "sub": claims.sub, "claims": claims }))
            }),
        )
        .layer(AuthLayer::new(authenticator))
}
