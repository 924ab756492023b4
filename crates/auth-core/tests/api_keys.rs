//! API keys over the in-memory store: the lifecycle, rotation, revocation, expiry, rate limits,
//! last-used batching and floods of unknown keys. (The SQL stores run the same checks in
//! `auth-store`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::api_key::{ApiKeyStore, ApiKeys, KeyFormat, MemoryKeyStore, NewApiKey};
use auth_core::{ErrorCode, TokenInvalidReason};

/// A clock the test moves by hand.
fn clock() -> (Arc<AtomicI64>, auth_core::Clock) {
    let now = Arc::new(AtomicI64::new(1_800_000_000));
    let read = Arc::clone(&now);
    let clock: auth_core::Clock = Arc::new(move || {
        UNIX_EPOCH + Duration::from_secs(read.load(Ordering::SeqCst).unsigned_abs())
    });
    (now, clock)
}

fn keys(store: &Arc<MemoryKeyStore>) -> ApiKeys {
    ApiKeys::builder(Arc::clone(store) as Arc<dyn ApiKeyStore>)
        .build()
        .expect("keys")
}

#[tokio::test]
async fn a_created_key_verifies_and_only_its_hash_is_stored() {
    let store = Arc::new(MemoryKeyStore::new());
    let keys = keys(&store);
    let created = keys
        .create(
            NewApiKey::new("export", "svc-export")
                .scope("reports:read")
                .tenant("acme"),
        )
        .await
        .expect("created");
    let key = created.key.expose().to_owned();
    assert!(
        key.starts_with("sk_live_") && key.len() == "sk_live_".len() + 43,
        "{key}"
    );
    assert!(key.starts_with(&created.record.id));
    let verified = keys.verify(&key).await.expect("verifies");
    assert_eq!(verified.record.owner, "svc-export");
    assert_eq!(verified.record.scopes, ["reports:read"]);
    assert_eq!(verified.record.tenant.as_deref(), Some("acme"));
    let listed = keys.list().await.expect("list");
    assert_eq!(listed.len(), 1);
    let printed = format!("{listed:?} {created:?}");
    assert!(
        !printed.contains(&key[created.record.id.len()..]),
        "no secret in Debug: {printed}"
    );
}

#[tokio::test]
async fn wrong_unknown_and_malformed_keys_are_token_invalid() {
    let store = Arc::new(MemoryKeyStore::new());
    let keys = keys(&store);
    let created = keys
        .create(NewApiKey::new("a", "alice"))
        .await
        .expect("created");
    let key = created.key.expose();
    // Same id, another secret.
    let mut forged = key[..key.len() - 1].to_owned();
    forged.push(if key.ends_with('a') { 'b' } else { 'a' });
    let (_, unknown) = KeyFormat::default().generate();
    for (presented, reason) in [
        (forged.as_str(), TokenInvalidReason::UnknownApiKey),
        (unknown.as_str(), TokenInvalidReason::UnknownApiKey),
        ("sk_live_short", TokenInvalidReason::Malformed),
        (&key[..key.len() - 1], TokenInvalidReason::Malformed),
    ] {
        let err = keys.verify(presented).await.expect_err(presented);
        assert_eq!(
            (err.code(), err.reason()),
            (ErrorCode::TokenInvalid, Some(reason)),
            "{presented}"
        );
        assert_eq!(err.status(), 401);
    }
}

#[tokio::test]
async fn a_key_that_is_a_prefix_of_another_is_neither() {
    let store = Arc::new(MemoryKeyStore::new());
    let keys = keys(&store);
    let key = keys
        .create(NewApiKey::new("a", "alice"))
        .await
        .expect("created")
        .key;
    let key = key.expose();
    assert!(keys.verify(&format!("{key}0")).await.is_err());
    assert!(keys.verify(&key[..key.len() - 3]).await.is_err());
    assert!(keys.verify(key).await.is_ok());
}

