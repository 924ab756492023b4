//! DPoP (RFC 9449): access tokens bound to a key the client holds, so that a stolen copy of the
//! token is useless without the key.
//!
//! A DPoP client sends `Authorization: DPoP <token>` and, with every request, a fresh proof in
//! the `DPoP` header: a JWT signed by its key, naming the request (`htm`, `htu`), the time
//! (`iat`), a unique id (`jti`) and the token's hash (`ath`). The token carries the key's
//! thumbprint in `cnf.jkt`. With [`AuthenticatorBuilder::dpop`](crate::AuthenticatorBuilder::dpop),
//! every request is checked per RFC 9449 §4.3 and §7.1:
//!
//! - the proof: exactly one `DPoP` header holding a compact JWS; `typ` `dpop+jwt`; an
//!   asymmetric `alg` from the allow-list; a public `jwk` (no private members) that verifies
//!   the signature; `htm` equal to the request's method; `htu` equal to the request's URL
//!   without query and fragment, after normalisation, the URL built from the configured public
//!   URL (never from headers a client controls, unless [`DpopConfig::trust_forwarded_headers`]);
//!   `iat` within [`proof_lifetime`](DpopConfig::proof_lifetime) in the past and
//!   [`clock_skew`](DpopConfig::clock_skew) in the future; a `jti` not seen before within that
//!   window; `ath` the SHA-256 of the token; with [nonces](DpopConfig::nonces), a current
//!   server nonce;
//! - the binding: the token's `cnf.jkt` is the proof key's RFC 7638 thumbprint.
//!
//! Whatever the configuration, a token with `cnf` is never accepted as a bearer token (from
//! `Authorization: Bearer`, the session cookie, a query or a WebSocket subprotocol): its binding
//! is checked, or it is refused. The verified-token cache holds the token's verification only;
//! the proof is checked on every request, cache hit or not.
//!
//! Failures are 401 with the `DPoP` challenge (`error="invalid_dpop_proof"`, the accepted
//! `algs`), `use_dpop_nonce` with a fresh `DPoP-Nonce` header, or `invalid_token` for a token
//! that is not bound, or bound to another key.
//!
//! Replay detection is per process: with several replicas, turn on [nonces](DpopConfig::nonces)
//! with a shared secret, which bounds a replay on another replica to the nonce's validity (two
//! nonce windows, 120 s by default). The replay cache is bounded
//! ([`replay_cache_capacity`](DpopConfig::replay_cache_capacity)); when it is full of proofs
//! still within their lifetime, new proofs are refused (429 `rate_limited`), never let through
//! unrecorded.
//!
//! A client makes its proofs with [`ClientKey::dpop_proof`](crate::ClientKey::dpop_proof).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::adapter::{self, RequestView};
use crate::alg::Algorithm;
use crate::config::{ConfigError, Secret};
use crate::error::{AuthError, ErrorCode};

/// The largest proof read (a proof with an RSA-4096 key is about 1.5 KB).
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// The longest `jti` accepted.
const MAX_JTI_BYTES: usize = 256;

/// How DPoP proofs are checked. Build with [`DpopConfig::new`] and the setters, or
/// [`DpopConfig::from_env`]; give it to
/// [`AuthenticatorBuilder::dpop`](crate::AuthenticatorBuilder::dpop).
///
/// | setting | default | why |
/// |---|---|---|
/// | required | no: `Bearer` still accepted for unbound tokens | providers bind tokens per client |
/// | algorithms | `ES256`, `ES384`, `EdDSA`, `PS256`, `RS256` | asymmetric only (RFC 9449 §4.2) |
/// | proof lifetime | 300 s | RFC 9449 §11.1's "a few minutes" |
/// | clock skew | 5 s | a proof from the future is refused beyond it |
/// | nonces | off | on, every proof needs a current server nonce (RFC 9449 §9) |
/// | public URL | the app URL | what `htu` must name |
/// | replay cache | 1,000,000 proofs (about 60 MB when full) | 3,000 proofs/s per process over a 305 s window; full, new proofs are refused |
#[derive(Clone)]
#[must_use]
pub struct DpopConfig {
    required: bool,
    algorithms: Vec<Algorithm>,
    proof_lifetime: Duration,
    clock_skew: Duration,
    nonce: Option<(Secret, Duration)>,
    public_url: Option<String>,
    trust_forwarded: bool,
    replay_capacity: u64,
}

impl fmt::Debug for DpopConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopConfig")
            .field("required", &self.required)
            .field("algorithms", &self.algorithms)
            .field("proof_lifetime", &self.proof_lifetime)
            .field("clock_skew", &self.clock_skew)
            .field("nonces", &self.nonce.as_ref().map(|(_, d)| d))
            .field("public_url", &self.public_url)
            .field("trust_forwarded", &self.trust_forwarded)
            .finish_non_exhaustive()
    }
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig::new()
    }
}

