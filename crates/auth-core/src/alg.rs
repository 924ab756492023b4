//! JWS signature algorithms (RFC 7518 §3, RFC 8037).

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self, VerificationAlgorithm};

/// A JWS signature algorithm this SDK can verify.
///
/// The algorithm is always pinned to a key (its `kty`, curve and JWK `alg`), never taken from a
/// token alone: a token whose `alg` does not fit the key it names is rejected. Symmetric `HS*`
/// algorithms are only usable with an explicitly configured shared secret, never with keys from a
/// remote key set. `none` is not an algorithm here at all.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384 and MGF1 with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512 and MGF1 with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256 (signature as 64-byte `R || S`).
    ES256,
    /// ECDSA on P-384 with SHA-384 (signature as 96-byte `R || S`).
    ES384,
    /// EdDSA on Ed25519 (RFC 8037).
    EdDSA,
    /// HMAC with SHA-256: only with a configured shared secret.
    HS256,
    /// HMAC with SHA-384: only with a configured shared secret.
    HS384,
    /// HMAC with SHA-512: only with a configured shared secret.
    HS512,
}

/// The key family an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Rsa,
    Ec(Curve),
    Ed25519,
    Hmac,
}

/// Elliptic curves for ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

impl Curve {
    pub(crate) fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

impl Algorithm {
    /// All asymmetric algorithms: the default allow-list for remote key sets.
    pub const ASYMMETRIC: &'static [Algorithm] = &[
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The HMAC algorithms (shared-secret mode only).
    pub const HMAC: &'static [Algorithm] = &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

    /// The registered JWS name, e.g. `"RS256"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// Parses a registered JWS name. Matching is exact and case-sensitive (RFC 7515 §4.1.1), so
    /// `"none"`, `"None"` and `"rs256"` are all unknown. `"Ed25519"` (RFC 9864's fully specified
    /// name) is accepted as [`Algorithm::EdDSA`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" | "Ed25519" => Algorithm::EdDSA,
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            _ => return None,
        })
    }

    /// Whether this is a symmetric (HMAC) algorithm.
    #[must_use]
    pub const fn is_symmetric(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    pub(crate) const fn family(self) -> Family {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Family::Rsa,
            Algorithm::ES256 => Family::Ec(Curve::P256),
            Algorithm::ES384 => Family::Ec(Curve::P384),
            Algorithm::EdDSA => Family::Ed25519,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
        }
    }

    /// The aws-lc-rs verification algorithm for asymmetric algorithms.
    pub(crate) fn verification(self) -> Option<&'static dyn VerificationAlgorithm> {
        Some(match self {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => return None,
        })
    }

    /// RSA parameters, for RSA algorithms.
    pub(crate) fn rsa_params(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    /// The exact signature length for fixed-size algorithms (ECDSA in `R || S` form, EdDSA).
    pub(crate) const fn fixed_signature_len(self) -> Option<usize> {
        match self {
            Algorithm::ES256 | Algorithm::EdDSA => Some(64),
            Algorithm::ES384 => Some(96),
            _ => None,
        }
    }

    /// The HMAC digest length, which is also the minimum shared-secret length (RFC 7518 §3.2).
    pub(crate) const fn hmac_len(self) -> Option<usize> {
        match self {
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown algorithm name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAlgorithm(pub String);

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown or unsupported JWS algorithm {:?}", self.0)
    }
}

impl std::error::Error for UnknownAlgorithm {}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::from_name(s).ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_unknown() {
        for &alg in Algorithm::ASYMMETRIC.iter().chain(Algorithm::HMAC) {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
        }
        for bad in ["none", "None", "NONE", "nOnE", "rs256", "", "ES512", "RS1"] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad}");
        }
        assert_eq!(Algorithm::from_name("Ed25519"), Some(Algorithm::EdDSA));
    }
}
