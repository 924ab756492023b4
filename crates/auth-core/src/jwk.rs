//! JSON Web Key sets (RFC 7517) turned into ready-to-use verification keys.
//!
//! Keys are parsed once, when a set is loaded, into aws-lc-rs `ParsedPublicKey`s (one per
//! algorithm the key may be used with), so that the per-request path never re-parses key
//! material. Keys that must not be used for verification are skipped, each with a reason that
//! [`KeySet::skipped`] reports:
//!
//! - `use` other than `sig`, or `key_ops` without `verify` (or with duplicates);
//! - private (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`) or symmetric (`k`, `kty: oct`) members:
//!   a published key set must only contain public keys;
//! - RSA moduli under 2048 or over 8192 bits, moduli with the ROCA fingerprint (CVE-2017-15361),
//!   and public exponents that are even or below 3;
//! - unsupported `kty` or curve (P-521, secp256k1, Ed448, X25519, ...), an `alg` that does not
//!   fit the key, or coordinates that are not a point on the curve.
//!
//! A `kid` shared by two usable keys is ambiguous: tokens naming it are rejected (deterministic,
//! never "first one wins"), while the set's other keys stay usable.

use std::fmt;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::alg::{Algorithm, Curve, Family};
use crate::error::{AuthError, ErrorCode};

/// A parsed JSON Web Key Set: the public keys a verifier trusts.
///
/// Usually built for you by the verifier from the issuer's `jwks_uri`. Build one yourself with
/// [`KeySet::from_jwks_json`] to verify tokens against keys you already have (a networkless
/// setup, or tests).
///
/// ```
/// use auth_core::{Algorithm, KeySet};
/// let set = KeySet::from_jwks_json(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#, Algorithm::ASYMMETRIC)?;
/// assert_eq!(set.len(), 0);
/// assert_eq!(set.skipped()[0].reason(), "symmetric key in a public key set");
/// # Ok::<(), auth_core::AuthError>(())
/// ```
pub struct KeySet {
    keys: Vec<VerifyKey>,
    /// Key ids in document order. Sets are small (a handful of keys), so a linear scan beats
    /// hashing on the per-request path.
    by_kid: Vec<(Box<str>, KidEntry)>,
    skipped: Vec<SkippedKey>,
}

#[derive(Debug, Clone, Copy)]
enum KidEntry {
    One(usize),
    Ambiguous,
}

/// One usable public key.
pub(crate) struct VerifyKey {
    kid: Option<Box<str>>,
    /// Parsed key per algorithm it may be used with (at most six, for RSA).
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

impl VerifyKey {
    pub(crate) fn for_alg(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.parsed.iter().find(|(a, _)| *a == alg).map(|(_, k)| k)
    }

    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// A key that was left out of a set, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    kid: Option<String>,
    reason: &'static str,
}

impl SkippedKey {
    /// The key's `kid`, if it had one.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Why the key is not used.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// Why a key lookup found nothing usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// No key has this `kid` (or, without a `kid`, no key fits the algorithm): a refetch may help.
    Unknown,
    /// Two usable keys share the `kid`.
    Ambiguous,
    /// The key named by `kid` cannot be used with the token's algorithm.
    AlgMismatch,
    /// No `kid`, and several keys fit the algorithm.
    KidRequired,
}

impl Miss {
    pub(crate) fn into_error(self) -> AuthError {
        use crate::error::TokenInvalidReason as R;
        let (reason, msg) = match self {
            Miss::Unknown => (R::UnknownKey, "no key matches the token's key id"),
            Miss::Ambiguous => (
                R::AmbiguousKey,
                "the token's key id is ambiguous in the issuer's key set",
            ),
            Miss::AlgMismatch => (
                R::KeyAlgorithmMismatch,
                "the token's algorithm does not match its key",
            ),
            Miss::KidRequired => (
                R::KeyIdRequired,
                "the token has no key id and several keys could match",
            ),
        };
        AuthError::invalid_token(reason, msg)
    }
}

/// The raw members of a JWK we look at. Presence-only members use `IgnoredAny`.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<IgnoredAny>,
    p: Option<IgnoredAny>,
    q: Option<IgnoredAny>,
    dp: Option<IgnoredAny>,
    dq: Option<IgnoredAny>,
    qi: Option<IgnoredAny>,
    oth: Option<IgnoredAny>,
    k: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 8192;

impl KeySet {
    /// Parses a JWKS document (`{"keys":[...]}`), keeping the keys usable with the `allowed`
    /// algorithms and skipping the rest (see the module docs for the rules).
    ///
    /// # Errors
    /// `jwks_fetch_failed` when the document is not a JSON object with a `keys` array.
    /// A set in which no key is usable is *not* an error here; see [`KeySet::is_empty`].
    pub fn from_jwks_json(json: &[u8], allowed: &[Algorithm]) -> Result<KeySet, AuthError> {
        let raw: RawSet = serde_json::from_slice(json).map_err(|e| {
            AuthError::new(
                ErrorCode::JwksFetchFailed,
                "the key set is not a valid JWKS document",
            )
            .with_source(e)
        })?;
        let mut set = KeySet {
            keys: Vec::new(),
            by_kid: Vec::new(),
            skipped: Vec::new(),
        };
        for value in raw.keys {
            let kid = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
            match serde_json::from_value::<RawJwk>(value)
                .map_err(|_| "malformed key")
                .and_then(|jwk| parse_key(&jwk, allowed))
            {
                Ok(key) => set.push(key),
                Err(reason) => {
                    tracing::debug!(
                        kid = kid.as_deref().map(crate::log_safe),
                        reason,
                        "skipping JWK"
                    );
                    set.skipped.push(SkippedKey { kid, reason });
                }
            }
        }
        Ok(set)
    }

