//! The typed error taxonomy: one [`AuthError`] carrying a stable [`ErrorCode`].
//!
//! Every failure the SDK can report, per request or at setup, is an [`AuthError`]. Its
//! [`code`](AuthError::code) is a stable machine-readable identifier (`token_expired`,
//! `jwks_unavailable`, ...) that never changes between releases; its [`status`](AuthError::status)
//! is the HTTP status an adapter answers with; [`is_retryable`](AuthError::is_retryable) says whether
//! the same request may succeed later (the identity provider is down) or never will (the token is
//! bad). [`www_authenticate`](AuthError::www_authenticate) gives the RFC 6750 challenge.
//!
//! Messages are safe to show to a client: they never contain a token, a key or an internal URL.
//! Details for operators travel through [`std::error::Error::source`] and `tracing` events.
//!
//! ```
//! use auth_core::{AuthError, ErrorCode};
//!
//! fn describe(err: &AuthError) -> &'static str {
//!     match err.code() {
//!         ErrorCode::TokenExpired => "please sign in again",
//!         ErrorCode::PermissionDenied => "you may not do that",
//!         code if err.is_retryable() => "try again shortly",
//!         _ => "unauthorized",
//!     }
//! }
//! let err = AuthError::new(ErrorCode::TokenExpired, "token expired");
//! assert_eq!(err.status(), 401);
//! assert_eq!(describe(&err), "please sign in again");
//! assert!(err.is(ErrorCode::TokenExpired));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A stable, machine-readable error code.
///
/// The string form ([`as_str`](ErrorCode::as_str)) is part of the public contract: it appears in
/// JSON error bodies and in `auth verify --json` output and will not change. New codes may be
/// added in minor releases, hence `#[non_exhaustive]`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No credential was presented (401, RFC 6750 challenge without `error`).
    TokenMissing,
    /// The token is malformed, its signature does not verify, or a claim is wrong (401).
    TokenInvalid,
    /// The token's `exp` has passed, beyond the configured leeway (401).
    TokenExpired,
    /// The token's `nbf` (or `iat`) lies in the future, beyond the configured leeway (401).
    TokenNotYetValid,
    /// The token was revoked (401).
    TokenRevoked,
    /// The caller is authenticated but lacks a role, scope or permission (403).
    PermissionDenied,
    /// The user exists but is disabled by the application (403).
    UserDisabled,
    /// The application's user-provisioning hook failed (500).
    UserProvisionFailed,
    /// No usable signing keys are available right now: the key set could not be fetched
    /// and no last-known-good copy is within its window (503, retryable).
    JwksUnavailable,
    /// Fetching the key set failed: network error, timeout, bad status, oversized or invalid
    /// body (503, retryable).
    JwksFetchFailed,
    /// The issuer's discovery document could not be fetched or is invalid (503, retryable).
    DiscoveryFailed,
    /// A network call to the identity provider failed (503, retryable).
    Network,
    /// Too many requests (429, retryable).
    RateLimited,
    /// The store of API keys or owners cannot be reached (503, retryable).
    StoreUnavailable,
    /// The configuration is missing or invalid (500). Raised at setup; per request only for a
    /// wiring mistake the type system cannot catch (an extractor without its layer) or a
    /// provider refusing this app's own client credentials.
    ConfigInvalid,
    /// The browser session has ended and cannot be refreshed (401).
    SessionExpired,
    /// The OAuth `state` of a callback is missing, mismatched or replayed (400).
    StateMismatch,
    /// The identity provider rejected a grant (code or refresh token) (401).
    InvalidGrant,
    /// The request itself is malformed, e.g. two `Authorization` headers (400).
    InvalidRequest,
    /// An unexpected internal failure (500).
    Unknown,
    /// The DPoP proof (RFC 9449) is missing, malformed, replayed, stale, for another request or
    /// another key (401, `DPoP` challenge with `error="invalid_dpop_proof"`).
    InvalidDpopProof,
    /// The DPoP proof lacks the server-provided nonce, or carries a stale one (401, `DPoP`
    /// challenge with `error="use_dpop_nonce"` and a fresh `DPoP-Nonce` header; RFC 9449 §9).
    UseDpopNonce,
    /// The caller is authenticated, but not recently enough or not strongly enough for this
    /// route: sign in again (RFC 9470; 401 with `error="insufficient_user_authentication"`
    /// and the `acr_values` / `max_age` to ask for).
    InsufficientUserAuthentication,
}

