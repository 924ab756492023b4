use auth_issuer::TestIssuer;

use crate::oauth::{CLIENT_ID, http, issuer, location, query, refresh, sign_in, text};

const SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out";

async fn logout(issuer: &TestIssuer, params: &[(&str, &str)]) -> reqwest::Response {
    let url = url::Url::parse_with_params(&issuer.end_session_endpoint(), params).expect("url");
    http().get(url).send().await.expect("logout")
}

#[tokio::test]
async fn registered_post_logout_redirect_uri_with_client_id() {
    let issuer = issuer().await;
    let response = logout(
        &issuer,
        &[
            ("client_id", CLIENT_ID),
            ("post_logout_redirect_uri", SIGNED_OUT),
            ("state", "bye & see you"),
        ],
    )
    .await;
    assert_eq!(response.status(), 302);
    let target = location(&response);
    assert!(target.as_str().starts_with(SIGNED_OUT), "{target}");
    assert_eq!(query(&target)["state"], "bye & see you");
    assert_eq!(issuer.requests_to("/logout"), 1);
}

#[tokio::test]
async fn id_token_hint_names_the_client_and_ends_the_session() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "alice").await;
    let other = sign_in(&issuer, "alice").await;
    let response = logout(
        &issuer,
        &[
            ("id_token_hint", text(&tokens, "id_token")),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ],
    )
    .await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response).as_str(), SIGNED_OUT);
    // That sign-in's refresh token is revoked; the other session lives on.
    assert_eq!(
        refresh(&issuer, text(&tokens, "refresh_token"))
            .await
            .status(),
        400
    );
    assert_eq!(
        refresh(&issuer, text(&other, "refresh_token"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn unregistered_post_logout_redirect_uri_is_not_followed() {
    let issuer = issuer().await;
    for params in [
        vec![
            ("client_id", CLIENT_ID),
            ("post_logout_redirect_uri", "http://evil.example/"),
        ],
        // No client named: nothing to check the URI against.
        vec![("post_logout_redirect_uri", SIGNED_OUT)],
    ] {
        let response = logout(&issuer, &params).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.expect("body");
        assert!(html.contains("id=\"signed-out\""), "{html}");
        assert!(html.contains("id=\"notice\""), "{html}");
    }
}

#[tokio::test]
async fn plain_logout_shows_the_signed_out_page() {
    let issuer = issuer().await;
    let response = logout(&issuer, &[]).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("body");
    assert!(html.contains("Signed out"));
}

#[tokio::test]
async fn a_bad_id_token_hint_is_an_error() {
    let issuer = issuer().await;
    let other = TestIssuer::start().await;
    let foreign = other.token().typ(Some("JWT")).aud(CLIENT_ID).sign();
    for hint in ["garbage", foreign.as_str()] {
        let response = logout(
            &issuer,
            &[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", SIGNED_OUT),
            ],
        )
        .await;
        assert_eq!(response.status(), 400, "{hint}");
        assert!(response.headers().get("location").is_none());
    }
    // A hint for one client with another client_id.
    let tokens = sign_in(&issuer, "alice").await;
    let response = logout(
        &issuer,
        &[
            ("id_token_hint", text(&tokens, "id_token")),
            ("client_id", "someone-else"),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn an_expired_id_token_is_still_a_good_hint() {
    let issuer = issuer().await;
    let hint = issuer
        .token()
        .typ(Some("JWT"))
        .aud(CLIENT_ID)
        .expires_in(-3600)
        .sign();
    let response = logout(
        &issuer,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ],
    )
    .await;
    assert_eq!(response.status(), 302);
}
