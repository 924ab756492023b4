//! What an idle authenticated connection costs the server: resident memory per connection and
//! CPU while idle, for 10,000 connections, each kind against its unauthenticated baseline in the
//! same run:
//!
//! | kind | server |
//! |---|---|
//! | `ws-plain` | axum `WebSocketUpgrade` echo, no authentication (baseline) |
//! | `ws-auth` | auth-axum `AuthUpgrade` echo: verified upgrade, `SocketAuth`, expiry timer |
//! | `sio-plain` | socketioxide namespace without middleware (baseline) |
//! | `sio-auth` | the same namespace behind `SocketIoAuth` (shared expiry queue) |
//!
//! Each kind runs in a fresh server process (this binary with `--server <kind>`), so that freed
//! memory of one kind does not flatter the next. This process is the client: it opens the
//! connections (tokio-tungstenite; Socket.IO at the packet level over the WebSocket transport),
//! reads the server's `VmRSS` from `/proc` before and after, then leaves the connections idle
//! for 10 s and reads the server's CPU time (`utime + stime`) over that window.
//!
//! ```sh
//! cargo bench -p auth-socketio --bench idle_connections            # 10,000 connections
//! IDLE_CONNECTIONS=2000 cargo bench -p auth-socketio --bench idle_connections
//! cargo test -p auth-socketio --bench idle_connections   # CI: 50 connections, 1 s idle
//! ```
//! Linux only (it reads `/proc`); the open-file limit must allow the connections.

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

const KINDS: [&str; 4] = ["ws-plain", "ws-auth", "sio-plain", "sio-auth"];
/// Handshakes in flight at once.
const PARALLEL: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--server") {
        server(&args[i + 1]);
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument (cargo bench -- ws) picks kinds.
    let filter: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    // Without `--bench` (`cargo test --benches`, CI): one quick run that only checks it works.
    let quick = !args.iter().any(|a| a == "--bench");
    let idle = Duration::from_secs(if quick { 1 } else { 10 });
    let n: usize = std::env::var("IDLE_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 50 } else { 10_000 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{n} idle connections per kind; server RSS and CPU from /proc; {} s idle window",
        idle.as_secs()
    );
    println!(
        "| kind | RSS before | RSS with {n} | per connection | CPU in {} s idle |",
        idle.as_secs()
    );
    println!("|---|---:|---:|---:|---:|");
    let mut per_connection = Vec::new();
    for kind in KINDS {
        if !filter.is_empty() && !filter.iter().any(|f| kind.contains(f.as_str())) {
            continue;
        }
        let result = runtime.block_on(measure(kind, n, idle));
        println!(
            "| {kind} | {:.1} MiB | {:.1} MiB | {:.0} B | {} ms |",
            result.before as f64 / 1048576.0,
            result.after as f64 / 1048576.0,
            result.per_connection(n),
            result.idle_cpu_ms,
        );
        per_connection.push((kind, result.per_connection(n)));
    }
    for (auth, plain) in [("ws-auth", "ws-plain"), ("sio-auth", "sio-plain")] {
        let find = |k: &str| {
            per_connection
                .iter()
                .find(|(kind, _)| *kind == k)
                .map(|x| x.1)
        };
        if let (Some(a), Some(p)) = (find(auth), find(plain)) {
            println!(
                "{auth}: {:.0} B per connection more than {plain} ({:.2}×)",
                a - p,
                a / p
            );
        }
    }
}

struct Measured {
    before: u64,
    after: u64,
    idle_cpu_ms: u64,
}

impl Measured {
    fn per_connection(&self, n: usize) -> f64 {
        (self.after.saturating_sub(self.before)) as f64 / n as f64
    }
}

