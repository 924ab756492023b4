//! WebSocket (and other long-lived connection) authentication: the upgrade request is
//! authenticated before the `101 Switching Protocols` answer, and the connection ends when its
//! token does, unless the client re-authenticates in-band.
//!
//! # Where the token comes from
//! Browsers cannot set headers on a WebSocket, so an upgrade accepts more transports than an
//! HTTP request. [`WebSocketConfig::sources`] sets which, in order (the first one present wins):
//!
//! | source | how the client sends it | note |
//! |---|---|---|
//! | [`Header`](TokenSource::Header) | `Authorization: Bearer <jwt>` | non-browser clients |
//! | [`Subprotocol`](TokenSource::Subprotocol) | a `Sec-WebSocket-Protocol` entry `bearer.<jwt>` beside the real subprotocol: `new WebSocket(url, ["bearer." + token, "chat"])` | the token entry is never echoed; the real subprotocol is selected; a token-only offer gets no subprotocol |
//! | [`Cookie`](TokenSource::Cookie) | the session cookie, sent by the browser | `Origin` must be the app's or allow-listed (cross-site WebSocket hijacking) |
//! | [`Query`](TokenSource::Query) | `?access_token=<jwt>` | only when listed; URLs end up in access logs and browser history |
//!
//! API keys are accepted on upgrades as on any request, when the authenticator has them.
//! The default order is header, subprotocol, then the session cookie (when sessions are
//! configured). An API key or a header or subprotocol token needs no `Origin` check: a
//! foreign page cannot make the browser send one.
//!
//! # The same decision as HTTP
//! An upgrade goes through [`Authenticator::authenticate`] and
//! [`RequestAuth`](crate::adapter::RequestAuth) like any request: the claims check, the
//! provisioning hook (a disabled user gets 403 `user_disabled`), guards and the error
//! rendering are the same, and the adapters answer refusals with the usual JSON body and
//! `WWW-Authenticate` before upgrading.
//!
//! # Expiry and re-authentication
//! [`SocketAuth`] is one connection's state. [`SocketAuth::expired`] resolves when the token
//! expires (its `exp` plus the verifier's leeway): it is one entry in Tokio's timer wheel per
//! connection, so an idle connection costs no wake-up and no key-cache lookup until then. The
//! adapters then close the connection with code 1008 (policy violation) and the reason
//! `token expired`.
//!
//! To stay connected, a client sends a fresh token before the deadline, as a text message:
//!
//! ```json
//! {"type":"auth","token":"<jwt>"}
//! ```
//!
//! The token is verified like the first one (signature, claims, hooks and the connection's
//! guard) and must carry the same `sub` and `iss`; the connection then lives until the new
//! token expires, and the server answers `{"type":"auth_ok","expires_at":<unix seconds>}`.
//! Any failure closes the connection with 1008 and the error code as the reason. The message
//! is consumed: the application never sees it.
//!
//! ```
//! use auth_core::ws::{SocketAuth, TextMessage};
//!
//! async fn on_text(conn: &mut SocketAuth, text: &str) {
//!     match conn.on_text(text).await {
//!         TextMessage::Application => { /* the app's own message */ }
//!         TextMessage::Reauthenticated { reply } => { /* send `reply` back */ let _ = reply; }
//!         TextMessage::Close { code, reason } => { /* close with `code` and `reason` */ let _ = (code, reason); }
//!         _ => { /* a later kind of message: treat as the application's */ }
//!     }
//! }
//! # let _ = on_text;
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ExtraClaims;
use serde::Deserialize;

use crate::adapter::{self, RequestView};
use crate::authenticator::{AuthData, Authenticated, Authenticator, TokenSource};
use crate::claims::{Claims, NoExtraClaims};
use crate::config::ConfigError;
use crate::error::{AuthError, ErrorCode};
use crate::guard::Guard;

/// The WebSocket close code for a connection whose credential ended (RFC 6455 §7.4.1: policy
/// violation).
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;

/// The close reason sent when a connection's token expires.
pub const REASON_TOKEN_EXPIRED: &str = "token expired";

/// The default prefix of a token carried in `Sec-WebSocket-Protocol`.
pub const DEFAULT_SUBPROTOCOL_PREFIX: &str = "bearer.";

/// The largest in-band `auth` message looked at (a token is capped at the verifier's maximum
/// size anyway; larger text messages are the application's).
const MAX_AUTH_MESSAGE_BYTES: usize = 64 * 1024;

