//! The issuer's few HTML pages: the dev login page, error pages and "signed out".

use std::fmt::Write as _;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML content and double- or single-quoted attribute values. Line breaks
/// become character references, so that a hidden input gives back exactly what it got.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\r' => out.push_str("&#13;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}\
main{max-width:26rem;margin:3rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;\
box-shadow:0 1px 4px rgba(0,0,0,.12)}\
h1{font-size:1.4rem;margin:0 0 .5rem}\
p{line-height:1.4}\
.muted{color:#5c6475;font-size:.9rem}\
.error{background:#fdecea;color:#8a1c12;padding:.5rem .75rem;border-radius:4px}\
label{display:block;font-weight:600;margin:1rem 0 .25rem}\
input[type=text]{box-sizing:border-box;width:100%;padding:.5rem;font-size:1rem}\
button{font-size:1rem;padding:.5rem 1rem;margin-top:.5rem;cursor:pointer}\
ul{list-style:none;padding:0;margin:.25rem 0 1rem}\
li button{width:100%;text-align:left;background:#eef1f6;border:1px solid #d5dae3;border-radius:4px}\
li button small{display:block;color:#5c6475}\
#sign-in{background:#2f5bd3;color:#fff;border:0;border-radius:4px}\
#cancel{background:none;border:1px solid #c4c9d4;border-radius:4px}\
code{word-break:break-all}";

/// A complete page: `<title>` and `<h1>` are `title`, `body` is trusted (already escaped)
/// HTML.
fn page(title: &str, body: &str) -> String {
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · auth-issuer</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n"
    )
}

/// Answers an HTML page that must be neither cached, framed nor able to run scripts.
pub(crate) fn respond(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response()
}

/// A `400` page for a request the issuer cannot redirect back to the client.
pub(crate) fn error_page(message: &str) -> Response {
    let body = format!(
        "<p class=\"error\" id=\"error\" role=\"alert\">{}</p>\n\
         <p class=\"muted\">The issuer did not redirect back to the application because the \
         request does not identify a valid client and redirect URI.</p>\n",
        escape(message)
    );
    respond(StatusCode::BAD_REQUEST, page("Invalid request", &body))
}

/// The page after logout when there is nowhere to redirect to.
pub(crate) fn signed_out_page(issuer: &str, notice: Option<&str>) -> Response {
    let mut body = format!(
        "<p id=\"signed-out\">You are signed out of <code>{}</code>.</p>\n",
        escape(issuer)
    );
    if let Some(notice) = notice {
        let _ = writeln!(
            body,
            "<p class=\"muted\" id=\"notice\">{}</p>",
            escape(notice)
        );
    }
    respond(StatusCode::OK, page("Signed out", &body))
}

/// A user offered as a button on the login page.
#[derive(Debug)]
pub(crate) struct UserChoice {
    pub(crate) sub: String,
    pub(crate) name: Option<String>,
    pub(crate) roles: Vec<String>,
}

/// What the login page shows and carries.
#[derive(Debug)]
pub(crate) struct LoginPage<'a> {
    /// Where the form posts: `{path}/authorize`.
    pub(crate) action: &'a str,
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) scope: &'a str,
    /// The authorization request's parameters, carried as hidden inputs.
    pub(crate) hidden: Vec<(&'a str, &'a str)>,
    pub(crate) users: Vec<UserChoice>,
    /// Prefills the username field (`login_hint`).
    pub(crate) username: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
}

impl LoginPage<'_> {
    pub(crate) fn render(&self) -> Response {
        let mut body = String::new();
        let _ = write!(
            body,
            "<p class=\"muted\">to <strong id=\"client-id\">{}</strong> at <code>{}</code>",
            escape(self.client_id),
            escape(self.issuer)
        );
        if !self.scope.is_empty() {
            let _ = write!(
                body,
                "<br>scope <code id=\"scope\">{}</code>",
                escape(self.scope)
            );
        }
        body.push_str("</p>\n");
        if let Some(error) = self.error {
            let _ = writeln!(
                body,
                "<p class=\"error\" id=\"error\" role=\"alert\">{}</p>",
                escape(error)
            );
        }
        let _ = writeln!(
            body,
            "<form id=\"login-form\" method=\"post\" action=\"{}\" accept-charset=\"utf-8\">",
            escape(self.action)
        );
        for (name, value) in &self.hidden {
            let _ = writeln!(
                body,
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            );
        }
        // The username field and its button come first: pressing Enter in the field submits
        // with the form's first button.
        let _ = writeln!(
            body,
            "<label for=\"username\">Username</label>\n\
             <input type=\"text\" id=\"username\" name=\"username\" value=\"{}\" \
             autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" autofocus>\n\
             <button type=\"submit\" id=\"sign-in\" name=\"action\" value=\"sign-in\">Sign in</button>",
            escape(self.username.unwrap_or(""))
        );
        if !self.users.is_empty() {
            body.push_str(
                "<p class=\"muted\">or continue as a test user:</p>\n<ul id=\"users\">\n",
            );
            for user in &self.users {
                let sub = escape(&user.sub);
                let label = escape(user.name.as_deref().unwrap_or(&user.sub));
                let mut detail = sub.clone();
                if !user.roles.is_empty() {
                    let _ = write!(detail, " · {}", escape(&user.roles.join(", ")));
                }
                let _ = writeln!(
                    body,
                    "<li><button type=\"submit\" name=\"user\" value=\"{sub}\" data-user=\"{sub}\">\
                     {label}<small>{detail}</small></button></li>"
                );
            }
            body.push_str("</ul>\n");
        }
        body.push_str(
            "<button type=\"submit\" id=\"cancel\" name=\"action\" value=\"cancel\">Cancel</button>\n\
             </form>\n",
        );
        respond(StatusCode::OK, page("Sign in", &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_line_breaks() {
        assert_eq!(
            escape("<script>alert('x')</script>&\"\r\n"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;&#13;&#10;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }
}
