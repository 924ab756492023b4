//! `cargo xtask e2e`: a real browser through the example app and its embedded dev issuer.
//!
//! Headless Chromium (Debian's `chromium` and `chromium-driver` packages, at `/usr/bin`; the task
//! never downloads a browser) is driven over the W3C WebDriver protocol by `chromedriver` on
//! 127.0.0.1. The task builds `example-axum`, starts it as a black box on a free port (it embeds
//! the dev issuer), and then does what a person would: open `/`, click "Sign in", pick a user on
//! the issuer's login page, come back signed in, look at the APIs, and sign out through the
//! issuer's logout, for alice (admin), bob (not an admin) and typed usernames. Then the realtime
//! paths a page uses: `new WebSocket(…)` to `/ws` and `/ws/admin` with the session cookie and
//! with a `bearer.<token>` subprotocol entry beside `chat` (a token the dev issuer mints with
//! `AUTH_DEV_MINT=1`), and on example-axum the official Socket.IO client loaded into the page,
//! joining `/` (long-polling then WebSocket, and WebSocket only) and `/admin` with the cookie,
//! refused with `token_missing` once signed out.
//!
//! Each step prints `ok: …`. The first failure stops the run: `<target>/e2e/failure.png`, the
//! current URL and an excerpt of the page source, the last lines of the app's log, then the
//! failing step. The app and chromedriver are killed when the task ends, whatever the outcome,
//! and every wait is bounded. The signed-in page is kept as `<target>/e2e/signed-in.png`.
//!
//! The WebDriver client is the dozen commands below over `reqwest` (JSON): `fantoccini`, the
//! usual crate, depends on Mozilla's MPL-2.0 `webdriver` crate, which `deny.toml` does not allow.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::support::{build_apps, free_port, tail, target_subdir};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Without these, Chromium on a machine without network keeps retrying its background services.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--window-size=1280,900",
];

const APP_READY_TIMEOUT: Duration = Duration::from_secs(60);
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// For chromedriver to exit after `/shutdown`, before it and its group are killed.
const DRIVER_EXIT_GRACE: Duration = Duration::from_secs(3);
/// Starting Chromium.
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
/// One WebDriver command; page loads are bounded further by the session's `pageLoad` timeout.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
const PAGE_LOAD_TIMEOUT_MS: u64 = 10_000;
/// How long an element or a URL may take to appear.
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

/// The W3C name of an element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) fn run() -> Result<(), String> {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        if !Path::new(path).is_file() {
            return Err(format!(
                "{path} is missing (Debian package {package}): `cargo xtask e2e` drives the \
                 system's Chromium and never downloads a browser; install both with \
                 `apt-get install -y chromium chromium-driver`"
            ));
        }
    }
    // The official Socket.IO client, loaded into the page for example-axum's namespaces.
    crate::interop::npm_install(&crate::root().join("xtask/interop"))?;
    for (name, app_binary) in build_apps()? {
        println!("== e2e: {name} in headless Chromium");
        run_one(name, &app_binary)?;
    }
    Ok(())
}

/// The browser journey through one example app.
fn run_one(name: &str, app_binary: &Path) -> Result<(), String> {
    let out = target_subdir(&format!("e2e/{name}"))?;
    for stale in ["signed-in.png", "failure.png"] {
        let _ = fs::remove_file(out.join(stale));
    }
    let started = Instant::now();

    // The guards go in the order browser session, chromedriver, profile, app: explicitly below,
    // and by reverse declaration order on an early return.
    let app_log = out.join("app.log");
    let app_port = free_port()?;
    let app_url = format!("http://127.0.0.1:{app_port}");
    let app_command = dev_app(app_binary, app_port);
    let mut app = Process::start("example app", app_command, &app_log, Duration::ZERO)?;
    let issuer = wait_for_app(&mut app, &app_url, &app_log)?;
    ok(&format!(
        "the example app answers at {app_url} (dev issuer {issuer})"
    ));

    let profile = TempDir::new("xtask-e2e-chromium")?;
    let driver_port = free_port()?;
    let mut driver_command = Command::new(CHROMEDRIVER);
    driver_command.arg(format!("--port={driver_port}"));
    let mut driver = Process::start(
        "chromedriver",
        driver_command,
        &out.join("chromedriver.log"),
        DRIVER_EXIT_GRACE,
    )?;
    let browser = Browser::start(&mut driver, driver_port, &profile.0)?;
    ok(&format!("headless {} via chromedriver", browser.version));

    let result = scenario(&browser, &app_url, &issuer, &out)
        .and_then(|()| realtime(&browser, name, &app_url, &issuer));
    if result.is_err() {
        report_failure(&browser, &out, &app_log);
    }
    drop(browser);
    drop(driver);
    drop(profile);
    drop(app);
    result?;
    println!(
        "e2e: {name}: all steps passed in {:.1} s; the signed-in page is {}",
        started.elapsed().as_secs_f64(),
        out.join("signed-in.png").display()
    );
    Ok(())
}

