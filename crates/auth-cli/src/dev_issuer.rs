//! `auth dev-issuer`: a local OpenID Connect issuer for development, from `auth-issuer`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use auth_issuer::{TestClient, TestIssuer};
use auth_provider::{KeySpec, SigningKey};
use clap::Args;

use crate::common::{Exit, out};

/// Lifetime of the token printed at start-up: long enough to copy it around.
const STARTUP_TOKEN_LIFETIME_SECS: i64 = 3600;

const DEV_ISSUER_HELP: &str = "\
Output (stdout, one `name: value` per line, flushed at once so that scripts can read it):
  issuer: http://127.0.0.1:PORT
  jwks_uri: http://127.0.0.1:PORT/jwks
  audience: dev-api
  token: <an access token for sub dev-user, roles [admin], valid for one hour>
  verify: <an `auth verify` command line that accepts that token>
  mint: <an `auth mint` command line for more tokens>

  registration_endpoint: <URL>   (with --dcr)
  db: <PATH>                      (with --db)

Endpoints: discovery (/.well-known/openid-configuration, /.well-known/oauth-authorization-server),
/jwks, /authorize (a dev login page: type any name, or pick alice or bob), /token, /userinfo,
/revoke, /introspect, /logout, /register (with --dcr) and POST /dev/mint (see `auth mint`).

Clients: `test-client` / `test-secret` unless --client is given. --client ID:SECRET:REDIRECT_URI
registers a first-party client (an empty SECRET makes a public one: `cli::http://127.0.0.1/cb`);
repeat it for more. With --dcr, any client registers itself (RFC 7591) and its users see the
consent page.

State: in memory, lost at exit, unless --db PATH keeps clients, grants, codes, tokens and
consents in that SQLite file and the signing keys in PATH.keys.json (mode 0600), so that a
restart loses nothing. There is no authentication: anybody who can reach the port can sign in
as anyone and mint tokens, so keep the default --bind 127.0.0.1.";

/// Arguments of `auth dev-issuer`.
#[derive(Debug, Args)]
#[command(after_long_help = DEV_ISSUER_HELP)]
pub(crate) struct DevIssuerArgs {
    /// The port to listen on; 0 picks a free one (printed on the first line).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,

    /// The address to listen on. The issuer URL always names a loopback address.
    #[arg(long, value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,

    /// The `aud` of the tokens it mints.
    #[arg(long, value_name = "AUD", default_value = "dev-api")]
    audience: String,

    /// Turn on dynamic client registration (RFC 7591) at /register, open to anyone.
    #[arg(long)]
    dcr: bool,

    /// Register a client: ID:SECRET:REDIRECT_URI (empty SECRET: a public client). Repeatable.
    #[arg(long = "client", value_name = "ID:SECRET:URI", value_parser = parse_client)]
    clients: Vec<ClientArg>,

    /// Keep the provider's state in this SQLite file (and its keys in PATH.keys.json).
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
}

/// A client given with `--client`.
#[derive(Debug, Clone)]
pub(crate) struct ClientArg {
    id: String,
    secret: Option<String>,
    redirect_uri: String,
}

fn parse_client(text: &str) -> Result<ClientArg, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(id), Some(secret), Some(redirect_uri)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("expected ID:SECRET:REDIRECT_URI (SECRET may be empty)".to_owned());
    };
    if id.is_empty() {
        return Err("the client id is empty".to_owned());
    }
    match url::Url::parse(redirect_uri) {
        Ok(_) if !redirect_uri.contains('#') => {}
        _ => {
            return Err(format!(
                "{redirect_uri:?} is not an absolute URI without a fragment"
            ));
        }
    }
    Ok(ClientArg {
        id: id.to_owned(),
        secret: (!secret.is_empty()).then(|| secret.to_owned()),
        redirect_uri: redirect_uri.to_owned(),
    })
}

/// The signing keys kept next to the database: read them, or create and write them.
fn persistent_keys(path: &Path) -> Result<Vec<SigningKey>, String> {
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return auth_provider::key_set_from_json(&text)
            .map_err(|e| format!("{}: {e}", path.display()));
    }
    let keys = vec![
        SigningKey::generate(KeySpec::Rsa2048, "rsa-1"),
        SigningKey::generate(KeySpec::P256, "ec-1"),
        SigningKey::generate(KeySpec::Ed25519, "ed-1"),
    ];
    write_private(path, &auth_provider::key_set_to_json(&keys))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(keys)
}

