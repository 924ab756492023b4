//! Socket.IO authentication for [socketioxide]: a namespace middleware that authenticates each
//! connection from its handshake, guards a namespace by role or scope, attaches the verified
//! caller to the socket, and disconnects the socket when its token expires.
//!
//! ```no_run
//! use auth_core::{Authenticator, Guard};
//! use auth_socketio::{SocketIoAuth, SocketUser};
//! use socketioxide::extract::{AckSender, SocketRef};
//! use socketioxide::handler::ConnectHandler;
//! use socketioxide::SocketIo;
//!
//! // The namespace's events, registered by a middleware that runs after the authentication
//! // one (see "Registering events" below for why not in the connect handler).
//! async fn events(socket: SocketRef) -> Result<(), std::convert::Infallible> {
//!     socket.on("whoami", async |user: SocketUser, ack: AckSender| {
//!         let _ = ack.send(&serde_json::json!({ "sub": user.subject, "roles": user.roles }));
//!     });
//!     Ok(())
//! }
//!
//! async fn on_connect(_socket: SocketRef) {
//!     // Runs once the client has been told it is connected.
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let authenticator = Authenticator::from_env()?;
//! let auth = SocketIoAuth::new(&authenticator);
//! let (layer, io) = SocketIo::new_layer();
//! // The last middleware added runs first: authentication, then `events`, then the handler.
//! io.ns("/", on_connect.with(events).with(auth.clone()));
//! io.ns(
//!     "/admin",
//!     on_connect.with(events).with(auth.require(Guard::any_role(["admin"]))),
//! );
//! // Mount `layer` on the axum router (or any tower/hyper server).
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! # Registering events
//! socketioxide sends `CONNECT` to the client before it runs the namespace's connect handler,
//! which it spawns as a task. A client that emits as soon as it is connected (the usual
//! `socket.on("connect", () => socket.emit(...))`) can therefore be heard before the handler
//! has registered its events, most often on a busy runtime, and socketioxide drops an event
//! that has no handler, silently: the client waits for an ack that never comes. Middlewares
//! run before `CONNECT` is sent, so register events in a middleware placed after the
//! authentication one, as above: the caller is then known ([`SocketUser`] extracts) and
//! nothing the client sends can arrive first. The re-authentication event is registered the
//! same way.
//!
//! # Where the credential comes from
//! In this order, the first one present wins (a payload token is used even when a header is
//! also sent):
//!
//! 1. the handshake's `auth` payload, `{"token": "<jwt>"}`: `io(url, { auth: { token } })` in
//!    the JavaScript client (a `Bearer ` prefix is accepted; an API key works too);
//! 2. `Authorization: Bearer <jwt>` on the handshake request (`extraHeaders` in Node);
//! 3. the session cookie, sent by the browser. Its `Origin` must be the app's or allow-listed
//!    (see [`WebSocketConfig::allowed_origin`](auth_core::ws::WebSocketConfig::allowed_origin)),
//!    on every transport: long-polling `POST`s are simple requests another site can send. The
//!    session is not refreshed over Socket.IO (no answer could carry the rotated cookies): an
//!    expired one is refused with `token_expired`, and the client refreshes over HTTP
//!    (`POST /auth/refresh`) before it reconnects.
//!
//! The same hooks as on HTTP run: the claims check, the provisioning hook (a disabled user is
//! refused with `user_disabled`), and the namespace's guard.
//!
//! # Refusals
//! A refused client gets a `CONNECT_ERROR` for the namespace and never joins it. Its message is
//! the JSON text of `{"code": "<error code>", "message": "..."}`, with the codes of
//! [`ErrorCode`]:
//!
//! ```js
//! socket.on("connect_error", (err) => {
//!   const { code, message } = JSON.parse(err.message); // "token_expired", ...
//! });
//! ```
//!
//! # Expiry and re-authentication
//! A connection lives until its token's `exp` plus the verifier's leeway. Then the server emits
//! [`ERROR_EVENT`] (`"auth_error"`) with `{"code":"token_expired","message":"token expired"}`
//! and disconnects the socket from the namespace (the client sees the reason
//! `io server disconnect`), whether or not the client is sending anything. All the sockets of
//! one [`SocketIoAuth`] share one timer task: an idle connection costs no wake-up and no key
//! lookup until its deadline.
//!
//! To stay connected, the client emits [`REAUTH_EVENT`] (`"auth"`) with a fresh token before the
//! deadline, with an acknowledgement:
//!
//! ```js
//! const reply = await socket.emitWithAck("auth", { token: freshToken });
//! // {"ok": true, "expires_at": <unix seconds>}  or  {"ok": false, "code": "...", "message": "..."}
//! ```
//!
//! The token is verified like the first (signature, claims, hooks, the namespace's guard) and
//! must carry the same `sub` and `iss`; the deadline then moves to its expiry and
//! [`SocketUser`] shows its claims. A refused token is acknowledged with the error, then the
//! server emits `auth_error` and disconnects. A connection opened with an API key does not
//! expire and does not re-authenticate.
//!
//! [socketioxide]: https://docs.rs/socketioxide

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::ExtraClaims;
use auth_core::adapter::RequestView;
use auth_core::ws::SocketAuth;
use auth_core::{AuthData, AuthError, Authenticated, Authenticator, ErrorCode, Guard};
use serde_json::Value as Json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::{ConnectMiddleware, FromConnectParts, FromMessageParts, Value};
use socketioxide::socket::Socket;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The event a client emits to re-authenticate in-band: `{"token": "<jwt>"}` (or the token as a
/// bare string), with an acknowledgement.
pub const REAUTH_EVENT: &str = "auth";

/// The event the server emits before it disconnects a socket for an authentication reason (the
/// token expired, or a re-authentication was refused): `{"code": "...", "message": "..."}`.
pub const ERROR_EVENT: &str = "auth_error";

/// How long to wait before trying again to disconnect an expired socket whose outgoing buffer
/// was full.
const RETRY_DISCONNECT: Duration = Duration::from_secs(1);

/// The namespace middleware: authenticates the handshake, checks the guard, attaches the
/// [`SocketUser`] and schedules the disconnection at expiry. Attach it with socketioxide's
/// `ConnectHandler::with`; clones (and [`require`](Self::require)d copies) share one expiry
/// timer.
#[derive(Clone)]
pub struct SocketIoAuth {
    authenticator: Authenticator,
    guard: Option<Guard>,
    reauth_event: Option<Cow<'static, str>>,
    expiry: Arc<ExpiryQueue>,
}

impl fmt::Debug for SocketIoAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIoAuth")
            .field("guard", &self.guard)
            .field("reauth_event", &self.reauth_event)
            .finish_non_exhaustive()
    }
}

