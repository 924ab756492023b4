//! The verified-token cache: a JWT that verified is accepted again, without its signature
//! check, from a bounded cache keyed by the SHA-256 of the whole token.
//!
//! The rules:
//! - an entry lives until the token's `exp` plus the leeway (the instant the full check would
//!   start refusing it; the leeway is not added twice), and is checked against the clock on every
//!   hit;
//! - a hit is served only while the key that verified the token is still in the issuer's key
//!   set, and that set is fresh: when the set was refreshed the key is looked up again, when it
//!   is stale the full path runs (and refreshes it), so a removed key ends its tokens' hits at
//!   the next refresh, exactly as it ends their verification;
//! - a revoked `jti` ([`Verifier::revoke_jti`](crate::Verifier::revoke_jti)) is refused on both
//!   paths, and [`Verifier::forget_token`](crate::Verifier::forget_token) evicts one token;
//! - each issuer has its own cache, so a verifier built with another configuration starts empty;
//! - the bound is in bytes (what an entry holds: the claims' payload and fields), and the
//!   eviction policy keeps the tokens in use when a flood of new valid tokens arrives: a token
//!   seen once does not push out one seen many times. Expired entries are dropped when they are
//!   next looked up, or evicted as cold.
//!
//! Why quick_cache rather than moka (which the SDK uses where a request is rare and slow,
//! introspection and tenants): this cache sits on every request. quick_cache's S3-FIFO policy
//! is frequency-aware (a one-hit token leaves through the small queue without touching the
//! main one, so a flood does not evict the hot set), it is weighted, sharded, and its read is a
//! shard read-lock and a probe, with no read buffer or timer wheel to maintain. moka measured
//! here added about 10 µs to each first verification (its insert with per-entry expiry) and
//! about 0.3 µs more to each hit (docs/benchmarks.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;

use crate::alg::Algorithm;
use crate::claims::{Claims, NoExtraClaims};

/// The default bound: 32 MiB of cached claims (about 35,000 typical access tokens).
pub(crate) const DEFAULT_CAPACITY_BYTES: u64 = 32 * 1024 * 1024;

/// What a token's verification established, for as long as it holds.
pub(crate) struct Verified {
    pub(crate) claims: Claims<NoExtraClaims>,
    /// `exp + leeway`, in seconds since the epoch: from then on the token is refused.
    pub(crate) until: f64,
    /// The key that verified it: its `kid`, the algorithm, and the key-set snapshot it was in
    /// (`None` for keys that never change: static keys and shared secrets).
    pub(crate) kid: Option<Box<str>>,
    pub(crate) alg: Algorithm,
    pub(crate) key_seq: Option<u64>,
    /// What the entry weighs (set when it is cached).
    pub(crate) weight: u32,
}

impl Verified {
    /// Roughly what the entry holds in memory.
    fn weigh(&self) -> u32 {
        let claims = &self.claims;
        let strings = [&claims.sub, &claims.jti, &claims.client_id]
            .iter()
            .map(|s| s.as_ref().map_or(0, String::len))
            .sum::<usize>();
        let lists = claims.aud.as_slice().iter().map(String::len).sum::<usize>()
            + claims.scope.iter().map(str::len).sum::<usize>();
        // The fixed part is measured, not guessed: 10,000 cached EdDSA tokens with a 270-byte
        // payload grew the process by 874 B each (the entry, the claims, the shard's slot,
        // the allocator's rounding; bench/benches/scale.rs).
        // The claims read as the application's type (`retype`, before the entry is cached) are
        // counted; a second or third type read later from a cache hit is not (at most
        // `size_of` plus the payload's length each), nor the mapped roles and scopes kept once a
        // request asked for them (strings taken from the payload: at most its length).
        let total = 600 + claims.raw_json().len() + strings + lists + claims.typed_weight();
        u32::try_from(total).unwrap_or(u32::MAX)
    }
}

/// The token's cache key.
pub(crate) fn key_of(token: &str) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// An entry's weight is computed once, when it is made.
#[derive(Clone, Copy)]
struct ByWeight;

impl quick_cache::Weighter<[u8; 32], Arc<Verified>> for ByWeight {
    fn weight(&self, _key: &[u8; 32], value: &Arc<Verified>) -> u64 {
        u64::from(value.weight)
    }
}

