//! Test users and clients, the directory that holds the users at run time, and the
//! provider's [`Users`] hook over it (the dev login page).

use std::collections::HashSet;
use std::fmt;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use auth_provider::pages::{escape, hidden_inputs, page, respond};
use auth_provider::{
    Authentication, AuthorizeContext, BoxFuture, Client, ClientAuth, ProviderResponse, SignedIn,
    StoreError, UserClaims, Users,
};
use serde_json::{Map, Value};

use crate::server::lock;

/// A user who can sign in at the issuer's login page (or automatically, see
/// [`TestIssuerBuilder::auto_login`](crate::TestIssuerBuilder::auto_login)).
///
/// Their profile ends up in access tokens, ID tokens and the userinfo answer: `sub`, `name`,
/// `email`, `roles` and any extra claims.
///
/// ```
/// use auth_issuer::TestUser;
///
/// let carol = TestUser::new("carol")
///     .name("Carol Example")
///     .email("carol@example.com")
///     .roles(&["auditor"])
///     .claim("tenant", "t-42");
/// assert_eq!(carol.sub(), "carol");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct TestUser {
    sub: String,
    name: Option<String>,
    email: Option<String>,
    email_verified: bool,
    roles: Vec<String>,
    claims: Map<String, Value>,
}

/// Claims a [`TestUser::claim`] cannot replace: the issuer sets them itself.
pub(crate) const PROTECTED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "auth_time",
    "nonce",
    "at_hash",
    "azp",
    "sid",
    "acr",
    "amr",
    "cnf",
    "name",
    "email",
    "email_verified",
    "roles",
];

impl TestUser {
    /// A user with this subject identifier (`sub`), no name, no email, no roles.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            name: None,
            email: None,
            email_verified: true,
            roles: Vec::new(),
            claims: Map::new(),
        }
    }

    /// Sets the display name (`name` claim).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email address (`email` claim; `email_verified` is `true` unless
    /// [`email_verified`](Self::email_verified) says otherwise).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Whether the email address counts as verified (`email_verified`, default `true`).
    pub fn email_verified(mut self, verified: bool) -> Self {
        self.email_verified = verified;
        self
    }

    /// Sets the roles (`roles` claim, an array of strings).
    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.roles = roles.iter().map(|&role| role.to_owned()).collect();
        self
    }

    /// Adds an extra claim to the user's access tokens, ID tokens and userinfo answer. The
    /// claims the issuer sets itself (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`,
    /// `client_id`, `scope`, `auth_time`, `nonce`, `at_hash`, `azp`, `sid`, `acr`, `amr`,
    /// `cnf`) and the profile claims `name`, `email` and `roles` cannot be replaced this way.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// The subject identifier.
    #[must_use]
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The default users: `alice` (Alice Example, alice@example.com, roles `admin` and
    /// `user`) and `bob` (Bob Example, bob@example.com, role `user`).
    pub(crate) fn defaults() -> Vec<Self> {
        vec![
            Self::new("alice")
                .name("Alice Example")
                .email("alice@example.com")
                .roles(&["admin", "user"]),
            Self::new("bob")
                .name("Bob Example")
                .email("bob@example.com")
                .roles(&["user"]),
        ]
    }

    pub(crate) fn display_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn role_names(&self) -> &[String] {
        &self.roles
    }

    /// The profile claims: `name`, `email` (when set), `roles` and the extra claims.
    pub(crate) fn profile_claims(&self) -> Map<String, Value> {
        let mut claims: Map<String, Value> = self
            .claims
            .iter()
            .filter(|(name, _)| !PROTECTED_CLAIMS.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        if let Some(name) = &self.name {
            claims.insert("name".into(), name.clone().into());
        }
        if let Some(email) = &self.email {
            claims.insert("email".into(), email.clone().into());
            claims.insert("email_verified".into(), self.email_verified.into());
        }
        claims.insert("roles".into(), self.roles.clone().into());
        claims
    }
}

/// A client (relying party) registered at the issuer: an [`auth_provider::Client`] that is
/// first-party unless [`first_party`](Self::first_party) says otherwise (no consent page, and
/// `offline_access` without `prompt=consent`), as an app under test expects of its own
/// identity provider.
///
/// Redirect URIs are compared as exact strings, as OAuth 2.1 requires: register every URI
/// the client will send.
///
/// ```
/// use auth_issuer::{ClientAuth, TestClient};
///
/// let web = TestClient::confidential("web", "s3cret")
///     .redirect_uri("http://127.0.0.1:3000/callback")
///     .post_logout_redirect_uri("http://127.0.0.1:3000/");
/// let basic_only = TestClient::confidential("svc", "s3cret").auth_method(ClientAuth::Basic);
/// let spa = TestClient::public("spa").redirect_uri("http://localhost:5173/callback");
/// let third_party = TestClient::public("mcp").redirect_uri("http://127.0.0.1/cb").first_party(false);
/// # let _ = (web, basic_only, spa, third_party);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct TestClient {
    client: Client,
    /// Kept in clear for [`TestIssuer::session_config`](crate::TestIssuer::session_config).
    secret: Option<String>,
}

