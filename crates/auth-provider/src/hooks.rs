//! The host application's part: who is signed in, and what to say about a user.

use std::fmt;

use serde_json::{Map, Value};

use crate::http::{ProviderRequest, ProviderResponse};
use crate::params::Params;
use crate::store::{BoxFuture, StoreError};

/// The host application's users.
///
/// The provider never sees a password: at the authorization endpoint it asks
/// [`authenticate`](Users::authenticate) who is signed in (from the host's own session cookie,
/// typically), and the host either names the user or answers with its own page or a redirect
/// to its login page, which later sends the browser back to
/// [`AuthorizeContext::resume_url`].
///
/// ```
/// use auth_provider::{AuthorizeContext, Authentication, BoxFuture, ProviderResponse, SignedIn,
///     StoreError, UserClaims, Users};
///
/// struct MyUsers;
///
/// impl Users for MyUsers {
///     fn authenticate<'a>(&'a self, request: &'a AuthorizeContext<'a>) -> BoxFuture<'a, Authentication> {
///         Box::pin(async move {
///             match request.request().cookie("my_session") {
///                 // Look the session up in your own store here.
///                 Some(_session) if !request.login_required() => {
///                     Authentication::SignedIn(SignedIn::new("user-42").auth_time(1_765_000_000))
///                 }
///                 _ => {
///                     let login = format!("/login?return_to={}", urlencode(&request.resume_url()));
///                     Authentication::Respond(ProviderResponse::redirect(&login, false))
///                 }
///             }
///         })
///     }
///
///     fn claims<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Option<UserClaims>, StoreError>> {
///         Box::pin(async move {
///             Ok(Some(UserClaims::new().name("Ada Lovelace").email("ada@example.com", true)))
///         })
///     }
/// }
/// # fn urlencode(s: &str) -> String { s.to_owned() }
/// ```
pub trait Users: Send + Sync + 'static {
    /// Who is signed in for this authorization request (already validated: client, redirect
    /// URI, PKCE, scope). [`Authentication::Respond`] shows a page or redirects to the login
    /// page; with `prompt=none` the provider turns it into `login_required` instead.
    fn authenticate<'a>(
        &'a self,
        request: &'a AuthorizeContext<'a>,
    ) -> BoxFuture<'a, Authentication>;

    /// What to say about `sub` in ID tokens, access tokens and userinfo. `Ok(None)` means the
    /// user no longer exists or is disabled: their codes and refresh tokens are refused and
    /// userinfo answers `invalid_token`.
    fn claims<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Option<UserClaims>, StoreError>>;

    /// RP-initiated logout reached the provider (OpenID Connect RP-Initiated Logout 1.0) for
    /// the user `sub` (from a valid `id_token_hint`; `None` without one): end the host's own
    /// session. The headers returned (typically a `Set-Cookie` that clears the session
    /// cookie) go on the logout response. The default does nothing.
    fn end_session<'a>(
        &'a self,
        request: &'a ProviderRequest,
        sub: Option<&'a str>,
    ) -> BoxFuture<'a, Vec<(&'static str, String)>> {
        let _ = (request, sub);
        Box::pin(std::future::ready(Vec::new()))
    }

    /// The host's own consent page, or `None` (the default) for the provider's. The page must
    /// post [`ConsentRequest::fields`] and one of [`ConsentRequest::APPROVE`] /
    /// [`ConsentRequest::DENY`] to [`ConsentRequest::action`] as a form; the provider checks
    /// and records the answer.
    fn consent_page<'a>(
        &'a self,
        request: &'a ConsentRequest<'a>,
    ) -> BoxFuture<'a, Option<ProviderResponse>> {
        let _ = request;
        Box::pin(std::future::ready(None))
    }
}

/// What the consent page must show and post back (see [`Users::consent_page`]).
#[derive(Debug)]
pub struct ConsentRequest<'a> {
    pub(crate) request: &'a ProviderRequest,
    pub(crate) action: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) client_name: Option<&'a str>,
    pub(crate) sub: &'a str,
    pub(crate) scope: &'a [String],
    pub(crate) resources: &'a [String],
    pub(crate) fields: Vec<(&'a str, &'a str)>,
}

