//! Authorization guards: roles (any of), permissions, scopes and entitlements (all of), and
//! step-up rules (RFC 9470: how recently and how strongly the user authenticated), composable.

use crate::authenticator::CredentialKind;
use crate::claims::Claims;
use crate::error::{AuthError, ErrorCode};

/// A rule over verified claims. A failed rule is `permission_denied` (403); a failed scope rule
/// names the scopes in the RFC 6750 `insufficient_scope` challenge.
///
/// ```
/// use auth_core::Guard;
/// let editors = Guard::any_role(["admin", "editor"]).and(Guard::all_scopes(["articles:write"]));
/// # let _ = editors;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard(Rule);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    AnyRole(Vec<String>),
    AllPermissions(Vec<String>),
    AllScopes(Vec<String>),
    AllEntitlements(Vec<String>),
    Kind(CredentialKind),
    /// `auth_time` at most this many seconds ago.
    MaxAuthAge(u64),
    /// `acr` one of these.
    AnyAcr(Vec<String>),
    All(Vec<Guard>),
    Any(Vec<Guard>),
}

fn strings<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

impl Guard {
    /// At least one of these roles.
    pub fn any_role<I: IntoIterator<Item = S>, S: Into<String>>(roles: I) -> Guard {
        Guard(Rule::AnyRole(strings(roles)))
    }

    /// Every one of these permissions.
    pub fn all_permissions<I: IntoIterator<Item = S>, S: Into<String>>(permissions: I) -> Guard {
        Guard(Rule::AllPermissions(strings(permissions)))
    }

    /// Every one of these scopes.
    pub fn all_scopes<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Guard {
        Guard(Rule::AllScopes(strings(scopes)))
    }

    /// Every one of these entitlements (features).
    pub fn all_entitlements<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Guard {
        Guard(Rule::AllEntitlements(strings(items)))
    }

    /// Only callers with a JWT (people and OAuth clients), not API keys.
    #[must_use]
    pub fn jwt_only() -> Guard {
        Guard(Rule::Kind(CredentialKind::Jwt))
    }

    /// Only callers with an API key (machines), not JWTs.
    #[must_use]
    pub fn api_key_only() -> Guard {
        Guard(Rule::Kind(CredentialKind::ApiToken))
    }

    /// The user authenticated at most `max_age` ago (the token's `auth_time`; RFC 9470). A
    /// token without `auth_time`, or an older one, is refused with 401
    /// `insufficient_user_authentication` and `max_age` in the challenge: the client signs the
    /// user in again (the login route takes `max_age`) and retries.
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_core::Guard;
    /// // A recent sign-in, or a second factor.
    /// let sensitive = Guard::max_auth_age(Duration::from_secs(300))
    ///     .or(Guard::any_acr(["urn:example:mfa"]));
    /// # let _ = sensitive;
    /// ```
    #[must_use]
    pub fn max_auth_age(max_age: std::time::Duration) -> Guard {
        Guard(Rule::MaxAuthAge(max_age.as_secs()))
    }

    /// The user authenticated with one of these authentication context classes (the token's
    /// `acr`; RFC 9470). Otherwise 401 `insufficient_user_authentication` with `acr_values` in
    /// the challenge.
    pub fn any_acr<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Guard {
        Guard(Rule::AnyAcr(strings(values)))
    }

    /// Both this rule and `other`.
    #[must_use]
    pub fn and(self, other: Guard) -> Guard {
        match self.0 {
            Rule::All(mut list) => {
                list.push(other);
                Guard(Rule::All(list))
            }
            rule => Guard(Rule::All(vec![Guard(rule), other])),
        }
    }

    /// This rule or `other`.
    #[must_use]
    pub fn or(self, other: Guard) -> Guard {
        match self.0 {
            Rule::Any(mut list) => {
                list.push(other);
                Guard(Rule::Any(list))
            }
            rule => Guard(Rule::Any(vec![Guard(rule), other])),
        }
    }

