//! Client authentication with a private key instead of a shared secret: `private_key_jwt`
//! (RFC 7523 §2.2, OpenID Connect Core §9). For each request to the provider the client signs a
//! short-lived JWT (`iss` = `sub` = its client id, `aud` = the endpoint or the issuer, a fresh
//! `jti`, `exp` one minute ahead) with a key whose public half is registered at the provider.
//!
//! ```
//! use auth_core::ClientKey;
//!
//! # let pem = include_str!("../tests/data/client-p256.pem");
//! let key = ClientKey::from_pem(pem)?; // PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM
//! // Register this public JWK (it carries `kid`, `alg` and `use`) with the provider:
//! let jwk = key.public_jwk();
//! assert_eq!(jwk["kty"], "EC");
//! assert_eq!(jwk["kid"], key.kid()); // the RFC 7638 thumbprint unless set with `with_kid`
//! # Ok::<(), auth_core::ConfigError>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaEncoding, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::alg::Algorithm;
use crate::config::ConfigError;
use crate::error::{AuthError, ErrorCode};
use crate::jwk::thumbprint;

/// How long a client assertion is valid. Short: it is made for one request.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The EC curves a client key may be on: the algorithm, aws-lc-rs's signing algorithm, the
/// JWK `crv`.
const EC_CURVES: [(Algorithm, &signature::EcdsaSigningAlgorithm, &str); 2] = [
    (
        Algorithm::ES256,
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        "P-256",
    ),
    (
        Algorithm::ES384,
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        "P-384",
    ),
];

/// The largest PEM document read.
const MAX_PEM: usize = 64 * 1024;

/// A client's private signing key for `private_key_jwt`, with its key id and algorithm. Cheap to
/// clone. `Debug` shows the key id and algorithm, never key material.
#[derive(Clone)]
pub struct ClientKey {
    signer: Arc<Signer>,
    alg: Algorithm,
    kid: Arc<str>,
    /// The public JWK without `kid`, `alg` and `use`.
    public: Arc<serde_json::Map<String, Value>>,
}

