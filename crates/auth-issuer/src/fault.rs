//! Injected failures for the JWKS, discovery and token endpoints.

use std::time::Duration;

/// A failure the JWKS, discovery or token endpoints produce instead of a normal answer.
///
/// Set one with [`TestIssuer::set_jwks_fault`](crate::TestIssuer::set_jwks_fault),
/// [`TestIssuer::set_discovery_fault`](crate::TestIssuer::set_discovery_fault) or
/// [`TestIssuer::set_token_fault`](crate::TestIssuer::set_token_fault); `None` restores
/// normal service. The request is counted either way.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use auth_issuer::{Fault, TestIssuer};
///
/// let issuer = TestIssuer::start().await;
/// issuer.set_jwks_fault(Some(Fault::Status(503)));
/// // ... the verifier under test sees an outage ...
/// issuer.set_jwks_fault(Some(Fault::Delay(Duration::from_millis(200))));
/// // ... a slow but correct answer ...
/// issuer.set_jwks_fault(None);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status and a small JSON error body. A code that is not a final
    /// status (below 200 or above 999) becomes 500.
    Status(u16),
    /// Answer `200 OK` with an HTML page (`Content-Type: text/html`), as a login wall or a
    /// misconfigured proxy would.
    Html,
    /// Answer `200 OK` with `Content-Type: application/json` and a body that is not JSON.
    InvalidJson,
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Answer `200 OK` with a `Content-Length` of this many bytes and a body to match: the
    /// normal document padded with trailing whitespace, so it is still valid JSON. The
    /// padding is streamed, so a huge size costs no memory. If the normal document is
    /// already longer, it is sent unchanged.
    Oversized(usize),
    /// Send the headers and the first few bytes of the body at once, then stall for this
    /// long before sending the rest. With a duration longer than the client's timeout,
    /// the client's timeout trips mid-body.
    SlowBody(Duration),
    /// Close the connection without an HTTP response: the client sees a connection error,
    /// not a status.
    Drop,
}
