//! The examples' owned resource: notes, stored in `DATABASE_URL` beside the API keys, each
//! owned by whoever first wrote it (auth-store's owner table, through
//! [`Ownership`]). Each example's routes only translate these answers:
//!
//! | request | answer |
//! |---|---|
//! | `PUT /api/notes/{id}` `{"text": "..."}` | 201 created (the caller owns it now), 200 rewritten by its owner, 403 anyone else (admins too), 400 a body that is not `{"text": string}` |
//! | `GET /api/notes/{id}` | 200 `{"id","owner","text"}` for its owner or an `admin`, 403 anyone else, 404 no such note |
//! | `DELETE /api/notes/{id}` | 204 by its owner, 403 anyone else, 404 no such note |
//!
//! The owner guard in front of each route decides who may; these functions run once it has.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::owner::{Access, OwnerStore, Ownership};
use serde_json::{Value, json};
use sqlx::Row as _;

use crate::BoxError;

/// The largest note accepted.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;

/// A JSON answer: the status and the body (`None`: no body).
pub type Answer = (u16, Option<Value>);

/// The notes table and the ownership rule over it.
#[derive(Debug, Clone)]
pub struct Notes {
    pool: sqlx::AnyPool,
    ownership: Ownership,
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    (
        status,
        Some(json!({ "error": { "code": code, "message": message } })),
    )
}

fn unavailable(e: &sqlx::Error) -> Answer {
    tracing::warn!(error = %e, "the notes table is unavailable");
    error(503, "store_unavailable", "the notes store is unavailable")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Notes {
    /// Opens the notes in `database_url` (whose owner table `owners` serves) and applies the
    /// example's migration beside auth-store's (both in `_sqlx_migrations`, each ignoring the
    /// other's).
    ///
    /// # Errors
    /// When the database cannot be reached or the migration fails.
    pub async fn open(database_url: &str, owners: Arc<dyn OwnerStore>) -> Result<Notes, BoxError> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(database_url)
            .await?;
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        let ownership = Ownership::builder(owners, "notes")
            .readers(["admin"])
            .build()?;
        Ok(Notes { pool, ownership })
    }

    /// Notes (and their owners) in an SQLite file in a new temporary folder, for tests.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn temporary() -> Result<Notes, BoxError> {
        let url = crate::temporary_database_url();
        let owners = auth_store::SqlStore::open(&url).await?;
        Notes::open(&url, Arc::new(owners)).await
    }

    /// The rule the routes' owner guard applies.
    #[must_use]
    pub fn ownership(&self) -> &Ownership {
        &self.ownership
    }

    /// `PUT`: stores the note the guard admitted.
    pub async fn put(&self, access: &Access, body: &[u8]) -> Answer {
        let text = match parse(body) {
            Ok(text) => text,
            Err(answer) => {
                // A refused first write does not keep the id.
                if access.created() {
                    let _ = self.ownership.release(&access.id).await;
                }
                return answer;
            }
        };
        let sql = "INSERT INTO example_notes (id, text, updated_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at";
        let existed = match sqlx::query("SELECT 1 FROM example_notes WHERE id = $1")
            .bind(&access.id)
            .fetch_optional(&self.pool)
            .await
        {
            Ok(row) => row.is_some(),
            Err(e) => return unavailable(&e),
        };
        if let Err(e) = sqlx::query(sql)
            .bind(&access.id)
            .bind(&text)
            .bind(now())
            .execute(&self.pool)
            .await
        {
            return unavailable(&e);
        }
        let status = if existed { 200 } else { 201 };
        (
            status,
            Some(json!({ "id": access.id, "owner": access.owner, "text": text })),
        )
    }

    /// `GET`: the note, for its owner or a reader.
    pub async fn get(&self, access: &Access) -> Answer {
        if access.is_unowned() {
            return not_found();
        }
        let row = sqlx::query("SELECT text FROM example_notes WHERE id = $1")
            .bind(&access.id)
            .fetch_optional(&self.pool)
            .await;
        match row {
            Ok(Some(row)) => {
                let text: String = row.get("text");
                (
                    200,
                    Some(json!({ "id": access.id, "owner": access.owner, "text": text })),
                )
            }
            Ok(None) => not_found(),
            Err(e) => unavailable(&e),
        }
    }

    /// `DELETE`: removes the note and forgets its owner.
    pub async fn delete(&self, access: &Access) -> Answer {
        if access.is_unowned() {
            return not_found();
        }
        if let Err(e) = sqlx::query("DELETE FROM example_notes WHERE id = $1")
            .bind(&access.id)
            .execute(&self.pool)
            .await
        {
            return unavailable(&e);
        }
        match self.ownership.release(&access.id).await {
            Ok(_) => (204, None),
            Err(e) => (e.status(), Some(e.to_json())),
        }
    }
}

fn not_found() -> Answer {
    error(404, "not_found", "no such note")
}

/// The note's text from a `{"text": string}` body.
fn parse(body: &[u8]) -> Result<String, Answer> {
    if body.len() > MAX_NOTE_BYTES {
        return Err(error(413, "payload_too_large", "a note is at most 16 KiB"));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| error(400, "invalid_request", "the body is not JSON"))?;
    match value.get("text") {
        Some(Value::String(text)) => Ok(text.clone()),
        _ => Err(error(
            400,
            "invalid_request",
            "the body must be {\"text\": string}",
        )),
    }
}
