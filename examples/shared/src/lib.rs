//! What the three example apps (`example-axum`, `example-actix`, `example-warp`) share, so that
//! each example's own code is only its framework's integration: the settings, the embedded
//! development issuer, the authenticator built from the environment, and the pages.

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use std::sync::Arc;

use auth_core::api_key::{ApiKeys, NewApiKey};
use auth_core::{Authenticator, AuthenticatorBuilder};
use auth_issuer::{TestClient, TestIssuer, TestUser};

pub mod metrics;
pub mod notes;
pub mod pages;

/// The error type of setup.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The client the embedded issuer registers for the app.
const DEV_CLIENT_ID: &str = "example-app";
const DEV_CLIENT_SECRET: &str = "example-secret";

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
    /// Where API keys, owners and notes live (`DATABASE_URL`: `sqlite:PATH`, created if
    /// missing, or `postgres://...`); unset, an SQLite file in a new temporary folder.
    pub database_url: Option<String>,
    /// The verifier's clock leeway in seconds, overriding `AUTH_LEEWAY_SECS` (tests use a short
    /// one to see connections end at their token's expiry).
    pub leeway_secs: Option<u64>,
    /// Whether the embedded issuer serves `POST {issuer}/dev/mint` (`AUTH_DEV_MINT=1`): any
    /// local client can then mint tokens for it, which test harnesses (`cargo xtask interop`'s
    /// Socket.IO client) need. Development only; ignored with a real provider.
    pub dev_mint: bool,
    /// More issuers to trust besides the primary one (`AUTH_ISSUERS`, comma-separated): a token
    /// from any of them is accepted, with the shared `AUTH_AUDIENCE`.
    pub issuers: Vec<String>,
    /// Whether `GET /metrics` serves the SDK's metrics in the Prometheus format (`METRICS=1`;
    /// off, it answers 404).
    pub metrics: bool,
    /// Whether DPoP proofs must carry a server nonce (`AUTH_DPOP_NONCE=1`; RFC 9449 §9).
    pub dpop_nonces: bool,
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
            database_url: None,
            leeway_secs: None,
            dev_mint: false,
            issuers: Vec::new(),
            metrics: false,
            dpop_nonces: false,
        }
    }

    /// Reads `BIND`, `PORT`, `APP_URL`, `DATABASE_URL`, `AUTH_DEV_MINT` and `METRICS`. Without `AUTH_ISSUER`
    /// (or `AUTH_ISSUERS`) the embedded development issuer is used; with it, a real provider
    /// (or several: `AUTH_ISSUERS`) configured by `AUTH_ISSUER`, `AUTH_AUDIENCE`,
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
            dev_issuer: var("AUTH_ISSUER").is_none() && var("AUTH_ISSUERS").is_none(),
            database_url: var("DATABASE_URL"),
            leeway_secs: None,
            dev_mint: var("AUTH_DEV_MINT").is_some_and(|v| matches!(v.trim(), "1" | "true")),
            // Read by the verifier itself (`Verifier::from_env`).
            issuers: Vec::new(),
            metrics: var("METRICS").is_some_and(|v| matches!(v.trim(), "1" | "true")),
            dpop_nonces: var("AUTH_DPOP_NONCE").is_some_and(|v| matches!(v.trim(), "1" | "true")),
        })
    }

    /// The address to bind.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// The app's public URL, given the address the listener got (a browser cannot open
    /// `0.0.0.0`: the default URL uses loopback for an unspecified address).
    #[must_use]
    pub fn app_url(&self, bound: SocketAddr) -> String {
        let host = match bound.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        self.app_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", SocketAddr::new(host, bound.port())))
            .trim_end_matches('/')
            .to_owned()
    }
}

/// The provider side of the app: the authenticator, and the embedded issuer when used.
#[derive(Debug)]
pub struct Provider {
    /// The authenticator for the app (JWTs and API keys).
    pub authenticator: Authenticator,
    /// The embedded development issuer, when used.
    pub issuer: Option<TestIssuer>,
    /// With the embedded issuer: a demo API key owned by `alice`, created at start.
    pub demo_key: Option<String>,
    /// The notes, in the same database as the keys.
    pub notes: notes::Notes,
}

