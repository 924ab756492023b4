//! ID token validation (OIDC Core §3.1.3.7), beside the access-token verifier: the same key
//! cache, algorithm allow-list and clock.

use serde_json::Value;

use crate::error::{AuthError, ErrorCode};
use crate::verifier::Verifier;

impl Verifier {
    /// Validates an ID token from the token endpoint for `client_id`: signature (with the
    /// issuer's keys), `iss`, `aud` (and `azp` when there are several audiences), `exp` (with the
    /// configured leeway and clock), `iat`, `sub` and, for a sign-in that sent one, `nonce`
    /// (compared in constant time). Returns the claims.
    ///
    /// # Errors
    /// `invalid_grant` for a token that fails a check; the key cache's 503 errors.
    pub(crate) async fn verify_id_token(
        &self,
        id_token: &str,
        client_id: &str,
        nonce: Option<&str>,
    ) -> Result<Value, AuthError> {
        let bad = |msg: &'static str| AuthError::new(ErrorCode::InvalidGrant, msg);
        let payload = self.verify_jws(id_token).await?;
        let claims: Value =
            serde_json::from_slice(&payload).map_err(|_| bad("the ID token is malformed"))?;
        let config = self.config();
        if claims.get("iss").and_then(Value::as_str) != Some(config.issuer()) {
            return Err(bad("the ID token comes from another issuer"));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == client_id,
            Some(Value::Array(list)) => {
                list.iter().any(|a| a.as_str() == Some(client_id))
                    && (list.len() == 1
                        || claims.get("azp").and_then(Value::as_str) == Some(client_id))
            }
            _ => false,
        };
        if !aud_ok {
            return Err(bad("the ID token is not meant for this client"));
        }
        let leeway = config.leeway().as_secs_f64();
        let now = config
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        match claims.get("exp").and_then(Value::as_f64) {
            Some(exp) if exp > now - leeway => {}
            _ => return Err(bad("the ID token has expired")),
        }
        if claims.get("iat").and_then(Value::as_f64).is_none()
            || claims.get("sub").and_then(Value::as_str).is_none()
        {
            return Err(bad("the ID token lacks iat or sub"));
        }
        if let Some(expected) = nonce {
            let got = claims
                .get("nonce")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if aws_lc_rs::constant_time::verify_slices_are_equal(
                got.as_bytes(),
                expected.as_bytes(),
            )
            .is_err()
            {
                return Err(bad("the ID token nonce does not match"));
            }
        }
        Ok(claims)
    }
}