impl ErrorCode {
    /// Every code, in declaration order (for documentation and exhaustive tests).
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::TokenMissing,
        ErrorCode::TokenInvalid,
        ErrorCode::TokenExpired,
        ErrorCode::TokenNotYetValid,
        ErrorCode::TokenRevoked,
        ErrorCode::PermissionDenied,
        ErrorCode::UserDisabled,
        ErrorCode::UserProvisionFailed,
        ErrorCode::JwksUnavailable,
        ErrorCode::JwksFetchFailed,
        ErrorCode::DiscoveryFailed,
        ErrorCode::Network,
        ErrorCode::RateLimited,
        ErrorCode::StoreUnavailable,
        ErrorCode::ConfigInvalid,
        ErrorCode::SessionExpired,
        ErrorCode::StateMismatch,
        ErrorCode::InvalidGrant,
        ErrorCode::InvalidRequest,
        ErrorCode::Unknown,
        ErrorCode::InvalidDpopProof,
        ErrorCode::UseDpopNonce,
        ErrorCode::InsufficientUserAuthentication,
    ];

    /// The stable snake_case identifier, e.g. `"token_expired"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::TokenMissing => "token_missing",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TokenNotYetValid => "token_not_yet_valid",
            ErrorCode::TokenRevoked => "token_revoked",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::UserDisabled => "user_disabled",
            ErrorCode::UserProvisionFailed => "user_provision_failed",
            ErrorCode::JwksUnavailable => "jwks_unavailable",
            ErrorCode::JwksFetchFailed => "jwks_fetch_failed",
            ErrorCode::DiscoveryFailed => "discovery_failed",
            ErrorCode::Network => "network",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::ConfigInvalid => "config_invalid",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::StateMismatch => "state_mismatch",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unknown => "unknown",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InsufficientUserAuthentication => "insufficient_user_authentication",
        }
    }

    /// The HTTP status an adapter answers with, as a number (adapters use different `http`
    /// crate versions, so the core speaks `u16`).
    ///
    /// Missing, invalid or expired credentials are 401; a lack of permission 403; an
    /// unreachable identity provider or key set 503, never 401, so that nobody is signed out
    /// because *our* fetch failed.
    #[must_use]
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::TokenMissing
            | ErrorCode::TokenInvalid
            | ErrorCode::TokenExpired
            | ErrorCode::TokenNotYetValid
            | ErrorCode::TokenRevoked
            | ErrorCode::SessionExpired
            | ErrorCode::InvalidGrant
            | ErrorCode::InvalidDpopProof
            | ErrorCode::UseDpopNonce
            | ErrorCode::InsufficientUserAuthentication => 401,
            ErrorCode::PermissionDenied | ErrorCode::UserDisabled => 403,
            ErrorCode::StateMismatch | ErrorCode::InvalidRequest => 400,
            ErrorCode::RateLimited => 429,
            ErrorCode::JwksUnavailable
            | ErrorCode::JwksFetchFailed
            | ErrorCode::DiscoveryFailed
            | ErrorCode::Network
            | ErrorCode::StoreUnavailable => 503,
            ErrorCode::UserProvisionFailed | ErrorCode::ConfigInvalid | ErrorCode::Unknown => 500,
        }
    }

    /// Whether the same request may succeed later without the client changing anything
    /// (the identity provider or network is down, or the client is rate limited).
    #[must_use]
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::JwksUnavailable
                | ErrorCode::JwksFetchFailed
                | ErrorCode::DiscoveryFailed
                | ErrorCode::Network
                | ErrorCode::RateLimited
                | ErrorCode::StoreUnavailable
        )
    }

    /// The `error` attribute of the challenge for this code (RFC 6750 §3.1, RFC 9449 §7.1,
    /// RFC 9470 §3), if the code is a token error.
    ///
    /// `token_missing` deliberately has none: a request without credentials gets a bare
    /// challenge.
    #[must_use]
    pub const fn bearer_error(self) -> Option<&'static str> {
        match self {
            ErrorCode::TokenInvalid
            | ErrorCode::TokenExpired
            | ErrorCode::TokenNotYetValid
            | ErrorCode::TokenRevoked
            | ErrorCode::SessionExpired
            | ErrorCode::InvalidGrant => Some("invalid_token"),
            ErrorCode::PermissionDenied => Some("insufficient_scope"),
            ErrorCode::InvalidRequest => Some("invalid_request"),
            ErrorCode::InvalidDpopProof => Some("invalid_dpop_proof"),
            ErrorCode::UseDpopNonce => Some("use_dpop_nonce"),
            ErrorCode::InsufficientUserAuthentication => Some("insufficient_user_authentication"),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an [`ErrorCode`] from a string that is not one of the stable codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownErrorCode;

impl fmt::Display for UnknownErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not one of the stable error codes")
    }
}

