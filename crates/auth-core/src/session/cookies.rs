//! The session's cookies: what each holds, how they are sealed, chunked, set and cleared, and
//! the cross-site check every cookie-authenticated unsafe request passes.
//!
//! - `{name}.session`: the access token, its expiry, the ID token (for RP-initiated logout) and
//!   profile claims for `/auth/me`.
//! - `{name}.refresh`: the refresh token.
//! - `{name}.flow-{state prefix}`: one per sign-in in progress (state, PKCE verifier, nonce,
//!   `return_to`), `SameSite=Lax` whatever the configured policy, so that it survives the
//!   provider's redirect back.
//!
//! Every value is sealed (see `seal`); values over the browser's 4 KB limit are split into
//! `name.0`, `name.1`, ... and joined on read.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::oauth::TokenResponse;
use super::opened::SessionAccess;
use super::{ClearPolicy, SameSite, SessionConfig};
use crate::adapter::{self, RequestView};
use crate::authenticator::Authenticator;
use crate::error::{AuthError, ErrorCode};

/// Access tokens this close to expiry are refreshed before use.
const EXPIRY_MARGIN_SECS: i64 = 5;

/// The size of one cookie chunk (the browser limit is 4096 bytes for name, value and attributes).
const CHUNK: usize = 3800;

/// The most chunks read back for one cookie.
const MAX_CHUNKS: usize = 16;

/// The sealed session cookie.
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionCookie {
    pub(crate) at: String,
    pub(crate) exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) it: Option<String>,
    /// Profile claims (name, email, ...) from the ID token or userinfo, for `/auth/me` when the
    /// access token does not carry them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub(crate) pf: serde_json::Map<String, Value>,
    /// The sign-in's `auth_time` and `acr`, from its ID token: what step-up guards read when
    /// the access token does not carry them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) au: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ac: Option<String>,
}

/// The sealed refresh cookie.
#[derive(Serialize, Deserialize)]
pub(crate) struct RefreshCookie {
    pub(crate) rt: String,
}

/// The sealed per-login flow cookie.
#[derive(Serialize, Deserialize)]
pub(crate) struct FlowCookie {
    pub(crate) state: String,
    pub(crate) verifier: String,
    #[serde(default)]
    pub(crate) nonce: Option<String>,
    pub(crate) return_to: String,
    pub(crate) iat: i64,
    /// The step-up `max_age` asked for, checked against the ID token's `auth_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_age: Option<u32>,
}

/// What a new session cookie takes over from the previous one (or from the callback).
#[derive(Default)]
pub(crate) struct Carried {
    pub(crate) id_token: Option<String>,
    pub(crate) profile: serde_json::Map<String, Value>,
    /// The sign-in's `auth_time` and `acr` (see [`SessionCookie::au`]).
    pub(crate) auth_time: Option<i64>,
    pub(crate) acr: Option<String>,
}

impl Carried {
    pub(crate) fn from_session(session: Option<SessionCookie>) -> Self {
        session
            .map(|sc| Carried {
                id_token: sc.it,
                profile: sc.pf,
                auth_time: sc.au,
                acr: sc.ac,
            })
            .unwrap_or_default()
    }
}

/// The flow cookie suffix for a state value (parallel logins each get their own cookie).
pub(crate) fn flow_suffix(state: &str) -> String {
    format!("flow-{}", &state[..state.len().min(16)])
}

/// Whether a method can change state (RFC 9110 §9.2.1: anything but GET, HEAD, OPTIONS, TRACE).
fn is_unsafe(method: &str) -> bool {
    !["GET", "HEAD", "OPTIONS", "TRACE"]
        .iter()
        .any(|m| method.eq_ignore_ascii_case(m))
}

