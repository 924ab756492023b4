//! Helpers shared by the `interop` and `e2e` tasks.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::root;

/// A free TCP port on 127.0.0.1 (another process could take it before we bind; tolerated).
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// The example apps: the same app on each framework.
pub(crate) const APPS: [&str; 3] = ["example-axum", "example-actix", "example-warp"];

/// The example apps' binaries, with their paths (from cargo's JSON messages, so any
/// `CARGO_TARGET_DIR` works). They are built as `cargo test --workspace` builds them (each
/// example's `tests/binary.rs` runs its binary), with the same features, so after
/// `cargo xtask ci` nothing is compiled again: CI builds the examples once.
pub(crate) fn build_apps() -> Result<Vec<(&'static str, PathBuf)>, String> {
    let messages = cargo_artifacts(
        &["test", "--workspace", "--locked", "--no-run"],
        "the example apps",
    )?;
    APPS.iter()
        .map(|app| {
            executable(&messages, app)
                .map(|path| (*app, path))
                .ok_or_else(|| format!("cargo built no {app} executable"))
        })
        .collect()
}

/// Builds one binary of a package (as `cargo build` does) and returns its path.
pub(crate) fn build_bin(package: &str, bin: &str) -> Result<PathBuf, String> {
    let messages = cargo_artifacts(&["build", "--locked", "-p", package, "--bin", bin], bin)?;
    executable(&messages, bin).ok_or_else(|| format!("cargo built no {bin} executable"))
}

/// Builds binaries in the release profile (`cargo build --release <args>`) and returns the
/// executables of `names`, in that order.
pub(crate) fn build_release(args: &[&str], names: &[&str]) -> Result<Vec<PathBuf>, String> {
    let mut all = vec!["build", "--release", "--locked"];
    all.extend_from_slice(args);
    let messages = cargo_artifacts(&all, "release binaries")?;
    names
        .iter()
        .map(|n| executable(&messages, n).ok_or_else(|| format!("cargo built no {n} executable")))
        .collect()
}

/// Runs `cargo <args>` with JSON messages; the artifacts it built (tests aside).
fn cargo_artifacts(args: &[&str], what: &str) -> Result<Vec<Value>, String> {
    eprintln!("$ cargo {}", args.join(" "));
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("building {what} failed ({})", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["profile"]["test"] == false)
        .collect())
}

/// The executable of the binary target `name` among cargo's artifacts.
fn executable(messages: &[Value], name: &str) -> Option<PathBuf> {
    messages
        .iter()
        .filter(|m| {
            m["target"]["name"] == name
                && m["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

/// `<target>/<name>` (honouring `CARGO_TARGET_DIR`), created: logs and screenshots.
pub(crate) fn target_subdir(name: &str) -> Result<PathBuf, String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| root().join(d))
        .unwrap_or_else(|| root().join("target"));
    let dir = target.join(name);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// The last `n` lines of a file.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
