//! One storage suite, run against a real SQLite file and, when one is configured, a real
//! PostgreSQL server (`AUTH_TEST_POSTGRES_URL=postgres://user@127.0.0.1:port/postgres`; each
//! test creates its own database). Without it the PostgreSQL half is skipped with a loud
//! message, except under CI (`CI=true`), where a missing server fails the run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use auth_core::ErrorCode;
use auth_core::api_key::{ApiKeyStore, ApiKeys, NewApiKey};
use auth_core::owner::{OwnerStore, Ownership};
use auth_store::SqlStore;

/// A fresh, empty SQLite file path in a temporary folder (the file does not exist yet).
fn sqlite_url() -> (String, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "auth-store-test-{}-{}",
        std::process::id(),
        unique()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("keys.db");
    (format!("sqlite:{}", path.display()), dir)
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{nanos}_{}", N.fetch_add(1, Ordering::Relaxed))
}

/// A fresh PostgreSQL database's URL, when a server is configured.
#[cfg(feature = "postgres")]
async fn postgres_url() -> Option<String> {
    let Some(admin) = std::env::var("AUTH_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL half: AUTH_TEST_POSTGRES_URL is not set"
        );
        eprintln!(
            "\n*** auth-store: AUTH_TEST_POSTGRES_URL is not set: SKIPPING the PostgreSQL tests ***\n"
        );
        return None;
    };
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("the configured PostgreSQL server answers");
    let name = format!("auth_store_{}", unique());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
    Some(format!("{base}/{name}"))
}

#[cfg(not(feature = "postgres"))]
async fn postgres_url() -> Option<String> {
    eprintln!(
        "\n*** auth-store: built without the postgres feature: SKIPPING the PostgreSQL tests ***\n"
    );
    None
}

/// Fresh database URLs, one per backend available.
async fn databases() -> Vec<String> {
    let mut out = vec![sqlite_url().0];
    out.extend(postgres_url().await);
    out
}

fn keys(store: SqlStore, ttl: Duration) -> ApiKeys {
    ApiKeys::builder(Arc::new(store) as Arc<dyn ApiKeyStore>)
        .cache_ttl(ttl)
        .build()
        .expect("keys")
}

#[tokio::test]
async fn a_database_that_does_not_exist_yet_is_created_and_migrated_once() {
    let mut backends = Vec::new();
    for url in databases().await {
        let first = SqlStore::open(&url).await.expect("created and migrated");
        let again = SqlStore::open(&url)
            .await
            .expect("migrations are idempotent");
        assert_eq!(first.backend_name(), again.backend_name());
        assert!(first.list().await.expect("list").is_empty(), "{url}");
        backends.push(first.backend_name());
    }
    let expected: &[&str] = if std::env::var("AUTH_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty())
    {
        &["sqlite", "postgres"]
    } else {
        &["sqlite"]
    };
    assert_eq!(backends, expected);
}

#[tokio::test]
async fn the_key_lifecycle_survives_a_restart() {
    for url in databases().await {
        let keys1 = keys(
            SqlStore::open(&url).await.expect("open"),
            Duration::from_secs(5),
        );
        let kept = keys1
            .create(
                NewApiKey::new("export", "svc")
                    .scope("reports:read")
                    .scope("admin")
                    .tenant("acme")
                    .rate_limit_per_minute(100)
                    .expires_in(Duration::from_secs(3600)),
            )
            .await
            .expect("create");
        let revoked = keys1
            .create(NewApiKey::new("old", "svc"))
            .await
            .expect("create");
        assert!(keys1.revoke(&revoked.record.id).await.expect("revoke"));
        keys1.verify(kept.key.expose()).await.expect("verifies");
        keys1.flush_last_used().await.expect("flush");
        // A restart: a new store and a new cache on the same database.
        let keys2 = keys(
            SqlStore::open(&url).await.expect("reopen"),
            Duration::from_secs(5),
        );
        let verified = keys2.verify(kept.key.expose()).await.expect("still valid");
        assert_eq!(verified.record.scopes, ["reports:read", "admin"], "{url}");
        assert_eq!(verified.record.tenant.as_deref(), Some("acme"));
        assert_eq!(verified.record.rate_limit_per_minute, Some(100));
        assert!(verified.record.expires_at.is_some());
        assert!(verified.record.last_used_at.is_some(), "{url}");
        let err = keys2
            .verify(revoked.key.expose())
            .await
            .expect_err("revoked");
        assert_eq!(err.code(), ErrorCode::TokenRevoked, "{url}");
        let listed = keys2.list().await.expect("list");
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|r| r.hash.to_hex().len() == 64));
    }
}

