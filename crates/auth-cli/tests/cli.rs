//! End-to-end tests of the `auth` binary: the real executable against a real
//! `auth_issuer::TestIssuer` (or a real `auth dev-issuer` child process).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use auth_issuer::{Fault, TestIssuer};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

const AUDIENCE: &str = "orders-api";

/// A test issuer and the runtime serving it. The issuer is declared first so that it is
/// dropped (and told to stop) before the runtime shuts down.
struct Issuer {
    issuer: TestIssuer,
    _runtime: tokio::runtime::Runtime,
}

impl std::ops::Deref for Issuer {
    type Target = TestIssuer;
    fn deref(&self) -> &TestIssuer {
        &self.issuer
    }
}

fn start_issuer(dev_endpoints: bool) -> Issuer {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = runtime
        .block_on(
            TestIssuer::builder()
                .audience(AUDIENCE)
                .dev_endpoints(dev_endpoints)
                .start(),
        )
        .expect("test issuer starts");
    Issuer {
        issuer,
        _runtime: runtime,
    }
}

fn issuer() -> Issuer {
    start_issuer(false)
}

/// The result of one run of the binary.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The single JSON line on stdout.
    fn json(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stdout: {self:#?}");
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }

    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{self:#?}");
        self
    }

    /// Neither stream contains the token.
    fn assert_no_token(&self, token: &str) -> &Self {
        assert!(!self.stdout.contains(token), "token on stdout: {self:#?}");
        assert!(!self.stderr.contains(token), "token on stderr: {self:#?}");
        self
    }
}

fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth"));
    for var in ["AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URI", "RUST_LOG"] {
        cmd.env_remove(var);
    }
    cmd
}

fn auth(args: &[&str]) -> Run {
    auth_with_stdin(args, "")
}

fn auth_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn auth");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("auth runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// `auth verify --json --issuer ISSUER --audience orders-api TOKEN`.
fn verify_json(issuer: &str, token: &str) -> Run {
    auth(&[
        "verify",
        "--json",
        "--issuer",
        issuer,
        "--audience",
        AUDIENCE,
        token,
    ])
}

/// A port on 127.0.0.1 on which nothing listens.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The claims of a token, read without verification.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

// ----- verify -----

#[test]
fn valid_token_is_accepted_with_its_claims() {
    let issuer = issuer();
    let token = issuer.token().sub("alice").roles(&["admin"]).sign();
    let run = verify_json(issuer.issuer(), &token);
    run.assert_code(0).assert_no_token(&token);
    let json = run.json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["claims"]["sub"], "alice");
    assert_eq!(json["claims"]["roles"][0], "admin");
    assert_eq!(json["claims"]["iss"], issuer.issuer());
    assert!(
        run.stdout.starts_with(r#"{"ok":true,"claims":{"#),
        "{run:#?}"
    );
}

#[test]
fn valid_token_human_output() {
    let issuer = issuer();
    let token = issuer.token().sub("alice").sign();
    let run = auth(&[
        "verify",
        "--issuer",
        issuer.issuer(),
        "--audience",
        AUDIENCE,
        &token,
    ]);
    run.assert_code(0).assert_no_token(&token);
    assert!(
        run.stdout
            .starts_with("valid token: sub \"alice\", expires in "),
        "{run:#?}"
    );
    assert!(run.stdout.contains("\"sub\": \"alice\""), "{run:#?}");
}

#[test]
fn expired_token_is_rejected() {
    let issuer = issuer();
    let token = issuer.token().sub("alice").expires_in(-3600).sign();
    let run = verify_json(issuer.issuer(), &token);
    run.assert_code(1).assert_no_token(&token);
    let json = run.json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["code"], "token_expired");
    assert!(
        json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{json}"
    );
    assert!(
        run.stdout
            .starts_with(r#"{"ok":false,"code":"token_expired","message":"#),
        "{run:#?}"
    );
}

