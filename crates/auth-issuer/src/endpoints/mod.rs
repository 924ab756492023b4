//! The OAuth 2.0 / OpenID Connect endpoints: authorize, token, revoke, userinfo, logout.
//!
//! Shared here: parameter parsing, client authentication and error answers.

mod assertion;
pub(crate) mod authorize;
mod html;
pub(crate) mod introspect;
pub(crate) mod logout;
pub(crate) mod revoke;
pub(crate) mod token;
pub(crate) mod userinfo;

use std::borrow::Cow;

use aws_lc_rs::constant_time;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use url::form_urlencoded;

use crate::server::Shared;
use crate::users::{ClientAuth, TestClient};

/// Request parameters (query or form body) in the order they came.
///
/// Parameters with an empty value are dropped: RFC 6749 §3.1 says to treat them as omitted.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(input)
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    pub(crate) fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }

    /// The value of `name` if it was given exactly once.
    pub(crate) fn single(&self, name: &str) -> Option<&str> {
        if self.count(name) == 1 {
            self.get(name)
        } else {
            None
        }
    }

    /// The first parameter given more than once, apart from those in `repeatable`
    /// (RFC 6749 §3.1, §3.2: parameters must not be included more than once).
    pub(crate) fn repeated(&self, repeatable: &[&str]) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(i, (name, _))| {
            (!repeatable.contains(&name.as_str())
                && self.0[..i].iter().any(|(earlier, _)| earlier == name))
            .then_some(name.as_str())
        })
    }

    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Whether the request body is `application/x-www-form-urlencoded`.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Splits a space-separated `scope` into its values (RFC 6749 §3.3), without duplicates.
/// `None` when a value holds a character outside `NQCHAR`.
pub(crate) fn parse_scope(scope: &str) -> Option<Vec<String>> {
    let mut values: Vec<String> = Vec::new();
    for value in scope.split(' ').filter(|v| !v.is_empty()) {
        let nqchar = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
        if !value.bytes().all(nqchar) {
            return None;
        }
        if !values.iter().any(|v| v == value) {
            values.push(value.to_owned());
        }
    }
    Some(values)
}

/// Whether `value` is an absolute URI without a fragment, as RFC 8707 wants a `resource`.
pub(crate) fn is_resource_uri(value: &str) -> bool {
    !value.contains('#') && url::Url::parse(value).is_ok()
}

/// An OAuth error answered as JSON (RFC 6749 §5.2), with `Cache-Control: no-store`.
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) description: Cow<'static, str>,
    /// The `WWW-Authenticate` challenge, for `401` answers.
    pub(crate) challenge: Option<String>,
}

impl OAuthError {
    pub(crate) fn bad_request(
        error: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            challenge: None,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::bad_request("invalid_request", description)
    }

    /// `401 invalid_client` with a Basic challenge (RFC 6749 §5.2; a `401` always carries
    /// a challenge, RFC 9110 §15.5.2).
    pub(crate) fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
            challenge: Some("Basic realm=\"auth-issuer\", charset=\"UTF-8\"".to_owned()),
        }
    }

    pub(crate) fn body(&self) -> Vec<u8> {
        json!({ "error": self.error, "error_description": self.description })
            .to_string()
            .into_bytes()
    }
}

