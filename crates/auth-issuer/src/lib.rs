//! An in-process OAuth 2.1 / OpenID Connect issuer for integration tests and local
//! development.
//!
//! Start a [`TestIssuer`] inside a test and point the code under test at its
//! [`issuer()`](TestIssuer::issuer) URL: it serves discovery documents and a JWKS over real
//! HTTP on `127.0.0.1`, mints access tokens with every knob a negative test needs
//! ([`TokenBuilder`]), rotates keys ([`TestIssuer::add_key`], [`TestIssuer::retire_key`],
//! [`TestIssuer::remove_key`]), counts requests and injects failures ([`Fault`]). It is meant
//! for people testing a resource server, an API gateway or a token verifier — not for
//! production use: it has no users, no consent and no persistence.
//!
//! ```
//! use auth_issuer::{Fault, KeySpec, TestIssuer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TestIssuer::start().await;
//!
//! // Point the code under test at `issuer.issuer()`; it discovers the JWKS from there.
//! let discovery: serde_json::Value = reqwest::get(issuer.discovery_url()).await?.json().await?;
//! assert_eq!(discovery["issuer"], issuer.issuer());
//! assert_eq!(discovery["jwks_uri"], issuer.jwks_uri());
//!
//! // A valid access token for audience `test-api`, signed RS256 with the key `rsa-1`...
//! let token = issuer.token().sub("alice").roles(&["admin"]).sign();
//! // ...and tokens a verifier must reject.
//! let expired = issuer.token().sub("alice").expires_in(-60).sign();
//! let confused = issuer.token().sign_hs256_with(issuer.public_key_pem("rsa-1").as_bytes());
//! # let _ = (token, expired, confused);
//!
//! // Rotate: publish a new key, sign with it, keep the old one published for a while.
//! let kid = issuer.add_key(KeySpec::P256);
//! issuer.set_default_key(&kid);
//! issuer.retire_key("rsa-1");
//! assert_eq!(issuer.token().header_json()["kid"], kid.as_str());
//!
//! // Outages: the JWKS endpoint answers 503 until the fault is cleared.
//! issuer.set_jwks_fault(Some(Fault::Status(503)));
//! assert_eq!(reqwest::get(issuer.jwks_uri()).await?.status(), 503);
//! assert_eq!(issuer.jwks_requests(), 1);
//!
//! issuer.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//!
//! With issuer `http://127.0.0.1:PORT{path}` (the path is empty unless
//! [`TestIssuerBuilder::path`] set one):
//!
//! | method and path | answer |
//! |---|---|
//! | `GET {path}/.well-known/openid-configuration` | OpenID Connect discovery document |
//! | `GET /.well-known/oauth-authorization-server{path}` | RFC 8414 metadata (same document) |
//! | `GET {path}/jwks` | the JWKS |
//! | `POST {path}/dev/mint` | a fresh access token, only with [`TestIssuerBuilder::dev_endpoints`] |
//! | anything else | `404` (counted by [`TestIssuer::requests_to`]) |
//!
//! The discovery documents also advertise `authorize`, `token`, `userinfo`, `revoke` and
//! `logout` endpoints under the issuer; this version answers them with `404`.
//!
//! # Defaults and why
//!
//! * Three keys, so that every common verifier path is exercised: `rsa-1` (RSA-2048,
//!   `RS256`, the default signer), `ec-1` (P-256, `ES256`) and `ed-1` (Ed25519, `EdDSA`).
//!   Default key material is generated once per process and shared by every issuer, because
//!   RSA key generation is slow; [`TestIssuer::add_key`] always generates a fresh key.
//! * Tokens are access tokens (`typ` `at+jwt`, RFC 9068) for audience `test-api`, valid for
//!   five minutes.
//! * No `Cache-Control` on the JWKS, no faults, both discovery documents on.
//!
//! # Runtime
//!
//! The server runs as a task on the Tokio runtime that called
//! [`start`](TestIssuer::start): it works under `#[tokio::test]` with either flavor, and it
//! stops with that runtime, on [`shutdown`](TestIssuer::shutdown), or when the last
//! [`TestIssuer`] handle is dropped.
//!
//! # Features and MSRV
//!
//! No optional features. The minimum supported Rust version is 1.88 (the workspace's
//! `rust-version`).

