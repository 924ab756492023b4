//! `GET|POST {path}/authorize`: the authorization endpoint (RFC 6749 §4.1.1, RFC 7636 §4.3,
//! RFC 8707, RFC 9207, OpenID Connect Core §3.1.2), with the user hook and the consent step.

use std::time::Duration;

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::client::Client;
use crate::engine::Engine;
use crate::hooks::{Authentication, AuthorizeContext, ConsentRequest};
use crate::http::{ProviderRequest, ProviderResponse};
use crate::jwt::{random_b64, random_hex, unix_now};
use crate::pages::{self, ConsentPage};
use crate::params::{Params, is_resource_uri, parse_scope, with_query};
use crate::pkce;
use crate::secret::token_hash;
use crate::store::{Authorization, CodeRecord, Consent};

/// How long an authorization code can be redeemed (RFC 6749 §4.1.2 recommends at most ten
/// minutes).
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// How long a consent form stays valid.
const CONSENT_FORM_SECS: i64 = 600;

/// Form fields of the consent page itself, as opposed to the authorization request.
const CONSENT_FIELDS: &[&str] = &["consent", "consent_token"];

/// A validated authorization request.
#[derive(Debug)]
struct AuthRequest {
    client: Client,
    redirect_uri: String,
    state: Option<String>,
    scope: Vec<String>,
    resources: Vec<String>,
    nonce: Option<String>,
    code_challenge: String,
    prompt: Vec<String>,
    max_age: Option<u64>,
    /// `acr_values`, in order of preference.
    acr_values: Vec<String>,
    /// `dpop_jkt` (RFC 9449 §10): the key the token request's proof must use.
    dpop_jkt: Option<String>,
    /// Errors go in the fragment (an implicit-style `response_type`).
    fragment: bool,
}

impl AuthRequest {
    fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }

    fn is_oidc(&self) -> bool {
        self.scope.iter().any(|s| s == "openid")
    }
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
        fragment: bool,
        error: &'static str,
        description: String,
    },
    /// The store failed.
    Unavailable,
}

pub(crate) async fn handle(engine: &Engine, request: &ProviderRequest) -> ProviderResponse {
    let posted = request.method() == "POST";
    let params = if posted {
        if !request.is_form() {
            return pages::error_page(
                "POST to the authorization endpoint needs an application/x-www-form-urlencoded body",
            );
        }
        Params::parse(request.body_bytes())
    } else {
        Params::parse(request.query().as_bytes())
    };
    let mut auth = match validate(engine, &params).await {
        Ok(auth) => auth,
        Err(rejection) => return reject(engine, rejection, posted),
    };
    // `offline_access` stands only where refresh tokens may follow (OpenID Connect Core §11:
    // with prompt=consent, or for a first-party client); otherwise it is ignored, and
    // neither asked on the consent page nor granted.
    let offline_allowed = auth.client.gets_refresh_tokens()
        && (!auth.is_oidc() || auth.client.is_first_party() || auth.prompts("consent"));
    if !offline_allowed {
        auth.scope.retain(|s| s != "offline_access");
    }
    let fail = |error: &'static str, description: &str| {
        redirect_error(
            engine,
            &auth.redirect_uri,
            auth.state.as_deref(),
            auth.fragment,
            error,
            description,
            posted,
        )
    };
    // The user, from the host's hook.
    let resume_url = resume_url(engine, &params);
    let context = AuthorizeContext {
        request,
        params: &params,
        client_id: auth.client.client_id(),
        scope: &auth.scope,
        prompt: &auth.prompt,
        max_age: auth.max_age,
        acr_values: &auth.acr_values,
        resume_url,
        force_login: false,
    };
    let now = unix_now();
    let stale = |auth_time: i64| {
        auth.max_age.is_some_and(|max_age| {
            now.saturating_sub(auth_time) > i64::try_from(max_age).unwrap_or(i64::MAX)
        })
    };
    let mut context = context;
    let mut retried = false;
    let (signed_in, auth_time) = loop {
        let signed_in = match engine.users.authenticate(&context).await {
            Authentication::SignedIn(user) => user,
            Authentication::Respond(_) if auth.prompts("none") => {
                return fail("login_required", "prompt=none, and no user is signed in");
            }
            Authentication::Respond(response) => return response,
            Authentication::Denied(description) => return fail("access_denied", &description),
        };
        let auth_time = signed_in.auth_time.unwrap_or(now);
        if !stale(auth_time) {
            break (signed_in, auth_time);
        }
        // Older than max_age: ask the host to authenticate the user again (OpenID Connect
        // Core §3.1.2.1), once; a hook that cannot is answered with login_required.
        if retried || auth.prompts("none") {
            return fail(
                "login_required",
                "the user's authentication is older than max_age",
            );
        }
        retried = true;
        context.force_login = true;
    };
    let sub = signed_in.sub;
    // Consent.
    match consent(engine, request, &auth, &params, &sub, posted, now).await {
        Ok(ConsentStep::Granted) => {}
        Ok(ConsentStep::Show(page)) => return page,
        Ok(ConsentStep::Refuse(error, description)) => return fail(error, description),
        Err(()) => return unavailable(),
    }
    let scope = auth.scope.clone();
    let code = random_b64(32);
    let authorization = Authorization {
        id: random_hex(16),
        sub: sub.clone(),
        client_id: auth.client.client_id().to_owned(),
        scope,
        resources: auth.resources.clone(),
        auth_time,
        acr: signed_in.acr,
        amr: signed_in.amr,
        created_at: now,
        revoked: false,
    };
    let record = CodeRecord {
        hash: token_hash(&code),
        authorization_id: authorization.id.clone(),
        redirect_uri: auth.redirect_uri.clone(),
        code_challenge: auth.code_challenge.clone(),
        nonce: auth.nonce.clone(),
        dpop_jkt: auth.dpop_jkt.clone(),
        expires_at: now + i64::try_from(engine.lifetimes.code.as_secs()).unwrap_or(600),
    };
    if engine
        .store
        .insert_authorization(&authorization, &record)
        .await
        .is_err()
    {
        return unavailable();
    }
    tracing::debug!(
        sub,
        client_id = auth.client.client_id(),
        "auth-provider: authorized"
    );
    let mut query = vec![("code", code.as_str())];
    if let Some(state) = &auth.state {
        query.push(("state", state));
    }
    query.push(("iss", &engine.issuer));
    ProviderResponse::redirect(&with_query(&auth.redirect_uri, &query), posted)
}

