//! [`ProviderStore`] for [`SqlStore`] (feature `provider`): the OAuth provider's clients,
//! authorizations, codes, tokens, consents and single-use ids, in the `auth_provider_*`
//! tables.
//!
//! The single-use steps are single statements: a code is taken by `UPDATE ... WHERE used =
//! FALSE RETURNING ...`, a refresh token rotated by `UPDATE ... WHERE rotated = FALSE` (one
//! row affected for the one winner), a single-use id recorded by `INSERT ... ON CONFLICT DO
//! NOTHING`.

use auth_provider::{
    AccessRecord, Authorization, BoxFuture, Client, CodeRecord, CodeUse, Consent, ProviderStore,
    RefreshRecord, StoreError as ProviderStoreError, StoreResult,
};
use serde_json::{Map, Value};
use sqlx::Row as _;

use crate::{Backend, SqlStore, bounded};

/// The provider's error for any store failure (the message names the cause, no values).
fn failed(error: impl std::fmt::Display) -> ProviderStoreError {
    ProviderStoreError::new(error.to_string())
}

/// Space-separated values (scopes; resources are absolute URIs without spaces).
fn joined(values: &[String]) -> String {
    values.join(" ")
}

fn split(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

const AUTHORIZATION_COLUMNS: &str =
    "id, sub, client_id, scope, resources, auth_time, acr, amr, created_at, revoked";

macro_rules! authorization {
    ($row:expr) => {{
        let row = $row;
        let scope: String = row.try_get("scope")?;
        let resources: String = row.try_get("resources")?;
        let amr: String = row.try_get("amr")?;
        Authorization {
            id: row.try_get("id")?,
            sub: row.try_get("sub")?,
            client_id: row.try_get("client_id")?,
            scope: split(&scope),
            resources: split(&resources),
            auth_time: row.try_get("auth_time")?,
            acr: row.try_get("acr")?,
            amr: split(&amr),
            created_at: row.try_get("created_at")?,
            revoked: row.try_get("revoked")?,
        }
    }};
}

const ACCESS_COLUMNS: &str =
    "jti, authorization_id, client_id, expires_at, revoked, opaque_hash, claims";

macro_rules! access {
    ($row:expr) => {{
        let row = $row;
        let hash: Option<String> = row.try_get("opaque_hash")?;
        let claims: Option<String> = row.try_get("claims")?;
        let opaque = match (hash, claims) {
            (Some(hash), Some(claims)) => {
                let claims: Map<String, Value> =
                    serde_json::from_str(&claims).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                Some((hash, claims))
            }
            _ => None,
        };
        AccessRecord {
            jti: row.try_get("jti")?,
            authorization_id: row.try_get("authorization_id")?,
            client_id: row.try_get("client_id")?,
            expires_at: row.try_get("expires_at")?,
            revoked: row.try_get("revoked")?,
            opaque,
        }
    }};
}

macro_rules! consent {
    ($row:expr) => {{
        let row = $row;
        let scope: String = row.try_get("scope")?;
        let resources: String = row.try_get("resources")?;
        Consent {
            sub: row.try_get("sub")?,
            client_id: row.try_get("client_id")?,
            scope: split(&scope),
            resources: split(&resources),
            granted_at: row.try_get("granted_at")?,
        }
    }};
}

/// Runs `body`, turning a row decoding error into the provider's error.
fn decoded<T>(body: impl FnOnce() -> Result<T, sqlx::Error>) -> StoreResult<T> {
    body().map_err(failed)
}

impl SqlStore {
    /// Runs one statement and returns the rows it changed.
    async fn change(&self, sql: &str, binds: &[Bind<'_>]) -> StoreResult<u64> {
        on_backend!(self, sql, |query, pool| {
            let mut query = query;
            for bind in binds {
                query = match bind {
                    Bind::Text(text) => query.bind(*text),
                    Bind::OptText(text) => query.bind(*text),
                    Bind::Int(n) => query.bind(*n),
                    Bind::Bool(b) => query.bind(*b),
                };
            }
            bounded(query.execute(pool))
                .await
                .map(|done| done.rows_affected())
                .map_err(failed)
        })
    }
}

/// A value bound to a statement.
enum Bind<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    Bool(bool),
}

impl ProviderStore for SqlStore {
    fn client<'a>(&'a self, client_id: &'a str) -> BoxFuture<'a, StoreResult<Option<Client>>> {
        Box::pin(async move {
            let sql = "SELECT metadata FROM auth_provider_clients WHERE client_id = ?";
            let text: Option<String> = on_backend!(self, sql, |query, pool| {
                match bounded(query.bind(client_id).fetch_optional(pool))
                    .await
                    .map_err(failed)?
                {
                    Some(row) => Some(decoded(|| row.try_get::<String, _>("metadata"))?),
                    None => None,
                }
            });
            text.map(|text| serde_json::from_str(&text).map_err(failed))
                .transpose()
        })
    }

    fn put_client<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let metadata = serde_json::to_string(client).map_err(failed)?;
            let sql = "INSERT INTO auth_provider_clients (client_id, metadata) VALUES (?, ?) \
                       ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata";
            self.change(
                sql,
                &[Bind::Text(client.client_id()), Bind::Text(&metadata)],
            )
            .await
            .map(|_| ())
        })
    }

    fn delete_client<'a>(&'a self, client_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let sql = "DELETE FROM auth_provider_clients WHERE client_id = ?";
            Ok(self.change(sql, &[Bind::Text(client_id)]).await? > 0)
        })
    }

    fn insert_authorization<'a>(
        &'a self,
        authorization: &'a Authorization,
        code: &'a CodeRecord,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let sql = "INSERT INTO auth_provider_authorizations \
                       (id, sub, client_id, scope, resources, auth_time, acr, amr, created_at, revoked) \
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            let scope = joined(&authorization.scope);
            let resources = joined(&authorization.resources);
            let amr = joined(&authorization.amr);
            self.change(
                sql,
                &[
                    Bind::Text(&authorization.id),
                    Bind::Text(&authorization.sub),
                    Bind::Text(&authorization.client_id),
                    Bind::Text(&scope),
                    Bind::Text(&resources),
                    Bind::Int(authorization.auth_time),
                    Bind::OptText(authorization.acr.as_deref()),
                    Bind::Text(&amr),
                    Bind::Int(authorization.created_at),
                    Bind::Bool(authorization.revoked),
                ],
            )
            .await?;
            let sql = "INSERT INTO auth_provider_codes \
                       (hash, authorization_id, redirect_uri, code_challenge, nonce, dpop_jkt, expires_at, used) \
                       VALUES (?, ?, ?, ?, ?, ?, ?, FALSE)";
            self.change(
                sql,
                &[
                    Bind::Text(&code.hash),
                    Bind::Text(&code.authorization_id),
                    Bind::Text(&code.redirect_uri),
                    Bind::Text(&code.code_challenge),
                    Bind::OptText(code.nonce.as_deref()),
                    Bind::OptText(code.dpop_jkt.as_deref()),
                    Bind::Int(code.expires_at),
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn authorization<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Authorization>>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {AUTHORIZATION_COLUMNS} FROM auth_provider_authorizations WHERE id = ?"
            );
            on_backend!(self, &sql, |query, pool| {
                match bounded(query.bind(id).fetch_optional(pool))
                    .await
                    .map_err(failed)?
                {
                    Some(row) => Ok(Some(decoded(|| Ok(authorization!(&row)))?)),
                    None => Ok(None),
                }
            })
        })
    }

    fn authorizations_of<'a>(
        &'a self,
        sub: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<Authorization>>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {AUTHORIZATION_COLUMNS} FROM auth_provider_authorizations \
                 WHERE sub = ? AND revoked = FALSE ORDER BY created_at, id"
            );
            on_backend!(self, &sql, |query, pool| {
                let rows = bounded(query.bind(sub).fetch_all(pool))
                    .await
                    .map_err(failed)?;
                rows.iter()
                    .map(|row| decoded(|| Ok(authorization!(row))))
                    .collect()
            })
        })
    }

    fn revoke_authorization<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            // Marked first: a refresh racing this finds the authorization revoked.
            self.change(
                "UPDATE auth_provider_authorizations SET revoked = TRUE WHERE id = ?",
                &[Bind::Text(id)],
            )
            .await?;
            self.change(
                "DELETE FROM auth_provider_refresh_tokens WHERE authorization_id = ?",
                &[Bind::Text(id)],
            )
            .await?;
            self.change(
                "UPDATE auth_provider_access_tokens SET revoked = TRUE WHERE authorization_id = ?",
                &[Bind::Text(id)],
            )
            .await
            .map(|_| ())
        })
    }

    fn take_code<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, StoreResult<CodeUse>> {
        Box::pin(async move {
            let sql = "UPDATE auth_provider_codes SET used = TRUE WHERE hash = ? AND used = FALSE \
                       RETURNING authorization_id, redirect_uri, code_challenge, nonce, dpop_jkt, expires_at";
            let taken = on_backend!(self, sql, |query, pool| {
                match bounded(query.bind(hash).fetch_optional(pool))
                    .await
                    .map_err(failed)?
                {
                    Some(row) => Some(decoded(|| {
                        Ok(CodeRecord {
                            hash: hash.to_owned(),
                            authorization_id: row.try_get("authorization_id")?,
                            redirect_uri: row.try_get("redirect_uri")?,
                            code_challenge: row.try_get("code_challenge")?,
                            nonce: row.try_get("nonce")?,
                            dpop_jkt: row.try_get("dpop_jkt")?,
                            expires_at: row.try_get("expires_at")?,
                        })
                    })?),
                    None => None,
                }
            });
            if let Some(record) = taken {
                return Ok(CodeUse::First(record));
            }
            let sql = "SELECT authorization_id FROM auth_provider_codes WHERE hash = ?";
            let used: Option<String> = on_backend!(self, sql, |query, pool| {
                match bounded(query.bind(hash).fetch_optional(pool))
                    .await
                    .map_err(failed)?
                {
                    Some(row) => Some(decoded(|| row.try_get("authorization_id"))?),
                    None => None,
                }
            });
            Ok(match used {
                Some(authorization_id) => CodeUse::Replayed { authorization_id },
                None => CodeUse::Unknown,
            })
        })
    }

    fn insert_refresh_token<'a>(
        &'a self,
        record: &'a RefreshRecord,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let sql = "INSERT INTO auth_provider_refresh_tokens \
                       (hash, authorization_id, client_id, dpop_jkt, expires_at, rotated) VALUES (?, ?, ?, ?, ?, ?)";
            self.change(
                sql,
                &[
                    Bind::Text(&record.hash),
                    Bind::Text(&record.authorization_id),
                    Bind::Text(&record.client_id),
                    Bind::OptText(record.dpop_jkt.as_deref()),
                    Bind::Int(record.expires_at),
                    Bind::Bool(record.rotated),
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn refresh_token<'a>(
        &'a self,
        hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<RefreshRecord>>> {
        Box::pin(async move {
            let sql = "SELECT hash, authorization_id, client_id, dpop_jkt, expires_at, rotated \
                       FROM auth_provider_refresh_tokens WHERE hash = ?";
            on_backend!(self, sql, |query, pool| {
                match bounded(query.bind(hash).fetch_optional(pool))
                    .await
                    .map_err(failed)?
                {
                    Some(row) => Ok(Some(decoded(|| {
                        Ok(RefreshRecord {
                            hash: row.try_get("hash")?,
                            authorization_id: row.try_get("authorization_id")?,
                            client_id: row.try_get("client_id")?,
                            dpop_jkt: row.try_get("dpop_jkt")?,
                            expires_at: row.try_get("expires_at")?,
                            rotated: row.try_get("rotated")?,
                        })
                    })?)),
                    None => Ok(None),
                }
            })
        })
    }

    fn rotate_refresh_token<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let sql = "UPDATE auth_provider_refresh_tokens SET rotated = TRUE \
                       WHERE hash = ? AND rotated = FALSE";
            Ok(self.change(sql, &[Bind::Text(hash)]).await? == 1)
        })
    }

    fn count_active_refresh_tokens<'a>(
        &'a self,
        sub: Option<&'a str>,
        now: i64,
    ) -> BoxFuture<'a, StoreResult<usize>> {
        Box::pin(async move {
            let sql = "SELECT COUNT(*) AS n FROM auth_provider_refresh_tokens r \
                       JOIN auth_provider_authorizations a ON a.id = r.authorization_id \
                       WHERE r.rotated = FALSE AND r.expires_at > ? AND a.revoked = FALSE \
                       AND (CAST(? AS TEXT) IS NULL OR a.sub = ?)";
            on_backend!(self, sql, |query, pool| {
                let row = bounded(query.bind(now).bind(sub).bind(sub).fetch_one(pool))
                    .await
                    .map_err(failed)?;
                let n: i64 = decoded(|| row.try_get("n"))?;
                Ok(usize::try_from(n).unwrap_or(0))
            })
        })
    }

    fn insert_access_token<'a>(
        &'a self,
        record: &'a AccessRecord,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let (hash, claims) = match &record.opaque {
                Some((hash, claims)) => (
                    Some(hash.as_str()),
                    Some(serde_json::to_string(claims).map_err(failed)?),
                ),
                None => (None, None),
            };
            let sql = "INSERT INTO auth_provider_access_tokens \
                       (jti, authorization_id, client_id, expires_at, revoked, opaque_hash, claims) \
                       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING";
            self.change(
                sql,
                &[
                    Bind::Text(&record.jti),
                    Bind::OptText(record.authorization_id.as_deref()),
                    Bind::Text(&record.client_id),
                    Bind::Int(record.expires_at),
                    Bind::Bool(record.revoked),
                    Bind::OptText(hash),
                    Bind::OptText(claims.as_deref()),
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn access_token<'a>(
        &'a self,
        jti: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<AccessRecord>>> {
        Box::pin(async move {
            let sql =
                format!("SELECT {ACCESS_COLUMNS} FROM auth_provider_access_tokens WHERE jti = ?");
            on_backend!(self, &sql, |query, pool| {
                match bounded(query.bind(jti).fetch_optional(pool))
                    .await
                    .map_err(failed)?
                {
                    Some(row) => Ok(Some(decoded(|| Ok(access!(&row)))?)),
                    None => Ok(None),
                }
            })
        })
    }

    fn opaque_access_token<'a>(
        &'a self,
        hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<AccessRecord>>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {ACCESS_COLUMNS} FROM auth_provider_access_tokens WHERE opaque_hash = ?"
            );
            on_backend!(self, &sql, |query, pool| {
                match bounded(query.bind(hash).fetch_optional(pool))
                    .await
                    .map_err(failed)?
                {
                    Some(row) => Ok(Some(decoded(|| Ok(access!(&row)))?)),
                    None => Ok(None),
                }
            })
        })
    }

    fn revoke_access_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let sql = "INSERT INTO auth_provider_access_tokens \
                       (jti, authorization_id, client_id, expires_at, revoked) VALUES (?, NULL, '', ?, TRUE) \
                       ON CONFLICT (jti) DO UPDATE SET revoked = TRUE";
            self.change(sql, &[Bind::Text(jti), Bind::Int(expires_at)])
                .await
                .map(|_| ())
        })
    }

    fn consent<'a>(
        &'a self,
        sub: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Consent>>> {
        Box::pin(async move {
            let sql = "SELECT sub, client_id, scope, resources, granted_at FROM auth_provider_consents \
                       WHERE sub = ? AND client_id = ?";
            on_backend!(self, sql, |query, pool| {
                match bounded(query.bind(sub).bind(client_id).fetch_optional(pool))
                    .await
                    .map_err(failed)?
                {
                    Some(row) => Ok(Some(decoded(|| Ok(consent!(&row)))?)),
                    None => Ok(None),
                }
            })
        })
    }

    fn put_consent<'a>(&'a self, consent: &'a Consent) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let sql = "INSERT INTO auth_provider_consents (sub, client_id, scope, resources, granted_at) \
                       VALUES (?, ?, ?, ?, ?) ON CONFLICT (sub, client_id) DO UPDATE SET \
                       scope = excluded.scope, resources = excluded.resources, granted_at = excluded.granted_at";
            let scope = joined(&consent.scope);
            let resources = joined(&consent.resources);
            self.change(
                sql,
                &[
                    Bind::Text(&consent.sub),
                    Bind::Text(&consent.client_id),
                    Bind::Text(&scope),
                    Bind::Text(&resources),
                    Bind::Int(consent.granted_at),
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn consents<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, StoreResult<Vec<Consent>>> {
        Box::pin(async move {
            let sql = "SELECT sub, client_id, scope, resources, granted_at FROM auth_provider_consents \
                       WHERE sub = ? ORDER BY client_id";
            on_backend!(self, sql, |query, pool| {
                let rows = bounded(query.bind(sub).fetch_all(pool))
                    .await
                    .map_err(failed)?;
                rows.iter()
                    .map(|row| decoded(|| Ok(consent!(row))))
                    .collect()
            })
        })
    }

    fn delete_consent<'a>(
        &'a self,
        sub: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let sql = "DELETE FROM auth_provider_consents WHERE sub = ? AND client_id = ?";
            Ok(self
                .change(sql, &[Bind::Text(sub), Bind::Text(client_id)])
                .await?
                > 0)
        })
    }

    fn use_once<'a>(&'a self, key: &'a str, until: i64) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let sql = "INSERT INTO auth_provider_once (key, until) VALUES (?, ?) \
                       ON CONFLICT (key) DO NOTHING";
            Ok(self
                .change(sql, &[Bind::Text(key), Bind::Int(until)])
                .await?
                == 1)
        })
    }

    fn purge_expired(&self, now: i64) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            // Codes are kept ten minutes past their expiry, so that a late replay is still
            // recognised.
            let statements: [(&str, i64); 4] = [
                (
                    "DELETE FROM auth_provider_codes WHERE expires_at + 600 <= ?",
                    now,
                ),
                (
                    "DELETE FROM auth_provider_refresh_tokens WHERE expires_at <= ?",
                    now,
                ),
                (
                    "DELETE FROM auth_provider_access_tokens WHERE expires_at <= ?",
                    now,
                ),
                ("DELETE FROM auth_provider_once WHERE until <= ?", now),
            ];
            for (sql, at) in statements {
                self.change(sql, &[Bind::Int(at)]).await?;
            }
            let sql = "DELETE FROM auth_provider_authorizations WHERE \
                       NOT EXISTS (SELECT 1 FROM auth_provider_codes c WHERE c.authorization_id = auth_provider_authorizations.id) \
                       AND NOT EXISTS (SELECT 1 FROM auth_provider_refresh_tokens r WHERE r.authorization_id = auth_provider_authorizations.id) \
                       AND NOT EXISTS (SELECT 1 FROM auth_provider_access_tokens t WHERE t.authorization_id = auth_provider_authorizations.id)";
            self.change(sql, &[]).await.map(|_| ())
        })
    }
}
