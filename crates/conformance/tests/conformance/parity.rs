//! The three apps side by side: the same request, the same answer. Each check starts all three
//! apps, sends each the same request (with tokens from its own issuer), normalises what
//! legitimately differs (the issuer's URL, times, random values) and requires equal answers.

use std::time::Duration;

use auth_issuer::Fault;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use crate::app::{ALL, App, Kind, start};
use crate::http_flows::{REFRESH, SESSION};

/// What is compared of an answer.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    status: u16,
    headers: Vec<(&'static str, Option<String>)>,
    /// `Set-Cookie` headers without their values: name and attributes.
    cookies: Vec<String>,
    body: String,
}

const COMPARED: [&str; 6] = [
    "content-type",
    "www-authenticate",
    "cache-control",
    "vary",
    "retry-after",
    "location",
];

async fn observe(app: &App, request: RequestBuilder) -> Observed {
    let response = request.send().await.expect("response");
    let status = response.status().as_u16();
    let headers = COMPARED
        .iter()
        .map(|name| {
            let value = response
                .headers()
                .get(*name)
                .map(|v| normalise(app, v.to_str().unwrap_or("<not ascii>")));
            (*name, value)
        })
        .collect();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let raw = v.to_str().unwrap_or_default();
            let (pair, attributes) = raw.split_once(';').unwrap_or((raw, ""));
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            normalise(app, &format!("{name};{attributes}"))
        })
        .collect();
    let body = response.text().await.expect("body");
    Observed {
        status,
        headers,
        cookies,
        body: normalise_body(app, &body),
    }
}

/// The app's own URLs become placeholders, and so do the random values of a login
/// (`state`, the PKCE challenge, `nonce`, the flow cookie's name).
fn normalise(app: &App, text: &str) -> String {
    let encoded = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let mut out = text
        .replace(&encoded(&app.app_url), "{app}")
        .replace(&app.app_url, "{app}");
    if let Some(issuer) = &app.issuer {
        out = out
            .replace(&encoded(issuer.issuer()), "{issuer}")
            .replace(issuer.issuer(), "{issuer}");
    }
    for key in ["state=", "code_challenge=", "nonce=", "auth.flow-"] {
        out = replace_values(&out, key, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        });
    }
    out
}

/// Replaces the run of characters accepted by `keep` after each `key` with `*`.
fn replace_values(text: &str, key: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let (before, after) = rest.split_at(at + key.len());
        out.push_str(before);
        let end = after.find(|c: char| !keep(c)).unwrap_or(after.len());
        out.push('*');
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// JSON bodies lose the values that differ per issuer and per second; HTML bodies lose the
/// framework's name.
fn normalise_body(app: &App, body: &str) -> String {
    let body = normalise(app, body);
    if let Ok(mut json) = serde_json::from_str::<Value>(&body) {
        scrub(&mut json);
        return json.to_string();
    }
    let framework = match app.kind {
        Kind::Axum => "axum",
        Kind::Actix => "actix-web",
        Kind::Warp => "warp",
    };
    let mut body = body
        .replace(&format!("· {framework}<"), "· {framework}<")
        .replace(&format!("Served by {framework}."), "Served by {framework}.");
    // The claims on the signed-in page, HTML-escaped: times and random identifiers.
    for key in ["jti", "sid", "exp", "iat", "nbf", "auth_time"] {
        body = replace_values(&body, &format!("&quot;{key}&quot;: "), |c| {
            c != ',' && c != '\n'
        });
    }
    for key in ["datetime=\"", "datetime=\"2"] {
        body = replace_values(&body, key, |c| c != '"');
    }
    replace_values(&body, "<time id=\"token-expiry\" datetime=\"*\">", |c| {
        c != ')'
    })
}

/// Replaces times and random identifiers in claims with placeholders.
fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if matches!(
                    key.as_str(),
                    "exp" | "iat" | "nbf" | "auth_time" | "jti" | "sid" | "at_hash" | "nonce"
                ) {
                    *v = Value::String(format!("<{key}>"));
                } else {
                    scrub(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// Starts the three apps.
async fn apps() -> Vec<App> {
    let mut out = Vec::new();
    for kind in ALL {
        out.push(start(kind).await);
    }
    out
}

/// Sends each app the request `build` makes for it; all answers must be equal. Returns the
/// first, for the caller's own expectations.
async fn same_answer<F>(apps: &[App], what: &str, build: F) -> Observed
where
    F: Fn(&App) -> RequestBuilder,
{
    let mut seen = Vec::new();
    for app in apps {
        seen.push((app.kind, observe(app, build(app)).await));
    }
    let (first_kind, first) = seen.remove(0);
    for (kind, observed) in &seen {
        assert_eq!(
            &first, observed,
            "{what}: {first_kind:?} and {kind:?} answer differently"
        );
    }
    first
}

fn code(observed: &Observed) -> String {
    serde_json::from_str::<Value>(&observed.body).map_or_else(
        |_| String::new(),
        |v| v["error"]["code"].as_str().unwrap_or_default().to_owned(),
    )
}

fn header<'a>(observed: &'a Observed, name: &str) -> Option<&'a str> {
    observed
        .headers
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.as_deref())
}

