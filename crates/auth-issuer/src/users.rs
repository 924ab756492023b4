//! Test users and registered clients, and the directory that holds them at run time.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

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
    "name",
    "email",
    "roles",
];

impl TestUser {
    /// A user with this subject identifier (`sub`), no name, no email, no roles.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            name: None,
            email: None,
            roles: Vec::new(),
            claims: Map::new(),
        }
    }

    /// Sets the display name (`name` claim).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email address (`email` claim).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the roles (`roles` claim, an array of strings).
    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.roles = roles.iter().map(|&role| role.to_owned()).collect();
        self
    }

    /// Adds an extra claim to the user's access tokens, ID tokens and userinfo answer. The
    /// claims the issuer sets itself (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`,
    /// `client_id`, `scope`, `auth_time`, `nonce`, `at_hash`, `azp`, `sid`) and the profile
    /// claims `name`, `email` and `roles` cannot be replaced this way.
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
        }
        claims.insert("roles".into(), self.roles.clone().into());
        claims
    }
}

/// How a client authenticates at the token and revocation endpoints (RFC 6749 §2.3,
/// OpenID Connect Core §9), for [`TestClient::auth_method`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-urlencoded client id and secret.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
    /// `none`: a public client sends its `client_id` and no secret.
    None,
    /// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT signed with a key
    /// registered for the client (see [`TestClient::private_key_jwt`]).
    PrivateKeyJwt,
}

/// A client (relying party) registered at the issuer.
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
/// # let _ = (web, basic_only, spa);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct TestClient {
    id: String,
    secret: Option<String>,
    auth: Option<ClientAuth>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    refresh_tokens: bool,
    /// Public JWKs of a `private_key_jwt` client.
    jwks: Vec<serde_json::Map<String, Value>>,
}

impl fmt::Debug for TestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("refresh_tokens", &self.refresh_tokens)
            .field("jwks", &self.jwks.len())
            .finish()
    }
}

impl TestClient {
    /// A confidential client with a secret. It authenticates with HTTP Basic
    /// (`client_secret_basic`) or with the secret in the form (`client_secret_post`) unless
    /// [`auth_method`](Self::auth_method) allows only one; a request without the secret is
    /// refused.
    pub fn confidential(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: client_id.into(),
            secret: Some(secret.into()),
            auth: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            refresh_tokens: true,
            jwks: Vec::new(),
        }
    }

    /// A public client (a browser or native app): it sends its `client_id` and must not
    /// send a secret. It cannot use the `client_credentials` grant.
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            id: client_id.into(),
            secret: None,
            auth: Some(ClientAuth::None),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            refresh_tokens: true,
            jwks: Vec::new(),
        }
    }

    /// A confidential client that authenticates with `private_key_jwt` (RFC 7523): each
    /// request carries a JWT (`iss` = `sub` = the client id, `aud` the issuer or the endpoint,
    /// `exp`, a single-use `jti`) signed with the private half of `public_jwk` (an RSA, EC or
    /// OKP JWK). Call [`jwk`](Self::jwk) to register more keys. Secrets are refused.
    pub fn private_key_jwt(client_id: impl Into<String>, public_jwk: Value) -> Self {
        Self {
            id: client_id.into(),
            secret: None,
            auth: Some(ClientAuth::PrivateKeyJwt),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            refresh_tokens: true,
            jwks: Vec::new(),
        }
        .jwk(public_jwk)
    }

    /// Registers one more public JWK for `private_key_jwt` (a value that is not a JSON object is
    /// ignored; private members are dropped).
    pub fn jwk(mut self, public_jwk: Value) -> Self {
        if let Value::Object(mut jwk) = public_jwk {
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                jwk.remove(private);
            }
            self.jwks.push(jwk);
        }
        self
    }

    /// Registers a redirect URI (exact string; call again for more).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Registers a post-logout redirect URI for RP-initiated logout (call again for more).
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uris.push(uri.into());
        self
    }

    /// Accepts only this authentication method. [`ClientAuth::None`] turns a confidential
    /// client into a public one (its secret is forgotten); [`ClientAuth::Basic`] or
    /// [`ClientAuth::Post`] on a public client means no request can authenticate.
    pub fn auth_method(mut self, method: ClientAuth) -> Self {
        if method == ClientAuth::None {
            self.secret = None;
        }
        self.auth = Some(method);
        self
    }

    /// Whether the client gets refresh tokens from the `authorization_code` grant and may use
    /// the `refresh_token` grant (default `true`).
    pub fn refresh_tokens(mut self, on: bool) -> Self {
        self.refresh_tokens = on;
        self
    }

    /// The client identifier.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.id
    }

    /// The default client: confidential `test-client` with secret `test-secret` and no
    /// redirect URIs.
    pub(crate) fn default_client() -> Self {
        Self::confidential("test-client", "test-secret")
    }

    pub(crate) fn secret(&self) -> Option<&str> {
        self.secret.as_deref()
    }

    /// Whether the client authenticates with a secret or a key (and may use
    /// `client_credentials`).
    pub(crate) fn is_confidential(&self) -> bool {
        match self.auth {
            Some(ClientAuth::PrivateKeyJwt) => true,
            Some(ClientAuth::None) => false,
            _ => self.secret.is_some(),
        }
    }

    /// The public keys of a `private_key_jwt` client.
    pub(crate) fn jwks(&self) -> &[serde_json::Map<String, Value>] {
        &self.jwks
    }

    /// Whether `method` is an accepted way for this client to authenticate.
    pub(crate) fn accepts(&self, method: ClientAuth) -> bool {
        match self.auth {
            Some(only) => only == method,
            None if self.secret.is_some() => method != ClientAuth::None,
            None => method == ClientAuth::None,
        }
    }

    pub(crate) fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    pub(crate) fn has_redirect_uris(&self) -> bool {
        !self.redirect_uris.is_empty()
    }

    pub(crate) fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    pub(crate) fn gets_refresh_tokens(&self) -> bool {
        self.refresh_tokens
    }
}

/// Users, clients and login settings, changed by tests at run time.
#[derive(Debug)]
pub(crate) struct Directory {
    /// In the order they were added: the login page lists them so.
    users: Vec<TestUser>,
    clients: Vec<TestClient>,
    disabled: HashSet<String>,
    pub(crate) auto_login: Option<String>,
}

impl Directory {
    pub(crate) fn new(
        users: Vec<TestUser>,
        clients: Vec<TestClient>,
        auto_login: Option<String>,
    ) -> Self {
        let mut directory = Self {
            users: Vec::new(),
            clients: Vec::new(),
            disabled: HashSet::new(),
            auto_login,
        };
        for user in users {
            directory.add_user(user);
        }
        for client in clients {
            directory.add_client(client);
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

    /// Adds a client, replacing one with the same id in place.
    pub(crate) fn add_client(&mut self, client: TestClient) {
        match self.clients.iter_mut().find(|c| c.id == client.id) {
            Some(existing) => *existing = client,
            None => self.clients.push(client),
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

    /// The first registered client.
    #[cfg(feature = "auth-core")]
    pub(crate) fn first_client(&self) -> Option<&TestClient> {
        self.clients.first()
    }

    pub(crate) fn client(&self, id: &str) -> Option<&TestClient> {
        self.clients.iter().find(|c| c.id == id)
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
