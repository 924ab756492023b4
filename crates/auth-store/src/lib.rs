//! `auth-store`: SQL storage for the auth SDK's API keys and resource owners, in SQLite
//! (embedded, the default) or PostgreSQL, through [sqlx].
//!
//! [`SqlStore`] implements [`ApiKeyStore`] (hand it to
//! [`ApiKeys`](auth_core::api_key::ApiKeys), which does the caching, rate limiting and
//! verification) and [`OwnerStore`] (hand it to
//! [`Ownership`](auth_core::owner::Ownership), the owner-only rule). Every method is one query
//! on an indexed column. Its tables are `auth_api_keys` and `auth_owners`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use auth_core::api_key::{ApiKeys, NewApiKey};
//! use auth_store::SqlStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // `sqlite:PATH` (created if missing) or `postgres://…`; `open` applies the migrations.
//! let store = SqlStore::open("sqlite:/var/lib/myapp/keys.db").await?;
//! let keys = ApiKeys::builder(Arc::new(store)).build()?;
//! let created = keys.create(NewApiKey::new("nightly export", "svc-export")).await?;
//! println!("{}", created.key.expose()); // shown once
//! # Ok(())
//! # }
//! ```
//!
//! # Migrations
//! The schema ships with the crate (`migrations/`, sqlx migrations written in the SQL both
//! backends share; a backend-specific step would get a folder of its own).
//! [`SqlStore::open`] applies the ones not applied yet, logging each at INFO: the first user of a
//! database (the app or `auth keys`) creates it. [`SqlStore::connect`] never changes the schema;
//! call [`SqlStore::migrate`] yourself when your deployment runs migrations as their own step.
//!
//! **Sharing a database with your own sqlx migrations.** sqlx 0.8 records every migrator's
//! migrations in one `_sqlx_migrations` table. Ours are versioned by date
//! (`20261201000001_auth_api_keys`, ...) and run with `set_ignore_missing(true)`, so yours do not
//! disturb them; run yours the same way, or sqlx refuses ours as "previously applied but
//! missing":
//!
//! ```no_run
//! # async fn run(pool: sqlx::SqlitePool) -> Result<(), sqlx::migrate::MigrateError> {
//! let mut migrator = sqlx::migrate!("./migrations"); // your app's migrations
//! migrator.set_ignore_missing(true); // auth-store's share the table
//! migrator.run(&pool).await?;
//! # Ok(()) }
//! ```
//!
//! # Features
//! | feature | what |
//! |---|---|
//! | `sqlite` (default) | SQLite, embedded: `sqlite:/abs/path/keys.db` |
//! | `postgres` | PostgreSQL: `postgres://user:password@host/db`, TLS through rustls |
//!
//! [sqlx]: https://docs.rs/sqlx/0.8

use std::future::Future;
use std::time::Duration;

use auth_core::api_key::{ApiKeyRecord, ApiKeyStore, KeyHash};
use auth_core::http::BoxFuture;
use auth_core::owner::{Claimed, OwnerRecord, OwnerStore};
use auth_core::store::{StoreError, StoreErrorKind};

/// The bound on each query, connection included.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// API keys in an SQL database.
#[derive(Debug, Clone)]
pub struct SqlStore {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, format!("{what}: {e}"))
}

fn from_sqlx(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::new(StoreErrorKind::Conflict, "the key id exists");
    }
    unavailable("database error", e)
}