impl SocketIoAuth {
    /// Authenticates connections with `authenticator` (its verifier, API keys, sessions, hooks
    /// and WebSocket `Origin` allow-list). Re-authentication listens on [`REAUTH_EVENT`].
    #[must_use]
    pub fn new(authenticator: &Authenticator) -> Self {
        SocketIoAuth {
            authenticator: authenticator.clone(),
            guard: None,
            reauth_event: Some(Cow::Borrowed(REAUTH_EVENT)),
            expiry: Arc::new(ExpiryQueue::default()),
        }
    }

    /// A copy that also requires `guard` (a role, a scope...): a caller who fails it is refused
    /// with `permission_denied` before joining the namespace, and a re-authentication whose
    /// token fails it disconnects the socket.
    #[must_use]
    pub fn require(&self, guard: Guard) -> Self {
        let mut copy = self.clone();
        copy.guard = Some(match copy.guard.take() {
            Some(existing) => existing.and(guard),
            None => guard,
        });
        copy
    }

    /// The event that re-authenticates a socket (default [`REAUTH_EVENT`]).
    #[must_use]
    pub fn reauth_event(mut self, event: impl Into<Cow<'static, str>>) -> Self {
        self.reauth_event = Some(event.into());
        self
    }

    /// Turns in-band re-authentication off: sockets then end with their first token.
    #[must_use]
    pub fn without_reauth(mut self) -> Self {
        self.reauth_event = None;
        self
    }

    /// The authenticator.
    #[must_use]
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    async fn connect<A: Adapter>(
        &self,
        socket: &Arc<Socket<A>>,
        payload: &Option<Value>,
    ) -> Result<(), AuthError> {
        let token = payload_token(socket, payload)?;
        let view = PartsView(socket.req_parts());
        let mut conn = self
            .authenticator
            .verify_handshake(&view, token.as_deref())
            .await?;
        if let Some(guard) = &self.guard {
            conn.require(guard.clone())?;
        }
        let user = SocketUser::of(&conn)?;
        let expires = conn.authenticated().api_key.is_none();
        let weak: Weak<dyn Expire> = Arc::downgrade(socket) as Weak<dyn Expire>;
        let deadline = Instant::now() + conn.expires_in();
        let connection = Arc::new(Connection {
            user: Mutex::new(user),
            auth: tokio::sync::Mutex::new(conn),
            timer: expires.then(|| self.expiry.schedule(weak, deadline)),
        });
        socket.extensions.insert(connection);
        if let Some(event) = self.reauth_event.clone().filter(|_| expires) {
            socket.on(event, reauthenticate::<A>);
        }
        Ok(())
    }
}

