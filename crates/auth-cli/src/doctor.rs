//! `auth doctor`: checks a deployment's configuration against its identity provider, one line
//! per check, with the fix for every failure. Reads the same `AUTH_*` variables as the SDK
//! (flags override them). Never prints a secret.

use std::time::{Duration, SystemTime};

use auth_core::service::ServiceClient;
use auth_core::{AuthConfig, KeySet};
use clap::Args;
use serde_json::{Value, json};

use crate::common::Exit;

const TIMEOUT: Duration = Duration::from_secs(5);
/// Larger clock differences fail the check (tokens would look expired or not yet valid).
const MAX_SKEW_SECS: i64 = 30;

/// Arguments of `auth doctor`.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The issuer (default: `AUTH_ISSUER`).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// Accepted audiences, comma-separated (default: `AUTH_AUDIENCE`).
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    /// The app's public URL, for the redirect URI and cookie checks (default: `APP_URL`).
    #[arg(long, value_name = "URL")]
    app_url: Option<String>,
    /// The client id (default: `AUTH_CLIENT_ID`). The secret is read from
    /// `AUTH_CLIENT_SECRET` only, never from a flag (shell history).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Print one JSON report instead of lines.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }

    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✔",
            Status::Warn => "!",
            Status::Fail => "✘",
            Status::Skip => "-",
        }
    }
}

struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    fix: Option<String>,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn push(&mut self, name: &'static str, status: Status, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            status,
            detail: detail.into(),
            fix: None,
        });
    }

    fn fail(&mut self, name: &'static str, detail: impl Into<String>, fix: impl Into<String>) {
        self.checks.push(Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        });
    }

    fn warn(&mut self, name: &'static str, detail: impl Into<String>, fix: impl Into<String>) {
        self.checks.push(Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        });
    }

    fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    fn print(&self, as_json: bool) {
        if as_json {
            let checks: Vec<Value> = self
                .checks
                .iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "status": c.status.as_str(),
                        "detail": c.detail,
                        "fix": c.fix,
                    })
                })
                .collect();
            println!("{}", json!({ "ok": !self.failed(), "checks": checks }));
            return;
        }
        for c in &self.checks {
            println!("{} {}: {}", c.status.mark(), c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("    fix: {fix}");
            }
        }
        let failures = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        if failures == 0 {
            println!("all checks passed");
        } else {
            println!("{failures} check(s) failed");
        }
    }
}

