//! Signing keys: generation, the process-wide pool, JWK / SPKI export and signing.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaEncoding,
    RsaKeyPair,
};
use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

/// The type and size of a signing key the issuer generates.
///
/// Each kind has a default JWS algorithm, used when a token is signed and advertised as the
/// JWK `alg`: `RS256` for the RSA sizes, `ES256` for [`KeySpec::P256`], `ES384` for
/// [`KeySpec::P384`] and `EdDSA` for [`KeySpec::Ed25519`]. An RSA key can also sign `RS384`,
/// `RS512`, `PS256`, `PS384` and `PS512` (see [`KeyOptions::alg`] and
/// [`TokenBuilder::signing_alg`](crate::TokenBuilder::signing_alg)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySpec {
    /// RSA with a 2048-bit modulus (`kty` `RSA`).
    Rsa2048,
    /// RSA with a 3072-bit modulus (`kty` `RSA`).
    Rsa3072,
    /// RSA with a 4096-bit modulus (`kty` `RSA`). Generating one takes seconds.
    Rsa4096,
    /// ECDSA on NIST P-256 (`kty` `EC`, `crv` `P-256`).
    P256,
    /// ECDSA on NIST P-384 (`kty` `EC`, `crv` `P-384`).
    P384,
    /// Ed25519 (`kty` `OKP`, `crv` `Ed25519`).
    Ed25519,
}

impl KeySpec {
    /// The JWS algorithm this kind of key signs with unless told otherwise.
    #[must_use]
    pub fn default_alg(self) -> &'static str {
        self.default_algorithm().name()
    }

    fn default_algorithm(self) -> Alg {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => Alg::Rs256,
            Self::P256 => Alg::Es256,
            Self::P384 => Alg::Es384,
            Self::Ed25519 => Alg::EdDsa,
        }
    }

    /// The prefix of generated key ids: `rsa`, `ec` or `ed`.
    pub(crate) fn kid_prefix(self) -> &'static str {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => "rsa",
            Self::P256 | Self::P384 => "ec",
            Self::Ed25519 => "ed",
        }
    }

    fn pool_index(self) -> usize {
        match self {
            Self::Rsa2048 => 0,
            Self::Rsa3072 => 1,
            Self::Rsa4096 => 2,
            Self::P256 => 3,
            Self::P384 => 4,
            Self::Ed25519 => 5,
        }
    }
}

/// Options for a key added with
/// [`TestIssuer::add_key_with`](crate::TestIssuer::add_key_with) or
/// [`TestIssuerBuilder::key_with`](crate::TestIssuerBuilder::key_with).
///
/// ```
/// use auth_issuer::KeyOptions;
///
/// // A key published without "alg" and "use", as some providers do.
/// let bare = KeyOptions::new().kid("legacy").alg_in_jwk(false).use_sig(false);
/// // An RSA key that signs PS256 by default and says so in its JWK.
/// let pss = KeyOptions::new().alg("PS256");
/// # let _ = (bare, pss);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct KeyOptions {
    kid: Option<String>,
    alg: Option<String>,
    alg_in_jwk: bool,
    use_sig: bool,
}

impl Default for KeyOptions {
    fn default() -> Self {
        Self {
            kid: None,
            alg: None,
            alg_in_jwk: true,
            use_sig: true,
        }
    }
}

impl KeyOptions {
    /// Default options: a generated kid, the key type's default algorithm, `"alg"` and
    /// `"use": "sig"` in the published JWK.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use this key id instead of a generated one (`rsa-2`, `ec-3`, ...).
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sign with this JWS algorithm by default and advertise it in the JWK.
    ///
    /// It must suit the key: `RS256`/`RS384`/`RS512`/`PS256`/`PS384`/`PS512` for RSA,
    /// `ES256` for P-256, `ES384` for P-384, `EdDSA` for Ed25519.
    pub fn alg(mut self, alg: impl Into<String>) -> Self {
        self.alg = Some(alg.into());
        self
    }