/// Refuses a request that a page of another site made the browser send (cross-site request
/// forgery): an `Origin` that is neither the app's nor allowed, or `Sec-Fetch-Site: cross-site`
/// / `same-site` without an allowed `Origin`.
///
/// `Origin: null` alone is accepted: browsers send it for same-origin form posts under
/// `Referrer-Policy: no-referrer`; a sandboxed cross-site frame sending it is refused through
/// `Sec-Fetch-Site`, and `SameSite=Lax` keeps the cookies off cross-site posts on browsers that
/// send neither header. Requests without either header (non-browser clients) pass.
pub(crate) fn check_same_origin(
    s: &SessionConfig,
    req: &impl RequestView,
) -> Result<(), AuthError> {
    let forbidden = || AuthError::new(ErrorCode::PermissionDenied, "cross-site request refused");
    let origin = adapter::first_header(req, "origin");
    let trusted = origin.as_deref().is_some_and(|o| s.is_trusted_origin(o));
    if let Some(origin) = &origin
        && origin != "null"
        && !trusted
    {
        return Err(forbidden());
    }
    match adapter::first_header(req, "sec-fetch-site").as_deref() {
        Some("cross-site" | "same-site") if !trusted => Err(forbidden()),
        _ => Ok(()),
    }
}

/// The access token from the session cookie, refreshed if it expired (the new cookies go to
/// `set_cookies`). `Ok(None)` when there is no usable session cookie (a tampered or foreign one
/// counts as none).
///
/// # Errors
/// 403 for a cross-site unsafe request; `session_expired` / `invalid_grant` when the session
/// is over (with the clearing cookies in `set_cookies`); 503 while the provider is unreachable.
/// What a session cookie authenticates, which decides the `Origin` check and whether an
/// expired access token may be refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieUse {
    /// An HTTP request: unsafe methods need a same-origin `Origin`; refresh allowed.
    Request,
    /// A WebSocket upgrade: `Origin` checked; refresh allowed (the `101` carries the cookies).
    Upgrade,
    /// A Socket.IO-style handshake, read after its HTTP answer: `Origin` checked; no refresh.
    Handshake,
}

/// An access token found in a request.
pub(crate) enum PresentedToken {
    /// A session cookie's, still valid, with its verified-token cache key (the cookie was
    /// opened now or remembered from an earlier request).
    Session(Arc<SessionAccess>),
    /// Any other: a bearer token, a query or subprotocol token.
    Text(String),
}

impl PresentedToken {
    /// The access token.
    pub(crate) fn token(&self) -> &str {
        match self {
            PresentedToken::Session(access) => &access.at,
            PresentedToken::Text(token) => token,
        }
    }

    /// The session's sign-in `auth_time` and `acr` (from its ID token), for a session's token.
    pub(crate) fn sign_in(&self) -> (Option<i64>, Option<&str>) {
        match self {
            PresentedToken::Session(access) => (access.au, access.ac.as_deref()),
            PresentedToken::Text(_) => (None, None),
        }
    }

    /// Its key in the verified-token cache, when already known.
    pub(crate) fn cache_key(&self) -> Option<[u8; 32]> {
        match self {
            PresentedToken::Session(access) => Some(access.key),
            PresentedToken::Text(_) => None,
        }
    }
}