impl DpopConfig {
    /// DPoP accepted beside `Bearer`, with the defaults above.
    pub fn new() -> Self {
        DpopConfig {
            required: false,
            algorithms: vec![
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
                Algorithm::PS256,
                Algorithm::RS256,
            ],
            proof_lifetime: Duration::from_secs(300),
            clock_skew: Duration::from_secs(5),
            nonce: None,
            public_url: None,
            trust_forwarded: false,
            replay_capacity: 1_000_000,
        }
    }

    /// Reads `AUTH_DPOP` (`off`, the default: `None`; `on`; `required`), `AUTH_DPOP_ALGS`
    /// (comma-separated), `AUTH_DPOP_NONCE` (`1`: nonces on), `AUTH_DPOP_NONCE_SECRET` (at
    /// least 32 bytes, shared by replicas; default random per process), `AUTH_PUBLIC_URL` (the
    /// public URL `htu` names; default `APP_URL`) and `AUTH_TRUST_FORWARDED` (`1`).
    ///
    /// # Errors
    /// `config_invalid` naming the variable.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let flag =
            |name: &str| var(name).is_some_and(|v| matches!(v.as_str(), "1" | "true" | "on"));
        let mut config = match var("AUTH_DPOP").as_deref() {
            None | Some("off" | "0" | "false") => return Ok(None),
            Some("on" | "1" | "true" | "allowed") => DpopConfig::new(),
            Some("required") => DpopConfig::new().required(true),
            Some(_) => {
                return Err(ConfigError::new("AUTH_DPOP", "must be off, on or required"));
            }
        };
        if let Some(algs) = var("AUTH_DPOP_ALGS") {
            let mut list = Vec::new();
            for name in algs.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                match Algorithm::from_name(name) {
                    Some(alg) if !alg.is_symmetric() => list.push(alg),
                    _ => {
                        return Err(ConfigError::new(
                            "AUTH_DPOP_ALGS",
                            format!("{name:?} is not an asymmetric JWS algorithm"),
                        ));
                    }
                }
            }
            config = config.algorithms(list);
        }
        if flag("AUTH_DPOP_NONCE") {
            let secret = match var("AUTH_DPOP_NONCE_SECRET") {
                Some(s) if s.len() >= 32 => Secret::new(s),
                Some(_) => {
                    return Err(ConfigError::new(
                        "AUTH_DPOP_NONCE_SECRET",
                        "must be at least 32 characters",
                    ));
                }
                None => random_secret(),
            };
            config = config.nonces(secret, Duration::from_secs(60));
        }
        if let Some(url) = var("AUTH_PUBLIC_URL").or_else(|| var("APP_URL")) {
            config = config.public_url(url);
        }
        if flag("AUTH_TRUST_FORWARDED") {
            config = config.trust_forwarded_headers(true);
        }
        Ok(Some(config))
    }

    /// Whether DPoP is required: `Bearer` is then refused, bound or not (default: no).
    pub fn required(mut self, on: bool) -> Self {
        self.required = on;
        self
    }

    /// The proof algorithms accepted (symmetric ones are ignored: RFC 9449 §4.2).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms
            .into_iter()
            .filter(|a| !a.is_symmetric())
            .collect();
        self
    }

    /// How old a proof may be (its `iat`); also how long its `jti` is remembered.
    pub fn proof_lifetime(mut self, lifetime: Duration) -> Self {
        self.proof_lifetime = lifetime;
        self
    }

    /// How far in the future a proof's `iat` may lie (the client's clock running ahead).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Server-provided nonces (RFC 9449 §8, §9): every proof must carry a nonce this server
    /// issued (in the `DPoP-Nonce` header of its answers) within the last two `lifetime`
    /// windows. Nonces are stateless (an HMAC of the window under `secret`), so replicas that
    /// share `secret` accept each other's.
    pub fn nonces(mut self, secret: Secret, lifetime: Duration) -> Self {
        self.nonce = Some((secret, lifetime.max(Duration::from_secs(1))));
        self
    }

    /// The public URL of the application (`https://api.example.com`, or with the path prefix a
    /// proxy strips, `https://example.com/api`): a proof's `htu` must be it followed by the
    /// request's path. Default: the session's app URL, or the protected resource's identifier.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Builds the request's URL from `Forwarded` (or `X-Forwarded-Proto` / `X-Forwarded-Host`)
    /// and `Host` when no public URL is configured. Only behind a proxy that sets these headers
    /// itself: a client can otherwise make its proof for another server pass here.
    pub fn trust_forwarded_headers(mut self, on: bool) -> Self {
        self.trust_forwarded = on;
        self
    }

    /// How many proofs the replay cache remembers at most (default 1,000,000): a proof is
    /// remembered until its `iat` plus the proof lifetime and the skew. When the cache is full
    /// of proofs still within their lifetime, new proofs are refused (429 `rate_limited`) rather
    /// than accepted without being remembered. Size it for your DPoP request rate × 305 s.
    pub fn replay_cache_capacity(mut self, entries: u64) -> Self {
        self.replay_capacity = entries.max(1);
        self
    }

    /// Whether a public URL is set.
    pub(crate) fn has_public_url(&self) -> bool {
        self.public_url.is_some()
    }

    /// Whether forwarding headers are trusted.
    pub(crate) fn trusts_forwarded_headers(&self) -> bool {
        self.trust_forwarded
    }

    /// Whether DPoP is required.
    #[must_use]
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The accepted proof algorithms.
    #[must_use]
    pub fn algorithm_list(&self) -> &[Algorithm] {
        &self.algorithms
    }
}

