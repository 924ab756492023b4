//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document that tells a client which
//! authorization server issues tokens for this API, and the pointer to it in every challenge.
//!
//! A client that gets a 401 reads `resource_metadata` from the `WWW-Authenticate` challenge,
//! fetches the document, picks an authorization server from `authorization_servers`, reads that
//! server's metadata (RFC 8414), and asks it for a token with `resource` set to this API's
//! identifier (RFC 8707). This is the discovery an MCP client performs.
//!
//! ```
//! use auth_core::resource::ResourceMetadata;
//! let metadata = ResourceMetadata::new("https://api.example.com")
//!     .authorization_server("https://login.example.com")
//!     .scopes_supported(["orders:read", "orders:write"])
//!     .resource_name("Orders API");
//! assert_eq!(metadata.path(), "/.well-known/oauth-protected-resource");
//! assert_eq!(
//!     metadata.url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource"
//! );
//! ```
//!
//! Give it to [`AuthenticatorBuilder::resource_metadata`](crate::AuthenticatorBuilder::resource_metadata)
//! (or set `APP_URL` / `AUTH_RESOURCE` for [`Authenticator::from_env`](crate::Authenticator::from_env)):
//! the adapters' helper routes then serve it, and challenges carry its URL.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::adapter::AuthResponse;
use crate::client_key::ClientKey;
use crate::config::ConfigError;

/// The well-known path prefix (RFC 9728 §3).
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The protected resource's metadata. Build with [`ResourceMetadata::new`] and the setters;
/// unset, `authorization_servers` is the verifier's issuers, `bearer_methods_supported` is
/// `["header"]` (and `"query"` when [`TokenSource::Query`](crate::TokenSource::Query) is a
/// source) and, with DPoP on, `dpop_signing_alg_values_supported` and
/// `dpop_bound_access_tokens_required` follow its configuration.
#[derive(Clone)]
#[must_use]
pub struct ResourceMetadata {
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    bearer_methods_supported: Option<Vec<String>>,
    resource_signing_alg_values_supported: Vec<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    resource_policy_uri: Option<String>,
    resource_tos_uri: Option<String>,
    extra: Map<String, Value>,
    signer: Option<(ClientKey, String)>,
}

impl fmt::Debug for ResourceMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMetadata")
            .field("resource", &self.resource)
            .field("authorization_servers", &self.authorization_servers)
            .field("scopes_supported", &self.scopes_supported)
            .field("signed", &self.signer.is_some())
            .finish_non_exhaustive()
    }
}

