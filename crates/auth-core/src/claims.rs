//! Verified token claims: registered claims typed, the application's own claims as `E`.
//!
//! ```
//! use auth_core::Claims;
//! use serde::Deserialize;
//!
//! /// The application's own claims (everything not registered).
//! #[derive(Debug, Clone, Deserialize)]
//! struct MyClaims {
//!     #[serde(default)]
//!     plan: Option<String>,
//! }
//!
//! fn handler(claims: &Claims<MyClaims>) -> String {
//!     format!("{} on {:?}, admin: {}", claims.subject().unwrap_or("?"), claims.extra.plan,
//!             claims.has_role("admin"))
//! }
//! ```

use std::any::TypeId;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AuthError, TokenInvalidReason};
use crate::json::{Key, Members, StrictIgnore};

/// A JWT NumericDate (RFC 7519 §2): seconds since the Unix epoch, possibly fractional.
///
/// Only JSON numbers are accepted (a string such as `"1700000000"` is rejected); extreme values
/// never panic: comparisons happen in floating point and [`NumericDate::as_secs`] saturates.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct NumericDate(f64);

impl NumericDate {
    /// Wraps seconds since the epoch.
    #[must_use]
    pub fn from_secs(secs: i64) -> Self {
        NumericDate(secs as f64)
    }

    /// Whole seconds since the epoch (saturating at the `i64` range).
    #[must_use]
    pub fn as_secs(self) -> i64 {
        self.0 as i64
    }

