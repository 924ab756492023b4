//! `SocketIoAuth` on a real socketioxide server over TCP, driven at the protocol level (engine.io
//! 4 over the WebSocket transport, Socket.IO 5 packets) so that every byte the server sends can
//! be checked: what a refused client receives, the `CONNECT_ERROR` body, the expiry
//! disconnection and re-authentication. The official JavaScript client runs the same kind of
//! scenarios against example-axum in `cargo xtask interop`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auth_core::api_key::{ApiKeys, MemoryKeyStore, NewApiKey};
use auth_core::{Authenticator, ErrorCode, Guard, ProvisionedUser, Verifier};
use auth_issuer::TestIssuer;
use auth_socketio::{SocketIoAuth, SocketUser};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::ConnectHandler as _;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

struct Server {
    addr: SocketAddr,
    /// How many sockets reached a namespace's connect handler.
    joined: Arc<AtomicUsize>,
    keys: ApiKeys,
}

async fn serve(issuer: &TestIssuer) -> Server {
    let config = issuer
        .auth_config()
        .leeway(Duration::ZERO)
        .build()
        .expect("config");
    let keys = ApiKeys::builder(Arc::new(MemoryKeyStore::new()))
        .build()
        .expect("keys");
    let authenticator = Authenticator::builder(Verifier::new(config).expect("verifier"))
        .api_keys(keys.clone())
        .provisioning(|ctx| async move {
            match ctx.sub.as_deref() {
                Some("mallory") => Ok(ProvisionedUser::disabled()),
                _ => Ok(ProvisionedUser::new(
                    json!({ "plan": "pro" })
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                )),
            }
        })
        .build()
        .expect("authenticator");
    let auth = SocketIoAuth::new(&authenticator);
    let joined = Arc::new(AtomicUsize::new(0));
    let (layer, io) = SocketIo::new_layer();
    // Events are registered in a middleware (after the authentication one), as the crate's
    // documentation recommends: socketioxide answers CONNECT before it spawns the handler.
    let events = async |socket: SocketRef| {
        socket.on("whoami", async |user: SocketUser, ack: AckSender| {
            let _ = ack.send(&json!({
                "sub": user.subject,
                "roles": user.roles,
                "kind": user.kind.as_str(),
                "plan": user.user_data().get("plan"),
            }));
        });
        Ok::<(), std::convert::Infallible>(())
    };
    let on_connect = {
        let joined = joined.clone();
        move |_: SocketRef| {
            joined.fetch_add(1, Ordering::SeqCst);
            async {}
        }
    };
    io.ns("/", on_connect.clone().with(events).with(auth.clone()));
    io.ns(
        "/admin",
        on_connect
            .with(events)
            .with(auth.require(Guard::any_role(["admin"]))),
    );
    // A connect handler that is slow to run (as a busy runtime can make any spawned task): the
    // events, registered before CONNECT, must answer at once all the same.
    let slow = async |_: SocketRef| tokio::time::sleep(Duration::from_secs(30)).await;
    io.ns("/slow", slow.with(events).with(auth.clone()));
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    Server { addr, joined, keys }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A Socket.IO client at the packet level, over the WebSocket transport.
struct Client {
    ws: Ws,
}

impl Client {
    async fn open(server: &Server, headers: &[(&str, &str)]) -> Client {
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
        let mut request = url.into_client_request().expect("request");
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("engine.io upgrade");
        let mut client = Client { ws };
        let open = client.packet(Duration::from_secs(5)).await.expect("open");
        assert!(open.starts_with('0'), "engine.io OPEN first, got {open}");
        client
    }

    async fn send(&mut self, packet: String) {
        self.ws
            .send(Message::Text(packet.into()))
            .await
            .expect("send");
    }

    /// The next engine.io message (pings answered), or `None` at `within` or when closed.
    async fn packet(&mut self, within: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match next {
                Ok(Message::Text(text)) if text.as_str() == "2" => self.send("3".into()).await,
                Ok(Message::Text(text)) => return Some(text.as_str().to_owned()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Socket.IO CONNECT to `ns` with the handshake `auth` payload; the server's answer.
    async fn connect(&mut self, ns: &str, auth: Option<Value>) -> String {
        let prefix = if ns == "/" {
            String::new()
        } else {
            format!("{ns},")
        };
        let payload = auth.map(|a| a.to_string()).unwrap_or_default();
        self.send(format!("40{prefix}{payload}")).await;
        self.packet(Duration::from_secs(5))
            .await
            .expect("an answer to CONNECT")
    }

    /// The `{code, message}` of a CONNECT_ERROR answer.
    fn refusal(answer: &str, ns: &str) -> Value {
        let body = answer
            .strip_prefix("44")
            .map(|rest| rest.strip_prefix(&format!("{ns},")).unwrap_or(rest))
            .unwrap_or_else(|| panic!("expected CONNECT_ERROR, got {answer}"));
        let outer: Value = serde_json::from_str(body).expect("CONNECT_ERROR json");
        let message = outer["message"].as_str().expect("message");
        serde_json::from_str(message).expect("the message is the JSON text of {code, message}")
    }

    /// EVENT with an ack id on `/`; the ack's first argument.
    async fn call(&mut self, id: u32, event: &str, data: Option<Value>) -> Value {
        self.call_in("/", id, event, data).await
    }

    /// EVENT with an ack id on the namespace `ns`; the ack's first argument.
    async fn call_in(&mut self, ns: &str, id: u32, event: &str, data: Option<Value>) -> Value {
        let args = match data {
            Some(data) => json!([event, data]),
            None => json!([event]),
        };
        let prefix = if ns == "/" {
            String::new()
        } else {
            format!("{ns},")
        };
        self.send(format!("42{prefix}{id}{args}")).await;
        loop {
            let packet = self.packet(Duration::from_secs(5)).await.expect("an ack");
            if let Some(rest) = packet.strip_prefix(&format!("43{prefix}{id}")) {
                let args: Value = serde_json::from_str(rest).expect("ack json");
                return args[0].clone();
            }
        }
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
async fn a_payload_token_connects_and_handlers_see_the_verified_caller() {
    let issuer = TestIssuer::start().await;
    let server = serve(&issuer).await;
    let mut client = Client::open(&server, &[]).await;
    let t = token(&issuer, "alice", &["admin"], 300);
    let answer = client.connect("/", Some(json!({ "token": t }))).await;
    assert!(answer.starts_with("40{\"sid\""), "{answer}");
    let me = client.call(1, "whoami", None).await;
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["roles"], json!(["admin"]));
    assert_eq!(me["kind"], "jwt");
    assert_eq!(
        me["plan"], "pro",
        "the provisioning hook's data is on the socket"
    );
}

#[tokio::test]
async fn an_event_sent_right_after_connect_is_answered_even_when_the_handler_is_slow() {
    let issuer = TestIssuer::start().await;
    let server = serve(&issuer).await;
    let mut client = Client::open(&server, &[]).await;
    let t = token(&issuer, "alice", &["admin"], 300);
    let answer = client.connect("/slow", Some(json!({ "token": t }))).await;
    assert!(answer.starts_with("40/slow,{\"sid\""), "{answer}");
    let me = client.call_in("/slow", 1, "whoami", None).await;
    assert_eq!(me["sub"], "alice");
}

#[tokio::test]
async fn the_payload_wins_over_the_header_and_the_header_works_alone() {
    let issuer = TestIssuer::start().await;
    let server = serve(&issuer).await;
    let bob = format!("Bearer {}", token(&issuer, "bob", &[], 300));
    let alice = token(&issuer, "alice", &[], 300);
    let mut both = Client::open(&server, &[("authorization", &bob)]).await;
    both.connect("/", Some(json!({ "token": alice }))).await;
    assert_eq!(both.call(1, "whoami", None).await["sub"], "alice");
    let mut header = Client::open(&server, &[("authorization", &bob)]).await;
    let answer = header.connect("/", None).await;
    assert!(answer.starts_with("40{"), "{answer}");
    assert_eq!(header.call(1, "whoami", None).await["sub"], "bob");
}

#[tokio::test]
async fn refused_clients_get_the_code_and_never_join_the_namespace() {
    let issuer = TestIssuer::start().await;
    let server = serve(&issuer).await;
    let user = token(&issuer, "bob", &["user"], 300);
    let expired = token(&issuer, "alice", &["admin"], -60);
    let disabled = token(&issuer, "mallory", &["admin"], 300);
    let cases = [
        ("/", None, ErrorCode::TokenMissing),
        ("/", Some(json!({})), ErrorCode::TokenMissing),
        (
            "/",
            Some(json!({ "token": "a.b.c" })),
            ErrorCode::TokenInvalid,
        ),
        (
            "/",
            Some(json!({ "token": expired })),
            ErrorCode::TokenExpired,
        ),
        ("/", Some(json!({ "token": 7 })), ErrorCode::InvalidRequest),
        ("/", Some(json!("just a string")), ErrorCode::InvalidRequest),
        (
            "/",
            Some(json!({ "token": disabled })),
            ErrorCode::UserDisabled,
        ),
        (
            "/admin",
            Some(json!({ "token": user })),
            ErrorCode::PermissionDenied,
        ),
    ];
    for (ns, auth, code) in cases {
        let mut client = Client::open(&server, &[]).await;
        let answer = client.connect(ns, auth.clone()).await;
        let refusal = Client::refusal(&answer, ns);
        assert_eq!(refusal["code"], code.as_str(), "{ns} {auth:?}: {answer}");
        assert!(refusal["message"].as_str().is_some_and(|m| !m.is_empty()));
        // Nothing of the namespace follows the refusal.
        let after = client.packet(Duration::from_millis(300)).await;
        assert_eq!(after, None, "{ns} {auth:?}: a packet after CONNECT_ERROR");
    }
    assert_eq!(
        server.joined.load(Ordering::SeqCst),
        0,
        "no refused socket was connected"
    );
}

#[tokio::test]
async fn the_admin_namespace_admits_an_admin() {
    let issuer = TestIssuer::start().await;
    let server = serve(&issuer).await;
    let mut client = Client::open(&server, &[]).await;
    let t = token(&issuer, "alice", &["admin"], 300);
    let answer = client.connect("/admin", Some(json!({ "token": t }))).await;
    assert!(answer.starts_with("40/admin,{\"sid\""), "{answer}");
}

#[tokio::test]
async fn an_idle_socket_is_told_and_disconnected_when_its_token_expires() {
    let issuer = TestIssuer::start().await;
    let server = serve(&issuer).await;
    let mut client = Client::open(&server, &[]).await;
    let t = token(&issuer, "alice", &[], 2);
    let started = Instant::now();
    client.connect("/", Some(json!({ "token": t }))).await;
    let told = client
        .packet(Duration::from_secs(6))
        .await
        .expect("auth_error before the deadline passes by much");
    let elapsed = started.elapsed();
    let event: Value =
        serde_json::from_str(told.strip_prefix("42").expect("an event")).expect("json");
    assert_eq!(
        event,
        json!(["auth_error", {"code": "token_expired", "message": "token expired"}])
    );
    assert!(
        elapsed >= Duration::from_millis(900),
        "not before the token expired ({elapsed:?})"
    );
    assert_eq!(
        client.packet(Duration::from_secs(2)).await.as_deref(),
        Some("41")
    );
}

#[tokio::test]
async fn reauthentication_moves_the_deadline_and_another_subject_is_disconnected() {
    let issuer = TestIssuer::start().await;
    let server = serve(&issuer).await;
    let mut client = Client::open(&server, &[]).await;
    let first = token(&issuer, "alice", &[], 2);
    client.connect("/", Some(json!({ "token": first }))).await;
    let fresh = token(&issuer, "alice", &["admin"], 300);
    let reply = client
        .call(1, "auth", Some(json!({ "token": fresh })))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    assert!(reply["expires_at"].as_u64().is_some());
    // Past the first token's expiry: still connected, and the handlers see the fresh claims.
    assert_eq!(client.packet(Duration::from_secs(3)).await, None);
    assert_eq!(
        client.call(2, "whoami", None).await["roles"],
        json!(["admin"])
    );
    // A bare string works too.
    let again = token(&issuer, "alice", &[], 300);
    assert_eq!(client.call(3, "auth", Some(json!(again))).await["ok"], true);
    let other = token(&issuer, "bob", &[], 300);
    let refused = client
        .call(4, "auth", Some(json!({ "token": other })))
        .await;
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["code"], "permission_denied");
    let told = client
        .packet(Duration::from_secs(2))
        .await
        .expect("auth_error");
    assert!(told.starts_with("42[\"auth_error\""), "{told}");
    assert_eq!(
        client.packet(Duration::from_secs(2)).await.as_deref(),
        Some("41")
    );
}

#[tokio::test]
async fn an_api_key_connects_and_does_not_expire() {
    let issuer = TestIssuer::start().await;
    let server = serve(&issuer).await;
    let created = server
        .keys
        .create(NewApiKey::new("ingest", "svc-ingest").scope("ingest"))
        .await
        .expect("key");
    let mut client = Client::open(&server, &[]).await;
    let answer = client
        .connect("/", Some(json!({ "token": created.key.expose() })))
        .await;
    assert!(answer.starts_with("40{"), "{answer}");
    let me = client.call(1, "whoami", None).await;
    assert_eq!(me["kind"], "api_token");
    assert_eq!(me["sub"], "svc-ingest");
}