#[tokio::test]
async fn revocation_answers_token_revoked_at_once_here_and_within_the_cache_ttl_elsewhere() {
    let store = Arc::new(MemoryKeyStore::new());
    let here = keys(&store);
    let elsewhere = ApiKeys::builder(Arc::clone(&store) as Arc<dyn ApiKeyStore>)
        .cache_ttl(Duration::from_millis(300))
        .build()
        .expect("keys");
    let created = here
        .create(NewApiKey::new("a", "alice"))
        .await
        .expect("created");
    let key = created.key.expose();
    assert!(elsewhere.verify(key).await.is_ok(), "cached now");
    assert!(here.revoke(&created.record.id).await.expect("revoke"));
    assert_eq!(
        here.verify(key).await.expect_err("revoked").code(),
        ErrorCode::TokenRevoked
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let err = elsewhere.verify(key).await.expect_err("revoked elsewhere");
    assert_eq!(err.code(), ErrorCode::TokenRevoked);
    assert!(!here.revoke("sk_live_nothing12345").await.expect("revoke"));
}

#[tokio::test]
async fn expiry_has_no_leeway() {
    let store = Arc::new(MemoryKeyStore::new());
    let (now, clock) = clock();
    let keys = ApiKeys::builder(Arc::clone(&store) as Arc<dyn ApiKeyStore>)
        .clock(clock)
        .build()
        .expect("keys");
    let created = keys
        .create(NewApiKey::new("a", "alice").expires_in(Duration::from_secs(60)))
        .await
        .expect("created");
    let key = created.key.expose();
    now.fetch_add(59, Ordering::SeqCst);
    assert!(keys.verify(key).await.is_ok());
    now.fetch_add(1, Ordering::SeqCst);
    assert_eq!(
        keys.verify(key).await.expect_err("expired").code(),
        ErrorCode::TokenExpired
    );
}

#[tokio::test]
async fn rotation_keeps_both_keys_working_for_the_overlap() {
    let store = Arc::new(MemoryKeyStore::new());
    let (now, clock) = clock();
    let keys = ApiKeys::builder(Arc::clone(&store) as Arc<dyn ApiKeyStore>)
        .clock(clock)
        .build()
        .expect("keys");
    let old = keys
        .create(NewApiKey::new("export", "svc").scope("reports:read"))
        .await
        .expect("created");
    let new = keys
        .rotate(&old.record.id, Duration::from_secs(24 * 3600))
        .await
        .expect("rotate")
        .expect("exists");
    assert_ne!(new.record.id, old.record.id);
    assert_eq!(new.record.scopes, old.record.scopes);
    assert!(keys.verify(old.key.expose()).await.is_ok());
    assert!(keys.verify(new.key.expose()).await.is_ok());
    now.fetch_add(24 * 3600, Ordering::SeqCst);
    assert_eq!(
        keys.verify(old.key.expose())
            .await
            .expect_err("overlap over")
            .code(),
        ErrorCode::TokenExpired
    );
    assert!(keys.verify(new.key.expose()).await.is_ok());
    assert!(
        keys.rotate("sk_live_nothing12345", Duration::ZERO)
            .await
            .expect("rotate")
            .is_none()
    );
}

#[tokio::test]
async fn a_key_over_its_rate_limit_is_429_with_retry_after() {
    let store = Arc::new(MemoryKeyStore::new());
    let keys = keys(&store);
    let created = keys
        .create(NewApiKey::new("a", "alice").rate_limit_per_minute(3))
        .await
        .expect("created");
    for _ in 0..3 {
        assert!(keys.verify(created.key.expose()).await.is_ok());
    }
    let err = keys
        .verify(created.key.expose())
        .await
        .expect_err("limited");
    assert_eq!((err.code(), err.status()), (ErrorCode::RateLimited, 429));
    assert!(
        err.retry_after().is_some_and(|s| (1..=20).contains(&s)),
        "{:?}",
        err.retry_after()
    );
}

#[tokio::test]
async fn last_used_is_written_in_batches_not_per_request() {
    let store = Arc::new(MemoryKeyStore::new());
    let keys = ApiKeys::builder(Arc::clone(&store) as Arc<dyn ApiKeyStore>)
        .last_used_interval(Duration::from_secs(3600))
        .build()
        .expect("keys");
    let created = keys
        .create(NewApiKey::new("a", "alice"))
        .await
        .expect("created");
    for _ in 0..200 {
        keys.verify(created.key.expose()).await.expect("verifies");
    }
    tokio::task::yield_now().await;
    // The first use writes at once (nothing was pending); the next 199 wait for the interval.
    assert_eq!(store.use_batches(), 1);
    keys.flush_last_used().await.expect("flush");
    assert_eq!(store.use_batches(), 2);
    let listed = keys.list().await.expect("list");
    assert!(listed[0].last_used_at.is_some());
}

#[tokio::test]
async fn verification_is_served_from_the_cache() {
    let store = Arc::new(MemoryKeyStore::new());
    let keys = keys(&store);
    let created = keys
        .create(NewApiKey::new("a", "alice"))
        .await
        .expect("created");
    for _ in 0..100 {
        keys.verify(created.key.expose()).await.expect("verifies");
    }
    assert_eq!(store.lookups(), 1);
}

#[tokio::test]
async fn a_flood_of_unknown_keys_costs_a_bounded_number_of_lookups_and_never_a_200() {
    let store = Arc::new(MemoryKeyStore::new());
    let keys = ApiKeys::builder(Arc::clone(&store) as Arc<dyn ApiKeyStore>)
        .miss_budget(10, 20)
        .build()
        .expect("keys");
    let good = keys
        .create(NewApiKey::new("a", "alice"))
        .await
        .expect("created");
    assert!(keys.verify(good.key.expose()).await.is_ok());
    let format = KeyFormat::default();
    let mut limited = 0;
    for _ in 0..2000 {
        let (_, random) = format.generate();
        let err = keys.verify(&random).await.expect_err("unknown");
        match err.code() {
            ErrorCode::TokenInvalid => {}
            ErrorCode::RateLimited => {
                limited += 1;
                assert!(err.retry_after().is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(store.lookups() <= 1 + 40, "{} lookups", store.lookups());
    assert!(limited > 1900, "{limited}");
    // A known key stays fast: it is in the cache.
    assert!(keys.verify(good.key.expose()).await.is_ok());
    // The same unknown id again costs nothing.
    let (_, random) = format.generate();
    let _ = keys.verify(&random).await;
}

#[tokio::test]
async fn a_flood_of_unknown_keys_does_not_lock_out_keys_in_use_when_their_cache_expires() {
    let store = Arc::new(MemoryKeyStore::new());
    let keys = ApiKeys::builder(Arc::clone(&store) as Arc<dyn ApiKeyStore>)
        .cache_ttl(Duration::from_millis(50))
        .miss_budget(1, 5)
        .build()
        .expect("keys");
    let good = keys
        .create(NewApiKey::new("a", "alice"))
        .await
        .expect("created");
    assert!(keys.verify(good.key.expose()).await.is_ok());
    async fn flood(keys: &ApiKeys, n: usize) -> usize {
        let format = KeyFormat::default();
        let mut limited = 0;
        for _ in 0..n {
            let (_, random) = format.generate();
            let err = keys.verify(&random).await.expect_err("unknown");
            limited += usize::from(err.code() == ErrorCode::RateLimited);
        }
        limited
    }
    assert!(flood(&keys, 50).await >= 44);
    tokio::time::sleep(Duration::from_millis(120)).await;
    // The good key's record left the cache; the budget is spent; it still verifies.
    let before = store.lookups();
    keys.verify(good.key.expose())
        .await
        .expect("a key in use is not locked out");
    assert_eq!(store.lookups(), before + 1);
    // Unknown keys are still refused without a lookup.
    assert_eq!(flood(&keys, 10).await, 10);
    assert_eq!(store.lookups(), before + 1);
    // A revoked key is known too, and answers token_revoked.
    keys.revoke(&good.record.id).await.expect("revoked");
    tokio::time::sleep(Duration::from_millis(120)).await;
    let err = keys.verify(good.key.expose()).await.expect_err("revoked");
    assert_eq!(err.code(), ErrorCode::TokenRevoked);
}

#[tokio::test]
async fn concurrent_creation_gives_distinct_keys() {
    let store = Arc::new(MemoryKeyStore::new());
    let keys = keys(&store);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            keys.create(NewApiKey::new(format!("k{i}"), "svc"))
                .await
                .expect("created")
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let created = task.await.expect("task");
        assert!(ids.insert(created.record.id.clone()));
        assert!(keys.verify(created.key.expose()).await.is_ok());
    }
    assert_eq!(keys.list().await.expect("list").len(), 50);
}

#[test]
fn a_cache_ttl_over_ten_seconds_is_a_setup_error() {
    let store: Arc<dyn ApiKeyStore> = Arc::new(MemoryKeyStore::new());
    let err = ApiKeys::builder(store)
        .cache_ttl(Duration::from_secs(11))
        .build()
        .expect_err("too long");
    assert_eq!(err.variable(), "AUTH_API_KEY_CACHE_TTL");
    let _ = SystemTime::now();
}

// ---------------------------------------------------------------- through the Authenticator

mod through_the_authenticator {
    use super::*;
    use auth_core::adapter::SimpleRequest;
    use auth_core::{AuthConfig, Authenticator, Guard, NoExtraClaims, TokenSource, Verifier};
    use auth_issuer::TestIssuer;

    async fn setup() -> (TestIssuer, ApiKeys, Authenticator) {
        let issuer = TestIssuer::start().await;
        let keys = keys(&Arc::new(MemoryKeyStore::new()));
        let verifier = Verifier::new(
            AuthConfig::builder()
                .issuer(issuer.issuer())
                .audience(issuer.audience())
                .build()
                .expect("config"),
        )
        .expect("verifier");
        let auth = Authenticator::builder(verifier)
            .api_keys(keys.clone())
            .build()
            .expect("authenticator");
        (issuer, keys, auth)
    }

    #[tokio::test]
    async fn a_key_in_either_header_acts_as_its_owner_with_its_scopes_as_roles() {
        let (_issuer, keys, auth) = setup().await;
        let created = keys
            .create(
                NewApiKey::new("export", "alice")
                    .scope("admin")
                    .scope("reports:read")
                    .tenant("acme"),
            )
            .await
            .expect("created");
        let key = created.key.expose();
        for req in [
            SimpleRequest::get("/x").header("authorization", &format!("Bearer {key}")),
            SimpleRequest::get("/x").header("x-api-key", key),
        ] {
            let authed = auth
                .authenticate::<NoExtraClaims>(&req)
                .await
                .expect("key accepted");
            assert_eq!(authed.source, TokenSource::ApiKey);
            assert_eq!(authed.claims.sub.as_deref(), Some("alice"));
            assert_eq!(authed.claims.roles(), ["admin", "reports:read"]);
            assert!(authed.claims.has_scope("reports:read"));
            assert_eq!(authed.claims.tenant_id(), Some("acme"));
            assert!(Guard::any_role(["admin"]).check(&authed.claims).is_ok());
            assert!(
                Guard::all_scopes(["reports:write"])
                    .check(&authed.claims)
                    .is_err()
            );
            let record = authed.api_key.expect("the key's record");
            assert_eq!(record.name, "export");
            assert!(
                !authed.claims.raw_json().contains(&key[record.id.len()..]),
                "no secret in the claims"
            );
        }
    }

    #[tokio::test]
    async fn jwt_only_and_api_key_only_guards() {
        let (issuer, keys, auth) = setup().await;
        let key = keys
            .create(NewApiKey::new("a", "alice"))
            .await
            .expect("created")
            .key;
        let by_key = auth
            .authenticate::<NoExtraClaims>(
                &SimpleRequest::get("/x").header("x-api-key", key.expose()),
            )
            .await
            .expect("key");
        let jwt = issuer.token().sub("alice").sign();
        let by_jwt = auth
            .authenticate::<NoExtraClaims>(
                &SimpleRequest::get("/x").header("authorization", &format!("Bearer {jwt}")),
            )
            .await
            .expect("jwt");
        assert!(Guard::api_key_only().check(&by_key.claims).is_ok());
        assert!(Guard::jwt_only().check(&by_jwt.claims).is_ok());
        let err = Guard::jwt_only()
            .check(&by_key.claims)
            .expect_err("keys refused");
        assert_eq!(err.code(), ErrorCode::PermissionDenied);
        assert!(Guard::api_key_only().check(&by_jwt.claims).is_err());
        // A JWT cannot pass for a key by carrying an `api_key` claim.
        let sneaky = issuer
            .token()
            .sub("alice")
            .claim("api_key", serde_json::json!({"id": "x"}))
            .sign();
        let sneaky = auth
            .authenticate::<NoExtraClaims>(
                &SimpleRequest::get("/x").header("authorization", &format!("Bearer {sneaky}")),
            )
            .await
            .expect("jwt");
        assert!(Guard::api_key_only().check(&sneaky.claims).is_err());
    }

    #[tokio::test]
    async fn a_jwt_still_works_and_a_jwt_with_a_key_is_400() {
        let (issuer, keys, auth) = setup().await;
        let jwt = issuer.token().sub("bob").sign();
        let authed = auth
            .authenticate::<NoExtraClaims>(
                &SimpleRequest::get("/x").header("authorization", &format!("Bearer {jwt}")),
            )
            .await
            .expect("jwt");
        assert_eq!(authed.source, TokenSource::Header);
        assert!(authed.api_key.is_none());
        let key = keys
            .create(NewApiKey::new("a", "alice"))
            .await
            .expect("created")
            .key;
        for req in [
            SimpleRequest::get("/x")
                .header("authorization", &format!("Bearer {jwt}"))
                .header("x-api-key", key.expose()),
            SimpleRequest::get("/x")
                .header("authorization", &format!("Bearer {}", key.expose()))
                .header("x-api-key", key.expose()),
            SimpleRequest::get("/x")
                .header("x-api-key", key.expose())
                .header("x-api-key", key.expose()),
        ] {
            let err = auth
                .authenticate::<NoExtraClaims>(&req)
                .await
                .expect_err("two credentials");
            assert_eq!((err.code(), err.status()), (ErrorCode::InvalidRequest, 400));
        }
    }

    #[tokio::test]
    async fn a_revoked_key_is_401_token_revoked_with_the_bearer_challenge() {
        let (_issuer, keys, auth) = setup().await;
        let created = keys
            .create(NewApiKey::new("a", "alice"))
            .await
            .expect("created");
        keys.revoke(&created.record.id).await.expect("revoke");
        let err = auth
            .authenticate::<NoExtraClaims>(
                &SimpleRequest::get("/x").header("x-api-key", created.key.expose()),
            )
            .await
            .expect_err("revoked");
        assert_eq!(err.code(), ErrorCode::TokenRevoked);
        let response = auth.error_response(&err);
        assert_eq!(response.status, 401);
        assert!(
            response
                .header("www-authenticate")
                .unwrap_or_default()
                .contains(r#"error="invalid_token""#)
        );
        // An unknown key of the right shape: token_invalid, without the secret in the body.
        let (_, unknown) = KeyFormat::default().generate();
        let err = auth
            .authenticate::<NoExtraClaims>(&SimpleRequest::get("/x").header("x-api-key", &unknown))
            .await
            .expect_err("unknown");
        assert_eq!(err.code(), ErrorCode::TokenInvalid);
        let body = String::from_utf8_lossy(&auth.error_response(&err).body).into_owned();
        assert!(!body.contains(&unknown), "{body}");
    }
}
