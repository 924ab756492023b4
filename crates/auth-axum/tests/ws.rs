//! `AuthUpgrade` over real TCP with a real WebSocket client (tokio-tungstenite): refusals
//! before the `101`, the subprotocol token and selection, the close at expiry, in-band
//! re-authentication and a guarded endpoint. The same scenarios run against the three example
//! apps in the conformance suite.

use std::net::SocketAddr;
use std::time::Duration;

use auth_axum::auth_core::{Authenticator, Guard, Verifier};
use auth_axum::{AuthLayer, AuthUpgrade};
use auth_issuer::TestIssuer;
use axum::Router;
use axum::extract::ws::Message;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

async fn echo(ws: AuthUpgrade) -> Response {
    let sub = ws.claims().sub.clone().unwrap_or_default();
    ws.protocols(&["chat"]).on_upgrade(|mut socket| async move {
        let _ = socket
            .send(Message::Text(format!("hello {sub}").into()))
            .await;
        while let Some(Ok(message)) = socket.recv().await {
            if let Message::Text(text) = message {
                let _ = socket.send(Message::Text(text)).await;
            }
        }
    })
}

async fn serve(issuer: &TestIssuer) -> SocketAddr {
    let config = issuer
        .auth_config()
        .leeway(Duration::ZERO)
        .build()
        .expect("config");
    let authenticator = Authenticator::builder(Verifier::new(config).expect("verifier"))
        .build()
        .expect("authenticator");
    let app = Router::new()
        .route("/ws", get(echo))
        .route(
            "/ws/admin",
            get(echo).route_layer(auth_axum::guard(Guard::any_role(["admin"]))),
        )
        .layer(AuthLayer::new(authenticator));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, String)],
) -> Result<(Client, tungstenite::handshake::client::Response), tungstenite::Error> {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    tokio_tungstenite::connect_async(request).await
}

async fn next_text(client: &mut Client) -> String {
    match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
        Ok(Some(Ok(WsMessage::Text(t)))) => t.to_string(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

fn token(issuer: &TestIssuer, sub: &str, roles: &[&str], expires_in: i64) -> String {
    issuer
        .token()
        .sub(sub)
        .roles(roles)
        .expires_in(expires_in)
        .sign()
}

#[tokio::test]
async fn a_subprotocol_token_opens_the_socket_and_only_the_real_subprotocol_is_echoed() {
    let issuer = TestIssuer::start().await;
    let addr = serve(&issuer).await;
    let t = token(&issuer, "alice", &[], 60);
    let (mut client, response) = connect(
        addr,
        "/ws",
        &[("sec-websocket-protocol", format!("bearer.{t}, chat"))],
    )
    .await
    .expect("upgraded");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "chat",
        "the token entry is never echoed"
    );
    assert_eq!(next_text(&mut client).await, "hello alice");
    client.send(WsMessage::text("ping")).await.expect("send");
    assert_eq!(next_text(&mut client).await, "ping");
}

#[tokio::test]
async fn a_token_only_offer_gets_no_subprotocol() {
    // Strict clients (tungstenite, browsers) then fail the handshake, which is why clients
    // offer a real subprotocol beside the token; read the raw 101 to see what was answered.
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let issuer = TestIssuer::start().await;
    let addr = serve(&issuer).await;
    let t = token(&issuer, "alice", &[], 60);
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: bearer.{t}\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.expect("read");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(!head.contains("sec-websocket-protocol"), "{head}");
}

#[tokio::test]
async fn missing_and_bad_tokens_are_refused_before_the_upgrade() {
    let issuer = TestIssuer::start().await;
    let addr = serve(&issuer).await;
    for (headers, status, code) in [
        (vec![], 401, "token_missing"),
        (
            vec![("authorization", "Bearer not.a.jwt".to_owned())],
            401,
            "token_invalid",
        ),
        (
            vec![(
                "sec-websocket-protocol",
                format!("bearer.{}, chat", token(&issuer, "alice", &[], -60)),
            )],
            401,
            "token_expired",
        ),
    ] {
        match connect(addr, "/ws", &headers).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), status);
                assert!(response.headers().contains_key("www-authenticate"));
                let body: serde_json::Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                        .expect("json body");
                assert_eq!(body["error"]["code"], code);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_admin_endpoint_refuses_a_non_admin_upgrade_with_403() {
    let issuer = TestIssuer::start().await;
    let addr = serve(&issuer).await;
    let user = token(&issuer, "bob", &["user"], 60);
    match connect(
        addr,
        "/ws/admin",
        &[("authorization", format!("Bearer {user}"))],
    )
    .await
    {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    let admin = token(&issuer, "alice", &["admin"], 60);
    assert!(
        connect(
            addr,
            "/ws/admin",
            &[("authorization", format!("Bearer {admin}"))]
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn the_socket_is_closed_with_1008_when_its_token_expires() {
    let issuer = TestIssuer::start().await;
    let addr = serve(&issuer).await;
    let t = token(&issuer, "alice", &[], 2);
    let (mut client, _) = connect(addr, "/ws", &[("authorization", format!("Bearer {t}"))])
        .await
        .expect("upgraded");
    assert_eq!(next_text(&mut client).await, "hello alice");
    // No message from the client: the server closes on its own.
    match tokio::time::timeout(Duration::from_secs(6), client.next()).await {
        Ok(Some(Ok(WsMessage::Close(Some(frame))))) => {
            assert_eq!(u16::from(frame.code), 1008);
            assert_eq!(frame.reason.as_str(), "token expired");
        }
        other => panic!("expected a 1008 close, got {other:?}"),
    }
}

#[tokio::test]
async fn in_band_reauthentication_keeps_the_socket_open_past_the_first_expiry() {
    let issuer = TestIssuer::start().await;
    let addr = serve(&issuer).await;
    let t = token(&issuer, "alice", &[], 2);
    let (mut client, _) = connect(addr, "/ws", &[("authorization", format!("Bearer {t}"))])
        .await
        .expect("upgraded");
    assert_eq!(next_text(&mut client).await, "hello alice");
    let fresh = token(&issuer, "alice", &[], 3600);
    client
        .send(WsMessage::text(format!(
            r#"{{"type":"auth","token":"{fresh}"}}"#
        )))
        .await
        .expect("send");
    let ack: serde_json::Value = serde_json::from_str(&next_text(&mut client).await).expect("json");
    assert_eq!(ack["type"], "auth_ok");
    tokio::time::sleep(Duration::from_secs(3)).await;
    client
        .send(WsMessage::text("still here"))
        .await
        .expect("send");
    assert_eq!(next_text(&mut client).await, "still here");

    // A token for someone else closes it.
    let other = token(&issuer, "bob", &[], 3600);
    client
        .send(WsMessage::text(format!(
            r#"{{"type":"auth","token":"{other}"}}"#
        )))
        .await
        .expect("send");
    match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
        Ok(Some(Ok(WsMessage::Close(Some(frame))))) => {
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