impl std::error::Error for UnknownErrorCode {}

impl std::str::FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    /// Parses the stable identifier (`"token_expired"`) back into a code.
    ///
    /// ```
    /// use auth_core::ErrorCode;
    /// assert_eq!("token_expired".parse(), Ok(ErrorCode::TokenExpired));
    /// assert!("nope".parse::<ErrorCode>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownErrorCode)
    }
}

/// Why a token is `token_invalid`: a machine-readable reason under the one public code, so that
/// logs, metrics and tests can tell the causes apart without comparing message text.
///
/// The string form ([`as_str`](Self::as_str)) is stable, like [`ErrorCode::as_str`]. New reasons
/// may be added in minor releases.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenInvalidReason {
    /// Larger than the configured maximum, before any decoding.
    TooLarge,
    /// Not a compact JWS, bad base64url, a header or payload that is not one strict JSON object.
    Malformed,
    /// No signature, or `alg: none`.
    Unsigned,
    /// A `crit` header parameter this SDK does not implement, or `b64: false`.
    UnsupportedHeader,
    /// The `alg` is not on the allow-list (or not usable with the configured keys).
    AlgorithmNotAllowed,
    /// No key in the issuer's key set has the token's `kid`.
    UnknownKey,
    /// Two usable keys in the issuer's key set share the token's `kid`.
    AmbiguousKey,
    /// The key named by `kid` is for another algorithm.
    KeyAlgorithmMismatch,
    /// No `kid`, and several keys fit the algorithm.
    KeyIdRequired,
    /// The signature does not verify.
    BadSignature,
    /// A required claim is absent (`exp`, `iss`, or one the RFC 9068 profile requires).
    MissingClaim(&'static str),
    /// `iss` is not the configured issuer.
    IssuerMismatch,
    /// `aud` names none of the configured audiences.
    AudienceMismatch,
    /// The header `typ` is not `at+jwt` while the RFC 9068 check is on.
    TypMismatch,
    /// The application's claims type `C` does not deserialise from the payload.
    ClaimsShape,
    /// An API key of the right shape that no stored key matches.
    UnknownApiKey,
    /// The issuer's introspection endpoint says the token is not active (RFC 7662: expired,
    /// revoked, or never issued).
    Inactive,
    /// The token's key binding (`cnf`, RFC 7800) does not hold: a DPoP-bound token sent as a
    /// bearer token, an unbound token sent with the `DPoP` scheme, a proof by another key, or
    /// a binding this server cannot check.
    KeyBinding,
}

impl TokenInvalidReason {
    /// The stable snake_case identifier, e.g. `"bad_signature"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenInvalidReason::TooLarge => "too_large",
            TokenInvalidReason::Malformed => "malformed",
            TokenInvalidReason::Unsigned => "unsigned",
            TokenInvalidReason::UnsupportedHeader => "unsupported_header",
            TokenInvalidReason::AlgorithmNotAllowed => "algorithm_not_allowed",
            TokenInvalidReason::UnknownKey => "unknown_key",
            TokenInvalidReason::AmbiguousKey => "ambiguous_key",
            TokenInvalidReason::KeyAlgorithmMismatch => "key_algorithm_mismatch",
            TokenInvalidReason::KeyIdRequired => "key_id_required",
            TokenInvalidReason::BadSignature => "bad_signature",
            TokenInvalidReason::MissingClaim(_) => "missing_claim",
            TokenInvalidReason::IssuerMismatch => "issuer_mismatch",
            TokenInvalidReason::AudienceMismatch => "audience_mismatch",
            TokenInvalidReason::TypMismatch => "typ_mismatch",
            TokenInvalidReason::Inactive => "inactive",
            TokenInvalidReason::ClaimsShape => "claims_shape",
            TokenInvalidReason::UnknownApiKey => "unknown_api_key",
            TokenInvalidReason::KeyBinding => "key_binding",
        }
    }
}

