//! The session engine: the flows behind the helper routes, and per-request authentication.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ClearPolicy, ClientAuth, SameSite, SessionConfig, safe_return_to};
use crate::claims::{Claims, NoExtraClaims};
use crate::discovery::ProviderMetadata;
use crate::error::{AuthError, ErrorCode};
use crate::flight::lock;
use crate::http::{HttpRequest, send};
use crate::verifier::Verifier;
use crate::web::{self, AuthResponse, RequestView};

/// Where a request's credential was found.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer …` (scheme case-insensitive).
    Header,
    /// The sealed session cookie (refreshed transparently when expired).
    Cookie,
    /// `?access_token=…` (RFC 6750 §2.3): only when listed in the configured sources.
    Query,
}

/// A verified request.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Authenticated<C = NoExtraClaims> {
    /// The verified claims.
    pub claims: Claims<C>,
    /// Where the credential came from.
    pub source: TokenSource,
    /// `Set-Cookie` headers the response must carry (after a transparent refresh).
    pub set_cookies: Vec<String>,
    /// Application data from the provisioning hook (merged into `/auth/me`).
    pub user_data: serde_json::Map<String, Value>,
}

/// What a hook sees of a verified token.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct HookContext {
    /// The subject.
    pub sub: Option<String>,
    /// The complete claims object.
    pub claims: Value,
}

/// The application's user record, from the provisioning hook.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ProvisionedUser {
    /// A disabled user is refused with 403 `user_disabled`.
    pub disabled: bool,
    /// Application data merged into the `/auth/me` user object.
    pub data: serde_json::Map<String, Value>,
}

impl ProvisionedUser {
    /// An enabled user with this data.
    #[must_use]
    pub fn new(data: serde_json::Map<String, Value>) -> Self {
        ProvisionedUser {
            disabled: false,
            data,
        }
    }

    /// A disabled user.
    #[must_use]
    pub fn disabled() -> Self {
        ProvisionedUser {
            disabled: true,
            data: serde_json::Map::new(),
        }
    }
}

type HookFuture<T> = Pin<Box<dyn Future<Output = Result<T, AuthError>> + Send>>;
type ClaimsHook = Arc<dyn Fn(HookContext) -> HookFuture<()> + Send + Sync>;
type ProvisionHook = Arc<dyn Fn(HookContext) -> HookFuture<ProvisionedUser> + Send + Sync>;
type EnrichHook = Arc<
    dyn Fn(
            HookContext,
            serde_json::Map<String, Value>,
        ) -> HookFuture<serde_json::Map<String, Value>>
        + Send
        + Sync,
>;

/// Tokens from the token endpoint.
#[derive(Clone, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<f64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

/// The sealed session cookie.
#[derive(Serialize, Deserialize)]
struct SessionCookie {
    at: String,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    it: Option<String>,
    /// Profile claims (name, email, ...) from the ID token or userinfo, for `/auth/me` when the
    /// access token does not carry them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pf: serde_json::Map<String, Value>,
}

/// What a new session cookie takes over from the previous one (or from the callback).
#[derive(Default)]
struct Carried {
    id_token: Option<String>,
    profile: serde_json::Map<String, Value>,
}

impl Carried {
    fn from_session(session: Option<SessionCookie>) -> Self {
        session
            .map(|sc| Carried {
                id_token: sc.it,
                profile: sc.pf,
            })
            .unwrap_or_default()
    }
}

/// The profile claims kept in the session cookie.
const PROFILE_CLAIMS: &[&str] = &[
    "name",
    "preferred_username",
    "given_name",
    "family_name",
    "email",
    "picture",
];

/// The sealed refresh cookie.
#[derive(Serialize, Deserialize)]
struct RefreshCookie {
    rt: String,
}

/// The sealed per-login flow cookie.
#[derive(Serialize, Deserialize)]
struct FlowCookie {
    state: String,
    verifier: String,
    #[serde(default)]
    nonce: Option<String>,
    return_to: String,
    iat: i64,
}

/// Why a refresh failed: terminal failures end the session.
#[derive(Clone)]
struct RefreshFailure {
    terminal: bool,
    code: ErrorCode,
    message: &'static str,
}

impl RefreshFailure {
    fn to_error(&self) -> AuthError {
        AuthError::new(self.code, self.message)
    }
}

type SharedRefresh = Shared<BoxFuture<'static, Result<TokenResponse, RefreshFailure>>>;

/// Access tokens this close to expiry are refreshed before use.
const EXPIRY_MARGIN_SECS: i64 = 5;

/// The session engine. Cheap to clone; build one per application.
///
/// ```no_run
/// use auth_core::{AuthConfig, Authenticator, SessionConfig, Verifier};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::new(AuthConfig::from_env()?)?;
/// let auth = Authenticator::new(verifier, SessionConfig::from_env()?.build()?);
/// # let _ = auth; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    session: SessionConfig,
    claims_check: Option<ClaimsHook>,
    provision: Option<ProvisionHook>,
    enrich: Option<EnrichHook>,
    refreshes: Mutex<HashMap<[u8; 32], (Instant, SharedRefresh)>>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("verifier", &self.inner.verifier)
            .field("session", &self.inner.session)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // The system RNG failing is not recoverable; never fall back to a weak value.
        panic!("auth-core: the system random number generator failed");
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ))
}

fn digest(s: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Parses a query string, refusing duplicated parameters.
fn query_params(query: Option<&str>) -> Result<HashMap<String, String>, ()> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if out.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(());
        }
    }
    Ok(out)
}

fn err(code: ErrorCode, msg: &'static str) -> AuthError {
    AuthError::new(code, msg)
}