impl fmt::Debug for TestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.client.fmt(f)
    }
}

impl TestClient {
    /// A confidential client with a secret (see [`Client::confidential`]).
    pub fn confidential(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        Self {
            client: Client::confidential(client_id, secret.clone()).first_party(true),
            secret: Some(secret),
        }
    }

    /// A public client (see [`Client::public`]).
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            client: Client::public(client_id).first_party(true),
            secret: None,
        }
    }

    /// A `private_key_jwt` client (see [`Client::private_key_jwt`]).
    pub fn private_key_jwt(client_id: impl Into<String>, public_jwk: Value) -> Self {
        Self {
            client: Client::private_key_jwt(client_id, public_jwk).first_party(true),
            secret: None,
        }
    }

    fn map(mut self, change: impl FnOnce(Client) -> Client) -> Self {
        self.client = change(self.client);
        self
    }

    /// Registers one more public JWK for `private_key_jwt` (see [`Client::jwk`]).
    pub fn jwk(self, public_jwk: Value) -> Self {
        self.map(|c| c.jwk(public_jwk))
    }

    /// Registers a redirect URI (exact string; call again for more).
    pub fn redirect_uri(self, uri: impl Into<String>) -> Self {
        self.map(|c| c.redirect_uri(uri))
    }

    /// Registers a post-logout redirect URI for RP-initiated logout (call again for more).
    pub fn post_logout_redirect_uri(self, uri: impl Into<String>) -> Self {
        self.map(|c| c.post_logout_redirect_uri(uri))
    }

    /// Accepts only this authentication method (see [`Client::auth_method`]).
    pub fn auth_method(mut self, method: ClientAuth) -> Self {
        if method == ClientAuth::None {
            self.secret = None;
        }
        self.map(|c| c.auth_method(method))
    }

    /// Whether the client may get refresh tokens (for `offline_access`) and use the
    /// `refresh_token` grant (default `true`).
    pub fn refresh_tokens(self, on: bool) -> Self {
        self.map(|c| c.refresh_tokens(on))
    }

    /// A first-party client skips the consent page (default `true` here).
    pub fn first_party(self, on: bool) -> Self {
        self.map(|c| c.first_party(on))
    }

    /// A native client's loopback redirect URIs match on any port (RFC 8252 §7.3).
    pub fn native(self, on: bool) -> Self {
        self.map(|c| c.native(on))
    }

    /// The scopes this client may ask for (default: any).
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.map(|c| c.scopes(scopes))
    }

    /// The client identifier.
    #[must_use]
    pub fn client_id(&self) -> &str {
        self.client.client_id()
    }

    /// The default client: confidential `test-client` with secret `test-secret` and no
    /// redirect URIs.
    pub(crate) fn default_client() -> Self {
        Self::confidential("test-client", "test-secret")
    }

    #[cfg(feature = "auth-core")]
    pub(crate) fn secret(&self) -> Option<&str> {
        self.secret.as_deref()
    }

    pub(crate) fn into_client(self) -> Client {
        self.client
    }
}

/// Users and login settings, changed by tests at run time.
#[derive(Debug)]
pub(crate) struct Directory {
    /// In the order they were added: the login page lists them so.
    users: Vec<TestUser>,
    disabled: HashSet<String>,
    pub(crate) auto_login: Option<String>,
}

impl Directory {
    pub(crate) fn new(users: Vec<TestUser>, auto_login: Option<String>) -> Self {
        let mut directory = Self {
            users: Vec::new(),
            disabled: HashSet::new(),
            auto_login,
        };
        for user in users {
            directory.add_user(user);
        }
        directory
    }

