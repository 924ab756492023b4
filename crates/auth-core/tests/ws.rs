//! WebSocket upgrade authentication against auth-issuer over real HTTP: token sources and
//! their order, subprotocol selection, the expiry watcher and in-band re-authentication.
//! (Cookie-authenticated upgrades and their Origin checks are in `session.rs`, beside the
//! session helpers; the adapters' tests drive real WebSocket clients.)

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::adapter::{RequestAuth, SimpleRequest, Unauthenticated};
use auth_core::ws::{SocketAuth, TextMessage, WebSocketConfig};
use auth_core::{Authenticator, ErrorCode, Guard, ProvisionedUser, TokenSource, Verifier};
use auth_issuer::TestIssuer;
use common::assert_code;

fn authenticator(issuer: &TestIssuer, ws: WebSocketConfig) -> Authenticator {
    let config = common::builder(issuer)
        .leeway(Duration::ZERO)
        .build()
        .expect("config");
    Authenticator::builder(Verifier::new(config).expect("verifier"))
        .websocket(ws)
        .build()
        .expect("authenticator")
}

fn upgrade(path: &str) -> SimpleRequest {
    SimpleRequest::get(path)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
}

fn token(issuer: &TestIssuer, sub: &str, expires_in: i64) -> String {
    issuer
        .token()
        .sub(sub)
        .roles(&["admin"])
        .expires_in(expires_in)
        .sign()
}

async fn open(
    auth: &Authenticator,
    req: &SimpleRequest,
) -> Result<SocketAuth, auth_core::AuthError> {
    RequestAuth::new(auth, Unauthenticated::Reject)
        .upgrade(req)
        .await
}

#[tokio::test]
async fn a_bearer_header_authenticates_an_upgrade() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    let req = upgrade("/ws").header(
        "authorization",
        &format!("Bearer {}", token(&issuer, "alice", 60)),
    );
    let conn = open(&auth, &req).await.expect("authenticated");
    assert_eq!(conn.claims().sub.as_deref(), Some("alice"));
    assert_eq!(conn.authenticated().source, TokenSource::Header);
    assert_eq!(conn.protocol(), None);
}

#[tokio::test]
async fn a_subprotocol_token_authenticates_and_the_real_subprotocol_is_selected() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    let t = token(&issuer, "alice", 60);
    let req = upgrade("/ws").header("sec-websocket-protocol", &format!("bearer.{t}, chat"));
    let conn = open(&auth, &req).await.expect("authenticated");
    assert_eq!(conn.authenticated().source, TokenSource::Subprotocol);
    assert_eq!(conn.protocol(), Some("chat"));

    // Token first or last, the token entry is never the selection.
    let req = upgrade("/ws").header("sec-websocket-protocol", &format!("chat, bearer.{t}"));
    assert_eq!(
        open(&auth, &req).await.expect("ok").protocol(),
        Some("chat")
    );

    // The application's list decides among the real ones.
    let req = upgrade("/ws").header(
        "sec-websocket-protocol",
        &format!("bearer.{t}, v1.chat, v2.chat"),
    );
    let mut conn = open(&auth, &req).await.expect("ok");
    assert_eq!(conn.protocol(), Some("v1.chat"));
    assert_eq!(conn.select_protocol(&["V2.chat", "v3"]), Some("v2.chat"));
    assert_eq!(conn.select_protocol(&["v3"]), None);
}

#[tokio::test]
async fn a_token_only_offer_selects_no_subprotocol() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    let t = token(&issuer, "alice", 60);
    let req = upgrade("/ws").header("sec-websocket-protocol", &format!("bearer.{t}"));
    let conn = open(&auth, &req).await.expect("authenticated");
    assert_eq!(conn.protocol(), None);
}

