//! `cargo xtask interop`: the example app against a real, independently written OpenID
//! provider, over real HTTP on 127.0.0.1.
//!
//! The provider is `oidc-provider` (Node.js, OpenID Certified), configured by
//! `xtask/interop/provider.mjs`. The task installs its npm packages when they are missing,
//! builds `example-axum`, starts the app with `AUTH_ISSUER` pointing at the provider (the app
//! first, to see it answer 503 while the provider is down), and then plays a browser: sign in
//! through the provider's login and consent forms, call the APIs, refresh, sign out through the
//! provider's logout confirmation, and check that the refresh token was revoked upstream.
//!
//! Each step prints `ok: …`. The first failure stops the run: the last lines of both servers'
//! logs (in `<target>/interop/`), then the step, the status and an excerpt of the body (never a
//! token or a cookie value). Both servers are killed when the task ends, whatever the outcome.
//! Every wait is bounded. See `xtask/interop/README.md`.
//!
//! Then the official Socket.IO client runs against example-axum (see [`crate::socketio`]).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::blocking::{Client, Response};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{ACCEPT, COOKIE, LOCATION, ORIGIN, RETRY_AFTER, SET_COOKIE};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::root;
use crate::support::{build_apps, build_bin, free_port, tail, target_subdir};

/// The client `provider.mjs` registers (passed to both sides, so they agree).
const CLIENT_ID: &str = "interop-app";
const CLIENT_SECRET: &str = "interop-secret";
/// The resource (RFC 8707) the provider issues access tokens for: their `aud`.
const AUDIENCE: &str = "urn:interop:api";
/// Seals the app's cookies for this run (any 32+ characters).
const COOKIE_SECRET: &str = "interop-run-cookie-secret-0123456789abcdef";
/// `provider.mjs` gives this user the `admin` role; devInteractions accept any password.
const USER: &str = "alice";
/// Short enough to see the app refresh an expiring session by itself (5 s before expiry).
const ACCESS_TOKEN_TTL_SECS: u64 = 10;
/// Requests sent at once with an expiring session.
const PARALLEL_REQUESTS: usize = 5;

const PROVIDER_READY_TIMEOUT: Duration = Duration::from_secs(20);
const APP_READY_TIMEOUT: Duration = Duration::from_secs(60);
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(20);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 10;

pub(crate) fn run() -> Result<(), String> {
    let dir = root().join("xtask/interop");
    npm_install(&dir)?;
    let apps = build_apps()?;
    let call_api = build_bin("example-shared", "call-api")?;
    let auth_cli = build_bin("auth-cli", "auth")?;
    let axum = apps
        .iter()
        .find(|(name, _)| *name == "example-axum")
        .map(|(_, binary)| binary)
        .ok_or("cargo built no example-axum executable")?;
    println!("== interop: openid-client and example-axum against our provider (auth dev-issuer)");
    our_provider(&dir, axum, &auth_cli)?;
    for (name, app_binary) in &apps {
        println!("== interop: {name} against oidc-provider");
        run_one(&dir, name, app_binary.clone(), &call_api, &auth_cli)?;
    }
    println!("== interop: example-axum's Socket.IO against socket.io-client");
    crate::socketio::run(&dir, axum)
}

