//! Compact JWS parsing (RFC 7515 §7.1), strict by construction.
//!
//! - exactly three segments, none of the first two empty, a non-empty signature;
//! - base64url without padding, whitespace or non-canonical trailing bits;
//! - the header is one JSON object without duplicate members; `alg` is a string naming an
//!   allowed algorithm; any `crit` is rejected (we implement no extensions, RFC 7515 §4.1.11);
//!   `b64` other than `true` is rejected (RFC 7797 payloads are not JWTs);
//! - `jwk`, `jku`, `x5u`, `x5c` and `x5t` are never used to find a key, and never fetched.

use std::borrow::Cow;
use std::fmt;

use aws_lc_rs::signature::ParsedPublicKey;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::alg::Algorithm;
use crate::b64;
use crate::error::{AuthError, TokenInvalidReason as R};
use crate::json::{Key, Members, StrictIgnore};

/// The three segments of a compact JWS, still encoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'t> {
    pub(crate) header: &'t str,
    pub(crate) payload: &'t str,
    pub(crate) signature: &'t str,
    /// `header.payload`: the bytes the signature covers.
    pub(crate) signing_input: &'t str,
}

fn invalid(reason: R, msg: &'static str) -> AuthError {
    AuthError::invalid_token(reason, msg)
}

/// Splits a compact JWS, checking its size first (before any decoding work).
pub(crate) fn split(token: &str, max_len: usize) -> Result<Parts<'_>, AuthError> {
    if token.len() > max_len {
        return Err(invalid(
            R::TooLarge,
            "token is larger than the configured maximum",
        ));
    }
    // One SIMD scan for the dots (memchr): std's `find` was ~900 instructions per token.
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (Some(first), Some(second)) = (dots.next(), dots.next()) else {
        return Err(invalid(R::Malformed, "token is not a compact JWS"));
    };
    if dots.next().is_some() {
        return Err(invalid(R::Malformed, "token has more than three segments"));
    }
    let parts = Parts {
        header: &token[..first],
        payload: &token[first + 1..second],
        signature: &token[second + 1..],
        signing_input: &token[..second],
    };
    // An empty payload is a legal JWS (it then fails as JWT claims).
    if parts.header.is_empty() {
        return Err(invalid(R::Malformed, "token has an empty header"));
    }
    if parts.signature.is_empty() {
        return Err(invalid(R::Unsigned, "token is unsigned"));
    }
    Ok(parts)
}

/// Header bytes decode into this stack buffer when small enough (they nearly always are).
pub(crate) struct HeaderBuf {
    stack: [u8; 256],
    heap: Vec<u8>,
}

impl Default for HeaderBuf {
    fn default() -> Self {
        HeaderBuf {
            stack: [0; 256],
            heap: Vec::new(),
        }
    }
}

/// The protected header members we act on.
#[derive(Debug)]
pub(crate) struct Header<'h> {
    pub(crate) alg: Cow<'h, str>,
    pub(crate) kid: Option<Cow<'h, str>>,
    pub(crate) typ: Option<Cow<'h, str>>,
}

/// Decodes and parses the header segment.
pub(crate) fn decode_header<'b>(
    segment: &str,
    buf: &'b mut HeaderBuf,
) -> Result<Header<'b>, AuthError> {
    let not_b64 = || invalid(R::Malformed, "token header is not base64url");
    let bytes: &'b [u8] = if b64::decoded_len_bound(segment.len()) <= buf.stack.len() {
        b64::decode_into(segment.as_bytes(), &mut buf.stack).ok_or_else(not_b64)?
    } else {
        buf.heap = b64::decode_vec(segment.as_bytes()).ok_or_else(not_b64)?;
        &buf.heap
    };
    // UTF-8 checked once for the whole header, then parsed as text (see `parse_registered`).
    let text = std::str::from_utf8(bytes)
        .map_err(|_| invalid(R::Malformed, "token header is not a valid JOSE header"))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let header = de
        .deserialize_map(HeaderVisitor)
        .and_then(|h| de.end().map(|()| h))
        .map_err(|e| {
            tracing::debug!(error = %e, "rejecting token header");
            let text = e.to_string();
            if text.starts_with("unsupported critical") || text.starts_with("unencoded payloads") {
                invalid(
                    R::UnsupportedHeader,
                    "token header has an unsupported parameter",
                )
            } else {
                invalid(R::Malformed, "token header is not a valid JOSE header")
            }
        })?;
    Ok(header)
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        const NAMES: [&str; 5] = ["alg", "kid", "typ", "crit", "b64"];
        let mut members = Members::default();
        let mut alg = None;
        let mut kid = None;
        let mut typ = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match members.insert::<A::Error>(&key, &NAMES)? {
                Some(0) => alg = Some(map.next_value::<Key<'de>>()?.0),
                Some(1) => kid = Some(map.next_value::<Key<'de>>()?.0),
                Some(2) => typ = Some(map.next_value::<Key<'de>>()?.0),
                Some(3) => {
                    map.next_value_seed(StrictIgnore)?;
                    return Err(de::Error::custom("unsupported critical header parameter"));
                }
                Some(4) => {
                    if !map.next_value::<bool>()? {
                        return Err(de::Error::custom("unencoded payloads are not JWTs"));
                    }
                }
                _ => map.next_value_seed(StrictIgnore)?,
            }
        }
        let alg = alg.ok_or_else(|| de::Error::custom("missing alg"))?;
        Ok(Header { alg, kid, typ })
    }
}

