//! Session refresh: one token-endpoint exchange per refresh token in this process, and a short
//! grace window for requests racing it.
//!
//! - **Single flight.** Concurrent requests carrying the same expired session share one
//!   refresh (a page loading its data sends several at once; a second exchange would replay a
//!   rotated refresh token, which providers with reuse detection answer by revoking the
//!   session). The exchange runs as its own task: a client that disconnects does not abandon a
//!   rotation the provider may already have performed.
//! - **Grace window.** A finished success is kept, keyed by the refresh token it used, for
//!   [`SessionConfigBuilder::refresh_grace`](super::SessionConfigBuilder::refresh_grace)
//!   (5 s by default): a request that left the browser before the new cookies arrived gets the
//!   same new tokens.
//! - **Only the newest state.** The entry is dropped as soon as the session refreshes again
//!   (its result's refresh token is itself used) or signs out, so a replay of superseded
//!   cookies reaches the provider, and its reuse detection.
//! - **Failures are never shared after they finish**: after a transient error the next
//!   request tries the provider again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use futures_util::future::{BoxFuture, Shared};

use super::oauth::{self, TokenResponse};
use crate::authenticator::Authenticator;
use crate::error::{AuthError, ErrorCode};
use crate::flight::{lock, spawn_shared};

type SharedRefresh = Shared<BoxFuture<'static, Result<TokenResponse, AuthError>>>;

/// Refreshes in flight or just finished, by refresh-token digest.
#[derive(Default)]
pub(crate) struct RefreshCache {
    entries: Mutex<HashMap<[u8; 32], (Instant, SharedRefresh)>>,
}

fn digest(s: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Whether a finished entry handed out `rt` as the session's new refresh token.
fn handed_out(fut: &SharedRefresh, rt: &str) -> bool {
    matches!(fut.peek(), Some(Ok(t)) if t.refresh_token.as_deref() == Some(rt))
}

impl Authenticator {
    /// Refreshes with `rt`, one exchange per refresh token in this process.
    ///
    /// # Errors
    /// As the token endpoint's: `invalid_grant` when the session is over, 503 for now.
    pub(crate) async fn refresh_tokens(&self, rt: &str) -> Result<TokenResponse, AuthError> {
        let Some(sessions) = &self.inner.sessions else {
            return Err(crate::session::not_configured());
        };
        let key = digest(rt);
        let shared = {
            let mut map = lock(&sessions.refreshes.entries);
            let now = Instant::now();
            let grace = sessions.config.refresh_grace;
            // Keep refreshes in flight, and successes within the grace window. A failure is never
            // reused: after a transient error the next request must try the provider again.
            map.retain(|_, (at, fut)| match fut.peek() {
                None => true,
                Some(Ok(_)) => now.duration_since(*at) < grace,
                Some(Err(_)) => false,
            });
            match map.get(&key) {
                Some((_, fut)) => fut.clone(),
                None => {
                    // A refresh with `rt` means the session moved past the result that handed
                    // `rt` out: that older result is no longer the session's newest state, so a
                    // replay of the cookies before it must reach the provider (and its reuse
                    // detection) instead of being served from the grace window.
                    map.retain(|_, (_, fut)| !handed_out(fut, rt));
                    let this = self.clone();
                    let rt = rt.to_owned();
                    let task = async move { this.exchange_refresh_token(&rt).await };
                    let shared = spawn_shared(task, |_| {
                        AuthError::new(ErrorCode::Unknown, "the refresh was interrupted")
                    });
                    map.insert(key, (now, shared.clone()));
                    shared
                }
            }
        };
        shared.await
    }

    async fn exchange_refresh_token(&self, rt: &str) -> Result<TokenResponse, AuthError> {
        let Some(sessions) = &self.inner.sessions else {
            return Err(crate::session::not_configured());
        };
        let metadata = self.inner.verifier.provider_metadata().await?;
        let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
        let http = self.inner.verifier.http();
        let result = oauth::token_request(&*http, &sessions.config, &metadata, &form).await;
        crate::metrics::session_refresh(&result);
        result
    }

    /// Drops every shared refresh result that involves `rt`: the entry for `rt` itself and any
    /// entry whose result handed `rt` out (a session signs out with the newest refresh token,
    /// while the grace window keys results by the previous one).
    pub(crate) fn forget_refreshes(&self, rt: &str) {
        let Some(sessions) = &self.inner.sessions else {
            return;
        };
        let key = digest(rt);
        lock(&sessions.refreshes.entries).retain(|k, (_, fut)| *k != key && !handed_out(fut, rt));
    }
}