fn random_secret() -> Secret {
    let mut bytes = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // allow-panic: the system RNG failing is not recoverable; never fall back to a weak value.
        panic!("auth-core: the system random number generator failed");
    }
    Secret::new(URL_SAFE_NO_PAD.encode(bytes))
}

/// A proof that passed: what the request proved.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key (base64url SHA-256).
    pub jkt: String,
}

/// The checks of DPoP proofs, with their replay cache and nonce key. Cheap to clone.
#[derive(Clone)]
pub struct DpopVerifier {
    inner: Arc<VerifierInner>,
}

struct VerifierInner {
    config: DpopConfig,
    /// `algs` of the challenge.
    algs: String,
    /// The public URL, parsed, without a trailing slash in its path.
    base: Option<url::Url>,
    replay: ReplayCache,
    /// Checked proof headers (their SHA-256) and their keys.
    keys: quick_cache::sync::Cache<[u8; 32], Arc<ProofKey>>,
    nonce_key: Option<(hmac::Key, u64)>,
}

/// A proof header that passed its checks: the algorithm, the parsed public key and its
/// RFC 7638 thumbprint.
struct ProofKey {
    alg: Algorithm,
    key: aws_lc_rs::signature::ParsedPublicKey,
    jkt: String,
}

/// How many checked proof headers (client keys) are kept.
const KEY_CACHE_ENTRIES: usize = 10_000;

impl fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn invalid(message: &'static str) -> AuthError {
    AuthError::new(ErrorCode::InvalidDpopProof, message)
}

/// What a proof's payload holds.
#[derive(serde::Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<f64>,
    ath: Option<String>,
    nonce: Option<String>,
}

/// What a proof's header holds.
#[derive(serde::Deserialize)]
struct ProofHeader {
    typ: Option<String>,
    alg: Option<String>,
    jwk: Option<Value>,
    crit: Option<serde::de::IgnoredAny>,
}

