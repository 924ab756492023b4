//! `auth client-jwk`: the public JWK set to register at the provider for a `private_key_jwt`
//! client, from the private key the app uses (read exactly as the SDK reads it).

use auth_core::ClientKey;
use clap::Args;
use serde_json::json;

use crate::common::{Exit, out};

/// Arguments of `auth client-jwk`.
#[derive(Debug, Args)]
#[command(
    after_long_help = "Prints {\"keys\":[<public JWK>]} on stdout: paste it into the \
                       client's `jwks` at the provider. The kid is the key's RFC 7638 thumbprint \
                       unless --kid is given (then set AUTH_CLIENT_KEY_ID to the same value). \
                       Nothing private is printed. Exit status 2 when the key cannot be used."
)]
pub(crate) struct ClientJwkArgs {
    /// The PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC), as in AUTH_CLIENT_KEY_FILE.
    #[arg(long, env = "AUTH_CLIENT_KEY_FILE", value_name = "FILE")]
    key: std::path::PathBuf,
    /// The key id to publish instead of the thumbprint.
    #[arg(long, env = "AUTH_CLIENT_KEY_ID")]
    kid: Option<String>,
    /// The signing algorithm (an RSA key: RS256 by default, or PS256, ...).
    #[arg(long, env = "AUTH_CLIENT_KEY_ALG")]
    alg: Option<String>,
}

pub(crate) fn run(args: &ClientJwkArgs) -> Exit {
    let pem = match std::fs::read_to_string(&args.key) {
        Ok(pem) => pem,
        Err(e) => {
            eprintln!("auth client-jwk: cannot read {}: {e}", args.key.display());
            return Exit::Usage;
        }
    };
    let mut key = match ClientKey::from_pem(&pem) {
        Ok(key) => key,
        Err(e) => {
            eprintln!("auth client-jwk: {}: {}", args.key.display(), e.message());
            return Exit::Usage;
        }
    };
    if let Some(kid) = &args.kid {
        key = key.with_kid(kid.clone());
    }
    if let Some(alg) = &args.alg {
        let parsed = alg
            .parse()
            .map_err(|e: auth_core::UnknownAlgorithm| e.to_string());
        match parsed.and_then(|alg| {
            key.clone()
                .with_algorithm(alg)
                .map_err(|e| e.message().to_owned())
        }) {
            Ok(with_alg) => key = with_alg,
            Err(e) => {
                eprintln!("auth client-jwk: --alg {alg}: {e}");
                return Exit::Usage;
            }
        }
    }
    out(json!({ "keys": [key.public_jwk()] }));
    Exit::Ok
}
