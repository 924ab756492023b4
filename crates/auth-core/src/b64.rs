//! base64url decoding on the per-request path (token segments, session cookies).
//!
//! `base64-simd` picks an AVX2/SSE4.1/NEON decoder at run time: about 1,000 instructions for a
//! 640-character segment where the scalar `base64` engine takes 4,750 (callgrind, see
//! docs/benchmarks.md). It is exactly as strict as the `base64` crate's `URL_SAFE_NO_PAD`
//! engine: no padding, no whitespace, no `+`/`/`, canonical trailing bits (the unit test below
//! holds the two to the same answers). Encoding and cold paths keep the `base64` crate.

use base64_simd::{Out, URL_SAFE_NO_PAD};

/// Decodes `src` into the front of `dst`; `None` when `src` is not canonical unpadded
/// base64url or `dst` is too small (callers size it with [`decoded_len_bound`]).
pub(crate) fn decode_into<'d>(src: &[u8], dst: &'d mut [u8]) -> Option<&'d [u8]> {
    let len = URL_SAFE_NO_PAD.decoded_length(src).ok()?;
    let dst = dst.get_mut(..len)?;
    URL_SAFE_NO_PAD
        .decode(src, Out::from_slice(dst))
        .ok()
        .map(|d| &*d)
}

/// Decodes `src` into a new vector of exactly the decoded length.
pub(crate) fn decode_vec(src: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode_to_vec(src).ok()
}

/// An upper bound of the decoded length of `len` characters (for sizing buffers).
pub(crate) const fn decoded_len_bound(len: usize) -> usize {
    len.div_ceil(4) * 3
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as REFERENCE;

    use super::*;

    /// Every string up to four characters over an alphabet with the edge cases (both URL-safe
    /// extras, the standard ones, padding, whitespace, non-ASCII, characters whose low bits
    /// matter for canonical endings), then random longer strings and mutations of valid ones:
    /// the SIMD decoder and the reference agree on every one.
    #[test]
    fn agrees_with_the_reference_engine() {
        let alphabet: &[u8] = b"AQgwBRh_-+/= \n\xc3z9";
        let check = |s: &[u8]| {
            let expected = REFERENCE.decode(s).ok();
            assert_eq!(decode_vec(s), expected, "{:?}", String::from_utf8_lossy(s));
            let mut buf = [0u8; 1024];
            assert_eq!(
                decode_into(s, &mut buf).map(<[u8]>::to_vec),
                expected,
                "{:?}",
                String::from_utf8_lossy(s)
            );
        };
        let mut s = Vec::new();
        for len in 0..=4u32 {
            for mut n in 0..alphabet.len().pow(len) {
                s.clear();
                for _ in 0..len {
                    s.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                check(&s);
            }
        }
        // Longer inputs cross the SIMD blocks (32 and 64 characters) and their tails.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 300) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut text = REFERENCE.encode(&bytes).into_bytes();
            check(&text);
            if !text.is_empty() {
                let at = (next() as usize) % text.len();
                text[at] = alphabet[(next() as usize) % alphabet.len()];
                check(&text);
            }
        }
    }

    #[test]
    fn a_short_buffer_is_refused_not_a_panic() {
        let text = REFERENCE.encode([7u8; 40]);
        let mut small = [0u8; 39];
        assert_eq!(decode_into(text.as_bytes(), &mut small), None);
        let mut exact = [0u8; 40];
        assert_eq!(
            decode_into(text.as_bytes(), &mut exact),
            Some(&[7u8; 40][..])
        );
        assert!(decoded_len_bound(text.len()) >= 40);
    }
}