    fn push(&mut self, key: VerifyKey) {
        let index = self.keys.len();
        if let Some(kid) = &key.kid {
            match self.by_kid.iter_mut().find(|(k, _)| k == kid) {
                Some((_, entry)) => *entry = KidEntry::Ambiguous,
                None => self.by_kid.push((kid.clone(), KidEntry::One(index))),
            }
        }
        self.keys.push(key);
    }

    /// The number of usable keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `kid`s of the usable keys, in document order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(VerifyKey::kid)
    }

    /// The keys that were skipped, with their reasons.
    #[must_use]
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Finds the key for a token header.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Result<&ParsedPublicKey, Miss> {
        match kid {
            Some(kid) => match self
                .by_kid
                .iter()
                .find(|(k, _)| &**k == kid)
                .map(|(_, e)| e)
            {
                None => Err(Miss::Unknown),
                Some(KidEntry::Ambiguous) => Err(Miss::Ambiguous),
                Some(KidEntry::One(i)) => self.keys[*i].for_alg(alg).ok_or(Miss::AlgMismatch),
            },
            None => {
                let mut found = self.keys.iter().filter_map(|k| k.for_alg(alg));
                match (found.next(), found.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(Miss::Unknown),
                    (Some(_), Some(_)) => Err(Miss::KidRequired),
                }
            }
        }
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.kids().collect::<Vec<_>>())
            .field("keys", &self.keys.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// One public JWK outside a key set (a DPoP proof's `jwk` header), parsed for `alg` under the
/// rules of a key set's keys: no private or symmetric members, the key type fitting `alg`, RSA
/// of 2048–8192 bits, a point on the curve.
pub(crate) fn parse_public_jwk(
    value: &serde_json::Value,
    alg: Algorithm,
) -> Result<ParsedPublicKey, &'static str> {
    if !value.is_object() {
        return Err("malformed key");
    }
    let jwk: RawJwk = serde_json::from_value(value.clone()).map_err(|_| "malformed key")?;
    let key = parse_key(&jwk, &[alg])?;
    key.parsed
        .into_iter()
        .next()
        .map(|(_, k)| k)
        .ok_or("no allowed algorithm fits this key")
}

/// The RFC 7638 thumbprint of a public JWK, base64url: SHA-256 of its required members, in
/// lexicographic order, without whitespace.
pub(crate) fn thumbprint(public: &serde_json::Map<String, serde_json::Value>) -> String {
    use serde_json::Value;
    let members: &[&str] = match public.get("kty").and_then(Value::as_str) {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        _ => &["crv", "kty", "x"],
    };
    // serde_json's map keeps insertion order only with `preserve_order`: build the text by hand.
    let mut canonical = String::from("{");
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&Value::String((*m).to_owned()).to_string());
        canonical.push(':');
        canonical.push_str(&public.get(*m).cloned().unwrap_or(Value::Null).to_string());
    }
    canonical.push('}');
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ))
}