fn ok(what: &str) {
    println!("ok: {what}");
}

/// Runs one step: `ok: name` when it passes, `name: why` as the error when it does not.
fn step(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    f().map_err(|e| format!("step `{name}` failed: {e}"))?;
    ok(name);
    Ok(())
}

/// The journeys, each through the browser only.
fn scenario(b: &Browser, app: &str, issuer: &str, out: &Path) -> Result<(), String> {
    let home = format!("{app}/");
    let api = |path: &str| format!("{app}{path}");

    // alice: an admin.
    step("signed out: / shows \"Sign in\"", || {
        b.goto(&home)?;
        expect_signed_out(b, &home)
    })?;
    step("signed out: /api/me is 401 token_missing", || {
        b.json_page(&api("/api/me"))?.error(401, "token_missing")
    })?;
    step(
        "Cancel on the dev login page: back on / with the notice, still signed out",
        || {
            open_login_page(b, &home, issuer)?;
            b.click("#cancel")?;
            let back = format!("{home}?auth_error=permission_denied");
            expect_signed_out(b, &back)?;
            let notice = b.text(&b.wait_visible("#auth-error")?)?;
            if !notice.contains("permission_denied") {
                return Err(format!("#auth-error reads {notice:?}"));
            }
            Ok(())
        },
    )?;
    step("signed out: / shows \"Sign in\" again", || {
        b.goto(&home)?;
        expect_signed_out(b, &home)
    })?;
    step(
        "\"Sign in\" opens the dev login page (form, users, username field focused)",
        || open_login_page(b, &home, issuer),
    )?;
    step(
        "alice's button: issuer, /auth/callback, back on / signed in as alice",
        || {
            b.trail()?;
            b.click("[data-user=\"alice\"]")?;
            expect_signed_in(b, &home, "alice", issuer)?;
            expect_hops(
                &b.trail()?,
                &[
                    ("POST", format!("{issuer}/authorize")),
                    ("GET", format!("{app}/auth/callback")),
                    ("GET", home.clone()),
                ],
            )
        },
    )?;
    step(
        "session cookies are HttpOnly, SameSite=Lax, Path=/, no flow cookie left",
        || check_session_cookies(b),
    )?;
    step(
        "document.cookie does not expose the session cookies",
        || {
            let visible = b.script("return document.cookie;", &[])?;
            let visible = visible.as_str().unwrap_or_default();
            let names: Vec<&str> = visible
                .split(';')
                .filter_map(|c| c.split('=').next())
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect();
            match names.iter().find(|n| n.starts_with("auth.")) {
                Some(n) => Err(format!("document.cookie exposes {n} (cookies: {names:?})")),
                None => Ok(()),
            }
        },
    )?;
    let shot = out.join("signed-in.png");
    step(&format!("screenshot {}", shot.display()), || {
        b.screenshot(&shot)
    })?;
    step("/api/me: 200 with sub alice and role admin", || {
        let page = b.json_page(&api("/api/me"))?;
        page.status(200)?;
        page.field("sub", &page.body["sub"], "alice")?;
        let roles = page.body["roles"].as_array().cloned().unwrap_or_default();
        if roles.iter().any(|r| r == "admin") {
            Ok(())
        } else {
            Err(format!("roles {roles:?} lack admin: {}", page.text))
        }
    })?;
    step("/api/admin: 200 for alice", || {
        let page = b.json_page(&api("/api/admin"))?;
        page.status(200)?;
        page.field("admin", &page.body["admin"], true)
    })?;
    step("/api/optional: authenticated", || {
        let page = b.json_page(&api("/api/optional"))?;
        page.status(200)?;
        page.field("authenticated", &page.body["authenticated"], true)
    })?;
    step(
        "\"Sign out\" goes through the issuer's logout back to / signed out",
        || sign_out(b, &home, issuer),
    )?;
    step("signed out: no session cookie is left", || {
        let left = b.cookie_names()?;
        match left.iter().find(|n| n.starts_with("auth.")) {
            Some(n) => Err(format!("cookie {n} is still set (cookies: {left:?})")),
            None => Ok(()),
        }
    })?;
    step("signed out again: /api/me is 401 token_missing", || {
        b.json_page(&api("/api/me"))?.error(401, "token_missing")
    })?;

    // bob: signed in, not an admin.
    step("bob signs in with his button", || {
        open_login_page(b, &home, issuer)?;
        b.click("[data-user=\"bob\"]")?;
        expect_signed_in(b, &home, "bob", issuer)
    })?;
    step("/api/admin: 403 permission_denied for bob", || {
        b.json_page(&api("/api/admin"))?
            .error(403, "permission_denied")
    })?;
    step("bob signs out", || sign_out(b, &home, issuer))?;

    // A typed username, submitted with the button and with Enter.
    step(
        "a typed username (carol) and the login page's \"Sign in\" button",
        || {
            open_login_page(b, &home, issuer)?;
            b.type_into("#username", "carol")?;
            b.click("#sign-in")?;
            expect_signed_in(b, &home, "carol", issuer)
        },
    )?;
    step("/api/me: carol without roles; /api/admin: 403", || {
        let page = b.json_page(&api("/api/me"))?;
        page.status(200)?;
        page.field("sub", &page.body["sub"], "carol")?;
        b.json_page(&api("/api/admin"))?
            .error(403, "permission_denied")
    })?;
    step("carol signs out", || sign_out(b, &home, issuer))?;
    step("Enter in the username field signs dave in", || {
        open_login_page(b, &home, issuer)?;
        // U+E007 is the WebDriver key code for Enter.
        b.type_into("#username", "dave\u{E007}")?;
        expect_signed_in(b, &home, "dave", issuer)
    })?;
    step("dave signs out", || sign_out(b, &home, issuer))?;
    Ok(())
}

