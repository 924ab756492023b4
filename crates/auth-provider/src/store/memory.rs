//! [`MemoryStore`]: the provider's state in the process.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{
    AccessRecord, Authorization, BoxFuture, CodeRecord, CodeUse, Consent, ProviderStore,
    RefreshRecord, StoreResult,
};
use crate::client::Client;

/// How long a used or expired code is remembered after its expiry, so that a late replay is
/// still recognised (and revokes its family).
const CODE_MEMORY_SECS: i64 = 600;

/// The provider's state in memory: for tests, development and a single replica that may
/// forget every session at restart. Cheap to share (`Arc`) and safe across tasks; no method
/// waits.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    clients: HashMap<String, Client>,
    authorizations: HashMap<String, Authorization>,
    /// By code hash, with whether it was used.
    codes: HashMap<String, (CodeRecord, bool)>,
    refresh: HashMap<String, RefreshRecord>,
    access: HashMap<String, AccessRecord>,
    /// Opaque access token hash to jti.
    opaque: HashMap<String, String>,
    /// By (sub, client id).
    consents: HashMap<(String, String), Consent>,
    once: HashMap<String, i64>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("clients", &state.clients.len())
            .field("authorizations", &state.authorizations.len())
            .field("codes", &state.codes.len())
            .field("refresh_tokens", &state.refresh.len())
            .field("access_tokens", &state.access.len())
            .field("consents", &state.consents.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now<T: Send + 'static>(value: T) -> BoxFuture<'static, StoreResult<T>> {
        Box::pin(std::future::ready(Ok(value)))
    }
}

impl State {
    fn revoke(&mut self, id: &str) {
        if let Some(authorization) = self.authorizations.get_mut(id) {
            authorization.revoked = true;
        }
        self.refresh.retain(|_, r| r.authorization_id != id);
        for record in self.access.values_mut() {
            if record.authorization_id.as_deref() == Some(id) {
                record.revoked = true;
            }
        }
    }
}

impl ProviderStore for MemoryStore {
    fn client<'a>(&'a self, client_id: &'a str) -> BoxFuture<'a, StoreResult<Option<Client>>> {
        Self::now(self.lock().clients.get(client_id).cloned())
    }

    fn put_client<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, StoreResult<()>> {
        self.lock()
            .clients
            .insert(client.client_id().to_owned(), client.clone());
        Self::now(())
    }

