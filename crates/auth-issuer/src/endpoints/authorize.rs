//! `GET|POST {path}/authorize`: the authorization endpoint and its dev login page
//! (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 9207, OpenID Connect Core §3.1.2).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::html::{self, LoginPage, UserChoice};
use super::{Params, is_form, is_resource_uri, parse_scope, with_query};
use crate::grants::NewGrant;
use crate::pkce;
use crate::server::Shared;
use crate::token::unix_now;

/// Form fields of the login page itself, as opposed to the authorization request.
const LOGIN_FIELDS: &[&str] = &["user", "username", "action"];

/// The longest username the login page accepts.
const MAX_USERNAME: usize = 255;

/// `GET {path}/authorize`.
pub(crate) async fn get(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let params = Params::parse(uri.query().unwrap_or("").as_bytes());
    authorize(&shared, &params, false)
}

/// `POST {path}/authorize`: the login form, or an authorization request sent as a form
/// (OpenID Connect Core §3.1.2.1).
pub(crate) async fn post(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return html::error_page(
            "POST to the authorization endpoint needs an application/x-www-form-urlencoded body",
        );
    }
    authorize(&shared, &Params::parse(&body), true)
}

/// A validated authorization request.
#[derive(Debug)]
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    scope: Vec<String>,
    audiences: Vec<String>,
    nonce: Option<String>,
    code_challenge: String,
    prompt_none: bool,
    login_hint: Option<String>,
}

/// Why an authorization request fails.
#[derive(Debug)]
enum Rejection {
    /// The client or redirect URI is not trustworthy: show a page, do not redirect.
    Page(String),
    /// Redirect back with an error (RFC 6749 §4.1.2.1).
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

/// What the login form asks for.
#[derive(Debug)]
enum Login {
    Cancel,
    SignIn(String),
    /// Re-show the form with this message.
    Retry(&'static str),
}

fn login_action(params: &Params) -> Option<Login> {
    if params.get("action") == Some("cancel") {
        return Some(Login::Cancel);
    }
    let name = match (params.get("user"), params.get("action")) {
        (Some(user), _) => user,
        (None, Some(_)) => params.get("username").unwrap_or(""),
        (None, None) => return None,
    };
    let name = name.trim();
    Some(if name.is_empty() {
        Login::Retry("Enter a username or choose a test user.")
    } else if name.chars().count() > MAX_USERNAME || name.chars().any(char::is_control) {
        Login::Retry("That username is not valid.")
    } else {
        Login::SignIn(name.to_owned())
    })
}

fn authorize(shared: &Shared, params: &Params, posted: bool) -> Response {
    let request = match validate(shared, params) {
        Ok(request) => request,
        Err(Rejection::Page(message)) => return html::error_page(&message),
        Err(Rejection::Redirect {
            redirect_uri,
            state,
            error,
            description,
        }) => {
            return redirect_error(
                shared,
                &redirect_uri,
                state.as_deref(),
                error,
                &description,
                posted,
            );
        }
    };
    let login = if posted { login_action(params) } else { None };
    match login {
        Some(Login::Cancel) => request.error(
            shared,
            "access_denied",
            "the user cancelled the sign-in",
            posted,
        ),
        Some(Login::SignIn(sub)) => sign_in(shared, &request, &sub, posted),
        Some(Login::Retry(message)) => login_page(shared, &request, params, Some(message)),
        None => {
            let auto_login = shared.provider().directory.auto_login.clone();
            match auto_login {
                Some(sub) => sign_in(shared, &request, &sub, posted),
                None if request.prompt_none => request.error(
                    shared,
                    "login_required",
                    "prompt=none, and the issuer has no auto-login user",
                    posted,
                ),
                None => login_page(shared, &request, params, None),
            }
        }
    }
}

impl AuthRequest {
    fn error(&self, shared: &Shared, error: &str, description: &str, posted: bool) -> Response {
        redirect_error(
            shared,
            &self.redirect_uri,
            self.state.as_deref(),
            error,
            description,
            posted,
        )
    }
}

/// Checks the client and redirect URI first (failures show a page), then everything else
/// (failures redirect back with an error).
fn validate(shared: &Shared, params: &Params) -> Result<AuthRequest, Rejection> {
    let client_id = match params.count("client_id") {
        0 => return Err(Rejection::Page("client_id is missing".to_owned())),
        1 => params.get("client_id").unwrap_or_default(),
        _ => {
            return Err(Rejection::Page(
                "client_id is given more than once".to_owned(),
            ));
        }
    };
    let client = shared.provider().directory.client(client_id).cloned();
    let Some(client) = client else {
        return Err(Rejection::Page(format!(
            "unknown client {client_id:?}: register it with TestIssuerBuilder::client or \
             TestIssuer::add_client"
        )));
    };
    let redirect_uri = match params.count("redirect_uri") {
        0 => return Err(Rejection::Page("redirect_uri is missing".to_owned())),
        1 => params.get("redirect_uri").unwrap_or_default(),
        _ => {
            return Err(Rejection::Page(
                "redirect_uri is given more than once".to_owned(),
            ));
        }
    };
    if !client.has_redirect_uris() {
        return Err(Rejection::Page(format!(
            "client {client_id:?} has no registered redirect URIs: add one with \
             TestClient::redirect_uri"
        )));
    }
    if !client.has_redirect_uri(redirect_uri) || redirect_uri.contains('#') {
        return Err(Rejection::Page(format!(
            "redirect_uri {redirect_uri:?} is not registered for client {client_id:?} \
             (redirect URIs are compared as exact strings)"
        )));
    }
    let state = params.single("state").map(str::to_owned);
    let fail = |error: &'static str, description: String| Rejection::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        state: state.clone(),
        error,
        description,
    };
    let invalid = |description: &str| fail("invalid_request", description.to_owned());

