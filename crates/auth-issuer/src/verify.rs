//! Checks tokens the issuer signed itself (userinfo, revocation, `id_token_hint`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::keys::Alg;
use crate::server::Shared;

/// A JWS this issuer signed with one of its published keys.
#[derive(Debug)]
pub(crate) struct OwnToken {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
}

impl OwnToken {
    pub(crate) fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// `exp` as a number of seconds, if it is one.
    pub(crate) fn exp(&self) -> Option<i64> {
        self.claims.get("exp").and_then(Value::as_i64)
    }

    /// Whether the header `typ` says access token (RFC 9068 §2.1).
    pub(crate) fn is_access_token(&self) -> bool {
        self.header
            .get("typ")
            .and_then(Value::as_str)
            .is_some_and(|typ| {
                typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
            })
    }

    /// The `scope` claim split at spaces.
    pub(crate) fn scopes(&self) -> impl Iterator<Item = &str> {
        self.str_claim("scope").unwrap_or("").split(' ')
    }
}

fn json_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Parses `token` and checks that a published key of this issuer signed it and that its
/// `iss` is this issuer. Expiry and type are for the caller to judge.
pub(crate) fn own_token(shared: &Shared, token: &str) -> Option<OwnToken> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let header_json = json_object(header)?;
    let alg = Alg::parse(header_json.get("alg")?.as_str()?)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let message = &token.as_bytes()[..header.len() + 1 + payload.len()];
    let kid = header_json.get("kid").and_then(Value::as_str);
    let signed = shared
        .keys()
        .published()
        .filter(|key| kid.is_none_or(|kid| key.kid() == kid))
        .any(|key| key.verify(alg, message, &signature));
    if !signed {
        return None;
    }
    let claims = json_object(payload)?;
    if claims.get("iss").and_then(Value::as_str) != Some(shared.issuer.as_str()) {
        return None;
    }
    Some(OwnToken {
        header: header_json,
        claims,
    })
}