pub(crate) async fn session_token(
    auth: &Authenticator,
    s: &SessionConfig,
    req: &impl RequestView,
    usage: CookieUse,
    set_cookies: &mut Vec<String>,
) -> Result<Option<PresentedToken>, AuthError> {
    let check_origin = || match usage {
        CookieUse::Upgrade | CookieUse::Handshake => crate::ws::check_upgrade_origin(auth, req),
        CookieUse::Request if is_unsafe(req.method()) => check_same_origin(s, req),
        CookieUse::Request => Ok(()),
    };
    // The common case first: a session whose access token is still good. Only its token and
    // expiry are read (the ID token and profile are skipped; a cookie opened before is not
    // opened again), and the refresh cookie is not opened at all.
    if let Some(access) = session_access(s, req)
        && access.exp > auth.now_secs() + EXPIRY_MARGIN_SECS
    {
        check_origin()?;
        return Ok(Some(PresentedToken::Session(access)));
    }
    let session: Option<SessionCookie> = read_cookie(s, req, "session");
    let refresh = read_cookie::<RefreshCookie>(s, req, "refresh");
    if session.is_none() && refresh.is_none() {
        return Ok(None);
    }
    check_origin()?;
    if usage == CookieUse::Handshake {
        // No answer can carry rotated cookies: refreshing here would leave the browser with a
        // refresh token the provider has already replaced. The client refreshes over HTTP.
        return Err(AuthError::new(
            ErrorCode::TokenExpired,
            "the session's access token has expired: refresh the session over HTTP, then reconnect",
        ));
    }
    let Some(refresh) = refresh else {
        // Expired access token and nothing to refresh with: the session is over.
        set_cookies.extend(clear_session_cookies(s, req));
        return Err(AuthError::new(
            ErrorCode::SessionExpired,
            "the session has expired",
        ));
    };
    let carried = Carried::from_session(session);
    let (auth_time, acr) = (carried.auth_time, carried.acr.clone());
    // Boxed: the refresh (a call to the provider) is rare, and its state would otherwise be
    // part of every request's authentication future.
    match Box::pin(auth.refresh_tokens(&refresh.rt)).await {
        Ok(tokens) => {
            set_cookies.extend(session_cookies(
                auth,
                s,
                &tokens,
                Some(&refresh.rt),
                carried,
                req,
            ));
            let access = SessionAccess {
                at: tokens.access_token.clone(),
                exp: 0,
                key: [0; 32],
                au: auth_time,
                ac: acr,
            };
            Ok(Some(PresentedToken::Session(Arc::new(access.keyed()))))
        }
        Err(error) => {
            if clears_on(s, &error) {
                set_cookies.extend(clear_session_cookies(s, req));
            }
            Err(error)
        }
    }
}

/// Whether a failed refresh clears the session cookies, under the configured policy. Only
/// `invalid_grant` is final: the provider says the grant is dead.
pub(crate) fn clears_on(s: &SessionConfig, error: &AuthError) -> bool {
    match s.clear_policy {
        ClearPolicy::TerminalOnly => error.is(ErrorCode::InvalidGrant),
        ClearPolicy::Always => true,
        ClearPolicy::Never => false,
    }
}

/// The session cookie's access token and expiry: remembered from an earlier request with the
/// same cookie, or opened now (and then remembered). `None` when absent, tampered or foreign.
///
/// A whole (unchunked) cookie is looked up where it lies in the `Cookie` header: nothing is
/// copied on the usual path.
fn session_access(s: &SessionConfig, req: &impl RequestView) -> Option<Arc<SessionAccess>> {
    with_sealed_value(req, &s.session_cookie, |sealed| {
        if let Some(known) = s.opened.get(sealed) {
            return Some(known);
        }
        let access: SessionAccess = open_as(s, "session", sealed)?;
        let access = Arc::new(access.keyed());
        s.opened.insert(sealed, Arc::clone(&access));
        Some(access)
    })
}

/// Opens a sealed value and reads it as `T`.
fn open_as<T: DeserializeOwned>(s: &SessionConfig, purpose: &str, sealed: &[u8]) -> Option<T> {
    let plain = s.sealer.open(purpose, sealed)?;
    // UTF-8 checked once for the whole value, then parsed as text (see `parse_registered`).
    serde_json::from_str(std::str::from_utf8(&plain).ok()?).ok()
}

/// Reads and unseals a cookie (joining chunks). `None` when absent, tampered or foreign.
pub(crate) fn read_cookie<T: DeserializeOwned>(
    s: &SessionConfig,
    req: &impl RequestView,
    suffix: &str,
) -> Option<T> {
    let purpose = if suffix.starts_with("flow-") {
        "flow"
    } else {
        suffix
    };
    with_sealed_value(req, &s.cookie_name(suffix), |value| {
        open_as(s, purpose, value)
    })
}

