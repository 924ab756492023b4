//! Starting one of the three example apps, and a browser-like client for it.

use std::any::Any;
use std::sync::Arc;

use auth_issuer::TestIssuer;
use example_shared::Settings;
use reqwest::cookie::Jar;

/// Which example app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Axum,
    Actix,
    Warp,
}

pub const ALL: [Kind; 3] = [Kind::Axum, Kind::Actix, Kind::Warp];

/// A running app, its issuer, and a browser-like client that keeps cookies but follows no
/// redirects.
pub struct App {
    pub kind: Kind,
    pub app_url: String,
    pub issuer: Option<TestIssuer>,
    /// The demo API key the app created at start (owner `alice`, scope `user`).
    pub demo_key: Option<String>,
    pub jar: Arc<Jar>,
    pub http: reqwest::Client,
    _running: Box<dyn Any + Send>,
}

/// Starts the app with its embedded issuer on 127.0.0.1 and a free port.
pub async fn start(kind: Kind) -> App {
    start_with(kind, Settings::dev()).await
}

/// Starts the app with these settings.
pub async fn start_with(kind: Kind, settings: Settings) -> App {
    type Started = (
        String,
        Option<TestIssuer>,
        Option<String>,
        Box<dyn Any + Send>,
    );
    let (app_url, issuer, demo_key, running): Started = match kind {
        Kind::Axum => {
            let r = example_axum::run(settings).await.expect("axum app");
            (
                r.app_url.clone(),
                r.issuer.clone(),
                r.demo_key.clone(),
                Box::new(r),
            )
        }
        Kind::Actix => {
            let r = example_actix::run(settings).await.expect("actix app");
            (
                r.app_url.clone(),
                r.issuer.clone(),
                r.demo_key.clone(),
                Box::new(r),
            )
        }
        Kind::Warp => {
            let r = example_warp::run(settings).await.expect("warp app");
            (
                r.app_url.clone(),
                r.issuer.clone(),
                r.demo_key.clone(),
                Box::new(r),
            )
        }
    };
    let jar = Arc::new(Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(Arc::clone(&jar))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    App {
        kind,
        app_url,
        issuer,
        demo_key,
        jar,
        http,
        _running: running,
    }
}
