//! Issuer discovery: OpenID Connect Discovery 1.0 with an RFC 8414 fallback.
//!
//! Discovery is lazy: nothing is fetched until the first verification (or an explicit
//! [`Verifier::warm_up`](crate::Verifier::warm_up)). A service therefore starts while its
//! issuer is unreachable, answers `discovery_failed` (503) meanwhile, and recovers by itself: after
//! a failure the next attempt waits a short, growing backoff.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwapOption;
use serde::Deserialize;

use crate::config::JwksPolicy;
use crate::error::{AuthError, ErrorCode};
use crate::flight::{Backoff, FetchFailure, Flight, lock};
use crate::http::{HttpClient, HttpRequest, send};

/// An authorization server's metadata (the fields this SDK uses; the rest is kept in
/// [`ProviderMetadata::raw`]).
#[non_exhaustive]
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer identifier; equal to the configured issuer (checked).
    pub issuer: String,
    /// The key-set URL.
    pub jwks_uri: Option<String>,
    /// The authorization endpoint (login).
    pub authorization_endpoint: Option<String>,
    /// The token endpoint.
    pub token_endpoint: Option<String>,
    /// The userinfo endpoint.
    pub userinfo_endpoint: Option<String>,
    /// The RFC 7009 revocation endpoint.
    pub revocation_endpoint: Option<String>,
    /// The RP-initiated logout endpoint.
    pub end_session_endpoint: Option<String>,
    /// Whether the RFC 9207 `iss` authorization response parameter is sent.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// The whole document.
    #[serde(skip)]
    pub raw: serde_json::Value,
}

/// The two well-known URLs for an issuer: OIDC first (path appended), then RFC 8414 (path
/// after the well-known segment).
pub(crate) fn discovery_urls(issuer: &str) -> [String; 2] {
    let trimmed = issuer.trim_end_matches('/');
    let oidc = format!("{trimmed}/.well-known/openid-configuration");
    // Split "scheme://authority/path" into origin and path.
    let after_scheme = trimmed.find("://").map_or(0, |i| i + 3);
    let (origin, path) = match trimmed[after_scheme..].find('/') {
        Some(i) => trimmed.split_at(after_scheme + i),
        None => (trimmed, ""),
    };
    let rfc8414 = format!("{origin}/.well-known/oauth-authorization-server{path}");
    [oidc, rfc8414]
}

pub(crate) struct Discovery {
    issuer: String,
    http: Arc<dyn HttpClient>,
    policy: JwksPolicy,
    doc: ArcSwapOption<ProviderMetadata>,
    flight: Flight<Arc<ProviderMetadata>>,
    backoff: std::sync::Mutex<Backoff>,
}

impl Discovery {
    pub(crate) fn new(issuer: String, http: Arc<dyn HttpClient>, policy: JwksPolicy) -> Arc<Self> {
        Arc::new(Discovery {
            issuer,
            http,
            policy,
            doc: ArcSwapOption::empty(),
            flight: Flight::default(),
            backoff: std::sync::Mutex::default(),
        })
    }

    /// The metadata, fetching it when not yet known.
    pub(crate) async fn metadata(self: &Arc<Self>) -> Result<Arc<ProviderMetadata>, AuthError> {
        self.metadata_inner().await.map_err(|f| f.to_error())
    }

    pub(crate) async fn metadata_inner(
        self: &Arc<Self>,
    ) -> Result<Arc<ProviderMetadata>, FetchFailure> {
        if let Some(doc) = self.doc.load_full() {
            return Ok(doc);
        }
        // Join a running fetch, or start one unless backing off (one lock for both, so a failed
        // fetch ending meanwhile cannot let a second one start inside the backoff).
        let mut backing_off = None;
        let this = Arc::clone(self);
        let fetch = self.flight.join_or_start_if(
            || {
                backing_off = lock(&self.backoff).remaining(Instant::now());
                backing_off.is_none()
            },
            move || async move { this.fetch().await },
        );
        match fetch {
            Some(fetch) => fetch.await,
            None => Err(FetchFailure::new(
                ErrorCode::DiscoveryFailed,
                "the identity provider's discovery document is unavailable",
                format!(
                    "backing off for {:?} after failures",
                    backing_off.unwrap_or_default()
                ),
            )),
        }
    }

    /// The issuer identifier this document is for.
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    async fn fetch(self: Arc<Self>) -> Result<Arc<ProviderMetadata>, FetchFailure> {
        use tracing::Instrument as _;
        let started = crate::metrics::start();
        let span = tracing::info_span!("auth.fetch", kind = "discovery", issuer = %self.issuer);
        let result = self.fetch_once().instrument(span).await;
        crate::metrics::discovery_fetch(
            &self.issuer,
            result.as_ref().map(drop).map_err(|f| f.code),
            started,
        );
        let now = Instant::now();
        match &result {
            Ok(doc) => {
                lock(&self.backoff).succeeded();
                self.doc.store(Some(Arc::clone(doc)));
                tracing::info!(issuer = %self.issuer, jwks_uri = ?doc.jwks_uri, "discovered issuer metadata");
            }
            Err(f) => {
                lock(&self.backoff).failed(now, self.policy.min_backoff, self.policy.max_backoff);
                tracing::warn!(issuer = %self.issuer, code = f.code.as_str(), detail = %f.detail, "discovery failed");
            }
        }
        result
    }

    async fn fetch_once(&self) -> Result<Arc<ProviderMetadata>, FetchFailure> {
        let mut problems = Vec::new();
        for url in discovery_urls(&self.issuer) {
            let req = HttpRequest::get(&url, self.policy.fetch_timeout, self.policy.max_body)
                .header("accept", "application/json");
            let response = match send(&*self.http, req).await {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{url}: {e}"));
                    continue;
                }
            };
            if response.status != 200 {
                problems.push(format!("{url}: status {}", response.status));
                continue;
            }
            let raw: serde_json::Value = match serde_json::from_slice(&response.body) {
                Ok(v @ serde_json::Value::Object(_)) => v,
                _ => {
                    problems.push(format!("{url}: not a JSON object"));
                    continue;
                }
            };
            let mut doc: ProviderMetadata = match serde_json::from_value(raw.clone()) {
                Ok(doc) => doc,
                Err(e) => {
                    problems.push(format!("{url}: invalid metadata: {e}"));
                    continue;
                }
            };
            if doc.issuer != self.issuer {
                // A mismatch is a hard failure (RFC 8414 §3.3, OIDC Discovery §4.3): no fallback.
                return Err(FetchFailure::new(
                    ErrorCode::DiscoveryFailed,
                    "the discovery document names a different issuer",
                    format!(
                        "{url}: expected issuer {:?}, document says {:?}",
                        self.issuer, doc.issuer
                    ),
                ));
            }
            doc.raw = raw;
            return Ok(Arc::new(doc));
        }
        Err(FetchFailure::new(
            ErrorCode::DiscoveryFailed,
            "the identity provider's discovery document is unavailable",
            problems.join("; "),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::discovery_urls;

    #[test]
    fn well_known_urls_follow_both_specs() {
        assert_eq!(
            discovery_urls("https://idp.example.com"),
            [
                "https://idp.example.com/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            discovery_urls("https://idp.example.com/realms/main/"),
            [
                "https://idp.example.com/realms/main/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server/realms/main",
            ]
        );
    }
}