#[test]
fn expired_token_human_output_goes_to_stderr() {
    let issuer = issuer();
    let token = issuer.token().expires_in(-3600).sign();
    let run = auth(&[
        "verify",
        "--issuer",
        issuer.issuer(),
        "--audience",
        AUDIENCE,
        &token,
    ]);
    run.assert_code(1).assert_no_token(&token);
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert!(run.stderr.contains("rejected: token_expired: "), "{run:#?}");
}

#[test]
fn wrong_audience_is_rejected() {
    let issuer = issuer();
    let token = issuer.token().aud("billing-api").sign();
    let run = verify_json(issuer.issuer(), &token);
    run.assert_code(1).assert_no_token(&token);
    assert_eq!(run.json()["code"], "token_invalid");
    assert_eq!(run.json()["reason"], "audience_mismatch");
}

#[test]
fn any_of_several_audiences_is_enough() {
    let issuer = issuer();
    let token = issuer.token().aud("billing-api").sign();
    let run = auth(&[
        "verify",
        "--json",
        "--issuer",
        issuer.issuer(),
        "--audience",
        AUDIENCE,
        "--audience",
        "billing-api",
        &token,
    ]);
    run.assert_code(0);
}

#[test]
fn token_from_another_issuer_is_rejected() {
    let (a, b) = (issuer(), issuer());
    let token = a.token().sign();
    let run = verify_json(b.issuer(), &token);
    run.assert_code(1);
    assert_eq!(run.json()["code"], "token_invalid");
}

#[test]
fn unreachable_issuer_fails_with_a_fetch_code() {
    let token = issuer().token().sign();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let run = verify_json(&url, &token);
    run.assert_code(1).assert_no_token(&token);
    let code = run.json()["code"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        code == "discovery_failed" || code == "jwks_fetch_failed",
        "{run:#?}"
    );
}

#[test]
fn unreachable_issuer_human_output_gives_a_hint() {
    let token = issuer().token().sign();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let run = auth(&["verify", "--issuer", &url, "--audience", AUDIENCE, &token]);
    run.assert_code(1).assert_no_token(&token);
    assert!(run.stderr.contains("rejected: "), "{run:#?}");
    assert!(run.stderr.contains("hint: "), "{run:#?}");
}

#[test]
fn jwks_uri_skips_discovery() {
    let issuer = issuer();
    issuer.set_discovery_fault(Some(Fault::Status(500)));
    let token = issuer.token().sign();
    let run = auth(&[
        "verify",
        "--json",
        "--issuer",
        issuer.issuer(),
        "--audience",
        AUDIENCE,
        "--jwks-uri",
        &issuer.jwks_uri(),
        &token,
    ]);
    run.assert_code(0);
    assert_eq!(issuer.discovery_requests(), 0);
}

#[test]
fn token_is_read_from_stdin() {
    let issuer = issuer();
    let token = issuer.token().sub("carol").sign();
    let run = auth_with_stdin(
        &[
            "verify",
            "--json",
            "--issuer",
            issuer.issuer(),
            "--audience",
            AUDIENCE,
            "-",
        ],
        &format!("{token}\n"),
    );
    run.assert_code(0).assert_no_token(&token);
    assert_eq!(run.json()["claims"]["sub"], "carol");
}

#[test]
fn missing_audience_warns_and_skips_the_check() {
    let issuer = issuer();
    let token = issuer.token().aud("anything").sign();
    let run = auth(&["verify", "--json", "--issuer", issuer.issuer(), &token]);
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("no --audience given: the audience check is skipped"),
        "{run:#?}"
    );
    assert_eq!(run.json()["ok"], true);
}

#[test]
fn require_typ_refuses_tokens_without_at_jwt() {
    let issuer = issuer();
    let args = |token: &str| {
        auth(&[
            "verify",
            "--json",
            "--issuer",
            issuer.issuer(),
            "--audience",
            AUDIENCE,
            "--require-typ",
            "at+jwt",
            token,
        ])
    };
    args(&issuer.token().sign()).assert_code(0);
    let run = args(&issuer.token().typ(Some("JWT")).sign());
    run.assert_code(1);
    assert_eq!(run.json()["code"], "token_invalid");
}