    /// Checks the rule, now.
    ///
    /// # Errors
    /// `permission_denied` (403), with the missing scopes for scope rules;
    /// `insufficient_user_authentication` (401) for step-up rules.
    pub fn check<C>(&self, claims: &Claims<C>) -> Result<(), AuthError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.check_at(claims, now)
    }

    /// Checks the rule at `now` (seconds since the epoch, the verifier's clock).
    pub(crate) fn check_at<C>(&self, claims: &Claims<C>, now: i64) -> Result<(), AuthError> {
        let deny = |msg: &'static str| Err(AuthError::new(ErrorCode::PermissionDenied, msg));
        match &self.0 {
            Rule::MaxAuthAge(max_age) => {
                let recent = claims.auth_time.is_some_and(|t| {
                    now.saturating_sub(t.as_secs()) <= i64::try_from(*max_age).unwrap_or(i64::MAX)
                });
                if recent {
                    Ok(())
                } else {
                    Err(AuthError::insufficient_user_authentication(
                        "a more recent sign-in is required",
                    )
                    .with_max_age(*max_age))
                }
            }
            Rule::AnyAcr(values) => {
                if claims.acr.as_ref().is_some_and(|acr| values.contains(acr)) {
                    Ok(())
                } else {
                    Err(AuthError::insufficient_user_authentication(
                        "a stronger sign-in is required",
                    )
                    .with_acr_values(values.join(" ")))
                }
            }
            Rule::AnyRole(roles) => {
                let have = claims.roles();
                if roles.iter().any(|r| have.contains(&r.as_str())) {
                    Ok(())
                } else {
                    deny("a required role is missing")
                }
            }
            Rule::AllPermissions(perms) => {
                let have = claims.permissions();
                if perms.iter().all(|p| have.contains(&p.as_str())) {
                    Ok(())
                } else {
                    deny("a required permission is missing")
                }
            }
            Rule::AllScopes(scopes) => {
                let have = claims.scopes();
                if scopes.iter().all(|s| have.contains(&s.as_str())) {
                    Ok(())
                } else {
                    Err(
                        AuthError::new(ErrorCode::PermissionDenied, "a required scope is missing")
                            .with_required_scope(scopes.join(" ")),
                    )
                }
            }
            Rule::AllEntitlements(items) => {
                let have = claims.entitlements();
                if items.iter().all(|e| have.contains(&e.as_str())) {
                    Ok(())
                } else {
                    deny("a required entitlement is missing")
                }
            }
            Rule::Kind(kind) => {
                if crate::claims::credential_kind(claims) == *kind {
                    Ok(())
                } else if *kind == CredentialKind::Jwt {
                    deny("this route does not accept API keys")
                } else {
                    deny("this route accepts API keys only")
                }
            }
            Rule::All(list) => {
                // A refusal that a new sign-in cannot cure wins; step-up refusals add up, so
                // that one new sign-in satisfies them all.
                let mut step_up: Option<AuthError> = None;
                for g in list {
                    if let Err(e) = g.check_at(claims, now) {
                        if !e.is(ErrorCode::InsufficientUserAuthentication) {
                            return Err(e);
                        }
                        step_up = Some(match step_up {
                            None => e,
                            Some(prev) => merge_step_up(prev, e, Join::Both),
                        });
                    }
                }
                step_up.map_or(Ok(()), Err)
            }
            Rule::Any(list) => {
                let mut first: Option<AuthError> = None;
                for g in list {
                    match g.check_at(claims, now) {
                        Ok(()) => return Ok(()),
                        Err(e) => {
                            first = Some(match first {
                                None => e,
                                Some(prev) => merge_step_up(prev, e, Join::Either),
                            });
                        }
                    }
                }
                Err(first.unwrap_or_else(|| {
                    AuthError::new(ErrorCode::PermissionDenied, "no rule allows this request")
                }))
            }
        }
    }
}

/// How two step-up refusals combine.
#[derive(Clone, Copy)]
enum Join {
    /// Alternatives (`or`): the laxest `max_age` does.
    Either,
    /// Requirements (`and`): the strictest `max_age` is needed.
    Both,
}