    /// Adds a user, replacing one with the same `sub` in place.
    pub(crate) fn add_user(&mut self, user: TestUser) {
        match self.users.iter_mut().find(|u| u.sub == user.sub) {
            Some(existing) => *existing = user,
            None => self.users.push(user),
        }
    }

    pub(crate) fn users(&self) -> &[TestUser] {
        &self.users
    }

    pub(crate) fn user(&self, sub: &str) -> Option<&TestUser> {
        self.users.iter().find(|u| u.sub == sub)
    }

    /// Creates the user `sub` on the fly (no name, no roles) if it does not exist yet.
    pub(crate) fn ensure_user(&mut self, sub: &str) {
        if self.user(sub).is_none() {
            self.users.push(TestUser::new(sub));
        }
    }

    pub(crate) fn set_disabled(&mut self, sub: &str, disabled: bool) {
        if disabled {
            self.disabled.insert(sub.to_owned());
        } else {
            self.disabled.remove(sub);
        }
    }

    pub(crate) fn is_disabled(&self, sub: &str) -> bool {
        self.disabled.contains(sub)
    }
}

/// Form fields of the login page itself, as opposed to the authorization request.
const LOGIN_FIELDS: &[&str] = &["user", "username", "action"];

/// The longest username the login page accepts.
const MAX_USERNAME: usize = 255;

/// What the login form asks for.
#[derive(Debug)]
enum Login {
    Cancel,
    SignIn(String),
    /// Re-show the form with this message.
    Retry(&'static str),
}

fn login_action(request: &AuthorizeContext<'_>) -> Option<Login> {
    if request.request().method() != "POST" {
        return None;
    }
    if request.param("action") == Some("cancel") {
        return Some(Login::Cancel);
    }
    let name = match (request.param("user"), request.param("action")) {
        (Some(user), _) => user,
        (None, Some(_)) => request.param("username").unwrap_or(""),
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

/// The issuer's [`Users`]: the dev login page (any name signs in), auto-login, and the
/// directory's users and their claims.
///
/// Step-up (`acr_values`, RFC 9470): a request that asks for authentication context classes
/// is answered by a sign-in with the first one (`acr` in the ID and access tokens), and one
/// without `acr_values` by a sign-in without `acr`. Nothing is checked: this is a
/// development issuer, and its "stronger" sign-in is the same passwordless one. A real
/// [`Users`] sets [`SignedIn::acr`] to the level the user really reached.
#[derive(Debug, Clone)]
pub(crate) struct DevUsers {
    pub(crate) directory: Arc<Mutex<Directory>>,
    /// Where the login form posts: `{path}/authorize`.
    pub(crate) action: String,
    pub(crate) issuer: String,
}

impl DevUsers {
    /// Signs `sub` in now, at the first authentication context class the request asks for.
    fn sign_in(&self, sub: &str, request: &AuthorizeContext<'_>) -> Authentication {
        let mut directory = lock(&self.directory);
        if directory.is_disabled(sub) {
            return Authentication::Denied("the user is disabled".to_owned());
        }
        directory.ensure_user(sub);
        let acr = request.acr_values().first();
        tracing::debug!(sub, acr, "auth-issuer: signed in");
        let signed_in = SignedIn::new(sub);
        Authentication::SignedIn(match acr {
            Some(acr) => signed_in.acr(acr.clone()),
            None => signed_in,
        })
    }

    fn login_page(&self, request: &AuthorizeContext<'_>, error: Option<&str>) -> Authentication {
        let users = lock(&self.directory)
            .users()
            .iter()
            .map(|user| UserChoice {
                sub: user.sub().to_owned(),
                name: user.display_name().map(str::to_owned),
                roles: user.role_names().to_vec(),
            })
            .collect();
        let scope = request.scopes().join(" ");
        let typed = request.param("username");
        let page = LoginPage {
            action: &self.action,
            issuer: &self.issuer,
            client_id: request.client_id(),
            scope: &scope,
            hidden: request
                .params()
                .filter(|(name, _)| !LOGIN_FIELDS.contains(name) && !name.starts_with("consent"))
                .collect(),
            users,
            username: typed.or(request.login_hint()),
            error,
        }
        .render();
        Authentication::Respond(page)
    }
}

impl Users for DevUsers {
    fn authenticate<'a>(
        &'a self,
        request: &'a AuthorizeContext<'a>,
    ) -> BoxFuture<'a, Authentication> {
        let answer = match login_action(request) {
            Some(Login::Cancel) => {
                Authentication::Denied("the user cancelled the sign-in".to_owned())
            }
            Some(Login::SignIn(sub)) => self.sign_in(&sub, request),
            Some(Login::Retry(message)) => self.login_page(request, Some(message)),
            None => {
                let auto_login = lock(&self.directory).auto_login.clone();
                match auto_login {
                    // prompt=login always shows the form.
                    Some(sub) if !request.login_required() => self.sign_in(&sub, request),
                    _ => self.login_page(request, None),
                }
            }
        };
        Box::pin(std::future::ready(answer))
    }

    fn claims<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Option<UserClaims>, StoreError>> {
        let directory = lock(&self.directory);
        let claims = if directory.is_disabled(sub) {
            None
        } else {
            // A subject the directory does not know is an ad-hoc user without claims (tokens
            // minted for any `sub` work at userinfo).
            Some(UserClaims::from_map(
                directory
                    .user(sub)
                    .map(TestUser::profile_claims)
                    .unwrap_or_default(),
            ))
        };
        Box::pin(std::future::ready(Ok(claims)))
    }
}

/// A user offered as a button on the login page.
#[derive(Debug)]
pub(crate) struct UserChoice {
    pub(crate) sub: String,
    pub(crate) name: Option<String>,
    pub(crate) roles: Vec<String>,
}

/// What the login page shows and carries.
#[derive(Debug)]
pub(crate) struct LoginPage<'a> {
    /// Where the form posts: `{path}/authorize`.
    pub(crate) action: &'a str,
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) scope: &'a str,
    /// The authorization request's parameters, carried as hidden inputs.
    pub(crate) hidden: Vec<(&'a str, &'a str)>,
    pub(crate) users: Vec<UserChoice>,
    /// Prefills the username field (`login_hint`).
    pub(crate) username: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
}

