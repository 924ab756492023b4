//! The auth-axum example app: sign in, see your claims, call protected APIs, sign out.
//!
//! `cargo run -p example-axum` starts an embedded development issuer (users `alice`, an
//! admin, and `bob`) and the app on <http://127.0.0.1:3000>. With `AUTH_ISSUER` set it uses
//! that provider instead (see [`Settings::from_env`]).
//!
//! | route | what |
//! |---|---|
//! | `GET /` | public page: "Sign in" when signed out; the user, claims and "Sign out" when signed in |
//! | `GET /api/me` | signed in: `{"sub":…,"roles":[…],"claims":{…}}`; else 401 |
//! | `GET /api/admin` | role `admin`: 200; signed in without it: 403; else 401 |
//! | `GET /api/optional` | `{"authenticated":true\|false}` |
//! | `/auth/login`, `/auth/callback`, `POST /auth/refresh`, `POST /auth/signout`, `/auth/me` | the helper routes |

use std::collections::HashMap;

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use auth_axum::auth_core::{Authenticator, AuthenticatorBuilder, ErrorCode, Guard};
use auth_axum::{Auth, AuthLayer, AuthRejection};
use auth_issuer::{TestClient, TestIssuer, TestUser};
use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The error type of setup.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The client the embedded issuer registers for the app.
const DEV_CLIENT_ID: &str = "example-app";
const DEV_CLIENT_SECRET: &str = "example-secret";

/// The app: its routes, the helper routes under `/auth`, and the layer that authenticates.
pub fn app(authenticator: Authenticator) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/api/me", get(me))
        .route(
            "/api/admin",
            get(admin).route_layer(auth_axum::guard(Guard::any_role(["admin"]))),
        )
        .route("/api/optional", get(optional))
        .merge(auth_axum::helper_routes(&authenticator))
        .layer(AuthLayer::new(authenticator))
}

async fn me(Auth(claims): Auth) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "roles": claims.roles(), "claims": claims }))
}

async fn admin(Auth(claims): Auth) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "admin": true }))
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
    // Only a known code is shown: nothing from the URL is reflected as-is.
    let notice = query
        .get("auth_error")
        .and_then(|code| code.parse::<ErrorCode>().ok())
        .map(|code| {
            format!("<p id=\"auth-error\">Sign-in did not complete (<code>{code}</code>).</p>\n")
        })
        .unwrap_or_default();
    let body = match auth {
        Ok(Some(Auth(claims))) => {
            let claims_json = serde_json::to_string_pretty(&claims).unwrap_or_default();
            format!(
                "<p>Signed in as <strong id=\"user-sub\">{}</strong>.</p>\n\
                 <pre id=\"claims\">{}</pre>\n\
                 <p><a href=\"/api/me\">/api/me</a> · <a href=\"/api/admin\">/api/admin</a></p>\n\
                 <form method=\"post\" action=\"/auth/signout\">\
                 <button type=\"submit\" id=\"sign-out\">Sign out</button></form>",
                escape(claims.sub.as_deref().unwrap_or("")),
                escape(&claims_json),
            )
        }
        Ok(None) => "<p>You are signed out.</p>\n\
                     <p><a id=\"sign-in\" href=\"/auth/login\">Sign in</a></p>"
            .to_owned(),
        Err(rejection) => format!(
            "<p>You are signed out (<code>{}</code>).</p>\n\
             <p><a id=\"sign-in\" href=\"/auth/login\">Sign in</a></p>",
            rejection.code()
        ),
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>auth-axum example</title></head>\n<body>\n<h1>auth-axum example</h1>\n{notice}{body}\n\
         </body></html>\n"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Where the app listens and which provider it uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address to bind (`BIND`, default `127.0.0.1`).
    pub bind: IpAddr,
    /// The port (`PORT`, default 3000; 0 picks a free one).
    pub port: u16,
    /// The public URL of the app (`APP_URL`, default `http://{bind}:{port}`, with loopback for
    /// an unspecified `BIND`).
    pub app_url: Option<String>,
    /// Whether to start the embedded development issuer (when `AUTH_ISSUER` is not set).
    pub dev_issuer: bool,
}