async fn measure(kind: &str, n: usize, idle: Duration) -> Measured {
    let (mut child, addr, token) = start_server(kind);
    let pid = child.id();
    // Warm up: one connection opened and closed, so that lazy state is not counted.
    drop(open(kind, &addr, &token).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss(pid);
    let started = Instant::now();
    let mut connections = Vec::with_capacity(n);
    let mut pending = futures_util::stream::iter((0..n).map(|_| open(kind, &addr, &token)))
        .buffer_unordered(PARALLEL);
    while let Some(mut connection) = pending.next().await {
        // Each connection keeps answering engine.io pings (every 25 s), as a client does.
        connections.push(tokio::spawn(async move {
            loop {
                next_text(&mut connection).await;
            }
        }));
    }
    drop(pending);
    eprintln!(
        "{kind}: {n} connections open in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss(pid);
    let cpu_before = cpu_ticks(pid);
    tokio::time::sleep(idle).await;
    let cpu_after = cpu_ticks(pid);
    let ticks_per_sec = 100; // USER_HZ on Linux
    for connection in connections {
        connection.abort();
    }
    let _ = child.kill();
    let _ = child.wait();
    Measured {
        before,
        after,
        idle_cpu_ms: (cpu_after - cpu_before) * 1000 / ticks_per_sec,
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One connection, open and authenticated (the server's first message read).
async fn open(kind: &str, addr: &str, token: &str) -> Ws {
    let (path, header) = match kind {
        "ws-plain" => ("/ws".to_owned(), false),
        "ws-auth" => ("/ws".to_owned(), true),
        _ => ("/socket.io/?EIO=4&transport=websocket".to_owned(), false),
    };
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    if header {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = next_text(&mut ws).await;
    if kind.starts_with("sio") {
        assert!(first.starts_with('0'), "engine.io OPEN, got {first}");
        let auth = if kind == "sio-auth" {
            format!("{{\"token\":\"{token}\"}}")
        } else {
            String::new()
        };
        ws.send(Message::Text(format!("40{auth}").into()))
            .await
            .unwrap();
        let connected = next_text(&mut ws).await;
        assert!(connected.starts_with("40"), "CONNECT, got {connected}");
    }
    ws
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await {
            // engine.io PING: answered (PONG) so that the server keeps the connection.
            Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                ws.send(Message::Text("3".into())).await.unwrap();
            }
            Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
            Some(Ok(_)) => {}
            other => panic!("connection ended: {other:?}"),
        }
    }
}

fn start_server(kind: &str) -> (Child, String, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--server", kind])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout: ChildStdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let addr = parts.next().unwrap().to_owned();
    let token = parts.next().unwrap().to_owned();
    (child, addr, token)
}

fn proc_field(pid: u32, file: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap()
}

/// Resident set size in bytes.
fn rss(pid: u32) -> u64 {
    let status = proc_field(pid, "status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// `utime + stime`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = proc_field(pid, "stat");
    // After the command name's closing parenthesis: state is field 3; utime, stime are 14, 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

// ------------------------------------------------------------------ the server process

fn server(kind: &str) {
    // Ends with the client: its stdin closes when the client exits, even on a panic.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let issuer = auth_issuer::TestIssuer::start().await;
        let token = issuer.token().sub("alice").expires_in(3600).sign();
        let config = issuer.auth_config().build().unwrap();
        let authenticator =
            auth_core::Authenticator::builder(auth_core::Verifier::new(config).unwrap())
                .build()
                .unwrap();
        let app = match kind {
            "ws-plain" => axum::Router::new().route("/ws", axum::routing::get(plain_ws)),
            "ws-auth" => axum::Router::new()
                .route("/ws", axum::routing::get(auth_ws))
                .layer(auth_axum::AuthLayer::new(authenticator)),
            "sio-plain" | "sio-auth" => {
                use socketioxide::handler::ConnectHandler as _;
                let (layer, io) = socketioxide::SocketIo::new_layer();
                let on_connect = async |socket: socketioxide::extract::SocketRef| {
                    socket.on("whoami", async || {});
                };
                if kind == "sio-auth" {
                    let auth = auth_socketio::SocketIoAuth::new(&authenticator);
                    io.ns("/", on_connect.with(auth));
                } else {
                    io.ns("/", on_connect);
                }
                axum::Router::new().layer(layer)
            }
            other => panic!("unknown kind {other}"),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut out = std::io::stdout();
        writeln!(out, "{addr} {token}").unwrap();
        out.flush().unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

async fn plain_ws(ws: axum::extract::ws::WebSocketUpgrade) -> axum::response::Response {
    use axum::extract::ws::Message;
    ws.on_upgrade(|mut socket| async move {
        if socket.send(Message::Text("welcome".into())).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            if socket.send(message).await.is_err() {
                break;
            }
        }
    })
}

async fn auth_ws(ws: auth_axum::AuthUpgrade) -> axum::response::Response {
    use axum::extract::ws::Message;
    ws.on_upgrade(|mut socket| async move {
        if socket.send(Message::Text("welcome".into())).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            if socket.send(message).await.is_err() {
                break;
            }
        }
    })
}