pub(crate) async fn run(args: DoctorArgs) -> Exit {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let issuer = args.issuer.or_else(|| env("AUTH_ISSUER"));
    let audience = args.audience.or_else(|| env("AUTH_AUDIENCE"));
    let app_url = args.app_url.or_else(|| env("APP_URL"));
    let client_id = args.client_id.or_else(|| env("AUTH_CLIENT_ID"));
    let client_secret = env("AUTH_CLIENT_SECRET");
    let cookie_secret = env("AUTH_COOKIE_SECRET");
    let mut report = Report::default();
    let http = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            eprintln!("auth doctor: cannot create an HTTP client: {e}");
            return Exit::Failed;
        }
    };

    // 1. The configuration, exactly as the SDK reads it: one issuer, or several (AUTH_ISSUERS).
    let lookup = |name: &str| match name {
        "AUTH_ISSUER" => issuer.clone(),
        "AUTH_AUDIENCE" => audience.clone(),
        other => env(other),
    };
    let configs = match AuthConfig::all_from_vars(lookup) {
        Ok(configs) => configs,
        Err(e) => {
            report.fail(
                "configuration",
                format!("{}: {}", e.variable(), e.message()),
                format!("set {} (see docs/verification.md)", e.variable()),
            );
            report.print(args.json);
            return Exit::Failed;
        }
    };
    let mut primary = None;
    for config in &configs {
        report.push(
            "configuration",
            Status::Ok,
            format!(
                "issuer {}, audiences {}",
                config.issuer(),
                config.audiences().join(", ")
            ),
        );
        // 2–3. Discovery and keys, for each trusted issuer; for an issuer pattern, for each
        // allowed tenant.
        if config.is_issuer_pattern() {
            pattern_checks(&mut report, &http, config).await;
            if primary.is_none() {
                primary = Some(None);
            }
            continue;
        }
        let metadata = issuer_checks(&mut report, &http, config).await;
        if primary.is_none() {
            primary = Some(metadata);
        }
    }
    // The login client and its cookies go to the primary (first) issuer.
    let metadata = match primary {
        Some(Some(metadata)) => metadata,
        // A pattern has no login client of its own: the verification checks are all there is.
        Some(None) if configs[0].is_issuer_pattern() => {
            report.push(
                "client credentials",
                Status::Skip,
                "the primary issuer is a pattern: the login client needs a concrete issuer first",
            );
            report.print(args.json);
            return if report.failed() {
                Exit::Failed
            } else {
                Exit::Ok
            };
        }
        _ => {
            report.print(args.json);
            return Exit::Failed;
        }
    };

    // 4. The client's credentials, with a client-credentials request when it may use one.
    let token_endpoint = metadata.get("token_endpoint").and_then(Value::as_str);
    let grants: Vec<&str> = metadata
        .get("grant_types_supported")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let key_configured = env("AUTH_CLIENT_KEY_FILE").is_some() || env("AUTH_CLIENT_KEY").is_some();
    match (&client_id, &client_secret, token_endpoint) {
        (Some(id), _, endpoint) if key_configured => {
            let usable = endpoint.filter(|_| grants.contains(&"client_credentials"));
            key_credentials(&mut report, &env, id, usable).await;
        }
        (Some(id), Some(secret), Some(endpoint)) if grants.contains(&"client_credentials") => {
            credentials(&mut report, &http, endpoint, id, secret).await;
        }
        (Some(_), Some(_), Some(_)) => report.push(
            "client credentials",
            Status::Skip,
            "the provider does not offer client_credentials; the secret is checked at the first sign-in",
        ),
        (Some(_), None, _) => report.push(
            "client credentials",
            Status::Skip,
            "no AUTH_CLIENT_SECRET: a public client",
        ),
        _ => report.push("client credentials", Status::Skip, "no AUTH_CLIENT_ID"),
    }

    // 5. The redirect URI, by starting an authorization request.
    let authorize = metadata
        .get("authorization_endpoint")
        .and_then(Value::as_str);
    match (&app_url, &client_id, authorize) {
        (Some(app), Some(id), Some(endpoint)) => {
            redirect_uri(&mut report, &http, endpoint, id, app).await;
        }
        _ => report.push(
            "redirect URI",
            Status::Skip,
            "needs APP_URL, AUTH_CLIENT_ID and an authorization_endpoint",
        ),
    }

    // 6. Cookies: the secret's strength and the app URL's scheme.
    match &app_url {
        Some(app) => cookies(&mut report, app, cookie_secret.as_deref()),
        None => report.push("cookies", Status::Skip, "no APP_URL: no browser sessions"),
    }

    report.print(args.json);
    if report.failed() {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

/// Discovery and keys for one issuer; its discovery document when it could be read.
/// An issuer pattern: each allowed tenant's issuer is checked like a configured one; without
/// an allow-list the tenants are only known from their tokens.
async fn pattern_checks(report: &mut Report, http: &reqwest::Client, config: &AuthConfig) {
    let Some(tenants) = config.tenants() else {
        report.push(
            "issuer pattern",
            Status::Skip,
            format!(
                "{}: any tenant; each is discovered when its first token arrives (set AUTH_TENANTS to check them here)",
                config.issuer()
            ),
        );
        return;
    };
    for tenant in tenants {
        let issuer = config.issuer().replace("{tenant}", tenant);
        match AuthConfig::builder()
            .issuer(&issuer)
            .audiences(config.audiences().iter().cloned())
            .algorithms(config.algorithms().iter().copied())
            .insecure_allow_http(true)
            .build()
        {
            Ok(one) => {
                report.push(
                    "issuer pattern",
                    Status::Ok,
                    format!("tenant {tenant}: {issuer}"),
                );
                issuer_checks(report, http, &one).await;
            }
            Err(e) => report.fail(
                "issuer pattern",
                format!("tenant {tenant}: {}", e.message()),
                "AUTH_TENANTS lists tenant names as they appear in the issuer URL",
            ),
        }
    }
}

async fn issuer_checks(
    report: &mut Report,
    http: &reqwest::Client,
    config: &AuthConfig,
) -> Option<serde_json::Map<String, Value>> {
    // 2. Discovery: reachable, valid, and naming exactly this issuer.
    let issuer = config.issuer().to_owned();
    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let metadata = match fetch_json(http, &discovery_url).await {
        Ok((doc, date)) => {
            report.push(
                "issuer reachable",
                Status::Ok,
                format!("GET {discovery_url}: 200"),
            );
            clock_skew(report, date);
            Some(doc)
        }
        Err(e) => {
            report.fail(
                "issuer reachable",
                format!("GET {discovery_url}: {e}"),
                "check AUTH_ISSUER (the exact issuer URL, as the provider names it) and that this machine can reach it",
            );
            None
        }
    };
    let metadata = metadata?;
    match metadata.get("issuer").and_then(Value::as_str) {
        Some(named) if named == issuer => {
            report.push(
                "discovery issuer",
                Status::Ok,
                format!("{named} matches exactly"),
            );
        }
        Some(named) => {
            let why = issuer_difference(&issuer, named);
            report.fail(
                "discovery issuer",
                format!("the provider calls itself {named:?}, AUTH_ISSUER is {issuer:?}: {why}"),
                format!("set AUTH_ISSUER={named}"),
            );
        }
        None => report.fail(
            "discovery issuer",
            "the discovery document has no issuer",
            "the provider's discovery document is broken, or AUTH_ISSUER points at something else",
        ),
    }

    // 3. The key set: reachable, with usable keys for the configured algorithms.
    let jwks_uri = config.jwks_uri().map(str::to_owned).or_else(|| {
        metadata
            .get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    match jwks_uri {
        None => report.fail(
            "key set",
            "the discovery document has no jwks_uri",
            "set AUTH_JWKS_URI to the provider's key-set URL",
        ),
        Some(uri) => match fetch_bytes(http, &uri).await {
            Err(e) => report.fail(
                "key set",
                format!("GET {uri}: {e}"),
                "check that this machine can reach the provider's jwks_uri",
            ),
            Ok(body) => keys(report, &body, config.algorithms(), &uri),
        },
    }
    Some(metadata)
}

/// A JSON object and the answer's `Date`.
async fn fetch_json(
    http: &reqwest::Client,
    url: &str,
) -> Result<(serde_json::Map<String, Value>, Option<SystemTime>), String> {
    let response = http.get(url).send().await.map_err(describe)?;
    let status = response.status();
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let body = response.bytes().await.map_err(describe)?;
    match serde_json::from_slice(&body) {
        Ok(Value::Object(doc)) => Ok((doc, date)),
        _ => Err("the answer is not a JSON object".to_owned()),
    }
}

async fn fetch_bytes(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = http.get(url).send().await.map_err(describe)?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    Ok(response.bytes().await.map_err(describe)?.to_vec())
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        e.without_url().to_string()
    }
}

/// Why two issuer strings differ, in the words an operator would search for.
fn issuer_difference(configured: &str, named: &str) -> &'static str {
    if configured.trim_end_matches('/') == named.trim_end_matches('/') {
        "a trailing slash differs (the issuer must match character for character)"
    } else if configured.replacen("http://", "https://", 1) == named
        || named.replacen("http://", "https://", 1) == configured
    {
        "http and https differ (behind a TLS-terminating proxy the provider may need its public URL configured)"
    } else if configured.eq_ignore_ascii_case(named) {
        "letter case differs"
    } else {
        "they are different URLs"
    }
}

fn clock_skew(report: &mut Report, date: Option<SystemTime>) {
    let Some(date) = date else {
        report.push("clock", Status::Skip, "the provider sent no Date header");
        return;
    };
    let now = SystemTime::now();
    let skew = match now.duration_since(date) {
        Ok(ahead) => ahead.as_secs() as i64,
        Err(behind) => -(behind.duration().as_secs() as i64),
    };
    if skew.abs() > MAX_SKEW_SECS {
        report.fail(
            "clock",
            format!("this machine's clock is {skew} s off the provider's"),
            "synchronise the clock (NTP); tokens look expired or not yet valid otherwise",
        );
    } else {
        report.push(
            "clock",
            Status::Ok,
            format!("within {} s of the provider's", skew.abs().max(1)),
        );
    }
}

fn keys(report: &mut Report, body: &[u8], algorithms: &[auth_core::Algorithm], uri: &str) {
    let set = match KeySet::from_jwks_json(body, algorithms) {
        Ok(set) => set,
        Err(e) => {
            report.fail(
                "key set",
                format!("GET {uri}: {}", e.message()),
                "the provider's jwks_uri does not serve a JWK Set",
            );
            return;
        }
    };
    for skipped in set.skipped() {
        report.push(
            "key skipped",
            Status::Warn,
            format!(
                "kid {:?}: {}",
                skipped.kid().unwrap_or("(none)"),
                skipped.reason()
            ),
        );
    }
    if set.is_empty() {
        report.fail(
            "key set",
            format!("no usable key for {}", names(algorithms)),
            "allow the provider's signing algorithm (AuthConfigBuilder::algorithms) or fix its keys",
        );
        return;
    }
    report.push(
        "key set",
        Status::Ok,
        format!("{} usable key(s)", set.len()),
    );
    let covered: Vec<auth_core::Algorithm> = algorithms
        .iter()
        .copied()
        .filter(|alg| !alg.is_symmetric())
        .filter(|alg| KeySet::from_jwks_json(body, &[*alg]).is_ok_and(|s| !s.is_empty()))
        .collect();
    report.push(
        "algorithms",
        Status::Ok,
        format!(
            "the key set serves {} of the allowed algorithms",
            names(&covered)
        ),
    );
}

fn names(algorithms: &[auth_core::Algorithm]) -> String {
    algorithms
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn credentials(
    report: &mut Report,
    http: &reqwest::Client,
    endpoint: &str,
    id: &str,
    secret: &str,
) {
    let answer = http
        .post(endpoint)
        .basic_auth(form_encode(id), Some(form_encode(secret)))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    let response = match answer {
        Ok(r) => r,
        Err(e) => {
            report.fail(
                "client credentials",
                format!("POST {endpoint}: {}", describe(e)),
                "check that this machine can reach the provider's token endpoint",
            );
            return;
        }
    };
    let status = response.status();
    let error = response
        .json::<Value>()
        .await
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    match (status.as_u16(), error.as_deref()) {
        (200, _) => report.push(
            "client credentials",
            Status::Ok,
            format!("the provider accepted {id}'s secret (client_credentials)"),
        ),
        (_, Some("invalid_client")) => report.fail(
            "client credentials",
            format!("the provider refused {id}'s credentials (invalid_client)"),
            "check AUTH_CLIENT_ID and AUTH_CLIENT_SECRET, and the client's authentication method (client_secret_basic)",
        ),
        // Another refusal of the grant itself (not allowed for this client, a resource or
        // scope it lacks): the secret was not judged, or not said to be wrong.
        (400 | 403, Some(code)) => report.push(
            "client credentials",
            Status::Skip,
            format!("the provider refused client_credentials for {id} ({code}): the secret is checked at the first sign-in"),
        ),
        (status, code) => report.fail(
            "client credentials",
            format!("POST {endpoint}: HTTP {status} {}", code.unwrap_or("")),
            "the token endpoint fails: see the provider's logs",
        ),
    }
}

/// `private_key_jwt`: the key is read as the SDK reads it, then (when the provider offers
/// client_credentials) the SDK's own service client asks for a token with it.
async fn key_credentials(
    report: &mut Report,
    env: &dyn Fn(&str) -> Option<String>,
    id: &str,
    endpoint: Option<&str>,
) {
    let lookup = |name: &str| match name {
        "AUTH_TOKEN_ENDPOINT" => endpoint.map(str::to_owned),
        "AUTH_CLIENT_SECRET" => None,
        "AUTH_CLIENT_AUTH" => Some("private_key_jwt".to_owned()),
        other => env(other),
    };
    let service = match ServiceClient::from_vars(lookup) {
        Ok(service) => service,
        Err(e) if e.variable().starts_with("AUTH_CLIENT_KEY") => {
            report.fail(
                "client credentials",
                format!("{}: {}", e.variable(), e.message()),
                "give an unencrypted PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) whose public JWK the provider has registered",
            );
            return;
        }
        Err(_) if endpoint.is_none() => {
            report.push(
                "client credentials",
                Status::Skip,
                "private key read; the provider does not offer client_credentials, so the key is checked at the first sign-in",
            );
            return;
        }
        Err(e) => {
            report.fail(
                "client credentials",
                format!("{}: {}", e.variable(), e.message()),
                format!("set {}", e.variable()),
            );
            return;
        }
    };
    match service.access_token().await {
        Ok(_) => report.push(
            "client credentials",
            Status::Ok,
            format!("the provider accepted {id}'s private key (private_key_jwt, client_credentials)"),
        ),
        Err(e) if e.code() == auth_core::ErrorCode::ConfigInvalid => report.fail(
            "client credentials",
            format!("the provider refused {id}'s client assertion (invalid_client)"),
            "register the key's public JWK (with its kid: `auth client-jwk` prints it) for the client, and its token_endpoint_auth_method as private_key_jwt",
        ),
        Err(e) => report.push(
            "client credentials",
            Status::Skip,
            format!("client_credentials with the private key failed ({}): the key is checked at the first sign-in", e.code().as_str()),
        ),
    }
}

fn form_encode(s: &str) -> String {
    // RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn redirect_uri(
    report: &mut Report,
    http: &reqwest::Client,
    endpoint: &str,
    id: &str,
    app: &str,
) {
    let redirect = format!("{}/auth/callback", app.trim_end_matches('/'));
    let probe = http
        .get(endpoint)
        .query(&[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", redirect.as_str()),
            ("scope", "openid"),
            ("state", "auth-doctor-probe"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await;
    let response = match probe {
        Ok(r) => r,
        Err(e) => {
            report.fail(
                "redirect URI",
                format!("GET {endpoint}: {}", describe(e)),
                "check that this machine can reach the provider's authorization endpoint",
            );
            return;
        }
    };
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if status.is_redirection() || status.is_success() {
        // A login page, or a redirect (to the app with an error, or to a login page): the
        // provider accepted the client and the redirect URI.
        let whither = if location.starts_with(&redirect) {
            "answered with a redirect to it".to_owned()
        } else {
            format!("answered {status} (a login page)")
        };
        report.push(
            "redirect URI",
            Status::Ok,
            format!("{redirect} is accepted: the provider {whither}"),
        );
    } else {
        report.fail(
            "redirect URI",
            format!("the provider refused an authorization request for {redirect} (HTTP {status})"),
            format!("register {redirect} as a redirect URI of client {id} at the provider, or fix APP_URL"),
        );
    }
}

fn cookies(report: &mut Report, app: &str, secret: Option<&str>) {
    match secret {
        None => report.warn(
            "cookie secret",
            "AUTH_COOKIE_SECRET is not set: a random one is made at each start (sessions end on restart, and replicas cannot read each other's cookies)",
            "set AUTH_COOKIE_SECRET to 32+ random characters (openssl rand -base64 48)",
        ),
        Some(s) if s.chars().count() < 32 => report.fail(
            "cookie secret",
            format!("AUTH_COOKIE_SECRET has {} characters", s.chars().count()),
            "use 32+ random characters (openssl rand -base64 48)",
        ),
        Some(s) if distinct(s) < 8 => report.fail(
            "cookie secret",
            "AUTH_COOKIE_SECRET repeats a few characters: it is guessable",
            "use 32+ random characters (openssl rand -base64 48)",
        ),
        Some(_) => report.push("cookie secret", Status::Ok, "32+ characters, not repetitive"),
    }
    let loopback = ["http://localhost", "http://127.", "http://[::1]"]
        .iter()
        .any(|p| app.starts_with(p));
    if app.starts_with("https://") {
        report.push("app URL", Status::Ok, "https: cookies are Secure");
    } else if loopback {
        report.push(
            "app URL",
            Status::Ok,
            "http on loopback: fine for development (browsers accept Secure cookies there)",
        );
    } else {
        report.fail(
            "app URL",
            format!(
                "APP_URL {app} is not https: the Secure session cookies would never be sent back"
            ),
            "serve the app over https and set APP_URL to its https URL",
        );
    }
}

fn distinct(s: &str) -> usize {
    let mut seen: Vec<char> = s.chars().collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// An HTTP date (RFC 9110 §5.6.7).
fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .ok(),
            Some(784_111_777)
        );
        assert!(parse_http_date("yesterday").is_none());
    }

    #[test]
    fn issuer_differences_are_named() {
        assert!(
            issuer_difference("https://a.example/", "https://a.example").contains("trailing slash")
        );
        assert!(
            issuer_difference("http://a.example", "https://a.example").contains("http and https")
        );
        assert!(issuer_difference("https://a.example", "https://b.example").contains("different"));
    }
}