    fn delete_client<'a>(&'a self, client_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Self::now(self.lock().clients.remove(client_id).is_some())
    }

    fn insert_authorization<'a>(
        &'a self,
        authorization: &'a Authorization,
        code: &'a CodeRecord,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let mut state = self.lock();
        state
            .authorizations
            .insert(authorization.id.clone(), authorization.clone());
        state.codes.insert(code.hash.clone(), (code.clone(), false));
        Self::now(())
    }

    fn authorization<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Authorization>>> {
        Self::now(self.lock().authorizations.get(id).cloned())
    }

    fn authorizations_of<'a>(
        &'a self,
        sub: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<Authorization>>> {
        let mut found: Vec<Authorization> = self
            .lock()
            .authorizations
            .values()
            .filter(|a| a.sub == sub && !a.revoked)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Self::now(found)
    }

    fn revoke_authorization<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        self.lock().revoke(id);
        Self::now(())
    }

    fn take_code<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, StoreResult<CodeUse>> {
        let mut state = self.lock();
        let answer = match state.codes.get_mut(hash) {
            None => CodeUse::Unknown,
            Some((record, true)) => CodeUse::Replayed {
                authorization_id: record.authorization_id.clone(),
            },
            Some((record, used)) => {
                *used = true;
                CodeUse::First(record.clone())
            }
        };
        Self::now(answer)
    }

    fn insert_refresh_token<'a>(
        &'a self,
        record: &'a RefreshRecord,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.lock()
            .refresh
            .insert(record.hash.clone(), record.clone());
        Self::now(())
    }

    fn refresh_token<'a>(
        &'a self,
        hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<RefreshRecord>>> {
        Self::now(self.lock().refresh.get(hash).cloned())
    }

    fn rotate_refresh_token<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        let rotated = match self.lock().refresh.get_mut(hash) {
            Some(record) if !record.rotated => {
                record.rotated = true;
                true
            }
            _ => false,
        };
        Self::now(rotated)
    }

    fn count_active_refresh_tokens<'a>(
        &'a self,
        sub: Option<&'a str>,
        now: i64,
    ) -> BoxFuture<'a, StoreResult<usize>> {
        let state = self.lock();
        let count = state
            .refresh
            .values()
            .filter(|r| !r.rotated && now < r.expires_at)
            .filter(|r| {
                state
                    .authorizations
                    .get(&r.authorization_id)
                    .is_some_and(|a| !a.revoked && sub.is_none_or(|sub| a.sub == sub))
            })
            .count();
        Self::now(count)
    }

    fn insert_access_token<'a>(
        &'a self,
        record: &'a AccessRecord,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let mut state = self.lock();
        if let Some((hash, _)) = &record.opaque {
            state.opaque.insert(hash.clone(), record.jti.clone());
        }
        state.access.insert(record.jti.clone(), record.clone());
        Self::now(())
    }

    fn access_token<'a>(
        &'a self,
        jti: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<AccessRecord>>> {
        Self::now(self.lock().access.get(jti).cloned())
    }

    fn opaque_access_token<'a>(
        &'a self,
        hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<AccessRecord>>> {
        let state = self.lock();
        let record = state
            .opaque
            .get(hash)
            .and_then(|jti| state.access.get(jti))
            .cloned();
        Self::now(record)
    }

    fn revoke_access_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.lock()
            .access
            .entry(jti.to_owned())
            .and_modify(|record| record.revoked = true)
            .or_insert_with(|| AccessRecord {
                jti: jti.to_owned(),
                authorization_id: None,
                client_id: String::new(),
                expires_at,
                revoked: true,
                opaque: None,
            });
        Self::now(())
    }

    fn consent<'a>(
        &'a self,
        sub: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Consent>>> {
        let key = (sub.to_owned(), client_id.to_owned());
        Self::now(self.lock().consents.get(&key).cloned())
    }

    fn put_consent<'a>(&'a self, consent: &'a Consent) -> BoxFuture<'a, StoreResult<()>> {
        let key = (consent.sub.clone(), consent.client_id.clone());
        self.lock().consents.insert(key, consent.clone());
        Self::now(())
    }

    fn consents<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, StoreResult<Vec<Consent>>> {
        let mut found: Vec<Consent> = self
            .lock()
            .consents
            .values()
            .filter(|c| c.sub == sub)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Self::now(found)
    }

    fn delete_consent<'a>(
        &'a self,
        sub: &'a str,
        client_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let key = (sub.to_owned(), client_id.to_owned());
        Self::now(self.lock().consents.remove(&key).is_some())
    }

    fn use_once<'a>(&'a self, key: &'a str, until: i64) -> BoxFuture<'a, StoreResult<bool>> {
        Self::now(self.lock().once.insert(key.to_owned(), until).is_none())
    }

    fn purge_expired(&self, now: i64) -> BoxFuture<'_, StoreResult<()>> {
        let mut state = self.lock();
        state
            .codes
            .retain(|_, (code, _)| now < code.expires_at + CODE_MEMORY_SECS);
        state.refresh.retain(|_, r| now < r.expires_at);
        state.access.retain(|_, a| now < a.expires_at);
        let State { opaque, access, .. } = &mut *state;
        opaque.retain(|_, jti| access.contains_key(jti));
        state.once.retain(|_, &mut until| now < until);
        // An authorization matters while a code, refresh token or access token of it may
        // still be presented.
        let live: std::collections::HashSet<String> = state
            .codes
            .values()
            .map(|(c, _)| c.authorization_id.clone())
            .chain(state.refresh.values().map(|r| r.authorization_id.clone()))
            .chain(
                state
                    .access
                    .values()
                    .filter_map(|a| a.authorization_id.clone()),
            )
            .collect();
        state.authorizations.retain(|id, _| live.contains(id));
        Self::now(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<T>(future: BoxFuture<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    fn authorization(id: &str) -> Authorization {
        Authorization {
            id: id.into(),
            sub: "alice".into(),
            client_id: "app".into(),
            scope: vec!["openid".into()],
            resources: Vec::new(),
            auth_time: 0,
            acr: None,
            amr: Vec::new(),
            created_at: 0,
            revoked: false,
        }
    }

    fn code(hash: &str, authorization_id: &str) -> CodeRecord {
        CodeRecord {
            hash: hash.into(),
            authorization_id: authorization_id.into(),
            redirect_uri: "http://app/cb".into(),
            code_challenge: "c".into(),
            nonce: None,
            dpop_jkt: None,
            expires_at: 100,
        }
    }

    #[test]
    fn a_code_is_taken_once() {
        let store = MemoryStore::new();
        block(store.insert_authorization(&authorization("a1"), &code("h1", "a1"))).expect("ok");
        assert!(matches!(
            block(store.take_code("h1")),
            Ok(CodeUse::First(_))
        ));
        assert_eq!(
            block(store.take_code("h1")),
            Ok(CodeUse::Replayed {
                authorization_id: "a1".into()
            })
        );
        assert_eq!(block(store.take_code("nope")), Ok(CodeUse::Unknown));
    }

    #[test]
    fn revoking_ends_the_family_and_rotation_is_once() {
        let store = MemoryStore::new();
        block(store.insert_authorization(&authorization("a1"), &code("h1", "a1"))).expect("ok");
        let refresh = RefreshRecord {
            hash: "r1".into(),
            authorization_id: "a1".into(),
            client_id: "app".into(),
            dpop_jkt: None,
            expires_at: 1_000,
            rotated: false,
        };
        block(store.insert_refresh_token(&refresh)).expect("ok");
        assert_eq!(block(store.count_active_refresh_tokens(None, 0)), Ok(1));
        assert_eq!(block(store.rotate_refresh_token("r1")), Ok(true));
        assert_eq!(block(store.rotate_refresh_token("r1")), Ok(false));
        assert_eq!(block(store.count_active_refresh_tokens(None, 0)), Ok(0));
        let access = AccessRecord {
            jti: "j1".into(),
            authorization_id: Some("a1".into()),
            client_id: "app".into(),
            expires_at: 1_000,
            revoked: false,
            opaque: None,
        };
        block(store.insert_access_token(&access)).expect("ok");
        block(store.revoke_authorization("a1")).expect("ok");
        assert!(
            block(store.access_token("j1"))
                .expect("ok")
                .is_some_and(|a| a.revoked)
        );
        assert_eq!(block(store.refresh_token("r1")), Ok(None));
        assert!(
            block(store.authorizations_of("alice"))
                .expect("ok")
                .is_empty()
        );
    }

    #[test]
    fn purge_forgets_what_expired() {
        let store = MemoryStore::new();
        block(store.insert_authorization(&authorization("a1"), &code("h1", "a1"))).expect("ok");
        assert_eq!(block(store.use_once("jti", 50)), Ok(true));
        assert_eq!(block(store.use_once("jti", 50)), Ok(false));
        block(store.purge_expired(100 + CODE_MEMORY_SECS)).expect("ok");
        assert_eq!(block(store.take_code("h1")), Ok(CodeUse::Unknown));
        assert_eq!(block(store.authorization("a1")), Ok(None));
        assert_eq!(block(store.use_once("jti", 50)), Ok(true));
    }

    #[test]
    fn debug_shows_counts_only() {
        let store = MemoryStore::new();
        block(store.insert_authorization(&authorization("a1"), &code("secret-hash", "a1")))
            .expect("ok");
        assert!(!format!("{store:?}").contains("secret-hash"));
    }
}