/// How upgrade requests are authenticated; set with
/// [`AuthenticatorBuilder::websocket`](crate::AuthenticatorBuilder::websocket).
#[derive(Clone, Default)]
pub struct WebSocketConfig {
    sources: Option<Vec<TokenSource>>,
    allowed_origins: Vec<String>,
    subprotocol_prefix: Option<String>,
}

impl fmt::Debug for WebSocketConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketConfig")
            .field("sources", &self.sources)
            .field("allowed_origins", &self.allowed_origins)
            .field("subprotocol_prefix", &self.subprotocol_prefix_str())
            .finish()
    }
}

impl WebSocketConfig {
    /// The defaults: header, subprotocol, then the session cookie; no query parameter; only
    /// the app's own origin for cookie-authenticated upgrades.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// From the environment: `AUTH_WS_ALLOWED_ORIGINS` (comma-separated origins, such as
    /// `https://app.example.com,https://admin.example.com`) and `AUTH_WS_QUERY_TOKEN`
    /// (`true` accepts `?access_token=` on upgrades, after the other sources).
    ///
    /// # Errors
    /// `config_invalid` naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = WebSocketConfig::new();
        if let Some(list) = lookup("AUTH_WS_ALLOWED_ORIGINS") {
            for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                check_origin(origin).map_err(|why| {
                    ConfigError::new("AUTH_WS_ALLOWED_ORIGINS", format!("{origin:?}: {why}"))
                })?;
                config.allowed_origins.push(origin.to_owned());
            }
        }
        match lookup("AUTH_WS_QUERY_TOKEN").as_deref().map(str::trim) {
            None | Some("" | "false" | "0") => {}
            Some("true" | "1") => {
                config.sources = Some(vec![
                    TokenSource::Header,
                    TokenSource::Subprotocol,
                    TokenSource::Cookie,
                    TokenSource::Query,
                ]);
            }
            Some(_) => {
                return Err(ConfigError::new(
                    "AUTH_WS_QUERY_TOKEN",
                    "expected true or false",
                ));
            }
        }
        Ok(config)
    }

    /// Where an upgrade's credential is read from, in order; the first one present wins.
    /// [`TokenSource::Query`] is used only when listed here. A listed
    /// [`Cookie`](TokenSource::Cookie) is skipped when sessions are not configured.
    #[must_use]
    pub fn sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.sources = Some(sources.into_iter().collect());
        self
    }

    /// Another origin (`https://admin.example.com`) whose pages may open cookie-authenticated
    /// WebSockets, besides the app's own and the sessions' allowed origins.
    ///
    /// # Errors
    /// `config_invalid` for a value that is not an origin (a scheme, a host, an optional port,
    /// nothing else).
    pub fn allowed_origin(mut self, origin: &str) -> Result<Self, ConfigError> {
        check_origin(origin).map_err(|why| {
            ConfigError::new("websocket.allowed_origin", format!("{origin:?}: {why}"))
        })?;
        self.allowed_origins.push(origin.to_owned());
        Ok(self)
    }

    /// The prefix that marks a token in `Sec-WebSocket-Protocol` (default `bearer.`).
    ///
    /// # Errors
    /// `config_invalid` for an empty prefix or one with characters a subprotocol cannot hold.
    pub fn subprotocol_prefix(mut self, prefix: &str) -> Result<Self, ConfigError> {
        let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if prefix.is_empty() || !prefix.bytes().all(token_char) {
            return Err(ConfigError::new(
                "websocket.subprotocol_prefix",
                "a non-empty HTTP token, such as bearer.",
            ));
        }
        self.subprotocol_prefix = Some(prefix.to_owned());
        Ok(self)
    }

    pub(crate) fn subprotocol_prefix_str(&self) -> &str {
        self.subprotocol_prefix
            .as_deref()
            .unwrap_or(DEFAULT_SUBPROTOCOL_PREFIX)
    }

    /// The sources in effect.
    pub(crate) fn effective_sources(&self, sessions: bool) -> Vec<TokenSource> {
        let mut sources = self.sources.clone().unwrap_or_else(|| {
            vec![
                TokenSource::Header,
                TokenSource::Subprotocol,
                TokenSource::Cookie,
            ]
        });
        if !sessions {
            sources.retain(|s| *s != TokenSource::Cookie);
        }
        sources
    }

    pub(crate) fn is_allowed_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == origin)
    }
}