    /// Whether the published JWK carries an `"alg"` member (default `true`).
    pub fn alg_in_jwk(mut self, on: bool) -> Self {
        self.alg_in_jwk = on;
        self
    }

    /// Whether the published JWK carries `"use": "sig"` (default `true`).
    pub fn use_sig(mut self, on: bool) -> Self {
        self.use_sig = on;
        self
    }

    pub(crate) fn explicit_kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// A JWS algorithm the issuer can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
}

impl Alg {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "EdDSA" => Self::EdDsa,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
        }
    }

    fn rsa_encoding(self) -> Option<&'static dyn RsaEncoding> {
        Some(match self {
            Self::Rs256 => &signature::RSA_PKCS1_SHA256,
            Self::Rs384 => &signature::RSA_PKCS1_SHA384,
            Self::Rs512 => &signature::RSA_PKCS1_SHA512,
            Self::Ps256 => &signature::RSA_PSS_SHA256,
            Self::Ps384 => &signature::RSA_PSS_SHA384,
            Self::Ps512 => &signature::RSA_PSS_SHA512,
            Self::Es256 | Self::Es384 | Self::EdDsa => return None,
        })
    }

    /// The algorithm that checks a signature made with this JWS algorithm.
    fn verification(self) -> &'static dyn signature::VerificationAlgorithm {
        match self {
            Self::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            Self::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            Self::EdDsa => &signature::ED25519,
        }
    }

    /// The hash behind `at_hash` (OpenID Connect Core §3.1.3.6): the one the JWS algorithm
    /// uses, and SHA-512 for `EdDSA` with Ed25519.
    pub(crate) fn at_hash_digest(self) -> &'static digest::Algorithm {
        match self {
            Self::Rs256 | Self::Ps256 | Self::Es256 => &digest::SHA256,
            Self::Rs384 | Self::Ps384 | Self::Es384 => &digest::SHA384,
            Self::Rs512 | Self::Ps512 | Self::EdDsa => &digest::SHA512,
        }
    }
}

/// Computes an HMAC for `HS256`, `HS384` or `HS512`; `None` for any other name.
pub(crate) fn hmac_sign(alg: &str, secret: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    let algorithm = match alg {
        "HS256" => hmac::HMAC_SHA256,
        "HS384" => hmac::HMAC_SHA384,
        "HS512" => hmac::HMAC_SHA512,
        _ => return None,
    };
    let key = hmac::Key::new(algorithm, secret);
    Some(hmac::sign(&key, message).as_ref().to_vec())
}

enum Pair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Generated key material with its public parts precomputed.
pub(crate) struct KeyMaterial {
    spec: KeySpec,
    pair: Pair,
    spki_der: Vec<u8>,
    /// The public key in the form `UnparsedPublicKey` takes: PKCS#1 `RSAPublicKey` DER, an
    /// uncompressed EC point or the raw Ed25519 key.
    public_raw: Vec<u8>,
    /// The key-type members of the public JWK (`kty`, `n`, `e` / `crv`, `x`, `y`).
    jwk_params: Map<String, Value>,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(URL_SAFE_NO_PAD.encode(bytes))
}

fn spki<K: AsDer<PublicKeyX509Der<'static>>>(public: &K) -> Vec<u8> {
    public
        .as_der()
        .expect("aws-lc-rs encodes a public key it generated as SubjectPublicKeyInfo")
        .as_ref()
        .to_vec()
}

