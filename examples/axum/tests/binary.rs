//! The example-axum binary as a user runs it: `cargo run -p example-axum` with no configuration
//! starts the embedded issuer, prints the app's URL and a demo API key, serves, and stops on
//! Ctrl-C (SIGINT) with status 0.

const BINARY: &str = env!("CARGO_BIN_EXE_example-axum");

include!("../../shared/binary_test.rs");
