//! The owned resource of the example apps (`/api/notes/{id}`), over real HTTP: set-once
//! ownership, admins who read but never write, API keys acting as their owner, cross-site
//! cookie writes, and everything surviving a restart on the same `DATABASE_URL`.

use std::sync::Arc;

use auth_axum::auth_core::api_key::{ApiKeyStore, ApiKeys, NewApiKey};
use example_shared::Settings;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::app::{App, Kind, start_with};
use crate::http_flows::{error_code, json};

/// Who calls: a JWT for a subject with roles, or an API key.
enum Caller<'a> {
    Jwt(&'a str, &'a [&'a str]),
    Key(&'a str),
    Nobody,
}

impl App {
    fn as_caller(&self, request: RequestBuilder, caller: &Caller<'_>) -> RequestBuilder {
        match caller {
            Caller::Jwt(sub, roles) => {
                request.bearer_auth(self.issuer().token().sub(sub).roles(roles).sign())
            }
            Caller::Key(key) => request.header("x-api-key", *key),
            Caller::Nobody => request,
        }
    }

    async fn put_note(&self, id: &str, caller: &Caller<'_>, body: &Value) -> (StatusCode, Value) {
        let request = self
            .http
            .put(self.url(&format!("/api/notes/{id}")))
            .json(body);
        json(self.as_caller(request, caller).send().await.expect("PUT")).await
    }

    async fn get_note(&self, id: &str, caller: &Caller<'_>) -> (StatusCode, Value) {
        let request = self.http.get(self.url(&format!("/api/notes/{id}")));
        json(self.as_caller(request, caller).send().await.expect("GET")).await
    }

    async fn delete_note(&self, id: &str, caller: &Caller<'_>) -> StatusCode {
        let request = self.http.delete(self.url(&format!("/api/notes/{id}")));
        self.as_caller(request, caller)
            .send()
            .await
            .expect("DELETE")
            .status()
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

pub async fn a_note_belongs_to_its_first_writer(app: App) {
    let alice = Caller::Jwt("alice", &["user"]);
    let bob = Caller::Jwt("bob", &["user"]);
    let admin = Caller::Jwt("root", &["admin"]);

    let (status, body) = app.put_note("n1", &alice, &json!({"text": "hello"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({"id": "n1", "owner": "alice", "text": "hello"}));
    let (status, body) = app.put_note("n1", &alice, &json!({"text": "again"})).await;
    assert_eq!(status, StatusCode::OK, "the owner rewrites: {body}");

    for caller in [&bob, &admin] {
        let (status, body) = app.put_note("n1", caller, &json!({"text": "mine"})).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "permission_denied"),
            "{body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("another user")),
            "a clear message: {body}"
        );
    }
    let (status, body) = app.get_note("n1", &bob).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "permission_denied")
    );
    for caller in [&alice, &admin] {
        let (status, body) = app.get_note("n1", caller).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"id": "n1", "owner": "alice", "text": "again"}));
    }
    let (status, body) = app.get_note("n1", &Caller::Nobody).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "token_missing")
    );
    let (status, body) = app.get_note("nothing-here", &alice).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));

    // A key owned by alice acts as alice.
    let key = app.demo_key.clone().expect("the demo key");
    let (status, body) = app.get_note("n1", &Caller::Key(&key)).await;
    assert_eq!(
        (status, body["owner"].clone()),
        (StatusCode::OK, json!("alice"))
    );
    let (status, _) = app
        .put_note("n1", &Caller::Key(&key), &json!({"text": "by key"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .put_note("k1", &Caller::Key(&key), &json!({"text": "x"}))
        .await;
    assert_eq!(
        (status, body["owner"].clone()),
        (StatusCode::CREATED, json!("alice"))
    );

    // Deleting: only the owner; afterwards the id is free.
    assert_eq!(app.delete_note("n1", &bob).await, StatusCode::FORBIDDEN);
    assert_eq!(app.delete_note("n1", &admin).await, StatusCode::FORBIDDEN);
    assert_eq!(app.delete_note("n1", &alice).await, StatusCode::NO_CONTENT);
    assert_eq!(app.get_note("n1", &alice).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.delete_note("n1", &alice).await, StatusCode::NOT_FOUND);
    let (status, body) = app
        .put_note("n1", &bob, &json!({"text": "bob's now"}))
        .await;
    assert_eq!(
        (status, body["owner"].clone()),
        (StatusCode::CREATED, json!("bob"))
    );
}

pub async fn a_refused_note_body_does_not_take_the_id(app: App) {
    let alice = Caller::Jwt("alice", &["user"]);
    let bob = Caller::Jwt("bob", &["user"]);
    for bad in [json!({"txt": "typo"}), json!({"text": 42}), json!("text")] {
        let (status, body) = app.put_note("draft", &alice, &bad).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{bad}"
        );
    }
    let (status, body) = app
        .put_note("draft", &alice, &json!({"text": "x".repeat(17 * 1024)}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (status, body) = app
        .put_note("draft", &bob, &json!({"text": "first valid"}))
        .await;
    assert_eq!(
        (status, body["owner"].clone()),
        (StatusCode::CREATED, json!("bob"))
    );
}

pub async fn cross_site_cookie_writes_to_notes_are_refused(app: App) {
    app.sign_in("alice").await;
    let url = app.url("/api/notes/csrf");
    let evil = "https://evil.example.com";
    let attempts = [
        app.http.put(&url).header("origin", evil),
        app.http.put(&url).header("sec-fetch-site", "cross-site"),
        app.http.delete(&url).header("origin", evil),
        app.http.delete(&url).header("sec-fetch-site", "cross-site"),
    ];
    for attempt in attempts {
        let response = attempt
            .json(&json!({"text": "forged"}))
            .send()
            .await
            .expect("send");
        assert_eq!(
            error_code(response).await,
            (StatusCode::FORBIDDEN, "permission_denied".into())
        );
    }
    // Nothing was claimed: the same-origin write is the first one.
    let created = app
        .http
        .put(&url)
        .header("origin", &app.app_url)
        .json(&json!({"text": "mine"}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(created.status(), StatusCode::CREATED);
    // A cross-site write to an existing note is refused too, and a same-origin read works.
    let forged = app
        .http
        .put(&url)
        .header("origin", evil)
        .json(&json!({"text": "forged"}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (status, body) = json(app.http.get(&url).send().await.expect("GET")).await;
    assert_eq!(
        (status, body["text"].clone()),
        (StatusCode::OK, json!("mine"))
    );
}

/// A fresh SQLite file (that does not exist yet) in a temporary folder.
fn fresh_sqlite_url(kind: Kind) -> String {
    let dir = std::env::temp_dir().join(format!(
        "auth-conformance-restart-{kind:?}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    format!("sqlite:{}", dir.join("app.db").display())
}

/// Keys, revocations, ownership and notes survive a restart on the same `DATABASE_URL`.
pub async fn everything_survives_a_restart(kind: Kind) {
    let database_url = fresh_sqlite_url(kind);
    let settings = Settings {
        database_url: Some(database_url.clone()),
        ..Settings::dev()
    };
    let first = start_with(kind, settings.clone()).await;
    let key = first.demo_key.clone().expect("the demo key");
    let (status, _) = first
        .put_note("kept", &Caller::Key(&key), &json!({"text": "survives"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = first
        .put_note(
            "bobs",
            &Caller::Jwt("bob", &["user"]),
            &json!({"text": "bob"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let doomed = first.demo_key.clone().expect("key");
    drop(first);

    // Revoke the first run's key from outside the app (as `auth keys revoke` does).
    let store = auth_store::SqlStore::open(&database_url)
        .await
        .expect("opens");
    let keys = ApiKeys::builder(Arc::new(store.clone()) as Arc<dyn ApiKeyStore>)
        .build()
        .expect("keys");
    let second_key = keys
        .create(NewApiKey::new("second", "alice").scope("user"))
        .await
        .expect("creates");
    let listed = keys.list().await.expect("lists");
    let doomed_id = listed
        .iter()
        .find(|r| doomed.starts_with(&r.id))
        .map(|r| r.id.clone())
        .expect("the demo key is stored");
    assert!(keys.revoke(&doomed_id).await.expect("revokes"));
    store.close().await;

    let second = start_with(kind, settings).await;
    let survivor = Caller::Key(second_key.key.expose());
    let (status, body) = second.get_note("kept", &survivor).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"id": "kept", "owner": "alice", "text": "survives"})
    );
    let (status, body) = second
        .put_note("bobs", &survivor, &json!({"text": "alice's now?"}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "permission_denied"),
        "ownership survives"
    );
    let (status, body) = second.get_note("kept", &Caller::Key(&doomed)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "token_revoked"),
        "{body}"
    );
}