/// Marks the [`ConnectMiddleware`] implementation of [`SocketIoAuth`] (socketioxide tells its
/// middlewares apart by a type parameter).
#[derive(Debug)]
pub struct AuthMiddleware(());

impl<A: Adapter> ConnectMiddleware<A, AuthMiddleware> for SocketIoAuth {
    async fn call<'a>(
        &'a self,
        s: Arc<Socket<A>>,
        auth: &'a Option<Value>,
    ) -> Result<(), Box<dyn fmt::Display + Send>> {
        self.connect(&s, auth).await.map_err(|error| {
            tracing::debug!(
                ns = s.ns(),
                code = error.code().as_str(),
                "Socket.IO connection refused"
            );
            Box::new(ConnectRefusal::from(&error)) as Box<dyn fmt::Display + Send>
        })
    }
}

/// A refused connection, as the `CONNECT_ERROR` message: its `Display` is the JSON text of
/// `{"code": "...", "message": "..."}` (socketioxide sends a middleware error's `Display` as
/// the error's `message`).
#[derive(Debug, Clone)]
pub struct ConnectRefusal {
    code: ErrorCode,
    message: String,
}

impl ConnectRefusal {
    /// The error code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message (never a token).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    fn to_json(&self) -> Json {
        serde_json::json!({ "code": self.code.as_str(), "message": self.message })
    }
}

impl From<&AuthError> for ConnectRefusal {
    fn from(error: &AuthError) -> Self {
        ConnectRefusal {
            code: error.code(),
            message: error.message().to_owned(),
        }
    }
}

impl fmt::Display for ConnectRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json().to_string())
    }
}

impl std::error::Error for ConnectRefusal {}

/// The verified caller of a Socket.IO connection: an extractor for connect and message
/// handlers (`async |user: SocketUser| ...`), dereferencing to [`AuthData`] (subject, roles,
/// scopes, tenant, claims). After an in-band re-authentication it shows the fresh token's
/// claims.
#[derive(Clone)]
pub struct SocketUser {
    data: Arc<AuthData>,
    auth: Arc<Authenticated>,
    expires_at: SystemTime,
}

impl fmt::Debug for SocketUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketUser")
            .field("subject", &self.data.subject)
            .field("kind", &self.data.kind)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SocketUser {
    fn of(conn: &SocketAuth) -> Result<Self, AuthError> {
        Ok(SocketUser {
            data: Arc::new(conn.auth_data()?),
            auth: conn.shared(),
            expires_at: conn.expires_at(),
        })
    }

    /// The verified caller as the HTTP path sees it, with the provisioning hook's data.
    #[must_use]
    pub fn authenticated(&self) -> &Authenticated {
        &self.auth
    }

    /// What the provisioning hook returned for this caller.
    #[must_use]
    pub fn user_data(&self) -> &serde_json::Map<String, Json> {
        &self.auth.user_data
    }

    /// The caller with its claims read as `C` (the application's claims type).
    ///
    /// # Errors
    /// `token_invalid` when the claims do not fit `C`.
    pub fn auth_data<C: ExtraClaims>(&self) -> Result<AuthData<C>, AuthError> {
        self.auth.auth_data()
    }

    /// When the connection's credential ends (its `exp` plus the leeway).
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

impl Deref for SocketUser {
    type Target = AuthData;

    fn deref(&self) -> &AuthData {
        &self.data
    }
}

/// [`SocketUser`] was extracted on a socket that [`SocketIoAuth`] did not authenticate (a
/// namespace without the middleware).
#[derive(Debug, Clone, Copy)]
pub struct NotAuthenticated;

impl fmt::Display for NotAuthenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("this socket was not authenticated by SocketIoAuth")
    }
}

impl std::error::Error for NotAuthenticated {}

