//! The example apps' pages: the same HTML from every framework.

use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::{Claims, ErrorCode, NoExtraClaims};

/// What the home page knows of the visitor.
#[derive(Debug)]
pub enum Visitor<'a> {
    /// Signed in, with these claims.
    SignedIn(&'a Claims<NoExtraClaims>),
    /// No session.
    SignedOut,
    /// A credential that was refused (an expired or revoked session), with its code.
    Refused(ErrorCode),
}

/// The home page. `auth_error` is the `?auth_error=` the SDK adds after a cancelled or refused
/// sign-in; only a known error code is shown, nothing from the URL is reflected as it is.
#[must_use]
pub fn home(framework: &str, visitor: &Visitor<'_>, auth_error: Option<&str>) -> String {
    let notice = auth_error
        .and_then(|code| code.parse::<ErrorCode>().ok())
        .map(|code| {
            format!(
                "<p id=\"auth-error\" class=\"error\">Sign-in did not complete (<code>{code}</code>).</p>\n"
            )
        })
        .unwrap_or_default();
    let body = match visitor {
        Visitor::SignedIn(claims) => signed_in(claims),
        Visitor::SignedOut => signed_out(None),
        Visitor::Refused(code) => signed_out(Some(*code)),
    };
    page(framework, &format!("{notice}{body}"))
}

fn signed_in(claims: &Claims<NoExtraClaims>) -> String {
    let claims_json = serde_json::to_string_pretty(claims).unwrap_or_default();
    let exp = claims.exp.as_secs();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let left = exp.saturating_sub(now);
    let email = claims
        .email()
        .map(|e| format!(" <span class=\"muted\">({})</span>", escape(e)))
        .unwrap_or_default();
    let roles = claims.roles().join(", ");
    format!(
        "<p>Signed in as <strong id=\"user-sub\">{sub}</strong>{email}.</p>\n\
         <p class=\"muted\">Roles: <span id=\"roles\">{roles}</span>. The access token expires at \
         <time id=\"token-expiry\" datetime=\"{iso}\">{iso}</time> ({left}).</p>\n\
         <p class=\"actions\"><a class=\"button\" href=\"/api/me\">GET /api/me</a> \
         <a class=\"button\" href=\"/api/admin\">GET /api/admin</a> \
         <a class=\"button\" href=\"/api/optional\">GET /api/optional</a></p>\n\
         <form method=\"post\" action=\"/auth/signout\">\
         <button type=\"submit\" id=\"sign-out\">Sign out</button></form>\n\
         <details open><summary>Claims</summary><pre id=\"claims\">{claims}</pre></details>",
        sub = escape(claims.sub.as_deref().unwrap_or("")),
        roles = escape(if roles.is_empty() { "none" } else { &roles }),
        iso = iso8601(exp),
        left = if left > 0 {
            format!("in {}", duration(left))
        } else {
            "expired: the next request refreshes it".to_owned()
        },
        claims = escape(&claims_json),
    )
}

fn signed_out(code: Option<ErrorCode>) -> String {
    let why = code
        .map(|c| format!(" (<code>{c}</code>)"))
        .unwrap_or_default();
    format!(
        "<p>You are signed out{why}.</p>\n\
         <p><a id=\"sign-in\" class=\"button primary\" href=\"/auth/login\">Sign in</a></p>\n\
         <p class=\"muted\"><a href=\"/api/optional\">GET /api/optional</a> answers without a session.</p>"
    )
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}\
main{max-width:34rem;margin:3rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;\
box-shadow:0 1px 4px rgba(0,0,0,.12)}\
h1{font-size:1.4rem;margin:0 0 .5rem}\
p{line-height:1.4}\
.muted{color:#5c6475;font-size:.9rem}\
.error{background:#fdecea;color:#8a1c12;padding:.5rem .75rem;border-radius:4px}\
.button,button{display:inline-block;font-size:1rem;padding:.5rem 1rem;margin:.25rem .25rem 0 0;\
cursor:pointer;background:#eef1f6;border:1px solid #d5dae3;border-radius:4px;color:#1d2330;\
text-decoration:none}\
.primary,#sign-out{background:#2f5bd3;color:#fff;border:0}\
pre{background:#f4f5f7;padding:.75rem;overflow:auto;font-size:.85rem}\
code{word-break:break-all}";

/// A complete page; `body` is trusted (already escaped) HTML.
fn page(framework: &str, body: &str) -> String {
    let framework = escape(framework);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>auth SDK example · {framework}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <main>\n<h1>auth SDK example</h1>\n<p class=\"muted\">Served by {framework}.</p>\n\
         {body}\n</main>\n</body>\n</html>\n"
    )
}

/// Escapes text for HTML content and attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1 h 5 min`, `3 min`, `42 s`.
fn duration(secs: i64) -> String {
    match secs {
        s if s >= 3600 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_796_256_000), "2026-12-03T00:00:00Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn only_known_codes_are_shown() {
        let page = home("axum", &Visitor::SignedOut, Some("<script>"));
        assert!(!page.contains("<script>"));
        assert!(!page.contains("auth-error"));
        let page = home("axum", &Visitor::SignedOut, Some("permission_denied"));
        assert!(page.contains("id=\"auth-error\""));
    }
}
