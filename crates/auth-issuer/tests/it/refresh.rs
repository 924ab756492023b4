use std::time::Duration;

use auth_issuer::{Fault, TestClient, TestIssuer};
use serde_json::Value;

use crate::decode;
use crate::oauth::{
    CLIENT_ID, Pkce, SECRET, app_client, error_of, exchange, issuer, login_as, refresh, sign_in,
    text, token_request, userinfo,
};

async fn refreshed(issuer: &TestIssuer, refresh_token: &str) -> Value {
    let response = refresh(issuer, refresh_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn rotation_gives_new_tokens_and_retires_the_old_refresh_token() {
    let issuer = issuer().await;
    let first = sign_in(&issuer, "alice").await;
    let second = refreshed(&issuer, text(&first, "refresh_token")).await;
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["scope"], "openid profile email offline_access");
    assert_eq!(second["expires_in"], 300);
    assert_eq!(issuer.refresh_token_count(), 2);
    assert_eq!(issuer.active_refresh_tokens(), 1);

    let access = decode(text(&second, "access_token")).claims;
    assert_eq!(access["sub"], "alice");
    assert_eq!(access["roles"], serde_json::json!(["admin", "user"]));

    // A refreshed ID token: same iss, sub, aud, auth_time; no nonce (OIDC Core §12.2).
    let old_id = decode(text(&first, "id_token")).claims;
    let new_id = decode(text(&second, "id_token")).claims;
    for claim in ["iss", "sub", "aud", "auth_time", "sid"] {
        assert_eq!(old_id[claim], new_id[claim], "{claim}");
    }
    assert!(new_id.get("nonce").is_none());

    // The newest one keeps working.
    let third = refreshed(&issuer, text(&second, "refresh_token")).await;
    assert!(third["refresh_token"].is_string());
}

#[tokio::test]
async fn reuse_of_a_rotated_token_revokes_the_family() {
    let issuer = issuer().await;
    let first = sign_in(&issuer, "alice").await;
    let second = refreshed(&issuer, text(&first, "refresh_token")).await;

    let (status, error) = error_of(refresh(&issuer, text(&first, "refresh_token")).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    // The newest token of the family stops working too, and so do its access tokens.
    let (_, error) = error_of(refresh(&issuer, text(&second, "refresh_token")).await).await;
    assert_eq!(error, "invalid_grant");
    assert_eq!(issuer.active_refresh_tokens(), 0);
    assert_eq!(
        userinfo(&issuer, text(&second, "access_token"))
            .await
            .status(),
        401
    );

    // Another sign-in is another family, unaffected.
    let other = sign_in(&issuer, "alice").await;
    refreshed(&issuer, text(&other, "refresh_token")).await;
}

#[tokio::test]
async fn scope_can_narrow_but_not_widen() {
    let issuer = issuer().await;
    let first = sign_in(&issuer, "alice").await;
    let token = text(&first, "refresh_token");
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("scope", "openid admin"),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(error_of(response).await, (400, "invalid_scope".into()));

    // The refused request did not use the token up.
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("scope", "profile"),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await;
    assert_eq!(response.status(), 200);
    let narrowed: Value = response.json().await.expect("JSON");
    assert_eq!(narrowed["scope"], "profile");
    assert!(narrowed.get("id_token").is_none(), "no openid, no ID token");
    assert_eq!(
        decode(text(&narrowed, "access_token")).claims["scope"],
        "profile"
    );

    // Narrowing one access token does not shrink the grant.
    let full = refreshed(&issuer, text(&narrowed, "refresh_token")).await;
    assert_eq!(full["scope"], "openid profile email offline_access");
}

#[tokio::test]
async fn a_refresh_token_is_bound_to_its_client() {
    let issuer = issuer().await;
    issuer.add_client(TestClient::confidential("other", "other-secret"));
    let tokens = sign_in(&issuer, "alice").await;
    let response = token_request(
        &issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", text(&tokens, "refresh_token")),
        ],
        Some(("other", "other-secret")),
    )
    .await;
    assert_eq!(error_of(response).await, (400, "invalid_grant".into()));
    // Still good for its own client.
    refreshed(&issuer, text(&tokens, "refresh_token")).await;
}

#[tokio::test]
async fn an_expired_refresh_token_is_invalid_grant() {
    let issuer = TestIssuer::builder()
        .client(app_client())
        .refresh_token_ttl(Duration::from_millis(300))
        .start()
        .await
        .expect("start");
    let tokens = sign_in(&issuer, "alice").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(issuer.active_refresh_tokens(), 0);
    let (_, error) = error_of(refresh(&issuer, text(&tokens, "refresh_token")).await).await;
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn unknown_refresh_token() {
    let issuer = issuer().await;
    let (_, error) = error_of(refresh(&issuer, "not-a-token").await).await;
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn an_administrator_can_revoke_a_users_sessions() {
    let issuer = issuer().await;
    let alice_1 = sign_in(&issuer, "alice").await;
    let alice_2 = sign_in(&issuer, "alice").await;
    let bob = sign_in(&issuer, "bob").await;
    assert_eq!(issuer.active_refresh_tokens(), 3);
    assert_eq!(issuer.revoke_refresh_tokens_for("alice"), 2);
    assert_eq!(issuer.active_refresh_tokens(), 1);
    for tokens in [&alice_1, &alice_2] {
        let (_, error) = error_of(refresh(&issuer, text(tokens, "refresh_token")).await).await;
        assert_eq!(error, "invalid_grant");
    }
    refreshed(&issuer, text(&bob, "refresh_token")).await;
    assert_eq!(issuer.refresh_token_count(), 4);
}

#[tokio::test]
async fn a_disabled_user_cannot_refresh() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "bob").await;
    issuer.disable_user("bob");
    let (_, error) = error_of(refresh(&issuer, text(&tokens, "refresh_token")).await).await;
    assert_eq!(error, "invalid_grant");
    issuer.enable_user("bob");
    refreshed(&issuer, text(&tokens, "refresh_token")).await;
}

#[tokio::test]
async fn a_client_without_refresh_tokens() {
    let issuer = TestIssuer::builder()
        .client(app_client().refresh_tokens(false))
        .start()
        .await
        .expect("start");
    let pkce = Pkce::new();
    let code = login_as(&issuer, "alice", &pkce, &[]).await;
    let tokens: Value = exchange(&issuer, &code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("JSON");
    assert!(tokens.get("refresh_token").is_none());
    assert_eq!(issuer.refresh_token_count(), 0);
    let (_, error) = error_of(refresh(&issuer, "anything").await).await;
    assert_eq!(error, "unauthorized_client");
}

/// A transient failure does not use the refresh token up: retrying after it works.
#[tokio::test]
async fn a_transient_token_endpoint_failure_keeps_the_refresh_token() {
    let issuer = issuer().await;
    let tokens = sign_in(&issuer, "alice").await;
    let token = text(&tokens, "refresh_token");
    issuer.set_token_fault(Some(Fault::Status(503)));
    let response = refresh(&issuer, token).await;
    assert_eq!(response.status(), 503);
    issuer.set_token_fault(None);
    refreshed(&issuer, token).await;
}