impl KeyMaterial {
    /// Generates fresh key material (slow for RSA: tens of milliseconds to seconds).
    pub(crate) fn generate(spec: KeySpec) -> Self {
        const GENERATE: &str = "aws-lc-rs failed to generate a key";
        let mut params = Map::new();
        let (pair, spki_der, public_raw) = match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let size = match spec {
                    KeySpec::Rsa2048 => KeySize::Rsa2048,
                    KeySpec::Rsa3072 => KeySize::Rsa3072,
                    _ => KeySize::Rsa4096,
                };
                let pair = RsaKeyPair::generate(size).expect(GENERATE);
                let public = pair.public_key();
                params.insert("kty".into(), "RSA".into());
                params.insert(
                    "n".into(),
                    b64(public.modulus().big_endian_without_leading_zero()),
                );
                params.insert(
                    "e".into(),
                    b64(public.exponent().big_endian_without_leading_zero()),
                );
                let der = spki(public);
                let raw = public.as_ref().to_vec();
                (Pair::Rsa(pair), der, raw)
            }
            KeySpec::P256 | KeySpec::P384 => {
                let (algorithm, crv): (&'static EcdsaSigningAlgorithm, _) = match spec {
                    KeySpec::P256 => (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256"),
                    _ => (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384"),
                };
                let pair = EcdsaKeyPair::generate(algorithm).expect(GENERATE);
                let public = pair.public_key();
                // Uncompressed SEC1 point: 0x04 || x || y.
                let point = public.as_ref();
                let coordinate = (point.len() - 1) / 2;
                params.insert("kty".into(), "EC".into());
                params.insert("crv".into(), crv.into());
                params.insert("x".into(), b64(&point[1..=coordinate]));
                params.insert("y".into(), b64(&point[1 + coordinate..]));
                let der = spki(public);
                let raw = point.to_vec();
                (Pair::Ecdsa(pair), der, raw)
            }
            KeySpec::Ed25519 => {
                let pair = Ed25519KeyPair::generate().expect(GENERATE);
                let public = pair.public_key();
                params.insert("kty".into(), "OKP".into());
                params.insert("crv".into(), "Ed25519".into());
                params.insert("x".into(), b64(public.as_ref()));
                let der = spki(public);
                let raw = public.as_ref().to_vec();
                (Pair::Ed25519(pair), der, raw)
            }
        };
        Self {
            spec,
            pair,
            spki_der,
            public_raw,
            jwk_params: params,
        }
    }

    fn supports(&self, alg: Alg) -> bool {
        match (&self.pair, alg) {
            (Pair::Rsa(_), alg) => alg.rsa_encoding().is_some(),
            (Pair::Ecdsa(_), Alg::Es256) => self.spec == KeySpec::P256,
            (Pair::Ecdsa(_), Alg::Es384) => self.spec == KeySpec::P384,
            (Pair::Ed25519(_), Alg::EdDsa) => true,
            _ => false,
        }
    }

    /// Signs `message`; the caller has checked `self.supports(alg)`.
    fn sign(&self, alg: Alg, message: &[u8]) -> Vec<u8> {
        const SIGN: &str = "aws-lc-rs failed to sign with a key it generated";
        match &self.pair {
            Pair::Rsa(pair) => {
                let encoding = alg
                    .rsa_encoding()
                    .expect("the algorithm was checked against the key");
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(encoding, &SystemRandom::new(), message, &mut signature)
                    .expect(SIGN);
                signature
            }
            // The *_FIXED algorithms produce the JWS form: r || s, each the curve's size.
            Pair::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), message)
                .expect(SIGN)
                .as_ref()
                .to_vec(),
            Pair::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
        }
    }
}

/// Process-wide pools of generated key material, one per [`KeySpec`].
///
/// Issuers started with the default keys (or with [`crate::TestIssuerBuilder::keys`]) draw
/// from here, so a test binary that starts a hundred issuers generates its RSA key once.
static POOLS: [Mutex<Vec<Arc<KeyMaterial>>>; 6] = [
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
];

/// The `index`-th pooled key of this kind, generated on first use.
pub(crate) fn pooled(spec: KeySpec, index: usize) -> Arc<KeyMaterial> {
    let mut pool = POOLS[spec.pool_index()]
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    while pool.len() <= index {
        pool.push(Arc::new(KeyMaterial::generate(spec)));
    }
    Arc::clone(&pool[index])
}