/// What a page can open with its session cookie: a WebSocket to `/ws` and `/ws/admin` and,
/// on example-axum, Socket.IO namespaces with the official client loaded into the page.
fn realtime(b: &Browser, name: &str, app: &str, issuer: &str) -> Result<(), String> {
    let home = format!("{app}/");
    step("alice signs in again for the realtime checks", || {
        open_login_page(b, &home, issuer)?;
        b.click("[data-user=\"alice\"]")?;
        expect_signed_in(b, &home, "alice", issuer)
    })?;
    // Resolves with the first message and the selected subprotocol, or the close code.
    const OPEN_WS: &str = r#"
        const [path, protocols, done] = arguments;
        const ws = new WebSocket(location.origin.replace(/^http/, "ws") + path, protocols);
        const timer = setTimeout(() => done({ error: "no message within 5 s" }), 5000);
        ws.onmessage = (e) => { clearTimeout(timer); done({ first: e.data, protocol: ws.protocol }); ws.close(); };
        ws.onclose = (e) => { clearTimeout(timer); done({ error: "closed", code: e.code }); };
    "#;
    for path in ["/ws", "/ws/admin"] {
        step(
            &format!(
                "a WebSocket from the page: the session cookie opens {path}, the real subprotocol is selected"
            ),
            || {
                let got = b.script_async(OPEN_WS, &[json!(path), json!(["chat"])])?;
                let first: Value = got["first"]
                    .as_str()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .ok_or_else(|| format!("{path}: {got}"))?;
                if first["type"] != "welcome"
                    || first["sub"] != "alice"
                    || got["protocol"] != "chat"
                {
                    return Err(format!("{path}: {got}"));
                }
                Ok(())
            },
        )?;
    }
    if name != "example-axum" {
        step("alice signs out", || sign_out(b, &home, issuer))?;
        return subprotocol_token(b, &home, issuer, OPEN_WS);
    }
    let client =
        crate::root().join("xtask/interop/node_modules/socket.io-client/dist/socket.io.min.js");
    let library = fs::read_to_string(&client).map_err(|e| {
        format!(
            "{}: {e} (run `cargo xtask interop` or `npm ci` in xtask/interop first)",
            client.display()
        )
    })?;
    // Loaded again after each navigation: a new page has no `io`.
    let load_client = || {
        let kind = b.script(
            &format!("{library}\nwindow.__io = io; return typeof io;"),
            &[],
        )?;
        if kind == "function" {
            Ok(())
        } else {
            Err(format!("typeof io: {kind}"))
        }
    };
    step("socket.io-client loaded into the page", load_client)?;
    const SOCKET_IO: &str = r#"
        const [namespace, transports, done] = arguments;
        const socket = window.__io(location.origin + namespace, { transports, reconnection: false, forceNew: true });
        const timer = setTimeout(() => done({ error: "no answer within 5 s" }), 5000);
        socket.on("connect_error", (err) => { clearTimeout(timer); done({ refused: err.message }); });
        socket.on("connect", async () => {
            const me = await socket.timeout(5000).emitWithAck("whoami");
            clearTimeout(timer);
            socket.disconnect();
            done({ me, transport: socket.io.engine.transport.name });
        });
    "#;
    for (namespace, transports) in [
        ("/", json!(["polling", "websocket"])),
        ("/", json!(["websocket"])),
        ("/admin", json!(["websocket"])),
    ] {
        step(
            &format!(
                "Socket.IO from the page: the session cookie joins {namespace} over {transports}; whoami is alice"
            ),
            || {
                let got = b.script_async(SOCKET_IO, &[json!(namespace), transports.clone()])?;
                if got["me"]["sub"] != "alice" {
                    return Err(format!("{namespace}: {got}"));
                }
                Ok(())
            },
        )?;
    }
    step("alice signs out", || sign_out(b, &home, issuer))?;
    subprotocol_token(b, &home, issuer, OPEN_WS)?;
    step(
        "signed out: Socket.IO from the page is refused with token_missing",
        || {
            b.goto(&home)?;
            load_client()?;
            let got = b.script_async(SOCKET_IO, &[json!("/"), json!(["websocket"])])?;
            let refused: Value = got["refused"]
                .as_str()
                .and_then(|m| serde_json::from_str(m).ok())
                .ok_or_else(|| format!("expected a refusal: {got}"))?;
            if refused["code"] != "token_missing" {
                return Err(format!("refusal {refused}"));
            }
            Ok(())
        },
    )
}

