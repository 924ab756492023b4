//! The token minter.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_provider::{AccessRecord, SigningKey};
use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::FutureExt as _;
use serde_json::{Map, Value};

use crate::server::Shared;

/// The JWS algorithms a key can really sign with.
const SIGNING_ALGS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Computes an HMAC for `HS256`, `HS384` or `HS512`; `None` for any other name.
fn hmac_sign(alg: &str, secret: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    let algorithm = match alg {
        "HS256" => hmac::HMAC_SHA256,
        "HS384" => hmac::HMAC_SHA384,
        "HS512" => hmac::HMAC_SHA512,
        _ => return None,
    };
    let key = hmac::Key::new(algorithm, secret);
    Some(hmac::sign(&key, message).as_ref().to_vec())
}

/// How long minted tokens live unless told otherwise, in seconds.
const DEFAULT_LIFETIME: i64 = 300;

/// Builds and signs one JWT. Get one from [`TestIssuer::token`](crate::TestIssuer::token).
///
/// It starts as a valid access token from the issuer, signed with the default key:
///
/// | header | value |
/// |---|---|
/// | `alg` | the key's algorithm (`RS256` for the default RSA key) |
/// | `typ` | `at+jwt` |
/// | `kid` | the key's id |
///
/// | claim | value |
/// |---|---|
/// | `iss` | [`TestIssuer::issuer`](crate::TestIssuer::issuer) |
/// | `sub` | `test-user` |
/// | `aud` | the issuer's audience (`test-api` unless the builder set another) |
/// | `exp`, `iat`, `nbf` | now + 300 s, now, now |
/// | `jti` | 32 random hex digits |
/// | `client_id` | `test-client` |
/// | `scope` | `openid profile` |
///
/// Every knob a negative test needs is a method: change or remove any claim or header,
/// sign with another key or algorithm, lie about the algorithm, MAC with a secret
/// ([`sign_hmac`](Self::sign_hmac)) or do not sign at all ([`unsigned`](Self::unsigned)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use auth_issuer::TestIssuer;
///
/// let issuer = TestIssuer::start().await;
/// let expired = issuer.token().sub("alice").expires_in(-60).sign();
/// let wrong_audience = issuer.token().aud("someone-else").sign();
/// let no_kid = issuer.token().kid(None).sign();
/// let es256 = issuer.token().key("ec-1").roles(&["admin"]).sign();
/// let confused = issuer
///     .token()
///     .sign_hs256_with(issuer.public_key_pem("rsa-1").as_bytes());
/// # let _ = (expired, wrong_audience, no_kid, es256, confused);
/// # }
/// ```
#[must_use = "a TokenBuilder does nothing until a finisher such as `sign()` is called"]
#[derive(Clone)]
pub struct TokenBuilder {
    shared: Arc<Shared>,
    key: SigningKey,
    signing_alg: &'static str,
    /// Set by [`Self::signing_alg`]: [`Self::key`] no longer resets the algorithm.
    signing_alg_pinned: bool,
    header: Map<String, Value>,
    /// Set when the test wrote the header `alg` itself: keep it when the key changes.
    header_alg_pinned: bool,
    /// Set when the test wrote the header `kid` itself: keep it when the key changes.
    header_kid_pinned: bool,
    claims: Map<String, Value>,
    now: i64,
}

impl fmt::Debug for TokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("key", &self.key.kid())
            .field("signing_alg", &self.signing_alg)
            .field("header", &JsonText(&self.header))
            .field("claims", &JsonText(&self.claims))
            .finish_non_exhaustive()
    }
}

/// Debug-formats a JSON map as compact JSON text.
struct JsonText<'a>(&'a Map<String, Value>);

impl fmt::Debug for JsonText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&to_json(self.0)))
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut buffer = vec![0; bytes];
    aws_lc_rs::rand::fill(&mut buffer).expect("the system random generator is available");
    buffer
}

/// `bytes` random bytes as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    random_bytes(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `base64url(header) "." base64url(payload)`.
fn signing_input(header: &[u8], payload: &[u8]) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    )
}

