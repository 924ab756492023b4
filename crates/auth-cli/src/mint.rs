//! `auth mint`: asks a development issuer (`auth dev-issuer`) for an access token.

use std::time::Duration;

use clap::Args;
use serde_json::{Map, Value};

use crate::common::{Exit, chain, out};

/// Bound on the whole request: a dev issuer on this machine answers in milliseconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const MINT_HELP: &str = "\
Prints only the access token, on one line, so that TOKEN=$(auth mint ...) works.
Sends POST {issuer}/dev/mint; only `auth dev-issuer` (or an auth-issuer TestIssuer with
dev endpoints on) serves it. Fields not given keep the issuer's defaults.

Examples:
  auth mint --issuer http://127.0.0.1:8400 --sub alice --role admin --scope \"orders:read orders:write\"
  auth mint --issuer http://127.0.0.1:8400 --expires-in -60                    # an expired token
  auth mint --issuer http://127.0.0.1:8400 --claim tenant=acme --claim 'level=3' --claim 'tags=[\"a\",\"b\"]'";

/// Arguments of `auth mint`.
#[derive(Debug, Args)]
#[command(after_long_help = MINT_HELP)]
pub(crate) struct MintArgs {
    /// The dev issuer's URL (the `issuer:` line printed by `auth dev-issuer`).
    #[arg(long, value_name = "URL", env = "AUTH_ISSUER")]
    issuer: String,

    /// The `sub` claim.
    #[arg(long, value_name = "SUB")]
    sub: Option<String>,

    /// A role for the `roles` claim (repeatable).
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,

    /// The `scope` claim: space-separated scopes, e.g. "orders:read orders:write".
    #[arg(long, value_name = "SCOPES")]
    scope: Option<String>,

    /// The `aud` claim (repeatable; several make an array) [default: the issuer's audience].
    #[arg(long = "audience", value_name = "AUD")]
    audiences: Vec<String>,

    /// Lifetime in seconds; negative for an already expired token [default: 300].
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    expires_in: Option<i64>,

    /// An extra claim (repeatable). VALUE is parsed as JSON (3, true, ["a"], {"k":1},
    /// "text"); anything that is not valid JSON is taken as a string.
    #[arg(long = "claim", value_name = "KEY=VALUE", value_parser = parse_claim)]
    claims: Vec<(String, Value)>,

    /// Sign with this key id instead of the issuer's default key.
    #[arg(long, value_name = "KID")]
    kid: Option<String>,
}

fn parse_claim(s: &str) -> Result<(String, Value), String> {
    let (key, value) = s.split_once('=').ok_or("expected KEY=VALUE")?;
    let key = key.trim();
    if key.is_empty() {
        return Err("the claim name is empty".to_owned());
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

/// Runs `auth mint`.
pub(crate) async fn run(args: MintArgs) -> Exit {
    let issuer = args.issuer.trim().trim_end_matches('/');
    match reqwest::Url::parse(issuer) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        _ => {
            eprintln!("error: --issuer must be an http(s) URL, e.g. http://127.0.0.1:8400");
            return Exit::Usage;
        }
    }
    let endpoint = format!("{issuer}/dev/mint");
    match mint(&endpoint, &request_body(&args)).await {
        Ok(token) => {
            out(token);
            Exit::Ok
        }
        Err(message) => {
            eprintln!("error: {message}");
            Exit::Failed
        }
    }
}

fn request_body(args: &MintArgs) -> Value {
    let mut body = Map::new();
    if let Some(sub) = &args.sub {
        body.insert("sub".into(), sub.clone().into());
    }
    if !args.roles.is_empty() {
        body.insert("roles".into(), args.roles.clone().into());
    }
    if let Some(scope) = &args.scope {
        body.insert("scope".into(), scope.clone().into());
    }
    match args.audiences.as_slice() {
        [] => {}
        [one] => {
            body.insert("aud".into(), one.clone().into());
        }
        many => {
            body.insert("aud".into(), many.to_vec().into());
        }
    }
    if let Some(secs) = args.expires_in {
        body.insert("expires_in".into(), secs.into());
    }
    if let Some(kid) = &args.kid {
        body.insert("kid".into(), kid.clone().into());
    }
    if !args.claims.is_empty() {
        let claims: Map<String, Value> = args.claims.iter().cloned().collect();
        body.insert("claims".into(), claims.into());
    }
    Value::Object(body)
}

async fn mint(endpoint: &str, body: &Value) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot create the HTTP client: {}", chain(&e)))?;
    tracing::debug!(endpoint, "minting a token");
    let response = client.post(endpoint).json(body).send().await.map_err(|e| {
        let what = if e.is_connect() {
            "cannot connect to the issuer"
        } else if e.is_timeout() {
            "the issuer did not answer in time"
        } else {
            "the request failed"
        };
        format!("{what} (POST {endpoint}): {}", chain(&e.without_url()))
    })?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(format!(
            "not a dev issuer: POST {endpoint} answered 404 (start one with `auth dev-issuer`)"
        ));
    }
    let text = response.text().await.map_err(|e| {
        format!(
            "cannot read the answer of POST {endpoint}: {}",
            chain(&e.without_url())
        )
    })?;
    let answer: Option<Value> = serde_json::from_str(&text).ok();
    if !status.is_success() {
        let detail = answer
            .as_ref()
            .and_then(|a| a.get("error_description").or_else(|| a.get("error")))
            .and_then(Value::as_str)
            .map_or_else(String::new, |d| format!(": {d}"));
        return Err(format!("POST {endpoint} answered {status}{detail}"));
    }
    answer
        .as_ref()
        .and_then(|a| a.get("access_token"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("POST {endpoint} did not answer with an access_token"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_are_json_or_strings() {
        assert_eq!(parse_claim("n=3"), Ok(("n".to_owned(), json!(3))));
        assert_eq!(parse_claim("t=[\"a\"]"), Ok(("t".to_owned(), json!(["a"]))));
        assert_eq!(
            parse_claim("plan=pro"),
            Ok(("plan".to_owned(), json!("pro")))
        );
        assert_eq!(parse_claim("s=\"3\""), Ok(("s".to_owned(), json!("3"))));
        assert_eq!(parse_claim("url=a=b"), Ok(("url".to_owned(), json!("a=b"))));
        assert!(parse_claim("novalue").is_err());
        assert!(parse_claim("=1").is_err());
    }
}