impl ResourceMetadata {
    /// The metadata of the resource identified by `resource` (an `https` URL without query or
    /// fragment, e.g. the API's base URL): the identifier clients ask tokens for, and the
    /// audience those tokens carry.
    pub fn new(resource: impl Into<String>) -> Self {
        ResourceMetadata {
            resource: resource.into().trim().to_owned(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: None,
            resource_signing_alg_values_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
            resource_policy_uri: None,
            resource_tos_uri: None,
            extra: Map::new(),
            signer: None,
        }
    }

    /// Reads `AUTH_RESOURCE_METADATA` (`off` disables it: `None`), `AUTH_RESOURCE` (the
    /// identifier; default `APP_URL` when it is `https`, or `http` on loopback; otherwise
    /// `None`), `AUTH_RESOURCE_SCOPES`
    /// (space- or comma-separated), `AUTH_RESOURCE_NAME` and `AUTH_RESOURCE_DOCUMENTATION`.
    ///
    /// # Errors
    /// `config_invalid` naming the variable (checked again when the authenticator is built).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if matches!(
            var("AUTH_RESOURCE_METADATA").as_deref(),
            Some("off" | "0" | "false")
        ) {
            return Ok(None);
        }
        let explicit = var("AUTH_RESOURCE");
        let Some(resource) = explicit
            .clone()
            .or_else(|| var("APP_URL").map(|u| u.trim_end_matches('/').to_owned()))
        else {
            return Ok(None);
        };
        let mut m = ResourceMetadata::new(resource);
        if explicit.is_none() && m.check().is_err() {
            // An app URL that cannot identify a protected resource (plain `http` off loopback,
            // behind a TLS-terminating proxy): no metadata rather than a failed start. Set
            // `AUTH_RESOURCE` to the public `https` identifier to publish it.
            tracing::info!(
                "APP_URL is not an https URL: RFC 9728 metadata not published (set AUTH_RESOURCE)"
            );
            return Ok(None);
        }
        if let Some(scopes) = var("AUTH_RESOURCE_SCOPES") {
            m = m.scopes_supported(
                scopes
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        if let Some(name) = var("AUTH_RESOURCE_NAME") {
            m = m.resource_name(name);
        }
        if let Some(doc) = var("AUTH_RESOURCE_DOCUMENTATION") {
            m = m.resource_documentation(doc);
        }
        m.check()?;
        Ok(Some(m))
    }

    /// Adds an authorization server (its issuer identifier). Unset, the verifier's issuers.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes clients may request for this resource.
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How tokens may be sent (`header`, `body`, `query`; default `["header"]`).
    pub fn bearer_methods_supported<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bearer_methods_supported = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// The algorithms this resource signs its responses with, if it signs any.
    pub fn resource_signing_alg_values_supported<I, S>(mut self, algs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resource_signing_alg_values_supported = algs.into_iter().map(Into::into).collect();
        self
    }

    /// A name for people (`resource_name`).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Where developers read how to use the resource (`resource_documentation`).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The resource's policy on data use (`resource_policy_uri`).
    pub fn resource_policy_uri(mut self, url: impl Into<String>) -> Self {
        self.resource_policy_uri = Some(url.into());
        self
    }

    /// The resource's terms of service (`resource_tos_uri`).
    pub fn resource_tos_uri(mut self, url: impl Into<String>) -> Self {
        self.resource_tos_uri = Some(url.into());
        self
    }

    /// Another metadata parameter (an extension). The registered ones cannot be replaced here.
    pub fn parameter(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }

    /// Also publishes the metadata as a JWT signed by `key` with `iss` = `issuer`
    /// (`signed_metadata`, RFC 9728 §2.2), for clients that trust `issuer`'s keys.
    pub fn signed_by(mut self, key: ClientKey, issuer: impl Into<String>) -> Self {
        self.signer = Some((key, issuer.into()));
        self
    }

    /// The resource identifier.
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The path the document is served at: the well-known prefix followed by the resource
    /// identifier's path, if it has one, as it is (RFC 9728 §3.1: only a slash right after the
    /// host is dropped).
    #[must_use]
    pub fn path(&self) -> String {
        let path = url::Url::parse(&self.resource)
            .map(|u| match u.path() {
                "/" => String::new(),
                path => path.to_owned(),
            })
            .unwrap_or_default();
        format!("{WELL_KNOWN}{path}")
    }

    /// The document's URL: what challenges name in `resource_metadata`.
    #[must_use]
    pub fn url(&self) -> String {
        match url::Url::parse(&self.resource) {
            Ok(u) => format!("{}{}", u.origin().ascii_serialization(), self.path()),
            Err(_) => self.path(),
        }
    }

    /// Checks the resource identifier: an absolute `https` URL (or `http` on loopback), with
    /// no query or fragment.
    ///
    /// # Errors
    /// `config_invalid` (`AUTH_RESOURCE`).
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| ConfigError::new("AUTH_RESOURCE", m.to_owned());
        let url = url::Url::parse(&self.resource)
            .map_err(|_| bad("the resource identifier must be an absolute URL"))?;
        let loopback = matches!(
            url.host(),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback()
        ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
            || url.host_str() == Some("localhost");
        if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
            return Err(bad(
                "the resource identifier must be an https URL (http only on loopback)",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "the resource identifier must have no query or fragment",
            ));
        }
        Ok(())
    }

    /// The JSON document, with the defaults filled in from `issuers` and the DPoP settings.
    pub(crate) fn document(
        &self,
        issuers: &[String],
        dpop: Option<&crate::dpop::DpopConfig>,
        query_tokens: bool,
    ) -> Value {
        let mut doc = Map::new();
        doc.insert("resource".into(), json!(self.resource));
        let servers = if self.authorization_servers.is_empty() {
            issuers
        } else {
            &self.authorization_servers
        };
        if !servers.is_empty() {
            doc.insert("authorization_servers".into(), json!(servers));
        }
        if !self.scopes_supported.is_empty() {
            doc.insert("scopes_supported".into(), json!(self.scopes_supported));
        }
        let bearer_methods = self.bearer_methods_supported.clone().unwrap_or_else(|| {
            let mut methods = vec!["header".to_owned()];
            if query_tokens {
                methods.push("query".to_owned());
            }
            methods
        });
        doc.insert("bearer_methods_supported".into(), json!(bearer_methods));
        if !self.resource_signing_alg_values_supported.is_empty() {
            doc.insert(
                "resource_signing_alg_values_supported".into(),
                json!(self.resource_signing_alg_values_supported),
            );
        }
        for (name, value) in [
            ("resource_name", &self.resource_name),
            ("resource_documentation", &self.resource_documentation),
            ("resource_policy_uri", &self.resource_policy_uri),
            ("resource_tos_uri", &self.resource_tos_uri),
        ] {
            if let Some(value) = value {
                doc.insert(name.into(), json!(value));
            }
        }
        if let Some(dpop) = dpop {
            let algs: Vec<&str> = dpop.algorithm_list().iter().map(|a| a.as_str()).collect();
            doc.insert("dpop_signing_alg_values_supported".into(), json!(algs));
            doc.insert(
                "dpop_bound_access_tokens_required".into(),
                json!(dpop.is_required()),
            );
        }
        for (name, value) in &self.extra {
            doc.entry(name.clone()).or_insert_with(|| value.clone());
        }
        if let Some((key, issuer)) = &self.signer
            && let Some(jwt) = sign(key, issuer, &doc)
        {
            doc.insert("signed_metadata".into(), json!(jwt));
        }
        Value::Object(doc)
    }
}