mod fault;
mod keys;
mod server;
mod token;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::fault::Fault;
pub use crate::keys::{KeyOptions, KeySpec};
pub use crate::token::TokenBuilder;

use crate::keys::{KeyMaterial, KeyStore, SigningKey, pooled};
use crate::server::{Counters, Settings, Shared, lock};

/// How long [`TestIssuer::shutdown`] waits for open connections before abandoning them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running issuer. Cheap to clone: every clone controls the same server.
///
/// Start one with [`TestIssuer::start`] (defaults) or [`TestIssuer::builder`].
///
/// Methods that take a `kid` panic when the issuer has no such key: this is test support,
/// and a typo in a kid should fail the test loudly.
#[derive(Clone)]
pub struct TestIssuer {
    inner: Arc<Handle>,
}

/// Owned by the [`TestIssuer`] clones; dropping the last one stops the server.
struct Handle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

impl fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("TestIssuer")
            .field("issuer", &shared.issuer)
            .field("keys", &*shared.keys())
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// Starts an issuer with the defaults on `127.0.0.1` and a free port.
    ///
    /// # Panics
    ///
    /// If the listener cannot be bound (use [`TestIssuer::try_start`] to get the error
    /// instead), or outside a Tokio runtime.
    pub async fn start() -> Self {
        Self::builder()
            .start()
            .await
            .unwrap_or_else(|error| panic!("auth-issuer: cannot start the test issuer: {error}"))
    }

    /// Starts an issuer with the defaults, returning bind errors instead of panicking.
    ///
    /// # Errors
    ///
    /// If the listener cannot be bound.
    pub async fn try_start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder for an issuer with another port, address, path, audience or keys.
    pub fn builder() -> TestIssuerBuilder {
        TestIssuerBuilder::default()
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The issuer identifier, e.g. `http://127.0.0.1:41234` or
    /// `http://127.0.0.1:41234/realms/test`, without a trailing slash.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.shared().issuer
    }

    /// The JWKS URL the discovery documents advertise: `{issuer}/jwks`.
    #[must_use]
    pub fn jwks_uri(&self) -> String {
        self.shared().jwks_uri()
    }

    /// The origin only, e.g. `http://127.0.0.1:41234`.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.shared().origin.clone()
    }

    /// The OpenID Connect discovery URL: `{issuer}/.well-known/openid-configuration`.
    #[must_use]
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.shared().issuer)
    }

    /// The RFC 8414 metadata URL: `{origin}/.well-known/oauth-authorization-server{path}`.
    #[must_use]
    pub fn oauth_metadata_url(&self) -> String {
        let shared = self.shared();
        format!(
            "{}/.well-known/oauth-authorization-server{}",
            shared.origin, shared.path
        )
    }

    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The default `aud` of minted tokens.
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.shared().audience
    }

    /// Starts minting a token: valid, for the default audience, signed with the default key.
    pub fn token(&self) -> TokenBuilder {
        TokenBuilder::new(Arc::clone(&self.inner.shared))
    }

    /// Signs exactly these header and payload bytes (base64url-encoded as they are) with the
    /// key `kid` and its default algorithm, for tokens no [`TokenBuilder`] can express:
    /// duplicate members, a string `exp`, invalid UTF-8, non-JSON payloads.
    ///
    /// # Panics
    ///
    /// If the issuer has no key `kid`.
    #[must_use]
    pub fn sign_raw(&self, kid: &str, header_json: &[u8], payload_json: &[u8]) -> String {
        token::sign_raw(&self.key(kid), header_json, payload_json)
    }

    // ----- keys -----

    fn key(&self, kid: &str) -> Arc<SigningKey> {
        self.shared()
            .keys()
            .get(kid)
            .unwrap_or_else(|| panic!("auth-issuer: no key with kid {kid:?}"))
    }

    /// Generates a fresh key, publishes it at the end of the JWKS and returns its kid
    /// (`rsa-2`, `ec-2`, ...). The default signing key does not change.
    ///
    /// RSA generation blocks for tens of milliseconds (seconds for 4096 bits).
    pub fn add_key(&self, spec: KeySpec) -> String {
        self.add_key_with(spec, KeyOptions::default())
    }

    /// Like [`add_key`](Self::add_key), with a chosen kid, algorithm or JWK shape.
    ///
    /// # Panics
    ///
    /// If the kid is already taken or the algorithm does not suit the key.
    pub fn add_key_with(&self, spec: KeySpec, options: KeyOptions) -> String {
        let material = Arc::new(KeyMaterial::generate(spec));
        let added = {
            let mut keys = self.shared().keys_mut();
            let kid = options
                .explicit_kid()
                .map_or_else(|| keys.next_kid(spec), str::to_owned);
            SigningKey::new(material, kid.clone(), &options)
                .and_then(|key| keys.insert(key))
                .map(|()| kid)
        };
        let kid = added.unwrap_or_else(|reason| panic!("auth-issuer: {reason}"));
        tracing::debug!(kid, ?spec, "auth-issuer: key added");
        kid
    }

    /// Makes `kid` the key [`token`](Self::token) signs with (un-retiring it if needed).
    ///
    /// # Panics
    ///
    /// If the issuer has no key `kid`.
    pub fn set_default_key(&self, kid: &str) {
        assert!(
            self.shared().keys_mut().set_default(kid),
            "auth-issuer: no key with kid {kid:?}"
        );
    }

    /// The kid [`token`](Self::token) signs with.
    #[must_use]
    pub fn default_kid(&self) -> String {
        self.shared()
            .keys()
            .default_key()
            .map(|key| key.kid().to_owned())
            .expect("an issuer always has a default key")
    }

    /// Retires `kid`: it stays in the JWKS but is no longer the default signer. If it was
    /// the default, the most recently added key that is published and not retired takes
    /// over; if there is none, it stays the default.
    ///
    /// # Panics
    ///
    /// If the issuer has no key `kid`.
    pub fn retire_key(&self, kid: &str) {
        assert!(
            self.shared().keys_mut().retire(kid),
            "auth-issuer: no key with kid {kid:?}"
        );
    }

    /// Removes `kid` from the JWKS (and retires it, as [`retire_key`](Self::retire_key)).
    /// Tokens can still be signed with it through [`TokenBuilder::key`], to test a kid the
    /// verifier cannot find.
    ///
    /// # Panics
    ///
    /// If the issuer has no key `kid`.
    pub fn remove_key(&self, kid: &str) {
        assert!(
            self.shared().keys_mut().remove(kid),
            "auth-issuer: no key with kid {kid:?}"
        );
    }

    /// The kids published in the JWKS, in JWKS order (extra raw keys not included).
    #[must_use]
    pub fn kids(&self) -> Vec<String> {
        self.shared()
            .keys()
            .published()
            .map(|key| key.kid().to_owned())
            .collect()
    }

    /// The public JWK of `kid`, as published (also for removed keys).
    ///
    /// # Panics
    ///
    /// If the issuer has no key `kid`.
    #[must_use]
    pub fn public_jwk(&self, kid: &str) -> Value {
        self.key(kid).public_jwk()
    }

    /// The JWKS document as it is served now.
    #[must_use]
    pub fn jwks(&self) -> Value {
        self.shared().jwks()
    }

    /// The public key of `kid` as DER `SubjectPublicKeyInfo`, e.g. as the HMAC secret of a
    /// key-confusion token.
    ///
    /// # Panics
    ///
    /// If the issuer has no key `kid`.
    #[must_use]
    pub fn public_key_spki_der(&self, kid: &str) -> Vec<u8> {
        self.key(kid).spki_der().to_vec()
    }

    /// The public key of `kid` as a PEM `-----BEGIN PUBLIC KEY-----` block.
    ///
    /// # Panics
    ///
    /// If the issuer has no key `kid`.
    #[must_use]
    pub fn public_key_pem(&self, kid: &str) -> String {
        self.key(kid).public_key_pem()
    }

    /// Raw JWK objects appended verbatim after the issuer's own keys in the JWKS: weak keys,
    /// `enc` keys, `oct` keys, duplicate kids, garbage. Replaces the previous extras.
    pub fn set_jwks_extra_keys(&self, keys: Vec<Value>) {
        self.shared().settings().jwks_extra_keys = keys;
    }

    /// The `Cache-Control` header of JWKS responses; `None` (the default) sends none.
    pub fn set_jwks_cache_control(&self, value: Option<String>) {
        self.shared().settings().jwks_cache_control = value;
    }

    // ----- counters -----

    /// Requests to the JWKS endpoint since start or the last [`reset_counters`](Self::reset_counters).
    #[must_use]
    pub fn jwks_requests(&self) -> u64 {
        self.shared().counters.jwks.load(Ordering::Relaxed)
    }

    /// Requests to either discovery document (including ones answered `404` because OIDC
    /// discovery is off).
    #[must_use]
    pub fn discovery_requests(&self) -> u64 {
        self.shared().counters.discovery.load(Ordering::Relaxed)
    }

    /// Requests whose path is exactly `path` (query ignored), whatever the answer, unknown
    /// paths included. `path` is the URL path, e.g. `"/jwks"` or `"/realms/test/jwks"`.
    #[must_use]
    pub fn requests_to(&self, path: &str) -> u64 {
        lock(&self.shared().counters.by_path)
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        self.shared().counters.reset();
    }

    // ----- faults -----

    /// Makes the JWKS endpoint fail in this way until called with `None`.
    pub fn set_jwks_fault(&self, fault: Option<Fault>) {
        self.shared().settings().jwks_fault = fault;
    }

    /// Makes both discovery documents fail in this way until called with `None`.
    pub fn set_discovery_fault(&self, fault: Option<Fault>) {
        self.shared().settings().discovery_fault = fault;
    }

    /// With `false`, `{issuer}/.well-known/openid-configuration` answers `404` while the
    /// RFC 8414 document keeps working (to test the fallback). Default `true`.
    pub fn set_oidc_discovery_enabled(&self, on: bool) {
        self.shared().settings().oidc_discovery_enabled = on;
    }

    /// Makes the discovery documents advertise another `issuer` (to test the mismatch
    /// check); `None` restores the real one. Endpoint URLs are unchanged.
    pub fn set_discovery_issuer_override(&self, issuer: Option<String>) {
        self.shared().settings().issuer_override = issuer;
    }

    /// Stops the server: the port is closed at once, and open connections get up to two
    /// seconds to finish. Every clone of this handle sees a stopped server.
    pub async fn shutdown(self) {
        self.inner.shutdown.send_replace(true);
        let task = lock(&self.inner.task).take();
        if let Some(mut task) = task
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

/// Configures and starts a [`TestIssuer`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use auth_issuer::{KeySpec, TestIssuer};
///
/// let issuer = TestIssuer::builder()
///     .path("/realms/test")
///     .audience("orders-api")
///     .keys(vec![KeySpec::P256, KeySpec::Rsa2048])
///     .dev_endpoints(true)
///     .start()
///     .await?;
/// assert!(issuer.issuer().ends_with("/realms/test"));
/// assert_eq!(issuer.kids(), ["ec-1", "rsa-1"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TestIssuerBuilder {
    bind: IpAddr,
    port: u16,
    path: String,
    audience: String,
    keys: Option<Vec<(KeySpec, KeyOptions)>>,
    dev_endpoints: bool,
}