impl From<crate::grants::Denied> for OAuthError {
    fn from(denied: crate::grants::Denied) -> Self {
        Self::bad_request(denied.error, denied.description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = no_store_json(self.status, self.body());
        if let Some(challenge) = &self.challenge
            && let Ok(value) = HeaderValue::from_str(challenge)
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// A JSON answer with `Cache-Control: no-store` (RFC 6749 §5.1).
pub(crate) fn no_store_json(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
fn form_decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1: both
/// form-urlencoded, then joined with `:` and base64-encoded). `Ok(None)` without the header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "client authentication uses HTTP Basic, not this scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    Ok(Some((id, secret)))
}

/// Authenticates the client of a token or revocation request (RFC 6749 §2.3, §3.2.1).
pub(crate) fn authenticate_client(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<TestClient, OAuthError> {
    let basic = basic_credentials(headers)?;
    if let Some(assertion_type) = params.get("client_assertion_type") {
        if basic.is_some() || params.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: a client assertion, HTTP Basic or client_secret",
            ));
        }
        let assertion = params
            .single("client_assertion")
            .ok_or_else(|| OAuthError::invalid_client("client_assertion is missing"))?;
        return assertion::authenticate(shared, assertion_type, assertion, params.get("client_id"));
    }
    let form_id = params.get("client_id");
    let form_secret = params.get("client_secret");
    let (client_id, secret, method) = match (&basic, form_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: HTTP Basic or client_secret, not both",
            ));
        }
        (Some((id, secret)), None) => {
            if form_id.is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_client(
                    "client_id differs from the Basic credentials",
                ));
            }
            (id.as_str(), Some(secret.as_str()), ClientAuth::Basic)
        }
        (None, Some(secret)) => {
            let id = form_id
                .ok_or_else(|| OAuthError::invalid_client("client_secret without client_id"))?;
            (id, Some(secret), ClientAuth::Post)
        }
        (None, None) => {
            let id = form_id
                .ok_or_else(|| OAuthError::invalid_client("client authentication required"))?;
            (id, None, ClientAuth::None)
        }
    };
    let client = shared
        .provider()
        .directory
        .client(client_id)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    if !client.accepts(method) {
        let description = match method {
            _ if client.accepts(ClientAuth::PrivateKeyJwt) => {
                "this client authenticates with private_key_jwt"
            }
            ClientAuth::None => "client authentication required: send the client secret",
            _ if client.secret().is_none() => "a public client must not send a client secret",
            ClientAuth::Basic => "this client must not use client_secret_basic",
            ClientAuth::Post => "this client must not use client_secret_post",
            ClientAuth::PrivateKeyJwt => "this client authenticates with private_key_jwt",
        };
        return Err(OAuthError::invalid_client(description));
    }
    if let (Some(expected), Some(given)) = (client.secret(), secret)
        && constant_time::verify_slices_are_equal(expected.as_bytes(), given.as_bytes()).is_err()
    {
        return Err(OAuthError::invalid_client("invalid client secret"));
    }
    Ok(client)
}

/// Appends query parameters to a redirect URI, keeping the URI exactly as registered.
pub(crate) fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut target = uri.to_owned();
    if !params.is_empty() {
        if !target.contains('?') {
            target.push('?');
        } else if !target.ends_with('?') && !target.ends_with('&') {
            target.push('&');
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(params);
        target.push_str(&query.finish());
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a%2Bb+c").as_deref(), Some("a+b c"));
        assert_eq!(form_decode("%3A%25").as_deref(), Some(":%"));
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%ff"), None);
    }

    #[test]
    fn repeated_parameters() {
        let params = Params::parse(b"a=1&b=2&resource=x&resource=y&empty=&empty=");
        assert_eq!(params.repeated(&["resource"]), None);
        assert_eq!(params.repeated(&[]), Some("resource"));
        assert_eq!(params.get("empty"), None);
        let params = Params::parse(b"a=1&b=2&a=3");
        assert_eq!(params.repeated(&[]), Some("a"));
        assert_eq!(params.single("a"), None);
        assert_eq!(params.single("b"), Some("2"));
    }

    #[test]
    fn scopes() {
        assert_eq!(
            parse_scope("openid  profile openid"),
            Some(vec!["openid".to_owned(), "profile".to_owned()])
        );
        assert_eq!(parse_scope("a\"b"), None);
        assert_eq!(parse_scope("a\\b"), None);
        assert_eq!(parse_scope(""), Some(Vec::new()));
    }

    #[test]
    fn redirect_query() {
        let params = [("code", "a b"), ("state", "x&y")];
        assert_eq!(
            with_query("http://app/cb", &params),
            "http://app/cb?code=a+b&state=x%26y"
        );
        assert_eq!(
            with_query("http://app/cb?tenant=1", &params[..1]),
            "http://app/cb?tenant=1&code=a+b"
        );
        assert_eq!(
            with_query("http://app/cb?", &params[..1]),
            "http://app/cb?code=a+b"
        );
        assert_eq!(with_query("http://app/cb", &[]), "http://app/cb");
    }
}