fn user_of<A: Adapter>(s: &Arc<Socket<A>>) -> Result<SocketUser, NotAuthenticated> {
    let connection = s
        .extensions
        .get::<Arc<Connection>>()
        .ok_or(NotAuthenticated)?;
    Ok(connection.current_user())
}

impl<A: Adapter> FromConnectParts<A> for SocketUser {
    type Error = NotAuthenticated;

    fn from_connect_parts(s: &Arc<Socket<A>>, _: &Option<Value>) -> Result<Self, Self::Error> {
        user_of(s)
    }
}

impl<A: Adapter> FromMessageParts<A> for SocketUser {
    type Error = NotAuthenticated;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        _: &mut Value,
        _: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        user_of(s)
    }
}

/// One socket's authentication, in its extensions.
struct Connection {
    user: Mutex<SocketUser>,
    auth: tokio::sync::Mutex<SocketAuth>,
    /// `None` for a credential that does not expire (an API key).
    timer: Option<Scheduled>,
}

impl Connection {
    fn current_user(&self) -> SocketUser {
        self.user
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The token of the handshake's `auth` payload: `{"token": "..."}`. Absent, `null` or empty
/// means none; anything else that is not a string is refused.
fn payload_token<A: Adapter>(
    socket: &Arc<Socket<A>>,
    payload: &Option<Value>,
) -> Result<Option<String>, AuthError> {
    if payload.is_none() {
        return Ok(None);
    }
    let Ok(TryData(decoded)) = TryData::<Json>::from_connect_parts(socket, payload);
    let invalid = |message: &'static str| AuthError::new(ErrorCode::InvalidRequest, message);
    match decoded {
        Ok(Json::Object(fields)) => token_field(fields.get("token")),
        Ok(Json::Null) => Ok(None),
        Ok(_) => Err(invalid("the handshake auth payload must be an object")),
        Err(_) => Err(invalid("the handshake auth payload is not valid")),
    }
}

/// A `token` field: a string (an optional `Bearer ` prefix removed), or nothing.
fn token_field(value: Option<&Json>) -> Result<Option<String>, AuthError> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(token)) => {
            let token = token.trim();
            let token = match token.get(..7) {
                Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => token[7..].trim_start(),
                _ => token,
            };
            Ok((!token.is_empty()).then(|| token.to_owned()))
        }
        Some(_) => Err(AuthError::new(
            ErrorCode::InvalidRequest,
            "the handshake auth token must be a string",
        )),
    }
}