/// A key the issuer knows: material plus kid, default algorithm and JWK options.
pub(crate) struct SigningKey {
    kid: String,
    alg: Alg,
    material: Arc<KeyMaterial>,
    alg_in_jwk: bool,
    use_sig: bool,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg.name())
            .field("spec", &self.material.spec)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Wraps material; fails when `options` name an algorithm the key cannot sign with.
    pub(crate) fn new(
        material: Arc<KeyMaterial>,
        kid: String,
        options: &KeyOptions,
    ) -> Result<Self, String> {
        let alg = match &options.alg {
            None => material.spec.default_algorithm(),
            Some(name) => {
                let alg = Alg::parse(name)
                    .ok_or_else(|| format!("unsupported signing algorithm {name:?}"))?;
                if !material.supports(alg) {
                    return Err(format!("a {:?} key cannot sign with {name}", material.spec));
                }
                alg
            }
        };
        Ok(Self {
            kid,
            alg,
            material,
            alg_in_jwk: options.alg_in_jwk,
            use_sig: options.use_sig,
        })
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn alg(&self) -> Alg {
        self.alg
    }

    pub(crate) fn supports(&self, alg: Alg) -> bool {
        self.material.supports(alg)
    }

    /// Signs `message` with `alg`, or says why this key cannot.
    pub(crate) fn sign(&self, alg: Alg, message: &[u8]) -> Result<Vec<u8>, String> {
        if !self.supports(alg) {
            return Err(format!(
                "key {:?} ({:?}) cannot sign with {}",
                self.kid,
                self.material.spec,
                alg.name()
            ));
        }
        Ok(self.material.sign(alg, message))
    }

    /// Whether `signature` is a valid `alg` signature of `message` by this key.
    pub(crate) fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        self.supports(alg)
            && signature::UnparsedPublicKey::new(alg.verification(), &self.material.public_raw)
                .verify(message, signature)
                .is_ok()
    }

    /// The public JWK as published in the JWKS.
    pub(crate) fn public_jwk(&self) -> Value {
        let mut jwk = self.material.jwk_params.clone();
        jwk.insert("kid".into(), self.kid.clone().into());
        if self.use_sig {
            jwk.insert("use".into(), "sig".into());
        }
        if self.alg_in_jwk {
            jwk.insert("alg".into(), self.alg.name().into());
        }
        Value::Object(jwk)
    }

    pub(crate) fn spki_der(&self) -> &[u8] {
        &self.material.spki_der
    }

    /// The SubjectPublicKeyInfo as a PEM `PUBLIC KEY` block.
    pub(crate) fn public_key_pem(&self) -> String {
        let encoded = STANDARD.encode(&self.material.spki_der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in encoded.as_bytes().chunks(64) {
            // Base64 output is ASCII, so every chunk is valid UTF-8.
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }
}

struct Entry {
    key: Arc<SigningKey>,
    published: bool,
    retired: bool,
}

/// The issuer's keys in publication order, with the default signer.
#[derive(Default)]
pub(crate) struct KeyStore {
    entries: Vec<Entry>,
    default: Option<usize>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field(
                "kids",
                &self.entries.iter().map(|e| e.key.kid()).collect::<Vec<_>>(),
            )
            .field("default", &self.default_key().map(|k| k.kid().to_owned()))
            .finish()
    }
}

