//! What the storage traits ([`ApiKeyStore`](crate::api_key::ApiKeyStore),
//! [`OwnerStore`](crate::owner::OwnerStore)) share: their error. The SQL implementations live in
//! the `auth-store` crate, so that this crate never depends on a database driver.

use std::fmt;

/// Why a store operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// A record with this id exists already.
    Conflict,
    /// The store cannot be reached or answered with an error: the request may succeed later.
    Unavailable,
}

/// A store failure. Its message never contains a key or a secret.
#[derive(Debug, Clone)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
}

impl StoreError {
    /// A failure of this kind.
    #[must_use]
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
        }
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}