/// The in-band re-authentication handler.
async fn reauthenticate<A: Adapter>(
    socket: SocketRef<A>,
    TryData(payload): TryData<Json>,
    ack: AckSender<A>,
) {
    let Some(connection) = socket.extensions.get::<Arc<Connection>>() else {
        return;
    };
    let token = match payload {
        Ok(bare @ Json::String(_)) => token_field(Some(&bare)),
        Ok(Json::Object(fields)) => token_field(fields.get("token")),
        _ => Err(AuthError::new(
            ErrorCode::InvalidRequest,
            "the auth event carries {\"token\": \"<jwt>\"}",
        )),
    }
    .and_then(|token| {
        token.ok_or_else(|| AuthError::new(ErrorCode::TokenMissing, "the auth event has no token"))
    });
    let outcome = match token {
        Ok(token) => {
            let mut conn = connection.auth.lock().await;
            match conn.reauthenticate(&token).await {
                Ok(()) => SocketUser::of(&conn).map(|user| (user, conn.expires_in())),
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok((user, remaining)) => {
            let expires_at = unix_secs(user.expires_at);
            *connection
                .user
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = user;
            if let Some(timer) = &connection.timer {
                timer.reschedule(Instant::now() + remaining);
            }
            let _ = ack.send(&serde_json::json!({ "ok": true, "expires_at": expires_at }));
        }
        Err(error) => {
            tracing::debug!(
                ns = socket.ns(),
                code = error.code().as_str(),
                "Socket.IO re-authentication refused"
            );
            let refusal = ConnectRefusal::from(&error);
            let mut reply = refusal.to_json();
            reply["ok"] = Json::Bool(false);
            let _ = ack.send(&reply);
            let _ = socket.emit(ERROR_EVENT, &refusal.to_json());
            let _ = socket.disconnect();
        }
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A socket that can be ended at its deadline.
trait Expire: Send + Sync {
    /// Tells the client why and disconnects it; `false` when the disconnection could not be
    /// sent (its buffer is full) and must be tried again.
    fn expire(self: Arc<Self>) -> bool;
}

impl<A: Adapter> Expire for Socket<A> {
    fn expire(self: Arc<Self>) -> bool {
        if !self.connected() {
            return true;
        }
        let body = serde_json::json!({
            "code": ErrorCode::TokenExpired.as_str(),
            "message": auth_core::ws::REASON_TOKEN_EXPIRED,
        });
        let _ = self.emit(ERROR_EVENT, &body);
        self.disconnect().is_ok()
    }
}

/// The deadlines of all the sockets of one [`SocketIoAuth`], served by one task that sleeps
/// until the earliest (a `BTreeMap` ordered by deadline; no per-socket timer or task).
#[derive(Default)]
struct ExpiryQueue {
    state: Arc<Mutex<QueueState>>,
    wake: Arc<Notify>,
}

#[derive(Default)]
struct QueueState {
    deadlines: BTreeMap<(Instant, u64), Weak<dyn Expire>>,
    next_id: u64,
    running: bool,
}

impl ExpiryQueue {
    fn lock(state: &Mutex<QueueState>) -> std::sync::MutexGuard<'_, QueueState> {
        state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn schedule(self: &Arc<Self>, socket: Weak<dyn Expire>, at: Instant) -> Scheduled {
        let mut state = Self::lock(&self.state);
        let id = state.next_id;
        state.next_id += 1;
        let earliest = state
            .deadlines
            .keys()
            .next()
            .is_none_or(|&(first, _)| at < first);
        state.deadlines.insert((at, id), socket);
        if !state.running {
            state.running = true;
            tokio::spawn(run_expiry(Arc::downgrade(&self.state), self.wake.clone()));
        } else if earliest {
            self.wake.notify_one();
        }
        Scheduled {
            queue: self.clone(),
            key: Mutex::new((at, id)),
        }
    }
}

impl Drop for ExpiryQueue {
    fn drop(&mut self) {
        // Lets the task see that the queue is gone and end.
        self.wake.notify_one();
    }
}

/// One socket's entry in the queue; removed when the socket (and so its extensions) is dropped.
struct Scheduled {
    queue: Arc<ExpiryQueue>,
    key: Mutex<(Instant, u64)>,
}

impl Scheduled {
    fn reschedule(&self, at: Instant) {
        let mut key = self.key.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = ExpiryQueue::lock(&self.queue.state);
        // Already taken by the task: the socket is being disconnected.
        let Some(socket) = state.deadlines.remove(&key) else {
            return;
        };
        let earliest = state
            .deadlines
            .keys()
            .next()
            .is_none_or(|&(first, _)| at < first);
        key.0 = at;
        state.deadlines.insert(*key, socket);
        drop(state);
        if earliest {
            self.queue.wake.notify_one();
        }
    }
}

impl Drop for Scheduled {
    fn drop(&mut self) {
        let key = *self.key.lock().unwrap_or_else(PoisonError::into_inner);
        ExpiryQueue::lock(&self.queue.state).deadlines.remove(&key);
    }
}

/// The expiry task: disconnects the sockets whose deadline has passed, then sleeps until the
/// next deadline or a new earlier one. Ends when its queue is dropped.
async fn run_expiry(state: Weak<Mutex<QueueState>>, wake: Arc<Notify>) {
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let next = {
            let Some(state) = state.upgrade() else {
                return;
            };
            let now = Instant::now();
            let mut due = Vec::new();
            {
                let mut queue = ExpiryQueue::lock(&state);
                while let Some(entry) = queue.deadlines.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    due.push(entry.remove_entry());
                }
            }
            for ((_, id), socket) in due {
                let Some(live) = socket.upgrade() else {
                    continue;
                };
                if !live.expire() {
                    ExpiryQueue::lock(&state)
                        .deadlines
                        .insert((now + RETRY_DISCONNECT, id), socket);
                }
            }
            ExpiryQueue::lock(&state)
                .deadlines
                .keys()
                .next()
                .map(|k| k.0)
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = &mut notified => {}
                }
            }
            None => notified.await,
        }
    }
}

/// A [`RequestView`] over the handshake request's parts.
struct PartsView<'a>(&'a http::request::Parts);

impl RequestView for PartsView<'_> {
    fn method(&self) -> &str {
        self.0.method.as_str()
    }

    fn path(&self) -> &str {
        self.0.uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.0.uri.query()
    }

    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for value in self.0.headers.get_all(name) {
            f(value.as_bytes());
        }
    }
}
