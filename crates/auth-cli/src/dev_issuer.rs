//! `auth dev-issuer`: a local OpenID Connect issuer for development, from `auth-issuer`.

use std::net::{IpAddr, Ipv4Addr};

use auth_issuer::TestIssuer;
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

Endpoints: /.well-known/openid-configuration, /jwks and POST /dev/mint (see `auth mint`).
The keys are generated at start and lost at exit. There is no authentication: anybody who
can reach the port can mint tokens, so keep the default --bind 127.0.0.1.";

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
}

/// Runs `auth dev-issuer` until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: DevIssuerArgs) -> Exit {
    if !args.bind.is_loopback() {
        eprintln!(
            "warning: listening on {}: anybody who can reach this port can mint tokens",
            args.bind
        );
    }
    let started = TestIssuer::builder()
        .port(args.port)
        .bind(args.bind)
        .audience(args.audience.as_str())
        .dev_endpoints(true)
        .start()
        .await;
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