/// Signed out, a token minted by the dev issuer opens `/ws` as a `Sec-WebSocket-Protocol` entry
/// beside the real subprotocol, which alone is echoed.
fn subprotocol_token(b: &Browser, home: &str, issuer: &str, open_ws: &str) -> Result<(), String> {
    step(
        "signed out: new WebSocket(url, [\"bearer.\" + token, \"chat\"]) opens /ws and selects chat",
        || {
            let minted: Value = Client::builder()
                .timeout(Duration::from_secs(5))
                .no_proxy()
                .build()
                .and_then(|c| {
                    c.post(format!("{issuer}/dev/mint"))
                        .json(&json!({"sub": "erin"}))
                        .send()
                })
                .and_then(|r| r.error_for_status())
                .and_then(|r| r.json())
                .map_err(|e| format!("POST {issuer}/dev/mint: {e}"))?;
            let token = minted["access_token"].as_str().ok_or("no access_token")?;
            b.goto(home)?;
            let protocols = json!([format!("bearer.{token}"), "chat"]);
            let got = b.script_async(open_ws, &[json!("/ws"), protocols])?;
            let first: Value = got["first"]
                .as_str()
                .and_then(|t| serde_json::from_str(t).ok())
                .ok_or_else(|| format!("/ws: {}", excerpt(&got.to_string(), 200)))?;
            if first["sub"] != "erin" || got["protocol"] != "chat" {
                return Err(format!("/ws: {}", excerpt(&got.to_string(), 200)));
            }
            Ok(())
        },
    )
}

/// The app's page without a session: a "Sign in" link, no user.
fn expect_signed_out(b: &Browser, home: &str) -> Result<(), String> {
    b.wait_for_url(home)?;
    let link = b.wait_visible("#sign-in")?;
    let text = b.text(&link)?;
    if text.trim() != "Sign in" {
        return Err(format!("#sign-in reads {text:?}, not \"Sign in\""));
    }
    let href = b.attribute(&link, "href")?;
    if href.as_deref() != Some("/auth/login") {
        return Err(format!("#sign-in links to {href:?}, not /auth/login"));
    }
    if b.find("#user-sub")?.is_some() || b.find("#sign-out")?.is_some() {
        return Err("the signed-out page shows a user or \"Sign out\"".into());
    }
    Ok(())
}

/// From the app's home page, "Sign in" to the issuer's login page; checks what it offers.
fn open_login_page(b: &Browser, home: &str, issuer: &str) -> Result<(), String> {
    if b.url()? != home {
        b.goto(home)?;
    }
    b.click("#sign-in")?;
    b.wait_for_url_prefix(&format!("{issuer}/"))?;
    b.wait_visible("#login-form")?;
    for css in [
        "#username",
        "#login-form #sign-in",
        "[data-user=\"alice\"]",
        "[data-user=\"bob\"]",
        "#cancel",
    ] {
        b.wait_visible(css)?;
    }
    let client = b.text(&b.wait_visible("#client-id")?)?;
    if client != "example-app" {
        return Err(format!("the login page names client {client:?}"));
    }
    let title = b.title()?;
    if !title.starts_with("Sign in") {
        return Err(format!("the login page's title is {title:?}"));
    }
    let focused = b.script(
        "return document.activeElement && document.activeElement.id;",
        &[],
    )?;
    if focused != "username" {
        return Err(format!(
            "the username field is not focused (active element: {focused})"
        ));
    }
    Ok(())
}

