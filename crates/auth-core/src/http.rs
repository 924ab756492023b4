//! The small HTTP client abstraction the SDK fetches discovery documents and key sets with.
//!
//! The default is [`ReqwestClient`] (reqwest with rustls on aws-lc-rs, redirects not followed,
//! no cookies). Bring your own client (a shared `reqwest::Client` with your proxy settings, a
//! hyper client, a test double) by implementing [`HttpClient`]. Whatever the implementation,
//! the SDK additionally bounds every call with [`HttpRequest::timeout`] and rejects bodies over
//! [`HttpRequest::max_body`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

/// A boxed, sendable future, as returned by [`HttpClient::execute`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An HTTP method the SDK uses.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST (token, revocation endpoints).
    Post,
}

/// A request the SDK wants sent.
///
/// Its `Debug` output shows the method, the URL without its query, the header names and the
/// body's length: header values (a Basic client secret), the query and the body (codes,
/// refresh tokens) may carry secrets, so a custom [`HttpClient`] can log requests safely.
#[non_exhaustive]
#[derive(Clone)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// The request body, for POST.
    pub body: Option<Vec<u8>>,
    /// The whole exchange, connect to last body byte, must complete within this.
    pub timeout: Duration,
    /// Response bodies longer than this must be refused with [`HttpErrorKind::BodyTooLarge`].
    pub max_body: usize,
}

impl HttpRequest {
    /// A GET request with the given bounds.
    #[must_use]
    pub fn get(url: impl Into<String>, timeout: Duration, max_body: usize) -> Self {
        HttpRequest {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout,
            max_body,
        }
    }

    /// A form-encoded POST request with the given bounds.
    #[must_use]
    pub fn post_form(
        url: impl Into<String>,
        form: &[(&str, &str)],
        timeout: Duration,
        max_body: usize,
    ) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        HttpRequest {
            method: Method::Post,
            url: url.into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: Some(body.into_bytes()),
            timeout,
            max_body,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A response.
///
/// Its `Debug` output shows the status, the header names and the body's length, never the
/// body (which may hold tokens).
#[non_exhaustive]
#[derive(Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers (names lower-case).
    pub headers: Vec<(String, String)>,
    /// The body, at most [`HttpRequest::max_body`] bytes.
    pub body: Bytes,
}

/// The names of headers, for `Debug` output that must not show their values.
struct HeaderNames<'a>(&'a [(String, String)]);

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match self.url.split_once('?') {
            Some((base, _)) => format!("{base}?<redacted>"),
            None => self.url.clone(),
        };
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &url)
            .field("headers", &HeaderNames(&self.headers))
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish()
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &HeaderNames(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// Builds a response (for custom clients).
    #[must_use]
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Bytes) -> Self {
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    /// The first header with this (case-insensitive) name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why an HTTP exchange failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// The exchange did not complete within its timeout.
    Timeout,
    /// The connection could not be made or broke.
    Connect,
    /// The body exceeded the size cap.
    BodyTooLarge,
    /// Anything else.
    Other,
}

/// An HTTP exchange failure. Its message never contains credentials.
#[derive(Debug, Clone)]
pub struct HttpError {
    kind: HttpErrorKind,
    message: String,
}

impl HttpError {
    /// Creates an error.
    #[must_use]
    pub fn new(kind: HttpErrorKind, message: impl Into<String>) -> Self {
        HttpError {
            kind,
            message: message.into(),
        }
    }

    /// The failure kind.
    #[must_use]
    pub fn kind(&self) -> HttpErrorKind {
        self.kind
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// Sends HTTP requests for the SDK. Implementations must honour [`HttpRequest::max_body`]
/// while reading (not after buffering everything) and should honour the timeout; the SDK wraps
/// every call in its own timeout as well.
pub trait HttpClient: Send + Sync + 'static {
    /// Sends one request and reads the whole (bounded) response.
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>>;
}

/// Runs a request through `client` with the SDK's own timeout and size check around it.
pub(crate) async fn send(
    client: &dyn HttpClient,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let timeout = request.timeout;
    let max = request.max_body;
    let response = tokio::time::timeout(timeout, client.execute(request))
        .await
        .map_err(|_| {
            HttpError::new(
                HttpErrorKind::Timeout,
                format!("no complete answer within {timeout:?}"),
            )
        })??;
    if response.body.len() > max {
        return Err(HttpError::new(
            HttpErrorKind::BodyTooLarge,
            format!("body larger than {max} bytes"),
        ));
    }
    Ok(response)
}

/// The default client: reqwest with rustls (aws-lc-rs), redirects not followed, no cookies,
/// no proxy auto-detection surprises beyond reqwest's defaults.
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

#[cfg(feature = "reqwest")]
impl ReqwestClient {
    /// Builds the default client.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new() -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("auth-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::new(HttpErrorKind::Other, e.to_string()))?;
        Ok(ReqwestClient { client })
    }

    /// Wraps an existing `reqwest::Client` (your proxy, TLS roots, connection pool). Configure it
    /// not to follow redirects: key sets must come from the advertised URL.
    #[must_use]
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestClient { client }
    }
}

#[cfg(feature = "reqwest")]
fn classify(e: &reqwest::Error) -> HttpErrorKind {
    if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() || e.is_request() || e.is_body() {
        HttpErrorKind::Connect
    } else {
        HttpErrorKind::Other
    }
}

/// A short description without the URL (reqwest's `Display` includes it, query string and all),
/// followed by the causes.
#[cfg(feature = "reqwest")]
fn describe(e: &reqwest::Error) -> String {
    let mut msg = String::from(match classify(e) {
        HttpErrorKind::Timeout => "timed out",
        HttpErrorKind::Connect => "connection failed",
        _ => "request failed",
    });
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(feature = "reqwest")]
impl HttpClient for ReqwestClient {
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            let method = match request.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
            };
            let mut builder = self
                .client
                .request(method, &request.url)
                .timeout(request.timeout);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = request.body {
                builder = builder.body(body);
            }
            let mut response = builder
                .send()
                .await
                .map_err(|e| HttpError::new(classify(&e), describe(&e)))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            if response
                .content_length()
                .is_some_and(|len| len > request.max_body as u64)
            {
                return Err(HttpError::new(
                    HttpErrorKind::BodyTooLarge,
                    format!("body larger than {} bytes", request.max_body),
                ));
            }
            let mut body = bytes::BytesMut::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| HttpError::new(classify(&e), describe(&e)))?
            {
                if body.len() + chunk.len() > request.max_body {
                    return Err(HttpError::new(
                        HttpErrorKind::BodyTooLarge,
                        format!("body larger than {} bytes", request.max_body),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                headers,
                body: body.freeze(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let request = HttpRequest::post_form(
            "https://idp.example/token?client_secret=q-secret",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "rt-secret"),
            ],
            Duration::from_secs(1),
            1024,
        )
        .header("authorization", "Basic Y2xpZW50OmMtc2VjcmV0");
        let response = HttpResponse::new(
            200,
            vec![("set-cookie".into(), "sid=cookie-secret".into())],
            Bytes::from_static(br#"{"access_token":"at-secret"}"#),
        );
        let printed = format!("{request:?} {response:?} {request:#?} {response:#?}");
        for secret in [
            "q-secret",
            "rt-secret",
            "Y2xpZW50",
            "cookie-secret",
            "at-secret",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("https://idp.example/token"), "{printed}");
        assert!(printed.contains("authorization"), "{printed}");
    }
}
