//! Request parameters: form and query parsing, scope and resource syntax, redirect queries.

use url::form_urlencoded;

/// Request parameters (query or form body) in the order they came.
///
/// Parameters with an empty value are dropped: RFC 6749 §3.1 says to treat them as omitted.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(input)
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    pub(crate) fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }

    /// The value of `name` if it was given exactly once.
    pub(crate) fn single(&self, name: &str) -> Option<&str> {
        if self.count(name) == 1 {
            self.get(name)
        } else {
            None
        }
    }

    /// The first parameter given more than once, apart from those in `repeatable`
    /// (RFC 6749 §3.1, §3.2: parameters must not be included more than once).
    pub(crate) fn repeated(&self, repeatable: &[&str]) -> Option<&str> {
        let mut seen = std::collections::HashSet::with_capacity(self.0.len());
        self.0
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| !repeatable.contains(name) && !seen.insert(*name))
    }

    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Splits a space-separated `scope` into its values (RFC 6749 §3.3), without duplicates.
/// `None` when a value holds a character outside `NQCHAR`.
pub(crate) fn parse_scope(scope: &str) -> Option<Vec<String>> {
    let mut values: Vec<String> = Vec::new();
    for value in scope.split(' ').filter(|v| !v.is_empty()) {
        let nqchar = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
        if !value.bytes().all(nqchar) {
            return None;
        }
        if !values.iter().any(|v| v == value) {
            values.push(value.to_owned());
        }
    }
    Some(values)
}

/// Whether `url`'s host is a loopback IP literal (`127.0.0.0/8`, `[::1]`), or also `localhost`
/// when `named` (RFC 8252 §8.3 prefers the literals for redirect URIs).
pub(crate) fn is_loopback_host(url: &url::Url, named: bool) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(host)) => named && host == "localhost",
        None => false,
    }
}

/// Whether `value` is an absolute URI without a fragment, as RFC 8707 wants a `resource`.
pub(crate) fn is_resource_uri(value: &str) -> bool {
    is_plain(value) && !value.contains('#') && url::Url::parse(value).is_ok()
}

/// Whether `value` holds no whitespace and no control character: identifiers (client ids,
/// audiences, resources) that are stored and compared as they are.
pub(crate) fn is_plain(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
pub(crate) fn form_decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Appends query parameters to a redirect URI, keeping the URI exactly as registered.
pub(crate) fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut target = uri.to_owned();
    if !params.is_empty() {
        if !target.contains('?') {
            target.push('?');
        } else if !target.ends_with('?') && !target.ends_with('&') {
            target.push('&');
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(params);
        target.push_str(&query.finish());
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a%2Bb+c").as_deref(), Some("a+b c"));
        assert_eq!(form_decode("%3A%25").as_deref(), Some(":%"));
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%ff"), None);
    }

    #[test]
    fn repeated_parameters() {
        let params = Params::parse(b"a=1&b=2&resource=x&resource=y&empty=&empty=");
        assert_eq!(params.repeated(&["resource"]), None);
        assert_eq!(params.repeated(&[]), Some("resource"));
        assert_eq!(params.get("empty"), None);
        let params = Params::parse(b"a=1&b=2&a=3");
        assert_eq!(params.repeated(&[]), Some("a"));
        assert_eq!(params.single("a"), None);
        assert_eq!(params.single("b"), Some("2"));
    }

    #[test]
    fn scopes() {
        assert_eq!(
            parse_scope("openid  profile openid"),
            Some(vec!["openid".to_owned(), "profile".to_owned()])
        );
        assert_eq!(parse_scope("a\"b"), None);
        assert_eq!(parse_scope("a\\b"), None);
        assert_eq!(parse_scope(""), Some(Vec::new()));
    }

    #[test]
    fn redirect_query() {
        let params = [("code", "a b"), ("state", "x&y")];
        assert_eq!(
            with_query("http://app/cb", &params),
            "http://app/cb?code=a+b&state=x%26y"
        );
        assert_eq!(
            with_query("http://app/cb?tenant=1", &params[..1]),
            "http://app/cb?tenant=1&code=a+b"
        );
        assert_eq!(
            with_query("http://app/cb?", &params[..1]),
            "http://app/cb?code=a+b"
        );
        assert_eq!(with_query("http://app/cb", &[]), "http://app/cb");
    }
}
