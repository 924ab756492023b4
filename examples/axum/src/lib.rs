//! The auth-axum example app: sign in, see your claims, call protected APIs, sign out.
//!
//! `cargo run -p example-axum` starts an embedded development issuer (users `alice`, an
//! admin, and `bob`) and the app on <http://127.0.0.1:3000>. With `AUTH_ISSUER` set it uses
//! that provider instead (see [`Settings::from_env`]). `example-actix` and `example-warp` are
//! the same app on the other frameworks.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | public page: "Sign in" when signed out; the user, the token's expiry, the API routes and "Sign out" when signed in |
//! | `GET /api/me` | a JWT (signed in) or an API key: `{"sub":…,"roles":[…],"kind":"jwt"\|"api_token","claims":{…}}`; else 401 |
//! | `GET /api/admin` | role `admin`: 200; signed in without it: 403; else 401 |
//! | `GET /api/step-up` | a sign-in at most 60 s old or `acr` `urn:example:mfa`: `{"sub":…,"acr":…,"auth_time":…}`; else 401 `insufficient_user_authentication` (RFC 9470) |
//! | `GET /api/optional` | `{"authenticated":true\|false}` |
//! | `GET /.well-known/oauth-protected-resource` | the RFC 9728 metadata (`resource` = the app URL) |
//! | `GET /metrics` | with `METRICS=1`: the SDK's metrics in the Prometheus text format; else 404 |
//! | `GET /ws` | authenticated WebSocket echo: first `{"type":"welcome","sub":…,"roles":[…]}`, then each message back; closed with 1008 when the token expires |
//! | `GET /ws/admin` | the same, role `admin` (403 before the upgrade without it) |
//! | `/socket.io/` | Socket.IO: namespace `/` needs a valid token (handshake `auth: {token}`, a bearer header or the session cookie), `/admin` the role `admin`; emitting `whoami` with an ack answers `{"sub":…,"roles":[…]}`; disconnected when the token expires |
//! | `PUT`, `GET`, `DELETE /api/notes/{id}` | a note owned by its first writer (see [`example_shared::notes`]) |
//! | `/auth/login`, `/auth/callback`, `POST /auth/refresh`, `POST /auth/signout`, `/auth/me` | the helper routes |

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;

use auth_axum::auth_core::{Authenticator, Guard};
use auth_axum::{Auth, AuthData, AuthLayer, AuthRejection, AuthUpgrade, Owned};
use auth_issuer::TestIssuer;
use auth_socketio::{SocketIoAuth, SocketUser};
use axum::body::Bytes;
use axum::extract::ws::Message;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use example_shared::notes::Answer;
pub use example_shared::notes::Notes;
use example_shared::pages::{self, Visitor};
pub use example_shared::{BoxError, Settings};
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::ConnectHandler as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The app: its routes, the helper routes under `/auth`, the layer that authenticates, and
/// Socket.IO at `/socket.io/`.
pub fn app(authenticator: Authenticator, notes: Notes) -> Router {
    let sockets = SocketIoAuth::new(&authenticator);
    let (socketio, io) = SocketIo::new_layer();
    // Middlewares run last-added first: authentication, then the events, then the handler.
    io.ns("/", on_socket.with(events).with(sockets.clone()));
    io.ns(
        "/admin",
        on_socket
            .with(events)
            .with(sockets.require(Guard::any_role(["admin"]))),
    );
    let guard = auth_axum::owner_guard(notes.ownership().clone(), "id");
    Router::new()
        .route("/", get(home))
        .route("/api/me", get(me))
        .route(
            "/api/admin",
            get(admin).route_layer(auth_axum::guard(Guard::any_role(["admin"]))),
        )
        .route(
            "/api/step-up",
            get(step_up).route_layer(auth_axum::guard(example_shared::step_up_guard())),
        )
        .route("/api/optional", get(optional))
        .route("/metrics", get(metrics))
        .route("/ws", get(ws_echo))
        .route(
            "/ws/admin",
            get(ws_echo).route_layer(auth_axum::guard(Guard::any_role(["admin"]))),
        )
        .route(
            "/api/notes/{id}",
            get(get_note)
                .put(put_note)
                .delete(delete_note)
                .route_layer(guard)
                .with_state(notes),
        )
        .merge(auth_axum::helper_routes(&authenticator))
        .layer(AuthLayer::new(authenticator))
        .layer(socketio)
}

