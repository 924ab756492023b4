//! `auth keys`: create, list, rotate and revoke API keys in the same store the apps read.

use std::sync::Arc;
use std::time::Duration;

use auth_core::api_key::{ApiKeyRecord, ApiKeyStore, ApiKeys, KeyFormat, NewApiKey};
use auth_store::SqlStore;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::common::{Exit, chain, out};

/// Arguments of `auth keys`.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    /// The store: `sqlite:/abs/path/keys.db` (created and migrated if missing) or
    /// `postgres://user:password@host/db`.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// The key prefix (the apps must use the same one).
    #[arg(long, env = "AUTH_API_KEY_PREFIX", default_value = auth_core::api_key::DEFAULT_PREFIX, global = true)]
    prefix: String,
    /// Print one JSON document on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key; its secret is printed this once.
    Create {
        /// A name for people (`nightly export`).
        #[arg(long)]
        name: String,
        /// Whom the key acts for: a service account id or a user's `sub`.
        #[arg(long)]
        owner: String,
        /// A scope (or role) the key grants; repeat for more.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// The tenant or organisation.
        #[arg(long)]
        tenant: Option<String>,
        /// Seconds until the key stops working.
        #[arg(long)]
        expires_in: Option<u64>,
        /// Requests per minute the key may make.
        #[arg(long)]
        rate_limit: Option<u32>,
    },
    /// List the keys (never a secret).
    List,
    /// Replace a key: the new one is printed this once; the old one keeps working for the
    /// overlap, then expires.
    Rotate {
        /// The key id (`sk_live_…`, as `list` shows it).
        id: String,
        /// Seconds during which the old and the new key both work.
        #[arg(long, default_value_t = 86_400)]
        overlap: u64,
    },
    /// Revoke a key: from now on it answers 401 `token_revoked`.
    Revoke {
        /// The key id.
        id: String,
    },
}

/// Runs `auth keys`.
pub(crate) async fn run(args: KeysArgs) -> Exit {
    let Some(url) = args
        .database_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!(
            "error: no store: pass --database-url or set DATABASE_URL (sqlite:PATH or postgres://...)"
        );
        return Exit::Usage;
    };
    let format = match KeyFormat::new(args.prefix.clone()) {
        Ok(format) => format,
        Err(e) => {
            eprintln!(
                "error: --prefix {}",
                e.to_string()
                    .trim_start_matches("invalid configuration: AUTH_API_KEY_PREFIX: ")
            );
            return Exit::Usage;
        }
    };
    let store = match SqlStore::open(url).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: cannot open the store: {}", chain(&e));
            return Exit::Failed;
        }
    };
    let keys = match ApiKeys::builder(Arc::new(store.clone()) as Arc<dyn ApiKeyStore>)
        .format(format)
        .build()
    {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let exit = command(&keys, args.command, args.json).await;
    store.close().await;
    exit
}

async fn command(keys: &ApiKeys, command: KeysCommand, as_json: bool) -> Exit {
    let result = match command {
        KeysCommand::Create {
            name,
            owner,
            scopes,
            tenant,
            expires_in,
            rate_limit,
        } => {
            let mut spec = NewApiKey::new(name, owner);
            for scope in scopes {
                spec = spec.scope(scope);
            }
            if let Some(tenant) = tenant {
                spec = spec.tenant(tenant);
            }
            if let Some(secs) = expires_in {
                spec = spec.expires_in(Duration::from_secs(secs));
            }
            if let Some(limit) = rate_limit {
                spec = spec.rate_limit_per_minute(limit);
            }
            keys.create(spec).await.map(|created| {
                show_created(&created.record, created.key.expose(), as_json);
            })
        }
        KeysCommand::List => keys.list().await.map(|records| {
            if as_json {
                out(Value::Array(records.iter().map(describe).collect()));
            } else if records.is_empty() {
                eprintln!("no keys");
            } else {
                for r in &records {
                    out(format!(
                        "{}  {}  owner={}  scopes={}  {}",
                        r.id,
                        r.name,
                        r.owner,
                        if r.scopes.is_empty() {
                            "-".to_owned()
                        } else {
                            r.scopes.join(",")
                        },
                        state(r)
                    ));
                }
            }
        }),
        KeysCommand::Rotate { id, overlap } => {
            match keys.rotate(&id, Duration::from_secs(overlap)).await {
                Ok(Some(created)) => {
                    show_created(&created.record, created.key.expose(), as_json);
                    Ok(())
                }
                Ok(None) => return not_found(&id),
                Err(e) => Err(e),
            }
        }
        KeysCommand::Revoke { id } => match keys.revoke(&id).await {
            Ok(true) => {
                if as_json {
                    out(json!({ "id": id, "revoked": true }));
                } else {
                    eprintln!("revoked {id}");
                }
                Ok(())
            }
            Ok(false) => return not_found(&id),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {}: {}", e.code(), chain(&e));
            Exit::Failed
        }
    }
}

fn not_found(id: &str) -> Exit {
    eprintln!("error: no key with id {id:?}");
    Exit::Failed
}

fn show_created(record: &ApiKeyRecord, key: &str, as_json: bool) {
    if as_json {
        let mut doc = describe(record);
        doc["key"] = Value::String(key.to_owned());
        out(doc);
    } else {
        out(key);
        eprintln!(
            "created {} for {}: the key above is shown this once; store it now",
            record.id, record.owner
        );
    }
}

/// A record as JSON: everything but the hash.
fn describe(r: &ApiKeyRecord) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "owner": r.owner,
        "tenant": r.tenant,
        "scopes": r.scopes,
        "created": r.created_at,
        "expires": r.expires_at,
        "revoked": r.revoked_at,
        "last_used": r.last_used_at,
        "rate_limit_per_minute": r.rate_limit_per_minute,
    })
}

fn state(r: &ApiKeyRecord) -> &'static str {
    if r.revoked_at.is_some() {
        "revoked"
    } else if r.expires_at.is_some() {
        "expires"
    } else {
        "active"
    }
}