impl Default for TestIssuerBuilder {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            path: String::new(),
            audience: "test-api".to_owned(),
            keys: None,
            dev_endpoints: false,
        }
    }
}

impl TestIssuerBuilder {
    /// The port to listen on; `0` (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The address to listen on (default `127.0.0.1`). For an unspecified address
    /// (`0.0.0.0`, `::`) the issuer URL uses the matching loopback address.
    pub fn bind(mut self, addr: IpAddr) -> Self {
        self.bind = addr;
        self
    }

    /// A path after the origin in the issuer URL, like Keycloak's `/realms/test`. Leading and
    /// trailing slashes are normalised; empty (the default) means the origin itself.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The default `aud` of minted tokens (default `test-api`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Replaces the default keys with one key of each listed kind, in this order; the first
    /// is the default signer. Kids are generated (`rsa-1`, `ec-1`, `ec-2`, ...). Key material
    /// comes from the process-wide pool, so this is fast after the first issuer.
    pub fn keys(mut self, specs: Vec<KeySpec>) -> Self {
        self.keys = Some(
            specs
                .into_iter()
                .map(|spec| (spec, KeyOptions::default()))
                .collect(),
        );
        self
    }

    /// Adds one key with options after those given so far (the default keys are replaced by
    /// the keys given to the builder).
    pub fn key_with(mut self, spec: KeySpec, options: KeyOptions) -> Self {
        self.keys.get_or_insert_with(Vec::new).push((spec, options));
        self
    }

