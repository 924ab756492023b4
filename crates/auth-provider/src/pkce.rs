//! Proof Key for Code Exchange (RFC 7636), `S256` only.

use aws_lc_rs::{constant_time, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Whether `value` is 43 to 128 characters of the unreserved set `[A-Za-z0-9-._~]`, the
/// syntax of both `code_verifier` and `code_challenge` (RFC 7636 §4.1, §4.2).
pub(crate) fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `BASE64URL(SHA256(ASCII(verifier)))`, the `S256` challenge of `verifier`.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// Whether `verifier` is well formed and its `S256` challenge is `challenge`.
pub(crate) fn verify(verifier: &str, challenge: &str) -> bool {
    is_well_formed(verifier)
        && constant_time::verify_slices_are_equal(s256(verifier).as_bytes(), challenge.as_bytes())
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(s256(VERIFIER), CHALLENGE);
        assert!(verify(VERIFIER, CHALLENGE));
    }

    #[test]
    fn wrong_verifier_fails() {
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(!verify(other, CHALLENGE));
        // The plain method would accept the challenge itself as verifier; S256 does not.
        assert!(!verify(CHALLENGE, CHALLENGE));
    }

    #[test]
    fn verifier_syntax() {
        assert!(is_well_formed(&"a".repeat(43)));
        assert!(is_well_formed(&"~._-".repeat(32)));
        assert!(!is_well_formed(&"a".repeat(42)));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed(&format!("{}+", "a".repeat(42))));
        assert!(!is_well_formed(&format!("{}=", "a".repeat(43))));
        assert!(!is_well_formed(&format!("{}é", "a".repeat(42))));
    }
}
