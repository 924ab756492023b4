//! `auth decode`: shows a JWT's header and claims without verifying anything.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::common::{Exit, now_secs, out, read_token, relative};
use crate::verify::pretty;

/// The first line of the human-readable output.
const UNVERIFIED_MARKER: &str =
    "UNVERIFIED: signature, issuer, audience and expiry were NOT checked (use `auth verify`)";

/// Arguments of `auth decode`.
#[derive(Debug, Args)]
#[command(after_long_help = "With --json, one line is printed on stdout: \
                       {\"verified\":false,\"header\":{..},\"claims\":{..}}.\n\
                       Exit status 2 when the input is not a JWS compact token with JSON header and claims.")]
pub(crate) struct DecodeArgs {
    /// Print one JSON line: {"verified":false,"header":{..},"claims":{..}}.
    #[arg(long)]
    json: bool,

    /// The token, or `-` to read it from stdin (keeps it out of shell history and `ps`).
    #[arg(value_name = "TOKEN|-")]
    token: String,
}

type JsonObject = Map<String, Value>;

/// The `--json` line, with its members in this order.
#[derive(Serialize)]
struct Decoded<'a> {
    verified: bool,
    header: &'a JsonObject,
    claims: &'a JsonObject,
}

/// Runs `auth decode`.
pub(crate) fn run(args: &DecodeArgs) -> Exit {
    let decoded = read_token(&args.token)
        .map_err(|e| e.message())
        .and_then(|token| decode(&token));
    let (header, claims) = match decoded {
        Ok(parts) => parts,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Usage;
        }
    };
    if args.json {
        let line = Decoded {
            verified: false,
            header: &header,
            claims: &claims,
        };
        // Serialising maps of `Value`s cannot fail.
        out(serde_json::to_string(&line).unwrap_or_default());
        return Exit::Ok;
    }
    out(UNVERIFIED_MARKER);
    out("header:");
    out(pretty(&Value::Object(header)));
    out("claims:");
    let now = now_secs();
    let times: Vec<String> = ["exp", "nbf", "iat"]
        .iter()
        .filter_map(|&name| {
            let at = claims.get(name)?.as_f64()?;
            // Whole seconds are plenty for a human reader (`as` saturates).
            let at = at as i64;
            Some(format!("{name}: {at} ({})", relative(at, now)))
        })
        .collect();
    out(pretty(&Value::Object(claims)));
    for line in times {
        out(line);
    }
    Exit::Ok
}

/// Splits and decodes a JWS compact token into its header and claims objects.
fn decode(token: &str) -> Result<(JsonObject, JsonObject), String> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err(
            "this is an encrypted token (JWE, 5 segments): it cannot be decoded without the key"
                .to_owned(),
        ),
        n => {
            return Err(format!(
                "not a JWT: expected 3 dot-separated segments, found {n}"
            ));
        }
    }
    let header = object(parts[0], "header")?;
    let claims = object(parts[1], "claims")?;
    URL_SAFE_NO_PAD
        .decode(parts[2])
        .map_err(|_| "not a JWT: the signature is not base64url".to_owned())?;
    Ok((header, claims))
}

fn object(segment: &str, what: &str) -> Result<JsonObject, String> {
    // Tolerate padding, which some hand-made tokens carry.
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| format!("not a JWT: the {what} is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("not a JWT: the {what} is not a JSON object")),
        Err(e) => Err(format!("not a JWT: the {what} is not JSON ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn decodes_header_and_claims() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"sub":"a"}"#),
            b64("sig")
        );
        let (h, c) = decode(&token).expect("decodes");
        assert_eq!(h["alg"], "RS256");
        assert_eq!(c["sub"], "a");
    }

    #[test]
    fn refuses_what_is_not_a_jws() {
        let ok = b64("{}");
        for bad in [
            "abc".to_owned(),
            format!("{ok}.{ok}"),
            format!("{ok}.{ok}.{ok}.{ok}.{ok}"),
            format!("{ok}.{}.", b64("[1]")),
            format!("{}.{ok}.", b64("nope")),
            format!("{ok}.{ok}.***"),
            format!("!!.{ok}."),
        ] {
            assert!(decode(&bad).is_err(), "{bad}");
        }
    }
}
