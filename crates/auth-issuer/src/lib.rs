//! An in-process OAuth 2.1 / OpenID Connect provider for integration tests and local
//! development.
//!
//! Start a [`TestIssuer`] inside a test and point the code under test at its
//! [`issuer()`](TestIssuer::issuer) URL: it serves discovery documents and a JWKS over real
//! HTTP on `127.0.0.1`, runs the authorization code flow with PKCE behind a dev login page
//! (or signs a user in automatically), and answers the token, revocation, userinfo and
//! logout endpoints the way the specifications say. It mints access tokens with every knob
//! a negative test needs ([`TokenBuilder`]), rotates keys ([`TestIssuer::add_key`],
//! [`TestIssuer::retire_key`], [`TestIssuer::remove_key`]), counts requests and injects
//! failures ([`Fault`]). It is meant for people testing a resource server, a token
//! verifier, a relying party's login and session handling — not for production use: users
//! sign in without a password, and nothing is persisted.
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
//! # Sign-in flows
//!
//! Register the relying party as a [`TestClient`] with its exact redirect URI, and either
//! let a browser (a real one, or a headless one in an end-to-end test) sign in at the login
//! page, or make the issuer sign a user in at once with
//! [`auto_login`](TestIssuerBuilder::auto_login):
//!
//! ```
//! use auth_issuer::{TestClient, TestIssuer};
//! use aws_lc_rs::digest;
//! use base64::Engine as _;
//! use base64::engine::general_purpose::URL_SAFE_NO_PAD;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TestIssuer::builder()
//!     .client(TestClient::confidential("web", "s3cret").redirect_uri("http://127.0.0.1:3000/cb"))
//!     .auto_login(Some("alice"))
//!     .start()
//!     .await?;
//! let http = reqwest::Client::builder()
//!     .redirect(reqwest::redirect::Policy::none())
//!     .build()?;
//!
//! // PKCE (RFC 7636): S256 only.
//! let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
//! let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
//!
//! let authorize = url::Url::parse_with_params(
//!     &issuer.authorization_endpoint(),
//!     [
//!         ("response_type", "code"),
//!         ("client_id", "web"),
//!         ("redirect_uri", "http://127.0.0.1:3000/cb"),
//!         ("scope", "openid profile email offline_access"),
//!         ("state", "xyz"),
//!         ("nonce", "n-0S6"),
//!         ("code_challenge", challenge.as_str()),
//!         ("code_challenge_method", "S256"),
//!     ],
//! )?;
//! let response = http.get(authorize).send().await?;
//! assert_eq!(response.status(), 302);
//! let callback = url::Url::parse(response.headers()["location"].to_str()?)?;
//! let query: std::collections::HashMap<_, _> = callback.query_pairs().into_owned().collect();
//! assert_eq!(query["state"], "xyz");
//! assert_eq!(query["iss"], issuer.issuer()); // RFC 9207
//!
//! let tokens: serde_json::Value = http
//!     .post(issuer.token_endpoint())
//!     .basic_auth("web", Some("s3cret"))
//!     .form(&[
//!         ("grant_type", "authorization_code"),
//!         ("code", query["code"].as_str()),
//!         ("redirect_uri", "http://127.0.0.1:3000/cb"),
//!         ("code_verifier", verifier),
//!     ])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! let access_token = tokens["access_token"].as_str().ok_or("no access token")?;
//! assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string());
//!
//! let me: serde_json::Value = http
//!     .get(issuer.userinfo_endpoint())
//!     .bearer_auth(access_token)
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(me["email"], "alice@example.com");
//! # Ok(())
//! # }
//! ```
//!
//! The login page is plain HTML with stable hooks for browser automation: the form
//! `#login-form`, one button per user (`button[data-user="alice"]`), a text field
//! `#username` (any name typed there signs in as an ad-hoc user without roles), `#sign-in`
//! and `#cancel` (which returns `error=access_denied`).
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
//! | `GET`, `POST` `{path}/authorize` | authorization endpoint: login page, then a redirect with `code`, `state`, `iss` (RFC 6749 §4.1, RFC 7636, RFC 9207, OIDC Core §3.1.2) |
//! | `POST {path}/introspect` | token introspection (RFC 7662) for authenticated clients: its opaque access tokens and the JWT access tokens it signed, `active: false` once expired or revoked |
//! | `POST {path}/token` | token endpoint: `authorization_code`, `refresh_token` (rotating), `client_credentials` (RFC 6749 §3.2, §5, §6; RFC 9068 access tokens; OIDC ID tokens) |
//! | `POST {path}/revoke` | token revocation (RFC 7009) |
//! | `GET`, `POST` `{path}/userinfo` | the signed-in user's claims (OIDC Core §5.3, RFC 6750) |
//! | `GET`, `POST` `{path}/logout` | RP-initiated logout (OIDC RP-Initiated Logout 1.0) |
//! | `POST {path}/dev/mint` | a fresh access token, only with [`TestIssuerBuilder::dev_endpoints`] |
//! | anything else | `404` (counted by [`TestIssuer::requests_to`]) |
//!
//! The JSON endpoints (discovery, JWKS, token, revocation, userinfo) answer CORS requests
//! from any origin, without credentials, so that a browser application can call them.
//!
//! # Behaviour the specifications leave open
//!
//! The endpoints are the [`auth_provider`] engine's (see `docs/provider.md` for every rule);
//! what the issuer adds is the dev login page, auto-login, the directory of test users and the
//! test knobs. In short:
//!
//! * **Authorize.** An unknown client, a missing, repeated or unregistered `redirect_uri`
//!   (exact string match) answers a `400` HTML page and never redirects. Every other error
//!   redirects back with `error`, `error_description`, `state` and `iss` (in the fragment for
//!   an implicit-style `response_type`, refused with `unsupported_response_type`). PKCE is
//!   required, `S256` only; `response_mode` must be `query`; a repeated parameter is
//!   `invalid_request` (except `resource`, which RFC 8707 lets repeat). `resource` or the
//!   Auth0-style `audience` becomes the access token `aud` (default: the issuer's
//!   [audience](TestIssuerBuilder::audience)). `prompt=none` without auto-login is
//!   `login_required`; `prompt=login` always shows the login page. Scope values are granted as
//!   requested (any `NQCHAR` string), except `offline_access`, which stands only for a
//!   first-party client or with `prompt=consent`; without `openid` there is no ID token.
//!   Clients configured here are first-party (no consent page) unless
//!   [`TestClient::first_party`] says otherwise; clients that register themselves
//!   ([`TestIssuerBuilder::dynamic_registration`]) see the consent page.
//! * **Codes** live ten minutes and are used up by the first token request that names them,
//!   successful or not; presenting one again revokes every token issued for it.
//! * **Client authentication**: a confidential client uses `client_secret_basic` or
//!   `client_secret_post` (one of them, never both) unless [`TestClient::auth_method`] allows
//!   only one; a public client sends its `client_id` and no secret. Failures answer `401
//!   invalid_client` with a `Basic` challenge.
//! * **Refresh tokens** are issued only when `offline_access` was granted. They are 256
//!   random bits, rotate on every use and live
//!   [`refresh_token_ttl`](TestIssuerBuilder::refresh_token_ttl) from their own issue.
//!   Presenting a rotated token revokes its whole family — every refresh token and access
//!   token issued since that sign-in (RFC 9700 §4.14.2). There is no grace period for
//!   concurrent refreshes. A narrower `scope` narrows the new access token, not the grant.
//!   A refreshed ID token keeps `auth_time` and `sid` and has no `nonce`.
//! * **Tokens.** Access tokens carry `iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`,
//!   `client_id`, `scope`, `auth_time` and all the user's claims (`name`, `email`,
//!   `email_verified`, `roles`, extra claims); ID tokens carry `iss`, `sub`, `aud` and `azp`
//!   (the client), `exp`, `iat`, `jti`, `auth_time`, `sid`, `at_hash`, `nonce` (when sent)
//!   and the user's claims by scope (`profile` → `name`, `email` → `email` and
//!   `email_verified`; non-standard claims such as `roles` always). Both are signed with the
//!   current default key.
//! * **Userinfo** accepts any unexpired, unrevoked access token (`typ` `at+jwt`) signed by
//!   a published key of this issuer — tokens from [`TestIssuer::token`] too — and wants
//!   `openid` in its scope (else `403 insufficient_scope`); it answers the user's claims by
//!   the token's scope.
//! * **Revocation** of a refresh token revokes its family; of an access token, that token
//!   (userinfo refuses it). Unknown tokens answer `200`; another client's token answers
//!   `400 unauthorized_client`.
//! * **Logout** follows `post_logout_redirect_uri` only when it is registered for the client
//!   named by `client_id` or by the `id_token_hint` audience; otherwise it shows a "signed
//!   out" page. A valid hint (expired or not) revokes the tokens of its sign-in.
//! * **DPoP** (RFC 9449): a token request with a `DPoP` proof gets an access token bound to
//!   its key (`cnf.jkt`, `token_type` `DPoP`), and a public client's refresh token bound too;
//!   userinfo then wants `Authorization: DPoP` with a proof. `dpop_jkt` pins the key at the
//!   authorization request. Discovery lists `dpop_signing_alg_values_supported`.
//! * **Step-up** (`acr_values`): the sign-in (login page or auto-login) claims the first
//!   `acr` asked for, put in the ID and access tokens (and kept on refresh); without
//!   `acr_values`, no `acr`. Nothing is checked: this is a development issuer, and its
//!   "stronger" sign-in is the same passwordless one. `max_age` always gets a fresh
//!   `auth_time` (every sign-in here is a new one).
//!
//! # Defaults and why
//!
//! * Three keys, so that every common verifier path is exercised: `rsa-1` (RSA-2048,
//!   `RS256`, the default signer), `ec-1` (P-256, `ES256`) and `ed-1` (Ed25519, `EdDSA`).
//!   Default key material is generated once per process and shared by every issuer, because
//!   RSA key generation is slow; [`TestIssuer::add_key`] always generates a fresh key.
//! * Tokens are access tokens (`typ` `at+jwt`, RFC 9068) for audience `test-api`, valid for
//!   five minutes; ID tokens also live five minutes, refresh tokens one day.
//! * Users `alice` (Alice Example, alice@example.com, roles `admin` and `user`) and `bob`
//!   (Bob Example, bob@example.com, role `user`); one confidential client, `test-client`
//!   with secret `test-secret` and no redirect URIs ([`TestIssuer::add_client`] can give it
//!   some). Configuring users or clients on the builder replaces these defaults.
//! * The login page is shown (no auto-login), because that is what a browser test needs.
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
//! | feature | what |
//! |---|---|
//! | `auth-core` (off) | [`TestIssuer::authenticator`], [`TestIssuer::bearer_authenticator`] and the config builders they use: an SDK `Authenticator` that trusts this issuer, for an app under test in one line |
//!
//! The minimum supported Rust version is 1.89 (the workspace's `rust-version`).