fn b64(field: &Option<String>) -> Result<Vec<u8>, &'static str> {
    let s = field.as_deref().ok_or("missing key member")?;
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "key member is not base64url")
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Small primes for the ROCA test: a vulnerable modulus is, modulo each, a power of 65537.
const ROCA_PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// Detects moduli generated by the Infineon library affected by ROCA (Nemec et al., CCS 2017):
/// such an `n` lies in the subgroup generated by 65537 modulo every prime above, which a random
/// modulus does with negligible probability.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    ROCA_PRIMES.iter().all(|&p| {
        let r = n
            .iter()
            .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % p);
        let g = 65537 % p;
        let mut x = 1;
        loop {
            if x == r {
                return true;
            }
            x = x * g % p;
            if x == 1 {
                return false;
            }
        }
    })
}

fn parse_key(jwk: &RawJwk, allowed: &[Algorithm]) -> Result<VerifyKey, &'static str> {
    if jwk.d.is_some()
        || jwk.p.is_some()
        || jwk.q.is_some()
        || jwk.dp.is_some()
        || jwk.dq.is_some()
        || jwk.qi.is_some()
        || jwk.oth.is_some()
    {
        return Err("private key material in a public key set");
    }
    if jwk.k.is_some() || jwk.kty.as_deref() == Some("oct") {
        return Err("symmetric key in a public key set");
    }
    if let Some(use_) = &jwk.use_
        && use_ != "sig"
    {
        return Err("key is not for signatures (use)");
    }
    if let Some(ops) = &jwk.key_ops {
        if !ops.iter().any(|o| o == "verify") {
            return Err("key_ops does not allow verify");
        }
        for (i, op) in ops.iter().enumerate() {
            if ops[..i].contains(op) {
                return Err("key_ops has duplicates");
            }
        }
    }
    let jwk_alg = match jwk.alg.as_deref() {
        None => None,
        Some(name) => match Algorithm::from_name(name) {
            Some(alg) if !alg.is_symmetric() => Some(alg),
            _ => return Err("unsupported or non-signature alg"),
        },
    };
    let family = match (jwk.kty.as_deref(), jwk.crv.as_deref()) {
        (Some("RSA"), _) => Family::Rsa,
        (Some("EC"), Some("P-256")) => Family::Ec(Curve::P256),
        (Some("EC"), Some("P-384")) => Family::Ec(Curve::P384),
        (Some("EC"), _) => return Err("unsupported curve"),
        (Some("OKP"), Some("Ed25519")) => Family::Ed25519,
        (Some("OKP"), _) => return Err("unsupported curve"),
        (None, _) => return Err("missing kty"),
        (Some(_), _) => return Err("unsupported kty"),
    };
    let candidates: Vec<Algorithm> = allowed
        .iter()
        .copied()
        .filter(|a| a.family() == family && jwk_alg.is_none_or(|j| j == *a))
        .collect();
    if let Some(j) = jwk_alg
        && j.family() != family
    {
        return Err("alg does not match the key type or curve");
    }
    if candidates.is_empty() {
        return Err("no allowed algorithm fits this key");
    }
    let mut parsed = Vec::with_capacity(candidates.len());
    match family {
        Family::Rsa => {
            let n = b64(&jwk.n)?;
            let e = b64(&jwk.e)?;
            let n = strip_leading_zeros(&n);
            let e = strip_leading_zeros(&e);
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            if bits < MIN_RSA_BITS {
                return Err("RSA key shorter than 2048 bits");
            }
            if bits > MAX_RSA_BITS {
                return Err("RSA key longer than 8192 bits");
            }
            let e_is_small = e.len() == 1 && e[0] < 3;
            if e.is_empty() || e.len() > 8 || e_is_small || e[e.len() - 1] & 1 == 0 {
                return Err("invalid RSA public exponent");
            }
            if has_roca_fingerprint(n) {
                return Err("RSA key has the ROCA fingerprint (CVE-2017-15361)");
            }
            let components = RsaPublicKeyComponents { n, e };
            for alg in candidates {
                let params = alg.rsa_params().ok_or("not an RSA algorithm")?;
                let key = components
                    .to_parsed_public_key(params)
                    .map_err(|_| "invalid RSA key")?;
                parsed.push((alg, key));
            }
        }
        Family::Ec(curve) => {
            let x = b64(&jwk.x)?;
            let y = b64(&jwk.y)?;
            if x.len() != curve.coordinate_len() || y.len() != curve.coordinate_len() {
                return Err("EC coordinates have the wrong length");
            }
            let mut point = Vec::with_capacity(1 + 2 * curve.coordinate_len());
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            for alg in candidates {
                let v = alg.verification().ok_or("not an EC algorithm")?;
                let key =
                    ParsedPublicKey::new(v, &point).map_err(|_| "EC point not on the curve")?;
                parsed.push((alg, key));
            }
        }
        Family::Ed25519 => {
            let x = b64(&jwk.x)?;
            if x.len() != 32 {
                return Err("Ed25519 key has the wrong length");
            }
            for alg in candidates {
                let v = alg.verification().ok_or("not an EdDSA algorithm")?;
                let key = ParsedPublicKey::new(v, &x).map_err(|_| "invalid Ed25519 key")?;
                parsed.push((alg, key));
            }
        }
        Family::Hmac => return Err("symmetric key in a public key set"),
    }
    Ok(VerifyKey {
        kid: jwk.kid.as_deref().map(Box::from),
        parsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"ec"}"#;

    fn set(keys: &[&str]) -> KeySet {
        let json = format!(r#"{{"keys":[{}]}}"#, keys.join(","));
        KeySet::from_jwks_json(json.as_bytes(), Algorithm::ASYMMETRIC).expect("valid set")
    }

    #[test]
    fn ec_key_is_usable_only_with_its_algorithm() {
        let s = set(&[EC]);
        assert_eq!(s.len(), 1);
        assert!(s.find(Some("ec"), Algorithm::ES256).is_ok());
        assert_eq!(
            s.find(Some("ec"), Algorithm::RS256).err(),
            Some(Miss::AlgMismatch)
        );
        assert_eq!(
            s.find(Some("nope"), Algorithm::ES256).err(),
            Some(Miss::Unknown)
        );
        assert!(s.find(None, Algorithm::ES256).is_ok());
        assert_eq!(s.find(None, Algorithm::ES384).err(), Some(Miss::Unknown));
    }

    #[test]
    fn duplicate_kids_are_ambiguous() {
        let s = set(&[EC, EC]);
        assert_eq!(
            s.find(Some("ec"), Algorithm::ES256).err(),
            Some(Miss::Ambiguous)
        );
        assert_eq!(
            s.find(None, Algorithm::ES256).err(),
            Some(Miss::KidRequired)
        );
    }

    #[test]
    fn unusable_keys_are_skipped_with_reasons() {
        let with = |extra: &str| EC.replacen('{', &format!("{{{extra},"), 1);
        let cases = [
            (with(r#""use":"enc""#), "key is not for signatures (use)"),
            (
                with(r#""key_ops":["encrypt"]"#),
                "key_ops does not allow verify",
            ),
            (
                with(r#""key_ops":["verify","verify"]"#),
                "key_ops has duplicates",
            ),
            (
                with(r#""d":"AAAA""#),
                "private key material in a public key set",
            ),
            (
                with(r#""alg":"RS256""#),
                "alg does not match the key type or curve",
            ),
            (with(r#""alg":"ES512""#), "unsupported or non-signature alg"),
            (EC.replace("P-256", "P-521"), "unsupported curve"),
            (EC.replace("\"EC\"", "\"XYZ\""), "unsupported kty"),
            (
                EC.replace("f83OJ3D2", "f83OJ3D3"),
                "EC point not on the curve",
            ),
        ];
        for (json, reason) in cases {
            let s = set(&[&json]);
            assert_eq!(s.len(), 0, "{json}");
            assert_eq!(s.skipped()[0].reason(), reason, "{json}");
        }
    }

    #[test]
    fn not_a_jwks_is_an_error() {
        for bad in [&b"[]"[..], b"{}", b"{\"keys\":{}}", b"<html>"] {
            assert!(KeySet::from_jwks_json(bad, Algorithm::ASYMMETRIC).is_err());
        }
    }
}
