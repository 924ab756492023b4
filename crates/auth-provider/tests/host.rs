//! The provider hosted in an axum app, as a user would host it, over real HTTP: the host's
//! own login page and session cookie behind `Users`, third-party clients that register
//! themselves, the consent step, resource indicators, offline access, DPoP-bound tokens,
//! `acr` for step-up and the refusals.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use auth_core::{Algorithm, ClientKey};
use auth_provider::{
    Authentication, AuthorizeContext, BoxFuture, Client, KeySpec, MemoryStore, Provider,
    ProviderResponse, ProviderStore, SignedIn, SigningKey, StoreError, UserClaims, Users,
};
use aws_lc_rs::digest;
use axum::extract::Query;
use axum::response::{IntoResponse, Redirect};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const INITIAL_TOKEN: &str = "initial-access-token-for-tests";

/// The host's users: a `session` cookie holding `sub.auth_time`, set by `/login`.
#[derive(Debug)]
struct HostUsers;

impl Users for HostUsers {
    fn authenticate<'a>(
        &'a self,
        request: &'a AuthorizeContext<'a>,
    ) -> BoxFuture<'a, Authentication> {
        Box::pin(async move {
            let session = request
                .request()
                .cookie("session")
                .and_then(|v| v.split_once('.'));
            match session {
                Some((sub, auth_time)) if !request.login_required() => {
                    if sub == "mallory" {
                        return Authentication::Denied("mallory may not sign in".into());
                    }
                    let auth_time = auth_time.parse().unwrap_or(0);
                    let signed_in = SignedIn::new(sub).auth_time(auth_time);
                    // Step-up: the host signs in at the first level asked for.
                    Authentication::SignedIn(match request.acr_values().first() {
                        Some(acr) => signed_in.acr(acr.clone()).amr(["pwd", "otp"]),
                        None => signed_in,
                    })
                }
                _ => {
                    let target = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("return_to", &request.resume_url())
                        .finish();
                    Authentication::Respond(ProviderResponse::redirect(
                        &format!("/login?{target}"),
                        false,
                    ))
                }
            }
        })
    }

    /// Logout ends the host's session: its cookie is cleared.
    fn end_session<'a>(
        &'a self,
        _: &'a auth_provider::ProviderRequest,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Vec<(&'static str, String)>> {
        Box::pin(async { vec![("set-cookie", "session=; Path=/; Max-Age=0".to_owned())] })
    }

    /// Its own consent page when the request asks for it (`x-own-consent`).
    fn consent_page<'a>(
        &'a self,
        request: &'a auth_provider::ConsentRequest<'a>,
    ) -> BoxFuture<'a, Option<ProviderResponse>> {
        Box::pin(async move {
            request.request().header_value("x-own-consent")?;
            let fields: String = request
                .fields()
                .iter()
                .map(|(n, v)| format!("<input type=\"hidden\" name=\"{n}\" value=\"{v}\">"))
                .collect();
            let (name, value) = auth_provider::ConsentRequest::APPROVE;
            let html = format!(
                "<h1>Our own consent page for {} ({})</h1><form method=\"post\" action=\"{}\">{fields}<button name=\"{name}\" value=\"{value}\">Yes</button></form>",
                request.user(),
                request.scopes().join(" "),
                request.action()
            );
            Some(
                ProviderResponse::new(200)
                    .with_header("content-type", "text/html")
                    .with_body(html.into_bytes()),
            )
        })
    }

    fn claims<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Option<UserClaims>, StoreError>> {
        Box::pin(async move {
            Ok((sub != "gone").then(|| {
                UserClaims::new()
                    .name(format!("{sub} Example"))
                    .email(format!("{sub}@example.com"), true)
                    .claim("roles", json!(["user"]))
            }))
        })
    }
}

/// A store that fails on demand (everything else in memory): wholly, or only when storing an
/// access token.
#[derive(Debug, Default)]
struct Flaky {
    down: AtomicBool,
    access_inserts_fail: AtomicBool,
    inner: MemoryStore,
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        $(fn $name<'a>(&'a self, $($arg: $ty),*) -> BoxFuture<'a, Result<$out, StoreError>> {
            if self.down.load(Ordering::Relaxed) {
                return Box::pin(async { Err(StoreError::new("down for the test")) });
            }
            self.inner.$name($($arg),*)
        })*
    };
}

