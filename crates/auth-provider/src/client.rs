//! Registered clients (relying parties) and how they authenticate.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::params::is_loopback_host;
use crate::secret::SecretHash;

/// How a client authenticates at the token, revocation and introspection endpoints
/// (RFC 6749 §2.3, OpenID Connect Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-urlencoded client id and secret.
    #[serde(rename = "client_secret_basic")]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    #[serde(rename = "client_secret_post")]
    Post,
    /// `none`: a public client sends its `client_id` and no secret.
    None,
    /// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT signed with a key
    /// registered for the client.
    PrivateKeyJwt,
}

impl ClientAuth {
    /// The registered name (`client_secret_basic`, `client_secret_post`, `none`,
    /// `private_key_jwt`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Basic => "client_secret_basic",
            Self::Post => "client_secret_post",
            Self::None => "none",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// The method registered under `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "client_secret_basic" => Self::Basic,
            "client_secret_post" => Self::Post,
            "none" => Self::None,
            "private_key_jwt" => Self::PrivateKeyJwt,
            _ => return None,
        })
    }
}

/// A client (relying party) registered at the provider.
///
/// Redirect URIs are compared as exact strings, as OAuth 2.1 requires; only a
/// [native](Self::native) client's loopback redirect URIs match on any port (RFC 8252 §7.3).
/// A secret given to [`confidential`](Self::confidential) is hashed when the client is
/// registered (see [`crate::SecretHash`]); the store never holds it in clear.
///
/// ```
/// use auth_provider::{Client, ClientAuth};
///
/// let web = Client::confidential("web", "s3cret")
///     .redirect_uri("https://app.example.com/callback")
///     .post_logout_redirect_uri("https://app.example.com/")
///     .first_party(true);
/// let basic_only = Client::confidential("svc", "s3cret").auth_method(ClientAuth::Basic);
/// let cli = Client::public("cli").native(true).redirect_uri("http://127.0.0.1/callback");
/// # let _ = (web, basic_only, cli);
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[must_use]
pub struct Client {
    id: String,
    /// Set by [`Client::confidential`] until registration hashes it.
    #[serde(skip)]
    plain_secret: Option<String>,
    #[serde(default, with = "secret_hash_text")]
    secret_hash: Option<SecretHash>,
    #[serde(default)]
    auth: Option<ClientAuth>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default = "yes")]
    refresh_tokens: bool,
    /// Public JWKs of a `private_key_jwt` client.
    #[serde(default)]
    jwks: Vec<Map<String, Value>>,
    /// The scopes it may ask for; `None`: any scope the provider supports.
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    first_party: bool,
    #[serde(default)]
    native: bool,
    /// The grants it may use; `None`: every grant its kind allows.
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    /// Registered through RFC 7591 (its metadata is answered as registered).
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

fn yes() -> bool {
    true
}

mod secret_hash_text {
    use serde::{Deserialize as _, Deserializer, Serializer};

    use crate::secret::SecretHash;