impl ConsentRequest<'_> {
    /// The form field that approves.
    pub const APPROVE: (&'static str, &'static str) = ("consent", "approve");
    /// The form field that refuses.
    pub const DENY: (&'static str, &'static str) = ("consent", "deny");

    /// The HTTP request (cookies, headers).
    #[must_use]
    pub fn request(&self) -> &ProviderRequest {
        self.request
    }

    /// Where the form posts (the authorization endpoint's path).
    #[must_use]
    pub fn action(&self) -> &str {
        self.action
    }

    /// The client asking.
    #[must_use]
    pub fn client_id(&self) -> &str {
        self.client_id
    }

    /// The `client_name` it registered, if any.
    #[must_use]
    pub fn client_name(&self) -> Option<&str> {
        self.client_name
    }

    /// The signed-in user.
    #[must_use]
    pub fn user(&self) -> &str {
        self.sub
    }

    /// The scopes to approve.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        self.scope
    }

    /// The resources (RFC 8707) to approve.
    #[must_use]
    pub fn resources(&self) -> &[String] {
        self.resources
    }

    /// The hidden fields the form carries (the authorization request, and a token that binds
    /// the answer to this user, client, scope and resources for ten minutes).
    #[must_use]
    pub fn fields(&self) -> &[(&str, &str)] {
        &self.fields
    }
}

/// The answer of [`Users::authenticate`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Authentication {
    /// This user is signed in.
    SignedIn(SignedIn),
    /// Not (yet): answer with this (a login page, or a redirect to one).
    Respond(ProviderResponse),
    /// The user refused or may not sign in: the client gets `access_denied` with this
    /// description.
    Denied(String),
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct SignedIn {
    pub(crate) sub: String,
    pub(crate) auth_time: Option<i64>,
    pub(crate) acr: Option<String>,
    pub(crate) amr: Vec<String>,
}

impl SignedIn {
    /// The user `sub` (a stable, never reassigned identifier).
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            auth_time: None,
            acr: None,
            amr: Vec::new(),
        }
    }

    /// When the user authenticated (Unix seconds), for `auth_time` and `max_age`. Default:
    /// now.
    pub fn auth_time(mut self, unix_seconds: i64) -> Self {
        self.auth_time = Some(unix_seconds);
        self
    }

    /// The authentication context class this sign-in satisfied (`acr`, OpenID Connect Core
    /// §2; RFC 9470 step-up), typically one of [`AuthorizeContext::acr_values`] the user
    /// really went through. It is stored with the authorization and carried by its ID and
    /// access tokens, refreshed ones included. Default: none (no `acr` claim).
    pub fn acr(mut self, acr: impl Into<String>) -> Self {
        self.acr = Some(acr.into());
        self
    }

    /// The authentication methods used (`amr`, RFC 8176 values such as `pwd`, `otp`,
    /// `hwk`, `mfa`). Default: none (no `amr` claim).
    pub fn amr<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.amr = methods.into_iter().map(Into::into).collect();
        self
    }
}

/// Claims about a user. Standard profile claims reach ID tokens and userinfo by scope
/// (`profile`, `email`, `address`, `phone`, OpenID Connect Core §5.4); other claims (such as
/// `roles`) always. Access tokens carry all of them.
#[derive(Clone, Default, PartialEq)]
#[must_use]
pub struct UserClaims(pub(crate) Map<String, Value>);

impl fmt::Debug for UserClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: names only.
        f.debug_tuple("UserClaims")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Claims the provider sets itself; a hook cannot override them.
pub(crate) const PROTECTED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "at_hash",
    "c_hash",
    "sid",
    "azp",
    "client_id",
    "scope",
    "acr",
    "amr",
    "cnf",
];

impl UserClaims {
    /// No claims.
    pub fn new() -> Self {
        Self::default()
    }

    /// Claims from a JSON object (protected ones such as `sub` or `exp` are ignored).
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// `name`.
    pub fn name(self, name: impl Into<String>) -> Self {
        self.claim("name", name.into())
    }

    /// `email` and `email_verified`.
    pub fn email(self, email: impl Into<String>, verified: bool) -> Self {
        self.claim("email", email.into())
            .claim("email_verified", verified)
    }