impl Authenticator {
    /// Combines a verifier (issuer, audience, client id and secret) with session settings.
    #[must_use]
    pub fn new(verifier: Verifier, session: SessionConfig) -> Self {
        Authenticator {
            inner: Arc::new(Inner {
                verifier,
                session,
                claims_check: None,
                provision: None,
                enrich: None,
                refreshes: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut Inner {
        // Hooks are set while building, before the handle is shared.
        Arc::get_mut(&mut self.inner).expect("hooks must be set before the Authenticator is cloned")
    }

    /// An async check of every verified token; return an error (with the code you choose) to
    /// reject the request.
    #[must_use]
    pub fn with_claims_check<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn(HookContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), AuthError>> + Send + 'static,
    {
        self.inner_mut().claims_check = Some(Arc::new(move |ctx| Box::pin(check(ctx))));
        self
    }

    /// User provisioning: `find_or_create(sub, profile)`. A disabled user is refused with 403
    /// `user_disabled`; an error becomes 500 `user_provision_failed`.
    #[must_use]
    pub fn with_provisioning<F, Fut>(mut self, provision: F) -> Self
    where
        F: Fn(HookContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ProvisionedUser, AuthError>> + Send + 'static,
    {
        self.inner_mut().provision = Some(Arc::new(move |ctx| Box::pin(provision(ctx))));
        self
    }

    /// Merges application data into the `/auth/me` user object.
    #[must_use]
    pub fn with_user_enricher<F, Fut>(mut self, enrich: F) -> Self
    where
        F: Fn(HookContext, serde_json::Map<String, Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<serde_json::Map<String, Value>, AuthError>> + Send + 'static,
    {
        self.inner_mut().enrich = Some(Arc::new(move |ctx, user| Box::pin(enrich(ctx, user))));
        self
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The session settings.
    #[must_use]
    pub fn session_config(&self) -> &SessionConfig {
        &self.inner.session
    }

    /// Renders an error as a response (status, JSON body, RFC 6750 challenge, cookies).
    #[must_use]
    pub fn error_response(&self, error: &AuthError) -> AuthResponse {
        AuthResponse::error(error, self.inner.session.realm.as_deref())
    }

    // ------------------------------------------------------------------ per request

    /// Authenticates a request from the configured token sources (default: `Authorization`
    /// header, then the session cookie, refreshed transparently when expired).
    ///
    /// # Errors
    /// `token_missing` without a credential; `invalid_request` for two `Authorization` headers
    /// or two methods at once; the verifier's errors; `session_expired` / `invalid_grant` when a
    /// refresh fails for good (with cookie-clearing headers); 503 when it fails for now.
    pub async fn authenticate<C>(
        &self,
        req: &impl RequestView,
    ) -> Result<Authenticated<C>, AuthError>
    where
        C: DeserializeOwned + 'static,
    {
        match self.authenticate_optional::<C>(req).await? {
            Some(auth) => Ok(auth),
            None => Err(err(ErrorCode::TokenMissing, "no credential was presented")),
        }
    }

    /// Like [`authenticate`](Self::authenticate), but `Ok(None)` when no credential is present
    /// (a bad credential is still an error).
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate), except `token_missing`.
    pub async fn authenticate_optional<C>(
        &self,
        req: &impl RequestView,
    ) -> Result<Option<Authenticated<C>>, AuthError>
    where
        C: DeserializeOwned + 'static,
    {
        let s = &self.inner.session;
        let auth_headers = web::header_count(req, "authorization");
        if auth_headers > 1 {
            return Err(err(
                ErrorCode::InvalidRequest,
                "more than one Authorization header",
            ));
        }
        let query_token = if s.token_sources.contains(&TokenSource::Query) {
            query_params(req.query())
                .map_err(|()| err(ErrorCode::InvalidRequest, "duplicated query parameters"))?
                .remove("access_token")
        } else {
            None
        };
        let bearer = match web::first_header(req, "authorization") {
            Some(value) => parse_bearer(&value)?,
            None => None,
        };
        if bearer.is_some() && query_token.is_some() {
            return Err(err(
                ErrorCode::InvalidRequest,
                "a token was sent in more than one way",
            ));
        }
        for source in &s.token_sources {
            let found = match source {
                TokenSource::Header => bearer.as_deref().map(|t| (t.to_owned(), Vec::new())),
                TokenSource::Query => query_token.clone().map(|t| (t, Vec::new())),
                TokenSource::Cookie => self.session_token(req).await?,
            };
            if let Some((token, set_cookies)) = found {
                let claims = match self.inner.verifier.verify::<C>(&token).await {
                    Ok(c) => c,
                    Err(e) if *source == TokenSource::Cookie && !set_cookies.is_empty() => {
                        return Err(e.with_set_cookies(set_cookies));
                    }
                    Err(e) => return Err(e),
                };
                let user = self.run_hooks(&claims).await?;
                return Ok(Some(Authenticated {
                    claims,
                    source: *source,
                    set_cookies,
                    user_data: user.data,
                }));
            }
        }
        Ok(None)
    }

    async fn run_hooks<C>(&self, claims: &Claims<C>) -> Result<ProvisionedUser, AuthError> {
        let ctx = || HookContext {
            sub: claims.sub.clone(),
            claims: claims.as_value().clone(),
        };
        if let Some(check) = &self.inner.claims_check {
            check(ctx()).await?;
        }
        match &self.inner.provision {
            Some(provision) => match provision(ctx()).await {
                Ok(user) if user.disabled => {
                    Err(err(ErrorCode::UserDisabled, "this user is disabled"))
                }
                Ok(user) => Ok(user),
                Err(e) if e.code() == ErrorCode::UserDisabled => Err(e),
                Err(e) => Err(AuthError::new(
                    ErrorCode::UserProvisionFailed,
                    "user provisioning failed",
                )
                .with_source(e)),
            },
            None => Ok(ProvisionedUser::default()),
        }
    }

    /// The access token from the session cookie, refreshed if it expired. `Ok(None)` when there
    /// is no usable session cookie (a tampered or foreign one counts as none).
    async fn session_token(
        &self,
        req: &impl RequestView,
    ) -> Result<Option<(String, Vec<String>)>, AuthError> {
        let session: Option<SessionCookie> = self.read_cookie(req, "session");
        if let Some(sc) = &session
            && sc.exp > now_secs() + EXPIRY_MARGIN_SECS
        {
            return Ok(Some((sc.at.clone(), Vec::new())));
        }
        let Some(refresh) = self.read_cookie::<RefreshCookie>(req, "refresh") else {
            return match session {
                // Expired access token and nothing to refresh with: the session is over.
                Some(_) => Err(err(ErrorCode::SessionExpired, "the session has expired")
                    .with_set_cookies(self.clear_session_cookies(req))),
                None => Ok(None),
            };
        };
        let carried = Carried::from_session(session);
        match self.refresh_tokens(&refresh.rt).await {
            Ok(tokens) => {
                let cookies = self.session_cookies(&tokens, Some(&refresh.rt), carried, req);
                Ok(Some((tokens.access_token, cookies)))
            }
            Err(failure) => Err(self.refresh_error(&failure, req)),
        }
    }

    fn refresh_error(&self, failure: &RefreshFailure, req: &impl RequestView) -> AuthError {
        let clear = match self.inner.session.clear_policy {
            ClearPolicy::TerminalOnly => failure.terminal,
            ClearPolicy::Always => true,
            ClearPolicy::Never => false,
        };
        let e = failure.to_error();
        if clear {
            e.with_set_cookies(self.clear_session_cookies(req))
        } else {
            e
        }
    }

    // ------------------------------------------------------------------ routes

    /// The full paths of the helper routes (`{prefix}/login`, ...), for adapters mounting them.
    #[must_use]
    pub fn helper_paths(&self) -> Vec<String> {
        let prefix = &self.inner.session.prefix;
        HELPER_ROUTES
            .iter()
            .map(|(path, _, _)| format!("{prefix}{path}"))
            .collect()
    }

    /// Whether `path` is one of the helper routes (which stay reachable without a session).
    #[must_use]
    pub fn is_helper_route(&self, path: &str) -> bool {
        path.strip_prefix(self.inner.session.prefix.as_str())
            .is_some_and(|rest| HELPER_ROUTES.iter().any(|(p, _, _)| *p == rest))
    }

    /// Serves the helper routes under the configured prefix: `GET {prefix}/login`,
    /// `GET {prefix}/callback`, `POST {prefix}/refresh`, `POST {prefix}/signout`,
    /// `GET {prefix}/me`. `None` when the path is not one of them.
    pub async fn handle(&self, req: &impl RequestView) -> Option<AuthResponse> {
        let rest = req
            .path()
            .strip_prefix(self.inner.session.prefix.as_str())?;
        let &(_, method, route) = HELPER_ROUTES.iter().find(|(path, _, _)| *path == rest)?;
        let allowed = req.method().eq_ignore_ascii_case(method)
            || (method == "GET" && req.method() == "HEAD");
        if !allowed {
            return Some(
                AuthResponse::json(
                    405,
                    &json!({"error":{"code":"invalid_request","message":"method not allowed"}}),
                )
                .with_header("allow", method),
            );
        }
        Some(match route {
            Route::Login => self.login(req).await,
            Route::Callback => self.callback(req).await,
            Route::Refresh => self.refresh(req).await,
            Route::Signout => self.signout(req).await,
            Route::Me => self.me(req).await,
        })
    }

    /// `GET {prefix}/login?return_to=/path`: starts the authorization code flow with PKCE (S256),
    /// `state` and (for `openid`) `nonce`, and redirects to the provider.
    pub async fn login(&self, req: &impl RequestView) -> AuthResponse {
        match self.login_inner(req).await {
            Ok(r) => r,
            Err(e) => self.error_response(&e),
        }
    }

    async fn login_inner(&self, req: &impl RequestView) -> Result<AuthResponse, AuthError> {
        let s = &self.inner.session;
        let config = self.inner.verifier.config();
        let client_id = config
            .client_id()
            .ok_or_else(|| err(ErrorCode::ConfigInvalid, "AUTH_CLIENT_ID is not configured"))?;
        let params = query_params(req.query())
            .map_err(|()| err(ErrorCode::InvalidRequest, "duplicated query parameters"))?;
        let return_to = match params.get("return_to") {
            Some(raw) => safe_return_to(raw, &s.return_to_origins).ok_or_else(|| {
                err(
                    ErrorCode::InvalidRequest,
                    "return_to must be a same-origin path",
                )
            })?,
            None => "/".to_owned(),
        };
        let metadata = self.inner.verifier.provider_metadata().await?;
        let endpoint = metadata.authorization_endpoint.clone().ok_or_else(|| {
            err(
                ErrorCode::DiscoveryFailed,
                "the provider has no authorization endpoint",
            )
        })?;
        let state = random_token();
        let verifier = random_token();
        let nonce = s
            .scopes
            .split(' ')
            .any(|sc| sc == "openid")
            .then(random_token);
        let mut url = url::Url::parse(&endpoint).map_err(|_| {
            err(
                ErrorCode::DiscoveryFailed,
                "the authorization endpoint is not a URL",
            )
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", &s.redirect_uri())
                .append_pair("scope", &s.scopes)
                .append_pair("state", &state)
                .append_pair("code_challenge", &pkce_challenge(&verifier))
                .append_pair("code_challenge_method", "S256");
            if let Some(nonce) = &nonce {
                q.append_pair("nonce", nonce);
            }
            if let Some(resource) = &s.resource {
                q.append_pair("resource", resource);
            }
            if let Some(audience) = &s.audience_param {
                q.append_pair("audience", audience);
            }
            for (name, value) in &s.extra_params {
                q.append_pair(name, value);
            }
        }
        let flow = FlowCookie {
            state: state.clone(),
            verifier,
            nonce,
            return_to,
            iat: now_secs(),
        };
        let cookie = self.seal_cookie(
            &flow_suffix(&state),
            "flow",
            &flow,
            s.flow_ttl,
            Some(SameSite::Lax),
        );
        Ok(AuthResponse::redirect(url.as_str()).with_cookies(cookie))
    }

    /// `GET {prefix}/callback`: checks `state` (and RFC 9207 `iss`), exchanges the code, validates
    /// the ID token, sets the session cookies and redirects to `return_to`. When the provider
    /// answered with `error=` (the person cancelled: `access_denied`), it redirects to
    /// `return_to?auth_error=permission_denied` (or `invalid_grant`) without a token request.
    pub async fn callback(&self, req: &impl RequestView) -> AuthResponse {
        let mut clear_flow = Vec::new();
        match self.callback_inner(req, &mut clear_flow).await {
            Ok(r) => r.with_cookies(clear_flow),
            Err(e) => {
                let mut cookies = e.set_cookies().to_vec();
                cookies.extend(clear_flow);
                self.error_response(&e.with_set_cookies(cookies))
            }
        }
    }

    async fn callback_inner(
        &self,
        req: &impl RequestView,
        clear_flow: &mut Vec<String>,
    ) -> Result<AuthResponse, AuthError> {
        let s = &self.inner.session;
        let config = self.inner.verifier.config();
        let mismatch = || {
            err(
                ErrorCode::StateMismatch,
                "the sign-in response does not match a sign-in in progress",
            )
        };
        let params = query_params(req.query()).map_err(|()| mismatch())?;
        let state = params.get("state").ok_or_else(mismatch)?;
        if state.len() < 16
            || state.len() > 128
            || !state
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(mismatch());
        }
        let suffix = flow_suffix(state);
        let flow: FlowCookie = self.read_cookie(req, &suffix).ok_or_else(mismatch)?;
        // From here on, the flow is used up whatever happens.
        clear_flow.push(self.clear_cookie(&self.inner.session.cookie_name(&suffix)));
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            flow.state.as_bytes(),
            state.as_bytes(),
        )
        .is_err()
            || flow.iat + (s.flow_ttl.as_secs() as i64) < now_secs()
        {
            return Err(mismatch());
        }
        let metadata = self.inner.verifier.provider_metadata().await?;
        match params.get("iss") {
            Some(iss) if iss != config.issuer() => {
                return Err(err(
                    ErrorCode::InvalidRequest,
                    "the sign-in response comes from another issuer",
                ));
            }
            None if metadata.authorization_response_iss_parameter_supported => {
                return Err(err(
                    ErrorCode::InvalidRequest,
                    "the sign-in response lacks the iss parameter",
                ));
            }
            _ => {}
        }
        if let Some(error) = params.get("error") {
            // The provider ended the sign-in (the person cancelled, or was refused). The flow
            // cookie vouched for this response, so return_to is trusted: send the person back
            // there with the stable code, rather than stranding them on an error document.
            tracing::info!(error = %crate::log_safe(error), "the provider refused the sign-in");
            let code = if error == "access_denied" {
                ErrorCode::PermissionDenied
            } else {
                ErrorCode::InvalidGrant
            };
            let sep = if flow.return_to.contains('?') {
                '&'
            } else {
                '?'
            };
            let location = format!("{}{sep}auth_error={}", flow.return_to, code.as_str());
            return Ok(AuthResponse::redirect(&location));
        }
        let code = params.get("code").ok_or_else(|| {
            err(
                ErrorCode::InvalidRequest,
                "the sign-in response has no code",
            )
        })?;
        let redirect_uri = s.redirect_uri();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ];
        if let Some(resource) = &s.resource {
            form.push(("resource", resource.as_str()));
        }
        let tokens = self
            .token_request(&metadata, &form)
            .await
            .map_err(|f| f.to_error())?;
        let mut profile = serde_json::Map::new();
        if let Some(id_token) = &tokens.id_token {
            let claims = self.check_id_token(id_token, flow.nonce.as_deref()).await?;
            keep_profile(&mut profile, &claims);
        } else if flow.nonce.is_some() {
            return Err(err(
                ErrorCode::InvalidGrant,
                "the provider returned no ID token for an openid sign-in",
            ));
        }
        // The access token must be usable by this app before we call the sign-in a success.
        let verified = self
            .inner
            .verifier
            .verify::<NoExtraClaims>(&tokens.access_token)
            .await
            .inspect_err(|e| {
                tracing::warn!(
                    code = e.code().as_str(),
                    "the provider's access token is not accepted by this app's verifier (check AUTH_AUDIENCE)"
                );
            })?;
        if !(profile.contains_key("email") && profile.contains_key("name"))
            && let Some(sub) = verified.sub.as_deref()
        {
            self.userinfo_profile(&metadata, &tokens.access_token, sub, &mut profile)
                .await;
        }
        let carried = Carried {
            id_token: None,
            profile,
        };
        let cookies = self.session_cookies(&tokens, None, carried, req);
        Ok(AuthResponse::redirect(&flow.return_to).with_cookies(cookies))
    }

    /// `POST {prefix}/refresh`: rotates the tokens. 200 with new cookies; 401 with the code (and
    /// cleared cookies) when the session is over; 503 + `Retry-After` when the provider is
    /// unreachable (cookies kept).
    pub async fn refresh(&self, req: &impl RequestView) -> AuthResponse {
        if let Err(e) = self.check_same_origin(req) {
            return self.error_response(&e);
        }
        let Some(refresh) = self.read_cookie::<RefreshCookie>(req, "refresh") else {
            let e = err(ErrorCode::SessionExpired, "there is no session to refresh")
                .with_set_cookies(self.clear_session_cookies(req));
            return self.error_response(&e);
        };
        let carried = Carried::from_session(self.read_cookie::<SessionCookie>(req, "session"));
        match self.refresh_tokens(&refresh.rt).await {
            Ok(tokens) => {
                let exp = self.token_exp(&tokens).await;
                let cookies = self.session_cookies(&tokens, Some(&refresh.rt), carried, req);
                AuthResponse::json(200, &json!({"success": true, "data": {"expiresAt": exp}}))
                    .with_cookies(cookies)
            }
            Err(failure) => self.error_response(&self.refresh_error(&failure, req)),
        }
    }

    /// `POST {prefix}/signout`: revokes the refresh token upstream (RFC 7009) when the provider
    /// offers revocation, clears the cookies, and redirects to the provider's
    /// `end_session_endpoint` (RP-initiated logout) or to the post-logout path. With
    /// `Accept: application/json` it answers `{"success":true,"redirect":…}` instead.
    pub async fn signout(&self, req: &impl RequestView) -> AuthResponse {
        if let Err(e) = self.check_same_origin(req) {
            return self.error_response(&e);
        }
        let s = &self.inner.session;
        let config = self.inner.verifier.config();
        let refresh = self.read_cookie::<RefreshCookie>(req, "refresh");
        let id_token = self
            .read_cookie::<SessionCookie>(req, "session")
            .and_then(|sc| sc.it);
        if let Some(refresh) = &refresh {
            // A refresh shared within the grace window must not outlive the session.
            self.forget_refreshes(&refresh.rt);
        }
        let metadata = self.inner.verifier.provider_metadata().await.ok();
        if let (Some(refresh), Some(endpoint)) = (
            &refresh,
            metadata
                .as_ref()
                .and_then(|m| m.revocation_endpoint.clone()),
        ) {
            let form = [
                ("token", refresh.rt.as_str()),
                ("token_type_hint", "refresh_token"),
            ];
            let req = self.authenticated_form(&endpoint, &form);
            match send(&*self.inner.verifier.http(), req).await {
                Ok(r) if r.status == 200 => {}
                Ok(r) => tracing::warn!(status = r.status, "refresh token revocation was refused"),
                Err(e) => tracing::warn!(error = %e, "refresh token revocation failed"),
            }
        }
        let post_logout = format!(
            "{}{}",
            s.app_url.as_str().trim_end_matches('/'),
            s.post_logout_path
        );
        let redirect = match metadata
            .as_ref()
            .and_then(|m| m.end_session_endpoint.clone())
        {
            Some(endpoint) if s.end_session => url::Url::parse(&endpoint).ok().map(|mut u| {
                {
                    let mut q = u.query_pairs_mut();
                    if let Some(client_id) = config.client_id() {
                        q.append_pair("client_id", client_id);
                    }
                    q.append_pair("post_logout_redirect_uri", &post_logout);
                    if let Some(hint) = &id_token {
                        q.append_pair("id_token_hint", hint);
                    }
                }
                u.to_string()
            }),
            _ => None,
        }
        .unwrap_or(s.post_logout_path.clone());
        let cookies = self.clear_session_cookies(req);
        let wants_json =
            web::first_header(req, "accept").is_some_and(|a| a.contains("application/json"));
        if wants_json {
            AuthResponse::json(200, &json!({"success": true, "redirect": redirect}))
                .with_cookies(cookies)
        } else {
            AuthResponse::redirect(&redirect).with_cookies(cookies)
        }
    }

    /// `GET {prefix}/me`: `{"success":true,"data":{"user":{…},"claims":{…},"tenantId":…}}`.
    pub async fn me(&self, req: &impl RequestView) -> AuthResponse {
        let auth = match self.authenticate::<NoExtraClaims>(req).await {
            Ok(a) => a,
            Err(e) => return self.error_response(&e),
        };
        let claims = &auth.claims;
        let mut user = serde_json::Map::new();
        user.insert("sub".into(), json!(claims.sub));
        for key in [
            "name",
            "preferred_username",
            "given_name",
            "family_name",
            "picture",
        ] {
            if let Some(v) = claims.as_value().get(key) {
                user.insert(key.into(), v.clone());
            }
        }
        user.insert("email".into(), json!(claims.email()));
        user.insert("roles".into(), json!(claims.roles()));
        user.insert("permissions".into(), json!(claims.permissions()));
        // Profile claims the access token lacks, from the sign-in (ID token or userinfo).
        if let Some(session) = self.read_cookie::<SessionCookie>(req, "session") {
            for (key, value) in session.pf {
                let missing = user.get(&key).is_none_or(Value::is_null);
                if missing {
                    user.insert(key, value);
                }
            }
        }
        user.extend(auth.user_data.clone());
        if let Some(enrich) = &self.inner.enrich {
            let ctx = HookContext {
                sub: claims.sub.clone(),
                claims: claims.as_value().clone(),
            };
            user = match enrich(ctx, user).await {
                Ok(u) => u,
                Err(e) => return self.error_response(&e),
            };
        }
        let body = json!({
            "success": true,
            "data": { "user": user, "claims": claims.as_value(), "tenantId": claims.tenant_id() }
        });
        AuthResponse::json(200, &body).with_cookies(auth.set_cookies)
    }

    // ------------------------------------------------------------------ provider calls

    fn authenticated_form(&self, endpoint: &str, form: &[(&str, &str)]) -> HttpRequest {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let config = self.inner.verifier.config();
        let client_id = config.client_id().unwrap_or_default();
        let secret = config.client_secret().map(|s| s.expose());
        let method = self
            .inner
            .session
            .client_auth
            .unwrap_or(if secret.is_some() {
                ClientAuth::Basic
            } else {
                ClientAuth::None
            });
        let mut basic = None;
        match (method, secret) {
            (ClientAuth::Basic, Some(secret)) => {
                // RFC 6749 §2.3.1: form-urlencode both parts, then base64.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                basic = Some(format!(
                    "Basic {}",
                    STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
                ));
            }
            (ClientAuth::Post, Some(secret)) => {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret));
            }
            _ => form.push(("client_id", client_id)),
        }
        let policy = config.jwks_policy();
        let mut req = HttpRequest::post_form(endpoint, &form, policy.fetch_timeout, 256 * 1024)
            .header("accept", "application/json");
        if let Some(b) = basic {
            req = req.header("authorization", b);
        }
        req
    }

