//! An OAuth 2.1 / OpenID Connect provider engine that applications host.
//!
//! Some applications are the identity provider: they let third-party apps, command-line tools
//! and MCP clients act for their users, so they serve `/authorize`, `/token`, discovery and a
//! JWKS themselves. `auth-provider` is that engine. It is framework-neutral (a
//! [`ProviderRequest`] in, a [`ProviderResponse`] out; [`Provider::router`] mounts it in
//! axum), keeps its state behind [`ProviderStore`] (in memory, or SQLite and PostgreSQL
//! through `auth-store`), and leaves users to the host: [`Users`] says who is signed in and
//! what to say about them. It never sees a password.
//!
//! What it implements, and what it refuses, is in `docs/provider.md`; in short: the
//! authorization code flow with PKCE `S256` only (RFC 9700, OAuth 2.1), exact redirect URIs,
//! RFC 9207 `iss`, single-use codes whose replay revokes their tokens, refresh tokens only for
//! `offline_access` with rotation and reuse detection, RFC 8707 resource indicators, RFC 9068
//! access tokens, ID tokens and userinfo by scope, `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt` and public clients, DPoP-bound tokens (RFC 9449,
//! proofs checked by `auth_core::dpop`; see [`ProviderBuilder::dpop`]), `acr` / `amr` for
//! step-up (`acr_values`, [`SignedIn::acr`]), revocation (RFC 7009), introspection
//! (RFC 7662), discovery (OpenID Connect and RFC 8414), key rotation, dynamic registration
//! (RFC 7591, off by default) and a consent step with records users can review and revoke. Codes, tokens and client secrets are stored only as hashes ([`SecretHash`]).
//!
//! # Features
//!
//! | feature | what |
//! |---|---|
//! | `axum` (default) | [`Provider::router`] |
//!
//! The minimum supported Rust version is 1.89 (the workspace's `rust-version`).

mod client;
mod endpoints;
mod engine;
mod hooks;
mod http;
mod jwt;
mod keys;
pub mod pages;
mod params;
mod pkce;
#[cfg(feature = "axum")]
mod router;
mod secret;
mod store;

/// How DPoP proofs are checked (from `auth_core::dpop`), for [`ProviderBuilder::dpop`].
pub use auth_core::dpop::DpopConfig;

pub use crate::client::{Client, ClientAuth};
pub use crate::engine::{AuthorizedApp, Provider, ProviderBuilder, ProviderError};
pub use crate::hooks::{
    Authentication, AuthorizeContext, ConsentRequest, SignedIn, UserClaims, Users,
};
pub use crate::http::{MAX_BODY, ProviderRequest, ProviderResponse};
pub use crate::keys::{
    KeyError, KeyOptions, KeySpec, SigningKey, key_set_from_json, key_set_to_json,
};
pub use crate::secret::SecretHash;
pub use crate::store::{
    AccessRecord, Authorization, BoxFuture, CodeRecord, CodeUse, Consent, MemoryStore,
    ProviderStore, RefreshRecord, StoreError, StoreResult,
};