#[tokio::test]
async fn a_revocation_reaches_every_replica_within_the_cache_ttl() {
    for url in databases().await {
        let replica_a = keys(
            SqlStore::open(&url).await.expect("open"),
            Duration::from_millis(500),
        );
        let replica_b = keys(
            SqlStore::open(&url).await.expect("open"),
            Duration::from_millis(500),
        );
        let created = replica_a
            .create(NewApiKey::new("a", "alice"))
            .await
            .expect("create");
        assert!(
            replica_b.verify(created.key.expose()).await.is_ok(),
            "{url}: created elsewhere"
        );
        assert!(replica_a.revoke(&created.record.id).await.expect("revoke"));
        tokio::time::sleep(Duration::from_millis(600)).await;
        let err = replica_b
            .verify(created.key.expose())
            .await
            .expect_err("revoked");
        assert_eq!(err.code(), ErrorCode::TokenRevoked, "{url}");
    }
}

#[tokio::test]
async fn rotation_overlap_and_expiry() {
    for url in databases().await {
        let keys = keys(
            SqlStore::open(&url).await.expect("open"),
            Duration::from_millis(1),
        );
        let old = keys
            .create(NewApiKey::new("a", "alice"))
            .await
            .expect("create");
        let new = keys
            .rotate(&old.record.id, Duration::from_secs(2))
            .await
            .expect("rotate")
            .expect("exists");
        assert!(keys.verify(old.key.expose()).await.is_ok(), "{url}");
        assert!(keys.verify(new.key.expose()).await.is_ok(), "{url}");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let err = keys.verify(old.key.expose()).await.expect_err("expired");
        assert_eq!(err.code(), ErrorCode::TokenExpired, "{url}");
        assert!(keys.verify(new.key.expose()).await.is_ok());
    }
}

