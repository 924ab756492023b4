//! Opened session cookies, remembered by their sealed value.
//!
//! A signed-in browser sends the same session cookie on every request until its access token is
//! refreshed. Opening it (base64url, AES-256-GCM and JSON over the 1.5–2.5 KB that hold the
//! access token, the ID token and the profile) was the largest cost of a cookie-authenticated
//! request: more than verifying the access token from the token cache. This bounded cache maps
//! the whole sealed value to the access token and its expiry, so each cookie is opened once.
//!
//! - Only values that opened are remembered; a forged or foreign value costs a full open every
//!   time and takes no room.
//! - The answer is what opening again would give: the cookie keys do not change while the
//!   process runs. Expiry is still checked on every request, by the caller, from the
//!   remembered `exp`.
//! - The key is the whole value, compared in constant time. Its hash (quick_cache's seeded
//!   foldhash) covers only the first [`HASHED`] bytes, which hold the seal's random 96-bit
//!   nonce: only values that opened are stored, so stored values differ there by chance alone,
//!   and a forged value sharing a stored value's prefix costs one comparison, never a wrong
//!   session. Hashing the whole 2–3 KB cost as much as the lookup itself.
//! - The access token's key in the verified-token cache (its SHA-256) is computed once, when
//!   the cookie is opened, so a request does not hash the token again.
//! - Bounded in bytes (the value, the token and a fixed part per entry), with quick_cache's
//!   frequency-aware eviction, as the verified-token cache.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use quick_cache::Equivalent;

/// The fixed part of an entry's weight: the entry, its `Arc` and the cache's own bookkeeping.
const ENTRY_OVERHEAD: usize = 160;

/// How many leading bytes of a sealed value are hashed: its version and nonce (1 + 12 bytes,
/// 18 characters of base64url) and some ciphertext.
const HASHED: usize = 32;

/// What a request needs of an opened session cookie.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct SessionAccess {
    /// The access token.
    pub(crate) at: String,
    /// When the access token expires (seconds since the epoch).
    pub(crate) exp: i64,
    /// The access token's key in the verified-token cache (set by [`keyed`](Self::keyed)).
    #[serde(skip)]
    pub(crate) key: [u8; 32],
    /// The sign-in's `auth_time` and `acr`, from its ID token.
    #[serde(default)]
    pub(crate) au: Option<i64>,
    #[serde(default)]
    pub(crate) ac: Option<String>,
}

impl SessionAccess {
    /// With the token's cache key computed.
    pub(crate) fn keyed(mut self) -> Self {
        self.key = crate::token_cache::key_of(&self.at);
        self
    }
}

/// The bytes of a sealed value that are hashed (see [`HASHED`]).
fn hashed(sealed: &[u8]) -> &[u8] {
    &sealed[..sealed.len().min(HASHED)]
}

/// A sealed session cookie value (the key).
struct Sealed(Box<[u8]>);

impl Hash for Sealed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(hashed(&self.0));
    }
}

impl PartialEq for Sealed {
    fn eq(&self, other: &Self) -> bool {
        same(&self.0, &other.0)
    }
}

impl Eq for Sealed {}

/// A borrowed sealed value, to look one up without copying it.
struct SealedRef<'a>(&'a [u8]);

impl Hash for SealedRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The same bytes as `Sealed`'s hash.
        state.write(hashed(self.0));
    }
}

impl Equivalent<Sealed> for SealedRef<'_> {
    fn equivalent(&self, key: &Sealed) -> bool {
        same(self.0, &key.0)
    }
}

/// Constant-time equality of two sealed values (lengths are public).
fn same(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[derive(Clone)]
struct ByLen;

impl quick_cache::Weighter<Sealed, Arc<SessionAccess>> for ByLen {
    fn weight(&self, key: &Sealed, value: &Arc<SessionAccess>) -> u64 {
        (key.0.len() + value.at.len() + ENTRY_OVERHEAD) as u64
    }
}

/// The cache; off (every cookie opened on every request) with a capacity of 0.
#[derive(Clone)]
pub(crate) struct OpenedSessions {
    entries: Option<Arc<quick_cache::sync::Cache<Sealed, Arc<SessionAccess>, ByLen>>>,
}

impl OpenedSessions {
    /// A cache of at most `capacity_bytes` (0: none).
    pub(crate) fn new(capacity_bytes: usize) -> Self {
        let entries = (capacity_bytes > 0).then(|| {
            // A typical entry: a 2.3 KB value and a 0.9 KB token.
            let estimated = (capacity_bytes / 3_400).max(16);
            Arc::new(quick_cache::sync::Cache::with_weighter(
                estimated,
                capacity_bytes as u64,
                ByLen,
            ))
        });
        OpenedSessions { entries }
    }

    /// The remembered access token and expiry of the session cookie `sealed`.
    pub(crate) fn get(&self, sealed: &[u8]) -> Option<Arc<SessionAccess>> {
        self.entries.as_ref()?.get(&SealedRef(sealed))
    }

    /// Remembers what the session cookie `sealed` opened to.
    pub(crate) fn insert(&self, sealed: &[u8], access: Arc<SessionAccess>) {
        if let Some(entries) = &self.entries {
            entries.insert(Sealed(sealed.into()), access);
        }
    }

    /// The entries' total weight in bytes (tests).
    #[cfg(test)]
    pub(crate) fn weight(&self) -> u64 {
        self.entries.as_ref().map_or(0, |e| e.weight())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(at: &str) -> Arc<SessionAccess> {
        Arc::new(
            SessionAccess {
                at: at.into(),
                exp: 1,
                key: [0; 32],
                au: None,
                ac: None,
            }
            .keyed(),
        )
    }

    #[test]
    fn remembers_by_the_whole_value() {
        let cache = OpenedSessions::new(1 << 20);
        cache.insert(b"sealed-value-one", access("t1"));
        assert_eq!(
            cache.get(b"sealed-value-one").map(|a| a.at.clone()),
            Some("t1".into())
        );
        // A value sharing a prefix, or one byte different, is another value.
        assert!(cache.get(b"sealed-value-on").is_none());
        assert!(cache.get(b"sealed-value-onf").is_none());
        assert!(cache.get(b"sealed-value-one ").is_none());
    }

    #[test]
    fn values_alike_in_their_hashed_prefix_stay_apart() {
        let cache = OpenedSessions::new(1 << 20);
        let prefix = "p".repeat(HASHED + 10);
        let (one, two) = (format!("{prefix}one"), format!("{prefix}two"));
        cache.insert(one.as_bytes(), access("t1"));
        cache.insert(two.as_bytes(), access("t2"));
        let at = |v: &str| cache.get(v.as_bytes()).map(|a| a.at.clone());
        assert_eq!(at(&one).as_deref(), Some("t1"));
        assert_eq!(at(&two).as_deref(), Some("t2"));
        assert_eq!(at(&format!("{prefix}six")), None);
        assert_eq!(at(&prefix), None);
    }

    #[test]
    fn the_token_cache_key_is_the_tokens() {
        let a = access("header.payload.signature");
        assert_eq!(
            a.key,
            crate::token_cache::key_of("header.payload.signature")
        );
    }

    #[test]
    fn bounded_in_bytes_and_off_at_zero() {
        let cache = OpenedSessions::new(64 * 1024);
        for i in 0..1_000 {
            cache.insert(format!("{i:0<2000}").as_bytes(), access(&"t".repeat(900)));
        }
        assert!(cache.weight() <= 64 * 1024, "{}", cache.weight());
        let off = OpenedSessions::new(0);
        off.insert(b"v", access("t"));
        assert!(off.get(b"v").is_none());
    }
}