    /// The exact value, with any fraction.
    #[must_use]
    pub fn as_f64(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate (JSON number)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() {
                    Ok(NumericDate(v))
                } else {
                    Err(E::custom("NumericDate out of range"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for NumericDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 9.0e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

/// The `aud` claim: one audience (the common case, stored without a `Vec`) or several.
///
/// Dereferences to `[String]`, so `aud.iter()`, `aud.len()` and `aud[0]` work.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience(AudienceRepr);

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum AudienceRepr {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// The audiences as a slice.
    #[must_use]
    pub fn as_slice(&self) -> &[String] {
        match &self.0 {
            AudienceRepr::None => &[],
            AudienceRepr::One(s) => std::slice::from_ref(s),
            AudienceRepr::Many(v) => v,
        }
    }

    /// Whether `audience` is one of them.
    #[must_use]
    pub fn contains(&self, audience: &str) -> bool {
        self.as_slice().iter().any(|a| a == audience)
    }
}

impl std::ops::Deref for Audience {
    type Target = [String];
    fn deref(&self) -> &[String] {
        self.as_slice()
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Audience {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.as_slice()
            .iter()
            .map(String::as_str)
            .eq(other.iter().copied())
    }
}

/// The `scope` claim (RFC 9068 §2.2.3): space-separated scope tokens, kept as one string.
/// An array in the token is joined with spaces (scope tokens cannot contain spaces, RFC 6749
/// §3.3, so nothing is lost).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(String);

impl Scopes {
    /// The individual scopes.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split(' ').filter(|s| !s.is_empty())
    }

    /// Whether `scope` is granted.
    #[must_use]
    pub fn contains(&self, scope: &str) -> bool {
        self.iter().any(|s| s == scope)
    }

    /// The space-separated form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether no scope is granted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Scopes {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

/// The application's own claims type: `C` in `Auth<C>`, [`Claims<C>`](Claims) and
/// [`AuthData<C>`](crate::AuthData). Implemented for every type that deserialises from the
/// token's claims object (the registered claims are read from it too, as with
/// `#[serde(flatten)]`) and is `Clone + Send + Sync + 'static`; never implement it by hand.
///
/// Why `Clone`: a token is read as `C` once per token and type; each later request presenting
/// the same token (a verified-token cache hit) gets a clone of that value instead of parsing the
/// payload again.
///
/// ```
/// #[derive(Clone, serde::Deserialize)]
/// struct MyClaims {
///     org_id: String,
///     #[serde(default)]
///     plan: Option<String>,
/// }
///
/// fn needs_claims_type<C: auth_core::ExtraClaims>() {}
/// needs_claims_type::<MyClaims>();
/// ```
pub trait ExtraClaims: DeserializeOwned + Clone + Send + Sync + 'static {}

impl<T: DeserializeOwned + Clone + Send + Sync + 'static> ExtraClaims for T {}

/// The default for `Claims<E>`: no application-specific claims.
///
/// Read ad-hoc claims with [`Claims::get`] or the normalised accessors instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NoExtraClaims {}

impl<'de> Deserialize<'de> for NoExtraClaims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_ignored_any(de::IgnoredAny)
            .map(|_| NoExtraClaims {})
    }
}

/// A verified payload: the bytes and, once something asked, their JSON tree and their reading
/// as the application's claims types.
struct Payload {
    /// Valid UTF-8: checked once, as a whole, before the strict parse (`parse_registered`).
    raw: Vec<u8>,
    tree: OnceLock<Value>,
    /// The payload read as the first application claims types that asked (`retype`), so that a
    /// cached token is deserialised once per type, not once per request. Fixed slots filled
    /// once each: a read is an atomic load, never a lock, whatever the number of threads; a
    /// type beyond them is read from `raw` every time (an app has one or two claims types).
    typed: [OnceLock<Typed>; TYPED_SLOTS],
    /// What the claim mapping reads from the payload (roles, extra scopes, tenant), once asked
    /// (every authenticated request's `AuthData` needs it): once per token, not per request.
    /// Only the payload's tree and the mapping go into it, and neither changes for the
    /// `Claims` sharing this payload (clones of one verification).
    identity: OnceLock<Identity>,
}

/// What the claim mapping reads from a verified payload (see [`Claims::identity`]).
#[derive(Debug)]
pub(crate) struct Identity {
    pub(crate) tenant: Option<String>,
    /// The scopes at the mapping's scope paths (the `scope` field is added per call: it is
    /// public, so a caller may have changed it).
    pub(crate) mapped_scopes: Vec<String>,
    pub(crate) roles: Vec<String>,
}

const TYPED_SLOTS: usize = 3;

/// One application claims type's reading of a payload.
struct Typed {
    id: TypeId,
    /// A `C` for `id`.
    value: Box<dyn std::any::Any + Send + Sync>,
    /// Roughly what it holds: its size, plus at most the payload's length on the heap.
    weight: usize,
}

impl Payload {
    fn new(raw: Vec<u8>) -> Payload {
        Payload {
            raw,
            tree: OnceLock::new(),
            typed: [const { OnceLock::new() }; TYPED_SLOTS],
            identity: OnceLock::new(),
        }
    }

    /// The payload as `C`: a clone of the value read before, or read now (and kept when a slot
    /// is free).
    fn extra<C: ExtraClaims>(&self) -> Result<C, AuthError> {
        let id = TypeId::of::<C>();
        for slot in &self.typed {
            match slot.get() {
                Some(typed) if typed.id == id => {
                    if let Some(value) = typed.value.downcast_ref::<C>() {
                        return Ok(value.clone());
                    }
                }
                Some(_) => {}
                None => {
                    let value = parse_extra::<C>(&self.raw)?;
                    // Another thread may fill the slot first (with this type or another): then
                    // this reading is simply not kept; the next call looks again.
                    let _ = slot.set(Typed {
                        id,
                        value: Box::new(value.clone()),
                        weight: std::mem::size_of::<C>() + self.raw.len(),
                    });
                    return Ok(value);
                }
            }
        }
        parse_extra::<C>(&self.raw)
    }
}

/// Verified claims of an access token.
///
/// The registered claims are typed fields; the application's own claims are deserialised into
/// `E` (from the same JSON object, registered claims excluded, as with `#[serde(flatten)]`).
/// Roles, permissions, scopes, email, tenant and entitlements have normalised accessors that
/// read the provider-specific places configured in a [`ClaimMapping`].
///
/// `Serialize` writes the complete original claims object.
#[non_exhaustive]
#[derive(Clone)]
pub struct Claims<E = NoExtraClaims> {
    /// `iss`: the issuer, exactly as configured (shared with the configuration).
    pub iss: Arc<str>,
    /// `sub`: the subject (user or client id).
    pub sub: Option<String>,
    /// `aud`: the audiences (a single string or an array in the token).
    pub aud: Audience,
    /// `exp`: expiry.
    pub exp: NumericDate,
    /// `nbf`: not before.
    pub nbf: Option<NumericDate>,
    /// `iat`: issued at.
    pub iat: Option<NumericDate>,
    /// `jti`: token id.
    pub jti: Option<String>,
    /// `client_id` (RFC 9068): the OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// `scope`: the granted scopes (space-separated string or array in the token).
    pub scope: Scopes,
    /// `cnf` (RFC 7800): the key the token is bound to, for a sender-constrained token (DPoP,
    /// RFC 9449; a client certificate, RFC 8705). A bound token is accepted only with proof of
    /// that key (see [`dpop`](crate::dpop)).
    pub cnf: Option<Confirmation>,
    /// `auth_time`: when the user last authenticated (for step-up, RFC 9470).
    pub auth_time: Option<NumericDate>,
    /// `acr`: the authentication context class the user authenticated with (RFC 9470).
    pub acr: Option<String>,
    /// The application's own claims.
    pub extra: E,
    /// The verified payload, shared by every clone (the token cache's entry, each request's
    /// copy, each retyping), so that its JSON tree is parsed once per token, not per request.
    payload: Arc<Payload>,
    mapping: Arc<ClaimMapping>,
    /// From a trusted issuer other than the primary one (see [`principal`](Self::principal)).
    pub(crate) secondary_issuer: bool,
}

impl<E> Claims<E> {
    /// Who the caller is for ownership and other stored identities: its `sub`, or, for a token
    /// from a trusted issuer other than the primary one ([`Verifier::with_issuers`]), the
    /// issuer and the subject (`"{iss} {sub}"`), so that the same `sub` at two issuers is two
    /// principals, never one. `None` without a subject.
    ///
    /// [`Verifier::with_issuers`]: crate::Verifier::with_issuers
    #[must_use]
    pub fn principal(&self) -> Option<std::borrow::Cow<'_, str>> {
        let sub = self.sub.as_deref().filter(|s| !s.is_empty())?;
        Some(if self.secondary_issuer {
            std::borrow::Cow::Owned(format!("{} {sub}", self.iss))
        } else {
            std::borrow::Cow::Borrowed(sub)
        })
    }

    /// The subject, if any.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// The complete claims object as JSON text, exactly as the token carried it.
    #[must_use]
    pub fn raw_json(&self) -> &str {
        std::str::from_utf8(&self.payload.raw).unwrap_or_default()
    }

    /// The mapped tenant, roles and scopes, read once per verified payload and shared by every
    /// clone of these claims (the token cache's entry and each request's copy).
    pub(crate) fn identity(&self) -> &Identity {
        self.payload.identity.get_or_init(|| Identity {
            tenant: self.tenant_id().map(str::to_owned),
            mapped_scopes: self
                .collect(&self.mapping.scopes)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            roles: self.roles().into_iter().map(str::to_owned).collect(),
        })
    }

    /// [`scopes`](Self::scopes), owned, with the mapped part from [`identity`](Self::identity).
    pub(crate) fn owned_scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = self.scope.iter().map(str::to_owned).collect();
        for s in &self.identity().mapped_scopes {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }

    /// Roughly what the payload's readings as application claims types hold (for the token
    /// cache's weight).
    pub(crate) fn typed_weight(&self) -> usize {
        self.payload
            .typed
            .iter()
            .filter_map(OnceLock::get)
            .map(|typed| typed.weight)
            .sum()
    }

    /// The complete claims object as a JSON value (parsed on first use, then cached).
    #[must_use]
    pub fn as_value(&self) -> &Value {
        let payload = &*self.payload;
        payload
            .tree
            .get_or_init(|| serde_json::from_slice(&payload.raw).unwrap_or(Value::Null))
    }

    /// Looks up a claim by path (see [`ClaimPath`]): `claims.get("realm_access.roles")`.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&Value> {
        ClaimPath::parse(path).lookup(self.as_value())
    }

    /// Normalised roles, from the configured role paths (all of them, de-duplicated).
    #[must_use]
    pub fn roles(&self) -> Vec<&str> {
        self.collect(&self.mapping.roles)
    }

    /// Normalised permissions.
    #[must_use]
    pub fn permissions(&self) -> Vec<&str> {
        self.collect(&self.mapping.permissions)
    }

    /// Normalised scopes: the `scope` claim plus any configured scope paths (e.g. Entra's `scp`).
    #[must_use]
    pub fn scopes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.scope.iter().collect();
        for s in self.collect(&self.mapping.scopes) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    /// Normalised entitlements / features.
    #[must_use]
    pub fn entitlements(&self) -> Vec<&str> {
        self.collect(&self.mapping.entitlements)
    }

    /// The user's email, from the first configured email path holding a string.
    #[must_use]
    pub fn email(&self) -> Option<&str> {
        self.first_string(&self.mapping.email)
    }

    /// The tenant id, from the first configured tenant path holding a string.
    #[must_use]
    pub fn tenant_id(&self) -> Option<&str> {
        self.first_string(&self.mapping.tenant_id)
    }

    /// Whether the normalised roles contain `role`.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().contains(&role)
    }

    /// Whether the normalised scopes contain `scope`.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().contains(&scope)
    }

