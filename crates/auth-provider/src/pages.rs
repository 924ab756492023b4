//! The provider's few HTML pages (errors, consent, "signed out"), and the helpers a host
//! uses to render its own login page in the same style.

use std::fmt::Write as _;

use crate::http::ProviderResponse;

/// Escapes text for HTML content and double- or single-quoted attribute values. Line breaks
/// become character references, so that a hidden input gives back exactly what it got.
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

/// A complete page in the provider's style: `<title>` and `<h1>` are `title`, `body` is
/// trusted (already escaped) HTML.
#[must_use]
pub fn page(title: &str, body: &str) -> String {
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n"
    )
}

/// Answers an HTML page that must be neither cached, framed nor able to run scripts. (No
/// `form-action`: browsers apply it to the redirect that follows a form post, which goes to
/// the client.)
pub fn respond(status: u16, html: String) -> ProviderResponse {
    ProviderResponse::new(status)
        .with_header("content-type", "text/html; charset=utf-8")
        .with_header("cache-control", "no-store")
        .with_header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        )
        .with_header("x-frame-options", "DENY")
        .with_header("referrer-policy", "no-referrer")
        .with_body(html.into_bytes())
}

/// A `400` page for a request the provider cannot redirect back to the client.
pub(crate) fn error_page(message: &str) -> ProviderResponse {
    let body = format!(
        "<p class=\"error\" id=\"error\" role=\"alert\">{}</p>\n\
         <p class=\"muted\">The provider did not redirect back to the application because the \
         request does not identify a valid client and redirect URI.</p>\n",
        escape(message)
    );
    respond(400, page("Invalid request", &body))
}

/// The page after logout when there is nowhere to redirect to.
pub(crate) fn signed_out_page(issuer: &str, notice: Option<&str>) -> ProviderResponse {
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
    respond(200, page("Signed out", &body))
}

/// Hidden inputs carrying `pairs`.
#[must_use]
pub fn hidden_inputs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        let _ = writeln!(
            out,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        );
    }
    out
}

/// What the consent page shows and carries.
#[derive(Debug)]
pub(crate) struct ConsentPage<'a> {
    pub(crate) action: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) client_name: Option<&'a str>,
    pub(crate) sub: &'a str,
    pub(crate) scope: &'a [String],
    pub(crate) resources: &'a [String],
    pub(crate) hidden: Vec<(&'a str, &'a str)>,
}

impl ConsentPage<'_> {
    pub(crate) fn render(&self) -> ProviderResponse {
        let mut body = String::new();
        let name = self.client_name.unwrap_or(self.client_id);
        let _ = writeln!(
            body,
            "<p><strong id=\"client-name\">{}</strong> (<code id=\"client-id\">{}</code>) asks \
             to act for <strong id=\"user\">{}</strong>.</p>",
            escape(name),
            escape(self.client_id),
            escape(self.sub)
        );
        if !self.scope.is_empty() {
            body.push_str("<p class=\"muted\">It asks for:</p>\n<ul id=\"scopes\">\n");
            for scope in self.scope {
                let _ = writeln!(
                    body,
                    "<li data-scope=\"{0}\"><code>{0}</code> {1}</li>",
                    escape(scope),
                    escape(describe_scope(scope))
                );
            }
            body.push_str("</ul>\n");
        }
        if !self.resources.is_empty() {
            body.push_str("<p class=\"muted\">at:</p>\n<ul id=\"resources\">\n");
            for resource in self.resources {
                let _ = writeln!(body, "<li><code>{}</code></li>", escape(resource));
            }
            body.push_str("</ul>\n");
        }
        let _ = writeln!(
            body,
            "<form id=\"consent-form\" method=\"post\" action=\"{}\" accept-charset=\"utf-8\">",
            escape(self.action)
        );
        body.push_str(&hidden_inputs(self.hidden.iter().copied()));
        body.push_str(
            "<button type=\"submit\" id=\"approve\" name=\"consent\" value=\"approve\">Allow</button>\n\
             <button type=\"submit\" id=\"deny\" name=\"consent\" value=\"deny\">Deny</button>\n\
             </form>\n",
        );
        respond(200, page("Allow access?", &body))
    }
}

/// A few words on what a standard scope lets the client do.
fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "openid" => "— sign you in",
        "profile" => "— your name and profile",
        "email" => "— your email address",
        "address" => "— your address",
        "phone" => "— your phone number",
        "offline_access" => "— stay signed in while you are away",
        _ => "",
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
