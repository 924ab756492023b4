//! Authorization codes, grants (one per sign-in) and refresh token families.
//!
//! A [`Grant`] is what the user approved at one sign-in: its subject, client, scope and
//! audiences. Its authorization code, every refresh token rotated from the first one and the
//! access tokens issued along the way form one family: revoking the grant revokes them all.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use crate::pkce;
use crate::token::{random_b64, random_hex};

/// How long an authorization code can be redeemed.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// How long a used or expired code is remembered, so that a late replay is still detected.
const CODE_MEMORY: Duration = Duration::from_secs(600);

/// Why a grant operation was refused: an OAuth error code and a description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Denied {
    pub(crate) error: &'static str,
    pub(crate) description: &'static str,
}

const fn invalid_grant(description: &'static str) -> Denied {
    Denied {
        error: "invalid_grant",
        description,
    }
}

/// What the user approved at one sign-in.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// The session id, also the `sid` claim of ID tokens.
    pub(crate) sid: String,
    pub(crate) sub: String,
    pub(crate) client_id: String,
    /// Granted scope values, in request order.
    pub(crate) scope: Vec<String>,
    /// Requested audiences (`resource` or `audience`); empty means the issuer's default.
    pub(crate) audiences: Vec<String>,
    /// Unix time of the sign-in.
    pub(crate) auth_time: i64,
    revoked: bool,
    /// Access tokens issued under this grant: `jti` and `exp`.
    access_tokens: Vec<(String, i64)>,
}

/// A new sign-in, as the authorization endpoint saw it.
#[derive(Debug)]
pub(crate) struct NewGrant {
    pub(crate) sub: String,
    pub(crate) client_id: String,
    pub(crate) scope: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) auth_time: i64,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) nonce: Option<String>,
}

struct Code {
    sid: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    expires: Instant,
    used: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshState {
    Active,
    /// Exchanged for a newer token: presenting it again is a replay.
    Rotated,
}

struct Refresh {
    sid: String,
    client_id: String,
    expires: Instant,
    state: RefreshState,
}

/// The issuer's grant state. Nothing here is secret from tests, but `Debug` prints counts
/// only: codes and refresh tokens are credentials.
#[derive(Default)]
pub(crate) struct Grants {
    grants: HashMap<String, Grant>,
    codes: HashMap<String, Code>,
    refresh: HashMap<String, Refresh>,
    /// Revoked access tokens: `jti` to `exp`, forgotten once expired.
    revoked_access: HashMap<String, i64>,
    /// Client assertion ids seen (`client id \0 jti`) to when they may be forgotten.
    assertion_ids: HashMap<String, i64>,
    refresh_issued: u64,
}

impl fmt::Debug for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grants")
            .field("grants", &self.grants.len())
            .field("codes", &self.codes.len())
            .field("refresh_tokens", &self.refresh.len())
            .field("revoked_access_tokens", &self.revoked_access.len())
            .finish()
    }
}

impl Grants {
    /// Records a sign-in and returns its single-use authorization code.
    pub(crate) fn authorize(&mut self, new: NewGrant, now: Instant) -> String {
        self.codes
            .retain(|_, code| now < code.expires + CODE_MEMORY);
        let sid = random_hex(16);
        let code = random_b64(32);
        self.codes.insert(
            code.clone(),
            Code {
                sid: sid.clone(),
                redirect_uri: new.redirect_uri,
                code_challenge: new.code_challenge,
                nonce: new.nonce,
                expires: now + CODE_LIFETIME,
                used: false,
            },
        );
        self.grants.insert(
            sid.clone(),
            Grant {
                sid,
                sub: new.sub,
                client_id: new.client_id,
                scope: new.scope,
                audiences: new.audiences,
                auth_time: new.auth_time,
                revoked: false,
                access_tokens: Vec::new(),
            },
        );
        code
    }