/// Calls `f` with the sealed value of cookie `name`: whole (borrowed from the header, not
/// copied) or joined from its chunks `name.0`, `name.1`, ... (at most [`MAX_CHUNKS`],
/// contiguous from 0), from one pass over the `Cookie` headers. The first cookie of a name
/// wins, as browsers send the most specific first. `None` when there is no such cookie.
fn with_sealed_value<R>(
    req: &impl RequestView,
    name: &str,
    f: impl FnOnce(&[u8]) -> Option<R>,
) -> Option<R> {
    let mut f = Some(f);
    let mut whole: Option<Option<R>> = None;
    let mut chunks: Vec<Option<Vec<u8>>> = Vec::new();
    adapter::for_each_cookie(req, &mut |n, v| {
        if n == name {
            whole = f.take().map(|f| f(v));
            return false;
        }
        if let Some(index) = n
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|&i| i <= MAX_CHUNKS)
        {
            if chunks.len() <= index {
                chunks.resize(index + 1, None);
            }
            if chunks[index].is_none() {
                chunks[index] = Some(v.to_vec());
            }
        }
        true
    });
    if let Some(result) = whole {
        return result;
    }
    // The chunks from 0 up to the first gap; one past the limit means a forged set.
    let present = chunks.iter().take_while(|c| c.is_some()).count();
    if present == 0 || present > MAX_CHUNKS {
        return None;
    }
    let joined: Vec<u8> = chunks
        .into_iter()
        .take(present)
        .flatten()
        .flatten()
        .collect();
    f.take()?(&joined)
}

/// `Set-Cookie` values for a sealed cookie, chunked under the 4 KB browser limit.
pub(crate) fn seal_cookie(
    s: &SessionConfig,
    suffix: &str,
    purpose: &str,
    value: &impl Serialize,
    max_age: Duration,
    same_site: Option<SameSite>,
) -> Vec<String> {
    let name = s.cookie_name(suffix);
    let Some(sealed) = serde_json::to_vec(value)
        .ok()
        .and_then(|json| s.sealer.seal(purpose, &json))
    else {
        return Vec::new();
    };
    if sealed.len() <= CHUNK {
        return vec![build_cookie(s, &name, &sealed, Some(max_age), same_site)];
    }
    let mut out = vec![clear_cookie(s, &name)];
    for (i, part) in sealed.as_bytes().chunks(CHUNK).enumerate() {
        // The sealed form is base64url: every chunk boundary is a character boundary.
        let part = std::str::from_utf8(part).unwrap_or_default();
        out.push(build_cookie(
            s,
            &format!("{name}.{i}"),
            part,
            Some(max_age),
            same_site,
        ));
    }
    out
}

fn build_cookie(
    s: &SessionConfig,
    name: &str,
    value: &str,
    max_age: Option<Duration>,
    same_site: Option<SameSite>,
) -> String {
    let same_site = match same_site.unwrap_or(s.same_site) {
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::None => cookie::SameSite::None,
    };
    let mut c = cookie::Cookie::build((name.to_owned(), value.to_owned()))
        .http_only(true)
        .secure(s.secure)
        .same_site(same_site)
        .path("/");
    if let Some(domain) = &s.domain {
        c = c.domain(domain.clone());
    }
    if let Some(age) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(age.as_secs() as i64));
    }
    c.build().to_string()
}

/// A `Set-Cookie` value that deletes the cookie `name`.
pub(crate) fn clear_cookie(s: &SessionConfig, name: &str) -> String {
    build_cookie(s, name, "", Some(Duration::ZERO), None)
}

/// Cookies clearing the session, the refresh token and any chunks the browser sent.
pub(crate) fn clear_session_cookies(s: &SessionConfig, req: &impl RequestView) -> Vec<String> {
    let mut names = vec![s.cookie_name("session"), s.cookie_name("refresh")];
    for base in [s.cookie_name("session"), s.cookie_name("refresh")] {
        names.extend(adapter::cookie_names_with_prefix(req, &format!("{base}.")));
    }
    names.iter().map(|n| clear_cookie(s, n)).collect()
}