impl DpopVerifier {
    /// The verifier for `config`.
    ///
    /// # Errors
    /// `config_invalid` for a public URL that is not an absolute `http(s)` URL, or no algorithm.
    pub fn new(config: DpopConfig) -> Result<Self, ConfigError> {
        if config.algorithms.is_empty() {
            return Err(ConfigError::new(
                "AUTH_DPOP_ALGS",
                "at least one asymmetric algorithm is needed",
            ));
        }
        let base = match &config.public_url {
            Some(raw) => {
                let url = url::Url::parse(raw.trim())
                    .map_err(|_| ConfigError::new("AUTH_PUBLIC_URL", "is not an absolute URL"))?;
                if !matches!(url.scheme(), "http" | "https")
                    || url.host_str().is_none()
                    || url.query().is_some()
                    || url.fragment().is_some()
                {
                    return Err(ConfigError::new(
                        "AUTH_PUBLIC_URL",
                        "must be an http(s) URL without query or fragment",
                    ));
                }
                Some(url)
            }
            None => None,
        };
        let algs = config
            .algorithms
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let replay = ReplayCache::new(config.replay_capacity);
        let nonce_key = config.nonce.as_ref().map(|(secret, lifetime)| {
            (
                hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes()),
                lifetime.as_secs().max(1),
            )
        });
        Ok(DpopVerifier {
            inner: Arc::new(VerifierInner {
                config,
                algs,
                base,
                replay,
                keys: quick_cache::sync::Cache::new(KEY_CACHE_ENTRIES),
                nonce_key,
            }),
        })
    }

    /// The configuration.
    #[must_use = "the configuration is only read"]
    pub fn config(&self) -> &DpopConfig {
        &self.inner.config
    }

    /// The accepted algorithms, space-separated (the challenge's `algs`).
    #[must_use]
    pub fn algs(&self) -> &str {
        &self.inner.algs
    }

    /// The nonce to hand out now (`DPoP-Nonce`), when nonces are on.
    #[must_use]
    pub fn current_nonce(&self, now: SystemTime) -> Option<String> {
        let (key, lifetime) = self.inner.nonce_key.as_ref()?;
        Some(nonce_for(key, secs(now) / lifetime))
    }

    fn nonce_is_current(&self, nonce: &str, now: SystemTime) -> bool {
        let Some((key, lifetime)) = &self.inner.nonce_key else {
            return true;
        };
        let window = secs(now) / lifetime;
        [window, window.saturating_sub(1)]
            .iter()
            .any(|w| constant_time_eq(nonce_for(key, *w).as_bytes(), nonce.as_bytes()))
    }

    /// The URL a proof for `req` must name in `htu`: the public URL followed by the request's
    /// path, or, when trusted, the URL the forwarding headers describe.
    ///
    /// # Errors
    /// `invalid_dpop_proof` when the URL cannot be built (no public URL and no usable `Host`).
    pub fn request_url(&self, req: &impl RequestView) -> Result<url::Url, AuthError> {
        let path = req.path();
        let path = if path.starts_with('/') { path } else { "/" };
        if let Some(base) = &self.inner.base {
            let mut url = base.clone();
            let joined = format!("{}{path}", base.path().trim_end_matches('/'));
            url.set_path(&joined);
            return Ok(url);
        }
        if !self.inner.config.trust_forwarded {
            return Err(invalid(
                "the server cannot check htu: no public URL is configured",
            ));
        }
        let (proto, host) = forwarded(req);
        let host = host
            .or_else(|| adapter::first_header(req, "host"))
            .ok_or_else(|| invalid("the request has no Host"))?;
        let proto = proto.unwrap_or_else(|| "http".to_owned());
        url::Url::parse(&format!("{proto}://{host}{path}"))
            .map_err(|_| invalid("the request URL cannot be built from its headers"))
    }

    /// The checked header of a proof, and its parsed key: from the cache when this exact header
    /// was checked before (a client sends the same header, its key, with every proof), so that
    /// its JSON, the key and the thumbprint are read once per key, not once per request.
    fn proof_key(&self, header_segment: &str) -> Result<Arc<ProofKey>, AuthError> {
        let id = {
            let digest = digest::digest(&digest::SHA256, header_segment.as_bytes());
            let mut id = [0u8; 32];
            id.copy_from_slice(digest.as_ref());
            id
        };
        if let Some(known) = self.inner.keys.get(&id) {
            return Ok(known);
        }
        let config = &self.inner.config;
        let header_bytes = crate::b64::decode_vec(header_segment.as_bytes())
            .ok_or_else(|| invalid("the DPoP proof's header is not base64url"))?;
        crate::json::check_strict_object(&header_bytes)
            .map_err(|_| invalid("the DPoP proof's header is not a JSON object"))?;
        let header: ProofHeader = serde_json::from_slice(&header_bytes)
            .map_err(|_| invalid("the DPoP proof's header is malformed"))?;
        // RFC 7515 §4.1.9: the `application/` prefix may be left out, or not.
        let typ = header.typ.as_deref().map(|t| {
            t.get(..12)
                .filter(|p| p.eq_ignore_ascii_case("application/"))
                .map_or(t, |_| &t[12..])
        });
        if !typ.is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt")) {
            return Err(invalid("the DPoP proof's typ is not dpop+jwt"));
        }
        if header.crit.is_some() {
            return Err(invalid("the DPoP proof has critical header parameters"));
        }
        let alg = header
            .alg
            .as_deref()
            .and_then(Algorithm::from_name)
            .filter(|a| config.algorithms.contains(a))
            .ok_or_else(|| invalid("the DPoP proof's algorithm is not accepted"))?;
        let jwk = match header.jwk {
            Some(Value::Object(jwk)) => jwk,
            _ => return Err(invalid("the DPoP proof has no jwk")),
        };
        let jkt = crate::jwk::thumbprint(&jwk);
        let key = crate::jwk::parse_public_jwk(&Value::Object(jwk), alg).map_err(|why| {
            tracing::debug!(reason = why, "DPoP proof key refused");
            invalid("the DPoP proof's jwk is not a usable public key")
        })?;
        let checked = Arc::new(ProofKey { alg, key, jkt });
        self.inner.keys.insert(id, Arc::clone(&checked));
        Ok(checked)
    }

    /// Checks the request's proof (RFC 9449 §4.3): `access_token` is the token it must hash
    /// (`ath`), `None` at a token endpoint.
    ///
    /// # Errors
    /// `invalid_dpop_proof` for a missing, repeated, malformed, misdirected, stale, replayed or
    /// badly signed proof; `use_dpop_nonce` when a current nonce is needed.
    pub fn verify_request(
        &self,
        req: &impl RequestView,
        access_token: Option<&str>,
        expected_jkt: Option<&str>,
        now: SystemTime,
    ) -> Result<VerifiedProof, AuthError> {
        let mut proofs = 0usize;
        let mut proof = None;
        req.for_each_header("dpop", &mut |value| {
            proofs += 1;
            if proofs == 1 {
                proof = Some(adapter::text(value).into_owned());
            }
        });
        let proof = match (proofs, proof) {
            (1, Some(proof)) => proof,
            (0, _) => return Err(invalid("the DPoP proof is missing")),
            _ => return Err(invalid("more than one DPoP proof")),
        };
        let url = self.request_url(req)?;
        self.verify(&proof, req.method(), &url, access_token, expected_jkt, now)
    }

    /// Checks one proof for a request with `method` to `url` (query and fragment ignored).
    /// With `expected_jkt` (the token's `cnf.jkt`), a proof by another key is refused before it
    /// is remembered: only the key's holder can fill the replay cache.
    ///
    /// # Errors
    /// As [`verify_request`](Self::verify_request); `token_invalid` (reason `key_binding`) for a
    /// proof by another key than `expected_jkt`.
    pub fn verify(
        &self,
        proof: &str,
        method: &str,
        url: &url::Url,
        access_token: Option<&str>,
        expected_jkt: Option<&str>,
        now: SystemTime,
    ) -> Result<VerifiedProof, AuthError> {
        let config = &self.inner.config;
        let proof = proof.trim_matches([' ', '\t']);
        if proof.len() > MAX_PROOF_BYTES {
            return Err(invalid("the DPoP proof is too large"));
        }
        let mut parts = proof.split('.');
        let (Some(h), Some(p), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the DPoP proof is not a compact JWS"));
        };
        if h.is_empty() || p.is_empty() || sig.is_empty() {
            return Err(invalid("the DPoP proof is not a signed JWT"));
        }
        let proof_key = self.proof_key(h)?;
        let (alg, key) = (proof_key.alg, &proof_key.key);
        let signature = crate::jws::decode_signature(sig, alg)
            .map_err(|_| invalid("the DPoP proof's signature is malformed"))?;
        let signing_input = &proof[..h.len() + 1 + p.len()];
        crate::jws::verify_signature(key, signing_input, signature.as_slice())
            .map_err(|_| invalid("the DPoP proof's signature is invalid"))?;
        let payload = crate::b64::decode_vec(p.as_bytes())
            .ok_or_else(|| invalid("the DPoP proof's payload is not base64url"))?;
        crate::json::check_strict_object(&payload)
            .map_err(|_| invalid("the DPoP proof's payload is not a JSON object"))?;
        let claims: ProofClaims = serde_json::from_slice(&payload)
            .map_err(|_| invalid("the DPoP proof's claims are malformed"))?;
        let jti = claims
            .jti
            .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_BYTES)
            .ok_or_else(|| invalid("the DPoP proof has no usable jti"))?;
        if claims.htm.as_deref() != Some(method) {
            return Err(invalid("the DPoP proof is for another method (htm)"));
        }
        let htu = claims
            .htu
            .as_deref()
            .ok_or_else(|| invalid("the DPoP proof has no htu"))?;
        if !same_target(htu, url) {
            return Err(invalid("the DPoP proof is for another URL (htu)"));
        }
        let iat = claims
            .iat
            .filter(|i| i.is_finite())
            .ok_or_else(|| invalid("the DPoP proof has no iat"))?;
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if iat > now_secs + config.clock_skew.as_secs_f64() {
            return Err(invalid("the DPoP proof is dated in the future"));
        }
        if iat < now_secs - config.proof_lifetime.as_secs_f64() {
            return Err(invalid("the DPoP proof is too old"));
        }
        match (access_token, claims.ath.as_deref()) {
            (Some(token), Some(ath)) => {
                let expected =
                    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()));
                if !constant_time_eq(expected.as_bytes(), ath.as_bytes()) {
                    return Err(invalid("the DPoP proof is for another access token (ath)"));
                }
            }
            (Some(_), None) => return Err(invalid("the DPoP proof has no ath")),
            (None, _) => {}
        }
        if self.inner.nonce_key.is_some() {
            match claims.nonce.as_deref() {
                Some(nonce) if self.nonce_is_current(nonce, now) => {}
                Some(_) => {
                    return Err(AuthError::new(
                        ErrorCode::UseDpopNonce,
                        "the DPoP nonce is stale: use the one in DPoP-Nonce",
                    ));
                }
                None => {
                    return Err(AuthError::new(
                        ErrorCode::UseDpopNonce,
                        "a DPoP nonce is required: use the one in DPoP-Nonce",
                    ));
                }
            }
        }
        let jkt = proof_key.jkt.clone();
        if let Some(expected) = expected_jkt
            && !constant_time_eq(expected.as_bytes(), jkt.as_bytes())
        {
            return Err(AuthError::invalid_token(
                crate::TokenInvalidReason::KeyBinding,
                "the DPoP proof is signed by another key than the one the token is bound to",
            )
            .for_dpop());
        }
        // Last, once the proof is known good: a bad proof never uses up its `jti`. It is
        // remembered until it could not pass the `iat` check any more.
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(jkt.as_bytes());
        ctx.update(b".");
        ctx.update(jti.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        let until = (iat.max(0.0) as u64)
            .saturating_add(config.proof_lifetime.as_secs())
            .saturating_add(config.clock_skew.as_secs())
            .saturating_add(1);
        match self.inner.replay.insert(key, until, secs(now)) {
            Remembered::New => {}
            Remembered::Seen => return Err(invalid("the DPoP proof was used before (jti)")),
            Remembered::Full => {
                tracing::warn!(
                    "the DPoP replay cache is full: proofs are refused until entries expire (DpopConfig::replay_cache_capacity)"
                );
                return Err(AuthError::new(
                    ErrorCode::RateLimited,
                    "too many DPoP proofs right now: retry shortly",
                )
                .with_retry_after(5));
            }
        }
        Ok(VerifiedProof { jkt })
    }
}