/// Why a string is not an origin.
fn check_origin(origin: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(origin).map_err(|_| "not a URL")?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err("an http(s) origin is needed");
    }
    if url.origin().ascii_serialization() != origin {
        return Err("an origin is a scheme, a host and an optional port, without a path");
    }
    Ok(())
}

/// Whether `req` asks for a WebSocket upgrade (`GET`, `Upgrade: websocket`, and `Connection`
/// listing `upgrade`; RFC 6455 §4.1).
#[must_use]
pub fn is_websocket_upgrade(req: &impl RequestView) -> bool {
    if !req.method().eq_ignore_ascii_case("GET") {
        return false;
    }
    let mut upgrade = false;
    req.for_each_header("upgrade", &mut |v| {
        upgrade |= v
            .split(|b| *b == b',')
            .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket"));
    });
    let mut connection = false;
    req.for_each_header("connection", &mut |v| {
        connection |= v
            .split(|b| *b == b',')
            .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"upgrade"));
    });
    upgrade && connection
}

/// The entries of every `Sec-WebSocket-Protocol` header, in order.
fn offered_protocols(req: &impl RequestView) -> Vec<String> {
    let mut out = Vec::new();
    req.for_each_header("sec-websocket-protocol", &mut |v| {
        let v = crate::adapter::text(v);
        out.extend(
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    });
    out
}

/// The token offered in `Sec-WebSocket-Protocol`, if any.
///
/// # Errors
/// `invalid_request` when two token entries are offered.
pub(crate) fn subprotocol_token(
    req: &impl RequestView,
    prefix: &str,
) -> Result<Option<String>, AuthError> {
    let mut found = None;
    for p in offered_protocols(req) {
        if let Some(token) = strip_prefix_ignore_case(&p, prefix) {
            if found.is_some() {
                return Err(AuthError::new(
                    ErrorCode::InvalidRequest,
                    "more than one token offered in Sec-WebSocket-Protocol",
                ));
            }
            if token.is_empty() {
                return Err(AuthError::new(
                    ErrorCode::InvalidRequest,
                    "an empty token offered in Sec-WebSocket-Protocol",
                ));
            }
            found = Some(token.to_owned());
        }
    }
    Ok(found)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The subprotocols the client offered that are not tokens, in its order.
fn real_protocols(authenticator: &Authenticator, req: &impl RequestView) -> Vec<String> {
    let prefix = authenticator.websocket_config().subprotocol_prefix_str();
    offered_protocols(req)
        .into_iter()
        .filter(|p| strip_prefix_ignore_case(p, prefix).is_none())
        .collect()
}

/// Refuses a cookie-authenticated upgrade from another site: a page elsewhere could otherwise
/// open a WebSocket that rides the user's cookie (cross-site WebSocket hijacking, RFC 6455
/// §10.2). Browsers always send `Origin` on upgrades; without one the client is not a browser.
pub(crate) fn check_upgrade_origin(
    auth: &Authenticator,
    req: &impl RequestView,
) -> Result<(), AuthError> {
    let Some(origin) = adapter::first_header(req, "origin") else {
        return Ok(());
    };
    let trusted = auth
        .session_config()
        .is_some_and(|s| s.is_trusted_origin(&origin))
        || auth.websocket_config().is_allowed_origin(&origin);
    if trusted {
        Ok(())
    } else {
        Err(AuthError::new(
            ErrorCode::PermissionDenied,
            "cross-site connection refused: this Origin may not use the session cookie",
        ))
    }
}

/// The in-band re-authentication message.
#[derive(Deserialize)]
struct AuthMessage {
    #[serde(rename = "type")]
    kind: String,
    token: Option<String>,
}

/// What a text message turned out to be; see [`SocketAuth::on_text`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMessage {
    /// The application's own message: hand it on.
    Application,
    /// A valid `{"type":"auth",...}` message: the deadline moved; send `reply` (JSON text) to
    /// the client.
    Reauthenticated {
        /// `{"type":"auth_ok","expires_at":<unix seconds>}`.
        reply: String,
    },
    /// A refused `auth` message: close the connection with this code and reason.
    Close {
        /// [`CLOSE_POLICY_VIOLATION`].
        code: u16,
        /// The error code and a short reason (at most 123 bytes, as a close frame allows).
        reason: String,
    },
}

/// One authenticated connection: who opened it, until when, and the in-band
/// re-authentication that moves the deadline. Created by the adapters' upgrade extractors and
/// filters from the upgrade request's authentication.
pub struct SocketAuth {
    authenticator: Authenticator,
    auth: Arc<Authenticated<NoExtraClaims>>,
    guard: Option<Guard>,
    offered: Vec<String>,
    protocol: Option<String>,
    expires_at: SystemTime,
    /// Created when first awaited, so that a connection whose owner keeps its own deadline
    /// (one shared timer for many sockets) holds no timer entry.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl fmt::Debug for SocketAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketAuth")
            .field("sub", &self.auth.claims.sub)
            .field("source", &self.auth.source)
            .field("protocol", &self.protocol)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SocketAuth {
    /// The state of a connection opened by `auth`, the authenticated upgrade request `req`.
    /// The subprotocol selected is the first one the client offered that is not a token (see
    /// [`select_protocol`](Self::select_protocol) to choose among the application's).
    #[must_use]
    pub fn new(
        authenticator: &Authenticator,
        auth: Authenticated<NoExtraClaims>,
        req: &impl RequestView,
    ) -> Self {
        let expires_at = deadline_of(authenticator, &auth.claims);
        let offered = real_protocols(authenticator, req);
        SocketAuth {
            authenticator: authenticator.clone(),
            auth: Arc::new(auth),
            guard: None,
            protocol: offered.first().cloned(),
            offered,
            expires_at,
            timer: None,
        }
    }

    /// Selects the subprotocol among those the application speaks: the first entry the client
    /// offered (tokens aside) that is in `supported` (compared case-insensitively), or none.
    /// Returns the selection.
    pub fn select_protocol(&mut self, supported: &[&str]) -> Option<&str> {
        self.protocol = self
            .offered
            .iter()
            .find(|p| supported.iter().any(|k| k.eq_ignore_ascii_case(p)))
            .cloned();
        self.protocol.as_deref()
    }

    /// Checks `guard` now and again on every re-authentication (a fresh token that lost the
    /// role closes the connection).
    ///
    /// # Errors
    /// The guard's `permission_denied`.
    pub fn require(&mut self, guard: Guard) -> Result<(), AuthError> {
        guard.check_at(&self.auth.claims, self.authenticator.now_secs())?;
        self.guard = Some(match self.guard.take() {
            Some(existing) => existing.and(guard),
            None => guard,
        });
        Ok(())
    }

    /// The connection's verified caller.
    #[must_use]
    pub fn authenticated(&self) -> &Authenticated<NoExtraClaims> {
        &self.auth
    }

    /// The connection's verified caller, shared rather than copied (for state kept beside the
    /// connection, such as a Socket.IO socket's extensions).
    #[must_use]
    pub fn shared(&self) -> Arc<Authenticated<NoExtraClaims>> {
        Arc::clone(&self.auth)
    }

    /// The verified claims.
    #[must_use]
    pub fn claims(&self) -> &Claims<NoExtraClaims> {
        &self.auth.claims
    }

    /// The caller with its claims read as `C`.
    ///
    /// # Errors
    /// `token_invalid` when the payload does not fit `C`.
    pub fn auth_data<C: ExtraClaims>(&self) -> Result<AuthData<C>, AuthError> {
        self.auth.auth_data()
    }

    /// The subprotocol selected for the `101` answer (never a token entry); `None` when the
    /// client offered none besides its token, or none the application speaks.
    #[must_use]
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// When the connection's credential ends: the token's `exp` plus the verifier's leeway.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// How long until the credential ends, on the verifier's clock (zero once it has).
    #[must_use]
    pub fn expires_in(&self) -> Duration {
        let now = self.authenticator.verifier().config().now();
        self.expires_at
            .duration_since(now)
            .unwrap_or(Duration::ZERO)
    }

    /// Resolves when the credential ends (see [`expires_at`](Self::expires_at)); after a
    /// re-authentication, at the new deadline. Cancel-safe: use it in `tokio::select!` beside
    /// the socket's next message; it costs one timer entry, not a wake-up per second. Needs a
    /// Tokio runtime.
    pub fn expired(&mut self) -> Expired<'_> {
        Expired { conn: self }
    }

    /// Looks at a text message from the client: an in-band `{"type":"auth","token":...}` is
    /// verified and consumed (see the [module docs](self)); anything else is the
    /// application's.
    pub async fn on_text(&mut self, text: &str) -> TextMessage {
        // Cheap filter first: most messages are not ours and are not parsed here.
        if text.len() > MAX_AUTH_MESSAGE_BYTES
            || !text.trim_start().starts_with('{')
            || !text.contains("\"auth\"")
        {
            return TextMessage::Application;
        }
        let Ok(message) = serde_json::from_str::<AuthMessage>(text) else {
            return TextMessage::Application;
        };
        if message.kind != "auth" {
            return TextMessage::Application;
        }
        let Some(token) = message.token else {
            return close_for(&AuthError::new(
                ErrorCode::TokenMissing,
                "the auth message has no token",
            ));
        };
        match self.reauthenticate(&token).await {
            Ok(()) => TextMessage::Reauthenticated {
                reply: serde_json::json!({
                    "type": "auth_ok",
                    "expires_at": unix_secs(self.expires_at),
                })
                .to_string(),
            },
            Err(error) => close_for(&error),
        }
    }

    /// Verifies a fresh token for this connection and moves the deadline to its expiry. The
    /// token must be valid, pass the hooks and the connection's guard, and carry the same
    /// `sub` and `iss` as the one that opened the connection.
    ///
    /// # Errors
    /// The token's error; `permission_denied` for another subject or a failed guard;
    /// `invalid_request` on a connection opened with an API key.
    pub async fn reauthenticate(&mut self, token: &str) -> Result<(), AuthError> {
        if self.auth.source == TokenSource::ApiKey {
            return Err(AuthError::new(
                ErrorCode::InvalidRequest,
                "a connection opened with an API key does not re-authenticate",
            ));
        }
        let fresh = self.authenticator.authenticate_token(token).await?;
        let old = &self.auth.claims;
        if fresh.claims.sub != old.sub || fresh.claims.iss != old.iss {
            return Err(AuthError::new(
                ErrorCode::PermissionDenied,
                "re-authentication with another subject",
            ));
        }
        if let Some(guard) = &self.guard {
            guard.check_at(&fresh.claims, self.authenticator.now_secs())?;
        }
        let source = self.auth.source;
        self.expires_at = deadline_of(&self.authenticator, &fresh.claims);
        let remaining = self.expires_in();
        if let Some(timer) = &mut self.timer {
            timer.as_mut().reset(instant_of(remaining));
        }
        self.auth = Arc::new(Authenticated { source, ..fresh });
        Ok(())
    }
}

/// What a connection loop does next; see [`SocketAuth::next`].
#[non_exhaustive]
#[derive(Debug)]
pub enum Next<M> {
    /// A message for the application (anything but an in-band `auth` message).
    Message(M),
    /// The client's side ended (the socket's stream returned `None`).
    End,
    /// A re-authentication succeeded: send this text (`{"type":"auth_ok",...}`) and go on.
    Reply(String),
    /// Close the connection with this code and reason ([`CLOSE_POLICY_VIOLATION`]: the token
    /// expired, or an `auth` message was refused), then stop.
    Close {
        /// The close code.
        code: u16,
        /// The close reason (fits a close frame).
        reason: String,
    },
}

impl SocketAuth {
    /// One step of a connection loop, the same for every socket implementation: waits for
    /// `incoming` (the socket's next message) or the credential's end, whichever comes first
    /// (the deadline wins a tie), and looks at text messages (`text_of` gives a message's
    /// text, `None` for other kinds) with [`on_text`](Self::on_text).
    pub async fn next<M>(
        &mut self,
        incoming: impl Future<Output = Option<M>>,
        text_of: impl FnOnce(&M) -> Option<&str>,
    ) -> Next<M> {
        let message = tokio::select! {
            biased;
            () = self.expired() => {
                return Next::Close {
                    code: CLOSE_POLICY_VIOLATION,
                    reason: REASON_TOKEN_EXPIRED.to_owned(),
                };
            }
            message = incoming => message,
        };
        let Some(message) = message else {
            return Next::End;
        };
        let verdict = match text_of(&message) {
            Some(text) => self.on_text(text).await,
            None => TextMessage::Application,
        };
        match verdict {
            TextMessage::Application => Next::Message(message),
            TextMessage::Reauthenticated { reply } => Next::Reply(reply),
            TextMessage::Close { code, reason } => Next::Close { code, reason },
        }
    }
}

/// The future of [`SocketAuth::expired`].
#[must_use = "futures do nothing unless polled"]
pub struct Expired<'a> {
    conn: &'a mut SocketAuth,
}

