//! The contract between the core and a framework adapter: a request view to read, a response
//! description to send, and [`RequestAuth`], the per-request state every extractor and guard of
//! one request shares.
//!
//! The core never sees an `http` crate type (actix-web 4 uses `http` 0.2, axum and warp use
//! `http` 1). An adapter does only this:
//!
//! 1. implement [`RequestView`] over its request and [`ResponseHeaders`] over its response
//!    headers (a few lines each, no copying);
//! 2. per request, create one [`RequestAuth`] and make it reachable from its extractors;
//! 3. ask it for the claims ([`RequestAuth::claims`]) or a decision
//!    ([`RequestAuth::require`]), and render refusals with [`RequestAuth::render`];
//! 4. on the way out, let [`RequestAuth::finish`] add the headers the outcome needs (refreshed
//!    or cleared cookies, `Vary`, `Cache-Control`);
//! 5. mount [`Authenticator::handle`] for the helper routes and turn each [`AuthResponse`] into
//!    its own response type.
//!
//! Everything that decides (what counts as a credential, how a header value that is not
//! UTF-8 is treated, which response is cacheable, whose cookie wins) is here, once.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::ExtraClaims;
use tokio::sync::OnceCell;

use crate::authenticator::{
    AuthData, Authenticated, Authenticator, Outcome, not_an_upgrade, token_missing,
};
use crate::claims::{self, Claims, NoExtraClaims};
use crate::error::AuthError;
use crate::guard::Guard;
use crate::owner::{Access, AccessMode, Ownership};
use crate::ws::{self, SocketAuth};

/// What the core needs to read from a request. Implement it over your framework's request type
/// without copying: headers are visited, not collected.
pub trait RequestView {
    /// The method, e.g. `"GET"`.
    fn method(&self) -> &str;
    /// The path, e.g. `"/auth/callback"`.
    fn path(&self) -> &str;
    /// The raw query string, without `?`.
    fn query(&self) -> Option<&str>;
    /// Calls `f` with the raw bytes of each value of the header `name` (lower-case), in order.
    ///
    /// Pass the bytes as they are, even when they are not visible ASCII: the core decides what
    /// such a value means (a credential with a stray byte is refused, never mistaken for no
    /// credential).
    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8]));
}

/// The headers of a response on its way out, as [`RequestAuth::finish`] needs them.
pub trait ResponseHeaders {
    /// Calls `f` with the raw bytes of each value of the header `name` (lower-case).
    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8]));
    /// Appends a header. `name` is lower-case; `value` is a valid header value (visible ASCII
    /// and spaces).
    fn append(&mut self, name: &'static str, value: &[u8]);
    /// Appends a header whose value is a constant (`Vary`, `Cache-Control`): an adapter can
    /// use it without copying or validating it per response. By default, [`append`](Self::append).
    fn append_static(&mut self, name: &'static str, value: &'static str) {
        self.append(name, value.as_bytes());
    }
}

/// The first value of a header, as text (bytes that are not UTF-8 become U+FFFD, so that a
/// malformed credential is refused rather than mistaken for no credential).
pub(crate) fn first_header(req: &impl RequestView, name: &str) -> Option<String> {
    let mut out = None;
    req.for_each_header(name, &mut |v| {
        if out.is_none() {
            out = Some(text(v).into_owned());
        }
    });
    out
}

/// A header value as text: borrowed when it is UTF-8 (std's validation, much faster than
/// `from_utf8_lossy`'s on long values such as cookies), with replacement characters otherwise.
pub(crate) fn text(value: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(value) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value),
    }
}