    /// Whether the normalised permissions contain `permission`.
    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions().contains(&permission)
    }

    /// Whether the normalised entitlements contain `entitlement`.
    #[must_use]
    pub fn has_entitlement(&self, entitlement: &str) -> bool {
        self.entitlements().contains(&entitlement)
    }

    /// Maps the application claims, keeping everything else.
    pub fn map_extra<F, T>(self, f: F) -> Claims<T>
    where
        F: FnOnce(E) -> T,
    {
        Claims {
            iss: self.iss,
            sub: self.sub,
            aud: self.aud,
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
            jti: self.jti,
            client_id: self.client_id,
            scope: self.scope,
            cnf: self.cnf,
            auth_time: self.auth_time,
            acr: self.acr,
            extra: f(self.extra),
            payload: self.payload,
            mapping: self.mapping,
            secondary_issuer: self.secondary_issuer,
        }
    }

    fn collect(&self, paths: &[ClaimPath]) -> Vec<&str> {
        let root = self.as_value();
        let mut out: Vec<&str> = Vec::new();
        for path in paths {
            match path.lookup(root) {
                Some(Value::Array(items)) => {
                    for s in items.iter().filter_map(Value::as_str) {
                        if !out.contains(&s) {
                            out.push(s);
                        }
                    }
                }
                Some(Value::String(s)) => {
                    for s in s.split(' ').filter(|s| !s.is_empty()) {
                        if !out.contains(&s) {
                            out.push(s);
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn first_string(&self, paths: &[ClaimPath]) -> Option<&str> {
        let root = self.as_value();
        paths
            .iter()
            .find_map(|p| p.lookup(root).and_then(Value::as_str))
    }
}

impl<E: fmt::Debug> fmt::Debug for Claims<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("exp", &self.exp.as_secs())
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("cnf", &self.cnf)
            .field("acr", &self.acr)
            .field("extra", &self.extra)
            .finish_non_exhaustive()
    }
}

impl<E> Serialize for Claims<E> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_value().serialize(s)
    }
}

/// A path to a claim inside the claims object: a list of object member names.
///
/// [`ClaimPath::parse`] splits on `.` (`"realm_access.roles"`); use [`ClaimPath::key`] for a single
/// member whose name contains dots, such as Auth0's namespaced claims
/// (`"https://example.com/roles"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// A dot-separated path.
    #[must_use]
    pub fn parse(path: &str) -> ClaimPath {
        ClaimPath(path.split('.').map(str::to_owned).collect())
    }

    /// A single top-level member, taken literally.
    #[must_use]
    pub fn key(name: impl Into<String>) -> ClaimPath {
        ClaimPath(vec![name.into()])
    }

    /// A path from explicit segments.
    #[must_use]
    pub fn segments<I, S>(segments: I) -> ClaimPath
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ClaimPath(segments.into_iter().map(Into::into).collect())
    }

    /// Resolves the path in a JSON value.
    #[must_use]
    pub fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.0.iter().try_fold(root, |v, seg| v.get(seg))
    }
}