#[test]
fn leeway_accepts_a_recently_expired_token() {
    let issuer = issuer();
    let token = issuer.token().expires_in(-100).sign();
    let run = |leeway: &str| {
        auth(&[
            "verify",
            "--json",
            "--issuer",
            issuer.issuer(),
            "--audience",
            AUDIENCE,
            "--leeway",
            leeway,
            &token,
        ])
    };
    run("0").assert_code(1);
    run("300").assert_code(0);
}

#[test]
fn garbage_token_is_rejected_not_a_usage_error() {
    let issuer = issuer();
    let run = verify_json(issuer.issuer(), "not-a-token");
    run.assert_code(1);
    assert_eq!(run.json()["code"], "token_invalid");
    assert_eq!(run.json()["reason"], "malformed");
}

// ----- usage errors: exit 2 -----

#[test]
fn missing_token_is_a_usage_error() {
    auth(&["verify", "--issuer", "http://127.0.0.1:1"]).assert_code(2);
}

#[test]
fn missing_issuer_is_a_usage_error() {
    auth(&["verify", "--audience", AUDIENCE, "token"]).assert_code(2);
}

#[test]
fn unknown_subcommand_and_no_subcommand_are_usage_errors() {
    auth(&["frobnicate"]).assert_code(2);
    auth(&[]).assert_code(2);
}

#[test]
fn empty_stdin_is_a_rejected_token_not_a_usage_error() {
    let run = auth_with_stdin(
        &[
            "verify",
            "--json",
            "--issuer",
            "http://127.0.0.1:1",
            "--audience",
            AUDIENCE,
            "-",
        ],
        " \n",
    );
    run.assert_code(1);
    assert_eq!(run.json()["code"], "token_missing");
}

#[test]
fn empty_token_argument_is_a_rejected_token_not_a_usage_error() {
    let run = auth(&[
        "verify",
        "--json",
        "--issuer",
        "http://127.0.0.1:1",
        "--audience",
        AUDIENCE,
        "",
    ]);
    run.assert_code(1);
    assert_eq!(run.json()["code"], "token_missing");
    assert_eq!(run.json()["ok"], false);
}

#[test]
fn bad_issuer_url_is_a_usage_error_with_config_invalid() {
    let run = auth(&[
        "verify",
        "--json",
        "--issuer",
        "not a url",
        "--audience",
        AUDIENCE,
        "tok",
    ]);
    run.assert_code(2);
    let json = run.json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["code"], "config_invalid");
    assert!(
        json["message"]
            .as_str()
            .is_some_and(|m| m.contains("--issuer")),
        "{json}"
    );
}

#[test]
fn plain_http_to_a_remote_host_needs_allow_http() {
    let run = auth(&[
        "verify",
        "--json",
        "--issuer",
        "http://idp.example.com",
        "--audience",
        AUDIENCE,
        "tok",
    ]);
    run.assert_code(2);
    assert_eq!(run.json()["code"], "config_invalid");
    assert!(run.stdout.contains("--allow-http"), "{run:#?}");
}

#[test]
fn require_typ_accepts_only_at_jwt() {
    auth(&[
        "verify",
        "--issuer",
        "http://127.0.0.1:1",
        "--audience",
        AUDIENCE,
        "--require-typ",
        "jwt",
        "tok",
    ])
    .assert_code(2);
}

#[test]
fn leeway_above_five_minutes_is_a_usage_error() {
    auth(&[
        "verify",
        "--issuer",
        "http://127.0.0.1:1",
        "--audience",
        AUDIENCE,
        "--leeway",
        "301",
        "tok",
    ])
    .assert_code(2);
}

// ----- decode -----

#[test]
fn decode_marks_its_output_unverified() {
    let issuer = issuer();
    let token = issuer.token().sub("dave").sign();
    let run = auth(&["decode", &token]);
    run.assert_code(0).assert_no_token(&token);
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("UNVERIFIED"), "{run:#?}");
    assert!(run.stdout.contains("\"alg\": \"RS256\""), "{run:#?}");
    assert!(run.stdout.contains("\"sub\": \"dave\""), "{run:#?}");
}