impl KeyStore {
    fn position(&self, kid: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.key.kid == kid)
    }

    fn entry_mut(&mut self, kid: &str) -> Option<(usize, &mut Entry)> {
        let index = self.position(kid)?;
        Some((index, &mut self.entries[index]))
    }

    /// A kid `{prefix}-{n}` not used yet, with the smallest `n >= 1`.
    pub(crate) fn next_kid(&self, spec: KeySpec) -> String {
        (1..)
            .map(|n| format!("{}-{n}", spec.kid_prefix()))
            .find(|kid| self.position(kid).is_none())
            .expect("an unbounded range always yields a free kid")
    }

    /// Adds and publishes a key; the first key added becomes the default signer.
    pub(crate) fn insert(&mut self, key: SigningKey) -> Result<(), String> {
        if self.position(&key.kid).is_some() {
            return Err(format!("a key with kid {:?} already exists", key.kid));
        }
        self.entries.push(Entry {
            key: Arc::new(key),
            published: true,
            retired: false,
        });
        if self.default.is_none() {
            self.default = Some(self.entries.len() - 1);
        }
        Ok(())
    }

    pub(crate) fn get(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.position(kid).map(|i| Arc::clone(&self.entries[i].key))
    }

    pub(crate) fn default_key(&self) -> Option<Arc<SigningKey>> {
        self.default.map(|i| Arc::clone(&self.entries[i].key))
    }

    /// Makes `kid` the default signer (un-retiring it). `false` if unknown.
    pub(crate) fn set_default(&mut self, kid: &str) -> bool {
        let Some((index, entry)) = self.entry_mut(kid) else {
            return false;
        };
        entry.retired = false;
        self.default = Some(index);
        true
    }

    /// Marks `kid` as retired: still published, no longer the default signer.
    pub(crate) fn retire(&mut self, kid: &str) -> bool {
        let Some((index, entry)) = self.entry_mut(kid) else {
            return false;
        };
        entry.retired = true;
        self.move_default_from(index);
        true
    }

    /// Unpublishes `kid` (and retires it); it can still sign when asked for by kid.
    pub(crate) fn remove(&mut self, kid: &str) -> bool {
        let Some((index, entry)) = self.entry_mut(kid) else {
            return false;
        };
        entry.published = false;
        entry.retired = true;
        self.move_default_from(index);
        true
    }

    /// If `index` is the default, hands that role to the most recently added key that is
    /// still published and not retired; when there is none the default stays where it is.
    fn move_default_from(&mut self, index: usize) {
        if self.default != Some(index) {
            return;
        }
        if let Some(next) = self.entries.iter().rposition(|e| e.published && !e.retired) {
            self.default = Some(next);
        }
    }

    /// Published keys in JWKS order.
    pub(crate) fn published(&self) -> impl Iterator<Item = &Arc<SigningKey>> {
        self.entries.iter().filter(|e| e.published).map(|e| &e.key)
    }
}

/// Whether `signature` is a valid `alg` signature of `message` by the public JWK `jwk` (a
/// client's registered key). The key's type must fit `alg`, and its `alg`, when present, equal it.
pub(crate) fn verify_with_jwk(
    jwk: &Map<String, Value>,
    alg: Alg,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let member = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    if jwk
        .get("alg")
        .and_then(Value::as_str)
        .is_some_and(|a| a != alg.name())
    {
        return false;
    }
    let kty = jwk.get("kty").and_then(Value::as_str);
    let crv = jwk.get("crv").and_then(Value::as_str);
    match alg {
        Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => {
            let (Some("RSA"), Some(n), Some(e)) = (kty, member("n"), member("e")) else {
                return false;
            };
            let params: &signature::RsaParameters = match alg {
                Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            signature::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, message, signature)
                .is_ok()
        }
        Alg::Es256 | Alg::Es384 => {
            let want = if alg == Alg::Es256 { "P-256" } else { "P-384" };
            let (Some("EC"), Some(crv), Some(x), Some(y)) = (kty, crv, member("x"), member("y"))
            else {
                return false;
            };
            if crv != want {
                return false;
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            signature::UnparsedPublicKey::new(alg.verification(), &point)
                .verify(message, signature)
                .is_ok()
        }
        Alg::EdDsa => {
            let (Some("OKP"), Some("Ed25519"), Some(x)) = (kty, crv, member("x")) else {
                return false;
            };
            signature::UnparsedPublicKey::new(&signature::ED25519, &x)
                .verify(message, signature)
                .is_ok()
        }
    }
}
