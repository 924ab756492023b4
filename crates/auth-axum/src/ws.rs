//! Authenticated WebSocket upgrades (feature `ws`): [`AuthUpgrade`] and [`AuthSocket`].

use std::fmt;
use std::future::Future;

use auth_core::adapter::RequestAuth;
use auth_core::ws::{Next, SocketAuth};
use auth_core::{AuthData, Claims, ExtraClaims, Guard, NoExtraClaims};
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::rejection::{AuthRejection, missing_layer};
use crate::view::HttpView;

/// An authenticated WebSocket upgrade: the extractor authenticates the upgrade request
/// before the `101` answer and refuses it like any request (401/403 with the JSON body and
/// `WWW-Authenticate`); [`on_upgrade`](Self::on_upgrade) hands your callback an
/// [`AuthSocket`] that closes with 1008 when the token expires.
///
/// The token comes from `Authorization: Bearer`, a `Sec-WebSocket-Protocol` entry
/// `bearer.<jwt>` (the one browsers can send: `new WebSocket(url, ["bearer." + token,
/// "chat"])`), or the session cookie (only from the app's origin or an allowed one); see
/// [`auth_core::ws`] for the order, the opt-in query parameter and the in-band
/// re-authentication message. Route guards ([`guard`](crate::guard)) apply to upgrades too,
/// and are checked again when the client re-authenticates. Needs an
/// [`AuthLayer`](crate::AuthLayer) above the route.
///
/// ```
/// use auth_axum::{AuthLayer, AuthUpgrade};
/// use auth_axum::auth_core::{Authenticator, Guard};
/// use axum::extract::ws::Message;
/// use axum::{Router, response::Response, routing::get};
///
/// async fn echo(ws: AuthUpgrade) -> Response {
///     ws.protocols(&["chat"]).on_upgrade(|mut socket| async move {
///         // `recv` ends (after a 1008 close) when the token expires.
///         while let Some(Ok(message)) = socket.recv().await {
///             if let Message::Text(text) = message {
///                 let _ = socket.send(Message::Text(text)).await;
///             }
///         }
///     })
/// }
///
/// fn app(authenticator: Authenticator) -> Router {
///     Router::new()
///         .route("/ws", get(echo))
///         .route(
///             "/ws/admin",
///             get(echo).route_layer(auth_axum::guard(Guard::any_role(["admin"]))),
///         )
///         .layer(AuthLayer::new(authenticator))
/// }
/// # let _ = app;
/// ```
#[must_use]
pub struct AuthUpgrade {
    upgrade: WebSocketUpgrade,
    conn: SocketAuth,
}

impl fmt::Debug for AuthUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthUpgrade")
            .field("connection", &self.conn)
            .finish_non_exhaustive()
    }
}

impl<S> FromRequestParts<S> for AuthUpgrade
where
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let is_upgrade = {
            let view = HttpView::new(&parts.method, &parts.uri, &parts.headers);
            auth_core::ws::is_websocket_upgrade(&view)
        };
        if !is_upgrade {
            // axum's own answer for a request that is not an upgrade (405, 400, 426).
            if let Err(rejection) = WebSocketUpgrade::from_request_parts(parts, state).await {
                return Err(rejection.into_response());
            }
        }
        let auth = parts
            .extensions
            .get::<RequestAuth>()
            .cloned()
            .ok_or_else(|| missing_layer().into_response())?;
        let view = HttpView::new(&parts.method, &parts.uri, &parts.headers);
        let conn = auth
            .upgrade(&view)
            .await
            .map_err(|e| AuthRejection::from(e).into_response())?;
        let upgrade = WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(AuthUpgrade { upgrade, conn })
    }
}

impl AuthUpgrade {
    /// The verified claims of the upgrade request.
    #[must_use]
    pub fn claims(&self) -> &Claims<NoExtraClaims> {
        self.conn.claims()
    }

    /// The caller, with its claims read as `C`.
    ///
    /// # Errors
    /// `token_invalid` when the claims do not fit `C`.
    pub fn auth_data<C: ExtraClaims>(&self) -> Result<AuthData<C>, AuthRejection> {
        Ok(self.conn.auth_data::<C>()?)
    }