#[test]
fn decode_json_says_verified_false() {
    let issuer = issuer();
    let token = issuer.token().sub("dave").expires_in(-3600).sign();
    let run = auth_with_stdin(&["decode", "--json", "-"], &token);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with(r#"{"verified":false,"header":{"#),
        "{run:#?}"
    );
    let json = run.json();
    assert_eq!(json["header"]["kid"], issuer.default_kid());
    assert_eq!(json["claims"]["sub"], "dave");
}

#[test]
fn decode_refuses_what_is_not_a_jwt() {
    for bad in ["abc", "a.b", "e30.bm90IGpzb24.", "e30.e30.e30.e30.e30"] {
        let run = auth(&["decode", bad]);
        run.assert_code(2);
        assert!(run.stdout.is_empty(), "{run:#?}");
    }
    auth_with_stdin(&["decode", "-"], "\n").assert_code(2);
}

// ----- mint -----

#[test]
fn mint_sends_every_field() {
    let issuer = start_issuer(true);
    let run = auth(&[
        "mint",
        "--issuer",
        issuer.issuer(),
        "--sub",
        "erin",
        "--role",
        "admin",
        "--role",
        "ops",
        "--scope",
        "orders:read orders:write",
        "--audience",
        "a",
        "--audience",
        "b",
        "--expires-in",
        "-60",
        "--claim",
        "plan=pro",
        "--claim",
        "level=3",
    ]);
    run.assert_code(0);
    let token = run.stdout.trim_end();
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    let claims = claims_of(token);
    assert_eq!(claims["sub"], "erin");
    assert_eq!(claims["roles"], serde_json::json!(["admin", "ops"]));
    assert_eq!(claims["scope"], "orders:read orders:write");
    assert_eq!(claims["aud"], serde_json::json!(["a", "b"]));
    assert_eq!(claims["plan"], "pro");
    assert_eq!(claims["level"], 3);
    // It really is expired, and signed by the issuer.
    let run = auth(&[
        "verify",
        "--json",
        "--issuer",
        issuer.issuer(),
        "--audience",
        "a",
        token,
    ]);
    run.assert_code(1);
    assert_eq!(run.json()["code"], "token_expired");
}

#[test]
fn mint_against_an_issuer_without_dev_endpoints_fails() {
    let issuer = issuer();
    let run = auth(&["mint", "--issuer", issuer.issuer(), "--sub", "x"]);
    run.assert_code(1);
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert!(run.stderr.contains("not a dev issuer"), "{run:#?}");
}

#[test]
fn mint_against_a_closed_port_fails() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let run = auth(&["mint", "--issuer", &url]);
    run.assert_code(1);
    assert!(run.stderr.contains("cannot connect"), "{run:#?}");
}

#[test]
fn mint_with_a_bad_url_is_a_usage_error() {
    auth(&["mint", "--issuer", "nope"]).assert_code(2);
    auth(&[
        "mint",
        "--issuer",
        "http://127.0.0.1:1",
        "--claim",
        "novalue",
    ])
    .assert_code(2);
}

// ----- dev-issuer -----

/// Kills the child process when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `auth dev-issuer` and reads its start-up lines until the `mint:` line.
fn dev_issuer() -> (KillOnDrop, Vec<(String, String)>) {
    let mut child = KillOnDrop(
        command()
            .args(["dev-issuer", "--audience", AUDIENCE])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn auth dev-issuer"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("dev-issuer prints its start-up lines");
        let (name, value) = line.split_once(": ").expect("name: value");
        lines.push((name.to_owned(), value.to_owned()));
        if name == "mint" {
            return (child, lines);
        }
    }
}

fn field<'a>(lines: &'a [(String, String)], name: &str) -> &'a str {
    lines
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} line in {lines:?}"))
}