/// The events of a Socket.IO connection that passed the namespace's guard: `whoami` answers
/// who it is.
///
/// They are registered in a middleware, not in the connect handler: socketioxide answers
/// `CONNECT` before it spawns the handler, so a client that emits as soon as it is connected
/// (the usual `socket.on("connect", () => socket.emit(...))`) could be heard before a handler
/// registered its events, and the event would be dropped. Middlewares run before `CONNECT`.
async fn events(socket: SocketRef) -> Result<(), Infallible> {
    socket.on("whoami", async |user: SocketUser, ack: AckSender| {
        let _ = ack.send(&json!({ "sub": user.subject, "roles": user.roles }));
    });
    Ok(())
}

/// A connected socket: everything it answers was registered by [`events`].
async fn on_socket(_socket: SocketRef) {}

/// A person's JWT or a machine's API key: `kind` says which; a key acts as its owner.
async fn me(AuthData(caller): AuthData) -> Response {
    Json(example_shared::Me::of(&caller)).into_response()
}

fn answer((status, body): Answer) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    }
}

async fn put_note(State(notes): State<Notes>, Owned(access): Owned, body: Bytes) -> Response {
    answer(notes.put(&access, &body).await)
}

async fn get_note(State(notes): State<Notes>, Owned(access): Owned) -> Response {
    answer(notes.get(&access).await)
}

async fn delete_note(State(notes): State<Notes>, Owned(access): Owned) -> Response {
    answer(notes.delete(&access).await)
}

/// A sensitive operation: a recent or a strong sign-in (see [`example_shared::step_up_guard`]).
async fn step_up(Auth(claims): Auth) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "acr": claims.acr, "auth_time": claims.auth_time }))
}

async fn admin(Auth(claims): Auth) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "admin": true }))
}

/// An authenticated echo: a welcome naming the caller, then each message back.
async fn ws_echo(ws: AuthUpgrade) -> Response {
    let welcome = example_shared::ws_welcome(ws.claims());
    ws.on_upgrade(|mut socket| async move {
        if socket.send(Message::Text(welcome.into())).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            let echo = matches!(message, Message::Text(_) | Message::Binary(_));
            if echo && socket.send(message).await.is_err() {
                break;
            }
        }
    })
}

/// The SDK's metrics (Prometheus text) with `METRICS=1`, else 404.
async fn metrics() -> Response {
    match example_shared::metrics::render() {
        Some(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                example_shared::metrics::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn optional(auth: Option<Auth>) -> Json<Value> {
    Json(json!({ "authenticated": auth.is_some() }))
}

/// The page is public: a missing, expired or refused session shows the "Sign in" link. After a
/// cancelled or refused sign-in the SDK sends the browser here with `?auth_error=<code>`.
async fn home(
    auth: Result<Option<Auth>, AuthRejection>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<String> {
    let visitor = match &auth {
        Ok(Some(Auth(claims))) => Visitor::SignedIn(claims),
        Ok(None) => Visitor::SignedOut,
        Err(rejection) => Visitor::Refused(rejection.code()),
    };
    let auth_error = query.get("auth_error").map(String::as_str);
    Html(pages::home("axum", &visitor, auth_error))
}

/// The running app.
#[derive(Debug)]
pub struct Running {
    /// The address the app listens on.
    pub addr: SocketAddr,
    /// The app's public URL (open it in a browser).
    pub app_url: String,
    /// The embedded issuer, when used.
    pub issuer: Option<TestIssuer>,
    /// With the embedded issuer: a demo API key owned by `alice` (shown once).
    pub demo_key: Option<String>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Serves until the server stops.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn wait(self) -> Result<(), BoxError> {
        self.server.await??;
        Ok(())
    }
}

/// Binds the listener, starts the embedded issuer when configured, and serves the app in a
/// background task.
///
/// # Errors
/// When the port cannot be bound or the configuration is invalid.
pub async fn run(settings: Settings) -> Result<Running, BoxError> {
    let listener = TcpListener::bind(settings.addr())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.addr()))?;
    let addr = listener.local_addr()?;
    let app_url = settings.app_url(addr);
    let provider = example_shared::provider(&settings, &app_url).await?;
    let app = app(provider.authenticator, provider.notes);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running {
        addr,
        app_url,
        issuer: provider.issuer,
        demo_key: provider.demo_key,
        server,
    })
}
