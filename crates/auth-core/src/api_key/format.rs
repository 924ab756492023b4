//! The key format: `<prefix>_<random>`, a short key id for lookup and display, and the hash that
//! is stored in place of the key.

use std::fmt;

use crate::config::ConfigError;

/// The base62 alphabet of the random part.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters of the random part: 43 base62 characters carry 256 bits.
pub(crate) const RANDOM_CHARS: usize = 43;

/// How many of them form the key id (kept in clear for lookup and display); the remaining 31
/// characters (184 bits) are the secret that only the hash records.
pub(crate) const ID_CHARS: usize = 12;

/// The default prefix, shared by the CLI and the apps.
pub const DEFAULT_PREFIX: &str = "sk_live";

/// The SHA-256 of a whole key: what the store keeps instead of the key.
///
/// A plain SHA-256 rather than a slow password hash or a peppered HMAC: the key is 256 random
/// bits, so guessing it from the hash is as hard as guessing the key itself, and a pepper would
/// be one more secret that the CLI and every app would have to share. Comparisons are in
/// constant time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// The hash of `key`.
    #[must_use]
    pub fn of(key: &str) -> KeyHash {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        KeyHash(out)
    }

    /// Whether `self` and `other` are equal, in constant time.
    #[must_use]
    pub fn matches(&self, other: &KeyHash) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }

    /// Lower-case hex, for storage.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses lower- or upper-case hex, as stored.
    #[must_use]
    pub fn from_hex(hex: &str) -> Option<KeyHash> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(KeyHash(out))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// The shape of the API keys of one deployment: `<prefix>_<43 base62 characters>`, e.g.
/// `sk_live_4fZ…`. The key id is the prefix and the first 12 random characters
/// (`sk_live_4fZq8Rk2XbW1`): unique, shown in listings and logs, used for the lookup.
///
/// ```
/// use auth_core::api_key::KeyFormat;
///
/// let format = KeyFormat::default();
/// let (id, key) = format.generate();
/// assert!(key.starts_with("sk_live_"));
/// assert_eq!(format.key_id(&key).as_deref(), Some(id.as_str()));
/// assert!(format.key_id("sk_live_too-short").is_none());
/// assert!(format.key_id("eyJhbGciOiJSUzI1NiJ9.e30.sig").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFormat {
    prefix: String,
}

impl Default for KeyFormat {
    fn default() -> Self {
        KeyFormat {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

impl KeyFormat {
    /// Keys starting with `prefix_`. The prefix is 1–32 characters of `a-z`, `0-9` and `_`, not
    /// starting or ending with `_` (`sk_live`, `sk_test`, `acme`).
    ///
    /// # Errors
    /// `AUTH_API_KEY_PREFIX` for any other prefix.
    pub fn new(prefix: impl Into<String>) -> Result<KeyFormat, ConfigError> {
        let prefix = prefix.into();
        let valid = (1..=32).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !prefix.starts_with('_')
            && !prefix.ends_with('_');
        if !valid {
            return Err(ConfigError::new(
                "AUTH_API_KEY_PREFIX",
                "must be 1-32 characters of a-z, 0-9 and _, not starting or ending with _",
            ));
        }
        Ok(KeyFormat { prefix })
    }

    /// The prefix, without the trailing `_`.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A new key and its id, from the system's secure random generator.
    ///
    /// # Panics
    /// If the system's random generator fails, which leaves no safe way to make a key.
    #[must_use]
    pub fn generate(&self) -> (String, String) {
        let mut key = String::with_capacity(self.prefix.len() + 1 + RANDOM_CHARS);
        key.push_str(&self.prefix);
        key.push('_');
        // Rejection sampling: bytes >= 248 are dropped, so each character is uniform.
        let mut buf = [0u8; 64];
        while key.len() < self.prefix.len() + 1 + RANDOM_CHARS {
            // allow-panic: without randomness no key can be made safely.
            aws_lc_rs::rand::fill(&mut buf).expect("the system random generator works");
            for &b in &buf {
                if b < 248 && key.len() < self.prefix.len() + 1 + RANDOM_CHARS {
                    key.push(char::from(ALPHABET[usize::from(b % 62)]));
                }
            }
        }
        let id = key[..self.prefix.len() + 1 + ID_CHARS].to_owned();
        (id, key)
    }

    /// Whether `presented` has this format's shape (and so is never tried as a JWT).
    #[must_use]
    pub fn is_key(&self, presented: &str) -> bool {
        self.key_id(presented).is_some()
    }

    /// The key id of a presented key, `None` when it does not have this format's shape.
    #[must_use]
    pub fn key_id(&self, presented: &str) -> Option<String> {
        let random = presented
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('_')?;
        let shaped =
            random.len() == RANDOM_CHARS && random.bytes().all(|b| b.is_ascii_alphanumeric());
        shaped.then(|| presented[..self.prefix.len() + 1 + ID_CHARS].to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_shape_and_are_distinct() {
        let format = KeyFormat::default();
        let mut ids = std::collections::HashSet::new();
        for _ in 0..1000 {
            let (id, key) = format.generate();
            assert_eq!(key.len(), "sk_live_".len() + RANDOM_CHARS);
            assert!(format.is_key(&key), "{key}");
            assert!(ids.insert(id));
        }
    }

    #[test]
    fn every_base62_character_appears() {
        let format = KeyFormat::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.extend(format.generate().1["sk_live_".len()..].chars());
        }
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn look_alikes_are_not_keys() {
        let format = KeyFormat::default();
        let (_, key) = format.generate();
        for bad in [
            key[..key.len() - 1].to_owned(),
            format!("{key}x"),
            key.replacen("sk_live_", "sk_test_", 1),
            key.replacen('_', "-", 1),
            format!("{}!", &key[..key.len() - 1]),
            "sk_live_".to_owned(),
            String::new(),
        ] {
            assert!(!format.is_key(&bad), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_checked() {
        for good in ["sk_live", "sk_test", "acme", "a1"] {
            assert!(KeyFormat::new(good).is_ok(), "{good}");
        }
        for bad in ["", "_sk", "sk_", "SK", "sk-live", &"a".repeat(33)] {
            assert!(KeyFormat::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hashes_round_trip_and_compare() {
        let a = KeyHash::of("sk_live_a");
        assert_eq!(KeyHash::from_hex(&a.to_hex()), Some(a));
        assert!(a.matches(&KeyHash::of("sk_live_a")));
        assert!(!a.matches(&KeyHash::of("sk_live_b")));
        assert_eq!(KeyHash::from_hex("zz"), None);
        assert_eq!(format!("{a:?}"), "KeyHash(..)");
    }
}