/// Where the normalised accessors of [`Claims`] look, per identity provider.
///
/// Several paths may be given for each; roles, permissions, scopes and entitlements gather from
/// all of them, email and tenant take the first that holds a string. Values may be arrays of
/// strings or space-separated strings.
///
/// ```
/// use auth_core::{ClaimMapping, ClaimPath};
/// let keycloak = ClaimMapping::keycloak("my-api");
/// let custom = ClaimMapping::default().with_roles([ClaimPath::parse("app.roles")]);
/// # let _ = (keycloak, custom);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// Paths holding roles.
    pub roles: Vec<ClaimPath>,
    /// Paths holding permissions.
    pub permissions: Vec<ClaimPath>,
    /// Extra paths holding scopes (the registered `scope` claim is always read).
    pub scopes: Vec<ClaimPath>,
    /// Paths holding entitlements or features.
    pub entitlements: Vec<ClaimPath>,
    /// Paths holding the email address.
    pub email: Vec<ClaimPath>,
    /// Paths holding the tenant id.
    pub tenant_id: Vec<ClaimPath>,
}

impl Default for ClaimMapping {
    /// The plain preset: `roles`, `permissions`, `scp`, `entitlements`/`features`, `email`,
    /// `tenant_id`/`tid`.
    fn default() -> Self {
        ClaimMapping {
            roles: vec![ClaimPath::key("roles")],
            permissions: vec![ClaimPath::key("permissions")],
            scopes: vec![ClaimPath::key("scp")],
            entitlements: vec![ClaimPath::key("entitlements"), ClaimPath::key("features")],
            email: vec![ClaimPath::key("email")],
            tenant_id: vec![ClaimPath::key("tenant_id"), ClaimPath::key("tid")],
        }
    }
}

impl ClaimMapping {
    /// Keycloak: realm roles (`realm_access.roles`) and the client's roles
    /// (`resource_access.<client>.roles`).
    #[must_use]
    pub fn keycloak(client_id: &str) -> Self {
        ClaimMapping {
            roles: vec![
                ClaimPath::parse("realm_access.roles"),
                ClaimPath::segments(["resource_access", client_id, "roles"]),
            ],
            ..ClaimMapping::default()
        }
    }

    /// Auth0: RBAC `permissions`, and roles in a namespaced claim such as
    /// `https://example.com/roles` (pass the namespace, with or without the trailing `/`).
    #[must_use]
    pub fn auth0(namespace: &str) -> Self {
        let ns = namespace.trim_end_matches('/');
        ClaimMapping {
            roles: vec![
                ClaimPath::key(format!("{ns}/roles")),
                ClaimPath::key("roles"),
            ],
            email: vec![
                ClaimPath::key(format!("{ns}/email")),
                ClaimPath::key("email"),
            ],
            tenant_id: vec![
                ClaimPath::key(format!("{ns}/tenant_id")),
                ClaimPath::key("org_id"),
            ],
            ..ClaimMapping::default()
        }
    }

    /// Microsoft Entra ID: app `roles`, delegated scopes in `scp`, tenant in `tid`, email in
    /// `email` or `preferred_username`.
    #[must_use]
    pub fn entra() -> Self {
        ClaimMapping {
            email: vec![
                ClaimPath::key("email"),
                ClaimPath::key("preferred_username"),
            ],
            tenant_id: vec![ClaimPath::key("tid")],
            ..ClaimMapping::default()
        }
    }