    /// `picture` (a URL).
    pub fn picture(self, url: impl Into<String>) -> Self {
        self.claim("picture", url.into())
    }

    /// Any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_owned(), value.into());
        self
    }

    /// The claims, protected names left out.
    pub(crate) fn all(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0
            .iter()
            .filter(|(name, _)| !PROTECTED_CLAIMS.contains(&name.as_str()))
    }

    /// The claims `scopes` release (OpenID Connect Core §5.4), plus every non-standard one.
    pub(crate) fn for_scopes(&self, scopes: &[String]) -> Map<String, Value> {
        self.all()
            .filter(|(name, _)| match scope_of(name) {
                Some(scope) => scopes.iter().any(|s| s == scope),
                None => true,
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }
}

/// The scope that releases a standard claim (OpenID Connect Core §5.4).
fn scope_of(claim: &str) -> Option<&'static str> {
    Some(match claim {
        "name" | "family_name" | "given_name" | "middle_name" | "nickname"
        | "preferred_username" | "profile" | "picture" | "website" | "gender" | "birthdate"
        | "zoneinfo" | "locale" | "updated_at" => "profile",
        "email" | "email_verified" => "email",
        "address" => "address",
        "phone_number" | "phone_number_verified" => "phone",
        _ => return None,
    })
}

/// A validated authorization request, as [`Users::authenticate`] sees it.
#[derive(Debug)]
pub struct AuthorizeContext<'a> {
    pub(crate) request: &'a ProviderRequest,
    pub(crate) params: &'a Params,
    pub(crate) client_id: &'a str,
    pub(crate) scope: &'a [String],
    pub(crate) prompt: &'a [String],
    pub(crate) max_age: Option<u64>,
    pub(crate) acr_values: &'a [String],
    pub(crate) resume_url: String,
    /// Set when the user's sign-in was older than `max_age`.
    pub(crate) force_login: bool,
}

impl AuthorizeContext<'_> {
    /// The HTTP request (cookies, headers, and the form of a POST).
    #[must_use]
    pub fn request(&self) -> &ProviderRequest {
        self.request
    }

    /// A parameter of the authorization request (query, or form for a POST), e.g. a field
    /// of the host's own login form posted back to the authorization endpoint.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// Every parameter, in order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.pairs()
    }

    /// The client asking.
    #[must_use]
    pub fn client_id(&self) -> &str {
        self.client_id
    }

    /// The scopes asked for.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        self.scope
    }

    /// Authenticate the user again even if signed in: `prompt=login`, or a second call after
    /// the [`SignedIn::auth_time`] of the first was older than [`max_age`](Self::max_age).
    #[must_use]
    pub fn login_required(&self) -> bool {
        self.force_login || self.prompt.iter().any(|p| p == "login")
    }

    /// `prompt=none`: no page may be shown; a [`Authentication::Respond`] becomes
    /// `login_required`.
    #[must_use]
    pub fn is_passive(&self) -> bool {
        self.prompt.iter().any(|p| p == "none")
    }

    /// `max_age`: the user's authentication must be at most this many seconds old. The
    /// provider checks the `auth_time` of [`SignedIn`]; when it is older it calls
    /// [`Users::authenticate`] once more with [`login_required`](Self::login_required) set, and
    /// answers `login_required` if the sign-in is still too old.
    #[must_use]
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    /// `acr_values`: the authentication context classes the client asks for, in order of
    /// preference (OpenID Connect Core §3.1.2.1; empty without the parameter). A request for
    /// a class the user's current sign-in does not satisfy is a step-up (RFC 9470): sign the
    /// user in at that level and say so with [`SignedIn::acr`]. The provider does not
    /// enforce them: the client and its resource servers check the `acr` claim.
    #[must_use]
    pub fn acr_values(&self) -> &[String] {
        self.acr_values
    }

    /// `login_hint`.
    #[must_use]
    pub fn login_hint(&self) -> Option<&str> {
        self.params.get("login_hint")
    }

    /// The absolute URL that repeats this authorization request as a GET (for a login page's
    /// "return to"). `prompt=login` is left out of it, so that coming back signed in does not
    /// ask again.
    #[must_use]
    pub fn resume_url(&self) -> String {
        self.resume_url.clone()
    }
}
