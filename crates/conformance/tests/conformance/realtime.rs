//! `GET /ws` and `GET /ws/admin` of the example apps, with a real WebSocket client
//! (tokio-tungstenite) over TCP: token sources, refusals before the `101`, the subprotocol
//! echo, the admin guard and in-band re-authentication.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::app::App;

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Handshake = tungstenite::handshake::client::Response;

impl App {
    async fn ws(
        &self,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<(Client, Handshake), tungstenite::Error> {
        let url = self.url(path).replacen("http://", "ws://", 1);
        let mut request = url.into_client_request().expect("request");
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        tokio_tungstenite::connect_async(request).await
    }

    fn ws_token(&self, sub: &str, roles: &[&str], expires_in: i64) -> String {
        self.issuer()
            .token()
            .sub(sub)
            .roles(roles)
            .expires_in(expires_in)
            .sign()
    }
}

async fn next_json(client: &mut Client) -> Value {
    match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str(t.as_str()).expect("json"),
        other => panic!("expected a JSON text message, got {other:?}"),
    }
}

fn refused(result: Result<(Client, Handshake), tungstenite::Error>) -> (u16, Value, bool) {
    match result {
        Err(tungstenite::Error::Http(response)) => {
            let body = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                .unwrap_or(Value::Null);
            (
                response.status().as_u16(),
                body,
                response.headers().contains_key("www-authenticate"),
            )
        }
        Err(other) => panic!("expected an HTTP refusal, got {other:?}"),
        Ok(_) => panic!("expected a refusal, the upgrade succeeded"),
    }
}

pub async fn a_subprotocol_token_opens_the_socket_and_only_the_real_subprotocol_is_echoed(
    app: App,
) {
    let token = app.ws_token("alice", &["admin"], 300);
    let (mut client, handshake) = app
        .ws(
            "/ws",
            &[("sec-websocket-protocol", format!("bearer.{token}, chat"))],
        )
        .await
        .expect("upgraded");
    assert_eq!(handshake.headers()["sec-websocket-protocol"], "chat");
    let welcome = next_json(&mut client).await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["sub"], "alice");
    assert_eq!(welcome["roles"], serde_json::json!(["admin"]));
    client.send(Message::text("ping")).await.expect("send");
    match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => assert_eq!(t.as_str(), "ping"),
        other => panic!("expected the echo, got {other:?}"),
    }
}

pub async fn a_bearer_header_opens_the_socket(app: App) {
    let token = app.ws_token("bob", &["user"], 300);
    let (mut client, handshake) = app
        .ws("/ws", &[("authorization", format!("Bearer {token}"))])
        .await
        .expect("upgraded");
    assert!(handshake.headers().get("sec-websocket-protocol").is_none());
    assert_eq!(next_json(&mut client).await["sub"], "bob");
}

pub async fn upgrades_without_a_valid_token_are_refused_before_the_101(app: App) {
    let (status, body, challenge) = refused(app.ws("/ws", &[]).await);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("token_missing"))
    );
    assert!(challenge);
    let expired = app.ws_token("alice", &[], -120);
    let (status, body, _) = refused(
        app.ws(
            "/ws",
            &[("sec-websocket-protocol", format!("bearer.{expired}, chat"))],
        )
        .await,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("token_expired"))
    );
    let (status, body, _) = refused(
        app.ws(
            "/ws",
            &[("sec-websocket-protocol", "bearer.garbage, chat".to_owned())],
        )
        .await,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("token_invalid"))
    );
}

pub async fn the_admin_socket_needs_the_admin_role(app: App) {
    let bob = app.ws_token("bob", &["user"], 300);
    let (status, body, _) = refused(
        app.ws("/ws/admin", &[("authorization", format!("Bearer {bob}"))])
            .await,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("permission_denied"))
    );
    let alice = app.ws_token("alice", &["admin"], 300);
    let (mut client, _) = app
        .ws("/ws/admin", &[("authorization", format!("Bearer {alice}"))])
        .await
        .expect("admin upgraded");
    assert_eq!(next_json(&mut client).await["sub"], "alice");
}

pub async fn in_band_reauthentication_is_acknowledged_and_another_subject_is_closed(app: App) {
    let token = app.ws_token("alice", &[], 300);
    let (mut client, _) = app
        .ws("/ws", &[("authorization", format!("Bearer {token}"))])
        .await
        .expect("upgraded");
    next_json(&mut client).await;
    let fresh = app.ws_token("alice", &[], 3600);
    client
        .send(Message::text(format!(
            r#"{{"type":"auth","token":"{fresh}"}}"#
        )))
        .await
        .expect("send");
    let ack = next_json(&mut client).await;
    assert_eq!(ack["type"], "auth_ok");
    assert!(ack["expires_at"].as_u64().is_some());
    let other = app.ws_token("bob", &[], 3600);
    client
        .send(Message::text(format!(
            r#"{{"type":"auth","token":"{other}"}}"#
        )))
        .await
        .expect("send");
    match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
        Ok(Some(Ok(Message::Close(Some(frame))))) => {
            assert_eq!(u16::from(frame.code), 1008);
            assert!(
                frame.reason.starts_with("permission_denied"),
                "{}",
                frame.reason
            );
        }
        other => panic!("expected a 1008 close, got {other:?}"),
    }
}

/// With no leeway, an idle socket whose token lives 2 s is closed with 1008 `token expired`
/// about 2 s after it opened, without sending anything.
pub async fn an_idle_socket_is_closed_with_1008_when_its_token_expires(kind: crate::app::Kind) {
    let settings = example_shared::Settings {
        leeway_secs: Some(0),
        ..example_shared::Settings::dev()
    };
    let app = crate::app::start_with(kind, settings).await;
    let token = app.ws_token("alice", &[], 2);
    let started = std::time::Instant::now();
    let (mut client, _) = app
        .ws("/ws", &[("authorization", format!("Bearer {token}"))])
        .await
        .expect("upgraded");
    next_json(&mut client).await;
    match tokio::time::timeout(Duration::from_secs(6), client.next()).await {
        Ok(Some(Ok(Message::Close(Some(frame))))) => {
            assert_eq!(u16::from(frame.code), 1008);
            assert_eq!(frame.reason.as_str(), "token expired");
        }
        other => panic!("expected a 1008 close at expiry, got {other:?}"),
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "closed after {elapsed:?}"
    );
}

/// A signed-in browser's session cookie opens the socket from the app's own origin; from
/// another site it is 403 before the `101` (cross-site WebSocket hijacking).
pub async fn the_session_cookie_opens_the_socket_only_from_the_apps_origin(app: App) {
    app.sign_in("alice").await;
    let cookie = app.cookie_header();
    let (mut client, _) = app
        .ws(
            "/ws",
            &[("cookie", cookie.clone()), ("origin", app.app_url.clone())],
        )
        .await
        .expect("same-origin upgrade");
    let welcome = next_json(&mut client).await;
    assert_eq!(welcome["sub"], "alice");
    for origin in ["https://evil.example", "null"] {
        let (status, body, _) = refused(
            app.ws(
                "/ws",
                &[("cookie", cookie.clone()), ("origin", origin.to_owned())],
            )
            .await,
        );
        assert_eq!(status, 403, "{origin}");
        assert_eq!(body["error"]["code"], "permission_denied", "{origin}");
    }
}