/// Back on the app's home page with `user` signed in and the issuer in the claims.
fn expect_signed_in(b: &Browser, home: &str, user: &str, issuer: &str) -> Result<(), String> {
    b.wait_for_url(home)?;
    let sub = b.text(&b.wait_visible("#user-sub")?)?;
    if sub != user {
        return Err(format!("#user-sub shows {sub:?}, not {user:?}"));
    }
    let claims = b.text(&b.wait_visible("#claims")?)?;
    let claims: Value = serde_json::from_str(&claims)
        .map_err(|e| format!("#claims is not JSON ({e}): {}", excerpt(&claims, 300)))?;
    if claims["iss"] != issuer {
        return Err(format!("#claims has iss {}, not {issuer}", claims["iss"]));
    }
    if claims["sub"] != user {
        return Err(format!("#claims has sub {}, not {user}", claims["sub"]));
    }
    b.wait_visible("#sign-out")?;
    if b.find("#sign-in")?.is_some() {
        return Err("the signed-in page still shows \"Sign in\"".into());
    }
    Ok(())
}

/// "Sign out" on the home page: the form posts to `/auth/signout`, the app sends the browser
/// to the issuer's logout, which sends it back to `/`.
fn sign_out(b: &Browser, home: &str, issuer: &str) -> Result<(), String> {
    if b.url()? != home {
        b.goto(home)?;
    }
    b.trail()?;
    b.click("#sign-out")?;
    expect_signed_out(b, home)?;
    // The issuer's logout was on the way, not just the app clearing its cookies.
    let trail = b.trail()?;
    expect_hops(
        &trail,
        &[
            ("POST", format!("{home}auth/signout")),
            ("GET", format!("{issuer}/logout")),
            ("GET", home.to_owned()),
        ],
    )
}

/// `want` (method, URL without query) appear in `trail` in this order.
fn expect_hops(trail: &[(String, String)], want: &[(&str, String)]) -> Result<(), String> {
    let mut rest = trail.iter();
    for (method, url) in want {
        if !rest
            .by_ref()
            .any(|(m, u)| m.as_str() == *method && u == url)
        {
            let seen: Vec<String> = trail.iter().map(|(m, u)| format!("{m} {u}")).collect();
            return Err(format!(
                "the browser did not {method} {url} (in order); it went: {}",
                seen.join(" → ")
            ));
        }
    }
    Ok(())
}

/// The app's cookies as the browser holds them: only names and flags are looked at.
fn check_session_cookies(b: &Browser) -> Result<(), String> {
    let cookies = b.cookies()?;
    let ours: Vec<&Value> = cookies
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| n.starts_with("auth.")))
        .collect();
    let names: Vec<&str> = ours.iter().filter_map(|c| c["name"].as_str()).collect();
    if !names.iter().any(|n| n.starts_with("auth.session")) {
        return Err(format!("no auth.session cookie (auth cookies: {names:?})"));
    }
    if let Some(flow) = names.iter().find(|n| n.starts_with("auth.flow")) {
        return Err(format!("the login's {flow} cookie outlived the callback"));
    }
    for c in ours {
        let name = c["name"].as_str().unwrap_or_default();
        let flags = format!(
            "httpOnly={} secure={} sameSite={} path={}",
            c["httpOnly"], c["secure"], c["sameSite"], c["path"]
        );
        if c["httpOnly"] != true || c["sameSite"] != "Lax" || c["path"] != "/" {
            return Err(format!("cookie {name}: {flags}"));
        }
        // Plain http on loopback: Secure cookies would not come back, so none are expected.
        if c["secure"] != false {
            return Err(format!("cookie {name} is Secure on http: {flags}"));
        }
    }
    Ok(())
}

/// What a JSON URL showed when the browser navigated to it.
#[derive(Debug)]
struct JsonPage {
    url: String,
    status: Option<u64>,
    text: String,
    body: Value,
}

impl JsonPage {
    fn status(&self, want: u64) -> Result<(), String> {
        if self.status == Some(want) {
            Ok(())
        } else {
            Err(format!(
                "{}: status {:?}, expected {want}: {}",
                self.url,
                self.status,
                excerpt(&self.text, 400)
            ))
        }
    }