fn unavailable() -> ProviderResponse {
    pages::respond(
        503,
        pages::page(
            "Temporarily unavailable",
            "<p class=\"error\" id=\"error\" role=\"alert\">The sign-in service cannot reach its \
             storage. Try again in a moment.</p>\n",
        ),
    )
    .with_header("retry-after", "5")
}

fn reject(engine: &Engine, rejection: Rejection, posted: bool) -> ProviderResponse {
    match rejection {
        Rejection::Page(message) => pages::error_page(&message),
        Rejection::Unavailable => unavailable(),
        Rejection::Redirect {
            redirect_uri,
            state,
            fragment,
            error,
            description,
        } => redirect_error(
            engine,
            &redirect_uri,
            state.as_deref(),
            fragment,
            error,
            &description,
            posted,
        ),
    }
}

/// The authorization request again, as an absolute GET URL without `prompt=login` (see
/// [`AuthorizeContext::resume_url`]) and without the provider's own form fields.
fn resume_url(engine: &Engine, params: &Params) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params.pairs() {
        if CONSENT_FIELDS.contains(&name) {
            continue;
        }
        if name == "prompt" {
            let rest: Vec<&str> = value.split(' ').filter(|p| *p != "login").collect();
            if !rest.iter().all(|p| p.is_empty()) {
                query.append_pair(name, &rest.join(" "));
            }
            continue;
        }
        query.append_pair(name, value);
    }
    format!("{}?{}", engine.endpoint("authorize"), query.finish())
}