    /// Redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6): returns the grant and
    /// the `nonce` of the authorization request.
    ///
    /// Any attempt uses the code up, successful or not. A second attempt revokes everything
    /// issued under the grant (RFC 6749 §4.1.2).
    pub(crate) fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: &str,
        now: Instant,
    ) -> Result<(Grant, Option<String>), Denied> {
        let Some(record) = self.codes.get_mut(code) else {
            return Err(invalid_grant("unknown authorization code"));
        };
        if record.used {
            let sid = record.sid.clone();
            self.revoke_grant(&sid);
            return Err(invalid_grant(
                "authorization code already used; the tokens issued for it are revoked",
            ));
        }
        record.used = true;
        if now >= record.expires {
            return Err(invalid_grant("authorization code expired"));
        }
        let Some(grant) = self.grants.get(&record.sid) else {
            return Err(invalid_grant("unknown authorization code"));
        };
        if grant.client_id != client_id {
            return Err(invalid_grant(
                "authorization code was issued to another client",
            ));
        }
        if record.redirect_uri != redirect_uri {
            return Err(invalid_grant(
                "redirect_uri differs from the one in the authorization request",
            ));
        }
        if !pkce::verify(code_verifier, &record.code_challenge) {
            return Err(invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        if grant.revoked {
            return Err(invalid_grant("the grant was revoked"));
        }
        Ok((grant.clone(), record.nonce.clone()))
    }

    /// Uses up an active refresh token (RFC 6749 §6) and returns its grant. Presenting a
    /// token that was already rotated revokes the whole family (RFC 9700 §4.14.2).
    ///
    /// `check` sees the grant of a token that is otherwise fine; if it refuses, the token
    /// stays active.
    pub(crate) fn use_refresh_token(
        &mut self,
        token: &str,
        client_id: &str,
        now: Instant,
        check: impl FnOnce(&Grant) -> Result<(), Denied>,
    ) -> Result<Grant, Denied> {
        let Some(record) = self.refresh.get_mut(token) else {
            return Err(invalid_grant("unknown refresh token"));
        };
        if record.client_id != client_id {
            return Err(invalid_grant("refresh token was issued to another client"));
        }
        let sid = record.sid.clone();
        let Some(grant) = self.grants.get(&sid) else {
            return Err(invalid_grant("unknown refresh token"));
        };
        if grant.revoked {
            return Err(invalid_grant("refresh token revoked"));
        }
        if record.state == RefreshState::Rotated {
            self.revoke_grant(&sid);
            return Err(invalid_grant(
                "refresh token already used; every token of its family is revoked",
            ));
        }
        if now >= record.expires {
            return Err(invalid_grant("refresh token expired"));
        }
        check(grant)?;
        record.state = RefreshState::Rotated;
        Ok(grant.clone())
    }

    /// Issues a refresh token for the grant `sid`, valid for `ttl`.
    pub(crate) fn issue_refresh_token(&mut self, sid: &str, ttl: Duration, now: Instant) -> String {
        self.refresh.retain(|_, record| now < record.expires);
        let token = random_b64(32);
        let client_id = self
            .grants
            .get(sid)
            .map(|grant| grant.client_id.clone())
            .unwrap_or_default();
        self.refresh.insert(
            token.clone(),
            Refresh {
                sid: sid.to_owned(),
                client_id,
                expires: now + ttl,
                state: RefreshState::Active,
            },
        );
        self.refresh_issued += 1;
        token
    }

    /// Remembers an access token issued under the grant `sid`, to revoke it with the grant.
    pub(crate) fn record_access_token(&mut self, sid: &str, jti: &str, exp: i64) {
        if let Some(grant) = self.grants.get_mut(sid) {
            grant.access_tokens.push((jti.to_owned(), exp));
        }
    }

    /// Revokes the grant `sid`: its refresh tokens and access tokens stop working.
    pub(crate) fn revoke_grant(&mut self, sid: &str) {
        if let Some(grant) = self.grants.get_mut(sid) {
            grant.revoked = true;
            for (jti, exp) in grant.access_tokens.drain(..) {
                self.revoked_access.insert(jti, exp);
            }
        }
    }

    /// Revokes the family of a refresh token (RFC 7009 §2.1). Unknown tokens are ignored;
    /// a token of another client is refused.
    pub(crate) fn revoke_refresh_token(
        &mut self,
        token: &str,
        client_id: &str,
    ) -> Result<bool, Denied> {
        let Some(record) = self.refresh.get(token) else {
            return Ok(false);
        };
        if record.client_id != client_id {
            return Err(Denied {
                error: "unauthorized_client",
                description: "the token was issued to another client",
            });
        }
        let sid = record.sid.clone();
        self.revoke_grant(&sid);
        Ok(true)
    }

    /// Marks an access token as revoked until it expires.
    pub(crate) fn revoke_access_token(&mut self, jti: &str, exp: i64, now: i64) {
        self.revoked_access.retain(|_, &mut exp| exp > now);
        self.revoked_access.insert(jti.to_owned(), exp);
    }

    /// Records a client assertion's id until `until`; `false` when it was seen before.
    pub(crate) fn use_assertion_id(&mut self, id: &str, until: i64, now: i64) -> bool {
        self.assertion_ids.retain(|_, &mut until| until > now);
        self.assertion_ids.insert(id.to_owned(), until).is_none()
    }

    pub(crate) fn is_access_token_revoked(&self, jti: &str) -> bool {
        self.revoked_access.contains_key(jti)
    }

    /// Whether the grant `sid` exists and was revoked.
    #[cfg(test)]
    pub(crate) fn is_grant_revoked(&self, sid: &str) -> bool {
        self.grants.get(sid).is_some_and(|grant| grant.revoked)
    }

    /// Revokes every grant of `sub`; returns how many refresh tokens were active.
    pub(crate) fn revoke_subject(&mut self, sub: &str, now: Instant) -> usize {
        let sids: Vec<String> = self
            .grants
            .values()
            .filter(|grant| grant.sub == sub && !grant.revoked)
            .map(|grant| grant.sid.clone())
            .collect();
        let active = self.active_refresh_tokens(now, |grant| grant.sub == sub);
        for sid in sids {
            self.revoke_grant(&sid);
        }
        active
    }

    /// Refresh tokens that would be accepted now, among grants matching `filter`.
    pub(crate) fn active_refresh_tokens(
        &self,
        now: Instant,
        filter: impl Fn(&Grant) -> bool,
    ) -> usize {
        self.refresh
            .values()
            .filter(|record| record.state == RefreshState::Active && now < record.expires)
            .filter(|record| {
                self.grants
                    .get(&record.sid)
                    .is_some_and(|grant| !grant.revoked && filter(grant))
            })
            .count()
    }

    /// Refresh tokens issued since start.
    pub(crate) fn refresh_tokens_issued(&self) -> u64 {
        self.refresh_issued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "http://app/cb";

    #[allow(
        clippy::unnecessary_wraps,
        reason = "the shape `use_refresh_token` wants"
    )]
    fn ok(_: &Grant) -> Result<(), Denied> {
        Ok(())
    }

    fn new_grant() -> NewGrant {
        NewGrant {
            sub: "alice".into(),
            client_id: "app".into(),
            scope: vec!["openid".into()],
            audiences: Vec::new(),
            auth_time: 0,
            redirect_uri: REDIRECT.into(),
            code_challenge: CHALLENGE.into(),
            nonce: Some("n-1".into()),
        }
    }

    #[test]
    fn code_is_single_use_and_replay_revokes_the_family() {
        let mut grants = Grants::default();
        let now = Instant::now();
        let code = grants.authorize(new_grant(), now);
        let (grant, nonce) = grants
            .redeem_code(&code, "app", REDIRECT, VERIFIER, now)
            .expect("first use");
        assert_eq!(nonce.as_deref(), Some("n-1"));
        let refresh = grants.issue_refresh_token(&grant.sid, Duration::from_secs(60), now);
        grants.record_access_token(&grant.sid, "jti-1", i64::MAX);
        assert_eq!(grants.active_refresh_tokens(now, |_| true), 1);

        let replay = grants.redeem_code(&code, "app", REDIRECT, VERIFIER, now);
        assert_eq!(replay.expect_err("replay").error, "invalid_grant");
        assert_eq!(grants.active_refresh_tokens(now, |_| true), 0);
        assert!(grants.is_access_token_revoked("jti-1"));
        assert!(grants.use_refresh_token(&refresh, "app", now, ok).is_err());
    }

    #[test]
    fn code_checks() {
        let mut grants = Grants::default();
        let now = Instant::now();
        for (client, redirect, verifier) in [
            ("other", REDIRECT, VERIFIER),
            ("app", "http://app/cb2", VERIFIER),
            ("app", REDIRECT, "x"),
        ] {
            let code = grants.authorize(new_grant(), now);
            let denied = grants
                .redeem_code(&code, client, redirect, verifier, now)
                .expect_err("refused");
            assert_eq!(denied.error, "invalid_grant");
            // Used up even though it failed.
            assert!(
                grants
                    .redeem_code(&code, "app", REDIRECT, VERIFIER, now)
                    .is_err()
            );
        }
        let code = grants.authorize(new_grant(), now);
        let later = now + CODE_LIFETIME;
        let denied = grants
            .redeem_code(&code, "app", REDIRECT, VERIFIER, later)
            .expect_err("expired");
        assert_eq!(denied.description, "authorization code expired");
    }

    #[test]
    fn refresh_rotation_and_reuse() {
        let mut grants = Grants::default();
        let now = Instant::now();
        let code = grants.authorize(new_grant(), now);
        let (grant, _) = grants
            .redeem_code(&code, "app", REDIRECT, VERIFIER, now)
            .expect("code");
        let ttl = Duration::from_secs(60);
        let first = grants.issue_refresh_token(&grant.sid, ttl, now);
        assert!(grants.use_refresh_token(&first, "other", now, ok).is_err());
        grants
            .use_refresh_token(&first, "app", now, ok)
            .expect("first use");
        let second = grants.issue_refresh_token(&grant.sid, ttl, now);
        assert_eq!(grants.active_refresh_tokens(now, |_| true), 1);
        // Replaying the first revokes the second as well.
        assert!(grants.use_refresh_token(&first, "app", now, ok).is_err());
        assert!(grants.use_refresh_token(&second, "app", now, ok).is_err());
        assert_eq!(grants.refresh_tokens_issued(), 2);
        assert!(grants.is_grant_revoked(&grant.sid));
    }

    #[test]
    fn a_refused_check_keeps_the_token_active() {
        let mut grants = Grants::default();
        let now = Instant::now();
        let code = grants.authorize(new_grant(), now);
        let (grant, _) = grants
            .redeem_code(&code, "app", REDIRECT, VERIFIER, now)
            .expect("code");
        let token = grants.issue_refresh_token(&grant.sid, Duration::from_secs(60), now);
        let refuse = |_: &Grant| {
            Err(Denied {
                error: "invalid_scope",
                description: "no",
            })
        };
        let denied = grants
            .use_refresh_token(&token, "app", now, refuse)
            .expect_err("refused");
        assert_eq!(denied.error, "invalid_scope");
        grants
            .use_refresh_token(&token, "app", now, ok)
            .expect("still active");
    }

    #[test]
    fn refresh_expiry() {
        let mut grants = Grants::default();
        let now = Instant::now();
        let code = grants.authorize(new_grant(), now);
        let (grant, _) = grants
            .redeem_code(&code, "app", REDIRECT, VERIFIER, now)
            .expect("code");
        let token = grants.issue_refresh_token(&grant.sid, Duration::from_secs(1), now);
        let denied = grants
            .use_refresh_token(&token, "app", now + Duration::from_secs(1), ok)
            .expect_err("expired");
        assert_eq!(denied.description, "refresh token expired");
    }

    #[test]
    fn debug_shows_no_credentials() {
        let mut grants = Grants::default();
        let now = Instant::now();
        let code = grants.authorize(new_grant(), now);
        let debug = format!("{grants:?}");
        assert!(!debug.contains(&code), "{debug}");
    }
}
