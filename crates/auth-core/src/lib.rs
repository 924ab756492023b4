//! `auth-core`: the framework-neutral engine of the auth SDK.
//!
//! It verifies OAuth 2.0 / OpenID Connect JWT access tokens against an issuer's remote key set
//! and gives your code typed claims or a typed error. The framework adapters (`auth-axum`,
//! `auth-actix`, `auth-warp`) are thin layers over it; use this crate directly outside a web
//! framework (a worker, a gRPC service, a CLI).
//!
//! ```no_run
//! use auth_core::{AuthConfig, Claims, ErrorCode, Verifier};
//! use serde::Deserialize;
//!
//! #[derive(Debug, Clone, Deserialize)]
//! struct MyClaims {
//!     #[serde(default)]
//!     plan: Option<String>,
//! }
//!
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! // AUTH_ISSUER=https://login.example.com/realms/main AUTH_AUDIENCE=orders-api
//! let verifier = Verifier::from_env()?;
//! match verifier.verify::<MyClaims>(token).await {
//!     Ok(claims) => println!("{:?} on plan {:?}", claims.sub, claims.extra.plan),
//!     Err(e) if e.is(ErrorCode::TokenExpired) => println!("expired: sign in again"),
//!     Err(e) if e.is_retryable() => println!("identity provider unavailable ({})", e.status()),
//!     Err(e) => println!("rejected: {} ({})", e.code(), e.status()),
//! }
//! # Ok(()) }
//! ```
//!
//! # What is checked
//! Per RFC 7519, RFC 8725 (JWT BCP) and RFC 9068: a size cap before any decoding; strict compact
//! form and base64url; header and claims as JSON objects without duplicate members; `alg` from a
//! per-issuer allow-list and pinned to the key (`none` and `HS*` refused for remote keys); unknown
//! `crit` refused; `jwk`/`jku`/`x5u`/`x5c` never used; `exp` required; `nbf` and `iat` not in the
//! future; NumericDates must be numbers; `iss` exact; `aud` against the configured audiences;
//! optionally `typ` = `at+jwt` and the full RFC 9068 profile. See [`Verifier::verify`].
//!
//! # Defaults, and why
//! | setting | default | why |
//! |---|---|---|
//! | leeway | 30 s | tolerates ordinary clock drift; expired tokens die within half a minute |
//! | max token size | 16 KiB | far above real tokens, far below a memory-pressure attack |
//! | algorithms | all asymmetric | HS* only with an explicit shared secret (key confusion) |
//! | `typ` check | off | several providers omit `typ`; turn on the RFC 9068 profile when yours sets it |
//! | key-set freshness | `max-age` in 60 s–24 h, else 10 min | follows the provider, within sane bounds |
//! | unknown-`kid` refetch | immediate, then ≤ 1 per 30 s | instant rotation without a DoS amplifier |
//! | stale-if-error | 1 h | an identity-provider outage does not sign everybody out |
//! | fetch timeout / body cap | 5 s / 512 KiB | every network call is bounded |
//!
//! # Features
//! | feature | default | what |
//! |---|---|---|
//! | `reqwest` | yes | the default [`HttpClient`](http::HttpClient) (reqwest + rustls on aws-lc-rs) |
//! | `reqwest-middleware` | no | [`ServiceClient`](service::ServiceClient) as a [`reqwest-middleware`](https://docs.rs/reqwest-middleware) middleware |
//! | `metrics` | no | counters and histograms through the [`metrics`](https://docs.rs/metrics) facade (below) |
//! | `http` | no | [`adapter::for_each_http_header`] for adapters over the [`http`](https://docs.rs/http) 1 types (auth-axum and auth-warp enable it) |
//!
//! # Metrics
//! With the `metrics` feature (the adapters pass it through as their own `metrics` feature),
//! the SDK records through the `metrics` facade; install the exporter you use
//! (`metrics-exporter-prometheus`, StatsD, OpenTelemetry...). Without the feature nothing is
//! recorded and nothing is timed.
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `auth_verifications_total` | counter | `outcome` (`ok` / `error`), `code` | tokens verified (JWT or introspected), by result |
//! | `auth_verification_duration_seconds` | histogram | `outcome` | time per verification (the network included when keys were fetched) |
//! | `auth_token_cache_total` | counter | `result` (`hit` / `miss`) | verified-token cache: `hit` = a JWT accepted again without its signature check |
//! | `auth_key_cache_total` | counter | `result` (`hit` / `miss`) | key lookups: `miss` = a `kid` not in the cached set (a refetch, rate limited) |
//! | `auth_jwks_fetches_total` | counter | `issuer`, `result` (`ok` or an error code) | key-set fetches |
//! | `auth_jwks_fetch_duration_seconds` | histogram | `issuer` | time per key-set fetch |
//! | `auth_discovery_fetches_total` | counter | `issuer`, `result` | discovery document fetches |
//! | `auth_discovery_fetch_duration_seconds` | histogram | `issuer` | time per discovery fetch |
//! | `auth_introspections_total` | counter | `result` (`ok`, `cached` or an error code) | opaque tokens introspected, and answers served from the cache |
//! | `auth_session_refreshes_total` | counter | `result` (`ok` or an error code) | refresh-token exchanges of browser sessions |
//! | `auth_service_tokens_total` | counter | `result` (`ok` or an error code) | client-credentials token requests of `ServiceClient` |
//! | `auth_api_key_verifications_total` | counter | `result` (`ok` or an error code) | API keys presented |
//! | `auth_upgrade_rejections_total` | counter | `code` | WebSocket / Socket.IO upgrades refused |
//!
//! Label values are bounded: error codes are the fixed [`ErrorCode`] set and
//! issuers the configured ones. No token, key or subject is ever a label.
//!
//! Spans (`tracing`, always on): each verification runs in a `DEBUG` span `auth.verify`
//! (fields `issuer`, `kid`, `alg`, `elapsed_us`, and `code` on failure; nothing is recorded or
//! timed when no subscriber listens to it); each key-set and discovery fetch in an `INFO` span
//! `auth.fetch` (`kind`, `issuer`; its log line carries the result and `elapsed_ms`); each call
//! to a token or introspection endpoint in an `INFO` span `auth.upstream` (`kind`, `grant`,
//! `endpoint`). No token is ever a field.
//!
//! # Runtime
//! Needs a Tokio runtime (all three supported frameworks run on Tokio). MSRV: Rust 1.89.