#[tokio::test]
async fn bearer_answers_are_the_same_bytes_everywhere() {
    let apps = apps().await;
    let url = |app: &App, path: &str| format!("{}{path}", app.app_url);
    let issuer = |app: &App| app.issuer.clone().expect("embedded issuer");
    type Case = (&'static str, &'static str, u16, &'static str);
    let cases: [Case; 9] = [
        ("no credential", "/api/me", 401, "token_missing"),
        ("expired", "/api/me", 401, "token_expired"),
        ("not yet valid", "/api/me", 401, "token_not_yet_valid"),
        ("forged", "/api/me", 401, "token_invalid"),
        ("another audience", "/api/me", 401, "token_invalid"),
        ("garbage", "/api/me", 401, "token_invalid"),
        ("two headers", "/api/me", 400, "invalid_request"),
        ("not an admin", "/api/admin", 403, "permission_denied"),
        ("expired, optional", "/api/optional", 401, "token_expired"),
    ];
    for (what, path, status, expected) in cases {
        let observed = same_answer(&apps, what, |app| {
            let i = issuer(app);
            let request = app.http.get(url(app, path));
            let now = i.token().sub("bob");
            match what {
                "no credential" => request,
                "expired" | "expired, optional" => request.bearer_auth(now.expires_in(-600).sign()),
                "not yet valid" => request.bearer_auth(
                    i.token().nbf(4_102_444_800).sign(), // 2100-01-01
                ),
                "forged" => {
                    request.bearer_auth(now.sign_hs256_with(i.public_key_pem("rsa-1").as_bytes()))
                }
                "another audience" => request.bearer_auth(now.aud("billing-api").sign()),
                "garbage" => request.bearer_auth("not-a-token"),
                "two headers" => {
                    let token = now.sign();
                    request
                        .header("authorization", format!("Bearer {token}"))
                        .header("authorization", format!("Bearer {token}"))
                }
                _ => request.bearer_auth(now.roles(&["user"]).sign()),
            }
        })
        .await;
        assert_eq!(
            (observed.status, code(&observed).as_str()),
            (status, expected),
            "{what}"
        );
        assert_eq!(
            header(&observed, "content-type"),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(
            header(&observed, "cache-control"),
            Some("no-store"),
            "{what}"
        );
        assert_eq!(
            header(&observed, "vary"),
            Some("Cookie, Authorization"),
            "{what}"
        );
        let challenge = header(&observed, "www-authenticate").unwrap_or_default();
        match expected {
            "token_missing" => assert_eq!(
                challenge,
                r#"Bearer resource_metadata="{app}/.well-known/oauth-protected-resource", DPoP algs="ES256 ES384 EdDSA PS256 RS256", resource_metadata="{app}/.well-known/oauth-protected-resource""#,
                "{what}"
            ),
            "invalid_request" => assert!(challenge.contains(r#"error="invalid_request""#)),
            "permission_denied" => assert!(
                challenge.contains(r#"error="insufficient_scope""#)
                    || challenge.starts_with("Bearer")
            ),
            _ => assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{what}: {challenge}"
            ),
        }
    }
    // Accepted: the same JSON and the same private caching.
    let ok = same_answer(&apps, "accepted", |app| {
        let token = issuer(app).token().sub("alice").roles(&["admin"]).sign();
        app.http.get(url(app, "/api/admin")).bearer_auth(token)
    })
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(header(&ok, "cache-control"), Some("private, no-store"));
    let me = same_answer(&apps, "me", |app| {
        let token = issuer(app).token().sub("alice").roles(&["admin"]).sign();
        app.http.get(url(app, "/api/me")).bearer_auth(token)
    })
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    for (what, token) in [
        ("optional, anonymous", None),
        ("optional, signed", Some(())),
    ] {
        let observed = same_answer(&apps, what, |app| {
            let request = app.http.get(url(app, "/api/optional"));
            match token {
                Some(()) => request.bearer_auth(issuer(app).token().sub("bob").sign()),
                None => request,
            }
        })
        .await;
        assert_eq!(observed.status, 200, "{what}");
        assert_eq!(
            header(&observed, "vary"),
            Some("Cookie, Authorization"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn pages_and_helper_routes_are_the_same_everywhere() {
    let apps = apps().await;
    let url = |app: &App, path: &str| format!("{}{path}", app.app_url);
    for (what, path) in [
        ("home", "/"),
        (
            "home after a cancelled sign-in",
            "/?auth_error=permission_denied",
        ),
        ("home with a bogus notice", "/?auth_error=%3Cscript%3E"),
        ("me without a session", "/auth/me"),
        ("callback without a login", "/auth/callback?code=x&state=y"),
        ("open redirect", "/auth/login?return_to=%2F%2Fevil.example"),
    ] {
        let observed = same_answer(&apps, what, |app| app.http.get(url(app, path))).await;
        assert!(observed.status < 500, "{what}: {observed:?}");
    }
    let signout = same_answer(&apps, "signout with GET", |app| {
        app.http.get(url(app, "/auth/signout"))
    })
    .await;
    assert_eq!(signout.status, 405);
    let login = same_answer(&apps, "login", |app| {
        app.http.get(url(app, "/auth/login?return_to=%2Fapi%2Fme"))
    })
    .await;
    assert_eq!(login.status, 303);
    assert_eq!(login.cookies.len(), 1, "{login:?}");
}

/// Signs `app`'s browser in as `user` (auto-login).
async fn sign_in(app: &App, user: &str) {
    app.sign_in(user).await;
    assert!(app.cookie(SESSION).is_some() && app.cookie(REFRESH).is_some());
}

#[tokio::test]
async fn sessions_behave_the_same_everywhere() {
    let apps = apps().await;
    let url = |app: &App, path: &str| format!("{}{path}", app.app_url);
    for app in &apps {
        sign_in(app, "alice").await;
    }
    let envelope = same_answer(&apps, "/auth/me", |app| app.http.get(url(app, "/auth/me"))).await;
    assert_eq!(envelope.status, 200);
    let body: Value = serde_json::from_str(&envelope.body).expect("json");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["user"]["sub"], "alice");
    let page = same_answer(&apps, "signed-in home", |app| app.http.get(url(app, "/"))).await;
    assert!(
        page.body.contains("id=\"user-sub\">alice<"),
        "{}",
        page.body
    );

    // Transparent refresh: the access token in the cookie has expired; the API answers and the
    // new cookies come on that same response.
    for app in &apps {
        let issuer = app.issuer.clone().expect("issuer");
        issuer.set_access_token_ttl(Duration::ZERO);
        let refresh = app.post("/auth/refresh").await;
        assert_eq!(refresh.status(), StatusCode::OK, "{:?}", app.kind);
        issuer.set_access_token_ttl(Duration::from_secs(300));
    }
    let refreshed = same_answer(&apps, "transparent refresh", |app| {
        app.http.get(url(app, "/api/me"))
    })
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let names: Vec<&str> = refreshed
        .cookies
        .iter()
        .map(|c| c.split(';').next().unwrap_or(""))
        .collect();
    assert!(
        names.contains(&SESSION) && names.contains(&REFRESH),
        "{names:?}"
    );

    // A transient failure of the token endpoint keeps the cookies and answers 503.
    for app in &apps {
        let issuer = app.issuer.clone().expect("issuer");
        issuer.set_access_token_ttl(Duration::ZERO);
        assert_eq!(app.post("/auth/refresh").await.status(), StatusCode::OK);
        issuer.set_token_fault(Some(Fault::Status(500)));
    }
    let outage = same_answer(&apps, "refresh during an outage", |app| {
        app.http.get(url(app, "/api/me"))
    })
    .await;
    assert_eq!(outage.status, 503, "{}", outage.body);
    assert!(header(&outage, "retry-after").is_some());
    assert!(outage.cookies.is_empty(), "{outage:?}");

    // Reuse: the provider revokes the session; the next request signs out cleanly.
    for app in &apps {
        let issuer = app.issuer.clone().expect("issuer");
        issuer.set_token_fault(None);
        issuer.revoke_refresh_tokens_for("alice");
    }
    let dead = same_answer(&apps, "revoked session", |app| {
        app.http.get(url(app, "/api/me"))
    })
    .await;
    assert_eq!(
        (dead.status, code(&dead).as_str()),
        (401, "invalid_grant"),
        "{}",
        dead.body
    );
    assert!(
        dead.cookies
            .iter()
            .any(|c| c.starts_with(SESSION) && c.contains("Max-Age=0")),
        "{dead:?}"
    );
}

#[tokio::test]
async fn an_issuer_outage_is_503_everywhere_and_recovery_follows() {
    let apps = apps().await;
    let url = |app: &App, path: &str| format!("{}{path}", app.app_url);
    for app in &apps {
        let issuer = app.issuer.clone().expect("issuer");
        issuer.set_discovery_fault(Some(Fault::Drop));
        issuer.set_jwks_fault(Some(Fault::Drop));
    }
    let down = same_answer(&apps, "issuer down", |app| {
        let token = app
            .issuer
            .clone()
            .expect("issuer")
            .token()
            .sub("alice")
            .sign();
        app.http.get(url(app, "/api/me")).bearer_auth(token)
    })
    .await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(header(&down, "retry-after").is_some());
    for app in &apps {
        let issuer = app.issuer.clone().expect("issuer");
        issuer.set_discovery_fault(None);
        issuer.set_jwks_fault(None);
    }
    for app in &apps {
        let issuer = app.issuer.clone().expect("issuer");
        let deadline = std::time::Instant::now() + Duration::from_secs(40);
        loop {
            let token = issuer.token().sub("alice").sign();
            let r = app
                .http
                .get(url(app, "/api/me"))
                .bearer_auth(token)
                .send()
                .await
                .expect("me");
            if r.status() == StatusCode::OK {
                break;
            }
            assert_eq!(
                r.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{:?}",
                app.kind
            );
            assert!(
                std::time::Instant::now() < deadline,
                "{:?} did not recover",
                app.kind
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test]
async fn note_answers_are_the_same_everywhere() {
    let apps = apps().await;
    let url = |app: &App, id: &str| format!("{}/api/notes/{id}", app.app_url);
    let token = |app: &App, sub: &str, roles: &[&str]| {
        app.issuer
            .as_ref()
            .expect("embedded issuer")
            .token()
            .sub(sub)
            .roles(roles)
            .sign()
    };
    let body = serde_json::json!({"text": "same everywhere"});
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
        u16,
    );
    let cases: [Case; 10] = [
        ("create", "PUT", "alice", &["user"], 201),
        ("rewrite", "PUT", "alice", &["user"], 200),
        ("someone else's", "PUT", "bob", &["user"], 403),
        ("an admin writing", "PUT", "root", &["admin"], 403),
        ("owner reads", "GET", "alice", &["user"], 200),
        ("admin reads", "GET", "root", &["admin"], 200),
        ("another reads", "GET", "bob", &["user"], 403),
        ("another deletes", "DELETE", "bob", &["user"], 403),
        ("owner deletes", "DELETE", "alice", &["user"], 204),
        ("gone", "GET", "alice", &["user"], 404),
    ];
    for (what, method, sub, roles, status) in cases {
        let observed = same_answer(&apps, what, |app| {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let request = app
                .http
                .request(method.clone(), url(app, "parity"))
                .bearer_auth(token(app, sub, roles));
            if method == reqwest::Method::PUT {
                request.json(&body)
            } else {
                request
            }
        })
        .await;
        assert_eq!(observed.status, status, "{what}: {}", observed.body);
    }
    let bad = same_answer(&apps, "a bad body", |app| {
        app.http
            .put(url(app, "parity-bad"))
            .bearer_auth(token(app, "alice", &[]))
            .header("content-type", "application/json")
            .body("{not json")
    })
    .await;
    assert_eq!((bad.status, code(&bad).as_str()), (400, "invalid_request"));
}