/// Calls `f` with each value of header `name` in an `http` 1 header map: an adapter's
/// [`RequestView::for_each_header`] over `http` types (auth-axum, auth-warp use it).
///
/// The headers the core reads on every request (`authorization`, `cookie`, `upgrade`,
/// `connection`, `sec-websocket-protocol`, `origin`, `host`, `x-api-key`) are looked up by
/// their constant names: a lookup by `&str` parses and validates the name first, which was two
/// thirds of the check for a credential in a `perf` profile of a request without one.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.append("authorization", http::HeaderValue::from_static("Bearer abc"));
/// let mut seen = Vec::new();
/// auth_core::adapter::for_each_http_header(&headers, "authorization", &mut |v| {
///     seen.push(v.to_vec())
/// });
/// assert_eq!(seen, [b"Bearer abc".to_vec()]);
/// ```
#[cfg(feature = "http")]
pub fn for_each_http_header(headers: &http::HeaderMap, name: &str, f: &mut dyn FnMut(&[u8])) {
    use http::header::{self, HeaderName};
    let known = match name {
        "authorization" => Some(header::AUTHORIZATION),
        "cookie" => Some(header::COOKIE),
        "upgrade" => Some(header::UPGRADE),
        "connection" => Some(header::CONNECTION),
        "sec-websocket-protocol" => Some(header::SEC_WEBSOCKET_PROTOCOL),
        "origin" => Some(header::ORIGIN),
        "host" => Some(header::HOST),
        // The default API-key header.
        "x-api-key" => Some(const { HeaderName::from_static("x-api-key") }),
        _ => None,
    };
    let values = match known {
        Some(name) => headers.get_all(name),
        None => headers.get_all(name),
    };
    for value in values {
        f(value.as_bytes());
    }
}

/// The number of values of a header.
pub(crate) fn header_count(req: &impl RequestView, name: &str) -> usize {
    let mut n = 0;
    req.for_each_header(name, &mut |_| n += 1);
    n
}

/// Calls `f` with the name and the raw value of each cookie of every `Cookie` header, until it
/// returns `false`: the pairs split at `;`, name and value trimmed of spaces and tabs, a pair
/// without `=`, with an empty name or a name that is not UTF-8 skipped (RFC 6265 §5.4, and what
/// `cookie::Cookie::split_parse` yields). The value stays bytes: a sealed value is base64url,
/// which its decoder checks, so the request's largest header is not validated as UTF-8 first.
///
/// One SIMD scan for `;` per header, and nothing copied: this runs on every cookie-authenticated
/// request, over 2–3 KB of session cookie.
pub(crate) fn for_each_cookie(req: &impl RequestView, f: &mut dyn FnMut(&str, &[u8]) -> bool) {
    let mut go = true;
    req.for_each_header("cookie", &mut |header| {
        let mut start = 0;
        let ends = memchr::memchr_iter(b';', header).chain(std::iter::once(header.len()));
        for end in ends {
            if !go {
                return;
            }
            let pair = &header[start..end];
            start = end + 1;
            let Some(eq) = memchr::memchr(b'=', pair) else {
                continue;
            };
            let name = pair[..eq].trim_ascii();
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            if !name.is_empty() {
                go = f(name, pair[eq + 1..].trim_ascii());
            }
        }
    });
}

/// The names of request cookies starting with `prefix`.
pub(crate) fn cookie_names_with_prefix(req: &impl RequestView, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for_each_cookie(req, &mut |n, _| {
        if n.starts_with(prefix) && !out.iter().any(|o| o == n) {
            out.push(n.to_owned());
        }
        true
    });
    out
}