    async fn token_request(
        &self,
        metadata: &ProviderMetadata,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, RefreshFailure> {
        let transient = |msg| RefreshFailure {
            terminal: false,
            code: ErrorCode::Network,
            message: msg,
        };
        let endpoint = metadata.token_endpoint.clone().ok_or(RefreshFailure {
            terminal: false,
            code: ErrorCode::DiscoveryFailed,
            message: "the provider has no token endpoint",
        })?;
        let req = self.authenticated_form(&endpoint, form);
        let response = send(&*self.inner.verifier.http(), req).await.map_err(|e| {
            tracing::warn!(error = %e, "token endpoint unreachable");
            transient("the identity provider is unreachable")
        })?;
        match response.status {
            200 => {
                let tokens: TokenResponse =
                    serde_json::from_slice(&response.body).map_err(|_| {
                        transient("the identity provider sent an invalid token response")
                    })?;
                if tokens
                    .token_type
                    .as_deref()
                    .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
                {
                    return Err(RefreshFailure {
                        terminal: true,
                        code: ErrorCode::InvalidGrant,
                        message: "unsupported token type",
                    });
                }
                Ok(tokens)
            }
            400 | 401 => {
                let error = serde_json::from_slice::<Value>(&response.body)
                    .ok()
                    .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default();
                tracing::info!(status = response.status, error = %crate::log_safe(&error), "token endpoint refused the grant");
                if error == "invalid_grant" {
                    Err(RefreshFailure {
                        terminal: true,
                        code: ErrorCode::InvalidGrant,
                        message: "the session is no longer valid",
                    })
                } else if error == "invalid_client" || error == "unauthorized_client" {
                    // The app's own credentials or registration: an operator problem, never the
                    // user's, so the session is kept.
                    tracing::error!(
                        "the provider rejected this app's client credentials: check AUTH_CLIENT_ID, AUTH_CLIENT_SECRET and the client's registration"
                    );
                    Err(RefreshFailure {
                        terminal: false,
                        code: ErrorCode::ConfigInvalid,
                        message: "the identity provider rejected this app's client credentials",
                    })
                } else {
                    Err(RefreshFailure {
                        terminal: false,
                        code: ErrorCode::Unknown,
                        message: "the identity provider refused the request",
                    })
                }
            }
            429 => Err(RefreshFailure {
                terminal: false,
                code: ErrorCode::RateLimited,
                message: "the identity provider is rate limiting",
            }),
            _ => Err(transient("the identity provider failed")),
        }
    }

    /// Drops every shared refresh result that involves `rt`: the entry for `rt` itself and any
    /// entry whose result handed `rt` out (a session signs out with the newest refresh token,
    /// while the grace window keys results by the previous one).
    fn forget_refreshes(&self, rt: &str) {
        let key = digest(rt);
        lock(&self.inner.refreshes).retain(|k, (_, fut)| {
            *k != key
                && !matches!(fut.peek(), Some(Ok(t)) if t.refresh_token.as_deref() == Some(rt))
        });
    }

    /// Refreshes with `rt`, one exchange per refresh token in this process.
    async fn refresh_tokens(&self, rt: &str) -> Result<TokenResponse, RefreshFailure> {
        let key = digest(rt);
        let shared = {
            let mut map = lock(&self.inner.refreshes);
            let now = Instant::now();
            // Keep refreshes in flight, and successes within the grace window. A failure is never
            // reused: after a transient error the next request must try the provider again.
            let grace = self.inner.session.refresh_grace;
            map.retain(|_, (at, fut)| match fut.peek() {
                None => true,
                Some(Ok(_)) => now.duration_since(*at) < grace,
                Some(Err(_)) => false,
            });
            match map.get(&key) {
                Some((_, fut)) => fut.clone(),
                None => {
                    // A refresh with `rt` means the session moved past the result that handed
                    // `rt` out: that older result is no longer the session's newest state, so
                    // a replay of the cookies before it must reach the provider (and its reuse
                    // detection) instead of being served from the grace window.
                    map.retain(|_, (_, fut)| {
                        !matches!(fut.peek(), Some(Ok(t)) if t.refresh_token.as_deref() == Some(rt))
                    });
                    let this = self.clone();
                    let rt = rt.to_owned();
                    let task = async move {
                        let metadata =
                            this.inner.verifier.provider_metadata().await.map_err(|_| {
                                RefreshFailure {
                                    terminal: false,
                                    code: ErrorCode::DiscoveryFailed,
                                    message: "the identity provider is unreachable",
                                }
                            })?;
                        let form = [
                            ("grant_type", "refresh_token"),
                            ("refresh_token", rt.as_str()),
                        ];
                        this.token_request(&metadata, &form).await
                    };
                    // Run as its own task: a client that disconnects must not abandon a rotation
                    // the provider may already have performed.
                    let fut: BoxFuture<'static, _> = match tokio::runtime::Handle::try_current() {
                        Ok(h) => {
                            let handle = h.spawn(task);
                            async move {
                                handle.await.unwrap_or(Err(RefreshFailure {
                                    terminal: false,
                                    code: ErrorCode::Unknown,
                                    message: "the refresh was interrupted",
                                }))
                            }
                            .boxed()
                        }
                        Err(_) => task.boxed(),
                    };
                    let shared = fut.shared();
                    map.insert(key, (now, shared.clone()));
                    shared
                }
            }
        };
        shared.await
    }

