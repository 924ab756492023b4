//! Calls the example app's `/api/me` as a service: a client-credentials token from the
//! provider (`auth_core::service::ServiceClient`), added as `Authorization: Bearer` by the
//! client's `reqwest-middleware` stack.
//!
//! ```sh
//! cargo run -p example-axum        # prints its dev issuer's URL
//! AUTH_ISSUER=http://127.0.0.1:<port> AUTH_CLIENT_ID=example-app \
//!   AUTH_CLIENT_SECRET=example-secret APP_URL=http://127.0.0.1:3000 \
//!   cargo run -p example-shared --bin call-api
//! ```
//!
//! Reads `APP_URL` (default `http://127.0.0.1:3000`) and the service client's variables
//! (`AUTH_ISSUER` or `AUTH_TOKEN_ENDPOINT`, `AUTH_CLIENT_ID`, `AUTH_CLIENT_SECRET` or
//! `AUTH_CLIENT_KEY_FILE` for `private_key_jwt`, optional
//! `AUTH_CLIENT_SCOPE` and `AUTH_CLIENT_RESOURCE`). Prints the app's answer; exits non-zero when
//! the token or the call fails.

use std::process::ExitCode;
use std::time::Duration;

use auth_core::service::ServiceClient;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("call-api: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let app = std::env::var("APP_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let service = ServiceClient::from_env()?;
    // Obtained first so that a refused client says so before any call to the app.
    service.access_token().await?;
    // The service client as reqwest middleware: it adds the bearer token to each request and
    // replaces a token the app refuses.
    let http = reqwest_middleware::ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    )
    .with(service)
    .build();
    let response = http
        .get(format!("{}/api/me", app.trim_end_matches('/')))
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    println!("GET /api/me: {status}\n{body}");
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the app answered {status}").into())
    }
}