/// The session and refresh cookies for a token response. When the provider did not rotate
/// the refresh token, the previous one (`old_rt`) is kept.
pub(crate) fn session_cookies(
    auth: &Authenticator,
    s: &SessionConfig,
    tokens: &TokenResponse,
    old_rt: Option<&str>,
    carried: Carried,
    req: &impl RequestView,
) -> Vec<String> {
    let exp = jwt_exp(&tokens.access_token)
        .unwrap_or_else(|| auth.now_secs() + tokens.expires_in.unwrap_or(300.0) as i64);
    let session = SessionCookie {
        at: tokens.access_token.clone(),
        exp,
        it: tokens.id_token.clone().or(carried.id_token),
        pf: carried.profile,
        au: carried.auth_time,
        ac: carried.acr,
    };
    // Clear chunks left over from a larger earlier value, then set the new ones.
    let mut out: Vec<String> = Vec::new();
    for base in [s.cookie_name("session"), s.cookie_name("refresh")] {
        for name in adapter::cookie_names_with_prefix(req, &format!("{base}.")) {
            out.push(clear_cookie(s, &name));
        }
    }
    out.extend(seal_cookie(
        s,
        "session",
        "session",
        &session,
        s.session_ttl,
        None,
    ));
    match tokens.refresh_token.as_deref().or(old_rt) {
        Some(rt) => out.extend(seal_cookie(
            s,
            "refresh",
            "refresh",
            &RefreshCookie { rt: rt.to_owned() },
            s.session_ttl,
            None,
        )),
        None => out.push(clear_cookie(s, &s.cookie_name("refresh"))),
    }
    out
}