/// One issuer's verified tokens.
pub(crate) struct TokenCache {
    entries: quick_cache::sync::Cache<[u8; 32], Arc<Verified>, ByWeight>,
}

impl TokenCache {
    pub(crate) fn new(capacity_bytes: u64) -> TokenCache {
        // About 1 KiB per typical entry.
        let estimated = usize::try_from(capacity_bytes / 1024)
            .unwrap_or(usize::MAX)
            .max(16);
        TokenCache {
            entries: quick_cache::sync::Cache::with_weighter(estimated, capacity_bytes, ByWeight),
        }
    }

    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<Arc<Verified>> {
        self.entries.get(key)
    }

    pub(crate) fn insert(&self, key: [u8; 32], mut verified: Verified) {
        verified.weight = verified.weigh();
        self.entries.insert(key, Arc::new(verified));
    }

    pub(crate) fn remove(&self, key: &[u8; 32]) {
        self.entries.remove(key);
    }

    /// Drops every entry whose token has this `jti`.
    pub(crate) fn remove_jti(&self, jti: &str) {
        self.entries
            .retain(|_, v| v.claims.jti.as_deref() != Some(jti));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    #[cfg(test)]
    pub(crate) fn weighted_size(&self) -> u64 {
        self.entries.weight()
    }
}

/// Revoked token ids, each until its token's expiry (after which it could not verify anyway).
pub(crate) struct Denylist {
    ids: moka::sync::Cache<String, f64>,
    /// Whether any id was ever revoked: the hot path reads only this until then.
    used: std::sync::atomic::AtomicBool,
}

struct UntilGiven;

impl moka::Expiry<String, f64> for UntilGiven {
    fn expire_after_create(&self, _key: &String, until: &f64, _now: Instant) -> Option<Duration> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Some(Duration::from_secs_f64(
            (until - now).clamp(1.0, 400.0 * 86_400.0),
        ))
    }
}

impl Denylist {
    pub(crate) fn new() -> Denylist {
        Denylist {
            ids: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .expire_after(UntilGiven)
                .build(),
            used: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn revoke(&self, jti: &str, until: f64) {
        self.used.store(true, std::sync::atomic::Ordering::Release);
        self.ids.insert(jti.to_owned(), until);
    }

    pub(crate) fn is_revoked(&self, jti: Option<&str>) -> bool {
        match jti {
            Some(jti) if self.used.load(std::sync::atomic::Ordering::Acquire) => {
                self.ids.contains_key(jti)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::ClaimMapping;

    fn verified(sub: &str) -> Verified {
        let payload = serde_json::json!({
            "iss": "https://idp.example.com", "sub": sub, "aud": "api",
            "exp": 4_000_000_000u64, "jti": format!("jti-{sub}"), "scope": "a b c",
        });
        Verified {
            claims: crate::claims::test_claims(&payload, &Arc::new(ClaimMapping::default())),
            until: 4_000_000_030.0,
            kid: Some("k1".into()),
            alg: Algorithm::RS256,
            key_seq: Some(1),
            weight: 0,
        }
    }

    /// 100,000 distinct valid tokens through a 1 MiB cache while one token keeps being used:
    /// memory stays within the bound and the token in use stays cached.
    #[test]
    fn a_flood_stays_within_the_bound_and_keeps_the_hot_token() {
        let cache = TokenCache::new(1024 * 1024);
        let hot = key_of("the token in use");
        cache.insert(hot, verified("hot"));
        for n in 0..100_000u32 {
            cache.insert(
                key_of(&format!("flood {n}")),
                verified(&format!("user-{n}")),
            );
            assert!(cache.get(&hot).is_some() || n < 1000, "evicted at {n}");
        }
        assert!(
            cache.weighted_size() <= 1024 * 1024,
            "{}",
            cache.weighted_size()
        );
        assert!(cache.len() < 5_000, "{} entries", cache.len());
        assert!(cache.get(&hot).is_some(), "the hot token was evicted");
        cache.remove_jti("jti-hot");
        assert!(cache.get(&hot).is_none(), "removed by jti");
    }

    #[test]
    fn a_revoked_id_is_known_until_it_expires() {
        let denylist = Denylist::new();
        assert!(!denylist.is_revoked(Some("a")));
        denylist.revoke("a", 4_000_000_000.0);
        assert!(denylist.is_revoked(Some("a")));
        assert!(!denylist.is_revoked(Some("b")));
        assert!(!denylist.is_revoked(None));
    }
}
