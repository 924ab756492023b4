//! `josekit-peer <fixture.json>`: josekit 0.10 (system OpenSSL) and our verifier, interleaved
//! on the fixture that `benches/peers.rs` writes (same token, key, issuer: ours fetches the keys
//! from the bench's issuer), printed as the bench's table rows. A process of its own because
//! josekit's OpenSSL and jwt-simple's BoringSSL cannot link into one binary.

#![allow(
    missing_debug_implementations,
    reason = "a benchmark binary; the contender holds a peer type without Debug"
)]

use std::time::{Duration, SystemTime};

use auth_bench::{
    Contender, Ours, RawSignature, fixture_from_json, interleaved, rows, sanity_check,
};

/// josekit: decode with the verifier, then the payload validator (issuer, audience, time).
struct Josekit {
    verifier: Box<dyn josekit::jws::JwsVerifier>,
    issuer: String,
    audience: String,
}

impl Josekit {
    fn new(f: &auth_bench::Fixture) -> Self {
        let jwk = josekit::jwk::Jwk::from_bytes(f.jwk.to_string().as_bytes()).expect("JWK");
        let verifier: Box<dyn josekit::jws::JwsVerifier> = match f.alg {
            "ES256" => Box::new(josekit::jws::ES256.verifier_from_jwk(&jwk).expect("ES256")),
            "EdDSA" => Box::new(josekit::jws::EdDSA.verifier_from_jwk(&jwk).expect("EdDSA")),
            _ => Box::new(josekit::jws::RS256.verifier_from_jwk(&jwk).expect("RS256")),
        };
        Josekit {
            verifier,
            issuer: f.issuer.clone(),
            audience: f.audience.clone(),
        }
    }
}

impl Contender for Josekit {
    fn name(&self) -> &'static str {
        "josekit 0.10 (OpenSSL 3)"
    }
    fn verify(&self, token: &str) -> bool {
        let Ok((payload, _header)) = josekit::jwt::decode_with_verifier(token, &*self.verifier)
        else {
            return false;
        };
        let now = SystemTime::now();
        let mut validator = josekit::jwt::JwtPayloadValidator::new();
        validator.set_issuer(&self.issuer);
        validator.set_audience(&self.audience);
        validator.set_base_time(now);
        validator.set_min_issued_time(now - Duration::from_secs(86_400));
        validator.validate(&payload).is_ok() && payload.subject().is_some()
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: josekit-peer <fixture.json>");
    let text = std::fs::read_to_string(path).expect("the fixture");
    let json: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
    let (f, rounds, full) = fixture_from_json(&json).expect("a fixture");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let contenders: Vec<Box<dyn Contender>> = vec![
        Box::new(RawSignature::new(&f)),
        Box::new(rt.block_on(Ours::new(&f, false))),
        Box::new(rt.block_on(Ours::new(&f, true))),
        Box::new(Josekit::new(&f)),
    ];
    sanity_check(&contenders, &f.token);
    let rates = interleaved(&contenders, &f.token, rounds, full);
    for row in rows(&contenders, &rates, 1, 2) {
        println!("{row}");
    }
}
