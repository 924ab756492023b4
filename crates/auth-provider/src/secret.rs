//! Hashes of client secrets, codes and tokens: what the store keeps instead of the values.
//!
//! | value | hash | why |
//! |---|---|---|
//! | authorization codes, refresh tokens, opaque access tokens | SHA-256, base64url | 256 random bits each: no guess can find a preimage, so a fast hash loses nothing, and lookups stay one indexed query |
//! | client secrets the provider generates (dynamic registration) | SHA-256 | 256 random bits, as above |
//! | client secrets an operator configures | PBKDF2-HMAC-SHA256, 16-byte random salt, 600,000 iterations by default (OWASP 2023) | a person may have chosen it, so a stolen store must not make it cheap to guess; no length limit (bcrypt stops at 72 bytes) and no extra crate (aws-lc-rs has PBKDF2) |
//!
//! A PBKDF2 check costs about a quarter of a second of CPU. So that a client does not pay it on
//! every token request, a successful check is remembered in memory as an HMAC (under a key
//! drawn at start, never stored) of the client id, the stored hash and the presented secret;
//! the next request with the same secret costs one HMAC.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Mutex;

use aws_lc_rs::{constant_time, digest, hmac, pbkdf2};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// PBKDF2 iterations for operator-configured secrets unless the builder says otherwise.
pub(crate) const DEFAULT_ITERATIONS: u32 = 600_000;

/// How many verified secrets are remembered (one per client).
const CACHE_LIMIT: usize = 10_000;

/// base64url(SHA-256(`value`)): the stored form of a code or token.
pub(crate) fn token_hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, value.as_bytes()))
}

/// The stored hash of a client secret, in a self-describing text form:
/// `sha256$<hash>` or `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(String);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.0.split('$').next().unwrap_or("");
        write!(f, "SecretHash({scheme}$…)")
    }
}

impl SecretHash {
    /// The SHA-256 form, for a secret of 256 random bits.
    pub(crate) fn sha256(secret: &str) -> Self {
        Self(format!("sha256${}", token_hash(secret)))
    }

    /// The PBKDF2 form, for a secret a person may have chosen.
    pub(crate) fn pbkdf2(secret: &str, iterations: u32) -> Self {
        let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).expect("the system random generator is available");
        let mut hash = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            secret.as_bytes(),
            &mut hash,
        );
        Self(format!(
            "pbkdf2-sha256${iterations}${}${}",
            URL_SAFE_NO_PAD.encode(salt),
            URL_SAFE_NO_PAD.encode(hash)
        ))
    }

    /// Reads the stored text form.
    ///
    /// # Errors
    ///
    /// If `text` is not in one of the two forms.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('$').collect();
        let b64 = |part: &str, len: usize| {
            URL_SAFE_NO_PAD
                .decode(part)
                .is_ok_and(|bytes| bytes.len() == len)
        };
        let valid = match parts.as_slice() {
            ["sha256", hash] => b64(hash, 32),
            ["pbkdf2-sha256", iterations, salt, hash] => {
                iterations.parse::<NonZeroU32>().is_ok() && b64(salt, 16) && b64(hash, 32)
            }
            _ => false,
        };
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err("not a sha256$… or pbkdf2-sha256$… secret hash".to_owned())
        }
    }

    /// The stored text form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `secret` hashes to this value (constant-time comparison).
    pub(crate) fn verify(&self, secret: &str) -> bool {
        let parts: Vec<&str> = self.0.split('$').collect();
        match parts.as_slice() {
            ["sha256", hash] => constant_time::verify_slices_are_equal(
                token_hash(secret).as_bytes(),
                hash.as_bytes(),
            )
            .is_ok(),
            ["pbkdf2-sha256", iterations, salt, hash] => {
                let (Ok(iterations), Ok(salt), Ok(hash)) = (
                    iterations.parse::<NonZeroU32>(),
                    URL_SAFE_NO_PAD.decode(salt),
                    URL_SAFE_NO_PAD.decode(hash),
                ) else {
                    return false;
                };
                pbkdf2::verify(
                    pbkdf2::PBKDF2_HMAC_SHA256,
                    iterations,
                    &salt,
                    secret.as_bytes(),
                    &hash,
                )
                .is_ok()
            }
            _ => false,
        }
    }

    /// Whether checking costs enough to be worth remembering.
    fn is_slow(&self) -> bool {
        self.0.starts_with("pbkdf2")
    }
}