    /// Amazon Cognito: groups in `cognito:groups` as roles.
    #[must_use]
    pub fn cognito() -> Self {
        ClaimMapping {
            roles: vec![ClaimPath::key("cognito:groups")],
            tenant_id: vec![ClaimPath::key("custom:tenant_id")],
            ..ClaimMapping::default()
        }
    }

    /// Replaces the role paths.
    #[must_use]
    pub fn with_roles(mut self, paths: impl IntoIterator<Item = ClaimPath>) -> Self {
        self.roles = paths.into_iter().collect();
        self
    }

    /// Replaces the permission paths.
    #[must_use]
    pub fn with_permissions(mut self, paths: impl IntoIterator<Item = ClaimPath>) -> Self {
        self.permissions = paths.into_iter().collect();
        self
    }

    /// Replaces the extra scope paths.
    #[must_use]
    pub fn with_scopes(mut self, paths: impl IntoIterator<Item = ClaimPath>) -> Self {
        self.scopes = paths.into_iter().collect();
        self
    }

    /// Replaces the entitlement paths.
    #[must_use]
    pub fn with_entitlements(mut self, paths: impl IntoIterator<Item = ClaimPath>) -> Self {
        self.entitlements = paths.into_iter().collect();
        self
    }

    /// Replaces the email paths.
    #[must_use]
    pub fn with_email(mut self, paths: impl IntoIterator<Item = ClaimPath>) -> Self {
        self.email = paths.into_iter().collect();
        self
    }

    /// Replaces the tenant id paths.
    #[must_use]
    pub fn with_tenant_id(mut self, paths: impl IntoIterator<Item = ClaimPath>) -> Self {
        self.tenant_id = paths.into_iter().collect();
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing (crate-internal): one strict pass extracts the registered claims and checks the whole
// object for duplicates; the application's `E` is a second pass only when it is not the default.

/// Registered claims as parsed, before validation.
#[derive(Default)]
pub(crate) struct Registered<'a> {
    pub(crate) iss: Option<std::borrow::Cow<'a, str>>,
    pub(crate) sub: Option<String>,
    pub(crate) aud: Audience,
    pub(crate) exp: Option<NumericDate>,
    pub(crate) nbf: Option<NumericDate>,
    pub(crate) iat: Option<NumericDate>,
    pub(crate) jti: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) scope: Scopes,
    pub(crate) cnf: Option<Confirmation>,
    pub(crate) auth_time: Option<NumericDate>,
    pub(crate) acr: Option<String>,
}

/// The `cnf` claim (RFC 7800 §3.1): the confirmation methods this SDK can check, and whether
/// the token names one it cannot (then it is refused: a binding that cannot be checked is
/// never ignored).
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// `jkt` (RFC 9449 §6): the RFC 7638 SHA-256 thumbprint of the DPoP key, base64url.
    pub jkt: Option<String>,
    /// `x5t#S256` (RFC 8705 §3.1): the SHA-256 thumbprint of the client certificate, base64url.
    pub x5t_s256: Option<String>,
    /// Whether `cnf` has members besides these (`jwk`, `kid`, `jwe`, `jku`, ...).
    pub other: bool,
}

/// `cnf`: an object; members other than `jkt` and `x5t#S256` are noted, not read.
struct ConfirmationSeed;

impl<'de> de::DeserializeSeed<'de> for ConfirmationSeed {
    type Value = Confirmation;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Confirmation, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ConfirmationSeed {
    type Value = Confirmation;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a confirmation object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Confirmation, A::Error> {
        let mut c = Confirmation::default();
        let mut members = Members::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match members.insert::<A::Error>(&key, &["jkt", "x5t#S256"])? {
                Some(0) => c.jkt = Some(map.next_value()?),
                Some(1) => c.x5t_s256 = Some(map.next_value()?),
                _ => {
                    map.next_value_seed(StrictIgnore)?;
                    c.other = true;
                }
            }
        }
        Ok(c)
    }
}

/// `aud`: a string or an array of strings.
struct AudienceSeed;