#[test]
fn dev_issuer_tokens_verify_and_mint_works() {
    let (_child, lines) = dev_issuer();
    assert_eq!(
        lines[0].0, "issuer",
        "the first line names the issuer: {lines:?}"
    );
    let issuer = field(&lines, "issuer");
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    assert_eq!(field(&lines, "jwks_uri"), format!("{issuer}/jwks"));
    assert_eq!(field(&lines, "audience"), AUDIENCE);

    // The start-up token verifies, and so does the printed command line.
    let token = field(&lines, "token");
    let run = verify_json(issuer, token);
    run.assert_code(0);
    assert_eq!(run.json()["claims"]["sub"], "dev-user");
    let suggested: Vec<&str> = field(&lines, "verify").split(' ').collect();
    assert_eq!(suggested[..2], ["auth", "verify"]);
    auth(&suggested[1..]).assert_code(0);

    // mint asks the running dev issuer for another token.
    let run = auth(&[
        "mint", "--issuer", issuer, "--sub", "bob", "--role", "admin",
    ]);
    run.assert_code(0);
    let minted = run.stdout.trim_end();
    let run = verify_json(issuer, minted);
    run.assert_code(0);
    let claims = &run.json()["claims"];
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["roles"], serde_json::json!(["admin"]));
}

#[cfg(unix)]
#[test]
fn dev_issuer_stops_cleanly_on_sigterm() {
    let (mut child, _) = dev_issuer();
    let pid = child.0.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let status = wait_for_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn dev_issuer_reports_a_port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let mut child = KillOnDrop(
        command()
            .args(["dev-issuer", "--port", &port])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn auth dev-issuer"),
    );
    let status = wait_for_exit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{status:?}");
    let mut stderr = String::new();
    let mut pipe = child.0.stderr.take().expect("stderr");
    std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("read stderr");
    assert!(stderr.contains("cannot start"), "{stderr}");
}

/// Waits for the child to exit, failing the test after `limit`.
fn wait_for_exit(child: &mut KillOnDrop, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the child did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ----- auth keys -----

/// A fresh SQLite URL in a folder that does not exist yet.
fn keys_database() -> String {
    let dir = std::env::temp_dir().join(format!(
        "auth-cli-keys-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    format!("sqlite:{}", dir.join("keys.db").display())
}

fn keys_json(database: &str, args: &[&str]) -> Run {
    let mut all = vec!["keys", "--database-url", database, "--json"];
    all.extend_from_slice(args);
    auth(&all)
}

#[test]
fn keys_are_created_listed_without_secrets_rotated_and_revoked() {
    let db = keys_database();
    let run = keys_json(
        &db,
        &[
            "create",
            "--name",
            "nightly",
            "--owner",
            "svc-export",
            "--scope",
            "reports:read",
            "--expires-in",
            "3600",
        ],
    );
    run.assert_code(0);
    let created = run.json();
    let key = created["key"]
        .as_str()
        .expect("the key, shown once")
        .to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(key.starts_with("sk_live_") && key.starts_with(&id), "{key}");
    assert!(
        key.len() - "sk_live_".len() >= 22,
        "at least 128 random bits"
    );
    assert_eq!(created["owner"], "svc-export");
    assert_eq!(created["scopes"], serde_json::json!(["reports:read"]));

    let run = keys_json(&db, &["list"]);
    run.assert_code(0).assert_no_token(&key[id.len()..]);
    let listed = run.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("key").is_none());

    let run = keys_json(&db, &["rotate", &id, "--overlap", "60"]);
    run.assert_code(0);
    let rotated = run.json();
    assert_ne!(rotated["id"], id.as_str());

    keys_json(&db, &["revoke", &id]).assert_code(0);
    let listed = keys_json(&db, &["list"]).json();
    let old = listed
        .as_array()
        .and_then(|a| a.iter().find(|k| k["id"] == id.as_str()).cloned())
        .expect("still listed");
    assert!(old["revoked"].is_number(), "{old}");
    keys_json(&db, &["revoke", "sk_live_nothing12345"]).assert_code(1);
}

#[test]
fn keys_need_a_store() {
    let run = Command::new(env!("CARGO_BIN_EXE_auth"))
        .args(["keys", "list"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("DATABASE_URL"));
}
