//! `auth verify`: checks a token exactly as a resource server built on `auth-core` would.

use std::time::Duration;

use auth_core::{
    AuthConfig, AuthError, ConfigError, ErrorCode, JwksPolicy, NoExtraClaims, Verifier,
};
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::common::{Exit, InputError, chain, now_secs, out, read_token, relative};

const VERIFY_HELP: &str = "\
Examples:
  auth verify --issuer https://login.example.com/realms/main --audience orders-api \"$TOKEN\"
  echo \"$TOKEN\" | auth verify --json --issuer http://127.0.0.1:8400 --audience dev-api -

With --json, exactly one line is printed on stdout:
  {\"ok\":true,\"claims\":{...}}                       valid (exit 0)
  {\"ok\":false,\"code\":\"token_expired\",\"message\":\"...\"}  rejected (exit 1) or bad flags (exit 2)
An empty token (or an empty line on stdin) is rejected with token_missing (exit 1): exit 2 is
kept for usage errors (unknown or invalid flags, a bad issuer URL).
Codes are auth-core's stable error codes: token_invalid, token_expired, token_not_yet_valid,
discovery_failed, jwks_fetch_failed, jwks_unavailable, config_invalid, token_missing, ...";

/// Arguments of `auth verify`.
#[derive(Debug, Args)]
#[command(after_long_help = VERIFY_HELP)]
pub(crate) struct VerifyArgs {
    /// Print exactly one JSON line on stdout: {"ok":true,"claims":{..}} or
    /// {"ok":false,"code":"..","message":".."}.
    #[arg(long)]
    json: bool,

    /// The issuer identifier; the token's `iss` must equal it exactly. Keys are found through
    /// its discovery document unless --jwks-uri is given.
    #[arg(long, value_name = "URL", env = "AUTH_ISSUER")]
    issuer: String,

    /// An accepted audience (repeatable; the token's `aud` must contain one of them). Without
    /// it the audience check is skipped, with a warning.
    #[arg(
        long = "audience",
        value_name = "AUD",
        env = "AUTH_AUDIENCE",
        value_delimiter = ','
    )]
    audiences: Vec<String>,

    /// Fetch the keys from this JWKS URL instead of the one discovery advertises.
    #[arg(long, value_name = "URL", env = "AUTH_JWKS_URI")]
    jwks_uri: Option<String>,

    /// Clock leeway for exp, nbf and iat, in seconds (0-300) [default: 30].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=300))]
    leeway: Option<u64>,

    /// Require the header `typ` to be `at+jwt` (RFC 9068 access tokens).
    #[arg(long, value_name = "TYP", value_parser = ["at+jwt"])]
    require_typ: Option<String>,

    /// Allow plain-http issuer and JWKS URLs on non-loopback hosts (http is always allowed for
    /// localhost and 127.0.0.0/8). Only for trusted networks: keys fetched over http can be
    /// forged by anyone on the path.
    #[arg(long)]
    allow_http: bool,

    /// The token, or `-` to read it from stdin (keeps it out of shell history and `ps`).
    #[arg(value_name = "TOKEN|-")]
    token: String,
}

/// Runs `auth verify`.
pub(crate) async fn run(args: VerifyArgs) -> Exit {
    let report = Report { json: args.json };
    // The configuration first: a bad flag should not wait for a token on stdin.
    let config = match build_config(&args) {
        Ok(config) => {
            if config.audiences().is_empty() {
                eprintln!("warning: no --audience given: the audience check is skipped");
            }
            config
        }
        Err(e) => return report.usage(ErrorCode::ConfigInvalid, &config_message(&e)),
    };
    let token = match read_token(&args.token) {
        Ok(token) => token,
        Err(e) => {
            // A missing or unreadable token is a rejected credential, not a usage error: the
            // command line was fine, so the exit status is 1 (as for any rejected token).
            let code = match e {
                InputError::Empty => ErrorCode::TokenMissing,
                InputError::Stdin(_) => ErrorCode::InvalidRequest,
            };
            return report.rejected(&AuthError::new(code, e.message()));
        }
    };
    let verifier = match Verifier::new(config) {
        Ok(verifier) => verifier,
        Err(e) => return report.rejected(&AuthError::from(e)),
    };
    match verifier.verify::<NoExtraClaims>(&token).await {
        Ok(claims) => {
            if report.json {
                out(to_json(&Outcome::Valid {
                    ok: true,
                    claims: claims.as_value(),
                }));
            } else {
                let sub = claims
                    .sub
                    .as_deref()
                    .map_or_else(|| "no sub".to_owned(), |s| format!("sub {s:?}"));
                let (exp, now) = (claims.exp.as_secs(), now_secs());
                let expiry = if exp < now {
                    format!(
                        "expired {}, accepted within the clock leeway",
                        relative(exp, now)
                    )
                } else {
                    format!("expires {}", relative(exp, now))
                };
                out(format_args!("valid token: {sub}, {expiry}"));
                out(pretty(claims.as_value()));
            }
            Exit::Ok
        }
        Err(e) => report.rejected(&e),
    }
}

