//! Signing keys: generation, PKCS#8 import, JWK / SPKI export, signing, and the provider's
//! key set (one active signer, others published for verification during a rotation).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaEncoding,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

/// The type and size of a signing key.
///
/// Each kind has a default JWS algorithm, used when a token is signed and advertised as the
/// JWK `alg`: `RS256` for the RSA sizes, `ES256` for [`KeySpec::P256`], `ES384` for
/// [`KeySpec::P384`] and `EdDSA` for [`KeySpec::Ed25519`]. An RSA key can also sign `RS384`,
/// `RS512`, `PS256`, `PS384` and `PS512` (see [`KeyOptions::alg`]).
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
    #[must_use]
    pub fn kid_prefix(self) -> &'static str {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => "rsa",
            Self::P256 | Self::P384 => "ec",
            Self::Ed25519 => "ed",
        }
    }
}

/// How a [`SigningKey`] signs and how its JWK is published.
///
/// ```
/// use auth_provider::KeyOptions;
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

    /// The kid set with [`kid`](Self::kid), if any.
    #[must_use]
    pub fn explicit_kid(&self) -> Option<&str> {
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

enum Pair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Key material with its public parts precomputed.
struct KeyMaterial {
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

fn ec_algorithm(spec: KeySpec) -> &'static EcdsaSigningAlgorithm {
    if spec == KeySpec::P256 {
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING
    } else {
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING
    }
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
    fn generate(spec: KeySpec) -> Self {
        const GENERATE: &str = "aws-lc-rs failed to generate a key";
        let pair = match spec {
            KeySpec::Rsa2048 => Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect(GENERATE)),
            KeySpec::Rsa3072 => Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa3072).expect(GENERATE)),
            KeySpec::Rsa4096 => Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa4096).expect(GENERATE)),
            KeySpec::P256 | KeySpec::P384 => {
                Pair::Ecdsa(EcdsaKeyPair::generate(ec_algorithm(spec)).expect(GENERATE))
            }
            KeySpec::Ed25519 => Pair::Ed25519(Ed25519KeyPair::generate().expect(GENERATE)),
        };
        Self::from_pair(spec, pair)
    }

    /// Reads a PKCS#8 private key (DER): RSA (2048 to 4096 bits), EC P-256 or P-384, or
    /// Ed25519.
    fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            let spec = match pair.public_modulus_len() * 8 {
                2048 => KeySpec::Rsa2048,
                3072 => KeySpec::Rsa3072,
                4096 => KeySpec::Rsa4096,
                bits => {
                    return Err(KeyError::new(format!(
                        "an RSA key of {bits} bits: use 2048, 3072 or 4096"
                    )));
                }
            };
            return Ok(Self::from_pair(spec, Pair::Rsa(pair)));
        }
        for spec in [KeySpec::P256, KeySpec::P384] {
            if let Ok(pair) = EcdsaKeyPair::from_pkcs8(ec_algorithm(spec), der) {
                return Ok(Self::from_pair(spec, Pair::Ecdsa(pair)));
            }
        }
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            return Ok(Self::from_pair(KeySpec::Ed25519, Pair::Ed25519(pair)));
        }
        Err(KeyError::new(
            "not a PKCS#8 RSA (2048-4096 bits), EC P-256 / P-384 or Ed25519 private key",
        ))
    }

    fn from_pair(spec: KeySpec, pair: Pair) -> Self {
        let mut params = Map::new();
        let (spki_der, public_raw) = match &pair {
            Pair::Rsa(pair) => {
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
                (spki(public), public.as_ref().to_vec())
            }
            Pair::Ecdsa(pair) => {
                let public = pair.public_key();
                // Uncompressed SEC1 point: 0x04 || x || y.
                let point = public.as_ref();
                let coordinate = (point.len() - 1) / 2;
                let crv = if spec == KeySpec::P256 {
                    "P-256"
                } else {
                    "P-384"
                };
                params.insert("kty".into(), "EC".into());
                params.insert("crv".into(), crv.into());
                params.insert("x".into(), b64(&point[1..=coordinate]));
                params.insert("y".into(), b64(&point[1 + coordinate..]));
                (spki(public), point.to_vec())
            }
            Pair::Ed25519(pair) => {
                let public = pair.public_key();
                params.insert("kty".into(), "OKP".into());
                params.insert("crv".into(), "Ed25519".into());
                params.insert("x".into(), b64(public.as_ref()));
                (spki(public), public.as_ref().to_vec())
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

/// Why a key cannot be read or used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(String);

impl KeyError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

/// A private signing key with its kid, default algorithm and JWK options. Cheap to clone.
///
/// Load the provider's keys from PEM ([`from_pkcs8_pem`](Self::from_pkcs8_pem), e.g. read
/// from an environment variable or a secrets mount) or generate them
/// ([`generate`](Self::generate), for development: a restart changes them). `Debug` shows the
/// kid and algorithm, never key material.
///
/// ```
/// use auth_provider::{KeySpec, SigningKey};
///
/// let key = SigningKey::generate(KeySpec::P256, "2026-12");
/// assert_eq!(key.algorithm(), "ES256");
/// assert_eq!(key.public_jwk()["kid"], "2026-12");
/// ```
#[derive(Clone)]
pub struct SigningKey {
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
    /// Generates a fresh key of this kind with its default algorithm (RSA takes tens of
    /// milliseconds, seconds for 4096 bits).
    #[must_use]
    pub fn generate(spec: KeySpec, kid: impl Into<String>) -> Self {
        Self::wrap(
            Arc::new(KeyMaterial::generate(spec)),
            kid.into(),
            &KeyOptions::new(),
        )
        .expect("a key's default algorithm suits it")
    }

    /// Reads a PEM `PRIVATE KEY` (PKCS#8) block: RSA (2048, 3072 or 4096 bits), EC P-256 or
    /// P-384, or Ed25519. `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`
    /// writes one.
    ///
    /// # Errors
    ///
    /// If the text is not one PEM `PRIVATE KEY` block of a supported key.
    pub fn from_pkcs8_pem(kid: impl Into<String>, pem: &str) -> Result<Self, KeyError> {
        let der = pem_body(pem, "PRIVATE KEY")?;
        let material = KeyMaterial::from_pkcs8(&der)?;
        Self::wrap(Arc::new(material), kid.into(), &KeyOptions::new())
    }

    /// The private key as a PEM `PRIVATE KEY` (PKCS#8) block, to keep in a secrets store and
    /// load again with [`from_pkcs8_pem`](Self::from_pkcs8_pem). Handle it like a password.
    #[must_use]
    pub fn to_pkcs8_pem(&self) -> String {
        const EXPORT: &str = "aws-lc-rs exports a key it holds as PKCS#8";
        let der: Vec<u8> = match &self.material.pair {
            Pair::Rsa(pair) => AsDer::<Pkcs8V1Der<'static>>::as_der(pair)
                .expect(EXPORT)
                .as_ref()
                .to_vec(),
            Pair::Ecdsa(pair) => pair.to_pkcs8v1().expect(EXPORT).as_ref().to_vec(),
            Pair::Ed25519(pair) => pair.to_pkcs8v1().expect(EXPORT).as_ref().to_vec(),
        };
        pem("PRIVATE KEY", &der)
    }

    /// The same key material under another kid, algorithm or JWK shape.
    ///
    /// # Errors
    ///
    /// If `options` name an algorithm this key cannot sign with.
    pub fn with_options(
        &self,
        kid: impl Into<String>,
        options: &KeyOptions,
    ) -> Result<Self, KeyError> {
        Self::wrap(Arc::clone(&self.material), kid.into(), options)
    }

    fn wrap(
        material: Arc<KeyMaterial>,
        kid: String,
        options: &KeyOptions,
    ) -> Result<Self, KeyError> {
        let alg = match &options.alg {
            None => material.spec.default_algorithm(),
            Some(name) => {
                let alg = Alg::parse(name).ok_or_else(|| {
                    KeyError::new(format!("unsupported signing algorithm {name:?}"))
                })?;
                if !material.supports(alg) {
                    return Err(KeyError::new(format!(
                        "a {:?} key cannot sign with {name}",
                        material.spec
                    )));
                }
                alg
            }
        };
        if kid.is_empty() {
            return Err(KeyError::new("a key needs a non-empty kid"));
        }
        Ok(Self {
            kid,
            alg,
            material,
            alg_in_jwk: options.alg_in_jwk,
            use_sig: options.use_sig,
        })
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The kind and size of the key.
    #[must_use]
    pub fn spec(&self) -> KeySpec {
        self.material.spec
    }

    /// The JWS algorithm it signs tokens with (`RS256`, `ES256`, ...).
    #[must_use]
    pub fn algorithm(&self) -> &'static str {
        self.alg.name()
    }

    pub(crate) fn alg(&self) -> Alg {
        self.alg
    }

    /// Whether this key can sign with the JWS algorithm `alg`.
    #[must_use]
    pub fn supports(&self, alg: &str) -> bool {
        Alg::parse(alg).is_some_and(|alg| self.material.supports(alg))
    }

    /// Signs `message` with the JWS algorithm `alg` (not necessarily the default one: an RSA
    /// key also signs `PS256`, ...). ECDSA signatures are in the JWS form `r || s`.
    ///
    /// # Errors
    ///
    /// If the key cannot sign with `alg`.
    pub fn sign(&self, alg: &str, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match Alg::parse(alg) {
            Some(parsed) if self.material.supports(parsed) => {
                Ok(self.material.sign(parsed, message))
            }
            _ => Err(KeyError::new(format!(
                "key {:?} ({:?}) cannot sign with {alg}",
                self.kid, self.material.spec
            ))),
        }
    }

    /// Whether `signature` is a valid `alg` signature of `message` by this key.
    pub(crate) fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        self.material.supports(alg)
            && signature::UnparsedPublicKey::new(alg.verification(), &self.material.public_raw)
                .verify(message, signature)
                .is_ok()
    }

    /// The public JWK as published in the JWKS.
    #[must_use]
    pub fn public_jwk(&self) -> Value {
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

    /// The public key as DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        &self.material.spki_der
    }

    /// The SubjectPublicKeyInfo as a PEM `PUBLIC KEY` block.
    #[must_use]
    pub fn public_key_pem(&self) -> String {
        pem("PUBLIC KEY", &self.material.spki_der)
    }
}

/// Reads a key set written by [`key_set_to_json`]: `[{"kid": "...", "pem": "-----BEGIN PRIVATE
/// KEY-----..."}, ...]`, the first one active. The form of `AUTH_PROVIDER_SIGNING_KEYS` and of
/// `auth dev-issuer --db`'s key file.
///
/// # Errors
///
/// If the text is not such a list, a key cannot be read, or it is empty.
pub fn key_set_from_json(text: &str) -> Result<Vec<SigningKey>, KeyError> {
    #[derive(serde::Deserialize)]
    struct Stored {
        kid: String,
        pem: String,
    }
    let stored: Vec<Stored> = serde_json::from_str(text)
        .map_err(|e| KeyError::new(format!("not a JSON list of {{kid, pem}}: {e}")))?;
    if stored.is_empty() {
        return Err(KeyError::new("the key set is empty"));
    }
    stored
        .into_iter()
        .map(|key| SigningKey::from_pkcs8_pem(key.kid, &key.pem))
        .collect()
}

/// Writes `keys` (private keys: a secret) for [`key_set_from_json`].
#[must_use]
pub fn key_set_to_json(keys: &[SigningKey]) -> String {
    let list: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| serde_json::json!({ "kid": key.kid(), "pem": key.to_pkcs8_pem() }))
        .collect();
    serde_json::to_string_pretty(&list).expect("JSON values serialize")
}

/// `der` as a PEM block labelled `label`.
fn pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// The DER inside the one PEM block labelled `label`.
fn pem_body(pem: &str, label: &str) -> Result<Vec<u8>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or_else(|| KeyError::new(format!("no -----BEGIN {label}----- line")))?;
    let rest = &pem[start + begin.len()..];
    let stop = rest
        .find(&end)
        .ok_or_else(|| KeyError::new(format!("no -----END {label}----- line")))?;
    let text: String = rest[..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD
        .decode(text)
        .map_err(|_| KeyError::new("the PEM body is not base64"))
}

struct Entry {
    key: Arc<SigningKey>,
    published: bool,
    retired: bool,
}

/// The provider's keys in publication order, with the default (active) signer.
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
    pub(crate) fn insert(&mut self, key: SigningKey) -> Result<(), KeyError> {
        if self.position(&key.kid).is_some() {
            return Err(KeyError::new(format!(
                "a key with kid {:?} already exists",
                key.kid
            )));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_pem_round_trips_for_every_kind() {
        for spec in [
            KeySpec::Rsa2048,
            KeySpec::P256,
            KeySpec::P384,
            KeySpec::Ed25519,
        ] {
            let key = SigningKey::generate(spec, "k");
            let pem = key.to_pkcs8_pem();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
            let back = SigningKey::from_pkcs8_pem("k", &pem).expect("reads back");
            assert_eq!(back.spec(), spec);
            assert_eq!(back.public_jwk(), key.public_jwk());
            let signature = back.sign(back.algorithm(), b"m").expect("signs");
            assert!(key.verify(key.alg(), b"m", &signature));
        }
    }

    #[test]
    fn key_sets_round_trip_through_json() {
        let keys = vec![
            SigningKey::generate(KeySpec::P256, "a"),
            SigningKey::generate(KeySpec::Ed25519, "b"),
        ];
        let back = key_set_from_json(&key_set_to_json(&keys)).expect("reads back");
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].public_jwk(), keys[1].public_jwk());
        assert!(key_set_from_json("[]").is_err());
        assert!(key_set_from_json("{}").is_err());
    }

    #[test]
    fn bad_pem_is_refused_with_a_reason() {
        for text in [
            "",
            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(SigningKey::from_pkcs8_pem("k", text).is_err(), "{text}");
        }
        let key = SigningKey::generate(KeySpec::P256, "k");
        assert!(key.with_options("", &KeyOptions::new()).is_err());
        assert!(
            key.with_options("k2", &KeyOptions::new().alg("RS256"))
                .is_err()
        );
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }
}