/// Parses a query string, refusing duplicated parameters.
pub(crate) fn query_params(query: Option<&str>) -> Result<HashMap<String, String>, ()> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if out.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(());
        }
    }
    Ok(out)
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
    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case(name) {
                f(v.as_bytes());
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
        AuthResponse::error_in(
            err,
            &crate::error::ChallengeContext {
                realm,
                bearer: true,
                ..Default::default()
            },
        )
    }

    /// [`error`](Self::error), with the challenges of an application's schemes.
    pub(crate) fn error_in(err: &AuthError, ctx: &crate::error::ChallengeContext<'_>) -> Self {
        let mut r = AuthResponse::json(err.status(), &err.to_json());
        if let Some(challenge) = err.challenge(ctx) {
            r = r.with_header("www-authenticate", &challenge);
        }
        if let Some(secs) = err.retry_after() {
            r = r.with_header("retry-after", &secs.to_string());
        }
        r
    }

    /// Adds a header. A name or value that is not valid in HTTP (control characters, a line
    /// break that would inject a header) is dropped and logged, never sent.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let value_ok = value
            .bytes()
            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
        if name_ok && value_ok {
            self.headers
                .push((name.to_ascii_lowercase(), value.to_owned()));
        } else {
            tracing::warn!(header = %name.escape_debug(), "dropped an invalid header from an auth response");
        }
        self
    }

    /// Replaces a header (every value of that name).
    #[must_use]
    pub fn set_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.with_header(name, value)
    }

    /// Replaces the body with an HTML document (and sets `Content-Type` accordingly), keeping
    /// the status and every other header: for an
    /// [`error_handler`](crate::AuthenticatorBuilder::error_handler) that shows people a page.
    #[must_use]
    pub fn with_html_body(mut self, html: impl Into<String>) -> Self {
        self.body = html.into().into_bytes();
        self.set_header("content-type", "text/html; charset=utf-8")
    }

    /// Replaces the body with JSON (and sets `Content-Type` accordingly), keeping the status and
    /// every other header.
    #[must_use]
    pub fn with_json_body(mut self, value: &serde_json::Value) -> Self {
        self.body = value.to_string().into_bytes();
        self.set_header("content-type", "application/json")
    }

    /// Adds `Set-Cookie` headers.
    #[must_use]
    pub fn with_cookies(mut self, set_cookies: impl IntoIterator<Item = String>) -> Self {
        for c in set_cookies {
            self = self.with_header("set-cookie", &c);
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

/// What an unauthenticated request gets (see [`RequestAuth::new`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unauthenticated {
    /// The error response: 401 with the RFC 6750 challenge (for APIs).
    #[default]
    Reject,
    /// For pages: a browser navigating to the page (`GET`/`HEAD`, `Sec-Fetch-Mode: navigate`
    /// or `Accept: text/html`) without a usable session is redirected (303) to
    /// `{prefix}/login?return_to=<the page>`; other requests (`fetch`, API clients) still get
    /// the 401. Needs sessions; without them it behaves as [`Reject`](Self::Reject).
    RedirectToLogin,
}

/// One request's authentication, shared by every extractor, guard and layer of that request.
/// Cheap to clone (an `Arc`).
///
/// The request is authenticated at most once, on first use: the first [`claims`](Self::claims)
/// or [`require`](Self::require) call runs the token sources, the verification, a transparent
/// session refresh and the hooks; later calls reuse the result, whichever claims type they ask
/// for. [`render`](Self::render) turns a refusal into the response to send (the same for every
/// adapter), and [`finish`](Self::finish) adds what the outcome needs to the response.
///
/// ```
/// use auth_core::adapter::{RequestAuth, SimpleRequest, Unauthenticated};
/// use auth_core::{Authenticator, NoExtraClaims};
///
/// async fn serve(authenticator: &Authenticator, req: SimpleRequest) -> u16 {
///     let auth = RequestAuth::new(authenticator, Unauthenticated::Reject);
///     match auth.claims::<NoExtraClaims>(&req).await {
///         Ok(Some(claims)) => 200,
///         Ok(None) => 200, // a public page, seen signed out
///         Err(error) => auth.render(&error).status,
///     }
/// }
/// # let _ = serve;
/// ```
#[derive(Clone)]
pub struct RequestAuth {
    state: Arc<State>,
}

struct State {
    authenticator: Authenticator,
    unauthenticated: Unauthenticated,
    outcome: OnceCell<Outcome>,
    /// Where an unauthenticated browser navigation is sent, when that applies.
    login_location: OnceLock<String>,
    /// The guards this upgrade request passed, so that its connection re-checks them on
    /// re-authentication (empty for other requests).
    upgrade_guards: std::sync::Mutex<Vec<Guard>>,
}

impl fmt::Debug for RequestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.state.outcome.get().map(|o| &o.result) {
            None => "not yet authenticated",
            Some(Ok(Some(_))) => "authenticated",
            Some(Ok(None)) => "no credential",
            Some(Err(_)) => "refused",
        };
        f.debug_struct("RequestAuth")
            .field("unauthenticated", &self.state.unauthenticated)
            .field("outcome", &outcome)
            .finish_non_exhaustive()
    }
}

