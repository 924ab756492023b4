//! `cargo run -p example-warp`: the example app, with the embedded development issuer unless
//! `AUTH_ISSUER` is set.

use example_warp::{BoxError, Settings, run};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let running = run(Settings::from_env()?).await?;
    example_shared::announce(&running.app_url, running.issuer.as_ref());
    tokio::signal::ctrl_c().await?;
    running.stop().await;
    Ok(())
}
