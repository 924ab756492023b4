//! The conformance suite lives in `tests/conformance/`: every scenario runs against each of the
//! three example apps (`example-axum`, `example-actix`, `example-warp`) over real HTTP, and
//! the parity checks compare their answers byte for byte. This library is empty.