impl RequestAuth {
    /// The state of a new request.
    #[must_use]
    pub fn new(authenticator: &Authenticator, unauthenticated: Unauthenticated) -> Self {
        RequestAuth {
            state: Arc::new(State {
                authenticator: authenticator.clone(),
                unauthenticated,
                outcome: OnceCell::new(),
                login_location: OnceLock::new(),
                upgrade_guards: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    /// The authenticator.
    #[must_use]
    pub fn authenticator(&self) -> &Authenticator {
        &self.state.authenticator
    }

    /// Authenticates the request, once: later calls return the first result.
    async fn outcome(&self, req: &impl RequestView) -> &Outcome {
        let state = &self.state;
        // Without anything a credential could come from (a public page, a health check), the
        // outcome is known at once: no async state, no allocation.
        if state.outcome.get().is_none() && state.authenticator.carries_no_credential(req) {
            let _ = state.outcome.set(Outcome {
                result: Ok(None),
                set_cookies: Vec::new(),
            });
        }
        // Boxed: the authentication's state (the verification, a refresh, the hooks) would
        // otherwise be part of every extractor's future, and of the handler future that the
        // framework moves into its own box, on every request.
        let outcome = state
            .outcome
            .get_or_init(|| Box::pin(state.authenticator.outcome(req)))
            .await;
        if !matches!(outcome.result, Ok(Some(_)))
            && self.state.unauthenticated == Unauthenticated::RedirectToLogin
            && self.state.login_location.get().is_none()
            && let Some(location) = self.login_location(req)
        {
            let _ = self.state.login_location.set(location);
        }
        outcome
    }

    /// The verified caller, `None` without a credential.
    ///
    /// # Errors
    /// A bad credential, a failed refresh, a refusing hook (see
    /// [`Authenticator::authenticate`]).
    pub async fn authenticated(
        &self,
        req: &impl RequestView,
    ) -> Result<Option<&Authenticated<NoExtraClaims>>, AuthError> {
        match &self.outcome(req).await.result {
            Ok(auth) => Ok(auth.as_ref()),
            Err(e) => Err(e.clone()),
        }
    }

    /// The request's claims with the application's claims type `C`, `None` without a
    /// credential. Several calls with different types share one verification; each type is
    /// read from the verified payload once per call.
    ///
    /// # Errors
    /// As [`authenticated`](Self::authenticated); `token_invalid`
    /// ([`ClaimsShape`](crate::TokenInvalidReason::ClaimsShape)) when the payload does not fit `C`.
    pub async fn claims<C>(&self, req: &impl RequestView) -> Result<Option<Claims<C>>, AuthError>
    where
        C: ExtraClaims,
    {
        match self.authenticated(req).await? {
            Some(auth) => claims::retype::<C>(&auth.claims).map(Some),
            None => Ok(None),
        }
    }

    /// Like [`claims`](Self::claims), refusing a request without a credential.
    ///
    /// # Errors
    /// `token_missing` without a credential; otherwise as [`claims`](Self::claims).
    pub async fn required_claims<C>(&self, req: &impl RequestView) -> Result<Claims<C>, AuthError>
    where
        C: ExtraClaims,
    {
        self.claims::<C>(req).await?.ok_or_else(token_missing)
    }

    /// The caller, whichever kind of credential it used (JWT or API key), with its claims read
    /// as `C`; `None` without a credential.
    ///
    /// # Errors
    /// As [`claims`](Self::claims).
    pub async fn auth_data<C>(
        &self,
        req: &impl RequestView,
    ) -> Result<Option<AuthData<C>>, AuthError>
    where
        C: ExtraClaims,
    {
        match self.authenticated(req).await? {
            Some(auth) => {
                let claims = claims::retype::<C>(&auth.claims)?;
                Ok(Some(AuthData::of(auth, claims)))
            }
            None => Ok(None),
        }
    }

    /// Like [`auth_data`](Self::auth_data), refusing a request without a credential.
    ///
    /// # Errors
    /// `token_missing` without a credential; otherwise as [`claims`](Self::claims).
    pub async fn required_auth_data<C>(
        &self,
        req: &impl RequestView,
    ) -> Result<AuthData<C>, AuthError>
    where
        C: ExtraClaims,
    {
        self.auth_data::<C>(req).await?.ok_or_else(token_missing)
    }

    /// Admits the request only with a valid credential whose claims pass `guard` (any valid
    /// credential without one). The authenticator's own helper routes (`/auth/login`, ...)
    /// always pass, so a layer protecting a whole router may wrap them.
    ///
    /// # Errors
    /// `token_missing` without a credential, the credential's error, or the guard's
    /// `permission_denied`.
    pub async fn require(
        &self,
        req: &impl RequestView,
        guard: Option<&Guard>,
    ) -> Result<(), AuthError> {
        if self.state.authenticator.is_helper_route(req.path()) {
            return Ok(());
        }
        let Some(auth) = self.authenticated(req).await? else {
            return Err(token_missing());
        };
        let Some(guard) = guard else {
            return Ok(());
        };
        let now = self.state.authenticator.now_secs();
        guard.check_at(&auth.claims, now).map_err(|e| {
            // The answer is a challenge of the scheme the token came with.
            if auth.dpop_key.is_some() {
                e.for_dpop()
            } else {
                e
            }
        })?;
        if ws::is_websocket_upgrade(req)
            && let Ok(mut guards) = self.state.upgrade_guards.lock()
        {
            guards.push(guard.clone());
        }
        Ok(())
    }

    /// Admits the request to resource `id` under `ownership`: the caller must have a credential,
    /// and the rule decides in `mode` (by default the one for the request's method,
    /// [`AccessMode::for_method`]). This is what the adapters' owner guards run.
    ///
    /// # Errors
    /// `token_missing` without a credential, the credential's error, or
    /// [`Ownership::authorize`]'s.
    pub async fn owned(
        &self,
        req: &impl RequestView,
        ownership: &Ownership,
        id: &str,
        mode: Option<AccessMode>,
    ) -> Result<Access, AuthError> {
        let mode = mode.unwrap_or_else(|| AccessMode::for_method(req.method()));
        match self.authenticated(req).await? {
            Some(auth) => ownership
                .authorize(&auth.claims, id, mode)
                .await
                .map_err(|e| {
                    if auth.dpop_key.is_some() {
                        e.for_dpop()
                    } else {
                        e
                    }
                }),
            None => Err(token_missing()),
        }
    }

    /// The connection state of a WebSocket upgrade: the request's credential (from the
    /// upgrade sources, see [`crate::ws`]) must be valid, and the result carries the
    /// caller, the subprotocol to select (see [`SocketAuth::new`]) and the deadline. Shares the request's one
    /// authentication with its guards, and every guard the request passed through
    /// [`require`](Self::require) (the adapters' route guards) is checked again on each
    /// in-band re-authentication; [`finish`](Self::finish) puts refreshed session cookies on
    /// the `101` answer.
    ///
    /// # Errors
    /// `invalid_request` when the request is not a WebSocket upgrade; `token_missing` without
    /// a credential; the credential's error.
    pub async fn upgrade(&self, req: &impl RequestView) -> Result<SocketAuth, AuthError> {
        let result = self.upgrade_inner(req).await;
        if let Err(e) = &result {
            crate::metrics::upgrade_rejected(e);
        }
        result
    }

    async fn upgrade_inner(&self, req: &impl RequestView) -> Result<SocketAuth, AuthError> {
        if !ws::is_websocket_upgrade(req) {
            return Err(not_an_upgrade());
        }
        let Some(auth) = self.authenticated(req).await? else {
            return Err(token_missing());
        };
        let mut conn = SocketAuth::new(&self.state.authenticator, auth.clone(), req);
        let guards = match self.state.upgrade_guards.lock() {
            Ok(guards) => guards.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for guard in guards {
            conn.require(guard)?;
        }
        Ok(conn)
    }

    /// The response for a refusal of this request: for an unauthenticated browser navigation
    /// under [`Unauthenticated::RedirectToLogin`], a redirect to the login route; otherwise
    /// [`Authenticator::error_response`] (status, JSON body, challenge with the realm,
    /// `Retry-After`, then the application's error handler). The outcome's cookies are added by
    /// [`finish`](Self::finish), as for any response.
    #[must_use]
    pub fn render(&self, error: &AuthError) -> AuthResponse {
        tracing::trace!(
            target: "auth::rejection",
            code = error.code().as_str(),
            status = error.status(),
            message = error.message(),
            "request rejected"
        );
        if error.status() == 401
            && let Some(location) = self.state.login_location.get()
        {
            return AuthResponse::redirect(location);
        }
        self.state.authenticator.error_response(error)
    }

    /// Adds to a response what this request's outcome needs, once authentication was
    /// consulted (nothing otherwise: a public route stays cacheable):
    ///
    /// - `Vary: Cookie, Authorization`, and for an authenticated request
    ///   `Cache-Control: private, no-store` unless the handler set its own `Cache-Control`:
    ///   without them a shared cache could serve one user's page to another, and the browser's
    ///   back/forward cache would show signed-in pages after sign-out;
    /// - the `Set-Cookie` headers of a transparent refresh, or of the clearing of a session that
    ///   cannot continue, except for cookies the handler set itself (the handler wins).
    pub fn finish(&self, response: &mut impl ResponseHeaders) {
        let Some(outcome) = self.state.outcome.get() else {
            return;
        };
        response.append_static("vary", "Cookie, Authorization");
        if let Ok(Some(auth)) = &outcome.result
            && auth.dpop_key.is_some()
            && let Some(nonce) = self.state.authenticator.dpop_nonce()
        {
            // The next proof's nonce (RFC 9449 §8.2).
            response.append("dpop-nonce", nonce.as_bytes());
        }
        if matches!(outcome.result, Ok(Some(_))) {
            let mut has_cache_control = false;
            response.for_each_header("cache-control", &mut |_| has_cache_control = true);
            if !has_cache_control {
                response.append_static("cache-control", "private, no-store");
            }
        }
        if outcome.set_cookies.is_empty() {
            return;
        }
        let mut present: Vec<String> = Vec::new();
        response.for_each_header("set-cookie", &mut |v| {
            present.push(cookie_name(&text(v)).to_owned());
        });
        for cookie in &outcome.set_cookies {
            if !present.iter().any(|name| name == cookie_name(cookie)) {
                response.append("set-cookie", cookie.as_bytes());
            }
        }
    }

    /// `{prefix}/login?return_to=<path and query>` for a browser navigation, when sessions are
    /// configured.
    fn login_location(&self, req: &impl RequestView) -> Option<String> {
        let s = self.state.authenticator.session_config()?;
        let method = req.method();
        if !(method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")) {
            return None;
        }
        let navigate = first_header(req, "sec-fetch-mode").as_deref() == Some("navigate");
        let html = first_header(req, "accept").is_some_and(|a| a.contains("text/html"));
        if !(navigate || html) || self.state.authenticator.is_helper_route(req.path()) {
            return None;
        }
        let mut target = req.path().to_owned();
        if let Some(q) = req.query().filter(|q| !q.is_empty()) {
            target.push('?');
            target.push_str(q);
        }
        let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
        Some(format!("{}/login?return_to={encoded}", s.prefix()))
    }
}

/// The name of a `Set-Cookie` value (`name=value; attributes`).
fn cookie_name(set_cookie: &str) -> &str {
    set_cookie
        .split_once('=')
        .map_or(set_cookie, |(name, _)| name)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_header_values_never_reach_a_response() {
        let r = AuthResponse::new(200)
            .with_header("x-ok", "fine value")
            .with_header("x-bad", "a\r\nset-cookie: evil=1")
            .with_header("bad name", "x");
        assert_eq!(r.headers.len(), 1, "{r:?}");
        assert_eq!(r.header("x-ok"), Some("fine value"));
    }

    #[test]
    fn header_values_that_are_not_utf8_are_seen_as_replacement_characters() {
        struct Raw;
        impl RequestView for Raw {
            fn method(&self) -> &str {
                "GET"
            }
            fn path(&self) -> &str {
                "/"
            }
            fn query(&self) -> Option<&str> {
                None
            }
            fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
                if name == "authorization" {
                    f(b"Bearer abc\xffdef");
                }
            }
        }
        assert_eq!(
            first_header(&Raw, "authorization").as_deref(),
            Some("Bearer abc\u{fffd}def")
        );
    }

    #[test]
    fn duplicated_query_parameters_are_refused() {
        assert!(query_params(Some("a=1&b=2")).is_ok());
        assert!(query_params(Some("state=1&state=2")).is_err());
    }

    /// The lean cookie scan reads every header as the `cookie` crate's parser does.
    #[test]
    fn cookies_are_read_as_the_cookie_crate_reads_them() {
        let headers = [
            "a=1; b=2",
            "a=1;b=2;;c=3",
            "  a = 1 ;\tb=\t2\t; ",
            "novalue; =nameless; x=",
            "q=\"quoted\"; eq=a=b=c",
            ";;;",
            "",
            "auth.session.0=abc; auth.session.1=def; auth.session=whole",
            "dup=1; dup=2",
            "sp ace=v; tab\tname=w",
        ];
        for header in headers {
            let req = SimpleRequest::new("GET", "/").header("cookie", header);
            let mut ours = Vec::new();
            for_each_cookie(&req, &mut |n, v| {
                ours.push((n.to_owned(), String::from_utf8(v.to_vec()).expect("ascii")));
                true
            });
            let theirs: Vec<(String, String)> = cookie::Cookie::split_parse(header)
                .flatten()
                .map(|c| (c.name().to_owned(), c.value().to_owned()))
                .collect();
            assert_eq!(ours, theirs, "{header:?}");
        }
        // Two headers are read in order, and `false` stops the scan.
        let req = SimpleRequest::new("GET", "/")
            .header("cookie", "a=1; b=2")
            .header("cookie", "c=3");
        let mut seen = Vec::new();
        for_each_cookie(&req, &mut |n, _| {
            seen.push(n.to_owned());
            true
        });
        assert_eq!(seen, ["a", "b", "c"]);
        seen.clear();
        for_each_cookie(&req, &mut |n, _| {
            seen.push(n.to_owned());
            n != "b"
        });
        assert_eq!(seen, ["a", "b"]);
    }

    #[test]
    fn set_cookie_names() {
        assert_eq!(cookie_name("auth.session=abc; Path=/"), "auth.session");
        assert_eq!(cookie_name(" a =b"), "a");
    }
}