#[tokio::test]
async fn concurrent_creation_and_look_alike_keys() {
    for url in databases().await {
        let keys = keys(
            SqlStore::open(&url).await.expect("open"),
            Duration::from_secs(5),
        );
        let mut tasks = Vec::new();
        for i in 0..20 {
            let keys = keys.clone();
            tasks.push(tokio::spawn(async move {
                keys.create(NewApiKey::new(format!("k{i}"), "svc"))
                    .await
                    .expect("create")
            }));
        }
        let mut created = Vec::new();
        for task in tasks {
            created.push(task.await.expect("task"));
        }
        assert_eq!(keys.list().await.expect("list").len(), 20, "{url}");
        let key = created[0].key.expose();
        assert!(keys.verify(key).await.is_ok());
        for look_alike in [format!("{key}0"), key[..key.len() - 1].to_owned()] {
            let err = keys.verify(&look_alike).await.expect_err("look-alike");
            assert_eq!(err.code(), ErrorCode::TokenInvalid, "{url}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_database_is_503_not_401() {
    let err = SqlStore::open("sqlite:/dev/null/keys.db")
        .await
        .expect_err("cannot create");
    assert_eq!(err.kind(), auth_core::store::StoreErrorKind::Unavailable);
    let err = SqlStore::open("mysql://localhost/x")
        .await
        .expect_err("unsupported");
    assert!(err.to_string().contains("sqlite:PATH"), "{err}");
}

#[tokio::test]
async fn ownership_is_set_once_and_survives_a_restart() {
    for url in databases().await {
        let store = SqlStore::open(&url).await.expect("opens");
        let first = store
            .claim("notes", "n1", "alice", 100)
            .await
            .expect("claims");
        assert!(first.created, "{url}");
        let second = store
            .claim("notes", "n1", "bob", 101)
            .await
            .expect("claims");
        assert!(!second.created, "{url}: set once");
        assert_eq!(second.owner, "alice");
        // Kinds are separate namespaces.
        assert!(
            store
                .claim("files", "n1", "bob", 102)
                .await
                .expect("claims")
                .created
        );
        store.close().await;

        let store = SqlStore::open(&url).await.expect("reopens");
        let record = OwnerStore::get(&store, "notes", "n1")
            .await
            .expect("reads")
            .expect("still owned after a restart");
        assert_eq!((record.owner.as_str(), record.created_at), ("alice", 100));
        assert!(
            !store
                .transfer("notes", "n1", Some("bob"), "carol", 200)
                .await
                .expect("runs")
        );
        assert!(
            store
                .transfer("notes", "n1", Some("alice"), "bob", 200)
                .await
                .expect("runs")
        );
        let record = OwnerStore::get(&store, "notes", "n1")
            .await
            .expect("reads")
            .expect("owned");
        assert_eq!((record.owner.as_str(), record.updated_at), ("bob", 200));
        assert!(
            store
                .transfer("notes", "n1", None, "alice", 201)
                .await
                .expect("overwrite")
        );
        assert!(
            !store
                .transfer("notes", "free", None, "alice", 201)
                .await
                .expect("runs")
        );
        store
            .claim("notes", "n2", "alice", 150)
            .await
            .expect("claims");
        let owned: Vec<String> = store
            .list_owned("notes", "alice")
            .await
            .expect("lists")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(owned, ["n1", "n2"], "{url}");
        assert!(store.release("notes", "n1").await.expect("releases"));
        assert!(!store.release("notes", "n1").await.expect("runs"));
        assert!(
            store
                .claim("notes", "n1", "carol", 300)
                .await
                .expect("claims")
                .created
        );
        store.close().await;
    }
}

#[tokio::test]
async fn concurrent_claims_of_one_resource_have_exactly_one_winner() {
    for url in databases().await {
        let store = Arc::new(SqlStore::open(&url).await.expect("opens"));
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    store
                        .claim("notes", "contested", &format!("user{i}"), 1)
                        .await
                        .expect("claims")
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut owners = std::collections::HashSet::new();
        for task in tasks {
            let claimed = task.await.expect("joins");
            owners.insert(claimed.owner.clone());
            if claimed.created {
                winners.push(claimed.owner);
            }
        }
        assert_eq!(winners.len(), 1, "{url}: {winners:?}");
        assert_eq!(owners.len(), 1, "{url}: everyone sees the winner");
        store.close().await;
    }
}

#[tokio::test]
async fn the_ownership_rule_runs_on_the_sql_store() {
    for url in databases().await {
        let store = SqlStore::open(&url).await.expect("opens");
        let notes = Ownership::builder(Arc::new(store) as Arc<dyn OwnerStore>, "notes")
            .build()
            .expect("builds");
        assert!(notes.owner("n1").await.expect("reads").is_none());
        assert!(
            notes
                .transfer("n1", "alice", "bob")
                .await
                .is_ok_and(|moved| !moved)
        );
    }
}

#[tokio::test]
async fn the_application_s_own_sqlx_migrations_share_the_database() {
    for url in databases().await {
        let app_dir = std::env::temp_dir().join(format!("auth-store-app-migrations-{}", unique()));
        std::fs::create_dir_all(&app_dir).expect("dir");
        std::fs::write(
            app_dir.join("0001_app_orders.sql"),
            "CREATE TABLE orders (id BIGINT PRIMARY KEY NOT NULL);",
        )
        .expect("write");
        let mut app = sqlx::migrate::Migrator::new(app_dir.as_path())
            .await
            .expect("reads");
        app.set_ignore_missing(true);

        // Ours first, then the app's, then ours again (a restart), then the app's again.
        let store = SqlStore::open(&url).await.expect("opens");
        store.close().await;
        run_app_migrations(&app, &url).await;
        let store = SqlStore::open(&url)
            .await
            .expect("ours still apply beside the app's");
        assert!(store.list().await.expect("lists").is_empty());
        store.close().await;
        run_app_migrations(&app, &url).await;
        let _ = std::fs::remove_dir_all(&app_dir);
    }
}

async fn run_app_migrations(app: &sqlx::migrate::Migrator, url: &str) {
    use sqlx::Connection as _;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url)
            .await
            .expect("connects");
        app.run(&mut conn)
            .await
            .expect("the app's migrations apply beside ours");
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connects");
        app.run(&mut conn)
            .await
            .expect("the app's migrations apply beside ours");
    }
}