    /// Serves `POST {issuer}/dev/mint` (default `false`, answering `404`).
    pub fn dev_endpoints(mut self, on: bool) -> Self {
        self.dev_endpoints = on;
        self
    }

    /// Binds the listener and starts serving on the current Tokio runtime (it must be
    /// called from within one, like [`tokio::spawn`]).
    ///
    /// # Errors
    ///
    /// If the listener cannot be bound, or (as [`io::ErrorKind::InvalidInput`]) if the path
    /// holds characters that do not belong in a URL path, no key was given, two keys share a
    /// kid or a key option names an algorithm the key cannot use.
    pub async fn start(self) -> io::Result<TestIssuer> {
        let path = normalize_path(&self.path)?;
        let keys = self.key_store()?;
        let listener = TcpListener::bind(SocketAddr::new(self.bind, self.port)).await?;
        let local_addr = listener.local_addr()?;
        let host = match local_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let origin = format!("http://{}", SocketAddr::new(host, local_addr.port()));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            issuer: format!("{origin}{path}"),
            origin,
            path,
            audience: self.audience,
            dev_endpoints: self.dev_endpoints,
            keys: RwLock::new(keys),
            settings: Mutex::new(Settings::default()),
            counters: Counters::default(),
            shutdown: shutdown_rx.clone(),
        });
        let app = server::router(Arc::clone(&shared));
        let mut signal = shutdown_rx;
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            // An error means every sender is gone: shut down as well.
            let _ = signal.wait_for(|&down| down).await;
        });
        let task = tokio::spawn(async move {
            if let Err(error) = serve.await {
                tracing::error!(%error, "auth-issuer: server stopped");
            }
        });
        tracing::debug!(issuer = %shared.issuer, "auth-issuer: started");
        Ok(TestIssuer {
            inner: Arc::new(Handle {
                shared,
                local_addr,
                shutdown,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    fn key_store(&self) -> io::Result<KeyStore> {
        let invalid = |reason: String| io::Error::new(io::ErrorKind::InvalidInput, reason);
        let mut store = KeyStore::default();
        let Some(specs) = &self.keys else {
            for (spec, kid) in [
                (KeySpec::Rsa2048, "rsa-1"),
                (KeySpec::P256, "ec-1"),
                (KeySpec::Ed25519, "ed-1"),
            ] {
                let key = SigningKey::new(pooled(spec, 0), kid.to_owned(), &KeyOptions::new())
                    .map_err(invalid)?;
                store.insert(key).map_err(invalid)?;
            }
            return Ok(store);
        };
        if specs.is_empty() {
            return Err(invalid("a test issuer needs at least one key".to_owned()));
        }
        // The n-th key of a kind uses the n-th pooled key of that kind.
        let mut used: Vec<KeySpec> = Vec::new();
        for (spec, options) in specs {
            let index = used.iter().filter(|&&s| s == *spec).count();
            used.push(*spec);
            let kid = options
                .explicit_kid()
                .map_or_else(|| store.next_kid(*spec), str::to_owned);
            let key = SigningKey::new(pooled(*spec, index), kid, options).map_err(invalid)?;
            store.insert(key).map_err(invalid)?;
        }
        Ok(store)
    }
}

/// `""` or `/a/b`: one leading slash, no trailing slash, nothing a router or URL would
/// misread.
fn normalize_path(path: &str) -> io::Result<String> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let bad = |c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '{' | '}' | '*' | '%')
    };
    if trimmed.contains(bad) || trimmed.split('/').any(str::is_empty) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid issuer path {path:?}"),
        ));
    }
    Ok(format!("/{trimmed}"))
}