impl fmt::Display for TokenInvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenInvalidReason::MissingClaim(claim) => write!(f, "missing_claim ({claim})"),
            other => f.write_str(other.as_str()),
        }
    }
}

type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An authentication or authorization failure.
///
/// Cheap to create on the hot path (the message is usually `&'static str`) and cheap to clone
/// (the cause is shared), so one failure can be handed to every extractor of a request.
/// `Display` gives the client-safe message; the underlying cause, if any, is available via
/// [`source`](std::error::Error::source). An error describes what went wrong, never how to
/// answer: response headers (cookies to clear, caching) belong to the per-request state in
/// [`adapter`](crate::adapter).
#[derive(Clone)]
pub struct AuthError {
    code: ErrorCode,
    message: Cow<'static, str>,
    /// Why, for `token_invalid`.
    reason: Option<TokenInvalidReason>,
    /// Scopes or permissions that would have been sufficient (for `insufficient_scope`).
    required_scope: Option<Box<str>>,
    /// Seconds the client should wait before retrying, when known.
    retry_after: Option<u64>,
    /// What the challenge needs besides the code: the scheme the error concerns, step-up
    /// parameters (boxed: rare, and errors travel by value on the hot path).
    challenge: Option<Box<ChallengeParams>>,
    source: Option<SharedError>,
}

/// The parts of a challenge an error carries besides its code and message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ChallengeParams {
    /// The error concerns the `DPoP` scheme (the request used it, or its proof failed).
    dpop: bool,
    /// RFC 9470 `acr_values`: the authentication context classes that would do.
    acr_values: Option<Box<str>>,
    /// RFC 9470 `max_age`: the largest authentication age, in seconds, that would do.
    max_age: Option<u64>,
}

/// What an application's challenges offer besides the error: the realm, the accepted schemes
/// and the RFC 9728 metadata URL. Built by the [`Authenticator`](crate::Authenticator) from its
/// configuration.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChallengeContext<'a> {
    pub(crate) realm: Option<&'a str>,
    /// `Bearer` is accepted (not when DPoP is required).
    pub(crate) bearer: bool,
    /// `DPoP` is accepted, with these proof algorithms (space-separated).
    pub(crate) dpop_algs: Option<&'a str>,
    /// RFC 9728 `resource_metadata`.
    pub(crate) resource_metadata: Option<&'a str>,
}