mod fault;
mod keys;
#[cfg(feature = "auth-core")]
mod sdk;
mod server;
mod token;
mod users;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_provider::{MemoryStore, Provider, ProviderStore, SigningKey};
use futures_util::FutureExt as _;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use auth_provider::{ClientAuth, KeyOptions, KeySpec};

pub use crate::fault::Fault;
pub use crate::token::TokenBuilder;
pub use crate::users::{TestClient, TestUser};

use crate::keys::pooled;
use crate::server::{Counters, Settings, Shared, lock};
use crate::users::{DevUsers, Directory};

/// PBKDF2 iterations for the secrets of test clients: the engine's production default costs a
/// quarter of a second per client, and tests start hundreds of issuers.
const TEST_SECRET_ITERATIONS: u32 = 1_000;

/// The answer of a [`MemoryStore`] call, which never waits and never fails.
fn memory<T>(answer: Option<Result<T, auth_provider::StoreError>>) -> T {
    match answer {
        Some(Ok(value)) => value,
        _ => panic!("auth-issuer: the memory store did not answer"),
    }
}

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
            .field("provider", &shared.provider)
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
        format!("{}/jwks", self.shared().issuer)
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

    /// `{issuer}/authorize`, the authorization endpoint.
    #[must_use]
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.shared().issuer)
    }

    /// `{issuer}/token`, the token endpoint.
    #[must_use]
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.shared().issuer)
    }

    /// `{issuer}/userinfo`, the UserInfo endpoint.
    #[must_use]
    pub fn userinfo_endpoint(&self) -> String {
        format!("{}/userinfo", self.shared().issuer)
    }

    /// `{issuer}/revoke`, the RFC 7009 revocation endpoint.
    #[must_use]
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/revoke", self.shared().issuer)
    }

    /// `{issuer}/logout`, the RP-initiated logout endpoint (`end_session_endpoint`).
    #[must_use]
    pub fn end_session_endpoint(&self) -> String {
        format!("{}/logout", self.shared().issuer)
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

    fn key(&self, kid: &str) -> SigningKey {
        self.shared()
            .provider
            .key(kid)
            .unwrap_or_else(|| panic!("auth-issuer: no key with kid {kid:?}"))
    }

    /// The provider engine behind this issuer: its keys, clients and grants.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        &self.shared().provider
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
        let provider = &self.shared().provider;
        let kid = options
            .explicit_kid()
            .map_or_else(|| provider.next_kid(spec), str::to_owned);
        let added = SigningKey::generate(spec, kid.clone())
            .with_options(kid.clone(), &options)
            .and_then(|key| provider.add_key(key));
        if let Err(reason) = added {
            panic!("auth-issuer: {reason}");
        }
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
            self.shared().provider.set_active_key(kid),
            "auth-issuer: no key with kid {kid:?}"
        );
    }

    /// The kid [`token`](Self::token) signs with.
    #[must_use]
    pub fn default_kid(&self) -> String {
        self.shared().provider.active_key().kid().to_owned()
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
            self.shared().provider.retire_key(kid),
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
            self.shared().provider.remove_key(kid),
            "auth-issuer: no key with kid {kid:?}"
        );
    }

    /// The kids published in the JWKS, in JWKS order (extra raw keys not included).
    #[must_use]
    pub fn kids(&self) -> Vec<String> {
        self.shared().provider.published_kids()
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

    // ----- users, clients and grants -----

    /// Adds a user, or replaces the one with the same `sub` (a replaced user's next tokens
    /// and userinfo answers show the new profile).
    pub fn add_user(&self, user: TestUser) {
        lock(&self.shared().directory).add_user(user);
    }

    /// Registers a client, or replaces the one with the same id: this is how the default
    /// `test-client` gets redirect URIs.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use auth_issuer::{TestClient, TestIssuer};
    ///
    /// let issuer = TestIssuer::start().await;
    /// issuer.add_client(
    ///     TestClient::confidential("test-client", "test-secret")
    ///         .redirect_uri("http://127.0.0.1:3000/callback"),
    /// );
    /// # }
    /// ```
    pub fn add_client(&self, client: TestClient) {
        {
            let mut clients = lock(&self.shared().clients);
            match clients
                .iter_mut()
                .find(|c| c.client_id() == client.client_id())
            {
                Some(existing) => *existing = client.clone(),
                None => clients.push(client.clone()),
            }
        }
        let registered = self
            .shared()
            .provider
            .register_client(client.into_client())
            .now_or_never();
        assert!(
            matches!(registered, Some(Ok(()))),
            "auth-issuer: the memory store refused a client"
        );
    }

    /// Signs this user in without showing the login page: `GET {issuer}/authorize` redirects
    /// back with a code at once (also for `prompt=none`). A `sub` that is not configured
    /// becomes an ad-hoc user without roles. `None` (the default) shows the login page.
    pub fn set_auto_login(&self, sub: Option<String>) {
        lock(&self.shared().directory).auto_login = sub;
    }

    /// Disables a user: sign-in redirects back with `access_denied`, and their codes,
    /// refresh tokens and access tokens (at userinfo) are refused until
    /// [`enable_user`](Self::enable_user).
    pub fn disable_user(&self, sub: &str) {
        lock(&self.shared().directory).set_disabled(sub, true);
    }

    /// Undoes [`disable_user`](Self::disable_user).
    pub fn enable_user(&self, sub: &str) {
        lock(&self.shared().directory).set_disabled(sub, false);
    }

    /// Revokes every grant of `sub`, as an administrator ending their sessions would: their
    /// refresh tokens stop working, and so do their access tokens at userinfo. Returns how
    /// many refresh tokens were active.
    pub fn revoke_refresh_tokens_for(&self, sub: &str) -> usize {
        memory(self.shared().provider.revoke_user(sub).now_or_never())
    }

    /// Refresh tokens issued since start, rotated and revoked ones included.
    #[must_use]
    pub fn refresh_token_count(&self) -> u64 {
        self.shared().provider.refresh_tokens_issued()
    }

    /// Refresh tokens the token endpoint would accept now: not yet rotated, not revoked, not
    /// expired.
    #[must_use]
    pub fn active_refresh_tokens(&self) -> usize {
        memory(
            self.shared()
                .provider
                .active_refresh_tokens()
                .now_or_never(),
        )
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

    /// Makes the token endpoint fail in this way until called with `None`, e.g. a transient
    /// `503` during a refresh. [`Fault::Status`], [`Fault::Html`], [`Fault::InvalidJson`]
    /// and [`Fault::Drop`] answer without processing the request, so no code or refresh
    /// token is used up; [`Fault::Delay`] waits and then processes it (a client that gave up
    /// meanwhile has lost the new tokens, as with a real slow server); [`Fault::Oversized`]
    /// and [`Fault::SlowBody`] process it and pad or stall the real answer.
    pub fn set_token_fault(&self, fault: Option<Fault>) {
        self.shared().settings().token_fault = fault;
    }

    /// Makes the token endpoint issue opaque access tokens (`opq_…`, answered by
    /// `POST {path}/introspect`) instead of JWTs, from now on.
    pub fn set_opaque_access_tokens(&self, on: bool) {
        self.shared().provider.set_opaque_access_tokens(on);
    }

    /// Changes the lifetime of the access tokens the token endpoint issues from now on (whole
    /// seconds; `Duration::ZERO` makes every session's access token expire at once, so that
    /// the next request refreshes it).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.shared().provider.set_access_token_ttl(ttl);
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
#[derive(Clone)]
#[must_use]
pub struct TestIssuerBuilder {
    bind: IpAddr,
    port: u16,
    path: String,
    audience: String,
    keys: Option<Vec<(KeySpec, KeyOptions)>>,
    dev_endpoints: bool,
    users: Vec<TestUser>,
    clients: Vec<TestClient>,
    auto_login: Option<String>,
    access_token_ttl: Duration,
    refresh_token_ttl: Duration,
    id_token_ttl: Duration,
    /// `Some(initial access token)` turns dynamic client registration on.
    registration: Option<Option<String>>,
    /// Keys given as they are (before any generated ones).
    signing_keys: Vec<SigningKey>,
    store: Option<Arc<dyn ProviderStore>>,
}

impl fmt::Debug for TestIssuerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIssuerBuilder")
            .field("bind", &self.bind)
            .field("port", &self.port)
            .field("path", &self.path)
            .field("audience", &self.audience)
            .field("keys", &self.keys)
            .field("signing_keys", &self.signing_keys)
            .field("users", &self.users)
            .field("clients", &self.clients)
            .field("store", &self.store.as_ref().map(|_| "custom"))
            .finish_non_exhaustive()
    }
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
            users: Vec::new(),
            clients: Vec::new(),
            auto_login: None,
            access_token_ttl: Duration::from_secs(300),
            refresh_token_ttl: Duration::from_secs(24 * 60 * 60),
            id_token_ttl: Duration::from_secs(300),
            registration: None,
            signing_keys: Vec::new(),
            store: None,
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

    /// Adds a user who can sign in. The first call replaces the default users (`alice` and
    /// `bob`); a later user with the same `sub` replaces the earlier one.
    pub fn user(mut self, user: TestUser) -> Self {
        self.users.push(user);
        self
    }

    /// Registers a client. The first call replaces the default client (confidential
    /// `test-client` / `test-secret`); a later client with the same id replaces the earlier
    /// one.
    pub fn client(mut self, client: TestClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Signs this user in at once instead of showing the login page (see
    /// [`TestIssuer::set_auto_login`]). Default `None`.
    pub fn auto_login(mut self, sub: Option<&str>) -> Self {
        self.auto_login = sub.map(str::to_owned);
        self
    }

    /// Lifetime of access tokens from the token endpoint (default five minutes; whole
    /// seconds). Zero makes tokens that are expired on arrival.
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// Lifetime of each refresh token, counted from its issue: rotation starts a new period
    /// (default one day).
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_token_ttl = ttl;
        self
    }

    /// Lifetime of ID tokens (default five minutes; whole seconds).
    pub fn id_token_ttl(mut self, ttl: Duration) -> Self {
        self.id_token_ttl = ttl;
        self
    }

    /// Turns dynamic client registration (RFC 7591) on at `{issuer}/register` (default off),
    /// optionally requiring this initial access token. Clients that register themselves are
    /// third-party: their users see the consent page.
    pub fn dynamic_registration(mut self, initial_access_token: Option<&str>) -> Self {
        self.registration = Some(initial_access_token.map(str::to_owned));
        self
    }

    /// Signs with this key, kid and all (the first one given signs). Without
    /// [`keys`](Self::keys) or [`key_with`](Self::key_with), it replaces the default keys: how
    /// a dev issuer keeps its keys across restarts.
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_keys.push(key);
        self
    }

    /// Keeps clients, grants, codes, tokens and consents in `store` instead of memory (e.g.
    /// `auth_store::SqlStore` on an SQLite file, to survive a restart). The synchronous
    /// helpers that read the store ([`TestIssuer::active_refresh_tokens`],
    /// [`TestIssuer::revoke_refresh_tokens_for`], [`TestIssuer::add_client`],
    /// [`TokenBuilder::sign_opaque`]) need the memory store and panic with another; use
    /// [`TestIssuer::provider`]'s async methods instead.
    pub fn store(mut self, store: Arc<dyn ProviderStore>) -> Self {
        self.store = Some(store);
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
        let invalid = |reason: String| io::Error::new(io::ErrorKind::InvalidInput, reason);
        let path = normalize_path(&self.path)?;
        let keys = self.signing_keys()?;
        let listener = TcpListener::bind(SocketAddr::new(self.bind, self.port)).await?;
        let local_addr = listener.local_addr()?;
        let host = match local_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let origin = format!("http://{}", SocketAddr::new(host, local_addr.port()));
        let issuer = format!("{origin}{path}");
        let directory = Arc::new(Mutex::new(self.directory()));
        let store: Arc<dyn ProviderStore> = match &self.store {
            Some(store) => Arc::clone(store),
            None => Arc::new(MemoryStore::new()),
        };
        let clients = if self.clients.is_empty() {
            vec![TestClient::default_client()]
        } else {
            self.clients.clone()
        };
        let mut builder = Provider::builder(issuer.clone())
            .audience(self.audience.clone())
            .store(Arc::clone(&store))
            .users(DevUsers {
                directory: Arc::clone(&directory),
                action: format!("{path}/authorize"),
                issuer: issuer.clone(),
            })
            .any_scope()
            .secret_hash_iterations(TEST_SECRET_ITERATIONS)
            .access_token_ttl(self.access_token_ttl)
            .refresh_token_ttl(self.refresh_token_ttl)
            .id_token_ttl(self.id_token_ttl)
            .insecure_http(true);
        if let Some(token) = &self.registration {
            builder = builder.dynamic_registration(token.clone());
        }
        for key in keys {
            builder = builder.key(key);
        }
        for client in &clients {
            builder = builder.client(client.clone().into_client());
        }
        let provider = builder
            .build()
            .await
            .map_err(|error| invalid(error.to_string()))?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            issuer,
            origin,
            path,
            audience: self.audience,
            dev_endpoints: self.dev_endpoints,
            provider,
            store,
            directory,
            clients: Mutex::new(clients),
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

    fn directory(&self) -> Directory {
        let users = if self.users.is_empty() {
            TestUser::defaults()
        } else {
            self.users.clone()
        };
        Directory::new(users, self.auto_login.clone())
    }

    /// The configured keys, first one signing. Kids must be unique (the engine checks).
    fn signing_keys(&self) -> io::Result<Vec<SigningKey>> {
        let invalid = |reason: String| io::Error::new(io::ErrorKind::InvalidInput, reason);
        if self.keys.is_none() && !self.signing_keys.is_empty() {
            return Ok(self.signing_keys.clone());
        }
        let Some(specs) = &self.keys else {
            return [
                (KeySpec::Rsa2048, "rsa-1"),
                (KeySpec::P256, "ec-1"),
                (KeySpec::Ed25519, "ed-1"),
            ]
            .into_iter()
            .map(|(spec, kid)| {
                pooled(spec, 0)
                    .with_options(kid, &KeyOptions::new())
                    .map_err(|e| invalid(e.to_string()))
            })
            .collect();
        };
        if specs.is_empty() {
            return Err(invalid("a test issuer needs at least one key".to_owned()));
        }
        // The n-th key of a kind uses the n-th pooled key of that kind; generated kids count
        // per prefix.
        let mut used: Vec<KeySpec> = Vec::new();
        let mut kids: Vec<String> = self
            .signing_keys
            .iter()
            .map(|k| k.kid().to_owned())
            .collect();
        let mut keys = self.signing_keys.clone();
        for (spec, options) in specs {
            let index = used.iter().filter(|&&s| s == *spec).count();
            used.push(*spec);
            let kid = options.explicit_kid().map_or_else(
                || {
                    (1..)
                        .map(|n| format!("{}-{n}", spec.kid_prefix()))
                        .find(|kid| !kids.contains(kid))
                        .expect("an unbounded range always yields a free kid")
                },
                str::to_owned,
            );
            if kids.contains(&kid) {
                return Err(invalid(format!("a key with kid {kid:?} already exists")));
            }
            kids.push(kid.clone());
            let key = pooled(*spec, index)
                .with_options(kid, options)
                .map_err(|e| invalid(e.to_string()))?;
            keys.push(key);
        }
        Ok(keys)
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