/// Combines two refusals of one guard. Alternatives: a refusal that a new sign-in can cure
/// wins over one it cannot (the client can act on it), and two step-up refusals make one
/// challenge naming the `acr_values` and the `max_age` of both. Otherwise the first stands.
fn merge_step_up(first: AuthError, next: AuthError, join: Join) -> AuthError {
    let step_up = ErrorCode::InsufficientUserAuthentication;
    match (first.is(step_up), next.is(step_up)) {
        (true, true) => {}
        (false, true) => return next,
        _ => return first,
    }
    let mut merged = AuthError::insufficient_user_authentication(match join {
        Join::Either => "a more recent or a stronger sign-in is required",
        Join::Both => "a more recent and a stronger sign-in is required",
    });
    let mut acr: Vec<&str> = Vec::new();
    for value in [first.acr_values(), next.acr_values()]
        .into_iter()
        .flatten()
        .flat_map(|v| v.split(' '))
    {
        if !acr.contains(&value) {
            acr.push(value);
        }
    }
    if !acr.is_empty() {
        merged = merged.with_acr_values(acr.join(" "));
    }
    let ages = [first.max_age(), next.max_age()].into_iter().flatten();
    let max_age = match join {
        Join::Either => ages.max(),
        Join::Both => ages.min(),
    };
    if let Some(max_age) = max_age {
        merged = merged.with_max_age(max_age);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(payload: serde_json::Value) -> Claims {
        crate::claims::test_claims(
            &payload,
            &std::sync::Arc::new(crate::ClaimMapping::default()),
        )
    }

    #[test]
    fn step_up_rules_check_auth_time_and_acr() {
        let guard = Guard::max_auth_age(std::time::Duration::from_secs(60))
            .or(Guard::any_acr(["urn:example:mfa"]));
        let now = 1_000_000;
        assert!(
            guard
                .check_at(&claims(serde_json::json!({"auth_time": now - 30})), now)
                .is_ok()
        );
        assert!(
            guard
                .check_at(
                    &claims(serde_json::json!({"auth_time": 1, "acr": "urn:example:mfa"})),
                    now
                )
                .is_ok()
        );
        for stale in [
            serde_json::json!({"auth_time": now - 61}),
            serde_json::json!({}),
            serde_json::json!({"acr": "pwd"}),
        ] {
            let e = guard.check_at(&claims(stale), now).err();
            let e = e.as_ref();
            assert_eq!(
                e.map(AuthError::code),
                Some(ErrorCode::InsufficientUserAuthentication)
            );
            assert_eq!(e.and_then(AuthError::max_age), Some(60));
            assert_eq!(e.and_then(AuthError::acr_values), Some("urn:example:mfa"));
            assert_eq!(e.map(AuthError::status), Some(401));
        }
        // Beside a role alternative, the step-up is what the client can act on, in any order.
        for either in [
            Guard::any_role(["admin"]).or(Guard::any_acr(["x"])),
            Guard::any_acr(["x"]).or(Guard::any_role(["admin"])),
        ] {
            let e = either.check_at(&claims(serde_json::json!({})), now).err();
            assert_eq!(
                e.map(|e| e.code()),
                Some(ErrorCode::InsufficientUserAuthentication)
            );
        }
        // Requirements: one new sign-in for both, the strictest age; a role refusal wins.
        let both = Guard::max_auth_age(std::time::Duration::from_secs(60))
            .and(Guard::any_acr(["mfa"]))
            .and(Guard::max_auth_age(std::time::Duration::from_secs(30)));
        let e = both
            .check_at(&claims(serde_json::json!({"auth_time": 1})), now)
            .err();
        assert_eq!(e.as_ref().and_then(AuthError::max_age), Some(30));
        assert_eq!(e.as_ref().and_then(AuthError::acr_values), Some("mfa"));
        let role =
            Guard::max_auth_age(std::time::Duration::from_secs(60)).and(Guard::any_role(["admin"]));
        let e = role
            .check_at(&claims(serde_json::json!({"auth_time": 1})), now)
            .err();
        assert_eq!(e.map(|e| e.code()), Some(ErrorCode::PermissionDenied));
    }
}