/// Checks the client and redirect URI first (failures show a page), then everything else
/// (failures redirect back with an error).
async fn validate(engine: &Engine, params: &Params) -> Result<AuthRequest, Rejection> {
    let client_id = match params.count("client_id") {
        0 => return Err(Rejection::Page("client_id is missing".to_owned())),
        1 => params.get("client_id").unwrap_or_default(),
        _ => {
            return Err(Rejection::Page(
                "client_id is given more than once".to_owned(),
            ));
        }
    };
    let client = match engine.find_client(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(Rejection::Page(format!("unknown client {client_id:?}"))),
        Err(error) => {
            tracing::warn!(%error, "auth-provider: store unavailable");
            return Err(Rejection::Unavailable);
        }
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
            "client {client_id:?} has no registered redirect URIs: register the one it sends"
        )));
    }
    if !client.has_redirect_uri(redirect_uri) || redirect_uri.contains('#') {
        return Err(Rejection::Page(format!(
            "redirect_uri {redirect_uri:?} is not registered for client {client_id:?} \
             (redirect URIs are compared as exact strings)"
        )));
    }
    let state = params.single("state").map(str::to_owned);
    let response_type = params.get("response_type");
    if !client.allows_grant("authorization_code") {
        return Err(Rejection::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state,
            fragment: false,
            error: "unauthorized_client",
            description: "this client is not registered for the authorization code grant"
                .to_owned(),
        });
    }
    // Implicit and hybrid requests expect their answer in the fragment.
    let fragment = response_type.is_some_and(|t| {
        t.split(' ')
            .any(|part| part == "token" || part == "id_token")
    });
    let fail = |error: &'static str, description: String| Rejection::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        state: state.clone(),
        fragment,
        error,
        description,
    };
    let invalid = |description: &str| fail("invalid_request", description.to_owned());

    match response_type {
        None => return Err(invalid("response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported (authorization code flow with PKCE)"
                    .to_owned(),
            ));
        }
    }
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
    if let Some(unknown) = scope
        .iter()
        .find(|s| !client.allows_scope(s, engine.supported_scopes()))
    {
        return Err(fail(
            "invalid_scope",
            format!("scope {unknown:?} is not allowed for this client"),
        ));
    }
    let resources: Vec<String> = params.all("resource").map(str::to_owned).collect();
    if resources.iter().any(|r| !is_resource_uri(r)) {
        return Err(fail(
            "invalid_target",
            "resource must be an absolute URI without a fragment".to_owned(),
        ));
    }
    if params
        .get("audience")
        .is_some_and(|a| !crate::params::is_plain(a))
    {
        return Err(fail(
            "invalid_target",
            "audience must hold no whitespace or control character".to_owned(),
        ));
    }
    let resources = match (resources.is_empty(), params.get("audience")) {
        (false, Some(_)) => return Err(invalid("send resource or audience, not both")),
        (true, Some(audience)) => vec![audience.to_owned()],
        (_, None) => resources,
    };
    let prompt: Vec<String> = params
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(invalid("prompt=none cannot be combined with other values"));
    }
    let max_age = match params.get("max_age").map(str::parse::<u64>) {
        None => None,
        Some(Ok(max_age)) => Some(max_age),
        Some(Err(_)) => return Err(invalid("max_age must be a non-negative integer")),
    };
    let acr_values: Vec<String> = params
        .get("acr_values")
        .unwrap_or("")
        .split(' ')
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    if acr_values.iter().any(|v| !crate::params::is_plain(v)) {
        return Err(invalid(
            "acr_values must be values separated by single spaces, without control characters",
        ));
    }
    let dpop_jkt = params.get("dpop_jkt").map(str::to_owned);
    if dpop_jkt
        .as_deref()
        .is_some_and(|jkt| !super::dpop::is_thumbprint(jkt))
    {
        return Err(invalid(
            "dpop_jkt is not a JWK SHA-256 thumbprint (43 base64url characters)",
        ));
    }
    Ok(AuthRequest {
        client,
        redirect_uri: redirect_uri.to_owned(),
        state,
        scope,
        resources,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        prompt,
        max_age,
        acr_values,
        dpop_jkt,
        fragment,
    })
}

/// What the consent step decided.
enum ConsentStep {
    Granted,
    Show(ProviderResponse),
    Refuse(&'static str, &'static str),
}

