//! The framework-neutral request view and response description that adapters translate.
//!
//! The core never sees an `http` crate type (actix-web 4 uses `http` 0.2, axum and warp use
//! `http` 1): an adapter implements [`RequestView`] over its own request and turns an
//! [`AuthResponse`] into its own response.

use std::fmt;

use crate::error::AuthError;

/// What the core needs to read from a request. Implement it over your framework's request type
/// without copying: headers are visited, not collected.
pub trait RequestView {
    /// The method, e.g. `"GET"`.
    fn method(&self) -> &str;
    /// The path, e.g. `"/auth/callback"`.
    fn path(&self) -> &str;
    /// The raw query string, without `?`.
    fn query(&self) -> Option<&str>;
    /// Calls `f` with each value of the header `name` (lower-case), in order.
    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&str));
}

/// The first value of a header.
pub(crate) fn first_header(req: &impl RequestView, name: &str) -> Option<String> {
    let mut out = None;
    req.for_each_header(name, &mut |v| {
        if out.is_none() {
            out = Some(v.to_owned());
        }
    });
    out
}

/// The number of values of a header.
pub(crate) fn header_count(req: &impl RequestView, name: &str) -> usize {
    let mut n = 0;
    req.for_each_header(name, &mut |_| n += 1);
    n
}

/// The value of a request cookie (the first one of that name), from every `Cookie` header.
pub(crate) fn cookie(req: &impl RequestView, name: &str) -> Option<String> {
    let mut out = None;
    req.for_each_header("cookie", &mut |header| {
        if out.is_some() {
            return;
        }
        for c in cookie::Cookie::split_parse(header).flatten() {
            if c.name() == name {
                out = Some(c.value().to_owned());
                return;
            }
        }
    });
    out
}

/// The names of request cookies starting with `prefix`.
pub(crate) fn cookie_names_with_prefix(req: &impl RequestView, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    req.for_each_header("cookie", &mut |header| {
        for c in cookie::Cookie::split_parse(header).flatten() {
            if c.name().starts_with(prefix) && !out.iter().any(|n: &String| n == c.name()) {
                out.push(c.name().to_owned());
            }
        }
    });
    out
}

/// A request description owned by value: for tests and for frameworks without borrowed access.
#[derive(Clone, Default)]
pub struct SimpleRequest {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// Headers as (lower-case name, value), in order; repeated names allowed.
    pub headers: Vec<(String, String)>,
}

impl fmt::Debug for SimpleRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may carry tokens and cookies: names only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("SimpleRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

impl SimpleRequest {
    /// A GET request for `path_and_query` (e.g. `/auth/callback?code=x&state=y`).
    #[must_use]
    pub fn get(path_and_query: &str) -> Self {
        Self::new("GET", path_and_query)
    }

    /// A request with this method for `path_and_query`.
    #[must_use]
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (path_and_query.to_owned(), None),
        };
        SimpleRequest {
            method: method.to_owned(),
            path,
            query,
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }
}

impl RequestView for SimpleRequest {
    fn method(&self) -> &str {
        &self.method
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }
    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&str)) {
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case(name) {
                f(v);
            }
        }
    }
}

/// A response the core wants sent: status, headers (with `Set-Cookie`, `Location`, ...) and body.
#[non_exhaustive]
#[derive(Clone, Default)]
pub struct AuthResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers, in order; `set-cookie` may repeat.
    pub headers: Vec<(String, String)>,
    /// The body (JSON or HTML; see the `content-type` header).
    pub body: Vec<u8>,
}

impl fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("AuthResponse")
            .field("status", &self.status)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl AuthResponse {
    /// An empty response with this status.
    #[must_use]
    pub fn new(status: u16) -> Self {
        AuthResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `303 See Other` redirect.
    #[must_use]
    pub fn redirect(location: &str) -> Self {
        AuthResponse::new(303)
            .with_header("location", location)
            .with_header("cache-control", "no-store")
    }

    /// A JSON response.
    #[must_use]
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let mut r = AuthResponse::new(status)
            .with_header("content-type", "application/json")
            .with_header("cache-control", "no-store");
        r.body = value.to_string().into_bytes();
        r
    }

    /// The error response: the taxonomy's status, the JSON body
    /// `{"error":{"code":..,"message":..}}`, an RFC 6750 challenge for 400/401/403 and
    /// `Retry-After` for retryable errors.
    #[must_use]
    pub fn error(err: &AuthError, realm: Option<&str>) -> Self {
        let mut r = AuthResponse::json(err.status(), &err.to_json());
        if let Some(challenge) = err.www_authenticate(realm) {
            r = r.with_header("www-authenticate", &challenge);
        }
        if let Some(secs) = err.retry_after() {
            r = r.with_header("retry-after", &secs.to_string());
        }
        r.with_cookies(err.set_cookies().iter().cloned())
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `Set-Cookie` headers.
    #[must_use]
    pub fn with_cookies(mut self, set_cookies: impl IntoIterator<Item = String>) -> Self {
        for c in set_cookies {
            self.headers.push(("set-cookie".to_owned(), c));
        }
        self
    }

    /// The first header with this name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Headers for a response whose content depended on the request's credentials (adapters add
/// them once authentication was consulted): `Vary: Cookie, Authorization` always, and, when the
/// request was authenticated, `Cache-Control: private, no-store` unless the handler set its own
/// `Cache-Control`. Without them a shared cache could serve one user's page to another, and the
/// browser's back/forward cache shows signed-in pages after sign-out.
#[must_use]
pub fn credential_dependent_headers(
    authenticated: bool,
) -> &'static [(&'static str, &'static str)] {
    if authenticated {
        &[
            ("vary", "Cookie, Authorization"),
            ("cache-control", "private, no-store"),
        ]
    } else {
        &[("vary", "Cookie, Authorization")]
    }
}