/// The `exp` of a JWT, read without verification (only to time the cookie; the token is
/// verified on every use).
fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("exp")?.as_f64().map(|e| e as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::SimpleRequest;

    fn config() -> SessionConfig {
        SessionConfig::builder("https://app.example.com")
            .client_id("app")
            .cookie_secret("x".repeat(32))
            .allow_origin("https://admin.example.com")
            .build()
            .expect("config")
    }

    #[test]
    fn cross_site_requests_are_refused_and_same_origin_ones_pass() {
        let s = config();
        let post = |headers: &[(&str, &str)]| {
            let mut r = SimpleRequest::new("POST", "/api/items");
            for (n, v) in headers {
                r = r.header(n, v);
            }
            check_same_origin(&s, &r)
        };
        for ok in [
            &[][..],
            &[("origin", "https://app.example.com")][..],
            &[
                ("origin", "https://admin.example.com"),
                ("sec-fetch-site", "same-site"),
            ][..],
            &[("origin", "null"), ("sec-fetch-site", "same-origin")][..],
            &[("origin", "null")][..],
            &[("sec-fetch-site", "none")][..],
            &[("sec-fetch-site", "same-origin")][..],
        ] {
            assert!(post(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            &[("origin", "https://evil.example")][..],
            &[("origin", "https://app.example.com.evil.example")][..],
            &[("origin", "http://app.example.com")][..],
            &[("sec-fetch-site", "cross-site")][..],
            &[("sec-fetch-site", "same-site")][..],
            &[("origin", "null"), ("sec-fetch-site", "cross-site")][..],
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "same-origin"),
            ][..],
        ] {
            let err = post(bad).expect_err("refused");
            assert_eq!(err.code(), ErrorCode::PermissionDenied, "{bad:?}");
        }
    }

    #[test]
    fn a_session_cookie_is_opened_once_and_a_tampered_one_never_remembered() {
        let s = config();
        let session = SessionCookie {
            at: "access-token".into(),
            exp: 4_000_000_000,
            it: Some("id-token".into()),
            pf: serde_json::Map::new(),
            au: None,
            ac: None,
        };
        let json = serde_json::to_vec(&session).expect("json");
        let sealed = s.sealer.seal("session", &json).expect("sealed");
        let request = |value: &str| {
            SimpleRequest::new("GET", "/api/me")
                .header("cookie", &format!("other=1; {}={value}", s.session_cookie))
        };
        assert!(s.opened.get(sealed.as_bytes()).is_none());
        let first = session_access(&s, &request(&sealed)).expect("opens");
        assert_eq!(
            (first.at.as_str(), first.exp),
            ("access-token", 4_000_000_000)
        );
        assert!(s.opened.get(sealed.as_bytes()).is_some(), "remembered");
        assert_eq!(
            first.key,
            crate::token_cache::key_of("access-token"),
            "the token's cache key is kept with it"
        );
        let again = session_access(&s, &request(&sealed)).expect("remembered");
        assert!(Arc::ptr_eq(&first, &again), "answered from the cache");
        // One character changed: not the remembered value, and it does not open.
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(session_access(&s, &request(&tampered)).is_none());
        assert!(
            s.opened.get(tampered.as_bytes()).is_none(),
            "a value that did not open takes no room"
        );
        // A value sealed for another purpose is refused too, cache or not.
        let refresh = s.sealer.seal("refresh", &json).expect("sealed");
        assert!(session_access(&s, &request(&refresh)).is_none());
    }

    #[test]
    fn a_cookie_is_read_whole_or_joined_from_its_chunks() {
        let read = |header: &str| {
            let req = SimpleRequest::new("GET", "/").header("cookie", header);
            with_sealed_value(&req, "auth.session", |v| {
                Some(String::from_utf8(v.to_vec()).expect("ascii"))
            })
        };
        assert_eq!(read("a=1; auth.session=whole").as_deref(), Some("whole"));
        assert_eq!(
            read("auth.session.1=def; auth.session.0=abc; auth.session.2=gh").as_deref(),
            Some("abcdefgh")
        );
        // A whole value wins over chunks; the first of a name wins; chunks stop at a gap.
        assert_eq!(
            read("auth.session.0=abc; auth.session=whole").as_deref(),
            Some("whole")
        );
        assert_eq!(
            read("auth.session=one; auth.session=two").as_deref(),
            Some("one")
        );
        assert_eq!(
            read("auth.session.0=a; auth.session.0=b; auth.session.2=c").as_deref(),
            Some("a")
        );
        assert_eq!(read("auth.session.1=def"), None);
        assert_eq!(read("auth.sessionx=1; other.session=2"), None);
        // Past the limit: a forged set.
        let many: Vec<String> = (0..=MAX_CHUNKS)
            .map(|i| format!("auth.session.{i}=x"))
            .collect();
        assert_eq!(read(&many.join("; ")), None);

        // A chunked session cookie opens, and is remembered, like a whole one.
        let s = config();
        let session = SessionCookie {
            at: "access-token".into(),
            exp: 4_000_000_000,
            it: Some("i".repeat(5_000)),
            pf: serde_json::Map::new(),
            au: Some(1_765_000_000),
            ac: None,
        };
        let set = seal_cookie(
            &s,
            "session",
            "session",
            &session,
            Duration::from_secs(60),
            None,
        );
        assert!(set.len() > 1, "{} cookies", set.len());
        // What a browser then sends: the chunks (the first `Set-Cookie` deletes the whole one).
        let pairs: Vec<&str> = set
            .iter()
            .filter(|c| !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().expect("pair"))
            .collect();
        assert_eq!(pairs.len(), set.len() - 1, "{set:?}");
        let req = SimpleRequest::new("GET", "/api/me").header("cookie", &pairs.join("; "));
        let first = session_access(&s, &req).expect("opens from chunks");
        assert_eq!(first.at, "access-token");
        // The sign-in's auth_time rides along, for step-up guards.
        assert_eq!(
            PresentedToken::Session(Arc::clone(&first)).sign_in(),
            (Some(1_765_000_000), None)
        );
        let again = session_access(&s, &req).expect("remembered");
        assert!(Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn safe_methods_are_not_state_changing() {
        for m in ["GET", "head", "OPTIONS", "TRACE"] {
            assert!(!is_unsafe(m), "{m}");
        }
        for m in ["POST", "PUT", "PATCH", "DELETE", "delete", "PROPFIND"] {
            assert!(is_unsafe(m), "{m}");
        }
    }
}