impl Settings {
    /// The embedded issuer and the app on `127.0.0.1` and a free port (for tests).
    #[must_use]
    pub fn dev() -> Self {
        Settings {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            app_url: None,
            dev_issuer: true,
        }
    }

    /// Reads `BIND`, `PORT` and `APP_URL`. Without `AUTH_ISSUER` the embedded development
    /// issuer is used; with it, a real provider configured by `AUTH_ISSUER`, `AUTH_AUDIENCE`,
    /// `AUTH_CLIENT_ID`, `AUTH_CLIENT_SECRET` (absent: a public client) and
    /// `AUTH_COOKIE_SECRET`.
    ///
    /// # Errors
    /// When `BIND` or `PORT` cannot be parsed.
    pub fn from_env() -> Result<Self, BoxError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let bind = match var("BIND") {
            Some(b) => b
                .trim()
                .parse()
                .map_err(|_| format!("BIND: {b:?} is not an IP address"))?,
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let port = match var("PORT") {
            Some(p) => p
                .trim()
                .parse()
                .map_err(|_| format!("PORT: {p:?} is not a port number"))?,
            None => 3000,
        };
        Ok(Settings {
            bind,
            port,
            app_url: var("APP_URL"),
            dev_issuer: var("AUTH_ISSUER").is_none(),
        })
    }
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
/// background task. The provider is not contacted here: with an unreachable provider the app
/// starts and its protected routes answer 503 until the provider is back.
///
/// # Errors
/// When the port cannot be bound or the configuration is invalid.
pub async fn run(settings: Settings) -> Result<Running, BoxError> {
    let listener = TcpListener::bind(SocketAddr::new(settings.bind, settings.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", settings.bind, settings.port))?;
    let addr = listener.local_addr()?;
    // A browser cannot open 0.0.0.0: the default URL uses loopback for an unspecified address.
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let app_url = settings
        .app_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", SocketAddr::new(host, addr.port())))
        .trim_end_matches('/')
        .to_owned();

    let issuer = if settings.dev_issuer {
        Some(
            TestIssuer::builder()
                .client(
                    TestClient::confidential(DEV_CLIENT_ID, DEV_CLIENT_SECRET)
                        .redirect_uri(format!("{app_url}/auth/callback"))
                        .post_logout_redirect_uri(format!("{app_url}/")),
                )
                .user(
                    TestUser::new("alice")
                        .name("Alice Example")
                        .email("alice@example.com")
                        .roles(&["admin", "user"]),
                )
                .user(
                    TestUser::new("bob")
                        .name("Bob Example")
                        .email("bob@example.com")
                        .roles(&["user"]),
                )
                .start()
                .await?,
        )
    } else {
        None
    };

    // The SDK's own twelve-factor configuration (`AUTH_*`, `APP_URL`), with the app URL
    // resolved above and, for the embedded issuer, its identifier, audience and client.
    let dev = issuer
        .as_ref()
        .map(|i| (i.issuer().to_owned(), i.audience().to_owned()));
    let lookup = |name: &str| match (name, &dev) {
        ("APP_URL", _) => Some(app_url.clone()),
        ("AUTH_ISSUER", Some((issuer, _))) => Some(issuer.clone()),
        ("AUTH_AUDIENCE", Some((_, audience))) => Some(audience.clone()),
        ("AUTH_CLIENT_ID", Some(_)) => Some(DEV_CLIENT_ID.to_owned()),
        ("AUTH_CLIENT_SECRET", Some(_)) => Some(DEV_CLIENT_SECRET.to_owned()),
        _ => std::env::var(name).ok(),
    };
    let authenticator = AuthenticatorBuilder::from_vars(lookup)?.build()?;

    let app = app(authenticator);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running {
        addr,
        app_url,
        issuer,
        server,
    })
}