impl fmt::Debug for Expired<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expired")
            .field("expires_at", &self.conn.expires_at)
            .finish()
    }
}

impl Future for Expired<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let conn = &mut *self.conn;
        let remaining = conn.expires_in();
        conn.timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(instant_of(remaining))))
            .as_mut()
            .poll(cx)
    }
}

/// The close for a refused in-band message.
fn close_for(error: &AuthError) -> TextMessage {
    let mut reason = format!("{}: {}", error.code().as_str(), error.message());
    if reason.len() > 123 {
        let mut end = 120;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
        while reason.len() > 123 {
            reason.pop();
        }
    }
    TextMessage::Close {
        code: CLOSE_POLICY_VIOLATION,
        reason,
    }
}

/// `exp` plus the leeway, as the verifier accepts the token until then.
fn deadline_of<C>(authenticator: &Authenticator, claims: &Claims<C>) -> SystemTime {
    let leeway = authenticator.verifier().config().leeway();
    let exp = claims.exp.as_secs().max(0) as u64;
    UNIX_EPOCH
        .checked_add(Duration::from_secs(exp))
        .and_then(|t| t.checked_add(leeway))
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(253_402_300_799))
}

/// The Tokio instant `remaining` from now.
fn instant_of(remaining: Duration) -> tokio::time::Instant {
    // A year is "never" for a connection, and keeps the addition from overflowing.
    let remaining = remaining.min(Duration::from_secs(365 * 24 * 3600));
    tokio::time::Instant::now() + remaining
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::SimpleRequest;

    #[test]
    fn upgrade_requests_are_recognised() {
        let up = SimpleRequest::get("/ws")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade");
        assert!(is_websocket_upgrade(&up));
        assert!(!is_websocket_upgrade(&SimpleRequest::get("/ws")));
        let post = SimpleRequest::new("POST", "/ws")
            .header("upgrade", "websocket")
            .header("connection", "upgrade");
        assert!(!is_websocket_upgrade(&post));
        let h2c = SimpleRequest::get("/ws")
            .header("upgrade", "h2c")
            .header("connection", "upgrade");
        assert!(!is_websocket_upgrade(&h2c));
    }

    #[test]
    fn subprotocol_tokens_are_found_and_never_selected() {
        let req = SimpleRequest::get("/ws")
            .header("sec-websocket-protocol", "bearer.abc.def.ghi, chat")
            .header("sec-websocket-protocol", "superchat");
        assert_eq!(
            subprotocol_token(&req, "bearer.").ok().flatten().as_deref(),
            Some("abc.def.ghi")
        );
        let two = SimpleRequest::get("/ws").header("sec-websocket-protocol", "bearer.a, bearer.b");
        assert!(subprotocol_token(&two, "bearer.").is_err());
        let empty = SimpleRequest::get("/ws").header("sec-websocket-protocol", "bearer., chat");
        assert!(subprotocol_token(&empty, "bearer.").is_err());
        let none = SimpleRequest::get("/ws").header("sec-websocket-protocol", "chat");
        assert_eq!(subprotocol_token(&none, "bearer.").ok().flatten(), None);
    }

    #[test]
    fn origins_are_validated() {
        assert!(check_origin("https://app.example.com").is_ok());
        assert!(check_origin("http://127.0.0.1:3000").is_ok());
        for bad in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "app.example.com",
            "ftp://x.example",
            "*",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_configuration() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let c = WebSocketConfig::from_vars(vars(&[
            (
                "AUTH_WS_ALLOWED_ORIGINS",
                "https://a.example, http://localhost:5173",
            ),
            ("AUTH_WS_QUERY_TOKEN", "true"),
        ]))
        .expect("valid");
        assert!(c.is_allowed_origin("http://localhost:5173"));
        assert!(c.effective_sources(true).contains(&TokenSource::Query));
        assert!(!c.effective_sources(false).contains(&TokenSource::Cookie));
        assert!(
            WebSocketConfig::from_vars(vars(&[("AUTH_WS_ALLOWED_ORIGINS", "https://a.example/x")]))
                .is_err()
        );
        assert!(WebSocketConfig::from_vars(vars(&[("AUTH_WS_QUERY_TOKEN", "yes")])).is_err());
        assert!(
            !WebSocketConfig::new()
                .effective_sources(true)
                .contains(&TokenSource::Query)
        );
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        let long = AuthError::new(ErrorCode::TokenInvalid, "é".repeat(200));
        match close_for(&long) {
            TextMessage::Close { code, reason } => {
                assert_eq!(code, 1008);
                assert!(reason.len() <= 123, "{}", reason.len());
                assert!(reason.starts_with("token_invalid: "));
            }
            other => panic!("{other:?}"),
        }
    }
}
