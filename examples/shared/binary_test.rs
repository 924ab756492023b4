// The binary test every example runs (`include!`d by `examples/*/tests/binary.rs`, after it
// defines `BINARY`): with no configuration the binary starts the embedded issuer, prints the
// app's URL and a demo API key, serves `/` and `/api/me` (with the key), with `METRICS=1`
// counts what it verified on `/metrics` (Prometheus text), and stops on Ctrl-C (SIGINT) with
// status 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_binary_starts_prints_its_url_and_a_demo_key_serves_and_stops() {
    let mut child = Command::new(BINARY)
        .env("PORT", "0")
        .env("BIND", "127.0.0.1")
        .env("METRICS", "1")
        .env_remove("AUTH_ISSUER")
        .env_remove("DATABASE_URL")
        .env_remove("APP_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut url, mut key) = (None, None);
    while url.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the binary prints its URL");
        if let Some(rest) = line.strip_prefix("Demo API key (owner alice, shown once): ") {
            key = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line.strip_prefix("Open ") {
            url = rest
                .split_whitespace()
                .next()
                .map(|u| u.trim_end_matches('/').to_owned());
        }
    }
    let (url, key) = (url.expect("url"), key.expect("a demo key before the URL"));
    let http = reqwest::Client::new();
    let home = http.get(format!("{url}/")).send().await.expect("home");
    assert_eq!(home.status(), 200);
    let me = http
        .get(format!("{url}/api/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);
    let body: serde_json::Value = me.json().await.expect("json");
    assert_eq!(
        (body["kind"].as_str(), body["sub"].as_str()),
        (Some("api_token"), Some("alice"))
    );
    let refused = http
        .get(format!("{url}/api/me"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .expect("me");
    assert_eq!(refused.status(), 401);
    let metrics = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain")),
        "{:?}",
        metrics.headers()
    );
    let text = metrics.text().await.expect("text");
    for line in [
        r#"auth_api_key_verifications_total{result="ok"} 1"#,
        r#"auth_verifications_total{outcome="error",code="token_invalid"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    assert!(!text.contains(&key), "no credential in the metrics");

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(interrupted.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the binary did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
}