/// Runs `fut` within [`QUERY_TIMEOUT`].
async fn bounded<T>(fut: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, StoreError> {
    match tokio::time::timeout(QUERY_TIMEOUT, fut).await {
        Ok(result) => result.map_err(from_sqlx),
        Err(_) => Err(unavailable(
            "database timeout",
            format!("no answer within {QUERY_TIMEOUT:?}"),
        )),
    }
}

impl SqlStore {
    /// Connects to `url` and applies the migrations not applied yet. An SQLite file that does
    /// not exist yet is created (and its folder).
    ///
    /// # Errors
    /// [`StoreErrorKind::Unavailable`] when the database cannot be reached, the URL's scheme is
    /// not enabled by a feature, or a migration fails.
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        // Two processes opening a new SQLite file at once (the CLI and an app) may find it
        // locked while the other switches it to WAL or migrates it: try again for a while.
        let mut attempts = 0;
        loop {
            let opened = async {
                let store = Self::connect(url).await?;
                store.migrate().await?;
                Ok::<_, StoreError>(store)
            }
            .await;
            match opened {
                Err(e) if attempts < 25 && e.to_string().contains("locked") => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => return other,
            }
        }
    }

    /// Connects to `url` without touching the schema.
    ///
    /// # Errors
    /// As [`open`](Self::open), migrations aside.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        let backend = match scheme {
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                use std::str::FromStr as _;
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                    .map_err(|e| unavailable("invalid SQLite URL", e))?;
                // The file may not exist yet; nor may its folder.
                if let Some(dir) = options.get_filename().parent()
                    && !dir.as_os_str().is_empty()
                    && !dir.exists()
                {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| unavailable("cannot create the SQLite file's folder", e))?;
                }
                let options = options
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(QUERY_TIMEOUT);
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(QUERY_TIMEOUT)
                    .connect_with(options);
                Backend::Sqlite(bounded(pool).await?)
            }
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(QUERY_TIMEOUT)
                    .connect(url);
                Backend::Postgres(bounded(pool).await?)
            }
            other => {
                return Err(unavailable(
                    "unsupported database URL",
                    format!(
                        "the scheme {other:?} is not enabled (features: sqlite, postgres); use sqlite:PATH or postgres://..."
                    ),
                ));
            }
        };
        Ok(SqlStore { backend })
    }

    /// Applies the crate's migrations that are not applied yet (idempotent).
    ///
    /// # Errors
    /// [`StoreErrorKind::Unavailable`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        // The application's own sqlx migrations may share `_sqlx_migrations`: ours are not
        // missing from theirs, nor theirs from ours.
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_ignore_missing(true);
        let result = match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => migrator.run(pool).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => migrator.run(pool).await,
        };
        result.map_err(|e| unavailable("migration failed", e))?;
        tracing::info!(
            backend = self.backend_name(),
            "auth store schema is up to date"
        );
        Ok(())
    }

    /// `"sqlite"` or `"postgres"`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes the connections.
    pub async fn close(&self) {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => pool.close().await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

const COLUMNS: &str = "id, hash, name, owner, tenant, scopes, created_at, expires_at, revoked_at, last_used_at, rate_limit_per_minute";

/// A row as a record; `None` for a row whose hash is not valid hex (never written by us).
macro_rules! record {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let scopes: String = row.try_get("scopes")?;
        let hash: String = row.try_get("hash")?;
        KeyHash::from_hex(&hash).map(|hash| {
            let mut record = ApiKeyRecord::new(
                row.get("id"),
                hash,
                row.get("name"),
                row.get("owner"),
                row.get("created_at"),
            );
            record.tenant = row.get("tenant");
            record.scopes = scopes.split_whitespace().map(str::to_owned).collect();
            record.expires_at = row.get("expires_at");
            record.revoked_at = row.get("revoked_at");
            record.last_used_at = row.get("last_used_at");
            record.rate_limit_per_minute = row
                .get::<Option<i64>, _>("rate_limit_per_minute")
                .and_then(|l| u32::try_from(l).ok());
            record
        })
    }};
}

/// The same statement for each backend: `?` placeholders for SQLite, `$n` for PostgreSQL.
macro_rules! on_backend {
    ($self:expr, $sql:expr, |$query:ident, $pool:ident| $body:expr) => {
        match &$self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite($pool) => {
                let $query = sqlx::query::<sqlx::Sqlite>($sql);
                $body
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres($pool) => {
                let sql = $crate::numbered($sql);
                let $query = sqlx::query::<sqlx::Postgres>(&sql);
                $body
            }
        }
    };
}

/// `?` placeholders as `$1`, `$2`, ... (PostgreSQL).
#[cfg(feature = "postgres")]
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

impl ApiKeyStore for SqlStore {
    fn insert(&self, record: ApiKeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let sql = "INSERT INTO auth_api_keys (id, hash, name, owner, tenant, scopes, created_at, expires_at, revoked_at, last_used_at, rate_limit_per_minute) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            on_backend!(self, sql, |query, pool| {
                bounded(
                    query
                        .bind(&record.id)
                        .bind(record.hash.to_hex())
                        .bind(&record.name)
                        .bind(&record.owner)
                        .bind(&record.tenant)
                        .bind(record.scopes.join(" "))
                        .bind(record.created_at)
                        .bind(record.expires_at)
                        .bind(record.revoked_at)
                        .bind(record.last_used_at)
                        .bind(record.rate_limit_per_minute.map(i64::from))
                        .execute(pool),
                )
                .await
                .map(|_| ())
            })
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>> {
        Box::pin(async move {
            let sql = format!("SELECT {COLUMNS} FROM auth_api_keys WHERE id = ?");
            on_backend!(self, &sql, |query, pool| {
                let row = bounded(query.bind(id).fetch_optional(pool)).await?;
                match row {
                    Some(row) => {
                        let found: Result<Option<ApiKeyRecord>, sqlx::Error> =
                            (|| Ok(record!(&row)))();
                        found.map_err(from_sqlx)
                    }
                    None => Ok(None),
                }
            })
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<ApiKeyRecord>, StoreError>> {
        Box::pin(async move {
            let sql = format!("SELECT {COLUMNS} FROM auth_api_keys ORDER BY created_at, id");
            on_backend!(self, &sql, |query, pool| {
                let rows = bounded(query.fetch_all(pool)).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let one: Result<Option<ApiKeyRecord>, sqlx::Error> = (|| Ok(record!(row)))();
                    out.extend(one.map_err(from_sqlx)?);
                }
                Ok(out)
            })
        })
    }

    fn revoke<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let sql = "UPDATE auth_api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?";
            on_backend!(self, sql, |query, pool| {
                bounded(query.bind(at).bind(id).execute(pool))
                    .await
                    .map(|done| done.rows_affected() > 0)
            })
        })
    }

    fn expire<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let sql = "UPDATE auth_api_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END WHERE id = ?";
            on_backend!(self, sql, |query, pool| {
                bounded(query.bind(at).bind(at).bind(id).execute(pool))
                    .await
                    .map(|done| done.rows_affected() > 0)
            })
        })
    }

    fn record_use(&self, uses: Vec<(String, i64)>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let sql = "UPDATE auth_api_keys SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? THEN ? ELSE last_used_at END WHERE id = ?";
            for (id, at) in &uses {
                on_backend!(self, sql, |query, pool| {
                    bounded(query.bind(*at).bind(*at).bind(id).execute(pool))
                        .await
                        .map(|_| ())?;
                });
            }
            Ok(())
        })
    }
}

