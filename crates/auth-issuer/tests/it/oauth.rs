//! Support for the OAuth flow tests: PKCE, a client that does not follow redirects, and
//! helpers for the authorize, token, userinfo and revocation endpoints.

use std::collections::HashMap;

use auth_issuer::{TestClient, TestIssuer};
use aws_lc_rs::digest;
use serde_json::Value;
use url::Url;

use crate::b64_encode;

/// The redirect URI registered for `test-client` by [`issuer`]. Nothing listens there: the
/// tests read the `Location` header instead of following it.
pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub(crate) const CLIENT_ID: &str = "test-client";
pub(crate) const SECRET: &str = "test-secret";

/// An HTTP client that does not follow redirects.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `BASE64URL(SHA256(verifier))`.
pub(crate) fn s256(verifier: &str) -> String {
    b64_encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub(crate) struct Pkce {
    pub(crate) verifier: String,
    pub(crate) challenge: String,
}

impl Pkce {
    pub(crate) fn new() -> Self {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).expect("random");
        let verifier = b64_encode(&bytes);
        let challenge = s256(&verifier);
        Self {
            verifier,
            challenge,
        }
    }
}

/// The default issuer, with `REDIRECT` and a post-logout URI registered for `test-client`.
pub(crate) async fn issuer() -> TestIssuer {
    let issuer = TestIssuer::start().await;
    issuer.add_client(app_client());
    issuer
}

/// `test-client` as [`issuer`] registers it.
pub(crate) fn app_client() -> TestClient {
    TestClient::confidential(CLIENT_ID, SECRET)
        .redirect_uri(REDIRECT)
        .post_logout_redirect_uri("http://127.0.0.1:9/signed-out")
}

/// The usual authorization request parameters for `client_id`, with `extra` appended
/// (and replacing defaults of the same name).
pub(crate) fn auth_params(
    client_id: &str,
    pkce: &Pkce,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email offline_access"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name))
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    params.extend(
        extra
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    params
}

/// `GET {issuer}/authorize?...`.
pub(crate) async fn get_authorize(
    issuer: &TestIssuer,
    params: &[(String, String)],
) -> reqwest::Response {
    let url = Url::parse_with_params(&issuer.authorization_endpoint(), params).expect("url");
    http().get(url).send().await.expect("authorize")
}

/// `POST {issuer}/authorize` with a form, as the login page does.
pub(crate) async fn post_authorize(
    issuer: &TestIssuer,
    form: &[(String, String)],
) -> reqwest::Response {
    http()
        .post(issuer.authorization_endpoint())
        .form(form)
        .send()
        .await
        .expect("authorize")
}

/// The `Location` of a redirect, parsed.
pub(crate) fn location(response: &reqwest::Response) -> Url {
    let location = response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location, status {}", response.status()))
        .to_str()
        .expect("ascii");
    Url::parse(location).expect("absolute Location")
}

/// The query of a URL as a map (the tests never repeat a name).
pub(crate) fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Signs `user` in through the login form's POST and returns the code.
pub(crate) async fn login_as(
    issuer: &TestIssuer,
    user: &str,
    pkce: &Pkce,
    extra: &[(&str, &str)],
) -> String {
    let client_id = extra
        .iter()
        .find(|(n, _)| *n == "client_id")
        .map_or(CLIENT_ID, |(_, v)| *v);
    let mut form = auth_params(client_id, pkce, extra);
    form.push(("user".to_owned(), user.to_owned()));
    let response = post_authorize(issuer, &form).await;
    assert_eq!(response.status(), 303, "login POST");
    let target = location(&response);
    let params = query(&target);
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {target}"))
        .clone()
}

/// `POST {issuer}/token` with a form and optional Basic credentials.
pub(crate) async fn token_request(
    issuer: &TestIssuer,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut request = http().post(issuer.token_endpoint()).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.expect("token request")
}

/// Exchanges `code` as `test-client` (Basic) with the verifier.
pub(crate) async fn exchange(issuer: &TestIssuer, code: &str, verifier: &str) -> reqwest::Response {
    token_request(
        issuer,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await
}

/// Refreshes as `test-client` (Basic).
pub(crate) async fn refresh(issuer: &TestIssuer, refresh_token: &str) -> reqwest::Response {
    token_request(
        issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        Some((CLIENT_ID, SECRET)),
    )
    .await
}

/// A full sign-in of `user` as `test-client`: the token response.
pub(crate) async fn sign_in(issuer: &TestIssuer, user: &str) -> Value {
    let pkce = Pkce::new();
    let code = login_as(issuer, user, &pkce, &[]).await;
    let response = exchange(issuer, &code, &pkce.verifier).await;
    assert_eq!(response.status(), 200, "code exchange");
    response.json().await.expect("token JSON")
}

/// The status and JSON body of an error answer.
pub(crate) async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("error JSON");
    (status, body["error"].as_str().expect("error").to_owned())
}

/// `GET {issuer}/userinfo` with a Bearer token.
pub(crate) async fn userinfo(issuer: &TestIssuer, token: &str) -> reqwest::Response {
    http()
        .get(issuer.userinfo_endpoint())
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo")
}

/// A string member of a JSON value.
pub(crate) fn text<'a>(value: &'a Value, member: &str) -> &'a str {
    value[member]
        .as_str()
        .unwrap_or_else(|| panic!("no string {member} in {value}"))
}

#[test]
fn s256_matches_rfc7636_appendix_b() {
    assert_eq!(
        s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}