enum Signer {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn bad_key(message: impl Into<String>) -> ConfigError {
    ConfigError::new("AUTH_CLIENT_KEY", message)
}

/// The base64 body of the first PEM block, with its label.
fn pem_block(pem: &str) -> Result<(&str, Vec<u8>), ConfigError> {
    if pem.len() > MAX_PEM {
        return Err(bad_key("the PEM document is too large"));
    }
    let start = pem
        .find("-----BEGIN ")
        .ok_or_else(|| bad_key("is not a PEM document (no -----BEGIN line)"))?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let (label, rest) = rest
        .split_once("-----")
        .ok_or_else(|| bad_key("has a malformed -----BEGIN line"))?;
    let end_line = format!("-----END {label}-----");
    let (body, _) = rest
        .split_once(end_line.as_str())
        .ok_or_else(|| bad_key(format!("has no {end_line} line")))?;
    let body: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if body.contains(':') {
        return Err(bad_key(
            "is an encrypted PEM key: decrypt it first (openssl pkcs8 -topk8 -nocrypt)",
        ));
    }
    let der = STANDARD
        .decode(body)
        .map_err(|_| bad_key("has a PEM body that is not base64"))?;
    Ok((label, der))
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(URL_SAFE_NO_PAD.encode(bytes))
}

/// `x` and `y` of an uncompressed EC point.
fn ec_public(crv: &str, point: &[u8]) -> serde_json::Map<String, Value> {
    let coordinates = point.get(1..).unwrap_or_default();
    let (x, y) = coordinates.split_at(coordinates.len() / 2);
    let mut jwk = serde_json::Map::new();
    jwk.insert("kty".into(), "EC".into());
    jwk.insert("crv".into(), crv.into());
    jwk.insert("x".into(), b64(x));
    jwk.insert("y".into(), b64(y));
    jwk
}

impl ClientKey {
    /// Reads a private key from PEM: `PRIVATE KEY` (PKCS#8: RSA, P-256, P-384 or Ed25519),
    /// `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1, P-256 or P-384). The algorithm is
    /// `RS256`, `ES256`, `ES384` or `EdDSA` after the key (see
    /// [`with_algorithm`](Self::with_algorithm)); the key id is the key's RFC 7638 thumbprint
    /// (see [`with_kid`](Self::with_kid)). RSA keys need at least 2048 bits.
    ///
    /// # Errors
    /// `config_invalid` (variable `AUTH_CLIENT_KEY`) saying what is wrong: not PEM, encrypted,
    /// a public key, an unsupported curve or a key too short. The message never contains key
    /// material.
    pub fn from_pem(pem: &str) -> Result<Self, ConfigError> {
        let (label, der) = pem_block(pem)?;
        let (signer, alg, public) = match label {
            "PRIVATE KEY" => Self::pkcs8(&der)?,
            "RSA PRIVATE KEY" => Self::rsa(
                RsaKeyPair::from_der(&der)
                    .map_err(|e| bad_key(format!("is not a usable RSA key ({e})")))?,
            )?,
            "EC PRIVATE KEY" => Self::ec_sec1(&der)?,
            "ENCRYPTED PRIVATE KEY" => {
                return Err(bad_key(
                    "is an encrypted PKCS#8 key: decrypt it first (openssl pkcs8 -topk8 -nocrypt)",
                ));
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => {
                return Err(bad_key(format!(
                    "is a {label}: private_key_jwt needs the private key (register the public one at the provider)"
                )));
            }
            other => return Err(bad_key(format!("has an unsupported PEM block {other:?}"))),
        };
        let kid = thumbprint(&public);
        Ok(Self {
            signer: Arc::new(signer),
            alg,
            kid: Arc::from(kid),
            public: Arc::new(public),
        })
    }

    fn pkcs8(
        der: &[u8],
    ) -> Result<(Signer, Algorithm, serde_json::Map<String, Value>), ConfigError> {
        if let Ok(key) = RsaKeyPair::from_pkcs8(der) {
            return Self::rsa(key);
        }
        for (alg, signing, crv) in EC_CURVES {
            if let Ok(key) = EcdsaKeyPair::from_pkcs8(signing, der) {
                let public = ec_public(crv, key.public_key().as_ref());
                return Ok((Signer::Ecdsa(key), alg, public));
            }
        }
        let ed = Ed25519KeyPair::from_pkcs8(der)
            .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(der))
            .map_err(|_| bad_key("is not an RSA, P-256, P-384 or Ed25519 private key in PKCS#8"))?;
        let mut public = serde_json::Map::new();
        public.insert("kty".into(), "OKP".into());
        public.insert("crv".into(), "Ed25519".into());
        public.insert("x".into(), b64(ed.public_key().as_ref()));
        Ok((Signer::Ed25519(ed), Algorithm::EdDSA, public))
    }

    fn ec_sec1(
        der: &[u8],
    ) -> Result<(Signer, Algorithm, serde_json::Map<String, Value>), ConfigError> {
        for (alg, signing, crv) in EC_CURVES {
            if let Ok(key) = EcdsaKeyPair::from_private_key_der(signing, der) {
                let public = ec_public(crv, key.public_key().as_ref());
                return Ok((Signer::Ecdsa(key), alg, public));
            }
        }
        Err(bad_key("is not a P-256 or P-384 private key"))
    }

    fn rsa(
        key: RsaKeyPair,
    ) -> Result<(Signer, Algorithm, serde_json::Map<String, Value>), ConfigError> {
        if key.public_modulus_len() < 256 {
            return Err(bad_key("is an RSA key shorter than 2048 bits"));
        }
        let mut public = serde_json::Map::new();
        public.insert("kty".into(), "RSA".into());
        public.insert(
            "n".into(),
            b64(key.public_key().modulus().big_endian_without_leading_zero()),
        );
        public.insert(
            "e".into(),
            b64(key
                .public_key()
                .exponent()
                .big_endian_without_leading_zero()),
        );
        Ok((Signer::Rsa(key), Algorithm::RS256, public))
    }