    async fn check_id_token(
        &self,
        id_token: &str,
        nonce: Option<&str>,
    ) -> Result<Value, AuthError> {
        let bad = |msg: &'static str| err(ErrorCode::InvalidGrant, msg);
        let payload = self.inner.verifier.verify_jws(id_token).await?;
        let claims: Value =
            serde_json::from_slice(&payload).map_err(|_| bad("the ID token is malformed"))?;
        let config = self.inner.verifier.config();
        let client_id = config.client_id().unwrap_or_default();
        if claims.get("iss").and_then(Value::as_str) != Some(config.issuer()) {
            return Err(bad("the ID token comes from another issuer"));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == client_id,
            Some(Value::Array(list)) => {
                list.iter().any(|a| a.as_str() == Some(client_id))
                    && (list.len() == 1
                        || claims.get("azp").and_then(Value::as_str) == Some(client_id))
            }
            _ => false,
        };
        if !aud_ok {
            return Err(bad("the ID token is not meant for this client"));
        }
        let leeway = config.leeway().as_secs_f64();
        let now = now_secs() as f64;
        match claims.get("exp").and_then(Value::as_f64) {
            Some(exp) if exp > now - leeway => {}
            _ => return Err(bad("the ID token has expired")),
        }
        if claims.get("iat").and_then(Value::as_f64).is_none()
            || claims.get("sub").and_then(Value::as_str).is_none()
        {
            return Err(bad("the ID token lacks iat or sub"));
        }
        if let Some(expected) = nonce {
            let got = claims
                .get("nonce")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if aws_lc_rs::constant_time::verify_slices_are_equal(
                got.as_bytes(),
                expected.as_bytes(),
            )
            .is_err()
            {
                return Err(bad("the ID token nonce does not match"));
            }
        }
        Ok(claims)
    }