const OWNER_COLUMNS: &str = "kind, resource_id, owner, created_at, updated_at";

/// A row of `auth_owners` as a record.
macro_rules! owner_record {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let mut record = OwnerRecord::new(
            row.try_get("kind")?,
            row.try_get("resource_id")?,
            row.try_get("owner")?,
            row.try_get("created_at")?,
        );
        record.updated_at = row.try_get("updated_at")?;
        record
    }};
}

impl OwnerStore for SqlStore {
    fn claim<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        owner: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            // The primary key makes the insert the atomic set-once step; a claim that finds the
            // resource owned reads the owner (and, should it be released in between, tries
            // again).
            for _ in 0..3 {
                let sql = "INSERT INTO auth_owners (kind, resource_id, owner, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, resource_id) DO NOTHING";
                let inserted = on_backend!(self, sql, |query, pool| {
                    bounded(
                        query
                            .bind(kind)
                            .bind(id)
                            .bind(owner)
                            .bind(at)
                            .bind(at)
                            .execute(pool),
                    )
                    .await
                    .map(|done| done.rows_affected() == 1)
                })?;
                if inserted {
                    return Ok(Claimed {
                        owner: owner.to_owned(),
                        created: true,
                    });
                }
                if let Some(record) = OwnerStore::get(self, kind, id).await? {
                    return Ok(Claimed {
                        owner: record.owner,
                        created: false,
                    });
                }
            }
            Err(unavailable(
                "owner claim",
                "the resource was claimed and released repeatedly; try again",
            ))
        })
    }

    fn get<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<OwnerRecord>, StoreError>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {OWNER_COLUMNS} FROM auth_owners WHERE kind = ? AND resource_id = ?"
            );
            on_backend!(self, &sql, |query, pool| {
                let row = bounded(query.bind(kind).bind(id).fetch_optional(pool)).await?;
                match row {
                    Some(row) => {
                        let found: Result<OwnerRecord, sqlx::Error> =
                            (|| Ok(owner_record!(&row)))();
                        found.map(Some).map_err(from_sqlx)
                    }
                    None => Ok(None),
                }
            })
        })
    }

    fn transfer<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        from: Option<&'a str>,
        to: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let changed = match from {
                Some(from) => {
                    let sql = "UPDATE auth_owners SET owner = ?, updated_at = ? WHERE kind = ? AND resource_id = ? AND owner = ?";
                    on_backend!(self, sql, |query, pool| {
                        bounded(
                            query
                                .bind(to)
                                .bind(at)
                                .bind(kind)
                                .bind(id)
                                .bind(from)
                                .execute(pool),
                        )
                        .await
                        .map(|done| done.rows_affected() > 0)
                    })
                }
                None => {
                    let sql = "UPDATE auth_owners SET owner = ?, updated_at = ? WHERE kind = ? AND resource_id = ?";
                    on_backend!(self, sql, |query, pool| {
                        bounded(query.bind(to).bind(at).bind(kind).bind(id).execute(pool))
                            .await
                            .map(|done| done.rows_affected() > 0)
                    })
                }
            }?;
            Ok(changed)
        })
    }

    fn release<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let sql = "DELETE FROM auth_owners WHERE kind = ? AND resource_id = ?";
            on_backend!(self, sql, |query, pool| {
                bounded(query.bind(kind).bind(id).execute(pool))
                    .await
                    .map(|done| done.rows_affected() > 0)
            })
        })
    }

    fn list_owned<'a>(
        &'a self,
        kind: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Vec<OwnerRecord>, StoreError>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {OWNER_COLUMNS} FROM auth_owners WHERE kind = ? AND owner = ? ORDER BY created_at, resource_id"
            );
            on_backend!(self, &sql, |query, pool| {
                let rows = bounded(query.bind(kind).bind(owner).fetch_all(pool)).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let one: Result<OwnerRecord, sqlx::Error> = (|| Ok(owner_record!(row)))();
                    out.push(one.map_err(from_sqlx)?);
                }
                Ok(out)
            })
        })
    }
}

#[cfg(feature = "provider")]
mod provider;