/// Whether `htu` names `expected`, query and fragment ignored, after RFC 3986 normalisation
/// (scheme and host case, default port, dot segments, percent-encoding case).
fn same_target(htu: &str, expected: &url::Url) -> bool {
    let Ok(mut htu) = url::Url::parse(htu) else {
        return false;
    };
    if htu.cannot_be_a_base() || !matches!(htu.scheme(), "http" | "https") {
        return false;
    }
    htu.set_query(None);
    htu.set_fragment(None);
    let mut expected = expected.clone();
    expected.set_query(None);
    expected.set_fragment(None);
    htu.scheme() == expected.scheme()
        && htu.host() == expected.host()
        && htu.port_or_known_default() == expected.port_or_known_default()
        && normal_path(htu.path()) == normal_path(expected.path())
}

/// A path with percent-encodings of unreserved characters decoded and the others upper-cased
/// (RFC 3986 §6.2.2.1, §6.2.2.2).
fn normal_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            let b = hi * 16 + lo;
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push('%');
                out.push(char::from(bytes[i + 1]).to_ascii_uppercase());
                out.push(char::from(bytes[i + 2]).to_ascii_uppercase());
            }
            i += 3;
        } else {
            out.push(char::from(bytes[i]));
            i += 1;
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// The scheme and host of the last `Forwarded` element (RFC 7239: each proxy appends its own,
/// so the last is the one the nearest proxy, yours, added), or of the last `X-Forwarded-Proto`
/// and `X-Forwarded-Host` values.
fn forwarded(req: &impl RequestView) -> (Option<String>, Option<String>) {
    if let Some(element) = last_value(req, "forwarded") {
        let mut proto = None;
        let mut host = None;
        for pair in element.split(';') {
            if let Some((name, v)) = pair.trim().split_once('=') {
                let v = v.trim().trim_matches('"').to_owned();
                match name.trim().to_ascii_lowercase().as_str() {
                    "proto" => proto = Some(v),
                    "host" => host = Some(v),
                    _ => {}
                }
            }
        }
        if proto.is_some() || host.is_some() {
            return (
                proto.filter(|p| matches!(p.as_str(), "http" | "https")),
                host,
            );
        }
    }
    (
        last_value(req, "x-forwarded-proto").filter(|p| matches!(p.as_str(), "http" | "https")),
        last_value(req, "x-forwarded-host"),
    )
}

/// The last comma-separated element of every value of header `name`.
fn last_value(req: &impl RequestView, name: &str) -> Option<String> {
    let mut last = None;
    req.for_each_header(name, &mut |value| {
        if let Some(element) = adapter::text(value)
            .rsplit(',')
            .map(str::trim)
            .find(|e| !e.is_empty())
        {
            last = Some(element.to_owned());
        }
    });
    last
}

/// Whether a proof id was new, seen before, or could not be remembered.
enum Remembered {
    New,
    Seen,
    Full,
}

/// The proofs seen within their lifetime: `jti` (with the key) → until when. Sharded maps,
/// bounded: a full shard first drops its expired entries, and if it is still full, a new
/// proof is refused (never accepted unremembered, which an eviction policy would do).
struct ReplayCache {
    shards: Box<[std::sync::Mutex<ProofIds>]>,
    per_shard: usize,
}

const REPLAY_SHARDS: usize = 16;

/// A shard: proof id → the second it stops mattering.
type ProofIds = std::collections::HashMap<[u8; 32], u64>;

impl ReplayCache {
    fn new(capacity: u64) -> ReplayCache {
        let per_shard = usize::try_from(capacity)
            .unwrap_or(usize::MAX)
            .div_ceil(REPLAY_SHARDS)
            .max(1);
        ReplayCache {
            shards: (0..REPLAY_SHARDS)
                .map(|_| std::sync::Mutex::new(std::collections::HashMap::new()))
                .collect(),
            per_shard,
        }
    }

    fn insert(&self, key: [u8; 32], until: u64, now: u64) -> Remembered {
        let shard = &self.shards[usize::from(key[0]) % REPLAY_SHARDS];
        let mut map = match shard.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        match map.get(&key) {
            Some(&expiry) if expiry > now => return Remembered::Seen,
            _ => {}
        }
        if map.len() >= self.per_shard && !map.contains_key(&key) {
            map.retain(|_, expiry| *expiry > now);
            if map.len() >= self.per_shard {
                return Remembered::Full;
            }
        }
        map.insert(key, until);
        Remembered::New
    }
}

fn secs(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn nonce_for(key: &hmac::Key, window: u64) -> String {
    let tag = hmac::sign(key, &window.to_be_bytes());
    URL_SAFE_NO_PAD.encode(&tag.as_ref()[..18])
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Builds a DPoP proof: what [`ClientKey::dpop_proof`](crate::ClientKey::dpop_proof) signs.
pub(crate) fn proof_parts(
    alg: Algorithm,
    jwk: &Map<String, Value>,
    method: &str,
    url: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
) -> Result<(String, String), AuthError> {
    let mut htu = url::Url::parse(url).map_err(|_| {
        AuthError::new(
            ErrorCode::InvalidRequest,
            "the DPoP target is not an absolute URL",
        )
    })?;
    htu.set_query(None);
    htu.set_fragment(None);
    let mut jti = [0u8; 16];
    aws_lc_rs::rand::fill(&mut jti)
        .map_err(|_| AuthError::new(ErrorCode::Unknown, "the random number generator failed"))?;
    let header = serde_json::json!({ "typ": "dpop+jwt", "alg": alg.as_str(), "jwk": jwk });
    let mut claims = serde_json::json!({
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "htm": method,
        "htu": htu.as_str(),
        "iat": secs(SystemTime::now()),
    });
    if let Some(token) = access_token {
        claims["ath"] = Value::String(
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes())),
        );
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = Value::String(nonce.to_owned());
    }
    Ok((header.to_string(), claims.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_compare_after_normalisation() {
        let expected =
            url::Url::parse("https://api.example.com/a/b%7e").unwrap_or_else(|_| unreachable!());
        for same in [
            "https://api.example.com/a/b~",
            "HTTPS://API.EXAMPLE.COM:443/a/b%7E",
            "https://api.example.com/a/b~?x=1#f",
            "https://api.example.com/a/./b~",
        ] {
            assert!(same_target(same, &expected), "{same}");
        }
        for other in [
            "https://api.example.com/a/b",
            "http://api.example.com/a/b~",
            "https://api.example.com:8443/a/b~",
            "https://evil.example.com/a/b~",
            "/a/b~",
            "mailto:x@example.com",
        ] {
            assert!(!same_target(other, &expected), "{other}");
        }
    }

    fn verifier() -> DpopVerifier {
        DpopVerifier::new(DpopConfig::new().public_url("https://api.example.com/base/"))
            .unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn a_client_key_proof_passes_once() {
        let key = crate::ClientKey::generate(Algorithm::ES256).unwrap_or_else(|_| unreachable!());
        let v = verifier();
        let req = crate::adapter::SimpleRequest::get("/orders?page=2");
        let url = v.request_url(&req).unwrap_or_else(|_| unreachable!());
        assert_eq!(url.as_str(), "https://api.example.com/base/orders");
        let proof = key
            .dpop_proof(
                "GET",
                "https://api.example.com/base/orders?page=3",
                Some("tok"),
                None,
            )
            .unwrap_or_default();
        let req = req.header("dpop", &proof);
        let now = SystemTime::now();
        let ok = v.verify_request(&req, Some("tok"), None, now);
        assert_eq!(ok.map(|p| p.jkt).ok(), Some(key.thumbprint()));
        let replay = v.verify_request(&req, Some("tok"), None, now);
        assert_eq!(
            replay.map_err(|e| e.code()),
            Err(ErrorCode::InvalidDpopProof)
        );
        let fresh = key
            .dpop_proof(
                "GET",
                "https://api.example.com/base/orders",
                Some("tok"),
                None,
            )
            .unwrap_or_default();
        let req = crate::adapter::SimpleRequest::get("/orders").header("dpop", &fresh);
        assert!(
            v.verify_request(&req, Some("other"), None, now).is_err(),
            "ath"
        );
        let late = now + Duration::from_secs(400);
        let req = crate::adapter::SimpleRequest::get("/orders").header("dpop", &fresh);
        assert!(
            v.verify_request(&req, Some("tok"), None, late).is_err(),
            "stale"
        );
    }

    #[test]
    fn forwarded_headers_count_only_when_trusted() {
        let req = crate::adapter::SimpleRequest::get("/a")
            .header("host", "internal:8080")
            // A client's own element first, then the one the proxy appended: the last counts.
            .header(
                "forwarded",
                "proto=http;host=evil.example, for=5.6.7.8;proto=https;host=api.example.com",
            );
        let untrusted = DpopVerifier::new(DpopConfig::new()).unwrap_or_else(|_| unreachable!());
        assert!(
            untrusted.request_url(&req).is_err(),
            "no public URL, no trust"
        );
        let trusted = DpopVerifier::new(DpopConfig::new().trust_forwarded_headers(true))
            .unwrap_or_else(|_| unreachable!());
        let url = trusted
            .request_url(&req)
            .map(|u| u.to_string())
            .unwrap_or_default();
        assert_eq!(url, "https://api.example.com/a");
        let req = crate::adapter::SimpleRequest::get("/b")
            .header("host", "internal:8080")
            .header("x-forwarded-proto", "http, https")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-host", "api.example.com");
        let url = trusted
            .request_url(&req)
            .map(|u| u.to_string())
            .unwrap_or_default();
        assert_eq!(url, "https://api.example.com/b");
        let req = crate::adapter::SimpleRequest::get("/c").header("host", "internal:8080");
        let url = trusted
            .request_url(&req)
            .map(|u| u.to_string())
            .unwrap_or_default();
        assert_eq!(url, "http://internal:8080/c");
        // A configured public URL wins over any header.
        let configured = verifier();
        let url = configured
            .request_url(&req)
            .map(|u| u.to_string())
            .unwrap_or_default();
        assert_eq!(url, "https://api.example.com/base/c");
    }

    #[test]
    fn a_full_replay_cache_refuses_rather_than_forgets() {
        let cache = ReplayCache::new(REPLAY_SHARDS as u64); // one proof per shard
        let key = |i: u8| {
            let mut k = [0u8; 32];
            k[0] = i;
            k[1] = 1;
            k
        };
        assert!(matches!(cache.insert(key(0), 100, 10), Remembered::New));
        assert!(matches!(cache.insert(key(0), 100, 10), Remembered::Seen));
        // Same shard (16 apart), still live: refused, and the first is still remembered.
        assert!(matches!(cache.insert(key(16), 100, 10), Remembered::Full));
        assert!(matches!(cache.insert(key(0), 100, 50), Remembered::Seen));
        // Once the first has expired, its place is free again.
        assert!(matches!(cache.insert(key(16), 200, 100), Remembered::New));
        assert!(matches!(cache.insert(key(16), 200, 150), Remembered::Seen));
    }

    #[test]
    fn a_proof_by_another_key_is_refused_before_it_is_remembered() {
        let key = crate::ClientKey::generate(Algorithm::ES256).unwrap_or_else(|_| unreachable!());
        let v = verifier();
        let proof = key
            .dpop_proof("GET", "https://api.example.com/base/x", Some("tok"), None)
            .unwrap_or_default();
        let req = crate::adapter::SimpleRequest::get("/x").header("dpop", &proof);
        let now = SystemTime::now();
        let other = v.verify_request(&req, Some("tok"), Some("another-thumbprint"), now);
        assert_eq!(
            other.err().and_then(|e| e.reason()),
            Some(crate::TokenInvalidReason::KeyBinding)
        );
        // Not remembered: the same proof passes for its own key.
        assert!(
            v.verify_request(&req, Some("tok"), Some(&key.thumbprint()), now)
                .is_ok()
        );
    }

    #[test]
    fn nonces_last_two_windows() {
        let verifier = DpopVerifier::new(
            DpopConfig::new()
                .public_url("https://api.example.com")
                .nonces(
                    Secret::new("0123456789abcdef0123456789abcdef"),
                    Duration::from_secs(60),
                ),
        )
        .unwrap_or_else(|_| unreachable!());
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_020);
        let nonce = verifier.current_nonce(t0).unwrap_or_default();
        assert!(verifier.nonce_is_current(&nonce, t0));
        assert!(verifier.nonce_is_current(&nonce, t0 + Duration::from_secs(60)));
        assert!(!verifier.nonce_is_current(&nonce, t0 + Duration::from_secs(120)));
        assert!(!verifier.nonce_is_current("forged", t0));
    }
}
