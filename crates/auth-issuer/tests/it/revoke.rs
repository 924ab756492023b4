use auth_issuer::{TestClient, TestIssuer};

use crate::oauth::{CLIENT_ID, SECRET, error_of, http, issuer, refresh, sign_in, text, userinfo};

async fn revoke(
    issuer: &TestIssuer,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut request = http().post(issuer.revocation_endpoint()).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.expect("revoke")
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_the_family() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "alice").await;
    let response = revoke(
        &issuer,
        &[
            ("token", text(&tokens, "refresh_token")),
            ("token_type_hint", "refresh_token"),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(issuer.active_refresh_tokens(), 0);
    let (_, error) = error_of(refresh(&issuer, text(&tokens, "refresh_token")).await).await;
    assert_eq!(error, "invalid_grant");
    // Access tokens of the same grant are revoked too (RFC 7009 §2.1).
    assert_eq!(
        userinfo(&issuer, text(&tokens, "access_token"))
            .await
            .status(),
        401
    );
    assert_eq!(issuer.requests_to("/revoke"), 1);
}

#[tokio::test]
async fn a_wrong_hint_still_finds_the_token() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "alice").await;
    let response = revoke(
        &issuer,
        &[
            ("token", text(&tokens, "refresh_token")),
            ("token_type_hint", "access_token"),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(issuer.active_refresh_tokens(), 0);
}

#[tokio::test]
async fn revoking_an_access_token() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "alice").await;
    let access_token = text(&tokens, "access_token");
    assert_eq!(userinfo(&issuer, access_token).await.status(), 200);
    let response = revoke(
        &issuer,
        &[
            ("token", access_token),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ],
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(userinfo(&issuer, access_token).await.status(), 401);
    // The refresh token is not affected by revoking one access token.
    assert_eq!(issuer.active_refresh_tokens(), 1);
}

#[tokio::test]
async fn unknown_tokens_answer_200() {
    let issuer = issuer().await;
    for token in [
        "garbage",
        "a.b.c",
        &issuer.token().sign_hs256_with(b"secret"),
    ] {
        let response = revoke(&issuer, &[("token", token)], Some((CLIENT_ID, SECRET))).await;
        assert_eq!(response.status(), 200, "{token}");
    }
}

#[tokio::test]
async fn revocation_needs_client_authentication() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "alice").await;
    let token = text(&tokens, "refresh_token");
    let response = revoke(&issuer, &[("token", token)], None).await;
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));
    let response = revoke(&issuer, &[("token", token)], Some((CLIENT_ID, "wrong"))).await;
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));
    let response = revoke(&issuer, &[], Some((CLIENT_ID, SECRET))).await;
    assert_eq!(error_of(response).await, (400, "invalid_request".into()));
    assert_eq!(issuer.active_refresh_tokens(), 1);
}

#[tokio::test]
async fn another_clients_token_is_refused() {
    let issuer = issuer().await;
    issuer.add_client(TestClient::confidential("other", "other-secret"));
    let tokens = sign_in(&issuer, "alice").await;
    for token in [
        text(&tokens, "refresh_token"),
        text(&tokens, "access_token"),
    ] {
        let response = revoke(
            &issuer,
            &[("token", token)],
            Some(("other", "other-secret")),
        )
        .await;
        assert_eq!(
            error_of(response).await,
            (400, "unauthorized_client".into())
        );
    }
    assert_eq!(issuer.active_refresh_tokens(), 1);
    assert_eq!(
        userinfo(&issuer, text(&tokens, "access_token"))
            .await
            .status(),
        200
    );
}
