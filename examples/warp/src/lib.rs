//! The auth-warp example app: sign in, see your claims, call protected APIs, sign out.
//!
//! `cargo run -p example-warp` starts an embedded development issuer (users `alice`, an
//! admin, and `bob`) and the app on <http://127.0.0.1:3000>; with `AUTH_ISSUER` set it uses
//! that provider instead (see [`Settings::from_env`]). The same app as `example-axum` and
//! `example-actix`: the same routes, JSON and pages.

use std::collections::HashMap;
use std::net::SocketAddr;

use auth_issuer::TestIssuer;
use auth_warp::auth_core::owner::Access;
use auth_warp::auth_core::{Authenticator, Guard, NoExtraClaims};
use auth_warp::{Auth, AuthData, AuthLayer, AuthRejection, AuthSocket, AuthUpgrade};
use example_shared::notes::Answer;
pub use example_shared::notes::Notes;
use example_shared::pages::{self, Visitor};
pub use example_shared::{BoxError, Settings};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use warp::reject::Rejection;
use warp::ws::Message;
use warp::{Filter, Reply};

/// The app's routes and the helper routes under `/auth`, with the SDK's `recover`; serve them
/// behind [`AuthLayer`] (see [`run`]).
pub fn routes(
    authenticator: Authenticator,
    notes: Notes,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let home = warp::path::end()
        .and(warp::get())
        .and(auth_warp::optional_auth::<NoExtraClaims>().map(Ok).or_else(
            async |rejection: Rejection| match rejection.find::<AuthRejection>() {
                Some(auth) => Ok((Err(auth.clone()),)),
                None => Err(rejection),
            },
        ))
        .and(warp::query::<HashMap<String, String>>())
        .map(home);
    // A person's JWT or a machine's API key: `kind` says which; a key acts as its owner.
    let me = warp::path!("api" / "me")
        .and(warp::get())
        .and(auth_warp::auth_data::<NoExtraClaims>())
        .map(|AuthData(caller): AuthData| warp::reply::json(&example_shared::Me::of(&caller)));
    let admin = warp::path!("api" / "admin")
        .and(warp::get())
        .and(auth_warp::guard(Guard::any_role(["admin"])))
        .and(auth_warp::auth::<NoExtraClaims>())
        .map(|Auth(claims): Auth| warp::reply::json(&json!({ "sub": claims.sub, "admin": true })));
    // A sensitive operation: a recent or a strong sign-in.
    let step_up = warp::path!("api" / "step-up")
        .and(warp::get())
        .and(auth_warp::guard(example_shared::step_up_guard()))
        .and(auth_warp::auth::<NoExtraClaims>())
        .map(|Auth(claims): Auth| {
            warp::reply::json(
                &json!({ "sub": claims.sub, "acr": claims.acr, "auth_time": claims.auth_time }),
            )
        });
    let optional = warp::path!("api" / "optional")
        .and(warp::get())
        .and(auth_warp::optional_auth::<NoExtraClaims>())
        .map(|auth: Option<Auth>| warp::reply::json(&json!({ "authenticated": auth.is_some() })));
    let metrics =
        warp::path!("metrics")
            .and(warp::get())
            .map(|| match example_shared::metrics::render() {
                Some(text) => warp::reply::with_header(
                    text,
                    "content-type",
                    example_shared::metrics::CONTENT_TYPE,
                )
                .into_response(),
                None => warp::http::StatusCode::NOT_FOUND.into_response(),
            });
    let ws = warp::path!("ws")
        .and(auth_warp::ws())
        .map(|ws: AuthUpgrade| ws_echo(ws));
    let ws_admin = warp::path!("ws" / "admin")
        .and(auth_warp::guard(Guard::any_role(["admin"])))
        .and(auth_warp::ws())
        .map(|ws: AuthUpgrade| ws_echo(ws));
    // The method filter first: a PUT claims the note as `owned` runs.
    let note = |method: warp::filters::BoxedFilter<()>| {
        let notes = notes.clone();
        method
            .and(warp::path!("api" / "notes" / ..))
            .and(auth_warp::owned(notes.ownership().clone()))
            .map(move |access: Access| (notes.clone(), access))
            .untuple_one()
    };
    let get_note = note(warp::get().boxed())
        .then(async |notes: Notes, access: Access| answer(notes.get(&access).await));
    let put_note = note(warp::put().boxed())
        .and(warp::body::content_length_limit(1024 * 1024))
        .and(warp::body::bytes())
        .then(async |notes: Notes, access: Access, body: bytes::Bytes| {
            answer(notes.put(&access, &body).await)
        });
    let delete_note = note(warp::delete().boxed())
        .then(async |notes: Notes, access: Access| answer(notes.delete(&access).await));
    home.or(me)
        .or(admin)
        .or(step_up)
        .or(optional)
        .or(metrics)
        .or(ws)
        .or(ws_admin)
        .or(get_note)
        .or(put_note)
        .or(delete_note)
        .or(auth_warp::helper_routes(&authenticator))
        .recover(auth_warp::recover)
}

/// An authenticated echo: a welcome naming the caller, then each message back.
fn ws_echo(ws: AuthUpgrade) -> warp::reply::Response {
    let welcome = example_shared::ws_welcome(ws.claims());
    ws.on_upgrade(|mut socket: AuthSocket| async move {
        if socket.send(Message::text(welcome)).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            let echo = message.is_text() || message.is_binary();
            if echo && socket.send(message).await.is_err() {
                break;
            }
        }
    })
}

fn answer((status, body): Answer) -> warp::reply::Response {
    let status = warp::http::StatusCode::from_u16(status)
        .unwrap_or(warp::http::StatusCode::INTERNAL_SERVER_ERROR);
    match body {
        Some(body) => warp::reply::with_status(warp::reply::json(&body), status).into_response(),
        None => status.into_response(),
    }
}

/// The page is public: a missing, expired or refused session shows the "Sign in" link. After a
/// cancelled or refused sign-in the SDK sends the browser here with `?auth_error=<code>`.
fn home(
    auth: Result<Option<Auth>, AuthRejection>,
    query: HashMap<String, String>,
) -> warp::reply::Html<String> {
    let visitor = match &auth {
        Ok(Some(Auth(claims))) => Visitor::SignedIn(claims),
        Ok(None) => Visitor::SignedOut,
        Err(rejection) => Visitor::Refused(rejection.code()),
    };
    let auth_error = query.get("auth_error").map(String::as_str);
    warp::reply::html(pages::home("warp", &visitor, auth_error))
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
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Serves until the server stops.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn wait(self) -> Result<(), BoxError> {
        let _keep_running = self.stop;
        self.server.await??;
        Ok(())
    }

    /// Stops the server, letting requests in flight finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

/// Binds the listener, starts the embedded issuer when configured, and serves the routes
/// behind the [`AuthLayer`] in a background task.
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
    let authenticator = provider.authenticator;
    let (stop, stopped) = oneshot::channel::<()>();
    let layer = AuthLayer::new(authenticator.clone());
    let server = tokio::spawn(auth_warp::serve(
        listener,
        layer,
        routes(authenticator, provider.notes),
        async {
            let _ = stopped.await;
        },
    ));
    Ok(Running {
        addr,
        app_url,
        issuer: provider.issuer,
        demo_key: provider.demo_key,
        stop,
        server,
    })
}