    #[allow(clippy::ref_option, reason = "the shape serde's `with` wants")]
    pub(super) fn serialize<S: Serializer>(
        hash: &Option<SecretHash>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match hash {
            Some(hash) => serializer.serialize_some(hash.as_str()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SecretHash>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| SecretHash::parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field(
                "secret",
                &(self.plain_secret.is_some() || self.secret_hash.is_some())
                    .then_some("<redacted>"),
            )
            .field("auth", &self.auth)
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("refresh_tokens", &self.refresh_tokens)
            .field("jwks", &self.jwks.len())
            .field("scopes", &self.scopes)
            .field("first_party", &self.first_party)
            .field("native", &self.native)
            .finish_non_exhaustive()
    }
}

impl Client {
    fn bare(id: String) -> Self {
        Self {
            id,
            plain_secret: None,
            secret_hash: None,
            auth: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            refresh_tokens: true,
            jwks: Vec::new(),
            scopes: None,
            first_party: false,
            native: false,
            grant_types: None,
            metadata: None,
        }
    }

    /// A confidential client with a secret. It authenticates with HTTP Basic
    /// (`client_secret_basic`) or with the secret in the form (`client_secret_post`) unless
    /// [`auth_method`](Self::auth_method) allows only one; a request without the secret is
    /// refused.
    pub fn confidential(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        let mut client = Self::bare(client_id.into());
        client.plain_secret = Some(secret.into());
        client
    }

    /// A public client (a browser or native app): it sends its `client_id` and must not
    /// send a secret. It cannot use the `client_credentials` grant.
    pub fn public(client_id: impl Into<String>) -> Self {
        let mut client = Self::bare(client_id.into());
        client.auth = Some(ClientAuth::None);
        client
    }

    /// A confidential client that authenticates with `private_key_jwt` (RFC 7523): each
    /// request carries a JWT (`iss` = `sub` = the client id, `aud` the issuer or the endpoint,
    /// `exp`, a single-use `jti`) signed with the private half of `public_jwk` (an RSA, EC or
    /// OKP JWK). Call [`jwk`](Self::jwk) to register more keys. Secrets are refused.
    pub fn private_key_jwt(client_id: impl Into<String>, public_jwk: Value) -> Self {
        let mut client = Self::bare(client_id.into());
        client.auth = Some(ClientAuth::PrivateKeyJwt);
        client.jwk(public_jwk)
    }

    /// A confidential client whose secret is already hashed (as stored, or as
    /// [`SecretHash::as_str`] printed it).
    pub fn with_secret_hash(client_id: impl Into<String>, hash: SecretHash) -> Self {
        let mut client = Self::bare(client_id.into());
        client.secret_hash = Some(hash);
        client
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
            self.plain_secret = None;
            self.secret_hash = None;
        }
        self.auth = Some(method);
        self
    }

    /// Whether the client may get refresh tokens (when it asks for `offline_access`) and use
    /// the `refresh_token` grant (default `true`).
    pub fn refresh_tokens(mut self, on: bool) -> Self {
        self.refresh_tokens = on;
        self
    }

    /// The scopes this client may ask for (default: every scope the provider supports).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// A first-party client (the host's own application): no consent page, and
    /// `offline_access` needs no `prompt=consent` (OpenID Connect Core §11 lets "other
    /// conditions" permit offline access). Default `false`; never true for a client that
    /// registered itself.
    pub fn first_party(mut self, on: bool) -> Self {
        self.first_party = on;
        self
    }

    /// A native application (RFC 8252): its loopback redirect URIs
    /// (`http://127.0.0.1/...`, `http://[::1]/...`) match on any port (§7.3). Default `false`.
    pub fn native(mut self, on: bool) -> Self {
        self.native = on;
        self
    }

    /// The grants it may use (`authorization_code`, `refresh_token`, `client_credentials`);
    /// default: every grant its kind allows (`client_credentials` only for a confidential
    /// client, `refresh_token` only with [`refresh_tokens`](Self::refresh_tokens)).
    pub fn grant_types<I, S>(mut self, grants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grant_types = Some(grants.into_iter().map(Into::into).collect());
        self
    }

    /// The client identifier.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.id
    }

    /// The registered redirect URIs.
    #[must_use]
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// The registered post-logout redirect URIs.
    #[must_use]
    pub fn post_logout_redirect_uris(&self) -> &[String] {
        &self.post_logout_redirect_uris
    }

    /// The stored hash of its secret (once registered).
    #[must_use]
    pub fn secret_hash(&self) -> Option<&SecretHash> {
        self.secret_hash.as_ref()
    }

    /// Whether it is a first-party client.
    #[must_use]
    pub fn is_first_party(&self) -> bool {
        self.first_party
    }

    /// The metadata it registered through RFC 7591, if it did.
    #[must_use]
    pub fn registered_metadata(&self) -> Option<&Map<String, Value>> {
        self.metadata.as_ref()
    }

    pub(crate) fn set_metadata(&mut self, metadata: Map<String, Value>) {
        self.metadata = Some(metadata);
    }

    /// Replaces a clear secret by its hash (`iterations` of PBKDF2).
    pub(crate) fn hash_secret(&mut self, iterations: u32) {
        if let Some(secret) = self.plain_secret.take() {
            self.secret_hash = Some(SecretHash::pbkdf2(&secret, iterations));
        }
    }

    pub(crate) fn has_secret(&self) -> bool {
        self.secret_hash.is_some() || self.plain_secret.is_some()
    }

    /// Whether the client authenticates with a secret or a key (and may use
    /// `client_credentials`).
    pub(crate) fn is_confidential(&self) -> bool {
        match self.auth {
            Some(ClientAuth::PrivateKeyJwt) => true,
            Some(ClientAuth::None) => false,
            _ => self.has_secret(),
        }
    }

