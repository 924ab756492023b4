//! The auth-actix example app: sign in, see your claims, call protected APIs, sign out.
//!
//! `cargo run -p example-actix` starts an embedded development issuer (users `alice`, an
//! admin, and `bob`) and the app on <http://127.0.0.1:3000>; with `AUTH_ISSUER` set it uses
//! that provider instead (see [`Settings::from_env`]). The same app as `example-axum` and
//! `example-warp`: the same routes, JSON and pages.

use std::collections::HashMap;
use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use auth_actix::actix_ws::Message;
use auth_actix::auth_core::{Authenticator, Guard};
use auth_actix::{Auth, AuthData, AuthMiddleware, AuthRejection, AuthUpgrade, OptionalAuth, Owned};
use auth_issuer::TestIssuer;
use example_shared::notes::Answer;
pub use example_shared::notes::Notes;
use example_shared::pages::{self, Visitor};
pub use example_shared::{BoxError, Settings};
use serde_json::json;

/// The app's routes, the helper routes under `/auth` and the middleware that authenticates, for
/// `App::configure`-style use in `HttpServer::new`.
pub fn app(
    authenticator: Authenticator,
    notes: Notes,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .route("/", web::get().to(home))
        .route("/api/me", web::get().to(me))
        .service(
            web::resource("/api/admin")
                .wrap(auth_actix::guard(Guard::any_role(["admin"])))
                .route(web::get().to(admin)),
        )
        .service(
            web::resource("/api/step-up")
                .wrap(auth_actix::guard(example_shared::step_up_guard()))
                .route(web::get().to(step_up)),
        )
        .route("/api/optional", web::get().to(optional))
        .route("/metrics", web::get().to(metrics))
        .route("/ws", web::get().to(ws_echo))
        .service(
            web::resource("/ws/admin")
                .wrap(auth_actix::guard(Guard::any_role(["admin"])))
                .route(web::get().to(ws_echo)),
        )
        .service(
            web::resource("/api/notes/{id}")
                .wrap(auth_actix::owner_guard(notes.ownership().clone(), "id"))
                .app_data(web::Data::new(notes))
                .route(web::get().to(get_note))
                .route(web::put().to(put_note))
                .route(web::delete().to(delete_note)),
        )
        .configure(auth_actix::helper_routes(&authenticator))
        .wrap(AuthMiddleware::new(authenticator))
}

/// A person's JWT or a machine's API key: `kind` says which; a key acts as its owner.
async fn me(AuthData(caller): AuthData) -> HttpResponse {
    HttpResponse::Ok().json(example_shared::Me::of(&caller))
}

fn answer((status, body): Answer) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    match body {
        Some(body) => HttpResponse::build(status).json(body),
        None => HttpResponse::build(status).finish(),
    }
}

async fn put_note(notes: web::Data<Notes>, Owned(access): Owned, body: web::Bytes) -> HttpResponse {
    answer(notes.put(&access, &body).await)
}

async fn get_note(notes: web::Data<Notes>, Owned(access): Owned) -> HttpResponse {
    answer(notes.get(&access).await)
}

async fn delete_note(notes: web::Data<Notes>, Owned(access): Owned) -> HttpResponse {
    answer(notes.delete(&access).await)
}

/// A sensitive operation: a recent or a strong sign-in (see [`example_shared::step_up_guard`]).
async fn step_up(Auth(claims): Auth) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ "sub": claims.sub, "acr": claims.acr, "auth_time": claims.auth_time }))
}

async fn admin(Auth(claims): Auth) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "sub": claims.sub, "admin": true }))
}

/// An authenticated echo: a welcome naming the caller, then each message back.
async fn ws_echo(ws: AuthUpgrade) -> actix_web::Result<HttpResponse> {
    let welcome = example_shared::ws_welcome(ws.claims());
    ws.on_upgrade(|mut socket| async move {
        if socket.session().text(welcome).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            let sent = match message {
                Message::Text(text) => socket.session().text(text).await,
                Message::Binary(bytes) => socket.session().binary(bytes).await,
                Message::Ping(bytes) => socket.session().pong(&bytes).await,
                Message::Close(_) => break,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
    })
}

/// The SDK's metrics (Prometheus text) with `METRICS=1`, else 404.
async fn metrics() -> HttpResponse {
    match example_shared::metrics::render() {
        Some(text) => HttpResponse::Ok()
            .content_type(example_shared::metrics::CONTENT_TYPE)
            .body(text),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn optional(OptionalAuth(claims): OptionalAuth) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "authenticated": claims.is_some() }))
}

/// The page is public: a missing, expired or refused session shows the "Sign in" link. After a
/// cancelled or refused sign-in the SDK sends the browser here with `?auth_error=<code>`.
async fn home(
    auth: Result<OptionalAuth, AuthRejection>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let visitor = match &auth {
        Ok(OptionalAuth(Some(claims))) => Visitor::SignedIn(claims),
        Ok(OptionalAuth(None)) => Visitor::SignedOut,
        Err(rejection) => Visitor::Refused(rejection.code()),
    };
    let auth_error = query.get("auth_error").map(String::as_str);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(pages::home("actix-web", &visitor, auth_error))
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
    handle: ServerHandle,
    server: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Serves until the server stops.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn wait(self) -> Result<(), BoxError> {
        let server = self.server;
        tokio::task::spawn_blocking(move || server.join())
            .await?
            .map_err(|_| "the server thread panicked")??;
        Ok(())
    }

    /// Stops the server, letting requests in flight finish.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let server = self.server;
        let _ = tokio::task::spawn_blocking(move || server.join()).await;
    }
}

/// Binds the listener, starts the embedded issuer when configured, and serves the app on
/// actix's own runtime (a system thread, one single-threaded runtime per worker); the
/// authenticator, with its one key cache, is shared by every worker.
///
/// # Errors
/// When the port cannot be bound or the configuration is invalid.
pub async fn run(settings: Settings) -> Result<Running, BoxError> {
    let listener = std::net::TcpListener::bind(settings.addr())
        .map_err(|e| format!("cannot listen on {}: {e}", settings.addr()))?;
    let addr = listener.local_addr()?;
    let app_url = settings.app_url(addr);
    let provider = example_shared::provider(&settings, &app_url).await?;
    let authenticator = provider.authenticator;
    let notes = provider.notes;
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || app(authenticator.clone(), notes.clone()))
                .workers(2)
                .disable_signals()
                .listen(listener)?
                .run();
            let _ = handle_tx.send(server.handle());
            server.await
        })
    });
    let handle = tokio::task::spawn_blocking(move || handle_rx.recv())
        .await?
        .map_err(|_| "the server did not start")?;
    Ok(Running {
        addr,
        app_url,
        issuer: provider.issuer,
        demo_key: provider.demo_key,
        handle,
        server,
    })
}
