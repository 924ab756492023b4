//! Authenticated WebSocket upgrades (feature `ws`): the [`ws`] filter, [`AuthUpgrade`] and
//! [`AuthSocket`].

use std::fmt;
use std::future::Future;

use auth_core::ExtraClaims;
use auth_core::adapter::RequestAuth;
use auth_core::ws::{Next, SocketAuth};
use auth_core::{AuthData, Claims, Guard, NoExtraClaims};
use futures_util::{SinkExt as _, StreamExt as _};
use warp::Filter;
use warp::http::HeaderValue;
use warp::reject::Rejection;
use warp::reply::{Reply, Response};
use warp::ws::{Message, WebSocket, Ws};

use crate::filters::request_auth;
use crate::rejection::AuthRejection;
use crate::view::{WarpView, view};

/// An authenticated WebSocket upgrade: refuses the upgrade request like any request (401/403
/// with the JSON body and `WWW-Authenticate`, through [`recover`](crate::recover)) before the
/// `101`, and extracts an [`AuthUpgrade`] whose [`on_upgrade`](AuthUpgrade::on_upgrade) runs
/// your callback with an [`AuthSocket`] that closes with 1008 when the token expires.
///
/// Token sources (`Authorization: Bearer`, a `Sec-WebSocket-Protocol` entry `bearer.<jwt>`,
/// the session cookie from an allowed origin), their order and the in-band re-authentication
/// message are described in [`auth_core::ws`]. [`guard`](crate::guard) filters before it apply
/// to the upgrade and are checked again on re-authentication. Needs the
/// [`AuthLayer`](crate::AuthLayer).
///
/// ```
/// use auth_warp::auth_core::Guard;
/// use auth_warp::{AuthSocket, AuthUpgrade};
/// use warp::Filter;
///
/// async fn echo(mut socket: AuthSocket) {
///     // `recv` ends (after a 1008 close) when the token expires.
///     while let Some(Ok(message)) = socket.recv().await {
///         if message.is_text() && socket.send(message).await.is_err() {
///             break;
///         }
///     }
/// }
///
/// let ws = warp::path("ws")
///     .and(auth_warp::ws())
///     .map(|ws: AuthUpgrade| ws.protocols(&["chat"]).on_upgrade(echo));
/// let admin = warp::path!("ws" / "admin")
///     .and(auth_warp::guard(Guard::any_role(["admin"])))
///     .and(auth_warp::ws())
///     .map(|ws: AuthUpgrade| ws.on_upgrade(echo));
/// # let _ = (ws, admin);
/// ```
#[must_use]
pub fn ws() -> impl Filter<Extract = (AuthUpgrade,), Error = Rejection> + Clone {
    warp::ws().and(request_auth()).and(view()).and_then(
        async |upgrade: Ws, auth: RequestAuth, view: WarpView| match auth.upgrade(&view).await {
            Ok(conn) => Ok(AuthUpgrade { upgrade, conn }),
            Err(error) => Err(Rejection::from(AuthRejection::from(error))),
        },
    )
}

/// An authenticated upgrade, extracted by [`ws`].
#[must_use]
pub struct AuthUpgrade {
    upgrade: Ws,
    conn: SocketAuth,
}

impl fmt::Debug for AuthUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthUpgrade")
            .field("connection", &self.conn)
            .finish_non_exhaustive()
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
    /// The guard's `permission_denied`.
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

    /// Changes warp's upgrade settings (message and frame size limits).
    pub fn configure(mut self, f: impl FnOnce(Ws) -> Ws) -> Self {
        self.upgrade = f(self.upgrade);
        self
    }

    /// The `101` answer; `callback` runs on the upgraded connection.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(AuthSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let AuthUpgrade { upgrade, conn } = self;
        let protocol = conn.protocol().and_then(|p| HeaderValue::from_str(p).ok());
        let mut response = upgrade
            .on_upgrade(move |socket| {
                callback(AuthSocket {
                    socket,
                    conn,
                    closed: false,
                })
            })
            .into_response();
        if let Some(protocol) = protocol {
            response
                .headers_mut()
                .insert("sec-websocket-protocol", protocol);
        }
        response
    }
}

/// An upgraded connection that ends with its credential: [`recv`](Self::recv) closes it with
/// 1008 `token expired` at the token's expiry (leeway included) and consumes the in-band
/// `{"type":"auth","token":"<jwt>"}` messages that move the deadline (answering
/// `{"type":"auth_ok","expires_at":…}`, or closing with 1008 and the error code when refused).
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
    /// The next message from the client; `None` once the connection is closed (by the
    /// client, or by the server because the credential ended).
    pub async fn recv(&mut self) -> Option<Result<Message, warp::Error>> {
        if self.closed {
            return None;
        }
        loop {
            fn text_of(m: &Result<Message, warp::Error>) -> Option<&str> {
                match m {
                    Ok(message) => message.to_str().ok(),
                    Err(_) => None,
                }
            }
            match self.conn.next(self.socket.next(), text_of).await {
                Next::Reply(reply) => {
                    if let Err(e) = self.socket.send(Message::text(reply)).await {
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
    /// warp's, when the connection is gone.
    pub async fn send(&mut self, message: Message) -> Result<(), warp::Error> {
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
        let _ = self
            .socket
            .send(Message::close_with(code, reason.to_owned()))
            .await;
    }
}