/// Starts the embedded development issuer when `settings` asks for it, and builds the
/// authenticator from the SDK's own twelve-factor configuration (`AUTH_*`, `APP_URL`), with
/// `app_url` and, for the embedded issuer, its identifier, audience and client. The provider is
/// not contacted here: with an unreachable provider the app starts and its protected routes
/// answer 503 until the provider is back.
///
/// # Errors
/// When the issuer cannot start or the configuration is invalid.
pub async fn provider(settings: &Settings, app_url: &str) -> Result<Provider, BoxError> {
    if settings.metrics {
        metrics::enable()?;
    }
    let issuer = if settings.dev_issuer {
        Some(dev_issuer(app_url, settings.dev_mint).await?)
    } else {
        None
    };
    let dev = issuer
        .as_ref()
        .map(|i| (i.issuer().to_owned(), i.audience().to_owned()));
    let lookup = |name: &str| match (name, &dev) {
        ("APP_URL", _) => Some(app_url.to_owned()),
        ("AUTH_ISSUER", Some((issuer, _))) => Some(issuer.clone()),
        ("AUTH_AUDIENCE", Some((_, audience))) => Some(audience.clone()),
        ("AUTH_CLIENT_ID", Some(_)) => Some(DEV_CLIENT_ID.to_owned()),
        ("AUTH_CLIENT_SECRET", Some(_)) => Some(DEV_CLIENT_SECRET.to_owned()),
        ("AUTH_ISSUERS", _) if !settings.issuers.is_empty() => Some(settings.issuers.join(",")),
        ("AUTH_LEEWAY_SECS", _) if settings.leeway_secs.is_some() => {
            settings.leeway_secs.map(|s| s.to_string())
        }
        // DPoP-bound tokens are accepted beside bearer tokens unless `AUTH_DPOP=off`.
        ("AUTH_DPOP", _) => Some(std::env::var(name).unwrap_or_else(|_| "on".to_owned())),
        ("AUTH_DPOP_NONCE", _) if settings.dpop_nonces => Some("1".to_owned()),
        _ => std::env::var(name).ok(),
    };
    // API keys, owners and notes, in `DATABASE_URL` (sqlite:PATH or postgres://...), else in an
    // SQLite file in a temporary folder.
    let database_url = settings
        .database_url
        .clone()
        .unwrap_or_else(temporary_database_url);
    let store = auth_store::SqlStore::open(&database_url).await?;
    let notes = notes::Notes::open(&database_url, Arc::new(store.clone())).await?;
    let mut keys = ApiKeys::builder(Arc::new(store) as Arc<dyn auth_core::api_key::ApiKeyStore>);
    if let Some(prefix) = std::env::var("AUTH_API_KEY_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
    {
        keys = keys.format(auth_core::api_key::KeyFormat::new(prefix)?);
    }
    let keys = keys.build()?;
    let demo_key = match &issuer {
        Some(_) => Some(
            keys.create(NewApiKey::new("demo key", "alice").scope("user"))
                .await?
                .key
                .expose()
                .to_owned(),
        ),
        None => None,
    };
    let authenticator = AuthenticatorBuilder::from_vars(lookup)?
        .api_keys(keys)
        .build()?;
    Ok(Provider {
        authenticator,
        issuer,
        demo_key,
        notes,
    })
}

/// An SQLite file (not created yet) in a new temporary folder.
#[must_use]
pub fn temporary_database_url() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static STARTED: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "auth-example-{}-{}",
        std::process::id(),
        STARTED.fetch_add(1, Ordering::Relaxed)
    ));
    format!("sqlite:{}", dir.join("app.db").display())
}

/// The development issuer: `alice` (admin) and `bob`, and the app's client.
async fn dev_issuer(app_url: &str, mint: bool) -> Result<TestIssuer, BoxError> {
    Ok(TestIssuer::builder()
        .dev_endpoints(mint)
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
        .await?)
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
}

/// What `main` prints once the app is up (the demo key, shown this once).
pub fn announce(app_url: &str, issuer: Option<&TestIssuer>, demo_key: Option<&str>) {
    match issuer {
        Some(issuer) => {
            println!("Development issuer: {}", issuer.issuer());
            println!("  sign in as alice (admin) or bob, or type any username");
            println!(
                "  as a service: AUTH_ISSUER={} AUTH_CLIENT_ID={DEV_CLIENT_ID} AUTH_CLIENT_SECRET={DEV_CLIENT_SECRET} APP_URL={app_url} cargo run -p example-shared --bin call-api",
                issuer.issuer()
            );
            if let Some(key) = demo_key {
                println!("Demo API key (owner alice, shown once): {key}");
                println!("  curl -H 'X-Api-Key: {key}' {app_url}/api/me");
            }
        }
        None => println!(
            "Provider: {}",
            std::env::var("AUTH_ISSUER").unwrap_or_default()
        ),
    }
    println!("Open {app_url}/ in your browser (Ctrl-C to stop)");
}

/// What `GET /api/step-up` needs (RFC 9470): a sign-in at most 60 s old, or the
/// authentication context `urn:example:mfa`. Otherwise 401 `insufficient_user_authentication`
/// naming `max_age="60"` and `acr_values="urn:example:mfa"`; the client signs in again through
/// `/auth/login?max_age=60` (or `?acr_values=urn:example:mfa`) and retries.
#[must_use]
pub fn step_up_guard() -> auth_core::Guard {
    auth_core::Guard::max_auth_age(std::time::Duration::from_secs(STEP_UP_MAX_AGE_SECS))
        .or(auth_core::Guard::any_acr([STEP_UP_ACR]))
}

/// The largest authentication age `GET /api/step-up` accepts, in seconds.
pub const STEP_UP_MAX_AGE_SECS: u64 = 60;
/// The authentication context class that satisfies `GET /api/step-up` whatever its age.
pub const STEP_UP_ACR: &str = "urn:example:mfa";

/// The apps' `GET /api/me` answer, `{"sub":…,"roles":[…],"kind":"jwt"|"api_token","claims":{…}}`,
/// serialized straight from the caller: no intermediate JSON tree is built per request.
#[derive(Debug, serde::Serialize)]
pub struct Me<'a> {
    sub: Option<&'a str>,
    roles: &'a [String],
    kind: &'static str,
    claims: &'a auth_core::StandardClaims,
}

impl<'a> Me<'a> {
    /// The answer for `caller`.
    #[must_use]
    pub fn of(caller: &'a auth_core::AuthData) -> Self {
        Me {
            sub: caller.subject.as_deref(),
            roles: &caller.roles,
            kind: caller.kind.as_str(),
            claims: &caller.claims,
        }
    }
}

/// The first message of the apps' `/ws` echo: `{"type":"welcome","sub":…,"roles":[…]}`, from
/// the upgrade's verified claims.
#[must_use]
pub fn ws_welcome(claims: &auth_core::StandardClaims) -> String {
    serde_json::json!({
        "type": "welcome",
        "sub": claims.sub,
        "roles": claims.roles(),
    })
    .to_string()
}