    fn field(&self, name: &str, got: &Value, want: impl Into<Value>) -> Result<(), String> {
        let want = want.into();
        if *got == want {
            Ok(())
        } else {
            Err(format!(
                "{}: {name} is {got}, expected {want}: {}",
                self.url,
                excerpt(&self.text, 400)
            ))
        }
    }

    /// The error envelope `{"error":{"code":…}}` with `status`.
    fn error(&self, status: u64, code: &str) -> Result<(), String> {
        self.status(status)?;
        self.field("error.code", &self.body["error"]["code"], code)
    }
}

/// A W3C WebDriver session on chromedriver. Dropping it closes the browser and asks
/// chromedriver to exit.
struct Browser {
    http: Client,
    /// `http://127.0.0.1:{port}`.
    driver: String,
    /// `http://127.0.0.1:{port}/session/{id}`.
    session: String,
    version: String,
}

/// An element reference of the current page.
struct Element(String);

impl Browser {
    fn start(driver: &mut Process, port: u16, profile: &Path) -> Result<Self, String> {
        let http = Client::builder()
            .timeout(COMMAND_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
        loop {
            driver.check_running()?;
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .and_then(|r| r.json::<Value>())
                .is_ok_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "chromedriver did not become ready within {} s",
                    DRIVER_READY_TIMEOUT.as_secs()
                ));
            }
            sleep(POLL);
        }
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    // For `trail`: the requests behind each navigation, redirects included.
                    "goog:loggingPrefs": { "performance": "ALL" },
                    "timeouts": { "implicit": 0, "pageLoad": PAGE_LOAD_TIMEOUT_MS, "script": 10_000 },
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                }
            }
        });
        let response = http
            .post(format!("{base}/session"))
            .timeout(SESSION_TIMEOUT)
            .json(&capabilities)
            .send()
            .map_err(|e| format!("chromedriver: new session: {e}"))?;
        let value = webdriver_value("new session", response)?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("chromedriver: new session without an id: {value}"))?;
        let caps = &value["capabilities"];
        Ok(Browser {
            http,
            session: format!("{base}/session/{id}"),
            driver: base,
            version: format!(
                "{} {}",
                caps["browserName"].as_str().unwrap_or("chrome"),
                caps["browserVersion"].as_str().unwrap_or("?")
            ),
        })
    }

    fn command(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .map_err(|e| format!("webdriver {what}: {e}"))?;
        webdriver_value(&what, response)
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.command(Method::POST, path, Some(body))
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        self.command(Method::GET, path, None)
    }

    fn goto(&self, url: &str) -> Result<(), String> {
        self.post("/url", json!({ "url": url })).map(drop)
    }

    fn url(&self) -> Result<String, String> {
        Ok(self.get("/url")?.as_str().unwrap_or_default().to_owned())
    }

    fn title(&self) -> Result<String, String> {
        Ok(self.get("/title")?.as_str().unwrap_or_default().to_owned())
    }

    fn source(&self) -> Result<String, String> {
        Ok(self.get("/source")?.as_str().unwrap_or_default().to_owned())
    }

    /// The first element matching `css`, if any, now.
    fn find(&self, css: &str) -> Result<Option<Element>, String> {
        let found = self.post(
            "/elements",
            json!({ "using": "css selector", "value": css }),
        )?;
        Ok(found
            .as_array()
            .and_then(|all| all.first())
            .and_then(|e| e[ELEMENT_KEY].as_str())
            .map(|id| Element(id.to_owned())))
    }

    /// Waits until an element matching `css` is displayed.
    fn wait_visible(&self, css: &str) -> Result<Element, String> {
        self.wait(&format!("a visible {css}"), || {
            let Some(element) = self.find(css)? else {
                return Ok(None);
            };
            match self.get(&format!("/element/{}/displayed", element.0)) {
                Ok(Value::Bool(true)) => Ok(Some(element)),
                Ok(_) => Ok(None),
                // Found just before the page changed: look again.
                Err(e) if e.contains("stale element") => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn wait_for_url(&self, want: &str) -> Result<(), String> {
        self.wait(&format!("the URL {want}"), || {
            Ok((self.url()? == want).then_some(()))
        })
        .map_err(|e| self.with_url(e))
    }

    fn wait_for_url_prefix(&self, prefix: &str) -> Result<(), String> {
        self.wait(&format!("a URL under {prefix}"), || {
            Ok(self.url()?.starts_with(prefix).then_some(()))
        })
        .map_err(|e| self.with_url(e))
    }

    fn with_url(&self, e: String) -> String {
        match self.url() {
            Ok(url) => format!("{e} (the browser is at {url})"),
            Err(_) => e,
        }
    }

    /// Polls `probe` until it gives a value, for at most [`WAIT_TIMEOUT`].
    fn wait<T>(
        &self,
        what: &str,
        mut probe: impl FnMut() -> Result<Option<T>, String>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            if let Some(found) = probe()? {
                return Ok(found);
            }
            if Instant::now() > deadline {
                return Err(format!("no {what} after {} s", WAIT_TIMEOUT.as_secs()));
            }
            sleep(POLL);
        }
    }

    fn click(&self, css: &str) -> Result<(), String> {
        let element = self.wait_visible(css)?;
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .map(drop)
    }

    /// Clears the field matching `css` and types `text` into it.
    fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let element = self.wait_visible(css)?;
        self.post(&format!("/element/{}/clear", element.0), json!({}))?;
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .map(drop)
    }

    fn text(&self, element: &Element) -> Result<String, String> {
        Ok(self
            .get(&format!("/element/{}/text", element.0))?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    fn attribute(&self, element: &Element, name: &str) -> Result<Option<String>, String> {
        Ok(self
            .get(&format!("/element/{}/attribute/{name}", element.0))?
            .as_str()
            .map(str::to_owned))
    }

    fn script(&self, script: &str, args: &[Value]) -> Result<Value, String> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
    }

    /// Runs `script` with a callback as its last argument; the value it is called with.
    fn script_async(&self, script: &str, args: &[Value]) -> Result<Value, String> {
        self.post("/execute/async", json!({ "script": script, "args": args }))
    }

    /// Every cookie the browser would send to the current page, `HttpOnly` ones included.
    fn cookies(&self) -> Result<Vec<Value>, String> {
        Ok(self.get("/cookie")?.as_array().cloned().unwrap_or_default())
    }

    fn cookie_names(&self) -> Result<Vec<String>, String> {
        Ok(self
            .cookies()?
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect())
    }

    /// Navigates to `url` and reads the JSON the browser shows, with the HTTP status of the
    /// navigation (Navigation Timing's `responseStatus`).
    fn json_page(&self, url: &str) -> Result<JsonPage, String> {
        self.goto(url)?;
        let shown = self.script(
            "const nav = performance.getEntriesByType('navigation')[0];\
             const pre = document.querySelector('body > pre');\
             return { status: nav ? nav.responseStatus : null, type: document.contentType,\
                      text: pre ? pre.textContent : document.body.innerText };",
            &[],
        )?;
        let text = shown["text"].as_str().unwrap_or_default().to_owned();
        if shown["type"] != "application/json" {
            return Err(format!(
                "{url}: content type {}, not application/json: {}",
                shown["type"],
                excerpt(&text, 400)
            ));
        }
        let body = serde_json::from_str(&text)
            .map_err(|e| format!("{url}: not JSON ({e}): {}", excerpt(&text, 400)))?;
        Ok(JsonPage {
            url: url.to_owned(),
            status: shown["status"].as_u64(),
            text,
            body,
        })
    }

    /// The documents the browser requested (redirects included) since the last call: method
    /// and URL without its query (which may carry a code or an ID token), from Chromium's
    /// performance log.
    fn trail(&self) -> Result<Vec<(String, String)>, String> {
        let entries = self.post("/se/log", json!({ "type": "performance" }))?;
        let mut hops = Vec::new();
        for entry in entries.as_array().into_iter().flatten() {
            let Some(message) = entry["message"]
                .as_str()
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
            else {
                continue;
            };
            let event = &message["message"];
            if event["method"] != "Network.requestWillBeSent"
                || event["params"]["type"] != "Document"
            {
                continue;
            }
            let request = &event["params"]["request"];
            let url = request["url"].as_str().unwrap_or_default();
            let url = url.split(['?', '#']).next().unwrap_or_default();
            hops.push((
                request["method"].as_str().unwrap_or_default().to_owned(),
                url.to_owned(),
            ));
        }
        Ok(hops)
    }

    fn screenshot(&self, path: &Path) -> Result<(), String> {
        let png = self.get("/screenshot")?;
        let png = STANDARD
            .decode(png.as_str().unwrap_or_default())
            .map_err(|e| format!("screenshot: not base64: {e}"))?;
        fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closes Chromium, then chromedriver, which reaps Chromium's processes on its way out;
        // the `Process` guard kills whatever is left.
        let _ = self
            .http
            .delete(&self.session)
            .timeout(Duration::from_secs(10))
            .send();
        let _ = self
            .http
            .get(format!("{}/shutdown", self.driver))
            .timeout(Duration::from_secs(5))
            .send();
    }
}

/// The `value` of a WebDriver answer, or its error.
fn webdriver_value(what: &str, response: reqwest::blocking::Response) -> Result<Value, String> {
    let status = response.status();
    let body: Value = response
        .json()
        .map_err(|e| format!("webdriver {what}: {status}, no JSON: {e}"))?;
    let value = body["value"].clone();
    if status.is_success() {
        return Ok(value);
    }
    let message = value["message"].as_str().unwrap_or_default();
    Err(format!(
        "webdriver {what}: {}: {}",
        value["error"].as_str().unwrap_or("error"),
        message.lines().next().unwrap_or_default()
    ))
}

/// Saves `failure.png`, prints where the browser is with an excerpt of the page and the app's
/// last log lines. The caller prints the failing step.
fn report_failure(b: &Browser, out: &Path, app_log: &Path) {
    let shot = out.join("failure.png");
    match b.screenshot(&shot) {
        Ok(()) => eprintln!("e2e: screenshot of the failure: {}", shot.display()),
        Err(e) => eprintln!("e2e: no screenshot: {e}"),
    }
    match b.url() {
        Ok(url) => eprintln!("e2e: the browser is at {url}"),
        Err(e) => eprintln!("e2e: no current URL: {e}"),
    }
    match b.source() {
        Ok(source) => eprintln!("--- page source (excerpt) ---\n{}", excerpt(&source, 2000)),
        Err(e) => eprintln!("e2e: no page source: {e}"),
    }
    eprintln!(
        "--- last lines of {} ---\n{}",
        app_log.display(),
        tail(app_log, 25)
    );
    eprintln!("e2e: FAILED (the step and its error follow)");
}

/// Waits until the app says where its issuer is and answers `GET /`; returns the issuer URL.
pub(crate) fn wait_for_app(app: &mut Process, app_url: &str, log: &Path) -> Result<String, String> {
    let http = Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    let deadline = Instant::now() + APP_READY_TIMEOUT;
    loop {
        app.check_running()?;
        let issuer = fs::read_to_string(log).ok().and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("Development issuer: "))
                .map(|i| i.trim().to_owned())
        });
        let answers = http
            .get(format!("{app_url}/"))
            .send()
            .is_ok_and(|r| r.status().is_success());
        if let (Some(issuer), true) = (issuer, answers) {
            return Ok(issuer);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the example app did not answer GET {app_url}/ and name its dev issuer within {} s; \
                 its log:\n{}",
                APP_READY_TIMEOUT.as_secs(),
                tail(log, 25)
            ));
        }
        sleep(Duration::from_millis(200));
    }
}

