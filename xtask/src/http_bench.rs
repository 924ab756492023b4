//! `cargo xtask bench-http [--quick]` (also part of `cargo xtask bench`): the HTTP comparison of
//! `docs/benchmarks.md`, with `wrk` (Debian package) on loopback. Everything runs in release
//! mode; each table's routes are measured in interleaved rounds (the machine is shared and
//! noisy) and compared as ratios within the table.
//!
//! 1. Each example app (axum, actix-web, warp) with its embedded issuer: `/api/optional`
//!    without a credential (the unauthenticated baseline), the same route with a Bearer token
//!    (the same answer, so that only authentication differs), `/api/me` with a Bearer token, with
//!    the session cookie of a real sign-in, and with 1,000 distinct tokens in rotation; once
//!    with the verified-token cache on (the default) and once with it off.
//! 2. `peer-http` (bench/): the same routes on axum without authentication, on axum under our
//!    `AuthLayer`, and on axum 0.7 under jwt-authorizer, against one issuer and one token:
//!    what the layer costs a request without a credential, and `/me` against jwt-authorizer.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::blocking::Client;
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};

use crate::interop::{Server, hidden_inputs};
use crate::support::{APPS, build_release, free_port, target_subdir};

/// wrk's connections: enough to keep the server busy, few enough to leave wrk a core.
const CONNECTIONS: &str = "16";

/// One wrk measurement.
#[derive(Debug, Clone, Copy, Default)]
struct Rate {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The server's CPU time (user + system) per request: steadier than the rate on a shared
    /// machine, and what the auth layer adds to each request.
    cpu_us: f64,
    /// The user-space part of it: the server's own code (the application, the framework, the
    /// SDK) without the kernel's loopback TCP work, part of which is the client's (see
    /// docs/benchmarks.md, "Through HTTP").
    user_us: f64,
}

/// A process's CPU time so far, (user, user + system), in microseconds, from `/proc`.
fn cpu_us(pid: u32) -> (f64, f64) {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name (in parentheses, which may hold spaces): fields 14 and 15 of
    // proc(5), utime and stime, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) * 10_000.0, (ticks(11) + ticks(12)) * 10_000.0)
}

pub(crate) fn run(quick: bool) -> Result<(), String> {
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed (`apt-get install wrk`)".into());
    }
    let (seconds, rounds) = if quick { (2, 1) } else { (6, 3) };
    let apps = build_release(&["-p", APPS[0], "-p", APPS[1], "-p", APPS[2]], &APPS)?;
    let peer = build_release(&["-p", "auth-bench", "--bin", "peer-http"], &["peer-http"])?;
    let dir = target_subdir("http-bench")?;
    let lua = dir.join("rotate.lua");
    fs::write(&lua, ROTATE_LUA).map_err(|e| format!("{}: {e}", lua.display()))?;
    println!(
        "\nHTTP, wrk -t1 -c{CONNECTIONS} -d{seconds}s --latency, loopback, {rounds} interleaved \
         round(s); requests/s (p50 / p99)"
    );
    for (app, bin) in APPS.iter().zip(&apps) {
        for cache in [true, false] {
            example_table(app, bin, cache, &dir, &lua, seconds, rounds)?;
        }
    }
    // The peer apps verify the tokens of the axum example's embedded issuer.
    peer_table(&peer[0], &apps[0], &dir, seconds, rounds)
}

/// A running example app with its embedded issuer.
struct Example {
    server: Server,
    url: String,
    issuer: String,
}

fn start_example(bin: &Path, cache: bool, log: &Path) -> Result<Example, String> {
    let port = free_port()?;
    let mut command = Command::new(bin);
    command
        .env("PORT", port.to_string())
        .env("BIND", "127.0.0.1")
        .env("AUTH_DEV_MINT", "1")
        .env("RUST_LOG", "warn")
        .env_remove("AUTH_ISSUER")
        .env(
            "AUTH_TOKEN_CACHE_BYTES",
            if cache { "33554432" } else { "0" },
        );
    let mut server = Server::start("example app", command, log)?;
    let line = server.wait_for_line("Development issuer", Duration::from_secs(30))?;
    let issuer = line
        .split_whitespace()
        .last()
        .ok_or("no issuer URL in the app's output")?
        .to_owned();
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}/api/optional"))?;
    Ok(Example {
        server,
        url,
        issuer,
    })
}

