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
//! - The key is the whole value, compared in constant time; the hash is quick_cache's seeded
//!   foldhash (a collision costs a comparison, never a wrong session).
//! - Bounded in bytes (the value, the token and a fixed part per entry), with quick_cache's
//!   frequency-aware eviction, as the verified-token cache.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use quick_cache::Equivalent;

/// The fixed part of an entry's weight: the entry, its `Arc` and the cache's own bookkeeping.
const ENTRY_OVERHEAD: usize = 160;

/// What a request needs of an opened session cookie.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct SessionAccess {
    /// The access token.
    pub(crate) at: String,
    /// When the access token expires (seconds since the epoch).
    pub(crate) exp: i64,
}

/// A sealed session cookie value (the key).
struct Sealed(Box<str>);

impl Hash for Sealed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for Sealed {
    fn eq(&self, other: &Self) -> bool {
        same(&self.0, &other.0)
    }
}

impl Eq for Sealed {}

/// A borrowed sealed value, to look one up without copying it.
struct SealedRef<'a>(&'a str);

impl Hash for SealedRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The same bytes as `Sealed`'s hash: a `str`'s.
        self.0.hash(state);
    }
}

impl Equivalent<Sealed> for SealedRef<'_> {
    fn equivalent(&self, key: &Sealed) -> bool {
        same(self.0, &key.0)
    }
}

/// Constant-time equality of two sealed values (lengths are public).
fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
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
    pub(crate) fn get(&self, sealed: &str) -> Option<Arc<SessionAccess>> {
        self.entries.as_ref()?.get(&SealedRef(sealed))
    }

    /// Remembers what the session cookie `sealed` opened to.
    pub(crate) fn insert(&self, sealed: String, access: Arc<SessionAccess>) {
        if let Some(entries) = &self.entries {
            entries.insert(Sealed(sealed.into_boxed_str()), access);
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
        Arc::new(SessionAccess {
            at: at.into(),
            exp: 1,
        })
    }

    #[test]
    fn remembers_by_the_whole_value() {
        let cache = OpenedSessions::new(1 << 20);
        cache.insert("sealed-value-one".into(), access("t1"));
        assert_eq!(
            cache.get("sealed-value-one").map(|a| a.at.clone()),
            Some("t1".into())
        );
        // A value sharing a prefix, or one byte different, is another value.
        assert!(cache.get("sealed-value-on").is_none());
        assert!(cache.get("sealed-value-onf").is_none());
        assert!(cache.get("sealed-value-one ").is_none());
    }

    #[test]
    fn bounded_in_bytes_and_off_at_zero() {
        let cache = OpenedSessions::new(64 * 1024);
        for i in 0..1_000 {
            cache.insert(format!("{i:0>2000}"), access(&"t".repeat(900)));
        }
        assert!(cache.weight() <= 64 * 1024, "{}", cache.weight());
        let off = OpenedSessions::new(0);
        off.insert("v".into(), access("t"));
        assert!(off.get("v").is_none());
    }
}