/// The example app with its embedded dev issuer on 127.0.0.1:`port`, whatever the caller's
/// environment says about a provider; the dev issuer's `POST /dev/mint` is on, for the checks
/// that need a token of their own.
pub(crate) fn dev_app(app_binary: &Path, port: u16) -> Command {
    let mut command = Command::new(app_binary);
    for var in [
        "AUTH_ISSUER",
        "AUTH_AUDIENCE",
        "AUTH_CLIENT_ID",
        "AUTH_CLIENT_SECRET",
        "AUTH_COOKIE_SECRET",
        "AUTH_COOKIE_SECRET_OLD",
        "AUTH_LEEWAY_SECS",
        "APP_URL",
        "DATABASE_URL",
    ] {
        command.env_remove(var);
    }
    command
        .env("BIND", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("AUTH_DEV_MINT", "1")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    command
}

/// A child process with its output in a log file, killed (with its process group) on drop,
/// after `grace` to exit by itself.
pub(crate) struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
    grace: Duration,
}

impl Process {
    pub(crate) fn start(
        name: &'static str,
        mut command: Command,
        log: &Path,
        grace: Duration,
    ) -> Result<Self, String> {
        let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        // Its own process group, so that whatever it starts (chromedriver: Chromium) goes too.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start the {name} ({:?}): {e}", command.get_program()))?;
        Ok(Process {
            name,
            child,
            log: log.to_owned(),
            grace,
        })
    }

    /// `Err` when the process has ended.
    pub(crate) fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "the {} exited ({status}); its log:\n{}",
                self.name,
                tail(&self.log, 25)
            )),
            Err(e) => Err(format!("the {}: {e}", self.name)),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            sleep(POLL);
        }
        #[cfg(unix)]
        {
            // The group is ours: the child's id, given to it at spawn.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory, removed on drop (Chromium's profile).
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Result<Self, String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// At most `max` characters of `text`.
fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
