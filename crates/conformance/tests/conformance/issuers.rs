//! An example app configured with a second trusted issuer (`AUTH_ISSUERS`, here
//! `Settings::issuers`): tokens from both reach the API, with their own `iss`; a third issuer's
//! token is 401 `token_invalid` and that issuer is never contacted.

use auth_issuer::TestIssuer;
use reqwest::StatusCode;
use serde_json::Value;

use crate::app::{Kind, start_with};

pub async fn a_second_trusted_issuer_reaches_the_api_and_a_third_does_not(kind: Kind) {
    let second = TestIssuer::start().await;
    let third = TestIssuer::start().await;
    let settings = example_shared::Settings {
        issuers: vec![second.issuer().to_owned()],
        ..example_shared::Settings::dev()
    };
    let app = start_with(kind, settings).await;
    let me = async |token: String| {
        let response = app
            .http
            .get(app.url("/api/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("me");
        let status = response.status();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let (status, body) = me(app.issuer().token().sub("alice").sign()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["claims"]["iss"], app.issuer().issuer());
    let (status, body) = me(second.token().sub("svc").sign()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], "svc");
    assert_eq!(body["claims"]["iss"], second.issuer());
    let (status, body) = me(third.token().sub("mallory").sign()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_invalid");
    assert_eq!(third.discovery_requests() + third.jwks_requests(), 0);
}

/// A service calls the app with a client-credentials token from the app's own provider
/// (`auth_core::service::ServiceClient`, as the `call-api` example binary does).
pub async fn a_service_token_reaches_the_api(app: crate::app::App) {
    let service = auth_core::service::ServiceClient::builder(app.issuer().issuer(), "example-app")
        .client_secret("example-secret")
        .build()
        .expect("service client");
    let token = service
        .access_token()
        .await
        .expect("client-credentials token");
    let response = app
        .http
        .get(app.url("/api/me"))
        .bearer_auth(token.secret())
        .send()
        .await
        .expect("me");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["sub"], "example-app");
    assert_eq!(body["claims"]["client_id"], "example-app");
}
