//! The core's [`RequestView`] and [`ResponseHeaders`] over `http` types, without copying.

use auth_core::adapter::{RequestView, ResponseHeaders};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};

/// A borrowed view of a request for the core.
pub(crate) struct HttpView<'a> {
    method: &'a Method,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
}

impl<'a> HttpView<'a> {
    pub(crate) fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        HttpView {
            method,
            path: uri.path(),
            query: uri.query(),
            headers,
        }
    }

    /// The same request seen at another path (the helper routes use their canonical path, so
    /// that they work when nested under another router).
    pub(crate) fn with_path(mut self, path: &'a str) -> Self {
        self.path = path;
        self
    }
}

impl RequestView for HttpView<'_> {
    fn method(&self) -> &str {
        self.method.as_str()
    }

    fn path(&self) -> &str {
        self.path
    }

    fn query(&self) -> Option<&str> {
        self.query
    }

    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        auth_core::adapter::for_each_http_header(self.headers, name, f);
    }
}

/// The headers of a response, for [`RequestAuth::finish`](auth_core::adapter::RequestAuth::finish).
pub(crate) struct HttpHeaders<'a>(pub(crate) &'a mut HeaderMap);

impl ResponseHeaders for HttpHeaders<'_> {
    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for value in self.0.get_all(name) {
            f(value.as_bytes());
        }
    }

    fn append(&mut self, name: &'static str, value: &[u8]) {
        match HeaderValue::from_bytes(value) {
            Ok(value) => {
                self.0.append(HeaderName::from_static(name), value);
            }
            Err(_) => tracing::warn!(header = name, "dropped an invalid header value"),
        }
    }

    fn append_static(&mut self, name: &'static str, value: &'static str) {
        // No copy, no allocation, no parse of the usual names: the value is a constant.
        let name = match name {
            "vary" => header::VARY,
            "cache-control" => header::CACHE_CONTROL,
            other => HeaderName::from_static(other),
        };
        self.0.append(name, HeaderValue::from_static(value));
    }
}
