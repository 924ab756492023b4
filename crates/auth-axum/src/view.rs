//! [`RequestView`] over `http` request parts, without copying.

use std::borrow::Cow;

use auth_core::RequestView;
use axum::http::{HeaderMap, Method, Uri};

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

    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&str)) {
        for value in self.headers.get_all(name) {
            // A value with bytes outside visible ASCII is still passed on (lossily), so that a
            // malformed credential is refused rather than mistaken for no credential.
            let text = match value.to_str() {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(value.as_bytes()),
            };
            f(&text);
        }
    }
}