fn client(jar: Option<Arc<Jar>>) -> Result<Client, String> {
    let mut b = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .no_proxy();
    if let Some(jar) = jar {
        b = b.cookie_provider(jar);
    }
    b.build().map_err(|e| format!("http client: {e}"))
}

fn wait_ready(url: &str) -> Result<(), String> {
    let c = client(None)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if c.get(url).send().is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{url} did not answer within 30 s"))
}

/// An access token from the dev issuer's mint endpoint.
fn mint(c: &Client, issuer: &str, sub: &str) -> Result<String, String> {
    let body = json!({ "sub": sub, "roles": ["admin"], "expires_in": 3600 });
    let answer: Value = c
        .post(format!("{issuer}/dev/mint"))
        .json(&body)
        .send()
        .and_then(reqwest::blocking::Response::json)
        .map_err(|e| format!("minting a token: {e}"))?;
    answer["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no access_token from {issuer}/dev/mint"))
}

/// Signs in as `alice` through the app's login route and the dev issuer's login page; the
/// `Cookie` header the browser then sends.
fn session_cookie(app: &str) -> Result<String, String> {
    let jar = Arc::new(Jar::default());
    let c = client(Some(Arc::clone(&jar)))?;
    let location = |r: &reqwest::blocking::Response| {
        r.headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| format!("no redirect ({})", r.status()))
    };
    let login = c
        .get(format!("{app}/auth/login"))
        .send()
        .map_err(|e| e.to_string())?;
    let authorize = location(&login)?;
    let page = c
        .get(&authorize)
        .send()
        .and_then(reqwest::blocking::Response::text)
        .map_err(|e| e.to_string())?;
    let mut form = hidden_inputs(&page);
    form.push(("user".into(), "alice".into()));
    let action = authorize.split('?').next().unwrap_or(&authorize).to_owned();
    let back = c
        .post(&action)
        .form(&form)
        .send()
        .map_err(|e| e.to_string())?;
    let callback = location(&back)?;
    let done = c.get(&callback).send().map_err(|e| e.to_string())?;
    if !done.status().is_redirection() {
        return Err(format!("sign-in callback answered {}", done.status()));
    }
    let url = reqwest::Url::parse(app).map_err(|e| e.to_string())?;
    jar.cookies(&url)
        .and_then(|h| h.to_str().ok().map(str::to_owned))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| "the sign-in set no cookie".into())
}

/// Runs wrk once against the server `pid`; `script`: a Lua script and the file it reads
/// (`TOKENS`).
fn wrk(
    pid: u32,
    url: &str,
    seconds: u32,
    headers: &[String],
    script: Option<(&Path, &Path)>,
) -> Result<Rate, String> {
    let mut command = Command::new("wrk");
    command.args([
        "-t1",
        "-c",
        CONNECTIONS,
        "-d",
        &format!("{seconds}s"),
        "--latency",
    ]);
    for h in headers {
        command.arg("-H").arg(h);
    }
    if let Some((script, tokens)) = script {
        command.arg("-s").arg(script).env("TOKENS", tokens);
    }
    let (user_before, cpu_before) = cpu_us(pid);
    let out = command.arg(url).output().map_err(|e| format!("wrk: {e}"))?;
    let (user_after, cpu_after) = cpu_us(pid);
    let (user, cpu) = (user_after - user_before, cpu_after - cpu_before);
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("wrk {url}: non-2xx answers\n{text}"));
    }
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_owned)
    };
    let ms = |v: Option<String>| {
        let v = v.unwrap_or_default();
        if let Some(us) = v.strip_suffix("us") {
            us.parse::<f64>().unwrap_or(0.0) / 1000.0
        } else if let Some(ms) = v.strip_suffix("ms") {
            ms.parse().unwrap_or(0.0)
        } else if let Some(s) = v.strip_suffix('s') {
            s.parse::<f64>().unwrap_or(0.0) * 1000.0
        } else {
            0.0
        }
    };
    let per_second: f64 = field("Requests/sec:")
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| format!("wrk {url}: no rate in\n{text}"))?;
    Ok(Rate {
        per_second,
        p50_ms: ms(field("50%")),
        p99_ms: ms(field("99%")),
        cpu_us: cpu / (per_second * f64::from(seconds)).max(1.0),
        user_us: user / (per_second * f64::from(seconds)).max(1.0),
    })
}