impl ProviderStore for Flaky {
    delegate! {
        client(id: &'a str) -> Option<Client>;
        put_client(c: &'a Client) -> ();
        delete_client(id: &'a str) -> bool;
        insert_authorization(a: &'a auth_provider::Authorization, c: &'a auth_provider::CodeRecord) -> ();
        authorization(id: &'a str) -> Option<auth_provider::Authorization>;
        authorizations_of(sub: &'a str) -> Vec<auth_provider::Authorization>;
        revoke_authorization(id: &'a str) -> ();
        take_code(h: &'a str) -> auth_provider::CodeUse;
        insert_refresh_token(r: &'a auth_provider::RefreshRecord) -> ();
        refresh_token(h: &'a str) -> Option<auth_provider::RefreshRecord>;
        rotate_refresh_token(h: &'a str) -> bool;
        count_active_refresh_tokens(sub: Option<&'a str>, now: i64) -> usize;
        access_token(jti: &'a str) -> Option<auth_provider::AccessRecord>;
        opaque_access_token(h: &'a str) -> Option<auth_provider::AccessRecord>;
        revoke_access_token(jti: &'a str, exp: i64) -> ();
        consent(sub: &'a str, c: &'a str) -> Option<auth_provider::Consent>;
        put_consent(c: &'a auth_provider::Consent) -> ();
        consents(sub: &'a str) -> Vec<auth_provider::Consent>;
        delete_consent(sub: &'a str, c: &'a str) -> bool;
        use_once(key: &'a str, until: i64) -> bool;
    }

    fn insert_access_token<'a>(
        &'a self,
        record: &'a auth_provider::AccessRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        if self.down.load(Ordering::Relaxed) || self.access_inserts_fail.load(Ordering::Relaxed) {
            return Box::pin(async { Err(StoreError::new("down for the test")) });
        }
        self.inner.insert_access_token(record)
    }

    fn purge_expired(&self, now: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.purge_expired(now)
    }
}

struct Host {
    url: String,
    provider: Provider,
    store: Arc<Flaky>,
}

async fn host() -> Host {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let store = Arc::new(Flaky::default());
    let provider = Provider::builder(url.clone())
        .key(SigningKey::generate(KeySpec::P256, "k1"))
        .users(HostUsers)
        .store(Arc::clone(&store) as Arc<dyn ProviderStore>)
        .audience("https://default.example")
        .secret_hash_iterations(1_000)
        .dynamic_registration(Some(INITIAL_TOKEN.to_owned()))
        .acr_values_supported(["urn:example:loa:1", "urn:example:loa:2"])
        .client(
            Client::confidential("first", "first-secret-0123456789")
                .redirect_uri(REDIRECT)
                .first_party(true),
        )
        .client(
            Client::public("cli")
                .native(true)
                .first_party(true)
                .redirect_uri("http://127.0.0.1/cb"),
        )
        .build()
        .await
        .expect("build");
    let login = axum::routing::get(|Query(q): Query<HashMap<String, String>>| async move {
        let user = q.get("user").cloned().unwrap_or_else(|| "alice".into());
        let at = q
            .get("at")
            .cloned()
            .unwrap_or_else(|| unix_now().to_string());
        let target = q.get("return_to").cloned().unwrap_or_else(|| "/".into());
        (
            [(
                "set-cookie",
                format!("session={user}.{at}; Path=/; HttpOnly"),
            )],
            Redirect::to(&target),
        )
            .into_response()
    });
    let app: axum::Router = axum::Router::new()
        .route("/login", login)
        .merge(provider.router());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Host {
        url,
        provider,
        store,
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, VERIFIER.as_bytes()))
}

/// The authorization request parameters, with `extra` replacing or adding.
fn params(client_id: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let challenge = challenge();
    let mut out: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email offline_access"),
        ("state", "st"),
        ("nonce", "nn"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name))
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    out.extend(
        extra
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    out
}

/// GET /authorize with a session cookie for `user` (or none).
async fn authorize(
    host: &Host,
    params: &[(String, String)],
    user: Option<&str>,
) -> reqwest::Response {
    let url = url::Url::parse_with_params(&format!("{}/authorize", host.url), params).expect("URL");
    let mut request = http().get(url);
    if let Some(user) = user {
        request = request.header("cookie", format!("session={user}.{}", unix_now()));
    }
    request.send().await.expect("authorize")
}

fn location(response: &reqwest::Response) -> url::Url {
    url::Url::parse(response.headers()["location"].to_str().expect("ASCII")).expect("absolute")
}

fn query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn hidden(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(page[start..start + end].replace("&amp;", "&"))
}

/// Registers a third-party client; returns its id and secret.
async fn register(host: &Host, metadata: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}/register", host.url))
        .bearer_auth(INITIAL_TOKEN)
        .json(&metadata)
        .send()
        .await
        .expect("register");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn third_party(host: &Host) -> (String, String) {
    let (status, body) = register(
        host,
        json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"], "client_name": "Third"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["client_id"].as_str().expect("id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

/// Approves the consent page `page` for `user`; returns the redirect back.
async fn approve(
    host: &Host,
    page: &str,
    params: &[(String, String)],
    user: &str,
    answer: &str,
) -> reqwest::Response {
    let token = hidden(page, "consent_token").expect("a consent token");
    let mut form = params.to_vec();
    form.push(("consent_token".into(), token));
    form.push(("consent".into(), answer.into()));
    http()
        .post(format!("{}/authorize", host.url))
        .header("cookie", format!("session={user}.{}", unix_now()))
        .form(&form)
        .send()
        .await
        .expect("consent")
}

async fn token(host: &Host, id: &str, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(format!("{}/token", host.url))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .expect("token");
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn redeem(
    host: &Host,
    id: &str,
    secret: &str,
    code: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    form.extend_from_slice(extra);
    token(host, id, secret, &form).await
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("JSON")
}

#[tokio::test]
async fn a_signed_out_user_goes_to_the_hosts_login_page_and_back() {
    let host = host().await;
    let params = params("first", &[]);
    let response = authorize(&host, &params, None).await;
    assert_eq!(response.status(), 302);
    let login = response.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(login.starts_with("/login?return_to="), "{login}");
    // The host's login page sets its session and returns to the resume URL.
    let signed = http()
        .get(format!("{}{login}", host.url))
        .send()
        .await
        .expect("login");
    let back = signed.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        back.starts_with(&format!("{}/authorize?", host.url)),
        "{back}"
    );
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .expect("ASCII")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let response = http()
        .get(back)
        .header("cookie", cookie)
        .send()
        .await
        .expect("resume");
    assert_eq!(response.status(), 302);
    let callback = query(&location(&response));
    assert_eq!(callback["state"], "st");
    assert_eq!(callback["iss"], host.url);
    let (status, tokens) = redeem(
        &host,
        "first",
        "first-secret-0123456789",
        &callback["code"],
        &[],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    // First-party: offline access without prompt=consent.
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let id = claims(tokens["id_token"].as_str().expect("id token"));
    assert_eq!(
        (id["sub"].as_str(), id["nonce"].as_str(), id["azp"].as_str()),
        (Some("alice"), Some("nn"), Some("first"))
    );
    assert!(id["at_hash"].is_string() && id["auth_time"].is_i64() && id["sid"].is_string());
    assert_eq!(id["email_verified"], true);
    let access = claims(tokens["access_token"].as_str().expect("access"));
    assert_eq!(access["aud"], "https://default.example");
    assert_eq!(access["client_id"], "first");
}

#[tokio::test]
async fn prompt_none_answers_login_required_or_consent_required() {
    let host = host().await;
    let response = authorize(&host, &params("first", &[("prompt", "none")]), None).await;
    let back = query(&location(&response));
    assert_eq!(
        (back["error"].as_str(), back["state"].as_str()),
        ("login_required", "st")
    );
    assert_eq!(back["iss"], host.url);
    let (id, _) = third_party(&host).await;
    let response = authorize(&host, &params(&id, &[("prompt", "none")]), Some("alice")).await;
    assert_eq!(query(&location(&response))["error"], "consent_required");
    let response = authorize(
        &host,
        &params("first", &[("prompt", "none")]),
        Some("mallory"),
    )
    .await;
    assert_eq!(query(&location(&response))["error"], "access_denied");
}

#[tokio::test]
async fn consent_is_asked_remembered_listed_and_revocable() {
    let host = host().await;
    let (id, secret) = third_party(&host).await;
    let request = params(&id, &[("scope", "openid email")]);
    let page = authorize(&host, &request, Some("alice")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("HTML");
    assert!(html.contains("id=\"consent-form\"") && html.contains("data-scope=\"email\""));
    assert!(html.contains("Third"), "the client's registered name");
    // A forged token shows the page again; no code.
    let mut forged = request.clone();
    forged.push(("consent_token".into(), "9999999999.AAAA".into()));
    forged.push(("consent".into(), "approve".into()));
    let again = http()
        .post(format!("{}/authorize", host.url))
        .header("cookie", format!("session=alice.{}", unix_now()))
        .form(&forged)
        .send()
        .await
        .expect("post");
    assert_eq!(again.status(), 200);
    // Another user's form is not this user's.
    let bob = approve(&host, &html, &request, "bob", "approve").await;
    assert_eq!(bob.status(), 200, "bound to alice");
    let denied = approve(&host, &html, &request, "alice", "deny").await;
    assert_eq!(query(&location(&denied))["error"], "access_denied");
    let approved = approve(&host, &html, &request, "alice", "approve").await;
    assert_eq!(approved.status(), 303);
    let code = query(&location(&approved))["code"].clone();
    let (status, tokens) = redeem(&host, &id, &secret, &code, &[]).await;
    assert_eq!(status, 200, "{tokens}");
    // Remembered: no page the second time.
    let second = authorize(&host, &request, Some("alice")).await;
    assert_eq!(second.status(), 302);
    // prompt=consent asks again.
    assert_eq!(
        authorize(
            &host,
            &params(&id, &[("scope", "openid email"), ("prompt", "consent")]),
            Some("alice")
        )
        .await
        .status(),
        200
    );
    let apps = host.provider.authorized_apps("alice").await.expect("apps");
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].client_id, id);
    assert_eq!(apps[0].scope, ["openid", "email"]);
    assert!(
        host.provider
            .revoke_app("alice", &id)
            .await
            .expect("revoke")
    );
    let introspected = http()
        .post(format!("{}/introspect", host.url))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", tokens["access_token"].as_str().expect("at"))])
        .send()
        .await
        .expect("introspect");
    assert_eq!(
        introspected.json::<Value>().await.expect("JSON")["active"],
        false
    );
    assert!(
        host.provider
            .authorized_apps("alice")
            .await
            .expect("apps")
            .is_empty()
    );
    assert_eq!(
        authorize(&host, &request, Some("alice")).await.status(),
        200,
        "asked again"
    );
}

#[tokio::test]
async fn offline_access_needs_prompt_consent_for_third_party_openid_requests() {
    let host = host().await;
    let (id, secret) = third_party(&host).await;
    // Without prompt=consent: offline_access is dropped (and not even asked).
    let request = params(&id, &[]);
    let html = authorize(&host, &request, Some("alice"))
        .await
        .text()
        .await
        .expect("HTML");
    assert!(!html.contains("data-scope=\"offline_access\""));
    let code = query(&location(
        &approve(&host, &html, &request, "alice", "approve").await,
    ))["code"]
        .clone();
    let (_, tokens) = redeem(&host, &id, &secret, &code, &[]).await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(tokens["scope"], "openid profile email");
    // With prompt=consent: a refresh token, rotated on use.
    let request = params(&id, &[("prompt", "consent")]);
    let html = authorize(&host, &request, Some("alice"))
        .await
        .text()
        .await
        .expect("HTML");
    assert!(html.contains("data-scope=\"offline_access\""));
    let code = query(&location(
        &approve(&host, &html, &request, "alice", "approve").await,
    ))["code"]
        .clone();
    let (_, tokens) = redeem(&host, &id, &secret, &code, &[]).await;
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let (status, narrowed) = token(
        &host,
        &id,
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "openid");
    let next = narrowed["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    let (status, widened) = token(
        &host,
        &id,
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &next),
            ("scope", "openid address"),
        ],
    )
    .await;
    assert_eq!(
        (status, widened["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // A refused request leaves the token usable.
    let (status, _) = token(
        &host,
        &id,
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &next)],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn resource_indicators_bind_the_audience() {
    let host = host().await;
    let api = "https://api.example.com/";
    let request = params("first", &[("resource", api)]);
    let code = query(&location(&authorize(&host, &request, Some("alice")).await))["code"].clone();
    // The token request may repeat the resource, not add one.
    let (status, body) = redeem(
        &host,
        "first",
        "first-secret-0123456789",
        &code,
        &[("resource", "https://other.example.com/")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let code = query(&location(&authorize(&host, &request, Some("alice")).await))["code"].clone();
    let (status, tokens) = redeem(
        &host,
        "first",
        "first-secret-0123456789",
        &code,
        &[("resource", api)],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        claims(tokens["access_token"].as_str().expect("at"))["aud"],
        api
    );
    // Refresh keeps the binding.
    let (_, refreshed) = token(
        &host,
        "first",
        "first-secret-0123456789",
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().expect("rt"),
            ),
        ],
    )
    .await;
    assert_eq!(
        claims(refreshed["access_token"].as_str().expect("at"))["aud"],
        api
    );
    for bad in ["https://api.example.com/#frag", "not a uri", "/relative"] {
        let response =
            authorize(&host, &params("first", &[("resource", bad)]), Some("alice")).await;
        assert_eq!(
            query(&location(&response))["error"],
            "invalid_target",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn refusals_the_specifications_require() {
    let host = host().await;
    // Password grant.
    let (status, body) = token(
        &host,
        "first",
        "first-secret-0123456789",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "x"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    // Implicit: the error in the fragment.
    let response = authorize(
        &host,
        &params("first", &[("response_type", "token")]),
        Some("alice"),
    )
    .await;
    let back = location(&response);
    assert!(back.query().is_none());
    assert!(
        back.fragment()
            .expect("fragment")
            .contains("error=unsupported_response_type")
    );
    // PKCE plain and missing.
    let response = authorize(
        &host,
        &params("first", &[("code_challenge_method", "plain")]),
        Some("alice"),
    )
    .await;
    assert_eq!(query(&location(&response))["error"], "invalid_request");
    // An unregistered redirect URI: a page, no redirect.
    let response = authorize(
        &host,
        &params("first", &[("redirect_uri", "http://127.0.0.1:9/cb/")]),
        Some("alice"),
    )
    .await;
    assert_eq!(response.status(), 400);
    // A scope outside the provider's list.
    let response = authorize(
        &host,
        &params("first", &[("scope", "openid admin")]),
        Some("alice"),
    )
    .await;
    assert_eq!(query(&location(&response))["error"], "invalid_scope");
    // A public client cannot introspect.
    let response = http()
        .post(format!("{}/introspect", host.url))
        .form(&[("client_id", "cli"), ("token", "x")])
        .send()
        .await
        .expect("introspect");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_authorization_endpoint_takes_post_and_native_loopback_ports() {
    let host = host().await;
    let request = params("first", &[]);
    let response = http()
        .post(format!("{}/authorize", host.url))
        .header("cookie", format!("session=alice.{}", unix_now()))
        .form(&request)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 303);
    assert!(query(&location(&response)).contains_key("code"));
    // A native client's loopback redirect URI on any port.
    let native = params("cli", &[("redirect_uri", "http://127.0.0.1:53124/cb")]);
    let response = authorize(&host, &native, Some("alice")).await;
    assert_eq!(response.status(), 302);
    assert!(
        location(&response)
            .as_str()
            .starts_with("http://127.0.0.1:53124/cb?code=")
    );
    let wrong_path = params("cli", &[("redirect_uri", "http://127.0.0.1:53124/other")]);
    assert_eq!(
        authorize(&host, &wrong_path, Some("alice")).await.status(),
        400
    );
}

#[tokio::test]
async fn registration_validates_metadata_and_needs_the_initial_token() {
    let host = host().await;
    let anonymous = http()
        .post(format!("{}/register", host.url))
        .json(&json!({"redirect_uris": [REDIRECT]}))
        .send()
        .await
        .expect("register");
    assert_eq!(anonymous.status(), 401);
    for (metadata, error) in [
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example.com/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": ["cb"]}), "invalid_redirect_uri"),
        (json!({}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REDIRECT], "scope": "openid admin"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
    ] {
        let (status, body) = register(&host, metadata.clone()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{metadata}"
        );
    }
    // A public native client with a loopback redirect URI.
    let (status, body) = register(
        &host,
        json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none", "application_type": "native"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("client_secret").is_none());
    // Registered grant types bind: no client_credentials for a code-only client.
    let (id, secret) = third_party(&host).await;
    let (status, body) = token(&host, &id, &secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    // The stored client holds a SHA-256 of its generated secret, never the secret.
    let stored = host
        .provider
        .client(&id)
        .await
        .expect("store")
        .expect("there");
    assert!(
        stored
            .secret_hash()
            .expect("hash")
            .as_str()
            .starts_with("sha256$")
    );
    assert!(!format!("{stored:?}").contains(&secret));
}

#[tokio::test]
async fn a_stale_sign_in_is_asked_again_for_max_age() {
    let host = host().await;
    let request = params("first", &[("max_age", "60")]);
    let url =
        url::Url::parse_with_params(&format!("{}/authorize", host.url), &request).expect("URL");
    // Signed in two hours ago: the host is asked to authenticate again (its login page).
    let response = http()
        .get(url.clone())
        .header("cookie", format!("session=alice.{}", unix_now() - 7200))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 302);
    assert!(
        response.headers()["location"]
            .to_str()
            .expect("ASCII")
            .starts_with("/login?")
    );
    let fresh = http()
        .get(url)
        .header("cookie", format!("session=alice.{}", unix_now()))
        .send()
        .await
        .expect("authorize");
    assert!(query(&location(&fresh)).contains_key("code"));
}

#[tokio::test]
async fn a_store_outage_answers_503_not_an_oauth_refusal() {
    let host = host().await;
    let code = query(&location(
        &authorize(&host, &params("first", &[]), Some("alice")).await,
    ))["code"]
        .clone();
    host.store.down.store(true, Ordering::Relaxed);
    let (status, body) = redeem(&host, "first", "first-secret-0123456789", &code, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert_eq!(
        authorize(&host, &params("first", &[]), Some("alice"))
            .await
            .status(),
        503
    );
    host.store.down.store(false, Ordering::Relaxed);
    // Nothing was used up: the code still works.
    let (status, _) = redeem(&host, "first", "first-secret-0123456789", &code, &[]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_user_who_is_gone_cannot_redeem_or_read_userinfo() {
    let host = host().await;
    let code = query(&location(
        &authorize(&host, &params("first", &[]), Some("gone")).await,
    ))["code"]
        .clone();
    let (status, body) = redeem(&host, "first", "first-secret-0123456789", &code, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn the_host_can_render_its_own_consent_page() {
    let host = host().await;
    let (id, _) = third_party(&host).await;
    let request = params(&id, &[("scope", "openid email")]);
    let url =
        url::Url::parse_with_params(&format!("{}/authorize", host.url), &request).expect("URL");
    let page = http()
        .get(url)
        .header("cookie", format!("session=alice.{}", unix_now()))
        .header("x-own-consent", "1")
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("HTML");
    assert!(
        page.starts_with("<h1>Our own consent page for alice (openid email)</h1>"),
        "{page}"
    );
    // Its form carries the provider's token: approving through it works.
    let approved = approve(&host, &page, &request, "alice", "approve").await;
    assert!(query(&location(&approved)).contains_key("code"));
}

#[tokio::test]
async fn a_store_failure_after_the_checks_keeps_the_refresh_token() {
    let host = host().await;
    let code = query(&location(
        &authorize(&host, &params("first", &[]), Some("alice")).await,
    ))["code"]
        .clone();
    let (_, tokens) = redeem(&host, "first", "first-secret-0123456789", &code, &[]).await;
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    host.store
        .access_inserts_fail
        .store(true, Ordering::Relaxed);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let (status, body) = token(&host, "first", "first-secret-0123456789", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    host.store
        .access_inserts_fail
        .store(false, Ordering::Relaxed);
    // The client's retry works: the token was not used up, and nothing was revoked.
    let (status, body) = token(&host, "first", "first-secret-0123456789", &form).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn service_tokens_have_no_user_and_registered_clients_see_only_their_own_tokens() {
    let host = host().await;
    let secret = "first-secret-0123456789";
    let (status, body) = token(
        &host,
        "first",
        secret,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, service) = token(
        &host,
        "first",
        secret,
        &[("grant_type", "client_credentials"), ("scope", "email")],
    )
    .await;
    assert_eq!(status, 200, "{service}");
    let service_token = service["access_token"].as_str().expect("token").to_owned();
    // Userinfo refuses a token whose subject is a client.
    let response = http()
        .get(format!("{}/userinfo", host.url))
        .bearer_auth(&service_token)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .expect("ASCII")
            .contains("invalid_token")
    );
    // A registered client introspecting another client's token learns nothing.
    let (id, own_secret) = third_party(&host).await;
    let introspect = |client: String, secret: String, token: String| {
        let url = format!("{}/introspect", host.url);
        async move {
            http()
                .post(url)
                .basic_auth(client, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .expect("introspect")
                .json::<Value>()
                .await
                .expect("JSON")
        }
    };
    assert_eq!(
        introspect(id.clone(), own_secret.clone(), service_token.clone()).await["active"],
        false
    );
    // The operator's client (a resource server) does.
    assert_eq!(
        introspect("first".into(), secret.into(), service_token).await["active"],
        true
    );
}

#[tokio::test]
async fn logout_ends_the_hosts_session_too() {
    let host = host().await;
    let response = http()
        .get(format!("{}/logout", host.url))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["set-cookie"],
        "session=; Path=/; Max-Age=0"
    );
}

// ----- DPoP (RFC 9449) -----

fn dpop_key() -> ClientKey {
    ClientKey::generate(Algorithm::ES256).expect("an ES256 key")
}

/// A proof of `key` for `method` at `url` (with `ath` for `access_token`).
fn proof(key: &ClientKey, method: &str, url: &str, access_token: Option<&str>) -> String {
    key.dpop_proof(method, url, access_token, None)
        .expect("a DPoP proof")
}

/// POST /token with `proofs` as `DPoP` headers, as `client` (Basic with a secret, or
/// `client_id` in the form for a public client).
async fn token_dpop(
    host: &Host,
    client: (&str, Option<&str>),
    form: &[(&str, &str)],
    proofs: &[String],
) -> (u16, Value, Option<String>) {
    let mut form = form.to_vec();
    let mut request = http().post(format!("{}/token", host.url));
    match client {
        (id, Some(secret)) => request = request.basic_auth(id, Some(secret)),
        (id, None) => form.push(("client_id", id)),
    }
    for proof in proofs {
        request = request.header("dpop", proof);
    }
    let response = request.form(&form).send().await.expect("token");
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().expect("ASCII").to_owned());
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
        nonce,
    )
}

/// A code for `client_id` signed in as alice, with `extra` authorization parameters.
async fn code_for(host: &Host, client_id: &str, extra: &[(&str, &str)]) -> String {
    let response = authorize(host, &params(client_id, extra), Some("alice")).await;
    assert_eq!(response.status(), 302);
    let back = query(&location(&response));
    back.get("code")
        .unwrap_or_else(|| panic!("no code: {back:?}"))
        .clone()
}

fn redeem_form(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

const FIRST: (&str, Option<&str>) = ("first", Some("first-secret-0123456789"));
const CLI: (&str, Option<&str>) = ("cli", None);

async fn introspect(host: &Host, token: &str) -> Value {
    let (status, body) = token_at(host, "introspect", &[("token", token)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// POST `{url}/{endpoint}` as `first`.
async fn token_at(host: &Host, endpoint: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(format!("{}/{endpoint}", host.url))
        .basic_auth(FIRST.0, FIRST.1)
        .form(form)
        .send()
        .await
        .expect("request");
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_dpop_token_request_gets_a_token_bound_to_the_key() {
    let host = host().await;
    let key = dpop_key();
    let code = code_for(&host, "first", &[]).await;
    let token_url = format!("{}/token", host.url);
    let (status, tokens, _) = token_dpop(
        &host,
        FIRST,
        &redeem_form(&code),
        &[proof(&key, "POST", &token_url, None)],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    let access_token = tokens["access_token"].as_str().expect("access token");
    let access = claims(access_token);
    assert_eq!(access["cnf"]["jkt"], key.thumbprint());
    // The ID token is not bound.
    assert!(
        claims(tokens["id_token"].as_str().expect("id"))
            .get("cnf")
            .is_none()
    );
    // Introspection says so.
    let answer = introspect(&host, access_token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"]["jkt"], key.thumbprint());
    // A confidential client's refresh token is not bound (RFC 9449 §5): without a proof, a
    // Bearer token again.
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let (status, refreshed, _) = token_dpop(
        &host,
        FIRST,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        &[],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["token_type"], "Bearer");
    let access_token = refreshed["access_token"].as_str().expect("access");
    assert!(claims(access_token).get("cnf").is_none());
    assert_eq!(
        introspect(&host, access_token).await["token_type"],
        "Bearer"
    );
}

#[tokio::test]
async fn without_a_dpop_header_the_token_is_a_bearer_token() {
    let host = host().await;
    let (status, tokens, _) =
        token_dpop(&host, FIRST, &[("grant_type", "client_credentials")], &[]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(
        claims(tokens["access_token"].as_str().expect("access"))
            .get("cnf")
            .is_none()
    );
}

#[tokio::test]
async fn a_replayed_proof_is_refused_at_the_token_endpoint() {
    let host = host().await;
    let key = dpop_key();
    let once = proof(&key, "POST", &format!("{}/token", host.url), None);
    let form = [("grant_type", "client_credentials")];
    let (status, first, _) = token_dpop(&host, FIRST, &form, std::slice::from_ref(&once)).await;
    assert_eq!((status, first["token_type"].as_str()), (200, Some("DPoP")));
    let (status, again, _) = token_dpop(&host, FIRST, &form, &[once]).await;
    assert_eq!(status, 400);
    assert_eq!(again["error"], "invalid_dpop_proof", "{again}");
    assert!(
        again["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("used before")),
        "{again}"
    );
}

#[tokio::test]
async fn a_proof_for_another_url_or_method_is_refused() {
    let host = host().await;
    let key = dpop_key();
    let form = [("grant_type", "client_credentials")];
    for (wrong, why) in [
        (
            proof(&key, "POST", &format!("{}/userinfo", host.url), None),
            "htu",
        ),
        (
            proof(&key, "POST", "https://elsewhere.example/token", None),
            "htu",
        ),
        (
            proof(&key, "GET", &format!("{}/token", host.url), None),
            "htm",
        ),
    ] {
        let (status, body, _) = token_dpop(&host, FIRST, &form, &[wrong]).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_dpop_proof");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.contains(why)),
            "{body}"
        );
    }
    let (status, body, _) = token_dpop(&host, FIRST, &form, &["not.a.proof".to_owned()]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
}

#[tokio::test]
async fn two_dpop_headers_are_refused() {
    let host = host().await;
    let key = dpop_key();
    let url = format!("{}/token", host.url);
    let (status, body, _) = token_dpop(
        &host,
        FIRST,
        &[("grant_type", "client_credentials")],
        &[
            proof(&key, "POST", &url, None),
            proof(&key, "POST", &url, None),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_dpop_proof");
    assert_eq!(body["error_description"], "more than one DPoP proof");
}

#[tokio::test]
async fn a_public_clients_bound_refresh_token_needs_the_same_key() {
    let host = host().await;
    let key = dpop_key();
    let other = dpop_key();
    let url = format!("{}/token", host.url);
    let code = code_for(&host, "cli", &[]).await;
    let (status, tokens, _) = token_dpop(
        &host,
        CLI,
        &redeem_form(&code),
        &[proof(&key, "POST", &url, None)],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    // Without a proof, or with another key: refused, and the token stays usable.
    let (status, body, _) = token_dpop(&host, CLI, &form, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let (status, body, _) =
        token_dpop(&host, CLI, &form, &[proof(&other, "POST", &url, None)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // With the key: rotated, and the new refresh token is bound too.
    let (status, refreshed, _) =
        token_dpop(&host, CLI, &form, &[proof(&key, "POST", &url, None)]).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["token_type"], "DPoP");
    assert_eq!(
        claims(refreshed["access_token"].as_str().expect("access"))["cnf"]["jkt"],
        key.thumbprint()
    );
    let next = refreshed["refresh_token"].as_str().expect("refresh");
    let (status, body, _) = token_dpop(
        &host,
        CLI,
        &[("grant_type", "refresh_token"), ("refresh_token", next)],
        &[],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
}

#[tokio::test]
async fn dpop_jkt_pins_the_key_of_the_token_request() {
    let host = host().await;
    let key = dpop_key();
    let other = dpop_key();
    let url = format!("{}/token", host.url);
    let jkt = key.thumbprint();
    let code = code_for(&host, "cli", &[("dpop_jkt", &jkt)]).await;
    let (status, body, _) = token_dpop(
        &host,
        CLI,
        &redeem_form(&code),
        &[proof(&other, "POST", &url, None)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let code = code_for(&host, "cli", &[("dpop_jkt", &jkt)]).await;
    let (status, body, _) = token_dpop(&host, CLI, &redeem_form(&code), &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let code = code_for(&host, "cli", &[("dpop_jkt", &jkt)]).await;
    let (status, tokens, _) = token_dpop(
        &host,
        CLI,
        &redeem_form(&code),
        &[proof(&key, "POST", &url, None)],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        claims(tokens["access_token"].as_str().expect("access"))["cnf"]["jkt"],
        jkt
    );
    // A value that is no thumbprint is refused at the authorization endpoint.
    let response = authorize(
        &host,
        &params("cli", &[("dpop_jkt", "short")]),
        Some("alice"),
    )
    .await;
    assert_eq!(query(&location(&response))["error"], "invalid_request");
}

#[tokio::test]
async fn userinfo_takes_a_bound_token_only_with_a_proof() {
    let host = host().await;
    let key = dpop_key();
    let other = dpop_key();
    let code = code_for(&host, "first", &[]).await;
    let (status, tokens, _) = token_dpop(
        &host,
        FIRST,
        &redeem_form(&code),
        &[proof(&key, "POST", &format!("{}/token", host.url), None)],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().expect("access");
    let userinfo = format!("{}/userinfo", host.url);
    let call = |scheme: &'static str, proof: Option<String>| {
        let mut request = http()
            .get(&userinfo)
            .header("authorization", format!("{scheme} {token}"));
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        request.send()
    };
    let challenge = |response: &reqwest::Response| {
        response.headers()["www-authenticate"]
            .to_str()
            .expect("ASCII")
            .to_owned()
    };
    // As a Bearer token: refused.
    let response = call("Bearer", None).await.expect("userinfo");
    assert_eq!(response.status(), 401);
    let www = challenge(&response);
    assert!(
        www.starts_with("DPoP ") && www.contains("error=\"invalid_token\""),
        "{www}"
    );
    assert!(www.contains("algs=\"ES256"), "{www}");
    // As DPoP without a proof, with a proof without `ath`, with another key's proof: refused.
    let response = call("DPoP", None).await.expect("userinfo");
    assert_eq!(response.status(), 401);
    assert!(challenge(&response).contains("error=\"invalid_dpop_proof\""));
    let response = call("DPoP", Some(proof(&key, "GET", &userinfo, None)))
        .await
        .expect("userinfo");
    assert_eq!(response.status(), 401);
    let response = call("DPoP", Some(proof(&other, "GET", &userinfo, Some(token))))
        .await
        .expect("userinfo");
    assert_eq!(response.status(), 401);
    assert!(challenge(&response).contains("error=\"invalid_token\""));
    // With a proof of the key for this request: the profile.
    let response = call("DPoP", Some(proof(&key, "GET", &userinfo, Some(token))))
        .await
        .expect("userinfo");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["sub"], "alice");
    // An unbound token is not a DPoP token.
    let (_, plain, _) = token_dpop(
        &host,
        FIRST,
        &redeem_form(&code_for(&host, "first", &[]).await),
        &[],
    )
    .await;
    let plain = plain["access_token"].as_str().expect("access");
    let response = http()
        .get(&userinfo)
        .header("authorization", format!("DPoP {plain}"))
        .header("dpop", proof(&key, "GET", &userinfo, Some(plain)))
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_opaque_bound_token_keeps_cnf_for_introspection() {
    let host = host().await;
    host.provider.set_opaque_access_tokens(true);
    let key = dpop_key();
    let (status, tokens, _) = token_dpop(
        &host,
        FIRST,
        &[("grant_type", "client_credentials")],
        &[proof(&key, "POST", &format!("{}/token", host.url), None)],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    let token = tokens["access_token"].as_str().expect("access");
    assert!(token.starts_with("opq_"));
    let answer = introspect(&host, token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"]["jkt"], key.thumbprint());
}

#[tokio::test]
async fn a_provider_with_dpop_nonces_hands_one_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let secret = auth_core::Secret::new("a-nonce-secret-of-at-least-32-bytes");
    let provider = Provider::builder(url.clone())
        .key(SigningKey::generate(KeySpec::P256, "k1"))
        .users(HostUsers)
        .secret_hash_iterations(1_000)
        .dpop(
            auth_provider::DpopConfig::new()
                .algorithms([Algorithm::ES256])
                .nonces(secret, std::time::Duration::from_secs(60)),
        )
        .client(Client::confidential("svc", "svc-secret-0123456789"))
        .build()
        .await
        .expect("build");
    assert_eq!(
        provider.discovery_document()["dpop_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let app: axum::Router = provider.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let key = dpop_key();
    let send = |proof: String| {
        http()
            .post(format!("{url}/token"))
            .basic_auth("svc", Some("svc-secret-0123456789"))
            .header("dpop", proof)
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    let response = send(proof(&key, "POST", &format!("{url}/token"), None))
        .await
        .expect("token");
    assert_eq!(response.status(), 400);
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "use_dpop_nonce");
    let with_nonce = key
        .dpop_proof("POST", &format!("{url}/token"), None, Some(&nonce))
        .expect("proof");
    let response = send(with_nonce).await.expect("token");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["token_type"], "DPoP");
}

// ----- acr (OpenID Connect Core acr_values, RFC 9470) -----

#[tokio::test]
async fn acr_values_lead_to_acr_in_the_id_and_access_tokens() {
    let host = host().await;
    let code = code_for(
        &host,
        "first",
        &[("acr_values", "urn:example:loa:2 urn:example:loa:1")],
    )
    .await;
    let (status, tokens) = redeem(&host, FIRST.0, "first-secret-0123456789", &code, &[]).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().expect("id"));
    let access = claims(tokens["access_token"].as_str().expect("access"));
    for token in [&id, &access] {
        assert_eq!(token["acr"], "urn:example:loa:2", "{token}");
        assert_eq!(token["amr"], json!(["pwd", "otp"]));
        assert!(token["auth_time"].is_i64());
    }
    // Refreshed tokens keep it.
    let (status, refreshed) = token(
        &host,
        FIRST.0,
        "first-secret-0123456789",
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().expect("refresh"),
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        claims(refreshed["id_token"].as_str().expect("id"))["acr"],
        "urn:example:loa:2"
    );
    assert_eq!(
        claims(refreshed["access_token"].as_str().expect("access"))["acr"],
        "urn:example:loa:2"
    );
    // Without acr_values, no acr.
    let code = code_for(&host, "first", &[]).await;
    let (_, tokens) = redeem(&host, FIRST.0, "first-secret-0123456789", &code, &[]).await;
    let id = claims(tokens["id_token"].as_str().expect("id"));
    assert!(id.get("acr").is_none() && id.get("amr").is_none(), "{id}");
}

#[tokio::test]
async fn max_age_with_acr_values_gives_a_fresh_sign_in() {
    let host = host().await;
    // alice signed in an hour ago; max_age=60 sends her back to the login page.
    let stale = unix_now() - 3600;
    let request = params(
        "first",
        &[("max_age", "60"), ("acr_values", "urn:example:loa:2")],
    );
    let url =
        url::Url::parse_with_params(&format!("{}/authorize", host.url), &request).expect("URL");
    let response = http()
        .get(url)
        .header("cookie", format!("session=alice.{stale}"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 302);
    let login = response.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(login.starts_with("/login?"), "{login}");
    // A fresh sign-in: a fresh auth_time, at the level asked for.
    let before = unix_now();
    let code = code_for(
        &host,
        "first",
        &[("max_age", "60"), ("acr_values", "urn:example:loa:2")],
    )
    .await;
    let (status, tokens) = redeem(&host, FIRST.0, "first-secret-0123456789", &code, &[]).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().expect("id"));
    assert!(id["auth_time"].as_i64().expect("auth_time") >= before);
    assert_eq!(id["acr"], "urn:example:loa:2");
}

#[tokio::test]
async fn discovery_lists_dpop_algorithms_and_acr_values() {
    let host = host().await;
    let document: Value = http()
        .get(format!("{}/.well-known/openid-configuration", host.url))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");
    let algs = document["dpop_signing_alg_values_supported"]
        .as_array()
        .expect("dpop algs");
    assert!(algs.contains(&json!("ES256")) && algs.contains(&json!("EdDSA")));
    assert!(
        !algs
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.starts_with("HS")))
    );
    assert_eq!(
        document["acr_values_supported"],
        json!(["urn:example:loa:1", "urn:example:loa:2"])
    );
}