    /// A new random key for `alg` (`ES256`, `ES384` or `EdDSA`): an ephemeral DPoP key, which
    /// needs no registration (the provider binds tokens to whatever key proves possession).
    ///
    /// ```
    /// use auth_core::{Algorithm, ClientKey};
    /// let key = ClientKey::generate(Algorithm::ES256)?;
    /// assert_eq!(key.thumbprint().len(), 43);
    /// # Ok::<(), auth_core::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// `config_invalid` for another algorithm, or when the system's random source fails.
    pub fn generate(alg: Algorithm) -> Result<Self, ConfigError> {
        let failed = |_| bad_key("cannot generate a key");
        let rng = SystemRandom::new();
        let curve = EC_CURVES.iter().find(|(a, _, _)| *a == alg);
        let pkcs8 = match (alg, curve) {
            (_, Some((_, signing, _))) => EcdsaKeyPair::generate_pkcs8(signing, &rng)
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            (Algorithm::EdDSA, None) => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            (other, None) => {
                return Err(bad_key(format!(
                    "cannot generate a {} key (ES256, ES384 or EdDSA)",
                    other.as_str()
                )));
            }
        };
        let (signer, alg, public) = Self::pkcs8(&pkcs8)?;
        let kid = thumbprint(&public);
        Ok(Self {
            signer: Arc::new(signer),
            alg,
            kid: Arc::from(kid),
            public: Arc::new(public),
        })
    }

    /// The key's RFC 7638 thumbprint: what a DPoP-bound token carries in `cnf.jkt`.
    #[must_use]
    pub fn thumbprint(&self) -> String {
        thumbprint(&self.public)
    }

    /// A DPoP proof (RFC 9449 §4.2) for one request: `method` and `url` of the request (query
    /// and fragment are left out of `htu`), the access token it carries (`ath`; `None` at a
    /// token endpoint) and the server's nonce, if it asked for one (`DPoP-Nonce`). Send it in
    /// the `DPoP` header, with `Authorization: DPoP <token>`. Make a new one per request: each
    /// has a fresh `jti`, and a server refuses a proof it has seen.
    ///
    /// ```
    /// use auth_core::{Algorithm, ClientKey};
    /// let key = ClientKey::generate(Algorithm::ES256)?;
    /// let proof = key.dpop_proof("GET", "https://api.example.com/orders?page=2", Some("eyJ..."), None)?;
    /// assert_eq!(proof.split('.').count(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// `invalid_request` when `url` is not absolute; `unknown` when signing fails.
    pub fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, AuthError> {
        let (header, claims) =
            crate::dpop::proof_parts(self.alg, &self.public, method, url, access_token, nonce)?;
        let mut jwt = URL_SAFE_NO_PAD.encode(header);
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(claims));
        let signature = self
            .sign(jwt.as_bytes())
            .ok_or_else(|| AuthError::new(ErrorCode::Unknown, "cannot sign the DPoP proof"))?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jwt)
    }

    /// Uses `kid` as the key id (the `kid` the provider has registered for this key).
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Arc::from(kid.into());
        self
    }

    /// Signs with `alg` instead of the key's default: an RSA key can use `RS256`, `RS384`,
    /// `RS512`, `PS256`, `PS384` or `PS512`; an EC or Ed25519 key only its own algorithm.
    ///
    /// # Errors
    /// `config_invalid` when the key cannot sign with `alg`.
    pub fn with_algorithm(mut self, alg: Algorithm) -> Result<Self, ConfigError> {
        let fits = match *self.signer {
            Signer::Rsa(_) => rsa_encoding(alg).is_some(),
            Signer::Ecdsa(_) | Signer::Ed25519(_) => alg == self.alg,
        };
        if !fits {
            return Err(ConfigError::new(
                "AUTH_CLIENT_KEY_ALG",
                format!("this key cannot sign {}", alg.as_str()),
            ));
        }
        self.alg = alg;
        Ok(self)
    }

    /// The key id sent in each assertion's header.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signing algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public key as a JWK with `kid`, `alg` and `use: "sig"`: what to register at the
    /// provider (in the client's `jwks`).
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        let mut jwk = (*self.public).clone();
        jwk.insert("kid".into(), self.kid.as_ref().into());
        jwk.insert("alg".into(), self.alg.as_str().into());
        jwk.insert("use".into(), "sig".into());
        Value::Object(jwk)
    }

    /// A client assertion for `client_id`, addressed to `audience`.
    pub(crate) fn assertion(&self, client_id: &str, audience: &str) -> Result<String, AuthError> {
        let failed =
            || AuthError::new(ErrorCode::ConfigInvalid, "cannot sign the client assertion");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| failed())?
            .as_secs();
        let mut jti = [0u8; 16];
        SystemRandom::new().fill(&mut jti).map_err(|_| failed())?;
        let header = json!({ "alg": self.alg.as_str(), "typ": "JWT", "kid": &*self.kid });
        let claims = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME.as_secs(),
        });
        let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.sign(jwt.as_bytes()).ok_or_else(failed)?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jwt)
    }

    /// Signs `message` with the key's algorithm (signed resource metadata).
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> Option<Vec<u8>> {
        self.sign(message)
    }

    fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let rng = SystemRandom::new();
        match &*self.signer {
            Signer::Rsa(key) => {
                let mut out = vec![0u8; key.public_modulus_len()];
                key.sign(rsa_encoding(self.alg)?, &rng, message, &mut out)
                    .ok()?;
                Some(out)
            }
            Signer::Ecdsa(key) => Some(key.sign(&rng, message).ok()?.as_ref().to_vec()),
            Signer::Ed25519(key) => Some(key.sign(message).as_ref().to_vec()),
        }
    }
}