fn build_config(args: &VerifyArgs) -> Result<AuthConfig, ConfigError> {
    let mut builder = AuthConfig::builder()
        .issuer(args.issuer.trim())
        .require_access_token_typ(args.require_typ.is_some())
        .insecure_allow_http(args.allow_http)
        // One token, one process: no background refresh task.
        .jwks_policy(JwksPolicy::default().background_refresh(false));
    let audiences: Vec<&str> = args
        .audiences
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .collect();
    if audiences.is_empty() {
        builder = builder.insecure_skip_audience_check();
    } else {
        builder = builder.audiences(audiences);
    }
    if let Some(uri) = &args.jwks_uri {
        builder = builder.jwks_uri(uri.trim());
    }
    if let Some(secs) = args.leeway {
        builder = builder.leeway(Duration::from_secs(secs));
    }
    builder.build()
}

/// `--issuer must use https (...)`: the builder's message, in terms of this command's flags.
fn config_message(e: &ConfigError) -> String {
    let flag = match e.variable() {
        "AUTH_ISSUER" => "--issuer",
        "AUTH_AUDIENCE" => "--audience",
        "AUTH_JWKS_URI" => "--jwks-uri",
        "AUTH_LEEWAY_SECS" => "--leeway",
        other => other,
    };
    let full = e.to_string();
    let prefix = format!("invalid configuration: {}: ", e.variable());
    let reason = full.strip_prefix(&prefix).unwrap_or(&full);
    let mut message = format!("{flag} {reason}");
    if reason.contains("insecure_allow_http") {
        message.push_str("; pass --allow-http to allow it");
    }
    message
}

/// The `--json` line, with its members in this order.
#[derive(Serialize)]
#[serde(untagged)]
enum Outcome<'a> {
    Valid {
        ok: bool,
        claims: &'a Value,
    },
    Invalid {
        ok: bool,
        code: &'static str,
        message: &'a str,
        /// Why a `token_invalid` token was refused (`bad_signature`, `issuer_mismatch`, ...).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
    },
}

fn to_json(outcome: &Outcome<'_>) -> String {
    // Serialising strings and a `Value` cannot fail.
    serde_json::to_string(outcome).unwrap_or_else(|_| {
        r#"{"ok":false,"code":"unknown","message":"cannot serialise the result"}"#.to_owned()
    })
}

/// Where and how results are reported.
struct Report {
    json: bool,
}

impl Report {
    /// Bad input or configuration: exit 2.
    fn usage(&self, code: ErrorCode, message: &str) -> Exit {
        if self.json {
            out(to_json(&Outcome::Invalid {
                ok: false,
                code: code.as_str(),
                message,
                reason: None,
            }));
        } else {
            eprintln!("error: {message}");
        }
        Exit::Usage
    }

    /// The token was rejected, or the keys could not be had: exit 1.
    fn rejected(&self, e: &AuthError) -> Exit {
        if self.json {
            out(to_json(&Outcome::Invalid {
                ok: false,
                code: e.code().as_str(),
                message: e.message(),
                reason: e.reason().map(|r| r.as_str()),
            }));
        } else {
            match e.reason() {
                Some(reason) => eprintln!("rejected: {} ({reason}): {}", e.code(), e.message()),
                None => eprintln!("rejected: {}: {}", e.code(), e.message()),
            }
            // The causes are for operators (connection refused, HTTP 404, ...); they never
            // contain the token.
            if let Some(source) = std::error::Error::source(e) {
                eprintln!("  cause: {}", chain(source));
            }
            if e.is_retryable() {
                eprintln!(
                    "  hint: the issuer's discovery document or key set could not be fetched; \
                     check --issuer / --jwks-uri and that the issuer is reachable"
                );
            }
        }
        Exit::Failed
    }
}

/// Pretty JSON (serialising a `Value` cannot fail; fall back to the compact form anyway).
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