/// Our provider (`auth dev-issuer --dcr --db`) driven by independent and by our own relying
/// parties: panva's openid-client (certified; `rp.mjs`: discovery, registration, code + PKCE
/// through the login and consent pages, refresh rotation and reuse, userinfo, revocation,
/// introspection), then example-axum's session engine signing in through the dev login page,
/// and the same session after the provider restarted on its database.
fn our_provider(dir: &Path, app_binary: &Path, auth_cli: &Path) -> Result<(), String> {
    const APP_CLIENT: &str = "interop-app";
    const APP_SECRET: &str = "interop-app-secret-0123456789";
    let logs = target_subdir("interop/provider")?;
    let started = Instant::now();
    let provider_port = free_port()?;
    let app_port = free_port()?;
    let app_url = format!("http://127.0.0.1:{app_port}");
    let issuer = format!("http://127.0.0.1:{provider_port}");
    let db = logs.join("provider.db");
    for stale in [db.clone(), logs.join("provider.db.keys.json")] {
        let _ = fs::remove_file(stale);
    }
    let provider_log = logs.join("provider.log");
    let start_provider = |log: &Path| {
        let mut command = Command::new(auth_cli);
        command
            .args(["dev-issuer", "--dcr", "--port", &provider_port.to_string()])
            .args(["--audience", AUDIENCE])
            .arg("--client")
            .arg(format!("{APP_CLIENT}:{APP_SECRET}:{app_url}/auth/callback"))
            .arg("--db")
            .arg(&db)
            .env("NO_COLOR", "1");
        let mut provider = Server::start("provider", command, log)?;
        provider.wait_for_line("db: ", PROVIDER_READY_TIMEOUT)?;
        Ok::<_, String>(provider)
    };
    let provider = start_provider(&provider_log)?;
    ok(&format!(
        "auth dev-issuer --dcr --db listening, issuer {issuer}"
    ));

    eprintln!("$ (cd xtask/interop && node rp.mjs {issuer})");
    let status = Command::new("node")
        .arg("rp.mjs")
        .arg(&issuer)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run node (Node.js 20.19+ is required): {e}"))?;
    if !status.success() {
        eprintln!(
            "--- last lines of {} ---\n{}",
            provider_log.display(),
            tail(&provider_log, 25)
        );
        return Err(format!(
            "openid-client against our provider failed ({status})"
        ));
    }

    // Our own relying party: example-axum's session engine.
    let app_log = logs.join("app.log");
    let mut app = Command::new(app_binary);
    app.env_remove("AUTH_JWKS_URI")
        .env_remove("AUTH_COOKIE_SECRET_OLD")
        .env_remove("AUTH_LEEWAY_SECS")
        .env("AUTH_ISSUER", &issuer)
        .env("AUTH_AUDIENCE", AUDIENCE)
        .env("AUTH_CLIENT_ID", APP_CLIENT)
        .env("AUTH_CLIENT_SECRET", APP_SECRET)
        .env("AUTH_COOKIE_SECRET", COOKIE_SECRET)
        .env("APP_URL", &app_url)
        .env("PORT", app_port.to_string())
        .env("BIND", "127.0.0.1")
        .env("NO_COLOR", "1");
    let mut servers = vec![Server::start("app", app, &app_log)?, provider];
    let app = Url::parse(&app_url).map_err(|e| e.to_string())?;
    let browser = Browser::new(app.clone(), Url::parse(&issuer).map_err(|e| e.to_string())?)?;
    let at = |path: &str| app.join(path).map_err(|e| e.to_string());
    let result = (|| {
        wait_for_app(&browser, servers.first_mut(), &at("/")?)?;
        let step = "sign in through the dev login page";
        let login = browser.get(&at("/auth/login?return_to=/api/me")?)?;
        let page = browser.follow_to_page(step, login)?;
        let page_url = page.url().clone();
        let html = text(page);
        if !html.contains("id=\"login-form\"") {
            return Err(format!(
                "{step}: not the dev login page: {}",
                excerpt(&html)
            ));
        }
        let signed_in = browser.submit_form(step, &page_url, &html, &[("user", USER)])?;
        let me = json(step, browser.follow_to_page(step, signed_in)?)?;
        if me["sub"] != USER {
            return Err(format!("{step}: /api/me says {me}"));
        }
        ok("example-axum signs alice in through our provider's login page; /api/me -> 200");

        // The provider restarts on its database: the session goes on.
        servers.truncate(1);
        let restarted = start_provider(&logs.join("provider-restarted.log"))?;
        servers.push(restarted);
        let step = "GET /api/me after the provider restarted";
        let me = json(
            step,
            expect(step, browser.get(&at("/api/me")?)?, StatusCode::OK)?,
        )?;
        if me["sub"] != USER {
            return Err(format!("{step}: /api/me says {me}"));
        }
        ok("the provider restarted on its database; the session still works");
        Ok(())
    })();
    if result.is_err() {
        for log in [&provider_log, &app_log] {
            eprintln!("--- last lines of {} ---\n{}", log.display(), tail(log, 25));
        }
    }
    drop(servers);
    result?;
    println!(
        "interop: our provider against openid-client and example-axum: all steps passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The whole journey for one example app, with its own provider.
fn run_one(
    dir: &std::path::Path,
    name: &str,
    app_binary: PathBuf,
    call_api: &Path,
    auth_cli: &Path,
) -> Result<(), String> {
    let dir = dir.to_path_buf();
    let logs = target_subdir(&format!("interop/{name}"))?;

    let provider_port = free_port()?;
    let app_port = free_port()?;
    let setup = Setup {
        dir,
        app_binary,
        call_api: call_api.to_path_buf(),
        auth_cli: auth_cli.to_path_buf(),
        provider_log: logs.join("provider.log"),
        app_log: logs.join("app.log"),
        issuer: format!("http://127.0.0.1:{provider_port}"),
        provider_port,
        app_url: format!("http://127.0.0.1:{app_port}"),
        app_port,
    };

    let started = Instant::now();
    // The guards in `servers` kill both children when dropped, on success and on failure.
    let mut servers = Vec::new();
    let result = scenario(&setup, &mut servers);
    if result.is_err() {
        for log in [&setup.provider_log, &setup.app_log] {
            eprintln!("--- last lines of {} ---\n{}", log.display(), tail(log, 25));
        }
    }
    drop(servers);
    result?;
    println!(
        "interop: {name}: all steps passed in {:.1} s (logs in {})",
        started.elapsed().as_secs_f64(),
        logs.display()
    );
    Ok(())
}

/// Where everything runs.
#[derive(Debug)]
struct Setup {
    dir: PathBuf,
    app_binary: PathBuf,
    /// The `call-api` example binary (a service calling the app with `ServiceClient`).
    call_api: PathBuf,
    /// The `auth` binary (for `auth doctor`).
    auth_cli: PathBuf,
    provider_log: PathBuf,
    app_log: PathBuf,
    issuer: String,
    provider_port: u16,
    app_url: String,
    app_port: u16,
}

fn ok(what: &str) {
    println!("ok: {what}");
}

/// The whole journey. Started servers go into `servers`, which outlives this function.
fn scenario(setup: &Setup, servers: &mut Vec<Server>) -> Result<(), String> {
    let app_url = Url::parse(&setup.app_url).map_err(|e| e.to_string())?;
    let issuer = Url::parse(&setup.issuer).map_err(|e| e.to_string())?;
    let browser = Browser::new(app_url.clone(), issuer.clone())?;
    let at = |path: &str| app_url.join(path).map_err(|e| e.to_string());

    // 1. The app starts while its provider is down, and says so with 503 rather than failing.
    let mut app = Command::new(&setup.app_binary);
    app.env_remove("AUTH_JWKS_URI")
        .env_remove("AUTH_COOKIE_SECRET_OLD")
        .env_remove("AUTH_LEEWAY_SECS")
        .env("AUTH_ISSUER", &setup.issuer)
        // Opaque tokens (the provider's `urn:interop:api:opaque` resource) are introspected
        // with the app's own client; JWTs are still verified locally.
        .env("AUTH_AUDIENCE", format!("{AUDIENCE},{AUDIENCE}:opaque"))
        .env("AUTH_TOKEN_FORMAT", "auto")
        // DPoP proofs need the app's nonce: openid-client must follow `use_dpop_nonce`.
        .env("AUTH_DPOP_NONCE", "1")
        .env("AUTH_CLIENT_ID", CLIENT_ID)
        .env("AUTH_CLIENT_SECRET", CLIENT_SECRET)
        .env("AUTH_COOKIE_SECRET", COOKIE_SECRET)
        .env("APP_URL", &setup.app_url)
        .env("PORT", setup.app_port.to_string())
        .env("BIND", "127.0.0.1")
        .env("NO_COLOR", "1")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        );
    servers.push(Server::start("app", app, &setup.app_log)?);
    wait_for_app(&browser, servers.last_mut(), &at("/")?)?;
    ok(&format!(
        "app started on {} (provider not running yet)",
        setup.app_url
    ));

    let step = "sign-in while the provider is down";
    let response = browser.get(&at("/auth/login?return_to=/api/me")?)?;
    let response = expect(step, response, StatusCode::SERVICE_UNAVAILABLE)?;
    if response.headers().get(RETRY_AFTER).is_none() {
        return Err(format!("{step}: 503 without Retry-After"));
    }
    ok("GET /auth/login with the provider down -> 503 with Retry-After");

    // 2. The provider comes up; the app recovers without a restart.
    let mut provider = Command::new("node");
    provider
        .arg("provider.mjs")
        .arg(setup.provider_port.to_string())
        .current_dir(&setup.dir)
        .env("APP_URL", &setup.app_url)
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("API_AUDIENCE", AUDIENCE)
        .env("SERVICE_KEY_FILE", service_key_file(setup))
        .env("ACCESS_TOKEN_TTL", ACCESS_TOKEN_TTL_SECS.to_string());
    let mut provider = Server::start("provider", provider, &setup.provider_log)?;
    let announced = provider.wait_for_line("READY ", PROVIDER_READY_TIMEOUT)?;
    servers.push(provider);
    if announced.trim() != format!("READY {}", setup.issuer) {
        return Err(format!(
            "provider announced {announced:?}, expected issuer {}",
            setup.issuer
        ));
    }
    ok(&format!("oidc-provider listening, issuer {}", setup.issuer));

    // The operators' check of this very configuration passes against a real provider.
    let step = "auth doctor";
    let doctor = Command::new(&setup.auth_cli)
        .args(["doctor", "--json"])
        .env_clear()
        .env("AUTH_ISSUER", &setup.issuer)
        .env("AUTH_AUDIENCE", AUDIENCE)
        .env("AUTH_CLIENT_ID", CLIENT_ID)
        .env("AUTH_CLIENT_SECRET", CLIENT_SECRET)
        .env("AUTH_COOKIE_SECRET", COOKIE_SECRET)
        .env("APP_URL", &setup.app_url)
        .output()
        .map_err(|e| format!("{step}: cannot run {}: {e}", setup.auth_cli.display()))?;
    let report: Value = serde_json::from_slice(&doctor.stdout).unwrap_or(Value::Null);
    if !doctor.status.success() || report["ok"] != true {
        return Err(format!(
            "{step}: {} {}",
            doctor.status,
            excerpt(&String::from_utf8_lossy(&doctor.stdout))
        ));
    }
    let leaked = [CLIENT_SECRET, COOKIE_SECRET]
        .iter()
        .any(|s| String::from_utf8_lossy(&doctor.stdout).contains(s));
    if leaked {
        return Err(format!("{step}: printed a secret"));
    }
    ok("auth doctor: every check passes against oidc-provider (no secret printed)");

    let step = "GET /api/me signed out";
    expect(
        step,
        browser.get(&at("/api/me")?)?,
        StatusCode::UNAUTHORIZED,
    )?;
    ok("GET /api/me signed out -> 401");

    // 3. Sign in: the app sends the browser to the provider's authorization endpoint.
    let step = "GET /auth/login once the provider is up";
    let deadline = Instant::now() + RECOVERY_TIMEOUT;
    let login = loop {
        let response = browser.get(&at("/auth/login?return_to=/api/me")?)?;
        if response.status() != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break expect(step, response, StatusCode::SEE_OTHER)?;
        }
        sleep(Duration::from_millis(250));
    };
    let authorize = location(step, &login)?;
    if !same_origin(&authorize, &issuer) || authorize.path() != "/auth" {
        return Err(format!(
            "{step}: redirected to {}, expected {issuer}auth",
            show(&authorize)
        ));
    }
    let query = |name: &str| {
        authorize
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let checks = [
        (
            "response_type",
            query("response_type").as_deref() == Some("code"),
        ),
        (
            "client_id",
            query("client_id").as_deref() == Some(CLIENT_ID),
        ),
        (
            "redirect_uri",
            query("redirect_uri") == Some(format!("{}/auth/callback", setup.app_url)),
        ),
        (
            "code_challenge_method",
            query("code_challenge_method").as_deref() == Some("S256"),
        ),
        ("code_challenge", query("code_challenge").is_some()),
        ("state", query("state").is_some()),
        ("nonce", query("nonce").is_some()),
        (
            "scope",
            query("scope").is_some_and(|s| s.split(' ').any(|s| s == "openid")),
        ),
    ];
    if let Some((name, _)) = checks.iter().find(|(_, good)| !good) {
        return Err(format!(
            "{step}: authorization request has a wrong or missing `{name}` ({})",
            show(&authorize)
        ));
    }
    ok("GET /auth/login -> 303 to the provider (code, PKCE S256, state, nonce, openid)");

    // 4. The provider's login form, then its consent form (devInteractions).
    let step = "provider login page";
    let page = browser.follow_to_page(step, browser.get(&authorize)?)?;
    let (page_url, html) = (page.url().clone(), text(page));
    if !html.contains(r#"name="prompt" value="login""#) {
        return Err(format!(
            "{step}: no login form at {}: {}",
            show(&page_url),
            excerpt(&html)
        ));
    }
    let submitted = browser.submit_form(
        step,
        &page_url,
        &html,
        &[("login", USER), ("password", "any password")],
    )?;
    ok(&format!("signed in at the provider as {USER}"));

    let step = "provider consent page";
    let page = browser.follow_to_page(step, submitted)?;
    let (page_url, html) = (page.url().clone(), text(page));
    if !html.contains(r#"name="prompt" value="consent""#) {
        return Err(format!(
            "{step}: no consent form at {}: {}",
            show(&page_url),
            excerpt(&html)
        ));
    }
    let submitted = browser.submit_form(step, &page_url, &html, &[])?;
    ok("consented at the provider");

    // 5. Back at the app's callback, with the RFC 9207 `iss` the provider advertises.
    let step = "redirect to the app's callback";
    let callback = browser.follow_until(step, submitted, |url| same_origin(url, &app_url))?;
    let param = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if callback.path() != "/auth/callback"
        || param("code").is_none()
        || param("state").is_none()
        || param("iss").as_deref() != Some(setup.issuer.as_str())
    {
        return Err(format!(
            "{step}: expected /auth/callback with code, state and iss={}, got {}",
            setup.issuer,
            show(&callback)
        ));
    }
    ok("provider -> 303 to /auth/callback with code, state and iss");

    let step = "GET /auth/callback";
    let response = expect(step, browser.get(&callback)?, StatusCode::SEE_OTHER)?;
    let to = location(step, &response)?;
    if to != at("/api/me")? {
        return Err(format!(
            "{step}: redirected to {}, expected the return_to /api/me",
            show(&to)
        ));
    }
    // From the jar, not the response: a Set-Cookie may also clear a cookie.
    let jar = browser.app_cookie_names();
    for name in ["auth.session", "auth.refresh"] {
        if !jar
            .iter()
            .any(|n| n == name || n.starts_with(&format!("{name}.")))
        {
            let hint = if name == "auth.refresh" {
                " (the provider issued no refresh token)"
            } else {
                ""
            };
            return Err(format!(
                "{step}: no {name} cookie after the callback{hint}; cookies: {jar:?}"
            ));
        }
    }
    ok("GET /auth/callback -> session cookies set, 303 to /api/me");

    // 6. Signed in: the app verifies the provider's RFC 9068 access token.
    let me = check_me(&browser, &at("/api/me")?, &setup.issuer)?;
    ok(&format!(
        "GET /api/me -> 200, sub {USER}, roles {}, iss and aud from the provider",
        me["roles"]
    ));
    let step = "GET /api/admin";
    expect(step, browser.get(&at("/api/admin")?)?, StatusCode::OK)?;
    ok("GET /api/admin -> 200 (role admin from the provider)");

    // Step-up (RFC 9470): a sign-in at most 60 s old, asked for with `max_age`. oidc-provider's
    // access tokens carry no `auth_time`: the session's ID token's is what the guard reads.
    let step = "step-up sign-in with max_age=60";
    let response = expect(
        step,
        browser.get(&at("/auth/login?max_age=60&return_to=/api/step-up")?)?,
        StatusCode::SEE_OTHER,
    )?;
    let authorize = location(step, &response)?;
    if !authorize
        .query_pairs()
        .any(|(k, v)| k == "max_age" && v == "60")
    {
        return Err(format!("{step}: no max_age in {}", show(&authorize)));
    }
    let callback = browser.follow_until(step, browser.get(&authorize)?, |url| {
        same_origin(url, &app_url)
    })?;
    let to = location(
        step,
        &expect(step, browser.get(&callback)?, StatusCode::SEE_OTHER)?,
    )?;
    if to != at("/api/step-up")? {
        return Err(format!("{step}: redirected to {}", show(&to)));
    }
    let step = "GET /api/step-up";
    let body = json(
        step,
        expect(step, browser.get(&at("/api/step-up")?)?, StatusCode::OK)?,
    )?;
    if body["auth_time"].as_i64().is_none() {
        return Err(format!("{step}: no auth_time in {body}"));
    }
    ok(
        "step-up: /auth/login?max_age=60 through the provider, then GET /api/step-up -> 200 (auth_time from the ID token)",
    );
    let step = "GET /api/optional";
    let body = json(
        step,
        expect(step, browser.get(&at("/api/optional")?)?, StatusCode::OK)?,
    )?;
    if body["authenticated"] != Value::Bool(true) {
        return Err(format!("{step}: expected authenticated true, got {body}"));
    }
    ok("GET /api/optional -> authenticated true");
    let step = "GET /auth/me";
    let body = json(
        step,
        expect(step, browser.get(&at("/auth/me")?)?, StatusCode::OK)?,
    )?;
    if body["data"]["user"]["sub"].as_str() != Some(USER) {
        return Err(format!("{step}: expected user {USER}"));
    }
    // oidc-provider serves profile claims only from userinfo: the SDK fetched them at sign-in.
    if !body["data"]["user"]["email"].is_string() {
        return Err(format!(
            "{step}: expected the email from userinfo, got {}",
            body["data"]["user"]
        ));
    }
    ok("GET /auth/me -> 200 with the user and the email from userinfo");

    // 7. Refresh: the provider rotates the refresh token on every use.
    let step = "POST /auth/refresh from a foreign origin";
    let response = browser
        .client
        .post(at("/auth/refresh")?)
        .header(ORIGIN, "http://attacker.example")
        .send()
        .map_err(|e| format!("{step}: {e}"))?;
    expect(step, response, StatusCode::FORBIDDEN)?;
    ok("POST /auth/refresh with a foreign Origin -> 403");

    let step = "POST /auth/refresh";
    let before = browser.app_cookies("auth.refresh");
    let response = expect(
        step,
        browser.post(&at("/auth/refresh")?, &[])?,
        StatusCode::OK,
    )?;
    let set = set_cookie_names(&response);
    let body = json(step, response)?;
    let expires_at = body["data"]["expiresAt"].as_u64();
    if body["success"] != Value::Bool(true) || expires_at.is_none() {
        return Err(format!(
            "{step}: expected success and expiresAt, got {}",
            excerpt(&body.to_string())
        ));
    }
    let after = browser.app_cookies("auth.refresh");
    if !set.iter().any(|s| s.starts_with("auth.refresh")) || after.is_empty() || after == before {
        return Err(format!("{step}: no new refresh cookie (set: {set:?})"));
    }
    ok("POST /auth/refresh -> 200 with new session and refresh cookies");
    let refreshed = check_me(&browser, &at("/api/me")?, &setup.issuer)?;
    if refreshed["claims"]["jti"] == me["claims"]["jti"] {
        return Err("GET /api/me after refresh: still the first access token (same jti)".into());
    }
    ok("GET /api/me with the refreshed session -> 200, a new access token");

    // A request that left the browser before the new cookies arrived carries the rotated
    // refresh token. oidc-provider treats reuse of a rotated token as theft and revokes the
    // grant, so the app must answer it from its grace window without asking the provider (the
    // later steps fail if the grant was revoked).
    let step = "POST /auth/refresh with the just-rotated refresh cookie";
    let response = bare_client()?
        .post(at("/auth/refresh")?)
        .header(COOKIE, &before)
        .send()
        .map_err(|e| format!("{step}: {e}"))?;
    expect(step, response, StatusCode::OK)?;
    ok("POST /auth/refresh with the rotated refresh cookie, in the grace window -> 200");

    // 8. The app refreshes an expiring session by itself, on an ordinary request.
    let step = "GET /api/me with an expiring access token";
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    // The engine refreshes within 5 s of expiry: wait until 4 s before it (at most the TTL).
    let wait = expires_at.unwrap_or(now).saturating_sub(now + 4);
    sleep(Duration::from_secs(wait.min(ACCESS_TOKEN_TTL_SECS)));
    let before = browser.app_cookies("auth.refresh");
    // Several requests at once, as a page loading its data: one refresh at the provider must
    // serve them all (a second one would reuse a rotated token and revoke the grant).
    let me_url = at("/api/me")?;
    let answers: Vec<Result<(Vec<String>, Value), String>> = std::thread::scope(|scope| {
        let requests: Vec<_> = (0..PARALLEL_REQUESTS)
            .map(|_| {
                scope.spawn(|| {
                    let response = expect(step, browser.get(&me_url)?, StatusCode::OK)?;
                    let set = set_cookie_names(&response);
                    Ok((set, json(step, response)?))
                })
            })
            .collect();
        requests
            .into_iter()
            .map(|r| {
                r.join()
                    .unwrap_or_else(|_| Err(format!("{step}: panicked")))
            })
            .collect()
    });
    let answers = answers.into_iter().collect::<Result<Vec<_>, _>>()?;
    let jtis: Vec<&Value> = answers
        .iter()
        .map(|(_, body)| &body["claims"]["jti"])
        .collect();
    if !answers
        .iter()
        .any(|(set, _)| set.iter().any(|s| s.starts_with("auth.session")))
        || jtis
            .iter()
            .any(|jti| *jti == &refreshed["claims"]["jti"] || *jti != jtis[0])
        || browser.app_cookies("auth.refresh") == before
    {
        return Err(format!(
            "{step}: expected one transparent refresh serving all {PARALLEL_REQUESTS} requests \
             (new cookies, one new access token)"
        ));
    }
    ok(&format!(
        "{PARALLEL_REQUESTS} parallel GET /api/me {wait} s later, near expiry -> all 200, one \
         transparent refresh (new cookies)"
    ));
    check_me(&browser, &me_url, &setup.issuer)?;
    ok("GET /api/me after the transparent refresh -> 200");

    // 9. Sign out: the app revokes the refresh token (RFC 7009), clears its cookies and sends
    //    the browser to the provider's end_session_endpoint (RP-initiated logout).
    let step = "POST /auth/signout";
    // The current refresh token, never used yet: only revocation can make it fail later.
    let refresh_cookie = browser.app_cookies("auth.refresh");
    let response = expect(
        step,
        browser.post(&at("/auth/signout")?, &[])?,
        StatusCode::SEE_OTHER,
    )?;
    let end_session = location(step, &response)?;
    let param = |name: &str| {
        end_session
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if !same_origin(&end_session, &issuer)
        || end_session.path() != "/session/end"
        || param("id_token_hint").is_none()
        || param("client_id").as_deref() != Some(CLIENT_ID)
        || param("post_logout_redirect_uri") != Some(format!("{}/", setup.app_url))
    {
        return Err(format!(
            "{step}: expected the provider's /session/end with id_token_hint, client_id and \
             post_logout_redirect_uri={}/, got {}",
            setup.app_url,
            show(&end_session)
        ));
    }
    let left = browser.app_cookie_names();
    if left.iter().any(|n| n.starts_with("auth.")) {
        return Err(format!("{step}: cookies left behind: {left:?}"));
    }
    ok("POST /auth/signout -> cookies cleared, 303 to the provider's end_session_endpoint");

    // The refresh token is dead at the provider, not only forgotten by the browser: replay the
    // last refresh cookie from a clean client.
    let step = "refresh with the signed-out refresh cookie";
    let response = bare_client()?
        .post(at("/auth/refresh")?)
        .header(COOKIE, &refresh_cookie)
        .send()
        .map_err(|e| format!("{step}: {e}"))?;
    // `invalid_grant` is the provider's answer; an unreadable cookie would be `session_expired`.
    let body = text(expect(step, response, StatusCode::UNAUTHORIZED)?);
    if !body.contains("\"invalid_grant\"") {
        return Err(format!(
            "{step}: expected the provider's invalid_grant, got {}",
            excerpt(&body)
        ));
    }
    ok("POST /auth/refresh with the old refresh cookie -> 401 invalid_grant (revoked upstream)");

    let step = "provider logout confirmation";
    let page = browser.follow_to_page(step, browser.get(&end_session)?)?;
    let (page_url, html) = (page.url().clone(), text(page));
    if !html.contains("op.logoutForm") {
        return Err(format!(
            "{step}: no logout form at {}: {}",
            show(&page_url),
            excerpt(&html)
        ));
    }
    let submitted = browser.submit_form(step, &page_url, &html, &[("logout", "yes")])?;
    let back = browser.follow_until(step, submitted, |url| same_origin(url, &app_url))?;
    if back != at("/")? {
        return Err(format!(
            "{step}: expected a redirect to {}/, got {}",
            setup.app_url,
            show(&back)
        ));
    }
    let step = "GET / signed out";
    let home = text(expect(step, browser.get(&back)?, StatusCode::OK)?);
    if !home.contains("id=\"sign-in\"") {
        return Err(format!("{step}: no Sign in link: {}", excerpt(&home)));
    }
    ok("provider logout confirmed -> 303 to the app's / (signed out)");

    let step = "GET /api/me after sign-out";
    expect(
        step,
        browser.get(&at("/api/me")?)?,
        StatusCode::UNAUTHORIZED,
    )?;
    ok("GET /api/me after sign-out -> 401");

    // The provider's session is over too: signing in again asks for a login.
    let step = "sign in again";
    let login = expect(
        step,
        browser.get(&at("/auth/login")?)?,
        StatusCode::SEE_OTHER,
    )?;
    let page = browser.follow_to_page(step, browser.get(&location(step, &login)?)?)?;
    let html = text(page);
    if !html.contains(r#"name="prompt" value="login""#) {
        return Err(format!(
            "{step}: expected the provider's login form, got {}",
            excerpt(&html)
        ));
    }
    ok("signing in again shows the provider's login form (provider session ended)");

    // A service calls the API with the provider's client-credentials tokens, obtained by the
    // SDK's ServiceClient (the `call-api` example binary): a JWT, then an opaque token the
    // app introspects at the provider, both with a client secret; then a JWT for a client that
    // authenticates with private_key_jwt (a key the provider generated, its kid the RFC 7638
    // thumbprint the provider computed).
    let key_file = service_key_file(setup);
    let key_file = key_file.to_string_lossy();
    let secret = [
        ("AUTH_CLIENT_ID", "interop-service"),
        ("AUTH_CLIENT_SECRET", "interop-service-secret"),
    ];
    let key = [
        ("AUTH_CLIENT_ID", "interop-service-key"),
        ("AUTH_CLIENT_KEY_FILE", &*key_file),
    ];
    for (resource, kind, credentials) in [
        (AUDIENCE.to_owned(), "a JWT", &secret),
        (
            format!("{AUDIENCE}:opaque"),
            "an opaque token, introspected",
            &secret,
        ),
        (
            AUDIENCE.to_owned(),
            "a JWT, client authenticated with private_key_jwt",
            &key,
        ),
    ] {
        let step = format!("call-api with {kind}");
        let client_id = credentials[0].1;
        let output = Command::new(&setup.call_api)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AUTH_ISSUER", &setup.issuer)
            .envs(credentials.iter().copied())
            .env("AUTH_CLIENT_RESOURCE", &resource)
            .env("APP_URL", &setup.app_url)
            .output()
            .map_err(|e| format!("{step}: cannot run {}: {e}", setup.call_api.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let body: Value = stdout
            .split_once('\n')
            .and_then(|(_, json)| serde_json::from_str(json.trim()).ok())
            .unwrap_or(Value::Null);
        // RFC 7662 makes `sub` optional: oidc-provider leaves it out of a client-credentials
        // token's introspection answer. `client_id` is in both.
        if !output.status.success() || body["claims"]["client_id"] != client_id {
            return Err(format!(
                "{step}: {} {}{}",
                output.status,
                excerpt(&stdout),
                excerpt(&String::from_utf8_lossy(&output.stderr))
            ));
        }
        ok(&format!(
            "a service token from the provider ({kind}) reaches GET /api/me (client_id {client_id})"
        ));
    }

    // DPoP and RFC 9728 with independent parts: openid-client discovers the provider from the
    // app's 401, gets a DPoP-bound token from oidc-provider and calls the app with its proofs.
    eprintln!(
        "$ (cd xtask/interop && node dpop.mjs {} {} {AUDIENCE})",
        setup.issuer, setup.app_url
    );
    let status = Command::new("node")
        .arg("dpop.mjs")
        .args([setup.issuer.as_str(), setup.app_url.as_str(), AUDIENCE])
        .current_dir(&setup.dir)
        .status()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !status.success() {
        return Err(format!(
            "openid-client's DPoP requests against the app failed ({status})"
        ));
    }
    Ok(())
}

/// Where the provider writes the private key of its `private_key_jwt` service client.
fn service_key_file(setup: &Setup) -> PathBuf {
    setup.provider_log.with_file_name("service-key.pem")
}

/// `GET /api/me`: 200 with the user, the roles and the provider's `iss` and `aud`.
fn check_me(browser: &Browser, url: &Url, issuer: &str) -> Result<Value, String> {
    let step = "GET /api/me";
    let me = json(step, expect(step, browser.get(url)?, StatusCode::OK)?)?;
    let aud = &me["claims"]["aud"];
    let has_audience = aud.as_str() == Some(AUDIENCE)
        || aud
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == AUDIENCE));
    let has_admin = me["roles"]
        .as_array()
        .is_some_and(|r| r.iter().any(|v| v == "admin"));
    if me["sub"].as_str() != Some(USER)
        || me["claims"]["iss"].as_str() != Some(issuer)
        || !has_audience
        || !has_admin
    {
        return Err(format!(
            "{step}: expected sub {USER}, role admin, iss {issuer} and aud {AUDIENCE}; got sub \
             {}, roles {}, iss {}, aud {aud}",
            me["sub"], me["roles"], me["claims"]["iss"]
        ));
    }
    Ok(me)
}

/// A browser: one cookie jar, redirects followed by hand so that every hop can be checked.
///
/// Both servers listen on 127.0.0.1, and cookies do not distinguish ports (RFC 6265 §8.5), so
/// the jar sends each server the other's cookies too, as a real browser would. Their names do
/// not collide (`auth.*` for the app, `_session`, `_interaction*` for the provider).
#[derive(Debug)]
struct Browser {
    client: Client,
    jar: Arc<Jar>,
    app: Url,
    issuer: Url,
}

impl Browser {
    fn new(app: Url, issuer: Url) -> Result<Self, String> {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(Arc::clone(&jar))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(Browser {
            client,
            jar,
            app,
            issuer,
        })
    }

    fn get(&self, url: &Url) -> Result<Response, String> {
        self.client
            .get(url.clone())
            .header(ACCEPT, "text/html,application/json;q=0.9")
            .send()
            .map_err(|e| format!("GET {}: {e}", show(url)))
    }

    /// A form POST, as a browser sends it from a page of the same origin.
    fn post(&self, url: &Url, form: &[(String, String)]) -> Result<Response, String> {
        self.client
            .post(url.clone())
            .header(ORIGIN, url.origin().ascii_serialization())
            .header(ACCEPT, "text/html")
            .form(form)
            .send()
            .map_err(|e| format!("POST {}: {e}", show(url)))
    }

    /// Follows redirects from `response` until a page that is not a redirect; expects a 200.
    fn follow_to_page(&self, step: &str, mut response: Response) -> Result<Response, String> {
        for _ in 0..MAX_REDIRECTS {
            if !response.status().is_redirection() {
                return expect(step, response, StatusCode::OK);
            }
            let next = location(step, &response)?;
            self.check_host(step, &next)?;
            response = self.get(&next)?;
        }
        Err(format!("{step}: more than {MAX_REDIRECTS} redirects"))
    }

    /// Follows redirects from `response` until one points where `stop` says; returns that URL
    /// without requesting it.
    fn follow_until(
        &self,
        step: &str,
        mut response: Response,
        stop: impl Fn(&Url) -> bool,
    ) -> Result<Url, String> {
        for _ in 0..MAX_REDIRECTS {
            let next = location(step, &response)?;
            if stop(&next) {
                return Ok(next);
            }
            self.check_host(step, &next)?;
            response = self.get(&next)?;
        }
        Err(format!("{step}: more than {MAX_REDIRECTS} redirects"))
    }

    /// The journey never leaves the two servers.
    fn check_host(&self, step: &str, url: &Url) -> Result<(), String> {
        if same_origin(url, &self.app) || same_origin(url, &self.issuer) {
            Ok(())
        } else {
            Err(format!(
                "{step}: redirected off the test servers to {}",
                show(url)
            ))
        }
    }

    /// Submits the first form of `html` (found at `page`): its hidden inputs plus `fields`.
    fn submit_form(
        &self,
        step: &str,
        page: &Url,
        html: &str,
        fields: &[(&str, &str)],
    ) -> Result<Response, String> {
        let form =
            tag(html, "<form").ok_or_else(|| format!("{step}: no form at {}", show(page)))?;
        let action = attribute(form, "action")
            .ok_or_else(|| format!("{step}: a form without action at {}", show(page)))?;
        let action = page
            .join(&action)
            .map_err(|e| format!("{step}: form action: {e}"))?;
        self.check_host(step, &action)?;
        let mut body = hidden_inputs(html);
        body.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self.post(&action, &body)
    }

    /// `name=value; …` of the app's cookies whose name starts with `prefix` (to replay them;
    /// never printed).
    fn app_cookies(&self, prefix: &str) -> String {
        self.jar
            .cookies(&self.app)
            .and_then(|h| h.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
            .split("; ")
            .filter(|pair| pair.starts_with(prefix))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The names of the cookies the jar would send to the app.
    fn app_cookie_names(&self) -> Vec<String> {
        self.jar
            .cookies(&self.app)
            .and_then(|h| h.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
            .split("; ")
            .filter_map(|pair| pair.split('=').next())
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A client without a cookie jar, to replay a cookie as another request would.
fn bare_client() -> Result<Client, String> {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| format!("http client: {e}"))
}

/// Fails the step unless `response` has `status`, quoting the start of the body.
fn expect(step: &str, response: Response, status: StatusCode) -> Result<Response, String> {
    if response.status() == status {
        return Ok(response);
    }
    let got = response.status();
    let url = show(response.url());
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| response.url().join(l).ok())
        .map(|l| format!(" (Location: {})", show(&l)))
        .unwrap_or_default();
    Err(format!(
        "{step}: expected {status}, got {got} from {url}{location}: {}",
        excerpt(&text(response))
    ))
}

/// The redirect target of a 3xx response, resolved against its URL.
fn location(step: &str, response: &Response) -> Result<Url, String> {
    if !response.status().is_redirection() {
        return Err(format!(
            "{step}: expected a redirect from {}, got {}",
            show(response.url()),
            response.status()
        ));
    }
    let value = response
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| format!("{step}: redirect without Location"))?;
    response
        .url()
        .join(value)
        .map_err(|e| format!("{step}: bad Location: {e}"))
}

fn text(response: Response) -> String {
    response.text().unwrap_or_default()
}

fn json(step: &str, response: Response) -> Result<Value, String> {
    let body = text(response);
    serde_json::from_str(&body).map_err(|e| format!("{step}: not JSON ({e}): {}", excerpt(&body)))
}

/// The names of the cookies a response sets (or clears).
fn set_cookie_names(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split('=').next())
        .map(|n| n.trim().to_owned())
        .collect()
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// A URL fit to print: origin and path, and only the names of the query parameters (they
/// carry codes and ID tokens).
fn show(url: &Url) -> String {
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let mut out = format!("{}{}", url.origin().ascii_serialization(), url.path());
    if !names.is_empty() {
        out.push_str(&format!("?{}=…", names.join("=…&")));
    }
    out
}

/// The first 300 characters of a body, on one line.
fn excerpt(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

/// The first tag of `html` starting with `open` (e.g. `<form`), up to its `>`.
fn tag<'a>(html: &'a str, open: &str) -> Option<&'a str> {
    let start = html.find(open)?;
    let len = html[start..].find('>')?;
    Some(&html[start..start + len + 1])
}

/// The value of `name="…"` in a tag, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(
        tag[from..from + len]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The `type="hidden"` inputs of `html`, as form fields.
pub(crate) fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.match_indices("<input")
        .filter_map(|(at, _)| tag(&html[at..], "<input"))
        .filter(|t| attribute(t, "type").as_deref() == Some("hidden"))
        .filter_map(|t| Some((attribute(t, "name")?, attribute(t, "value")?)))
        .collect()
}

/// A child process with its output in a log file; killed (and reaped) when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Server {
    pub(crate) fn start(
        name: &'static str,
        mut command: Command,
        log: &Path,
    ) -> Result<Self, String> {
        let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start the {name} ({:?}): {e}", command.get_program()))?;
        Ok(Server {
            name,
            child,
            log: log.to_owned(),
        })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Err` when the process has ended.
    fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the {} exited ({status})", self.name)),
            Err(e) => Err(format!("the {}: {e}", self.name)),
        }
    }

    /// Waits for a line of the log starting with `prefix`, and returns it.
    pub(crate) fn wait_for_line(
        &mut self,
        prefix: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.starts_with(prefix)) {
                return Ok(line.to_owned());
            }
            self.check_running()?;
            if Instant::now() > deadline {
                return Err(format!(
                    "the {} did not print {prefix:?} within {} s",
                    self.name,
                    timeout.as_secs()
                ));
            }
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the app answers `GET /` with 200.
fn wait_for_app(browser: &Browser, app: Option<&mut Server>, home: &Url) -> Result<(), String> {
    let app = app.ok_or("no app process")?;
    let deadline = Instant::now() + APP_READY_TIMEOUT;
    loop {
        app.check_running()?;
        match browser.get(home) {
            Ok(r) if r.status() == StatusCode::OK => return Ok(()),
            Ok(r) if Instant::now() > deadline => {
                return expect("app start", r, StatusCode::OK).map(drop);
            }
            Err(e) if Instant::now() > deadline => return Err(format!("app start: {e}")),
            _ => sleep(Duration::from_millis(200)),
        }
    }
}

/// Installs the provider's npm packages (exactly the locked versions) when `node_modules` is
/// missing or older than `package-lock.json`.
pub(crate) fn npm_install(dir: &Path) -> Result<(), String> {
    let modified = |path: PathBuf| fs::metadata(path).and_then(|m| m.modified()).ok();
    let lock = modified(dir.join("package-lock.json"));
    // npm writes node_modules/.package-lock.json at the end of every install.
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    if installed.is_some() && installed >= lock {
        return Ok(());
    }
    let command = if lock.is_some() { "ci" } else { "install" };
    eprintln!("$ (cd xtask/interop && npm {command} --no-audit --no-fund)");
    let status = Command::new("npm")
        .args([command, "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run npm (Node.js 20.19+ with npm is required): {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`npm {command}` in xtask/interop failed ({status})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_read_from_the_providers_pages() {
        let html = r#"<form id="op.logoutForm" method="post" action="/session/end/confirm?a=1&amp;b=2"><input type="hidden" name="xsrf" value="x&amp;y"/></form><input required type="text" name="login">"#;
        let form = tag(html, "<form").expect("a form");
        assert_eq!(
            attribute(form, "action").as_deref(),
            Some("/session/end/confirm?a=1&b=2")
        );
        assert_eq!(hidden_inputs(html), [("xsrf".to_owned(), "x&y".to_owned())]);
    }

    #[test]
    fn the_provider_is_pinned_and_locked() {
        let dir = root().join("xtask/interop");
        let read = |name: &str| {
            fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let package: Value = serde_json::from_str(&read("package.json")).expect("package.json");
        let dependencies = package["dependencies"].as_object().expect("dependencies");
        for (name, version) in dependencies {
            let version = version.as_str().unwrap_or_default();
            assert!(
                version.starts_with(|c: char| c.is_ascii_digit()),
                "xtask/interop/package.json: pin {name} to an exact version, not {version:?}"
            );
        }
        let lock: Value = serde_json::from_str(&read("package-lock.json")).expect("lock");
        assert_eq!(
            lock["packages"][""]["dependencies"], package["dependencies"],
            "xtask/interop/package-lock.json is stale: run `npm install` there"
        );
    }

    #[test]
    fn urls_are_shown_without_parameter_values() {
        let url = Url::parse("http://127.0.0.1:1/auth/callback?code=secret&state=s").expect("url");
        assert_eq!(
            show(&url),
            "http://127.0.0.1:1/auth/callback?code=…&state=…"
        );
    }
}
