//! `cargo run -p example-axum`: the example app, with the embedded development issuer unless
//! `AUTH_ISSUER` is set.

use example_axum::{BoxError, Settings, run};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let running = run(Settings::from_env()?).await?;
    match &running.issuer {
        Some(issuer) => {
            println!("Development issuer: {}", issuer.issuer());
            println!("  sign in as alice (admin) or bob, or type any username");
        }
        None => println!(
            "Provider: {}",
            std::env::var("AUTH_ISSUER").unwrap_or_default()
        ),
    }
    println!("Open {}/ in your browser (Ctrl-C to stop)", running.app_url);
    tokio::select! {
        result = running.wait() => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