/// Reads `TOKENS` (one per line) and sends each request with the next one.
const ROTATE_LUA: &str = r#"
local tokens = {}
local i = 0
init = function(args)
  for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
end
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
"#;

/// One measured case: a name, and how to measure it once.
struct Case<'a> {
    name: String,
    measure: Box<dyn Fn() -> Result<Rate, String> + 'a>,
}

/// Runs the cases in `rounds` interleaved rounds (order reversed every other round); per case,
/// the mean rate and the median p50/p99.
fn interleave(cases: &[Case<'_>], rounds: usize) -> Result<Vec<Rate>, String> {
    let mut all = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..cases.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            all[i].push((cases[i].measure)()?);
        }
    }
    Ok(all
        .into_iter()
        .map(|runs: Vec<Rate>| {
            let n = runs.len() as f64;
            let median = |f: fn(&Rate) -> f64| {
                let mut v: Vec<f64> = runs.iter().map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            Rate {
                per_second: runs.iter().map(|r| r.per_second).sum::<f64>() / n,
                p50_ms: median(|r| r.p50_ms),
                p99_ms: median(|r| r.p99_ms),
                cpu_us: median(|r| r.cpu_us),
                user_us: median(|r| r.user_us),
            }
        })
        .collect())
}

fn print_table(title: &str, cases: &[Case<'_>], rates: &[Rate], baseline: usize) {
    let mut out = format!(
        "\n{title}\n\n| route | requests/s | p50 | p99 | rate ÷ first | server CPU per request | ÷ first | user-space CPU | ÷ first |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (case, rate) in cases.iter().zip(rates) {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.3}× | {:.1} µs | {:.3}× | {:.1} µs | {:.3}× |",
            case.name,
            rate.per_second,
            rate.p50_ms,
            rate.p99_ms,
            rate.per_second / rates[baseline].per_second,
            rate.cpu_us,
            rate.cpu_us / rates[baseline].cpu_us,
            rate.user_us,
            rate.user_us / rates[baseline].user_us,
        );
    }
    print!("{out}");
}

