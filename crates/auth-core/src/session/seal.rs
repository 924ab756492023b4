//! Sealed cookie values: AES-256-GCM (aws-lc-rs) with keys derived from the cookie secret.
//!
//! Format: base64url( version `1` || nonce (12 bytes, random) || ciphertext || tag (16) ).
//! The cookie's purpose (`"session"`, `"refresh"`, `"flow"`) is bound as associated data, so a
//! sealed value cannot be moved from one cookie to another. Keys come from HKDF-SHA256 over the
//! secret; older secrets stay accepted for opening (rotation), new values are always sealed with
//! the current one.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::b64;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// The shortest secret accepted (characters), per the configuration contract.
pub(crate) const MIN_SECRET_LEN: usize = 32;

/// Seals and opens cookie values.
pub(crate) struct Sealer {
    /// The current key first, then older ones.
    keys: Vec<LessSafeKey>,
    ephemeral: bool,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealer({} key(s), redacted)", self.keys.len())
    }
}

fn derive(secret: &[u8]) -> Result<LessSafeKey, ()> {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"auth-sdk cookie sealing v1");
    let prk = salt.extract(secret);
    let okm = prk
        .expand(&[b"aes-256-gcm"], &AES_256_GCM)
        .map_err(|_| ())?;
    let mut key = [0u8; 32];
    okm.fill(&mut key).map_err(|_| ())?;
    let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| ())?;
    Ok(LessSafeKey::new(unbound))
}

impl Sealer {
    /// A sealer from the current secret and any older ones.
    pub(crate) fn new(current: &[u8], old: &[Vec<u8>]) -> Result<Self, ()> {
        let mut keys = vec![derive(current)?];
        for secret in old {
            keys.push(derive(secret)?);
        }
        Ok(Sealer {
            keys,
            ephemeral: false,
        })
    }

    /// A sealer with a random key (development only: sessions end at restart).
    pub(crate) fn ephemeral() -> Result<Self, ()> {
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret).map_err(|_| ())?;
        let mut sealer = Sealer::new(&secret, &[])?;
        sealer.ephemeral = true;
        Ok(sealer)
    }

    /// Whether the key is random per process.
    pub(crate) fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// Seals `plaintext` for `purpose`.
    pub(crate) fn seal(&self, purpose: &str, plaintext: &[u8]) -> Option<String> {
        let key = self.keys.first()?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut buf = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(purpose.as_bytes()),
            &mut buf,
        )
        .ok()?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Some(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a sealed value; `None` for anything tampered, truncated, foreign or malformed.
    ///
    /// One allocation: the value is decoded into a buffer that the last key (normally the only
    /// one) decrypts in place; older keys, tried first, work on copies.
    pub(crate) fn open(&self, purpose: &str, sealed: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        let mut raw = b64::decode_vec(sealed.as_ref())?;
        if raw.len() < 1 + NONCE_LEN + TAG_LEN || raw[0] != VERSION {
            return None;
        }
        let nonce: [u8; NONCE_LEN] = raw[1..1 + NONCE_LEN].try_into().ok()?;
        let (last, others) = self.keys.split_last()?;
        for key in others {
            let mut buf = raw[1 + NONCE_LEN..].to_vec();
            if let Ok(plain) = key.open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut buf,
            ) {
                let len = plain.len();
                buf.truncate(len);
                return Some(buf);
            }
        }
        let len = last
            .open_within(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut raw,
                1 + NONCE_LEN..,
            )
            .ok()?
            .len();
        raw.truncate(len);
        Some(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_and_purpose_binding() {
        let s = Sealer::new(SECRET, &[]).expect("sealer");
        let sealed = s.seal("session", b"hello").expect("sealed");
        assert_eq!(s.open("session", &sealed).as_deref(), Some(&b"hello"[..]));
        assert_eq!(s.open("refresh", &sealed), None, "purpose is bound");
        assert_ne!(s.seal("session", b"hello"), Some(sealed), "random nonce");
    }

    #[test]
    fn tampered_truncated_and_foreign_values_do_not_open() {
        let s = Sealer::new(SECRET, &[]).expect("sealer");
        let sealed = s.seal("session", b"hello").expect("sealed");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).expect("b64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(s.open("session", URL_SAFE_NO_PAD.encode(&bytes)), None);
        assert_eq!(s.open("session", &sealed[..sealed.len() - 4]), None);
        assert_eq!(s.open("session", ""), None);
        assert_eq!(s.open("session", "!!not base64!!"), None);
        let other = Sealer::new(b"another-secret-another-secret-xx", &[]).expect("sealer");
        assert_eq!(other.open("session", &sealed), None);
    }

    #[test]
    fn old_secrets_still_open_new_values_use_the_current_one() {
        let old = Sealer::new(SECRET, &[]).expect("sealer");
        let sealed_old = old.seal("session", b"v1").expect("sealed");
        let rotated =
            Sealer::new(b"the-new-secret-the-new-secret-xx", &[SECRET.to_vec()]).expect("sealer");
        assert_eq!(
            rotated.open("session", &sealed_old).as_deref(),
            Some(&b"v1"[..])
        );
        let sealed_new = rotated.seal("session", b"v2").expect("sealed");
        assert_eq!(old.open("session", &sealed_new), None);
    }
}