fn compact(signing_input: String, signature: &[u8]) -> String {
    let mut token = signing_input;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

/// Signs exactly `header` and `payload` (as base64url) with `key`'s default algorithm.
pub(crate) fn sign_raw(key: &SigningKey, header: &[u8], payload: &[u8]) -> String {
    let input = signing_input(header, payload);
    let signature = key
        .sign(key.algorithm(), input.as_bytes())
        .expect("a key signs with its own default algorithm");
    compact(input, &signature)
}

fn to_json(map: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(map).expect("a JSON map always serializes")
}

impl TokenBuilder {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let key = shared.provider.active_key();
        let now = unix_now();
        let mut header = Map::new();
        header.insert("alg".into(), key.algorithm().into());
        header.insert("typ".into(), "at+jwt".into());
        header.insert("kid".into(), key.kid().into());
        let mut claims = Map::new();
        claims.insert("iss".into(), shared.issuer.clone().into());
        claims.insert("sub".into(), "test-user".into());
        claims.insert("aud".into(), shared.audience.clone().into());
        claims.insert("exp".into(), (now + DEFAULT_LIFETIME).into());
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        claims.insert("jti".into(), random_hex(16).into());
        claims.insert("client_id".into(), "test-client".into());
        claims.insert("scope".into(), "openid profile".into());
        Self {
            signing_alg: key.algorithm(),
            signing_alg_pinned: false,
            key,
            shared,
            header,
            header_alg_pinned: false,
            header_kid_pinned: false,
            claims,
            now,
        }
    }

    // ----- claims -----

    /// Sets `sub`.
    #[allow(
        clippy::should_implement_trait,
        reason = "`sub` is the JWT claim, not subtraction"
    )]
    pub fn sub(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// Sets `aud`: a string, or an array such as `vec!["api-a", "api-b"]`.
    pub fn aud(self, aud: impl Into<Value>) -> Self {
        self.claim("aud", aud)
    }

    /// Sets `scope` (a space-separated string).
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// Sets `roles` to an array of strings.
    pub fn roles(self, roles: &[&str]) -> Self {
        self.claim("roles", roles)
    }

    /// Sets any claim, replacing the default if there is one. Any JSON value works, so
    /// `claim("exp", "tomorrow")` makes a token with a string `exp`. A DPoP-bound token is
    /// `claim("cnf", json!({"jkt": key.thumbprint()}))`; a step-up one
    /// `claim("acr", "urn:example:mfa").claim("auth_time", now)`.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim, default or not (`remove_claim("exp")` for a token that never expires).
    pub fn remove_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets `exp` to this Unix time.
    pub fn exp(self, exp: i64) -> Self {
        self.claim("exp", exp)
    }

    /// Sets `exp` to the builder's creation time plus `seconds`; negative means already
    /// expired.
    pub fn expires_in(self, seconds: i64) -> Self {
        let exp = self.now.saturating_add(seconds);
        self.exp(exp)
    }

    /// Sets `nbf` to this Unix time.
    pub fn nbf(self, nbf: i64) -> Self {
        self.claim("nbf", nbf)
    }

    /// Sets `iat` to this Unix time.
    pub fn iat(self, iat: i64) -> Self {
        self.claim("iat", iat)
    }

    // ----- keys and header -----

    /// Signs with the key `kid` (published, retired or removed). The header `alg` and `kid`
    /// follow the key unless they were set explicitly.
    ///
    /// # Panics
    ///
    /// If the issuer has no key `kid`.
    pub fn key(mut self, kid: &str) -> Self {
        let key = self
            .shared
            .provider
            .key(kid)
            .unwrap_or_else(|| panic!("auth-issuer: no key with kid {kid:?}"));
        if !self.signing_alg_pinned {
            self.signing_alg = key.algorithm();
        }
        if !self.header_alg_pinned {
            self.header.insert("alg".into(), self.signing_alg.into());
        }
        if !self.header_kid_pinned {
            self.header.insert("kid".into(), key.kid().into());
        }
        self.key = key;
        self
    }

    /// Really signs with this JWS algorithm and says so in the header: `RS256`, `RS384`,
    /// `RS512`, `PS256`, `PS384`, `PS512` with an RSA key, `ES256` with P-256, `ES384` with
    /// P-384, `EdDSA` with Ed25519.
    ///
    /// # Panics
    ///
    /// If `alg` is none of these. A key that cannot sign with `alg` makes
    /// [`sign`](Self::sign) panic.
    pub fn signing_alg(mut self, alg: &str) -> Self {
        let parsed = SIGNING_ALGS
            .into_iter()
            .find(|known| *known == alg)
            .unwrap_or_else(|| panic!("auth-issuer: unsupported signing algorithm {alg:?}"));
        self.signing_alg = parsed;
        self.signing_alg_pinned = true;
        if !self.header_alg_pinned {
            self.header.insert("alg".into(), parsed.into());
        }
        self
    }

    /// Overrides the header `alg` only; the signature is still made by the key with its
    /// real algorithm (for algorithm-confusion tests).
    pub fn alg(self, alg: &str) -> Self {
        self.header("alg", alg)
    }

    /// Sets the header `kid` to another value, or removes it with `None`. The signing key
    /// does not change.
    pub fn kid(self, kid: Option<&str>) -> Self {
        match kid {
            Some(kid) => self.header("kid", kid),
            None => self.remove_header("kid"),
        }
    }

    /// Sets the header `typ`, or removes it with `None` (default `at+jwt`).
    pub fn typ(self, typ: Option<&str>) -> Self {
        match typ {
            Some(typ) => self.header("typ", typ),
            None => self.remove_header("typ"),
        }
    }

    /// Sets any header parameter (`crit`, `jku`, `x5u`, ...). Setting `alg` or `kid` here
    /// pins it: a later [`key`](Self::key) no longer changes it.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.pin(name);
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a header parameter (`remove_header("alg")` for a header without one).
    pub fn remove_header(mut self, name: &str) -> Self {
        self.pin(name);
        self.header.remove(name);
        self
    }

    fn pin(&mut self, name: &str) {
        match name {
            "alg" => self.header_alg_pinned = true,
            "kid" => self.header_kid_pinned = true,
            _ => {}
        }
    }

    // ----- inspection -----

    /// The header as it would be signed now.
    #[must_use]
    pub fn header_json(&self) -> Value {
        Value::Object(self.header.clone())
    }

    /// The claims as they would be signed now.
    #[must_use]
    pub fn claims_json(&self) -> Value {
        Value::Object(self.claims.clone())
    }

    // ----- finishers -----

    /// Registers these claims under a fresh opaque access token (`opq_…`) instead of signing
    /// them: the issuer's introspection endpoint (`POST {path}/introspect`) then answers for it
    /// until its `exp`.
    #[must_use]
    pub fn sign_opaque(self) -> String {
        let token = format!("opq_{}", random_hex(24));
        let hash = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()));
        let claim = |name: &str| self.claims.get(name);
        let record = AccessRecord {
            jti: claim("jti")
                .and_then(Value::as_str)
                .map_or_else(|| random_hex(16), str::to_owned),
            authorization_id: None,
            client_id: claim("client_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            expires_at: claim("exp").and_then(Value::as_i64).unwrap_or(0),
            revoked: false,
            opaque: Some((hash, self.claims.clone())),
        };
        // The memory store answers at once.
        let stored = self
            .shared
            .store
            .insert_access_token(&record)
            .now_or_never();
        assert!(
            matches!(stored, Some(Ok(()))),
            "auth-issuer: the memory store refused an opaque token"
        );
        token
    }

    /// Signs with the key and algorithm chosen, returning the compact JWS
    /// (`header.payload.signature`). ECDSA signatures are in the JWS form `r || s`.
    ///
    /// # Panics
    ///
    /// If the algorithm chosen with [`signing_alg`](Self::signing_alg) does not suit the
    /// key.
    #[must_use]
    pub fn sign(self) -> String {
        let input = signing_input(&to_json(&self.header), &to_json(&self.claims));
        let signature = self
            .key
            .sign(self.signing_alg, input.as_bytes())
            .unwrap_or_else(|reason| panic!("auth-issuer: {reason}"));
        compact(input, &signature)
    }

    /// Sets the header `alg` to `HS256` and MACs with `secret`. Passing a public key (its
    /// PEM or DER) as the secret makes the classic RS256/HS256 key-confusion token.
    #[must_use]
    pub fn sign_hs256_with(self, secret: &[u8]) -> String {
        self.sign_hmac("HS256", secret)
    }

    /// Sets the header `alg` to `alg` and MACs with `secret`.
    ///
    /// # Panics
    ///
    /// If `alg` is not `HS256`, `HS384` or `HS512`.
    #[must_use]
    pub fn sign_hmac(mut self, alg: &str, secret: &[u8]) -> String {
        self.header.insert("alg".into(), alg.into());
        let input = signing_input(&to_json(&self.header), &to_json(&self.claims));
        let mac = hmac_sign(alg, secret, input.as_bytes())
            .unwrap_or_else(|| panic!("auth-issuer: {alg:?} is not HS256, HS384 or HS512"));
        compact(input, &mac)
    }

    /// Sets the header `alg` to `none` and returns `header.payload.` with an empty
    /// signature.
    #[must_use]
    pub fn unsigned(mut self) -> String {
        self.header.insert("alg".into(), "none".into());
        let input = signing_input(&to_json(&self.header), &to_json(&self.claims));
        compact(input, &[])
    }
}
