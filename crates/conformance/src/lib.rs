//! The conformance suite lives in `tests/conformance/`: every scenario runs against each of the
//! three example apps (`example-axum`, `example-actix`, `example-warp`) over real HTTP, and
//! the parity checks compare their answers byte for byte. This library is empty.

/// The guides' code blocks are compiled as doctests of this crate, which sees every adapter,
/// every framework and the test issuer, so that they cannot drift from the API.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../README.md")]
    struct Readme;
    #[doc = include_str!("../../../docs/frameworks.md")]
    struct Frameworks;
    #[doc = include_str!("../../../docs/sessions.md")]
    struct Sessions;
    #[doc = include_str!("../../../docs/verification.md")]
    struct Verification;
    #[doc = include_str!("../../../docs/errors.md")]
    struct Errors;
    #[doc = include_str!("../../../docs/api-keys.md")]
    struct ApiKeys;
    #[doc = include_str!("../../../docs/ownership.md")]
    struct Ownership;
    #[doc = include_str!("../../../docs/realtime.md")]
    struct Realtime;
    #[doc = include_str!("../../../docs/service-to-service.md")]
    struct ServiceToService;
    #[doc = include_str!("../../../docs/operations.md")]
    struct Operations;
    #[doc = include_str!("../../../docs/resource-server.md")]
    struct ResourceServer;
}