    /// Fills missing profile claims from the userinfo endpoint (best effort: a failure only
    /// means a thinner `/auth/me`). Called once per sign-in, never per request.
    async fn userinfo_profile(
        &self,
        metadata: &ProviderMetadata,
        access_token: &str,
        sub: &str,
        profile: &mut serde_json::Map<String, Value>,
    ) {
        let Some(endpoint) = &metadata.userinfo_endpoint else {
            return;
        };
        let policy = self.inner.verifier.config().jwks_policy();
        let req = HttpRequest::get(endpoint, policy.fetch_timeout, 64 * 1024)
            .header("authorization", format!("Bearer {access_token}"))
            .header("accept", "application/json");
        match send(&*self.inner.verifier.http(), req).await {
            Ok(r) if r.status == 200 => {
                if let Ok(claims) = serde_json::from_slice::<Value>(&r.body) {
                    // OIDC Core §5.3.2: the userinfo sub must match; otherwise ignore it.
                    if claims.get("sub").and_then(Value::as_str) == Some(sub) {
                        keep_profile(profile, &claims);
                    } else {
                        tracing::warn!("userinfo answered for another subject; ignored");
                    }
                }
            }
            Ok(r) => tracing::debug!(status = r.status, "userinfo refused"),
            Err(e) => tracing::debug!(error = %e, "userinfo unreachable"),
        }
    }