    if params.get("request").is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported".to_owned(),
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported".to_owned(),
        ));
    }
    if let Some(name) = params.repeated(&["resource"]) {
        return Err(fail(
            "invalid_request",
            format!("parameter {name} is given more than once"),
        ));
    }
    match params.get("response_type") {
        None => return Err(invalid("response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported".to_owned(),
            ));
        }
    }
    if params
        .get("response_mode")
        .is_some_and(|mode| mode != "query")
    {
        return Err(invalid("only response_mode=query is supported"));
    }
    let Some(code_challenge) = params.get("code_challenge") else {
        return Err(invalid("code_challenge is required (PKCE with S256)"));
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        None => {
            return Err(invalid(
                "code_challenge_method is required and must be S256",
            ));
        }
        Some("plain") => {
            return Err(invalid(
                "code_challenge_method plain is not allowed, use S256",
            ));
        }
        Some(_) => return Err(invalid("code_challenge_method must be S256")),
    }
    // An S256 challenge is a base64url SHA-256 digest: 43 characters.
    if code_challenge.len() != 43 || !pkce::is_well_formed(code_challenge) {
        return Err(invalid("code_challenge is not a base64url SHA-256 digest"));
    }
    let Some(scope) = parse_scope(params.get("scope").unwrap_or("")) else {
        return Err(fail(
            "invalid_scope",
            "scope holds a character RFC 6749 does not allow".to_owned(),
        ));
    };
    let resources: Vec<String> = params.all("resource").map(str::to_owned).collect();
    if resources.iter().any(|r| !is_resource_uri(r)) {
        return Err(fail(
            "invalid_target",
            "resource must be an absolute URI without a fragment".to_owned(),
        ));
    }
    let audiences = match (resources.is_empty(), params.get("audience")) {
        (false, Some(_)) => return Err(invalid("send resource or audience, not both")),
        (true, Some(audience)) => vec![audience.to_owned()],
        (_, None) => resources,
    };
    let prompt: Vec<&str> = params
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    let prompt_none = prompt.contains(&"none");
    if prompt_none && prompt.len() > 1 {
        return Err(invalid("prompt=none cannot be combined with other values"));
    }
    if params
        .get("max_age")
        .is_some_and(|max_age| max_age.parse::<u64>().is_err())
    {
        return Err(invalid("max_age must be a non-negative integer"));
    }
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state,
        scope,
        audiences,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        prompt_none,
        login_hint: params.get("login_hint").map(str::to_owned),
    })
}

fn login_page(
    shared: &Shared,
    request: &AuthRequest,
    params: &Params,
    error: Option<&str>,
) -> Response {
    let users = shared
        .provider()
        .directory
        .users()
        .iter()
        .map(|user| UserChoice {
            sub: user.sub().to_owned(),
            name: user.display_name().map(str::to_owned),
            roles: user.role_names().to_vec(),
        })
        .collect();
    let action = format!("{}/authorize", shared.path);
    let scope = request.scope.join(" ");
    let typed = params.get("username");
    LoginPage {
        action: &action,
        issuer: &shared.issuer,
        client_id: &request.client_id,
        scope: &scope,
        hidden: params
            .pairs()
            .filter(|(name, _)| !LOGIN_FIELDS.contains(name))
            .collect(),
        users,
        username: typed.or(request.login_hint.as_deref()),
        error,
    }
    .render()
}

/// Signs `sub` in (creating an ad-hoc user if needed) and redirects back with a code.
fn sign_in(shared: &Shared, request: &AuthRequest, sub: &str, posted: bool) -> Response {
    let code = {
        let mut provider = shared.provider();
        if provider.directory.is_disabled(sub) {
            None
        } else {
            provider.directory.ensure_user(sub);
            let new = NewGrant {
                sub: sub.to_owned(),
                client_id: request.client_id.clone(),
                scope: request.scope.clone(),
                audiences: request.audiences.clone(),
                auth_time: unix_now(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                nonce: request.nonce.clone(),
            };
            Some(provider.grants.authorize(new, Instant::now()))
        }
    };
    let Some(code) = code else {
        return request.error(shared, "access_denied", "the user is disabled", posted);
    };
    tracing::debug!(sub, client_id = request.client_id, "auth-issuer: signed in");
    let mut query = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        query.push(("state", state));
    }
    query.push(("iss", &shared.issuer));
    redirect(&with_query(&request.redirect_uri, &query), posted)
}

fn redirect_error(
    shared: &Shared,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
    posted: bool,
) -> Response {
    let mut query = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        query.push(("state", state));
    }
    query.push(("iss", &shared.issuer));
    redirect(&with_query(redirect_uri, &query), posted)
}

/// `302 Found` after a GET; `303 See Other` after a POST, so that the browser follows with
/// a GET and does not resend the form (RFC 9700 §4.12).
fn redirect(location: &str, posted: bool) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return html::error_page("the redirect URI cannot be sent in a Location header");
    };
    let status = if posted {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    (
        status,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}