impl<'de> de::DeserializeSeed<'de> for AudienceSeed {
    type Value = Audience;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Audience, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AudienceSeed {
    type Value = Audience;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
        Ok(Audience(AudienceRepr::One(v.to_owned())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(16));
        while let Some(s) = seq.next_element::<String>()? {
            out.push(s);
        }
        Ok(Audience(AudienceRepr::Many(out)))
    }
}

/// `scope`: a space-separated string or an array of strings (joined).
struct ScopeSeed;

impl<'de> de::DeserializeSeed<'de> for ScopeSeed {
    type Value = Scopes;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Scopes, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScopeSeed {
    type Value = Scopes;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scopes, E> {
        Ok(Scopes(v.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scopes, A::Error> {
        let mut out = String::new();
        while let Some(Key(s)) = seq.next_element::<Key<'de>>()? {
            if s.contains(' ') {
                return Err(de::Error::custom("a scope token cannot contain a space"));
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&s);
        }
        Ok(Scopes(out))
    }
}

struct RegisteredVisitor;

impl<'de> Visitor<'de> for RegisteredVisitor {
    type Value = Registered<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Registered<'de>, A::Error> {
        const NAMES: [&str; 12] = [
            "iss",
            "sub",
            "aud",
            "exp",
            "nbf",
            "iat",
            "jti",
            "client_id",
            "scope",
            "cnf",
            "auth_time",
            "acr",
        ];
        let mut r = Registered::default();
        let mut members = Members::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match members.insert::<A::Error>(&key, &NAMES)? {
                Some(0) => r.iss = Some(map.next_value::<Key<'de>>()?.0),
                Some(1) => r.sub = Some(map.next_value()?),
                Some(2) => r.aud = map.next_value_seed(AudienceSeed)?,
                Some(3) => r.exp = Some(map.next_value()?),
                Some(4) => r.nbf = Some(map.next_value()?),
                Some(5) => r.iat = Some(map.next_value()?),
                Some(6) => r.jti = Some(map.next_value()?),
                Some(7) => r.client_id = Some(map.next_value()?),
                Some(8) => r.scope = map.next_value_seed(ScopeSeed)?,
                Some(9) => r.cnf = Some(map.next_value_seed(ConfirmationSeed)?),
                Some(10) => r.auth_time = Some(map.next_value()?),
                Some(11) => r.acr = Some(map.next_value()?),
                _ => map.next_value_seed(StrictIgnore)?,
            }
        }
        Ok(r)
    }
}

/// Parses the registered claims from a payload, rejecting anything but one strict JSON object.
///
/// The bytes are checked as UTF-8 once, as a whole (word at a time), and then parsed as text:
/// serde_json's byte reader would check each string on its own, at several times the cost.
pub(crate) fn parse_registered(payload: &[u8]) -> Result<Registered<'_>, serde_json::Error> {
    let text = std::str::from_utf8(payload)
        .map_err(|_| <serde_json::Error as de::Error>::custom("claims are not UTF-8"))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let r = de.deserialize_map(RegisteredVisitor)?;
    de.end()?;
    Ok(r)
}

/// Parses the application's claims; free for [`NoExtraClaims`].
///
/// # Errors
/// `token_invalid` ([`ClaimsShape`](TokenInvalidReason::ClaimsShape)), naming the claim that
/// did not fit, with the serde error as `source()`.
pub(crate) fn parse_extra<E: DeserializeOwned + 'static>(payload: &[u8]) -> Result<E, AuthError> {
    if TypeId::of::<E>() == TypeId::of::<NoExtraClaims>() {
        // The payload was already validated as a strict object; skip a second parse.
        if let Ok(none) = serde_json::from_slice(b"null") {
            return Ok(none);
        }
    }
    serde_json::from_slice(payload).map_err(|_| shape_error::<E>(payload))
}

/// The error for claims that do not deserialise into `E`. Cold path: the payload is parsed a
/// second time, tracking the path, to name the claim at fault.
#[cold]
fn shape_error<E: DeserializeOwned>(payload: &[u8]) -> AuthError {
    let mut de = serde_json::Deserializer::from_slice(payload);
    let Err(e) = serde_path_to_error::deserialize::<_, E>(&mut de) else {
        return AuthError::invalid_token(
            TokenInvalidReason::ClaimsShape,
            "token claims do not have the expected shape",
        );
    };
    let path = e.path().to_string();
    let inner = e.into_inner();
    tracing::debug!(claim = %path, error = %inner, "application claims do not match their type");
    let message = if path.is_empty() || path == "." {
        // A missing field is reported at the parent: serde's message names it.
        match missing_field(&inner.to_string()) {
            Some(field) => format!(
                "token claims do not have the expected shape: the `{field}` claim is missing"
            ),
            None => "token claims do not have the expected shape".to_owned(),
        }
    } else {
        format!("token claims do not have the expected shape: the `{path}` claim")
    };
    AuthError::invalid_token(TokenInvalidReason::ClaimsShape, message).with_source(inner)
}

/// `missing field `plan`` → `plan`.
fn missing_field(serde_message: &str) -> Option<&str> {
    let rest = serde_message.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    let field = &rest[..end];
    (field.len() <= 64 && field.bytes().all(|b| b.is_ascii_graphic())).then_some(field)
}

/// Re-reads verified claims with the application's claims type `C` (the `Auth<C>` extractors of
/// one request share one verification). Each type is read from the raw payload once per token
/// (see `Payload::typed`); later requests with the same cached token get a clone.
pub(crate) fn retype<C: ExtraClaims>(
    claims: &Claims<NoExtraClaims>,
) -> Result<Claims<C>, AuthError> {
    let extra = if TypeId::of::<C>() == TypeId::of::<NoExtraClaims>() {
        parse_extra::<C>(&claims.payload.raw)?
    } else {
        claims.payload.extra::<C>()?
    };
    Ok(claims.clone().map_extra(|_| extra))
}

/// The claims an API key stands for: `iss` `api-key:<prefix>`, `sub` the owner, `scope` and
/// `roles` the key's scopes, `tenant_id`, `iat` its creation, `exp` its expiry (the end of 9999
/// for a key that does not expire), `jti` its id and `api_key` `{id, name}`. They are read with
/// the default [`ClaimMapping`], whatever the provider's, so that guards see the key's scopes
/// and roles.
///
/// # Errors
/// `token_invalid` (`claims_shape`) when `C` does not fit them.
pub(crate) fn for_api_key<C: DeserializeOwned + 'static>(
    record: &crate::api_key::ApiKeyRecord,
    prefix: &str,
) -> Result<Claims<C>, AuthError> {
    static MAPPING: std::sync::LazyLock<Arc<ClaimMapping>> =
        std::sync::LazyLock::new(|| Arc::new(ClaimMapping::default()));
    let exp = record.expires_at.unwrap_or(253_402_300_799);
    let mut payload = serde_json::json!({
        "iss": format!("api-key:{prefix}"),
        "sub": record.owner,
        "scope": record.scopes.join(" "),
        "roles": record.scopes,
        "iat": record.created_at,
        "exp": exp,
        "jti": record.id,
        "api_key": { "id": record.id, "name": record.name },
    });
    if let Some(tenant) = &record.tenant {
        payload["tenant_id"] = Value::String(tenant.clone());
    }
    let raw = payload.to_string().into_bytes();
    let registered = parse_registered(&raw).map_err(|e| {
        AuthError::new(crate::ErrorCode::Unknown, "API-key claims did not parse").with_source(e)
    })?;
    let iss: Arc<str> = Arc::from(registered.iss.as_deref().unwrap_or_default());
    let checked = registered.into_checked();
    let extra = parse_extra::<C>(&raw)?;
    Ok(assemble(
        checked,
        iss,
        NumericDate::from_secs(exp),
        extra,
        raw,
        Arc::clone(&MAPPING),
    ))
}