    async fn token_exp(&self, tokens: &TokenResponse) -> i64 {
        match self
            .inner
            .verifier
            .verify::<NoExtraClaims>(&tokens.access_token)
            .await
        {
            Ok(c) => c.exp.as_secs(),
            Err(_) => now_secs() + tokens.expires_in.unwrap_or(60.0) as i64,
        }
    }

    // ------------------------------------------------------------------ cookies

    fn check_same_origin(&self, req: &impl RequestView) -> Result<(), AuthError> {
        let forbidden = || err(ErrorCode::PermissionDenied, "cross-site request refused");
        if let Some(origin) = web::first_header(req, "origin")
            && origin != "null"
            && origin != self.inner.session.app_origin()
        {
            return Err(forbidden());
        }
        if web::first_header(req, "sec-fetch-site").as_deref() == Some("cross-site") {
            return Err(forbidden());
        }
        Ok(())
    }

    fn read_cookie<T: DeserializeOwned>(&self, req: &impl RequestView, suffix: &str) -> Option<T> {
        let name = self.inner.session.cookie_name(suffix);
        let value = match web::cookie(req, &name) {
            Some(v) => v,
            None => {
                // Chunked: name.0, name.1, ...
                let mut joined = String::new();
                for i in 0.. {
                    match web::cookie(req, &format!("{name}.{i}")) {
                        Some(part) => joined.push_str(&part),
                        None => break,
                    }
                    if i > 16 {
                        return None;
                    }
                }
                if joined.is_empty() {
                    return None;
                }
                joined
            }
        };
        let purpose = if suffix.starts_with("flow-") {
            "flow"
        } else {
            suffix
        };
        let plain = self.inner.session.sealer.open(purpose, &value)?;
        serde_json::from_slice(&plain).ok()
    }