pub mod adapter;
mod alg;
pub mod api_key;
mod authenticator;
mod b64;
mod claims;
mod client_key;
mod config;
mod discovery;
pub mod dpop;
mod error;
mod flight;
mod guard;
pub mod http;
mod id_token;
pub mod introspection;
mod json;
mod jwk;
mod jwks;
mod jws;
mod metrics;
pub mod owner;
pub mod resource;
pub mod service;
pub mod session;
pub mod store;
mod token_cache;
mod verifier;
pub mod ws;
#[cfg(test)]
mod wycheproof_primitives;

pub use alg::{Algorithm, UnknownAlgorithm};
pub use authenticator::{
    ApiKeyInfo, AuthData, Authenticated, Authenticator, AuthenticatorBuilder, CredentialKind,
    HookContext, ProvisionedUser, TokenSource,
};
pub use claims::{
    Audience, ClaimMapping, ClaimPath, Claims, Confirmation, ExtraClaims, NoExtraClaims,
    NumericDate, Scopes,
};
pub use client_key::ClientKey;
pub use config::{
    AuthConfig, AuthConfigBuilder, Clock, ConfigError, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES,
    JwksPolicy, MAX_LEEWAY, Secret,
};
pub use discovery::ProviderMetadata;
pub use error::{AuthError, ErrorCode, TokenInvalidReason, UnknownErrorCode};
pub use guard::Guard;
pub use introspection::{Introspection, TokenFormat};
pub use jwk::{KeySet, SkippedKey};
pub use verifier::Verifier;

/// Claims with no application-specific part.
pub type StandardClaims = Claims<NoExtraClaims>;

/// Renders an untrusted string (a `kid`) for logs: truncated and escaped.
pub(crate) fn log_safe(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    format!("{out:?}")
}