    /// The methods it authenticates with, for registration answers.
    pub(crate) fn auth_method_name(&self) -> &'static str {
        match self.auth {
            Some(method) => method.name(),
            None if self.has_secret() => ClientAuth::Basic.name(),
            None => ClientAuth::None.name(),
        }
    }

    /// The public keys of a `private_key_jwt` client.
    pub(crate) fn jwks(&self) -> &[Map<String, Value>] {
        &self.jwks
    }

    /// Whether `method` is an accepted way for this client to authenticate.
    pub(crate) fn accepts(&self, method: ClientAuth) -> bool {
        match self.auth {
            Some(only) => only == method,
            None if self.has_secret() => method != ClientAuth::None,
            None => method == ClientAuth::None,
        }
    }

    /// Whether `uri` is one of its redirect URIs: the exact string, or for a native client a
    /// loopback URI that differs only in its port.
    pub(crate) fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|registered| {
            registered == uri || (self.native && same_but_loopback_port(registered, uri))
        })
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
        self.refresh_tokens && self.allows_grant("refresh_token")
    }

    /// Whether it registered (or may use by default) the grant `grant`.
    pub(crate) fn allows_grant(&self, grant: &str) -> bool {
        match &self.grant_types {
            Some(grants) => grants.iter().any(|g| g == grant),
            None => match grant {
                "client_credentials" => self.is_confidential(),
                "refresh_token" => self.refresh_tokens,
                _ => true,
            },
        }
    }

    /// Whether the client may ask for `scope` (`supported`: the provider's list, `None` for
    /// any).
    pub(crate) fn allows_scope(&self, scope: &str, supported: Option<&[String]>) -> bool {
        match &self.scopes {
            Some(own) => own.iter().any(|s| s == scope),
            None => supported.is_none_or(|list| list.iter().any(|s| s == scope)),
        }
    }
}

/// Whether `a` and `b` are the same `http` loopback URI (RFC 8252 §7.3: `127.0.0.1`, `[::1]`;
/// `localhost` is not a loopback literal, §8.3) apart from the port.
fn same_but_loopback_port(a: &str, b: &str) -> bool {
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(a), url::Url::parse(b)) else {
        return false;
    };
    let loopback = |u: &url::Url| u.scheme() == "http" && is_loopback_host(u, false);
    if !loopback(&a) || !loopback(&b) {
        return false;
    }
    let _ = a.set_port(None);
    let _ = b.set_port(None);
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ports_match_only_for_native_clients() {
        let web = Client::public("web").redirect_uri("http://127.0.0.1/cb");
        assert!(web.has_redirect_uri("http://127.0.0.1/cb"));
        assert!(!web.has_redirect_uri("http://127.0.0.1:4000/cb"));
        let native = web.clone().native(true);
        assert!(native.has_redirect_uri("http://127.0.0.1:4000/cb"));
        assert!(!native.has_redirect_uri("http://127.0.0.1:4000/cb/x"));
        assert!(!native.has_redirect_uri("http://127.0.0.2:4000/cb"));
        let v6 = Client::public("v6")
            .native(true)
            .redirect_uri("http://[::1]:1/cb");
        assert!(v6.has_redirect_uri("http://[::1]:2/cb"));
        let named = Client::public("n")
            .native(true)
            .redirect_uri("http://localhost/cb");
        assert!(!named.has_redirect_uri("http://localhost:3000/cb"));
        let https = Client::public("s")
            .native(true)
            .redirect_uri("https://127.0.0.1/cb");
        assert!(!https.has_redirect_uri("https://127.0.0.1:3/cb"));
    }

    #[test]
    fn debug_hides_the_secret_and_storage_holds_only_its_hash() {
        let mut client = Client::confidential("web", "hunter2-secret");
        assert!(!format!("{client:?}").contains("hunter2"));
        client.hash_secret(1_000);
        let stored = serde_json::to_string(&client).expect("serializes");
        assert!(!stored.contains("hunter2"), "{stored}");
        let back: Client = serde_json::from_str(&stored).expect("deserializes");
        assert!(
            back.secret_hash()
                .is_some_and(|h| h.verify("hunter2-secret"))
        );
    }
}