    /// `Set-Cookie` values for a sealed cookie, chunked under the 4 KB browser limit.
    fn seal_cookie(
        &self,
        suffix: &str,
        purpose: &str,
        value: &impl Serialize,
        max_age: Duration,
        same_site: Option<SameSite>,
    ) -> Vec<String> {
        let s = &self.inner.session;
        let name = s.cookie_name(suffix);
        let Some(sealed) = serde_json::to_vec(value)
            .ok()
            .and_then(|json| s.sealer.seal(purpose, &json))
        else {
            return Vec::new();
        };
        const CHUNK: usize = 3800;
        if sealed.len() <= CHUNK {
            return vec![self.build_cookie(&name, &sealed, Some(max_age), same_site)];
        }
        let mut out = vec![self.clear_cookie(&name)];
        for (i, part) in sealed.as_bytes().chunks(CHUNK).enumerate() {
            let part = std::str::from_utf8(part).unwrap_or_default();
            out.push(self.build_cookie(&format!("{name}.{i}"), part, Some(max_age), same_site));
        }
        out
    }

    fn build_cookie(
        &self,
        name: &str,
        value: &str,
        max_age: Option<Duration>,
        same_site: Option<SameSite>,
    ) -> String {
        let s = &self.inner.session;
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

    fn clear_cookie(&self, name: &str) -> String {
        self.build_cookie(name, "", Some(Duration::ZERO), None)
    }

    /// Cookies clearing the session, the refresh token and any chunks the browser sent.
    fn clear_session_cookies(&self, req: &impl RequestView) -> Vec<String> {
        let s = &self.inner.session;
        let mut names = vec![s.cookie_name("session"), s.cookie_name("refresh")];
        for base in [s.cookie_name("session"), s.cookie_name("refresh")] {
            names.extend(web::cookie_names_with_prefix(req, &format!("{base}.")));
        }
        names.iter().map(|n| self.clear_cookie(n)).collect()
    }

    /// The session and refresh cookies for a token response. When the provider did not rotate
    /// the refresh token, the previous one (`old_rt`) is kept.
    fn session_cookies(
        &self,
        tokens: &TokenResponse,
        old_rt: Option<&str>,
        carried: Carried,
        req: &impl RequestView,
    ) -> Vec<String> {
        let s = &self.inner.session;
        let exp = jwt_exp(&tokens.access_token)
            .unwrap_or_else(|| now_secs() + tokens.expires_in.unwrap_or(300.0) as i64);
        let session = SessionCookie {
            at: tokens.access_token.clone(),
            exp,
            it: tokens.id_token.clone().or(carried.id_token),
            pf: carried.profile,
        };
        // Clear chunks left over from a larger earlier value, then set the new ones.
        let mut out: Vec<String> = Vec::new();
        for base in [s.cookie_name("session"), s.cookie_name("refresh")] {
            for name in web::cookie_names_with_prefix(req, &format!("{base}.")) {
                out.push(self.clear_cookie(&name));
            }
        }
        out.extend(self.seal_cookie("session", "session", &session, s.session_ttl, None));
        match tokens.refresh_token.as_deref().or(old_rt) {
            Some(rt) => out.extend(self.seal_cookie(
                "refresh",
                "refresh",
                &RefreshCookie { rt: rt.to_owned() },
                s.session_ttl,
                None,
            )),
            None => out.push(self.clear_cookie(&s.cookie_name("refresh"))),
        }
        out
    }
}

/// The helper routes after the prefix: path, method, handler. The one table every adapter uses.
const HELPER_ROUTES: [(&str, &str, Route); 5] = [
    ("/login", "GET", Route::Login),
    ("/callback", "GET", Route::Callback),
    ("/refresh", "POST", Route::Refresh),
    ("/signout", "POST", Route::Signout),
    ("/me", "GET", Route::Me),
];

#[derive(Clone, Copy)]
enum Route {
    Login,
    Callback,
    Refresh,
    Signout,
    Me,
}

/// Copies the profile claims present in `claims` (strings only, bounded length) into `profile`,
/// without replacing values already there.
fn keep_profile(profile: &mut serde_json::Map<String, Value>, claims: &Value) {
    for key in PROFILE_CLAIMS {
        if let Some(Value::String(v)) = claims.get(*key)
            && v.len() <= 512
            && !profile.contains_key(*key)
        {
            profile.insert((*key).to_owned(), Value::String(v.clone()));
        }
    }
}

/// The flow cookie suffix for a state value (parallel logins each get their own cookie).
fn flow_suffix(state: &str) -> String {
    format!("flow-{}", &state[..state.len().min(16)])
}

/// The `exp` of a JWT, read without verification (only to time the cookie; the token is
/// verified on every use).
fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("exp")?.as_f64().map(|e| e as i64)
}

