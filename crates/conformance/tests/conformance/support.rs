//! Just enough HTML reading for the dev login page.
#![allow(dead_code, unreachable_pub)]

/// The opening tag that contains `marker`, without `<` and `>`.
pub fn tag<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')? + 1;
    let end = at + html[at..].find('>')?;
    Some(&html[start..end])
}

/// The value of `name="…"` in a tag.
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(unescape(&tag[from..from + len]))
}

pub fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#13;", "\r")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\"")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            Some((attribute(tag, "name")?, attribute(tag, "value")?))
        })
        .collect()
}

/// The value of `attr="…"` in the tag that contains `marker`.
pub fn attribute_of(html: &str, marker: &str, attr: &str) -> Option<String> {
    attribute(tag(html, marker)?, attr)
}
