//! The example-actix binary as a user runs it: `cargo run -p example-actix` with no configuration
//! starts the embedded issuer, prints the app's URL and a demo API key, serves, and stops on
//! Ctrl-C (SIGINT) with status 0.

const BINARY: &str = env!("CARGO_BIN_EXE_example-actix");

include!("../../shared/binary_test.rs");