/// Parses `alg` and checks it against the allow-list: before any key lookup or refetch.
pub(crate) fn check_alg(
    header: &Header<'_>,
    allowed: &[Algorithm],
) -> Result<Algorithm, AuthError> {
    match Algorithm::from_name(&header.alg) {
        Some(alg) if allowed.contains(&alg) => Ok(alg),
        _ => Err(invalid(
            R::AlgorithmNotAllowed,
            "the token's algorithm is not allowed",
        )),
    }
}

/// A decoded signature: on the stack up to 512 bytes (RSA-4096), on the heap beyond (RSA-8192
/// signatures are 1024 bytes).
pub(crate) struct SigBuf {
    stack: [u8; 512],
    len: usize,
    heap: Vec<u8>,
}

impl SigBuf {
    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        }
    }
}

/// Decodes the signature segment and checks its length for fixed-size algorithms (so a
/// DER-encoded ECDSA signature is refused before reaching the crypto).
pub(crate) fn decode_signature(segment: &str, alg: Algorithm) -> Result<SigBuf, AuthError> {
    let mut buf = SigBuf {
        stack: [0; 512],
        len: 0,
        heap: Vec::new(),
    };
    let estimate = b64::decoded_len_bound(segment.len());
    if estimate > 1024 + 3 {
        return Err(invalid(R::Malformed, "token signature is too long"));
    }
    let not_b64 = || invalid(R::Malformed, "token signature is not base64url");
    if estimate <= buf.stack.len() {
        buf.len = b64::decode_into(segment.as_bytes(), &mut buf.stack)
            .ok_or_else(not_b64)?
            .len();
    } else {
        buf.heap = b64::decode_vec(segment.as_bytes()).ok_or_else(not_b64)?;
        buf.len = buf.heap.len();
    }
    if buf.len == 0 {
        return Err(invalid(R::Unsigned, "token is unsigned"));
    }
    if let Some(expected) = alg.fixed_signature_len()
        && buf.len != expected
    {
        return Err(invalid(
            R::Malformed,
            "token signature has the wrong length for its algorithm",
        ));
    }
    Ok(buf)
}

/// Checks the signature. A failure here is final: it never triggers a key refetch.
pub(crate) fn verify_signature(
    key: &ParsedPublicKey,
    signing_input: &str,
    signature: &[u8],
) -> Result<(), AuthError> {
    key.verify_sig(signing_input.as_bytes(), signature)
        .map_err(|_| invalid(R::BadSignature, "token signature is invalid"))
}

/// Decodes the payload segment.
pub(crate) fn decode_payload(segment: &str) -> Result<Vec<u8>, AuthError> {
    b64::decode_vec(segment.as_bytes())
        .ok_or_else(|| invalid(R::Malformed, "token payload is not base64url"))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn header(json: &str) -> Result<(String, Option<String>), AuthError> {
        let mut buf = HeaderBuf::default();
        let h = decode_header(&b64(json), &mut buf)?;
        Ok((h.alg.into_owned(), h.kid.map(Cow::into_owned)))
    }

    #[test]
    fn split_is_strict() {
        assert!(split("a.b.c", 100).is_ok());
        assert!(split("a..c", 100).is_ok(), "empty payload is a legal JWS");
        for bad in ["a.b", "a.b.c.d", "a.b.", ".b.c", "abc", "a.b.c.d.e"] {
            assert!(split(bad, 100).is_err(), "{bad}");
        }
        assert!(split("a.b.c", 4).is_err());
    }

    #[test]
    fn header_rules() {
        assert_eq!(
            header(r#"{"alg":"RS256","kid":"k"}"#).ok(),
            Some(("RS256".into(), Some("k".into())))
        );
        assert!(header(r#"{"alg":"RS256","alg":"none"}"#).is_err());
        assert!(header(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#).is_err());
        assert!(header(r#"{"alg":"RS256","b64":false}"#).is_err());
        assert!(header(r#"{"alg":"RS256","b64":true}"#).is_ok());
        assert!(header(r#"{"alg":1}"#).is_err());
        assert!(header(r#"{"kid":"k"}"#).is_err());
        assert!(header(r#"{"alg":"RS256","kid":7}"#).is_err());
        assert!(header(r#"["alg"]"#).is_err());
        assert!(header(r#"{"alg":"RS256"} "#).is_ok()); // trailing whitespace is valid JSON
        assert!(header(r#"{"alg":"RS256"}x"#).is_err());
        // A large header (x5c chain) still parses, through the heap buffer.
        let big = format!(r#"{{"alg":"RS256","x5c":["{}"]}}"#, "A".repeat(2000));
        assert!(header(&big).is_ok());
    }

    #[test]
    fn base64_must_be_canonical_unpadded() {
        let mut buf = HeaderBuf::default();
        let good = b64(r#"{"alg":"RS256"}"#);
        assert!(decode_header(&good, &mut buf).is_ok());
        for bad in [
            format!("{good}="),
            format!(" {good}"),
            good.replace('e', "+"),
        ] {
            let mut buf = HeaderBuf::default();
            assert!(decode_header(&bad, &mut buf).is_err(), "{bad}");
        }
    }

    #[test]
    fn ecdsa_signature_length_is_checked() {
        let sig64 = URL_SAFE_NO_PAD.encode([1u8; 64]);
        let sig70 = URL_SAFE_NO_PAD.encode([1u8; 70]);
        assert!(decode_signature(&sig64, Algorithm::ES256).is_ok());
        assert!(decode_signature(&sig70, Algorithm::ES256).is_err());
        assert!(decode_signature(&sig64, Algorithm::ES384).is_err());
        let huge = URL_SAFE_NO_PAD.encode([1u8; 2000]);
        assert!(decode_signature(&huge, Algorithm::RS256).is_err());
    }
}