fn example_table(
    app: &str,
    bin: &Path,
    cache: bool,
    dir: &Path,
    lua: &Path,
    seconds: u32,
    rounds: usize,
) -> Result<(), String> {
    let example = start_example(bin, cache, &dir.join(format!("{app}.log")))?;
    let c = client(None)?;
    let token = mint(&c, &example.issuer, "alice")?;
    let tokens: Vec<String> = (0..1000)
        .map(|i| mint(&c, &example.issuer, &format!("user-{i}")))
        .collect::<Result<_, _>>()?;
    let tokens_file = dir.join(format!("{app}-tokens.txt"));
    fs::write(&tokens_file, tokens.join("\n")).map_err(|e| e.to_string())?;
    let cookie = session_cookie(&example.url)?;
    let pid = example.server.pid();
    let me = format!("{}/api/me", example.url);
    let optional = format!("{}/api/optional", example.url);
    let bearer = vec![format!("Authorization: Bearer {token}")];
    let cookie_header = vec![format!("Cookie: {cookie}")];
    let tokens_path = &tokens_file;
    let cases = vec![
        Case {
            name: "`/api/optional`, no credential".into(),
            measure: Box::new(|| wrk(pid, &optional, seconds, &[], None)),
        },
        Case {
            name: "`/api/optional`, Bearer (same answer size)".into(),
            measure: Box::new(|| wrk(pid, &optional, seconds, &bearer, None)),
        },
        Case {
            name: "`/api/me`, Bearer".into(),
            measure: Box::new(|| wrk(pid, &me, seconds, &bearer, None)),
        },
        Case {
            name: "`/api/me`, session cookie".into(),
            measure: Box::new(|| wrk(pid, &me, seconds, &cookie_header, None)),
        },
        Case {
            name: "`/api/me`, 1,000 tokens in rotation".into(),
            measure: Box::new(|| wrk(pid, &me, seconds, &[], Some((lua, tokens_path)))),
        },
    ];
    let rates = interleave(&cases, rounds)?;
    let setting = if cache {
        "token cache on (default)"
    } else {
        "`AUTH_TOKEN_CACHE_BYTES=0`"
    };
    print_table(&format!("{app}, {setting}"), &cases, &rates, 0);
    drop(cases);
    drop(example.server);
    let _ = fs::remove_file(&tokens_file);
    Ok(())
}

fn peer_table(
    peer: &Path,
    issuer_app: &Path,
    dir: &Path,
    seconds: u32,
    rounds: usize,
) -> Result<(), String> {
    let example = start_example(issuer_app, true, &dir.join("issuer.log"))?;
    let c = client(None)?;
    let token = mint(&c, &example.issuer, "alice")?;
    let payload = token.split('.').nth(1).unwrap_or_default();
    let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the minted token's claims do not decode")?;
    let audience = match &claims["aud"] {
        Value::String(a) => a.clone(),
        Value::Array(a) => a
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => return Err("the minted token has no aud".into()),
    };
    let mut servers = Vec::new();
    let mut urls = Vec::new();
    let mut pids = Vec::new();
    for mode in ["bare", "ours", "jwt-authorizer"] {
        let port = free_port()?;
        let mut command = Command::new(peer);
        command.args([mode, &port.to_string(), &example.issuer, &audience]);
        let server = Server::start("peer app", command, &dir.join(format!("peer-{mode}.log")))?;
        pids.push(server.pid());
        servers.push(server);
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(&format!("{url}/public"))?;
        urls.push(url);
    }
    let bearer = vec![format!("Authorization: Bearer {token}")];
    let case = |name: &str, app: usize, path: &str, auth: bool| Case {
        name: name.to_owned(),
        measure: Box::new({
            let headers = if auth { bearer.clone() } else { Vec::new() };
            let (pid, url) = (pids[app], format!("{}{path}", urls[app]));
            move || wrk(pid, &url, seconds, &headers, None)
        }),
    };
    let layer = vec![
        case("axum, no auth: `/public`", 0, "/public", false),
        case("axum + `AuthLayer`: `/public`", 1, "/public", false),
        case("axum, no auth: `/optional`", 0, "/optional", false),
        case(
            "axum + `AuthLayer`: `/optional` (`Option<Auth>`), no credential",
            1,
            "/optional",
            false,
        ),
    ];
    let rates = interleave(&layer, rounds)?;
    print_table(
        "A request without a credential, with and without the layer (peer-http)",
        &layer,
        &rates,
        0,
    );
    let me = vec![
        case(
            "axum 0.7 + jwt-authorizer 0.15: `/me`, Bearer",
            2,
            "/me",
            true,
        ),
        case("axum 0.8 + auth-axum: `/me`, Bearer", 1, "/me", true),
        case("axum 0.7 + jwt-authorizer: `/public`", 2, "/public", false),
        case("axum 0.8 + auth-axum: `/public`", 1, "/public", false),
    ];
    let rates = interleave(&me, rounds)?;
    print_table(
        "The same token against jwt-authorizer (peer-http; RS256, one token)",
        &me,
        &rates,
        0,
    );
    Ok(())
}
