//! The core's [`RequestView`] and [`ResponseHeaders`] over warp's (`http` 1) types.

use auth_core::adapter::{RequestView, ResponseHeaders};
use warp::Filter;
use warp::http::header::{self, HeaderName, HeaderValue};
use warp::http::{HeaderMap, Method};
use warp::path::FullPath;

/// What the core reads of a request, taken by a filter.
pub(crate) struct WarpView {
    method: Method,
    path: FullPath,
    query: Option<String>,
    headers: HeaderMap,
}

/// The request as the core sees it.
pub(crate) fn view() -> impl Filter<Extract = (WarpView,), Error = std::convert::Infallible> + Clone
{
    warp::method()
        .and(warp::path::full())
        .and(
            warp::query::raw()
                .map(Some)
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(warp::header::headers_cloned())
        .map(|method, path, query: Option<String>, headers| WarpView {
            method,
            path,
            query: query.filter(|q| !q.is_empty()),
            headers,
        })
}

impl RequestView for WarpView {
    fn method(&self) -> &str {
        self.method.as_str()
    }

    fn path(&self) -> &str {
        self.path.as_str()
    }

    fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        auth_core::adapter::for_each_http_header(&self.headers, name, f);
    }
}

/// A borrowed view of a request for the layer, without copying.
pub(crate) struct BorrowedView<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a warp::http::Uri,
    pub(crate) headers: &'a HeaderMap,
}

impl RequestView for BorrowedView<'_> {
    fn method(&self) -> &str {
        self.method.as_str()
    }

    fn path(&self) -> &str {
        self.uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        auth_core::adapter::for_each_http_header(self.headers, name, f);
    }
}

/// The headers of a response, for [`RequestAuth::finish`](auth_core::adapter::RequestAuth::finish).
pub(crate) struct WarpHeaders<'a>(pub(crate) &'a mut HeaderMap);

impl ResponseHeaders for WarpHeaders<'_> {
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