/// Secrets verified recently, as keyed MACs (see the module docs).
pub(crate) struct VerifiedSecrets {
    key: hmac::Key,
    seen: Mutex<HashMap<String, hmac::Tag>>,
}

impl fmt::Debug for VerifiedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedSecrets").finish_non_exhaustive()
    }
}

impl VerifiedSecrets {
    pub(crate) fn new() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        Self {
            key: hmac::Key::generate(hmac::HMAC_SHA256, &rng)
                .expect("the system random generator is available"),
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn tag(&self, client_id: &str, hash: &SecretHash, secret: &str) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.key);
        for part in [client_id, hash.as_str(), secret] {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        context.sign()
    }

    /// Whether `secret` is the secret of `client_id` whose stored hash is `hash`. A PBKDF2
    /// check runs on the blocking pool, not on the request's worker thread.
    pub(crate) async fn verify(&self, client_id: &str, hash: &SecretHash, secret: &str) -> bool {
        if !hash.is_slow() {
            return hash.verify(secret);
        }
        let tag = self.tag(client_id, hash, secret);
        let known = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(client_id)
            .is_some_and(|seen| {
                constant_time::verify_slices_are_equal(seen.as_ref(), tag.as_ref()).is_ok()
            });
        if known {
            return true;
        }
        let (stored, given) = (hash.clone(), secret.to_owned());
        let valid = tokio::task::spawn_blocking(move || stored.verify(&given))
            .await
            .unwrap_or(false);
        if !valid {
            return false;
        }
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= CACHE_LIMIT {
            seen.clear();
        }
        seen.insert(client_id.to_owned(), tag);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_round_trip() {
        let hash = SecretHash::sha256("s3cret");
        assert!(hash.verify("s3cret"));
        assert!(!hash.verify("s3cret "));
        assert_eq!(SecretHash::parse(hash.as_str()).as_ref(), Ok(&hash));
        assert!(!format!("{hash:?}").contains(&token_hash("s3cret")));
    }

    #[test]
    fn pbkdf2_round_trip_and_salt() {
        let hash = SecretHash::pbkdf2("s3cret", 1_000);
        assert!(hash.verify("s3cret"));
        assert!(!hash.verify("S3cret"));
        assert_ne!(hash, SecretHash::pbkdf2("s3cret", 1_000), "salted");
        assert_eq!(SecretHash::parse(hash.as_str()).as_ref(), Ok(&hash));
        let long = "x".repeat(200);
        let hash = SecretHash::pbkdf2(&long, 10);
        assert!(hash.verify(&long), "no 72-byte limit");
        assert!(!hash.verify(&long[..72]));
    }

    #[test]
    fn parse_refuses_other_forms() {
        for text in [
            "",
            "plain",
            "sha256$",
            "sha256$abc",
            "pbkdf2-sha256$0$AAAAAAAAAAAAAAAAAAAAAA$x",
        ] {
            assert!(SecretHash::parse(text).is_err(), "{text}");
        }
    }

    #[tokio::test]
    async fn the_cache_remembers_only_the_right_secret() {
        let cache = VerifiedSecrets::new();
        let hash = SecretHash::pbkdf2("right", 1_000);
        assert!(!cache.verify("app", &hash, "wrong").await);
        assert!(cache.verify("app", &hash, "right").await);
        assert!(cache.verify("app", &hash, "right").await);
        assert!(!cache.verify("app", &hash, "wrong").await);
        // A new secret for the same client replaces the remembered one.
        let rotated = SecretHash::pbkdf2("new", 1_000);
        assert!(!cache.verify("app", &rotated, "right").await);
        assert!(cache.verify("app", &rotated, "new").await);
    }
}
