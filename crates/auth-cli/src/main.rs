//! The `auth` command-line tool.
fn main() {}
