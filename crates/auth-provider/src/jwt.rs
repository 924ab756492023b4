//! JWTs: signing the provider's tokens, checking the ones it signed itself (userinfo,
//! revocation, introspection, `id_token_hint`), and the random values and clock it uses.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::keys::{Alg, KeyStore, SigningKey};

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut buffer = vec![0; bytes];
    aws_lc_rs::rand::fill(&mut buffer).expect("the system random generator is available");
    buffer
}

/// `bytes` random bytes as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    random_bytes(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `bytes` random bytes as unpadded base64url: codes, refresh tokens, generated secrets.
pub(crate) fn random_b64(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// Signs `header` and `claims` with `key` and its algorithm (the header's `alg` and `kid` are
/// set here); returns the compact JWS.
pub(crate) fn sign(
    key: &SigningKey,
    mut header: Map<String, Value>,
    claims: &Map<String, Value>,
) -> String {
    header.insert("alg".into(), key.algorithm().into());
    header.insert("kid".into(), key.kid().into());
    let header = serde_json::to_vec(&header).expect("a JSON map serializes");
    let claims = serde_json::to_vec(claims).expect("a JSON map serializes");
    let mut token = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = key
        .sign(key.algorithm(), token.as_bytes())
        .expect("a key signs with its own algorithm");
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

/// A JWS this provider signed with one of its published keys.
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
}

fn json_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Parses `token` and checks that a published key of this provider signed it and that its
/// `iss` is `issuer`. Expiry and type are for the caller to judge.
pub(crate) fn own_token(keys: &KeyStore, issuer: &str, token: &str) -> Option<OwnToken> {
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
    let signed = keys
        .published()
        .filter(|key| kid.is_none_or(|kid| key.kid() == kid))
        .any(|key| key.verify(alg, message, &signature));
    if !signed {
        return None;
    }
    let claims = json_object(payload)?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return None;
    }
    Some(OwnToken {
        header: header_json,
        claims,
    })
}