/// The metadata as a JWT (RFC 9728 §2.2): its parameters as claims, with `iss` and `iat`.
fn sign(key: &ClientKey, issuer: &str, doc: &Map<String, Value>) -> Option<String> {
    let mut claims = doc.clone();
    claims.insert("iss".into(), json!(issuer));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    claims.insert("iat".into(), json!(now));
    let header = json!({ "alg": key.algorithm().as_str(), "typ": "JWT", "kid": key.kid() });
    let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
    jwt.push('.');
    jwt.push_str(&URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string()));
    let signature = key.sign_bytes(jwt.as_bytes())?;
    jwt.push('.');
    jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Some(jwt)
}

/// The served document and where challenges point to.
#[derive(Debug)]
pub(crate) struct Published {
    pub(crate) path: String,
    pub(crate) url: String,
    pub(crate) resource: String,
    body: Vec<u8>,
}

impl Published {
    pub(crate) fn new(
        metadata: &ResourceMetadata,
        issuers: &[String],
        dpop: Option<&crate::dpop::DpopConfig>,
        query_tokens: bool,
    ) -> Result<Published, ConfigError> {
        metadata.check()?;
        Ok(Published {
            path: metadata.path(),
            url: metadata.url(),
            resource: metadata.resource.clone(),
            body: metadata
                .document(issuers, dpop, query_tokens)
                .to_string()
                .into_bytes(),
        })
    }

    /// The answer to `GET` (public, cacheable, readable cross-origin: browser-based clients
    /// discover the API from another origin).
    pub(crate) fn response(&self) -> AuthResponse {
        let mut r = AuthResponse::new(200)
            .with_header("content-type", "application/json")
            .with_header("cache-control", "public, max-age=300")
            .with_header("access-control-allow-origin", "*");
        r.body = self.body.clone();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_resource_path() {
        let m = ResourceMetadata::new("https://api.example.com/v1");
        assert_eq!(m.path(), "/.well-known/oauth-protected-resource/v1");
        assert_eq!(
            m.url(),
            "https://api.example.com/.well-known/oauth-protected-resource/v1"
        );
        // A trailing slash of the path is kept; one right after the host is not.
        let m = ResourceMetadata::new("https://api.example.com/v1/");
        assert_eq!(m.path(), "/.well-known/oauth-protected-resource/v1/");
        let m = ResourceMetadata::new("https://api.example.com/");
        assert_eq!(m.path(), WELL_KNOWN);
        let m = ResourceMetadata::new("http://127.0.0.1:3000");
        assert_eq!(m.path(), WELL_KNOWN);
        assert_eq!(
            m.url(),
            "http://127.0.0.1:3000/.well-known/oauth-protected-resource"
        );
        assert!(m.check().is_ok());
    }

    #[test]
    fn signed_metadata_is_a_jwt_of_the_same_parameters() {
        let key = ClientKey::generate(crate::Algorithm::ES256).unwrap_or_else(|_| unreachable!());
        let m = ResourceMetadata::new("https://api.example.com")
            .resource_name("Orders")
            .signed_by(key.clone(), "https://metadata-signer.example.com");
        let doc = m.document(&["https://login.example.com".to_owned()], None, false);
        let jwt = doc["signed_metadata"].as_str().unwrap_or_default();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |part: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default())
                .unwrap_or(Value::Null)
        };
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], key.kid());
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "https://metadata-signer.example.com");
        assert_eq!(claims["resource"], "https://api.example.com");
        assert_eq!(claims["resource_name"], "Orders");
        assert_eq!(
            claims["authorization_servers"][0],
            "https://login.example.com"
        );
        // The signature verifies with the key's public JWK.
        let jwk = key.public_jwk();
        let coordinate = |name: &str| {
            URL_SAFE_NO_PAD
                .decode(jwk[name].as_str().unwrap_or_default())
                .unwrap_or_default()
        };
        let mut point = vec![4];
        point.extend(coordinate("x"));
        point.extend(coordinate("y"));
        let public = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            point,
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(input.as_bytes(), &signature).is_ok());
    }

    #[test]
    fn identifiers_are_checked() {
        for bad in [
            "api",
            "http://api.example.com",
            "https://api.example.com/?x=1",
            "https://api.example.com/#f",
        ] {
            assert!(ResourceMetadata::new(bad).check().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_document_has_the_defaults() {
        let m = ResourceMetadata::new("https://api.example.com").scopes_supported(["a", "b"]);
        let doc = m.document(&["https://login.example.com".to_owned()], None, false);
        assert_eq!(doc["resource"], "https://api.example.com");
        assert_eq!(doc["authorization_servers"][0], "https://login.example.com");
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(doc["scopes_supported"], json!(["a", "b"]));
        assert!(doc.get("dpop_signing_alg_values_supported").is_none());
        let doc = m.document(
            &[],
            Some(&crate::dpop::DpopConfig::new().required(true)),
            true,
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header", "query"]));
        assert_eq!(doc["dpop_bound_access_tokens_required"], true);
        assert_eq!(doc["dpop_signing_alg_values_supported"][0], "ES256");
    }
}