fn rsa_encoding(alg: Algorithm) -> Option<&'static dyn RsaEncoding> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

/// The client key of the environment: `AUTH_CLIENT_KEY_FILE` (a PEM file) or `AUTH_CLIENT_KEY`
/// (the PEM text), with `AUTH_CLIENT_KEY_ID` and `AUTH_CLIENT_KEY_ALG`. `None` when neither is
/// set.
pub(crate) fn key_from_vars(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ClientKey>, ConfigError> {
    let pem = match (get("AUTH_CLIENT_KEY_FILE"), get("AUTH_CLIENT_KEY")) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "AUTH_CLIENT_KEY_FILE",
                "set AUTH_CLIENT_KEY_FILE or AUTH_CLIENT_KEY, not both",
            ));
        }
        (Some(path), None) => {
            let meta = std::fs::metadata(&path).map_err(|e| {
                ConfigError::new("AUTH_CLIENT_KEY_FILE", format!("cannot read {path}: {e}"))
            })?;
            if meta.len() > MAX_PEM as u64 {
                return Err(ConfigError::new(
                    "AUTH_CLIENT_KEY_FILE",
                    format!("{path} is too large for a PEM key"),
                ));
            }
            std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new("AUTH_CLIENT_KEY_FILE", format!("cannot read {path}: {e}"))
            })?
        }
        // An environment variable cannot always hold line breaks: `\n` stands for one.
        (None, Some(text)) => text.replace("\\n", "\n"),
        (None, None) => return Ok(None),
    };
    let mut key = ClientKey::from_pem(&pem)?;
    if let Some(kid) = get("AUTH_CLIENT_KEY_ID") {
        key = key.with_kid(kid);
    }
    if let Some(alg) = get("AUTH_CLIENT_KEY_ALG") {
        let alg = alg
            .parse::<Algorithm>()
            .map_err(|e| ConfigError::new("AUTH_CLIENT_KEY_ALG", e.to_string()))?;
        key = key.with_algorithm(alg)?;
    }
    Ok(Some(key))
}