impl AuthError {
    /// Creates an error with a client-safe message.
    #[must_use]
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        AuthError {
            code,
            message: message.into(),
            reason: None,
            required_scope: None,
            retry_after: None,
            challenge: None,
            source: None,
        }
    }

    /// An `insufficient_user_authentication` error (RFC 9470): the caller must authenticate
    /// again, more recently ([`with_max_age`](Self::with_max_age)) or more strongly
    /// ([`with_acr_values`](Self::with_acr_values)).
    ///
    /// ```
    /// use auth_core::AuthError;
    /// let e = AuthError::insufficient_user_authentication("a more recent sign-in is required")
    ///     .with_max_age(60);
    /// assert_eq!(
    ///     e.www_authenticate(None).as_deref(),
    ///     Some(r#"Bearer error="insufficient_user_authentication", error_description="a more recent sign-in is required", max_age="60""#)
    /// );
    /// ```
    #[must_use]
    pub fn insufficient_user_authentication(message: impl Into<Cow<'static, str>>) -> Self {
        AuthError::new(ErrorCode::InsufficientUserAuthentication, message)
    }

    /// Names the authentication context classes (space-separated, in order of preference) that
    /// would satisfy the request: the RFC 9470 `acr_values` challenge attribute, and what the
    /// login route asks the provider for.
    #[must_use]
    pub fn with_acr_values(mut self, acr_values: impl Into<String>) -> Self {
        self.challenge.get_or_insert_default().acr_values = Some(acr_values.into().into());
        self
    }

    /// Names the largest authentication age, in seconds, that would satisfy the request: the
    /// RFC 9470 `max_age` challenge attribute.
    #[must_use]
    pub fn with_max_age(mut self, seconds: u64) -> Self {
        self.challenge.get_or_insert_default().max_age = Some(seconds);
        self
    }

    /// The RFC 9470 `acr_values` of an `insufficient_user_authentication` error.
    #[must_use]
    pub fn acr_values(&self) -> Option<&str> {
        self.challenge.as_ref()?.acr_values.as_deref()
    }

    /// The RFC 9470 `max_age` of an `insufficient_user_authentication` error.
    #[must_use]
    pub fn max_age(&self) -> Option<u64> {
        self.challenge.as_ref()?.max_age
    }

    /// Marks the error as one of the `DPoP` scheme: its challenge attributes go on the `DPoP`
    /// challenge.
    #[must_use]
    pub(crate) fn for_dpop(mut self) -> Self {
        if !self.is_dpop() {
            self.challenge.get_or_insert_default().dpop = true;
        }
        self
    }

    /// Whether the error concerns the `DPoP` scheme.
    #[must_use]
    pub(crate) fn is_dpop(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce
        ) || self.challenge.as_ref().is_some_and(|c| c.dpop)
    }

    /// A `token_invalid` error with its reason.
    #[must_use]
    pub fn invalid_token(
        reason: TokenInvalidReason,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        let mut e = AuthError::new(ErrorCode::TokenInvalid, message);
        e.reason = Some(reason);
        e
    }

    /// Attaches the underlying cause (kept out of the client-facing message).
    #[must_use]
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(Arc::from(source.into()));
        self
    }

    /// Why a `token_invalid` error happened (`None` for other codes).
    ///
    /// ```
    /// use auth_core::{AuthError, TokenInvalidReason};
    /// let e = AuthError::invalid_token(TokenInvalidReason::BadSignature, "token signature is invalid");
    /// assert_eq!(e.reason(), Some(TokenInvalidReason::BadSignature));
    /// assert_eq!(e.reason().map(|r| r.as_str()), Some("bad_signature"));
    /// ```
    #[must_use]
    pub fn reason(&self) -> Option<TokenInvalidReason> {
        self.reason
    }

    /// Records the scope(s) that would have been sufficient; rendered as the RFC 6750 `scope`
    /// attribute of an `insufficient_scope` challenge.
    #[must_use]
    pub fn with_required_scope(mut self, scope: impl Into<String>) -> Self {
        self.required_scope = Some(scope.into().into_boxed_str());
        self
    }

    /// Suggests a `Retry-After` delay in seconds (used with 503 and 429).
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The stable error code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Whether this error has the given code.
    #[must_use]
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code
    }

    /// The HTTP status for this error (see [`ErrorCode::status`]).
    #[must_use]
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// Whether the same request may succeed later (see [`ErrorCode::is_retryable`]).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        self.code.is_retryable()
    }

    /// The client-safe message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The scope(s) that would have been sufficient, for `permission_denied`.
    #[must_use]
    pub fn required_scope(&self) -> Option<&str> {
        self.required_scope.as_deref()
    }

    /// The suggested `Retry-After` delay in seconds, when known.
    #[must_use]
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
            .or_else(|| self.code.is_retryable().then_some(DEFAULT_RETRY_AFTER_SECS))
    }

    /// The RFC 6750 `WWW-Authenticate` challenge for this error, or `None` when the status is
    /// not an authentication challenge (5xx, 429).
    ///
    /// `realm` is optional. Without a credential the challenge carries no `error` attribute
    /// (RFC 6750 §3.1). Attribute values are restricted to the characters RFC 6750 allows, so a
    /// message can never inject a header.
    ///
    /// ```
    /// use auth_core::{AuthError, ErrorCode};
    /// let e = AuthError::new(ErrorCode::TokenExpired, "token expired");
    /// assert_eq!(
    ///     e.www_authenticate(Some("api")).as_deref(),
    ///     Some(r#"Bearer realm="api", error="invalid_token", error_description="token expired""#)
    /// );
    /// let e = AuthError::new(ErrorCode::TokenMissing, "no credential");
    /// assert_eq!(e.www_authenticate(None).as_deref(), Some("Bearer"));
    /// ```
    #[must_use]
    pub fn www_authenticate(&self, realm: Option<&str>) -> Option<String> {
        self.challenge(&ChallengeContext {
            realm,
            bearer: true,
            ..ChallengeContext::default()
        })
    }

    /// The `WWW-Authenticate` value for this error in an application that accepts the schemes of
    /// `ctx`: one challenge per scheme, comma-separated, the one the error concerns first and
    /// alone carrying the error's attributes (RFC 9110 §11.6.1, RFC 9449 §7.1).
    pub(crate) fn challenge(&self, ctx: &ChallengeContext<'_>) -> Option<String> {
        let status = self.status();
        if !matches!(status, 400 | 401 | 403) {
            return None;
        }
        let error = self.code.bearer_error();
        if error.is_none() && self.code != ErrorCode::TokenMissing {
            return None;
        }
        // RFC 9449's own codes belong to the `DPoP` scheme even where the context does not
        // name it (the public helpers); a token error of a DPoP request goes there when DPoP
        // is accepted.
        let dpop_code = matches!(
            self.code,
            ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce
        );
        let dpop_first = dpop_code || (ctx.dpop_algs.is_some() && (self.is_dpop() || !ctx.bearer));
        let mut schemes: [Option<&str>; 2] = [None, None];
        if dpop_first {
            schemes[0] = Some("DPoP");
            schemes[1] = (ctx.bearer && ctx.dpop_algs.is_some()).then_some("Bearer");
        } else {
            schemes[0] = Some("Bearer");
            schemes[1] = ctx.dpop_algs.map(|_| "DPoP");
        }
        let mut out = String::new();
        for (i, scheme) in schemes.into_iter().flatten().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(scheme);
            let mut sep = " ";
            let mut attr = |out: &mut String, name: &str, value: &str| {
                out.push_str(sep);
                out.push_str(name);
                out.push_str("=\"");
                push_quoted_safe(out, value);
                out.push('"');
                sep = ", ";
            };
            if let Some(realm) = ctx.realm {
                attr(&mut out, "realm", realm);
            }
            if i == 0
                && let Some(error) = error
            {
                attr(&mut out, "error", error);
                attr(&mut out, "error_description", &self.message);
                if let Some(scope) = &self.required_scope {
                    attr(&mut out, "scope", scope);
                }
                if let Some(acr) = self.acr_values() {
                    attr(&mut out, "acr_values", acr);
                }
                if let Some(max_age) = self.max_age() {
                    attr(&mut out, "max_age", &max_age.to_string());
                }
            }
            if scheme == "DPoP"
                && let Some(algs) = ctx.dpop_algs
            {
                attr(&mut out, "algs", algs);
            }
            if let Some(url) = ctx.resource_metadata {
                attr(&mut out, "resource_metadata", url);
            }
        }
        Some(out)
    }

    /// The JSON error body adapters send: `{"error":{"code":"…","message":"…"}}`.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code.as_str(), "message": &*self.message } })
    }
}