    /// The connection's state: deadline, selected subprotocol, caller.
    #[must_use]
    pub fn connection(&self) -> &SocketAuth {
        &self.conn
    }

    /// Admits the upgrade only when the claims pass `guard` (403 `permission_denied`
    /// otherwise), and checks it again on every re-authentication.
    ///
    /// # Errors
    /// The guard's `permission_denied`, as a rejection to return from the handler.
    pub fn require(mut self, guard: Guard) -> Result<Self, AuthRejection> {
        self.conn.require(guard)?;
        Ok(self)
    }

    /// The subprotocols the application speaks: the first one the client offered (its token
    /// entry aside) is selected. Without this call, the first one offered is.
    pub fn protocols(mut self, supported: &[&str]) -> Self {
        self.conn.select_protocol(supported);
        self
    }

    /// Changes axum's upgrade settings (message and frame size limits, write buffer).
    pub fn configure(mut self, f: impl FnOnce(WebSocketUpgrade) -> WebSocketUpgrade) -> Self {
        self.upgrade = f(self.upgrade);
        self
    }

    /// The `101` answer; `callback` runs on the upgraded connection.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(AuthSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let AuthUpgrade { mut upgrade, conn } = self;
        if let Some(protocol) = conn.protocol().and_then(|p| HeaderValue::from_str(p).ok()) {
            upgrade.set_selected_protocol(protocol);
        }
        upgrade.on_upgrade(move |socket| callback(AuthSocket::new(socket, conn)))
    }
}

/// An upgraded connection that ends with its credential: [`recv`](Self::recv) closes it with
/// 1008 `token expired` at the token's expiry (leeway included), and consumes the in-band
/// `{"type":"auth","token":"<jwt>"}` messages that move the deadline (answering
/// `{"type":"auth_ok","expires_at":…}`, or closing with 1008 and the error code when the token
/// is refused). Everything else passes through.
///
/// To split the socket into a sender and a receiver, take it apart with
/// [`into_parts`](Self::into_parts) and drive [`SocketAuth::expired`] and
/// [`SocketAuth::on_text`] yourself.
pub struct AuthSocket {
    socket: WebSocket,
    conn: SocketAuth,
    closed: bool,
}

impl fmt::Debug for AuthSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSocket")
            .field("connection", &self.conn)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl AuthSocket {
    fn new(socket: WebSocket, conn: SocketAuth) -> Self {
        AuthSocket {
            socket,
            conn,
            closed: false,
        }
    }

    /// The next message from the client; `None` once the connection is closed (by the
    /// client, or by the server because the credential ended).
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        if self.closed {
            return None;
        }
        loop {
            fn text_of(m: &Result<Message, axum::Error>) -> Option<&str> {
                match m {
                    Ok(Message::Text(text)) => Some(text.as_str()),
                    _ => None,
                }
            }
            match self.conn.next(self.socket.recv(), text_of).await {
                Next::Reply(reply) => {
                    if let Err(e) = self.socket.send(Message::Text(reply.into())).await {
                        return Some(Err(e));
                    }
                }
                Next::Close { code, reason } => {
                    self.close(code, &reason).await;
                    return None;
                }
                Next::Message(message) => return Some(message),
                _ => return None,
            }
        }
    }

    /// Sends a message.
    ///
    /// # Errors
    /// axum's, when the connection is gone.
    pub async fn send(&mut self, message: Message) -> Result<(), axum::Error> {
        self.socket.send(message).await
    }

    /// The verified claims (of the latest token, after a re-authentication).
    #[must_use]
    pub fn claims(&self) -> &Claims<NoExtraClaims> {
        self.conn.claims()
    }

    /// The connection's state: deadline, selected subprotocol, caller.
    #[must_use]
    pub fn connection(&self) -> &SocketAuth {
        &self.conn
    }

    /// The socket and its state, to drive them yourself.
    #[must_use]
    pub fn into_parts(self) -> (WebSocket, SocketAuth) {
        (self.socket, self.conn)
    }

    async fn close(&mut self, code: u16, reason: &str) {
        self.closed = true;
        let frame = CloseFrame {
            code,
            reason: reason.to_owned().into(),
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
    }
}
