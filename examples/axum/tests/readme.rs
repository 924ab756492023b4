//! The app against a real issuer on 127.0.0.1.

use auth_issuer::TestIssuer;
use example_axum::{Notes, app}; // your `fn app(Authenticator, Notes) -> Router`

#[tokio::test]
async fn only_admins_reach_the_admin_api() {
    let issuer = TestIssuer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let notes = Notes::temporary().await.expect("notes"); // an SQLite file in a temporary folder
    let app = app(issuer.authenticator(&url), notes); // trusts this issuer, signs in through it
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::new();
    let status = async |token: &str| {
        let request = http.get(format!("{url}/api/admin")).bearer_auth(token);
        request.send().await.expect("response").status().as_u16()
    };
    let admin = issuer.token().sub("alice").roles(&["admin"]).sign();
    let user = issuer.token().sub("bob").sign();
    assert_eq!(status(&admin).await, 200);
    assert_eq!(status(&user).await, 403); // permission_denied
    assert_eq!(status("not-a-token").await, 401); // token_invalid
}