/// `AUTH_CLIENT_AUTH` as a method.
pub(crate) fn method_from_vars(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<crate::session::ClientAuth>, ConfigError> {
    use crate::session::ClientAuth;
    Ok(match get("AUTH_CLIENT_AUTH").as_deref() {
        None => None,
        Some("client_secret_basic") => Some(ClientAuth::Basic),
        Some("client_secret_post") => Some(ClientAuth::Post),
        Some("private_key_jwt") => Some(ClientAuth::PrivateKeyJwt),
        Some("none") => Some(ClientAuth::None),
        Some(other) => {
            return Err(ConfigError::new(
                "AUTH_CLIENT_AUTH",
                format!(
                    "{other:?} is not supported: client_secret_basic, client_secret_post, private_key_jwt or none"
                ),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey, VerificationAlgorithm};

    fn pem(label: &str, der: &[u8]) -> String {
        let body = STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    fn claims_of(jwt: &str) -> (Value, Value, Vec<u8>, String) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |p: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("b64")).expect("json")
        };
        (
            decode(parts[0]),
            decode(parts[1]),
            URL_SAFE_NO_PAD.decode(parts[2]).expect("b64"),
            format!("{}.{}", parts[0], parts[1]),
        )
    }

    fn check(key: &ClientKey, verify: &'static dyn VerificationAlgorithm, public: &[u8]) {
        let jwt = key
            .assertion("svc", "https://idp.example.com/token")
            .expect("sign");
        let (header, claims, signature, signed) = claims_of(&jwt);
        assert_eq!(header["alg"], key.algorithm().as_str());
        assert_eq!(header["kid"], key.kid());
        assert_eq!(claims["iss"], "svc");
        assert_eq!(claims["sub"], "svc");
        assert_eq!(claims["aud"], "https://idp.example.com/token");
        let (iat, exp) = (
            claims["iat"].as_u64().expect("iat"),
            claims["exp"].as_u64().expect("exp"),
        );
        assert_eq!(exp - iat, 60);
        UnparsedPublicKey::new(verify, public)
            .verify(signed.as_bytes(), &signature)
            .expect("the assertion verifies with the public key");
        // A fresh jti each time.
        let again = claims_of(&key.assertion("svc", "aud").expect("sign")).1;
        assert_ne!(again["jti"], claims["jti"]);
    }

    #[test]
    fn pkcs8_keys_of_each_family_sign_verifiable_assertions() {
        let rng = SystemRandom::new();
        let ec = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("ec");
        let key = ClientKey::from_pem(&pem("PRIVATE KEY", ec.as_ref())).expect("p256");
        assert_eq!(key.algorithm(), Algorithm::ES256);
        let pair =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, ec.as_ref())
                .expect("pair");
        check(
            &key,
            &signature::ECDSA_P256_SHA256_FIXED,
            pair.public_key().as_ref(),
        );

        let ec384 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
            .expect("ec");
        let key = ClientKey::from_pem(&pem("PRIVATE KEY", ec384.as_ref())).expect("p384");
        assert_eq!(key.algorithm(), Algorithm::ES384);
        assert_eq!(key.public_jwk()["crv"], "P-384");

        let ed = Ed25519KeyPair::generate_pkcs8(&rng).expect("ed");
        let key = ClientKey::from_pem(&pem("PRIVATE KEY", ed.as_ref())).expect("ed25519");
        assert_eq!(key.algorithm(), Algorithm::EdDSA);
        let pair = Ed25519KeyPair::from_pkcs8(ed.as_ref()).expect("pair");
        check(&key, &signature::ED25519, pair.public_key().as_ref());

        let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa");
        let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&rsa)
            .expect("der");
        let key = ClientKey::from_pem(&pem("PRIVATE KEY", der.as_ref())).expect("rsa");
        assert_eq!(key.algorithm(), Algorithm::RS256);
        check(
            &key,
            &signature::RSA_PKCS1_2048_8192_SHA256,
            rsa.public_key().as_ref(),
        );
        let pss = key.clone().with_algorithm(Algorithm::PS256).expect("pss");
        check(
            &pss,
            &signature::RSA_PSS_2048_8192_SHA256,
            rsa.public_key().as_ref(),
        );
        assert!(key.with_algorithm(Algorithm::ES256).is_err());
    }

    #[test]
    fn the_default_kid_is_the_rfc_7638_thumbprint() {
        // RFC 7638 §3.1's example key and thumbprint.
        let public: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .expect("object");
        assert_eq!(
            thumbprint(&public),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn sec1_and_pkcs1_pem_are_read_too() {
        let rng = SystemRandom::new();
        let ec = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec");
        let sec1 =
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::EcPrivateKeyRfc5915Der<'_>>::as_der(
                &ec.private_key(),
            )
            .expect("sec1");
        let key = ClientKey::from_pem(&pem("EC PRIVATE KEY", sec1.as_ref())).expect("sec1");
        assert_eq!(key.public_jwk()["x"], b64(&ec.public_key().as_ref()[1..33]));
        let _ = rng;
    }

    #[test]
    fn unusable_pem_is_refused_with_a_reason_and_no_key_material() {
        for (input, reason) in [
            ("not pem at all", "not a PEM document"),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "needs the private key",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "encrypted",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
                "not base64",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "PKCS#8",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n",
                "no -----END PRIVATE KEY----- line",
            ),
        ] {
            let err = ClientKey::from_pem(input).expect_err(input);
            assert_eq!(err.variable(), "AUTH_CLIENT_KEY");
            assert!(err.to_string().contains(reason), "{input}: {err}");
        }
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = ClientKey::from_pem(include_str!("../tests/data/client-p256.pem")).expect("key");
        let shown = format!("{key:?}");
        assert!(
            shown.contains(key.kid()) && shown.contains("ES256"),
            "{shown}"
        );
        assert!(!shown.contains("MIGHAgEA"), "{shown}");
    }
}
