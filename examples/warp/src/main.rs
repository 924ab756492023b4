//! `cargo run -p example-warp`: the example app, with the embedded development issuer unless
//! `AUTH_ISSUER` is set.

use example_warp::{BoxError, Settings, run};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    example_shared::init_logging();
    let running = run(Settings::from_env()?).await?;
    example_shared::announce(
        &running.app_url,
        running.issuer.as_ref(),
        running.demo_key.as_deref(),
    );
    tokio::signal::ctrl_c().await?;
    running.stop().await;
    Ok(())
}
