//! The framework-neutral request and response the engine speaks.
//!
//! An adapter turns its framework's request into a [`ProviderRequest`] (method, path, query,
//! the headers the engine reads, the body already read within [`MAX_BODY`]) and turns the
//! [`ProviderResponse`] back. The `axum` feature does this for axum; for actix-web or warp,
//! the same few lines route a catch-all handler to [`Provider::handle`](crate::Provider::handle).

use std::fmt;

/// The largest request body the engine reads (64 KiB): authorization requests, token
/// requests and registration documents are far smaller. Adapters refuse larger bodies with
/// `413` before calling the engine.
pub const MAX_BODY: usize = 64 * 1024;

/// An HTTP request as the engine sees it.
///
/// ```
/// use auth_provider::ProviderRequest;
///
/// let request = ProviderRequest::new("POST", "/token")
///     .header("Content-Type", "application/x-www-form-urlencoded")
///     .body(b"grant_type=refresh_token&refresh_token=...".to_vec());
/// assert_eq!(request.header_value("content-type"), Some("application/x-www-form-urlencoded"));
/// ```
#[derive(Clone, Default)]
pub struct ProviderRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl fmt::Debug for ProviderRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers and body carry credentials: names and sizes only.
        f.debug_struct("ProviderRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl ProviderRequest {
    /// A request with this method (`GET`, `POST`, ...) and target (`/path?query`).
    #[must_use]
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header (names are compared case-insensitively; a repeated header is kept once
    /// per call, in order).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The method, upper case.
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, without the query.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string, without `?` (empty when there is none).
    #[must_use]
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The first value of the header `name` (case-insensitive).
    #[must_use]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of the header `name` (case-insensitive), in order.
    pub(crate) fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The value of the cookie `name`, from the `Cookie` headers.
    #[must_use]
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, value)| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }

    /// The body.
    #[must_use]
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Whether the body is `application/x-www-form-urlencoded`.
    pub(crate) fn is_form(&self) -> bool {
        self.header_value("content-type")
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
    }
}

/// An HTTP response from the engine: status, headers and a complete body.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct ProviderResponse {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl fmt::Debug for ProviderResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies carry tokens: the size only.
        f.debug_struct("ProviderResponse")
            .field("status", &self.status)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl ProviderResponse {
    /// A response with this status and no headers or body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `200 OK` with a JSON body and `Cache-Control: no-store` (RFC 6749 §5.1).
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::new(status)
            .with_header("content-type", "application/json")
            .with_header("cache-control", "no-store")
            .with_header("pragma", "no-cache")
            .with_body(body.to_string().into_bytes())
    }

    /// A `302 Found` (or `303 See Other` after a form POST, so that the browser follows
    /// with a GET, RFC 9700 §4.12) to `location`.
    pub fn redirect(location: &str, after_post: bool) -> Self {
        Self::new(if after_post { 303 } else { 302 })
            .with_header("location", location)
            .with_header("cache-control", "no-store")
    }

    /// Adds a header (lower-case name).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers, lower-case names, in order.
    #[must_use]
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    /// The first value of the header `name` (lower case).
    #[must_use]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Status, headers and body, for an adapter to build its own response.
    #[must_use]
    pub fn into_parts(self) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
        (self.status, self.headers, self.body)
    }
}