impl LoginPage<'_> {
    pub(crate) fn render(&self) -> ProviderResponse {
        let mut body = String::new();
        let _ = write!(
            body,
            "<p class=\"muted\">to <strong id=\"client-id\">{}</strong> at <code>{}</code>",
            escape(self.client_id),
            escape(self.issuer)
        );
        if !self.scope.is_empty() {
            let _ = write!(
                body,
                "<br>scope <code id=\"scope\">{}</code>",
                escape(self.scope)
            );
        }
        body.push_str("</p>\n");
        if let Some(error) = self.error {
            let _ = writeln!(
                body,
                "<p class=\"error\" id=\"error\" role=\"alert\">{}</p>",
                escape(error)
            );
        }
        let _ = writeln!(
            body,
            "<form id=\"login-form\" method=\"post\" action=\"{}\" accept-charset=\"utf-8\">",
            escape(self.action)
        );
        body.push_str(&hidden_inputs(self.hidden.iter().copied()));
        // The username field and its button come first: pressing Enter in the field submits
        // with the form's first button.
        let _ = writeln!(
            body,
            "<label for=\"username\">Username</label>\n\
             <input type=\"text\" id=\"username\" name=\"username\" value=\"{}\" \
             autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" autofocus>\n\
             <button type=\"submit\" id=\"sign-in\" name=\"action\" value=\"sign-in\">Sign in</button>",
            escape(self.username.unwrap_or(""))
        );
        if !self.users.is_empty() {
            body.push_str(
                "<p class=\"muted\">or continue as a test user:</p>\n<ul id=\"users\">\n",
            );
            for user in &self.users {
                let sub = escape(&user.sub);
                let label = escape(user.name.as_deref().unwrap_or(&user.sub));
                let mut detail = sub.clone();
                if !user.roles.is_empty() {
                    let _ = write!(detail, " · {}", escape(&user.roles.join(", ")));
                }
                let _ = writeln!(
                    body,
                    "<li><button type=\"submit\" name=\"user\" value=\"{sub}\" data-user=\"{sub}\">\
                     {label}<small>{detail}</small></button></li>"
                );
            }
            body.push_str("</ul>\n");
        }
        body.push_str(
            "<button type=\"submit\" id=\"cancel\" name=\"action\" value=\"cancel\">Cancel</button>\n\
             </form>\n",
        );
        respond(200, page("Sign in · auth-issuer", &body))
    }
}