/// Decides, records or asks for consent. `Err` when the store fails.
async fn consent(
    engine: &Engine,
    request: &ProviderRequest,
    auth: &AuthRequest,
    params: &Params,
    sub: &str,
    posted: bool,
    now: i64,
) -> Result<ConsentStep, ()> {
    if auth.client.is_first_party() {
        return Ok(ConsentStep::Granted);
    }
    let client_id = auth.client.client_id();
    if posted && let Some(answer) = params.get("consent") {
        let token = params.get("consent_token").unwrap_or("");
        if !verify_consent_token(engine, token, sub, auth, now) {
            // A stale or forged form: ask again.
            return Ok(ConsentStep::Show(
                consent_page(engine, request, auth, params, sub, now).await,
            ));
        }
        if answer != "approve" {
            return Ok(ConsentStep::Refuse(
                "access_denied",
                "the user did not allow access",
            ));
        }
        let previous = engine.store.consent(sub, client_id).await.map_err(|_| ())?;
        let mut scope = previous
            .as_ref()
            .map(|c| c.scope.clone())
            .unwrap_or_default();
        let mut resources = previous.map(|c| c.resources).unwrap_or_default();
        for value in &auth.scope {
            if !scope.contains(value) {
                scope.push(value.clone());
            }
        }
        for value in &auth.resources {
            if !resources.contains(value) {
                resources.push(value.clone());
            }
        }
        let record = Consent {
            sub: sub.to_owned(),
            client_id: client_id.to_owned(),
            scope,
            resources,
            granted_at: now,
        };
        engine.store.put_consent(&record).await.map_err(|_| ())?;
        return Ok(ConsentStep::Granted);
    }
    let covered = !auth.prompts("consent")
        && engine
            .store
            .consent(sub, client_id)
            .await
            .map_err(|_| ())?
            .is_some_and(|c| {
                auth.scope.iter().all(|s| c.scope.contains(s))
                    && auth.resources.iter().all(|r| c.resources.contains(r))
            });
    if covered {
        return Ok(ConsentStep::Granted);
    }
    if auth.prompts("none") {
        return Ok(ConsentStep::Refuse(
            "consent_required",
            "prompt=none, and the user has not allowed this client",
        ));
    }
    Ok(ConsentStep::Show(
        consent_page(engine, request, auth, params, sub, now).await,
    ))
}

/// The host's consent page, or the provider's.
async fn consent_page(
    engine: &Engine,
    request: &ProviderRequest,
    auth: &AuthRequest,
    params: &Params,
    sub: &str,
    now: i64,
) -> ProviderResponse {
    let token = consent_token(engine, sub, auth, now + CONSENT_FORM_SECS);
    let action = format!("{}/authorize", engine.path);
    let mut hidden: Vec<(&str, &str)> = params
        .pairs()
        .filter(|(name, _)| !CONSENT_FIELDS.contains(name))
        .collect();
    hidden.push(("consent_token", &token));
    let name = auth
        .client
        .registered_metadata()
        .and_then(|m| m.get("client_name"))
        .and_then(serde_json::Value::as_str);
    let own = ConsentRequest {
        request,
        action: &action,
        client_id: auth.client.client_id(),
        client_name: name,
        sub,
        scope: &auth.scope,
        resources: &auth.resources,
        fields: hidden.clone(),
    };
    if let Some(page) = engine.users.consent_page(&own).await {
        return page;
    }
    ConsentPage {
        action: &action,
        client_id: auth.client.client_id(),
        client_name: name,
        sub,
        scope: &auth.scope,
        resources: &auth.resources,
        hidden,
    }
    .render()
}

/// `{expiry}.{MAC}`, binding the form to this user, client, scope and resources.
fn consent_token(engine: &Engine, sub: &str, auth: &AuthRequest, expires: i64) -> String {
    let tag = consent_mac(engine, sub, auth, expires);
    format!("{expires}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn consent_mac(engine: &Engine, sub: &str, auth: &AuthRequest, expires: i64) -> hmac::Tag {
    let mut context = hmac::Context::with_key(&engine.consent_key);
    let expires = expires.to_string();
    let scope = auth.scope.join(" ");
    let resources = auth.resources.join(" ");
    for part in [
        expires.as_str(),
        sub,
        auth.client.client_id(),
        &scope,
        &resources,
    ] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    context.sign()
}

fn verify_consent_token(
    engine: &Engine,
    token: &str,
    sub: &str,
    auth: &AuthRequest,
    now: i64,
) -> bool {
    let Some((expires, mac)) = token.split_once('.') else {
        return false;
    };
    let (Ok(expires), Ok(mac)) = (expires.parse::<i64>(), URL_SAFE_NO_PAD.decode(mac)) else {
        return false;
    };
    expires > now
        && constant_time::verify_slices_are_equal(
            consent_mac(engine, sub, auth, expires).as_ref(),
            &mac,
        )
        .is_ok()
}

fn redirect_error(
    engine: &Engine,
    redirect_uri: &str,
    state: Option<&str>,
    fragment: bool,
    error: &str,
    description: &str,
    posted: bool,
) -> ProviderResponse {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", &engine.issuer));
    let location = if fragment {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(&pairs);
        format!("{redirect_uri}#{}", query.finish())
    } else {
        with_query(redirect_uri, &pairs)
    };
    ProviderResponse::redirect(&location, posted)
}