/// Parses `Authorization: Bearer <token>`: `Ok(None)` for another scheme, an error for a
/// malformed bearer credential (RFC 6750 §2.1 b64token).
fn parse_bearer(value: &str) -> Result<Option<String>, AuthError> {
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest;
    let valid = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
        && !token.trim_end_matches('=').contains('=');
    if valid {
        Ok(Some(token.to_owned()))
    } else {
        Err(err(
            ErrorCode::InvalidRequest,
            "malformed bearer credential",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let v = random_token();
        assert_eq!(v.len(), 43, "32 random bytes, base64url");
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(
            parse_bearer("Bearer abc.def-_~+/=")
                .ok()
                .flatten()
                .as_deref(),
            Some("abc.def-_~+/=")
        );
        assert_eq!(
            parse_bearer("bearer abc").ok().flatten().as_deref(),
            Some("abc")
        );
        assert_eq!(
            parse_bearer("BEARER abc").ok().flatten().as_deref(),
            Some("abc")
        );
        assert_eq!(parse_bearer("Basic dXNlcjpwYXNz").ok().flatten(), None);
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer  a",
            "Bearer a b",
            "Bearer a,b",
            "Bearer a=b",
        ] {
            assert!(parse_bearer(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn duplicated_query_parameters_are_refused() {
        assert!(query_params(Some("a=1&b=2")).is_ok());
        assert!(query_params(Some("state=1&state=2")).is_err());
    }
}
