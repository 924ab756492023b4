//! `auth`: the command-line tool of the auth SDK.
//!
//! A diagnostic and development companion to `auth-core` and `auth-issuer`: check a token
//! exactly as a resource server built on `auth-core` would, look inside one without checking
//! it, and run a local issuer that hands out tokens.
//!
//! ```text
//! auth verify [--json] --issuer URL [--audience AUD]... [--jwks-uri URL] [--leeway SECS]
//!             [--require-typ at+jwt] [--allow-http] TOKEN|-
//! auth decode [--json] TOKEN|-
//! auth dev-issuer [--port N] [--bind IP] [--audience AUD] [--dcr] [--client ID:SECRET:URI]... [--db PATH]
//! auth mint --issuer URL [--sub SUB] [--role ROLE]... [--scope "a b"] [--audience AUD]...
//!           [--expires-in SECS] [--claim KEY=VALUE]... [--kid KID]
//! auth keys [--database-url URL] [--prefix P] [--json] create --name N --owner ID [--scope S]...
//!           [--tenant T] [--expires-in SECS] [--rate-limit N]
//! auth keys list | rotate ID [--overlap SECS] | revoke ID
//! ```
//!
//! # Exit status
//! | status | meaning |
//! |---|---|
//! | 0 | success (`verify`: the token is valid) |
//! | 1 | the token was rejected, or the issuer, key set or dev endpoint could not be used |
//! | 2 | usage error: bad arguments, no or empty token, unreadable stdin, invalid configuration, a token `decode` cannot parse |
//!
//! # Output
//! Results go to stdout, diagnostics to stderr. `--json` makes `verify` and `decode` print
//! exactly one JSON line on stdout, for scripts. Logs (`tracing`) go to stderr, filtered by
//! `RUST_LOG` (default `warn`). The token given to `verify` or `decode` is never echoed; pass
//! `-` to read it from stdin and keep it out of shell history and the process list.

mod client_jwk;
mod common;
mod decode;
mod dev_issuer;
mod doctor;
mod keys;
mod mint;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success (verify: the token is valid)
  1  the token was rejected, or the issuer / key set / dev endpoint could not be used
  2  usage error (bad arguments, empty token, invalid configuration, undecodable token)

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=auth_core=debug) for details (default: warn).";

/// Verify and decode OAuth 2.0 / OpenID Connect access tokens, run a local development
/// issuer, mint development tokens.
#[derive(Debug, Parser)]
#[command(name = "auth", version, after_long_help = EXIT_STATUS_HELP, after_help = EXIT_STATUS_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a JWT access token against an issuer: signature (keys from the issuer's JWKS),
    /// expiry, issuer, audience.
    Verify(verify::VerifyArgs),
    /// Show a JWT's header and claims WITHOUT verifying anything.
    Decode(decode::DecodeArgs),
    /// Run a local development issuer (discovery, JWKS, token minting) until Ctrl-C.
    DevIssuer(dev_issuer::DevIssuerArgs),
    /// Ask a running development issuer (`auth dev-issuer`) for an access token.
    Mint(mint::MintArgs),
    /// Create, list, rotate and revoke API keys in the store the apps read (`DATABASE_URL`).
    Keys(keys::KeysArgs),
    /// Check the configuration (`AUTH_*`, `APP_URL`) against the identity provider: one
    /// line per check, the fix for each failure; exit status 1 on any failure.
    Doctor(doctor::DoctorArgs),
    /// Print the public JWK set to register for a `private_key_jwt` client, from its PEM
    /// private key.
    ClientJwk(client_jwk::ClientJwkArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let exit = match cli.command {
        Command::Verify(args) => verify::run(args).await,
        Command::Decode(args) => decode::run(&args),
        Command::DevIssuer(args) => dev_issuer::run(args).await,
        Command::Mint(args) => mint::run(args).await,
        Command::Keys(args) => keys::run(args).await,
        Command::Doctor(args) => doctor::run(args).await,
        Command::ClientJwk(args) => client_jwk::run(&args),
    };
    exit.into()
}

/// Logs to stderr, filtered by `RUST_LOG`, `warn` by default; colours only on a terminal.
fn init_tracing() {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