/// Writes `text` to a new file only the owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// Runs `auth dev-issuer` until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: DevIssuerArgs) -> Exit {
    if !args.bind.is_loopback() {
        eprintln!(
            "warning: listening on {}: anybody who can reach this port can mint tokens",
            args.bind
        );
    }
    let mut builder = TestIssuer::builder()
        .port(args.port)
        .bind(args.bind)
        .audience(args.audience.as_str())
        .dev_endpoints(true);
    if args.dcr {
        builder = builder.dynamic_registration(None);
    }
    for client in &args.clients {
        let registered = match &client.secret {
            Some(secret) => TestClient::confidential(&client.id, secret),
            None => TestClient::public(&client.id),
        };
        builder = builder.client(registered.redirect_uri(&client.redirect_uri));
    }
    if let Some(db) = &args.db {
        let mut keys_path = db.clone().into_os_string();
        keys_path.push(".keys.json");
        let keys = match persistent_keys(Path::new(&keys_path)) {
            Ok(keys) => keys,
            Err(e) => {
                eprintln!("error: cannot use the dev issuer's keys: {e}");
                return Exit::Failed;
            }
        };
        for key in keys {
            builder = builder.signing_key(key);
        }
        let store = match auth_store::SqlStore::open(&format!("sqlite:{}", db.display())).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("error: cannot open {}: {e}", db.display());
                return Exit::Failed;
            }
        };
        builder = builder.store(Arc::new(store));
    }
    let started = builder.start().await;
    let issuer = match started {
        Ok(issuer) => issuer,
        Err(e) => {
            eprintln!(
                "error: cannot start the dev issuer on {}:{}: {e}",
                args.bind, args.port
            );
            return Exit::Failed;
        }
    };
    let stop = shutdown_signal();
    let url = issuer.issuer().to_owned();
    let token = issuer
        .token()
        .sub("dev-user")
        .roles(&["admin"])
        .expires_in(STARTUP_TOKEN_LIFETIME_SECS)
        .sign();
    // Issuer URLs and JWTs hold no shell metacharacters: these lines can be pasted as they are.
    out(format_args!("issuer: {url}"));
    out(format_args!("jwks_uri: {}", issuer.jwks_uri()));
    out(format_args!("audience: {}", issuer.audience()));
    out(format_args!("token: {token}"));
    out(format_args!(
        "verify: auth verify --issuer {url} --audience {} {token}",
        shell_word(issuer.audience())
    ));
    out(format_args!(
        "mint: auth mint --issuer {url} --sub alice --role admin"
    ));
    if args.dcr {
        out(format_args!("registration_endpoint: {url}/register"));
    }
    if let Some(db) = &args.db {
        out(format_args!("db: {}", db.display()));
    }
    eprintln!("dev issuer running; press Ctrl-C to stop");

    stop.await;
    eprintln!("stopping");
    issuer.shutdown().await;
    Exit::Ok
}

/// Quotes `s` for a POSIX shell when it holds anything but plain word characters.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+=,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A future that resolves on Ctrl-C or, on Unix, SIGTERM. On Unix the handlers are installed
/// by this call, before the future is first polled: a signal sent right after the start-up
/// lines were printed stops the issuer cleanly instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Some((term, int)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stop with Ctrl-C");
                None
            }
        }
    };
    async move {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = handlers {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        if let Err(e) = tokio::signal::ctrl_c().await {
            // Without a signal handler there is no clean way to stop: wait forever, like a
            // server would, and leave stopping to the process manager.
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_arguments() {
        let client = parse_client("web:s3cret:http://127.0.0.1:3000/callback").expect("valid");
        assert_eq!(client.id, "web");
        assert_eq!(client.secret.as_deref(), Some("s3cret"));
        assert_eq!(client.redirect_uri, "http://127.0.0.1:3000/callback");
        let public = parse_client("cli::http://127.0.0.1/cb").expect("valid");
        assert_eq!(public.secret, None);
        for bad in [
            "web",
            "web:s",
            ":s:http://x/cb",
            "web:s:not a uri",
            "web:s:http://x/cb#f",
        ] {
            assert!(parse_client(bad).is_err(), "{bad}");
        }
    }
}
