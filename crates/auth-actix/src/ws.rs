//! Authenticated WebSocket upgrades (feature `ws`, on actix-ws): [`AuthUpgrade`] and
//! [`AuthSocket`].

use std::fmt;
use std::future::Future;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, ProtocolError, Session};
use auth_core::ExtraClaims;
use auth_core::ws::{Next, SocketAuth};
use auth_core::{AuthData, Claims, Guard, NoExtraClaims};
use futures_util::future::LocalBoxFuture;

use crate::extract::request_auth;
use crate::rejection::AuthRejection;
use crate::view::ActixView;

/// An authenticated WebSocket upgrade: the extractor authenticates the upgrade request before
/// the `101` answer and refuses it like any request (401/403 with the JSON body and
/// `WWW-Authenticate`); [`on_upgrade`](Self::on_upgrade) answers the `101` and runs your
/// callback with an [`AuthSocket`] that closes with 1008 when the token expires.
///
/// Token sources (`Authorization: Bearer`, a `Sec-WebSocket-Protocol` entry `bearer.<jwt>`,
/// the session cookie from an allowed origin), the order and the in-band re-authentication
/// message are described in [`auth_core::ws`]. Route guards ([`guard`](crate::guard)) apply to
/// upgrades and are checked again on re-authentication.
///
/// ```
/// use auth_actix::{AuthSocket, AuthUpgrade};
/// use actix_web::HttpResponse;
///
/// async fn echo(ws: AuthUpgrade) -> actix_web::Result<HttpResponse> {
///     ws.protocols(&["chat"]).on_upgrade(|mut socket: AuthSocket| async move {
///         // `recv` ends (after a 1008 close) when the token expires.
///         while let Some(Ok(auth_actix::actix_ws::Message::Text(text))) = socket.recv().await {
///             if socket.session().text(text).await.is_err() {
///                 break;
///             }
///         }
///     })
/// }
/// # let _ = actix_web::web::get().to(echo);
/// ```
#[must_use]
pub struct AuthUpgrade {
    req: HttpRequest,
    payload: Option<web::Payload>,
    conn: SocketAuth,
}

impl fmt::Debug for AuthUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthUpgrade")
            .field("connection", &self.conn)
            .finish_non_exhaustive()
    }
}

impl FromRequest for AuthUpgrade {
    type Error = AuthRejection;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload).into_inner().ok();
        Box::pin(async move {
            let auth = request_auth(&req)?;
            let conn = auth.upgrade(&ActixView::new(&req)).await?;
            Ok(AuthUpgrade { req, payload, conn })
        })
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

    /// The `101` answer; `callback` runs on the upgraded connection (spawned on the worker's
    /// runtime).
    ///
    /// # Errors
    /// actix-ws's handshake error (a malformed upgrade request).
    pub fn on_upgrade<F, Fut>(self, callback: F) -> actix_web::Result<HttpResponse>
    where
        F: FnOnce(AuthSocket) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let AuthUpgrade { req, payload, conn } = self;
        let payload = payload.ok_or_else(|| {
            actix_web::error::ErrorInternalServerError("the request body was already taken")
        })?;
        let selected: Vec<&str> = conn.protocol().into_iter().collect();
        let (response, session, stream) =
            actix_ws::handle_with_protocols(&req, payload, &selected)?;
        let socket = AuthSocket {
            session,
            stream,
            conn,
            closed: false,
        };
        actix_web::rt::spawn(callback(socket));
        Ok(response)
    }
}

/// An upgraded connection that ends with its credential: [`recv`](Self::recv) closes it with
/// 1008 `token expired` at the token's expiry (leeway included) and consumes the in-band
/// `{"type":"auth","token":"<jwt>"}` messages that move the deadline (answering
/// `{"type":"auth_ok","expires_at":…}`, or closing with 1008 and the error code when refused).
/// Send through [`session`](Self::session).
pub struct AuthSocket {
    session: Session,
    stream: MessageStream,
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
    pub async fn recv(&mut self) -> Option<Result<Message, ProtocolError>> {
        if self.closed {
            return None;
        }
        loop {
            fn text_of(m: &Result<Message, ProtocolError>) -> Option<&str> {
                match m {
                    Ok(Message::Text(text)) => Some(&**text),
                    _ => None,
                }
            }
            match self.conn.next(self.stream.recv(), text_of).await {
                Next::Reply(reply) => {
                    if self.session.text(reply).await.is_err() {
                        self.closed = true;
                        return None;
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

    /// The session, to send messages.
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
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

    /// The parts, to drive them yourself.
    #[must_use]
    pub fn into_parts(self) -> (Session, MessageStream, SocketAuth) {
        (self.session, self.stream, self.conn)
    }

    async fn close(&mut self, code: u16, reason: &str) {
        self.closed = true;
        let reason = CloseReason {
            code: CloseCode::from(code),
            description: Some(reason.to_owned()),
        };
        let _ = self.session.clone().close(Some(reason)).await;
    }
}