#[tokio::test]
async fn missing_and_bad_upgrade_tokens_are_refused_with_their_codes() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    assert_code(open(&auth, &upgrade("/ws")).await, ErrorCode::TokenMissing);
    let bad = upgrade("/ws").header("sec-websocket-protocol", "bearer.not-a-jwt, chat");
    assert_code(open(&auth, &bad).await, ErrorCode::TokenInvalid);
    let expired = upgrade("/ws").header(
        "sec-websocket-protocol",
        &format!("bearer.{}, chat", token(&issuer, "alice", -10)),
    );
    assert_code(open(&auth, &expired).await, ErrorCode::TokenExpired);
    let t = token(&issuer, "alice", 60);
    let two = upgrade("/ws").header("sec-websocket-protocol", &format!("bearer.{t}, bearer.{t}"));
    assert_code(open(&auth, &two).await, ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn a_plain_request_is_not_an_upgrade() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    let t = token(&issuer, "alice", 60);
    let req = SimpleRequest::get("/ws").header("authorization", &format!("Bearer {t}"));
    assert_code(open(&auth, &req).await, ErrorCode::InvalidRequest);
    assert_code(auth.verify_upgrade(&req).await, ErrorCode::InvalidRequest);
    // And a subprotocol header on a plain request is no credential.
    let req = SimpleRequest::get("/api").header("sec-websocket-protocol", &format!("bearer.{t}"));
    assert_code(
        auth.authenticate::<auth_core::NoExtraClaims>(&req).await,
        ErrorCode::TokenMissing,
    );
}

#[tokio::test]
async fn the_query_token_is_off_unless_enabled() {
    let issuer = TestIssuer::start().await;
    let t = token(&issuer, "alice", 60);
    let req = upgrade(&format!("/ws?access_token={t}"));
    let auth = authenticator(&issuer, WebSocketConfig::new());
    assert_code(open(&auth, &req).await, ErrorCode::TokenMissing);
    let auth = authenticator(
        &issuer,
        WebSocketConfig::new().sources([TokenSource::Header, TokenSource::Query]),
    );
    let conn = open(&auth, &req).await.expect("enabled");
    assert_eq!(conn.authenticated().source, TokenSource::Query);
}

#[tokio::test]
async fn the_configured_order_decides_which_source_wins() {
    let issuer = TestIssuer::start().await;
    let header = token(&issuer, "from-header", 60);
    let proto = token(&issuer, "from-subprotocol", 60);
    let req = upgrade("/ws")
        .header("authorization", &format!("Bearer {header}"))
        .header("sec-websocket-protocol", &format!("bearer.{proto}, chat"));
    let default = authenticator(&issuer, WebSocketConfig::new());
    let conn = open(&default, &req).await.expect("ok");
    assert_eq!(conn.claims().sub.as_deref(), Some("from-header"));
    let reversed = authenticator(
        &issuer,
        WebSocketConfig::new().sources([TokenSource::Subprotocol, TokenSource::Header]),
    );
    let conn = open(&reversed, &req).await.expect("ok");
    assert_eq!(conn.claims().sub.as_deref(), Some("from-subprotocol"));
}

#[tokio::test]
async fn the_hooks_run_on_upgrades() {
    let issuer = TestIssuer::start().await;
    let config = common::builder(&issuer).build().expect("config");
    let auth = Authenticator::builder(Verifier::new(config).expect("verifier"))
        .provisioning(|ctx| async move {
            Ok(if ctx.sub.as_deref() == Some("mallory") {
                ProvisionedUser::disabled()
            } else {
                ProvisionedUser::default()
            })
        })
        .build()
        .expect("authenticator");
    let req = |sub: &str| {
        upgrade("/ws").header(
            "sec-websocket-protocol",
            &format!("bearer.{}, chat", token(&issuer, sub, 60)),
        )
    };
    assert!(open(&auth, &req("alice")).await.is_ok());
    let refused = open(&auth, &req("mallory")).await;
    assert_code(refused, ErrorCode::UserDisabled);
}

#[tokio::test]
async fn the_deadline_is_exp_plus_the_leeway() {
    let issuer = TestIssuer::start().await;
    let config = common::builder(&issuer)
        .leeway(Duration::from_secs(7))
        .build()
        .expect("config");
    let auth = Authenticator::builder(Verifier::new(config).expect("verifier"))
        .build()
        .expect("authenticator");
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 100;
    let t = issuer.token().sub("alice").exp(exp as i64).sign();
    let req = upgrade("/ws").header("authorization", &format!("Bearer {t}"));
    let conn = open(&auth, &req).await.expect("ok");
    assert_eq!(conn.expires_at(), UNIX_EPOCH + Duration::from_secs(exp + 7));
}

