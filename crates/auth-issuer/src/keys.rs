//! The process-wide pool of generated keys.

use std::sync::{Mutex, PoisonError};

use auth_provider::{KeySpec, SigningKey};

/// Pools of generated keys, one per [`KeySpec`].
///
/// Issuers started with the default keys (or with [`crate::TestIssuerBuilder::keys`]) draw
/// from here, so a test binary that starts a hundred issuers generates its RSA key once.
static POOLS: [Mutex<Vec<SigningKey>>; 6] = [
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
    Mutex::new(Vec::new()),
];

fn pool_index(spec: KeySpec) -> usize {
    match spec {
        KeySpec::Rsa2048 => 0,
        KeySpec::Rsa3072 => 1,
        KeySpec::Rsa4096 => 2,
        KeySpec::P256 => 3,
        KeySpec::P384 => 4,
        _ => 5,
    }
}

/// The `index`-th pooled key of this kind, generated on first use (rename it with
/// [`SigningKey::with_options`]).
pub(crate) fn pooled(spec: KeySpec, index: usize) -> SigningKey {
    let mut pool = POOLS[pool_index(spec)]
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    while pool.len() <= index {
        pool.push(SigningKey::generate(spec, "pooled"));
    }
    pool[index].clone()
}