/// Default `Retry-After` for retryable errors, in seconds.
const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// Appends `value`, keeping only the characters RFC 6750 §3 allows inside a quoted attribute
/// (%x20-21 / %x23-5B / %x5D-7E); `"` becomes `'`, anything else is dropped.
fn push_quoted_safe(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '"' => out.push('\''),
            '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E' => out.push(ch),
            _ => {}
        }
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AuthError");
        d.field("code", &self.code).field("message", &self.message);
        if let Some(reason) = &self.reason {
            d.field("reason", reason);
        }
        if let Some(scope) = &self.required_scope {
            d.field("required_scope", scope);
        }
        if let Some(challenge) = &self.challenge {
            d.field("challenge", challenge);
        }
        if let Some(source) = &self.source {
            d.field("source", &format_args!("{source}"));
        }
        d.finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {code}");
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
        }
        assert_eq!("nope".parse::<ErrorCode>(), Err(UnknownErrorCode));
    }

    #[test]
    fn errors_clone_with_their_source_and_reason() {
        let e = AuthError::invalid_token(TokenInvalidReason::ClaimsShape, "bad shape")
            .with_source(std::io::Error::other("detail"));
        let copy = e.clone();
        assert_eq!(copy.reason(), Some(TokenInvalidReason::ClaimsShape));
        assert_eq!(
            std::error::Error::source(&copy).map(ToString::to_string),
            Some("detail".to_owned())
        );
    }

    #[test]
    fn statuses_follow_the_taxonomy() {
        assert_eq!(ErrorCode::TokenMissing.status(), 401);
        assert_eq!(ErrorCode::TokenInvalid.status(), 401);
        assert_eq!(ErrorCode::PermissionDenied.status(), 403);
        assert_eq!(ErrorCode::JwksUnavailable.status(), 503);
        assert_eq!(ErrorCode::JwksFetchFailed.status(), 503);
        assert_eq!(ErrorCode::DiscoveryFailed.status(), 503);
        assert_eq!(ErrorCode::RateLimited.status(), 429);
        assert_eq!(ErrorCode::ConfigInvalid.status(), 500);
        assert!(ErrorCode::JwksUnavailable.is_retryable());
        assert!(!ErrorCode::TokenExpired.is_retryable());
    }

    #[test]
    fn challenge_has_no_error_without_credentials() {
        let e = AuthError::new(ErrorCode::TokenMissing, "missing");
        assert_eq!(
            e.www_authenticate(Some("x")).as_deref(),
            Some("Bearer realm=\"x\"")
        );
    }

    #[test]
    fn challenge_for_insufficient_scope_names_the_scope() {
        let e = AuthError::new(ErrorCode::PermissionDenied, "missing scope")
            .with_required_scope("write:all");
        assert_eq!(
            e.www_authenticate(None).as_deref(),
            Some(
                r#"Bearer error="insufficient_scope", error_description="missing scope", scope="write:all""#
            )
        );
    }

    #[test]
    fn challenge_values_cannot_inject_headers() {
        let e = AuthError::new(ErrorCode::TokenInvalid, "a\"b\r\nSet-Cookie: x\\y\u{e9}");
        let h = e.www_authenticate(None).unwrap_or_default();
        assert!(!h.contains('\r') && !h.contains('\n') && !h.contains('\\'));
        assert!(h.contains("a'bSet-Cookie: xy"));
    }

    #[test]
    fn challenges_name_both_schemes_with_the_error_on_the_one_it_concerns() {
        let ctx = ChallengeContext {
            realm: None,
            bearer: true,
            dpop_algs: Some("ES256 EdDSA"),
            resource_metadata: Some("https://api.example.com/.well-known/oauth-protected-resource"),
        };
        let e = AuthError::new(ErrorCode::InvalidDpopProof, "replayed");
        assert_eq!(
            e.challenge(&ctx).as_deref(),
            Some(
                r#"DPoP error="invalid_dpop_proof", error_description="replayed", algs="ES256 EdDSA", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#
            )
        );
        let e = AuthError::new(ErrorCode::TokenExpired, "expired");
        let c = e.challenge(&ctx).unwrap_or_default();
        assert!(c.starts_with(r#"Bearer error="invalid_token""#), "{c}");
        assert!(c.contains(r#", DPoP algs="ES256 EdDSA""#), "{c}");
        let required = ChallengeContext {
            bearer: false,
            ..ctx
        };
        let c = e.challenge(&required).unwrap_or_default();
        assert!(
            c.starts_with(r#"DPoP error="invalid_token""#) && !c.contains("Bearer"),
            "{c}"
        );
        let e = AuthError::insufficient_user_authentication("older")
            .with_acr_values("mfa")
            .with_max_age(60);
        assert_eq!(
            e.www_authenticate(None).as_deref(),
            Some(
                r#"Bearer error="insufficient_user_authentication", error_description="older", acr_values="mfa", max_age="60""#
            )
        );
    }

    #[test]
    fn dpop_codes_are_dpop_challenges_even_from_the_public_helper() {
        let e = AuthError::new(ErrorCode::UseDpopNonce, "nonce");
        assert_eq!(
            e.www_authenticate(None).as_deref(),
            Some(r#"DPoP error="use_dpop_nonce", error_description="nonce""#)
        );
    }

    #[test]
    fn no_challenge_for_server_errors() {
        let e = AuthError::new(ErrorCode::JwksUnavailable, "down");
        assert_eq!(e.www_authenticate(None), None);
        assert_eq!(e.retry_after(), Some(DEFAULT_RETRY_AFTER_SECS));
    }
}