/// Whether claims stand for an API key ([`for_api_key`]) or come from a JWT: a JWT's `iss` is the
/// configured issuer, an `https` (or loopback `http`) URL, never `api-key:…`.
pub(crate) fn credential_kind<C>(claims: &Claims<C>) -> crate::CredentialKind {
    if claims.iss.starts_with("api-key:") {
        crate::CredentialKind::ApiToken
    } else {
        crate::CredentialKind::Jwt
    }
}

/// Registered claims after validation: everything owned, `iss` replaced by the configured one.
pub(crate) struct Checked {
    pub(crate) sub: Option<String>,
    pub(crate) aud: Audience,
    pub(crate) nbf: Option<NumericDate>,
    pub(crate) iat: Option<NumericDate>,
    pub(crate) jti: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) scope: Scopes,
    pub(crate) cnf: Option<Confirmation>,
    pub(crate) auth_time: Option<NumericDate>,
    pub(crate) acr: Option<String>,
}

impl Registered<'_> {
    /// Drops the borrowed parts (so the payload buffer can be moved into the claims).
    pub(crate) fn into_checked(self) -> Checked {
        Checked {
            sub: self.sub,
            aud: self.aud,
            nbf: self.nbf,
            iat: self.iat,
            jti: self.jti,
            client_id: self.client_id,
            scope: self.scope,
            cnf: self.cnf,
            auth_time: self.auth_time,
            acr: self.acr,
        }
    }
}

/// Assembles validated claims.
pub(crate) fn assemble<E>(
    r: Checked,
    iss: Arc<str>,
    exp: NumericDate,
    extra: E,
    raw: Vec<u8>,
    mapping: Arc<ClaimMapping>,
) -> Claims<E> {
    Claims {
        iss,
        sub: r.sub,
        aud: r.aud,
        exp,
        nbf: r.nbf,
        iat: r.iat,
        jti: r.jti,
        client_id: r.client_id,
        scope: r.scope,
        cnf: r.cnf,
        auth_time: r.auth_time,
        acr: r.acr,
        extra,
        payload: Arc::new(Payload::new(raw)),
        mapping,
        secondary_issuer: false,
    }
}