#[tokio::test]
async fn the_watcher_fires_when_the_token_expires() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    let req = upgrade("/ws").header(
        "authorization",
        &format!("Bearer {}", token(&issuer, "alice", 2)),
    );
    let mut conn = open(&auth, &req).await.expect("ok");
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(5), conn.expired())
        .await
        .expect("the watcher fired");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "fired after {:?}, before the token expired",
        started.elapsed()
    );
}

#[tokio::test]
async fn in_band_reauthentication_moves_the_deadline() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    let req = upgrade("/ws").header(
        "authorization",
        &format!("Bearer {}", token(&issuer, "alice", 2)),
    );
    let mut conn = open(&auth, &req).await.expect("ok");
    let before = conn.expires_at();
    let fresh = token(&issuer, "alice", 3600);
    let message = format!(r#"{{"type":"auth","token":"{fresh}"}}"#);
    match conn.on_text(&message).await {
        TextMessage::Reauthenticated { reply } => {
            let reply: serde_json::Value = serde_json::from_str(&reply).expect("json");
            assert_eq!(reply["type"], "auth_ok");
            let at = UNIX_EPOCH + Duration::from_secs(reply["expires_at"].as_u64().expect("n"));
            assert_eq!(at, conn.expires_at());
        }
        other => panic!("{other:?}"),
    }
    assert!(conn.expires_at() > before + Duration::from_secs(3000));
    assert!(
        tokio::time::timeout(Duration::from_secs(4), conn.expired())
            .await
            .is_err(),
        "the old deadline no longer applies"
    );
}

#[tokio::test]
async fn reauthentication_as_someone_else_or_without_the_guard_closes() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    let req = upgrade("/ws").header(
        "authorization",
        &format!("Bearer {}", token(&issuer, "alice", 60)),
    );
    let mut conn = open(&auth, &req).await.expect("ok");
    let other = token(&issuer, "bob", 3600);
    match conn
        .on_text(&format!(r#"{{"type":"auth","token":"{other}"}}"#))
        .await
    {
        TextMessage::Close { code, reason } => {
            assert_eq!(code, 1008);
            assert!(reason.starts_with("permission_denied"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    let mut conn = open(&auth, &req).await.expect("ok");
    conn.require(Guard::any_role(["admin"]))
        .expect("alice is admin");
    let demoted = issuer
        .token()
        .sub("alice")
        .roles(&["user"])
        .expires_in(3600)
        .sign();
    match conn
        .on_text(&format!(r#"{{"type":"auth","token":"{demoted}"}}"#))
        .await
    {
        TextMessage::Close { reason, .. } => {
            assert!(reason.starts_with("permission_denied"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    let mut conn = open(&auth, &req).await.expect("ok");
    match conn.on_text(r#"{"type":"auth","token":"garbage"}"#).await {
        TextMessage::Close { reason, .. } => {
            assert!(reason.starts_with("token_invalid"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn application_messages_pass_through() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    let req = upgrade("/ws").header(
        "authorization",
        &format!("Bearer {}", token(&issuer, "alice", 60)),
    );
    let mut conn = open(&auth, &req).await.expect("ok");
    for text in [
        "hello",
        r#"{"type":"chat","text":"auth"}"#,
        r#"{"type":"chat","text":"\"auth\""}"#,
        r#"["auth"]"#,
        "{not json \"auth\"",
    ] {
        assert_eq!(conn.on_text(text).await, TextMessage::Application, "{text}");
    }
}

#[tokio::test]
async fn route_guards_passed_at_the_upgrade_are_checked_again_on_reauthentication() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(&issuer, WebSocketConfig::new());
    let req = upgrade("/ws/admin").header(
        "authorization",
        &format!("Bearer {}", token(&issuer, "alice", 60)),
    );
    let ra = RequestAuth::new(&auth, Unauthenticated::Reject);
    ra.require(&req, Some(&Guard::any_role(["admin"])))
        .await
        .expect("alice is admin");
    let mut conn = ra.upgrade(&req).await.expect("ok");
    let demoted = issuer
        .token()
        .sub("alice")
        .roles(&["user"])
        .expires_in(3600)
        .sign();
    match conn
        .on_text(&format!(r#"{{"type":"auth","token":"{demoted}"}}"#))
        .await
    {
        TextMessage::Close { reason, .. } => {
            assert!(reason.starts_with("permission_denied"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}
