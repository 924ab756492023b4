//! Authorization guards: roles (any of), permissions, scopes and entitlements (all of),
//! composable.

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

    /// Checks the rule.
    ///
    /// # Errors
    /// `permission_denied` (403), with the missing scopes for scope rules.
    pub fn check<C>(&self, claims: &Claims<C>) -> Result<(), AuthError> {
        let deny = |msg: &'static str| Err(AuthError::new(ErrorCode::PermissionDenied, msg));
        match &self.0 {
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
            Rule::All(list) => list.iter().try_for_each(|g| g.check(claims)),
            Rule::Any(list) => {
                let mut first = None;
                for g in list {
                    match g.check(claims) {
                        Ok(()) => return Ok(()),
                        Err(e) => {
                            first.get_or_insert(e);
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