/// Claims of `payload`, checked for nothing (unit tests of other modules).
#[cfg(test)]
pub(crate) fn test_claims(payload: &Value, mapping: &Arc<ClaimMapping>) -> Claims {
    let json = payload.to_string();
    let r = parse_registered(json.as_bytes()).expect("parses");
    let iss = Arc::from(&*r.iss.clone().unwrap_or_default());
    let exp = r.exp.unwrap_or(NumericDate(0.0));
    assemble(
        r.into_checked(),
        iss,
        exp,
        NoExtraClaims {},
        json.clone().into_bytes(),
        Arc::clone(mapping),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str, mapping: ClaimMapping) -> Claims {
        let payload: Value = serde_json::from_str(json).expect("JSON");
        test_claims(&payload, &Arc::new(mapping))
    }

    #[test]
    fn the_kept_identity_reads_as_the_accessors_do() {
        let cases = [
            (
                r#"{"iss":"i","exp":1,"scope":"a b","roles":["r1","r2"],"tenant_id":"t"}"#,
                ClaimMapping::default(),
            ),
            (
                r#"{"iss":"i","exp":1,"scp":"read write","roles":["app"],"tid":"x","scope":"read"}"#,
                ClaimMapping::entra(),
            ),
            (
                r#"{"iss":"i","exp":1,"realm_access":{"roles":["admin"]},"resource_access":{"api":{"roles":["editor","admin"]}}}"#,
                ClaimMapping::keycloak("api"),
            ),
            (r#"{"iss":"i","exp":1}"#, ClaimMapping::default()),
        ];
        for (json, mapping) in cases {
            let c = claims(json, mapping);
            for _ in 0..2 {
                let identity = c.identity();
                assert_eq!(identity.roles, c.roles(), "{json}");
                assert_eq!(identity.tenant.as_deref(), c.tenant_id(), "{json}");
                assert_eq!(c.owned_scopes(), c.scopes(), "{json}");
            }
            // A clone shares the reading; a changed `scope` field still shows.
            let mut copy = c.clone();
            copy.scope = Scopes("changed read".to_owned());
            assert_eq!(copy.owned_scopes(), copy.scopes(), "{json}");
            assert!(std::ptr::eq(copy.identity(), c.identity()));
        }
    }

    #[test]
    fn numeric_dates_must_be_numbers() {
        assert!(parse_registered(br#"{"exp":1.9e9}"#).is_ok());
        assert!(parse_registered(br#"{"exp":1900000000.5}"#).is_ok());
        for bad in [
            r#"{"exp":"1900000000"}"#,
            r#"{"exp":true}"#,
            r#"{"exp":null}"#,
            r#"{"nbf":[1]}"#,
            r#"{"iat":{}}"#,
            r#"{"exp":1e400}"#,
        ] {
            assert!(parse_registered(bad.as_bytes()).is_err(), "{bad}");
        }
        let r = parse_registered(br#"{"exp":1e308}"#).expect("huge but finite");
        assert_eq!(r.exp.map(NumericDate::as_secs), Some(i64::MAX));
    }

    #[test]
    fn invalid_utf8_anywhere_is_rejected_by_the_strict_parse() {
        // The hot path relies on this instead of a second UTF-8 pass.
        let cases: [&[u8]; 4] = [
            b"{\"x\":\"\xff\"}",
            b"{\"\xc3\":1}",
            b"{\"x\":[\"ok\",{\"y\":\"\xe2\x82\"}]}",
            b"{\"x\":1\xa0}",
        ];
        for bad in cases {
            assert!(parse_registered(bad).is_err(), "{bad:?}");
        }
        assert!(parse_registered("{\"x\":\"h\u{e9}llo \u{1f600}\"}".as_bytes()).is_ok());
    }

    #[test]
    fn registered_types_are_strict() {
        for bad in [
            r#"{"aud":5}"#,
            r#"{"aud":["a",5]}"#,
            r#"{"aud":{"a":1}}"#,
            r#"{"iss":1}"#,
            r#"{"sub":null}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"x":{"y":1,"y":2}}"#,
        ] {
            assert!(parse_registered(bad.as_bytes()).is_err(), "{bad}");
        }
        let r = parse_registered(br#"{"aud":"a","scope":"read  write"}"#).expect("ok");
        assert_eq!(r.aud, ["a"]);
        assert_eq!(r.scope, ["read", "write"]);
    }

    #[test]
    fn presets_find_roles_where_providers_put_them() {
        let kc = claims(
            r#"{"realm_access":{"roles":["a","b"]},"resource_access":{"api":{"roles":["c","a"]}}}"#,
            ClaimMapping::keycloak("api"),
        );
        assert_eq!(kc.roles(), ["a", "b", "c"]);
        let a0 = claims(
            r#"{"https://ex.com/roles":["admin"],"permissions":["read:x"]}"#,
            ClaimMapping::auth0("https://ex.com/"),
        );
        assert!(a0.has_role("admin") && a0.has_permission("read:x"));
        let entra = claims(
            r#"{"roles":["r"],"scp":"User.Read Mail.Send","tid":"t1"}"#,
            ClaimMapping::entra(),
        );
        assert_eq!(entra.scopes(), ["User.Read", "Mail.Send"]);
        assert_eq!(entra.tenant_id(), Some("t1"));
        let cognito = claims(r#"{"cognito:groups":["g"]}"#, ClaimMapping::cognito());
        assert_eq!(cognito.roles(), ["g"]);
        assert_eq!(
            claims("{}", ClaimMapping::default()).roles(),
            Vec::<&str>::new()
        );
    }
}
