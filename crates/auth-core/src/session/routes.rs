//! The helper routes: `GET {prefix}/login`, `GET {prefix}/callback`, `POST {prefix}/refresh`,
//! `POST {prefix}/signout` and `GET {prefix}/me`, each a function from a request view to a
//! response description. The table of paths is here, and every adapter mounts from it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::cookies::{
    self, Carried, FlowCookie, RefreshCookie, SessionCookie, flow_suffix, read_cookie,
};
use super::oauth::{self, PROFILE_CLAIMS};
use super::{SameSite, SessionConfig, safe_return_to};
use crate::adapter::{self, AuthResponse, RequestView};
use crate::authenticator::Authenticator;
use crate::claims::NoExtraClaims;
use crate::error::{AuthError, ErrorCode};

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

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // allow-panic: the system RNG failing is not recoverable; never fall back to a weak value.
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

fn err(code: ErrorCode, msg: &'static str) -> AuthError {
    AuthError::new(code, msg)
}

impl Authenticator {
    fn sessions(&self) -> Result<&SessionConfig, AuthError> {
        self.session_config().ok_or_else(super::not_configured)
    }

    /// The full paths of the helper routes (`{prefix}/login`, ...) and of the RFC 9728
    /// metadata document, for adapters mounting them. Empty without sessions and metadata.
    #[must_use]
    pub fn helper_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = match self.session_config() {
            Some(s) => HELPER_ROUTES
                .iter()
                .map(|(path, _, _)| format!("{}{path}", s.prefix))
                .collect(),
            None => Vec::new(),
        };
        if let Some(published) = &self.inner.resource {
            paths.push(published.path.clone());
        }
        paths
    }

    /// Whether `path` is one of the helper routes (which stay reachable without a session).
    #[must_use]
    pub fn is_helper_route(&self, path: &str) -> bool {
        if self.inner.resource.as_ref().is_some_and(|r| r.path == path) {
            return true;
        }
        self.session_config().is_some_and(|s| {
            path.strip_prefix(s.prefix.as_str())
                .is_some_and(|rest| HELPER_ROUTES.iter().any(|(p, _, _)| *p == rest))
        })
    }

    /// Serves the helper routes under the configured prefix: `GET {prefix}/login`,
    /// `GET {prefix}/callback`, `POST {prefix}/refresh`, `POST {prefix}/signout`,
    /// `GET {prefix}/me`, and `GET` the RFC 9728 metadata document at its path when it is
    /// published; another method on one of them answers 405 with `Allow`. `None` when the path
    /// is not one of them.
    pub async fn handle(&self, req: &impl RequestView) -> Option<AuthResponse> {
        if let Some(published) = &self.inner.resource
            && req.path() == published.path
        {
            let method = req.method();
            if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
                return Some(published.response());
            }
            let e = err(ErrorCode::InvalidRequest, "method not allowed");
            let mut r = self.error_response(&e);
            r.status = 405;
            return Some(r.with_header("allow", "GET, HEAD"));
        }
        let s = self.session_config()?;
        let rest = req.path().strip_prefix(s.prefix.as_str())?;
        let &(_, method, route) = HELPER_ROUTES.iter().find(|(path, _, _)| *path == rest)?;
        let allowed = req.method().eq_ignore_ascii_case(method)
            || (method == "GET" && req.method() == "HEAD");
        if !allowed {
            let e = err(ErrorCode::InvalidRequest, "method not allowed");
            let mut r = self.error_response(&e);
            r.status = 405;
            return Some(r.with_header("allow", method));
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
    ///
    /// Step-up (RFC 9470): `acr_values` (space-separated classes) and `max_age` (seconds) are
    /// passed on to the provider, as a client does after an `insufficient_user_authentication`
    /// challenge; with `max_age`, the sign-in is refused unless the ID token's `auth_time` is
    /// that recent.
    pub async fn login(&self, req: &impl RequestView) -> AuthResponse {
        match self.login_inner(req).await {
            Ok(r) => r,
            Err(e) => self.error_response(&e),
        }
    }

    async fn login_inner(&self, req: &impl RequestView) -> Result<AuthResponse, AuthError> {
        let s = self.sessions()?;
        let params = adapter::query_params(req.query())
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
        let acr_values = match params.get("acr_values") {
            Some(v)
                if v.len() <= 512
                    && !v.trim().is_empty()
                    && v.bytes().all(|b| b.is_ascii_graphic() || b == b' ') =>
            {
                Some(v.trim().to_owned())
            }
            Some(_) => {
                return Err(err(
                    ErrorCode::InvalidRequest,
                    "acr_values must be space-separated visible ASCII",
                ));
            }
            None => None,
        };
        let max_age = match params.get("max_age") {
            Some(v) => Some(v.parse::<u32>().map_err(|_| {
                err(
                    ErrorCode::InvalidRequest,
                    "max_age must be a number of seconds",
                )
            })?),
            None => None,
        };
        let metadata = self.verifier().provider_metadata().await?;
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
                .append_pair("client_id", &s.client_id)
                .append_pair("redirect_uri", &s.redirect_uri())
                .append_pair("scope", &s.scopes)
                .append_pair("state", &state)
                .append_pair("code_challenge", &pkce_challenge(&verifier))
                .append_pair("code_challenge_method", "S256");
            if let Some(nonce) = &nonce {
                q.append_pair("nonce", nonce);
            }
            if let Some(acr) = &acr_values {
                q.append_pair("acr_values", acr);
            }
            if let Some(max_age) = max_age {
                q.append_pair("max_age", &max_age.to_string());
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
            iat: self.now_secs(),
            max_age,
        };
        let cookie = cookies::seal_cookie(
            s,
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
            Err(e) => self.error_response(&e).with_cookies(clear_flow),
        }
    }

    async fn callback_inner(
        &self,
        req: &impl RequestView,
        clear_flow: &mut Vec<String>,
    ) -> Result<AuthResponse, AuthError> {
        let s = self.sessions()?;
        let mismatch = || {
            err(
                ErrorCode::StateMismatch,
                "the sign-in response does not match a sign-in in progress",
            )
        };
        let params = adapter::query_params(req.query()).map_err(|()| mismatch())?;
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
        let flow: FlowCookie = read_cookie(s, req, &suffix).ok_or_else(mismatch)?;
        // From here on, the flow is used up whatever happens.
        clear_flow.push(cookies::clear_cookie(s, &s.cookie_name(&suffix)));
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            flow.state.as_bytes(),
            state.as_bytes(),
        )
        .is_err()
            || flow.iat + (s.flow_ttl.as_secs() as i64) < self.now_secs()
        {
            return Err(mismatch());
        }
        let metadata = self.verifier().provider_metadata().await?;
        match params.get("iss") {
            Some(iss) if iss != self.verifier().config().issuer() => {
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
        let http = self.verifier().http();
        let tokens = oauth::token_request(&*http, s, &metadata, &form).await?;
        let mut profile = serde_json::Map::new();
        let mut sign_in: (Option<i64>, Option<String>) = (None, None);
        if let Some(id_token) = &tokens.id_token {
            let claims = self
                .verifier()
                .verify_id_token(id_token, &s.client_id, flow.nonce.as_deref())
                .await?;
            if let Some(max_age) = flow.max_age {
                // OIDC Core §3.1.2.1: with `max_age`, `auth_time` is required, and checked.
                let leeway = self.verifier().config().leeway().as_secs() as i64;
                let recent = claims
                    .get("auth_time")
                    .and_then(Value::as_f64)
                    .is_some_and(|t| self.now_secs() - (t as i64) <= i64::from(max_age) + leeway);
                if !recent {
                    return Err(err(
                        ErrorCode::InvalidGrant,
                        "the provider did not authenticate the user recently enough (max_age)",
                    ));
                }
            }
            oauth::keep_profile(&mut profile, &claims);
            sign_in = (
                claims
                    .get("auth_time")
                    .and_then(Value::as_f64)
                    .map(|t| t as i64),
                claims
                    .get("acr")
                    .and_then(Value::as_str)
                    .filter(|a| a.len() <= 256)
                    .map(str::to_owned),
            );
        } else if flow.nonce.is_some() {
            return Err(err(
                ErrorCode::InvalidGrant,
                "the provider returned no ID token for an openid sign-in",
            ));
        } else if flow.max_age.is_some() {
            // Without an ID token there is no `auth_time` to check `max_age` against.
            return Err(err(
                ErrorCode::InvalidGrant,
                "the provider returned no ID token to show when the user authenticated (max_age)",
            ));
        }
        // The access token must be usable by this app before we call the sign-in a success.
        let verified = self
            .verifier()
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
            oauth::userinfo_profile(
                &*http,
                s,
                &metadata,
                &tokens.access_token,
                sub,
                &mut profile,
            )
            .await;
        }
        let carried = Carried {
            id_token: None,
            profile,
            auth_time: sign_in.0,
            acr: sign_in.1,
        };
        let cookies = cookies::session_cookies(self, s, &tokens, None, carried, req);
        Ok(AuthResponse::redirect(&flow.return_to).with_cookies(cookies))
    }

    /// `POST {prefix}/refresh`: rotates the tokens. 200 with new cookies; 401 with the code (and
    /// cleared cookies) when the session is over; 503 + `Retry-After` when the provider is
    /// unreachable (cookies kept).
    pub async fn refresh(&self, req: &impl RequestView) -> AuthResponse {
        let s = match self.sessions() {
            Ok(s) => s,
            Err(e) => return self.error_response(&e),
        };
        if let Err(e) = cookies::check_same_origin(s, req) {
            return self.error_response(&e);
        }
        let Some(refresh) = read_cookie::<RefreshCookie>(s, req, "refresh") else {
            let e = err(ErrorCode::SessionExpired, "there is no session to refresh");
            return self
                .error_response(&e)
                .with_cookies(cookies::clear_session_cookies(s, req));
        };
        let carried = Carried::from_session(read_cookie::<SessionCookie>(s, req, "session"));
        match self.refresh_tokens(&refresh.rt).await {
            Ok(tokens) => {
                let exp = self.token_exp(&tokens).await;
                let set =
                    cookies::session_cookies(self, s, &tokens, Some(&refresh.rt), carried, req);
                AuthResponse::json(200, &json!({"success": true, "data": {"expiresAt": exp}}))
                    .with_cookies(set)
            }
            Err(e) => {
                let mut r = self.error_response(&e);
                if cookies::clears_on(s, &e) {
                    r = r.with_cookies(cookies::clear_session_cookies(s, req));
                }
                r
            }
        }
    }

    /// `POST {prefix}/signout`: revokes the refresh token upstream (RFC 7009) when the provider
    /// offers revocation, clears the cookies, and redirects to the provider's
    /// `end_session_endpoint` (RP-initiated logout) or to the post-logout path. With
    /// `Accept: application/json` it answers `{"success":true,"redirect":…}` instead.
    pub async fn signout(&self, req: &impl RequestView) -> AuthResponse {
        let s = match self.sessions() {
            Ok(s) => s,
            Err(e) => return self.error_response(&e),
        };
        if let Err(e) = cookies::check_same_origin(s, req) {
            return self.error_response(&e);
        }
        let refresh = read_cookie::<RefreshCookie>(s, req, "refresh");
        let id_token = read_cookie::<SessionCookie>(s, req, "session").and_then(|sc| sc.it);
        if let Some(refresh) = &refresh {
            // A refresh shared within the grace window must not outlive the session.
            self.forget_refreshes(&refresh.rt);
        }
        let metadata = self.verifier().provider_metadata().await.ok();
        if let (Some(refresh), Some(endpoint)) = (
            &refresh,
            metadata
                .as_ref()
                .and_then(|m| m.revocation_endpoint.as_deref()),
        ) {
            oauth::revoke(&*self.verifier().http(), s, endpoint, &refresh.rt).await;
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
                    q.append_pair("client_id", &s.client_id);
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
        let cleared = cookies::clear_session_cookies(s, req);
        let wants_json =
            adapter::first_header(req, "accept").is_some_and(|a| a.contains("application/json"));
        if wants_json {
            AuthResponse::json(200, &json!({"success": true, "redirect": redirect}))
                .with_cookies(cleared)
        } else {
            AuthResponse::redirect(&redirect).with_cookies(cleared)
        }
    }

    /// `GET {prefix}/me`: `{"success":true,"data":{"user":{…},"claims":{…},"tenantId":…}}`.
    pub async fn me(&self, req: &impl RequestView) -> AuthResponse {
        let s = match self.sessions() {
            Ok(s) => s,
            Err(e) => return self.error_response(&e),
        };
        let outcome = self.outcome(req).await;
        let auth = match outcome.result {
            Ok(Some(a)) => a,
            Ok(None) => {
                return self
                    .error_response(&crate::authenticator::token_missing())
                    .with_cookies(outcome.set_cookies);
            }
            Err(e) => return self.error_response(&e).with_cookies(outcome.set_cookies),
        };
        let claims = &auth.claims;
        let mut user = serde_json::Map::new();
        user.insert("sub".into(), json!(claims.sub));
        for key in PROFILE_CLAIMS.iter().filter(|k| **k != "email") {
            if let Some(v) = claims.as_value().get(*key) {
                user.insert((*key).into(), v.clone());
            }
        }
        user.insert("email".into(), json!(claims.email()));
        user.insert("roles".into(), json!(claims.roles()));
        user.insert("permissions".into(), json!(claims.permissions()));
        // Profile claims the access token lacks, from the sign-in (ID token or userinfo).
        if let Some(session) = read_cookie::<SessionCookie>(s, req, "session") {
            for (key, value) in session.pf {
                let missing = user.get(&key).is_none_or(Value::is_null);
                if missing {
                    user.insert(key, value);
                }
            }
        }
        user.extend(auth.user_data.clone());
        let user = match self.enrich(claims, user).await {
            Ok(u) => u,
            Err(e) => return self.error_response(&e).with_cookies(outcome.set_cookies),
        };
        let body = json!({
            "success": true,
            "data": { "user": user, "claims": claims.as_value(), "tenantId": claims.tenant_id() }
        });
        AuthResponse::json(200, &body).with_cookies(outcome.set_cookies)
    }

    async fn token_exp(&self, tokens: &oauth::TokenResponse) -> i64 {
        match self
            .verifier()
            .verify::<NoExtraClaims>(&tokens.access_token)
            .await
        {
            Ok(c) => c.exp.as_secs(),
            Err(_) => self.now_secs() + tokens.expires_in.unwrap_or(60.0) as i64,
        }
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
}
