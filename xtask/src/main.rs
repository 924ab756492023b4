//! Repository tasks, run as `cargo xtask <task>` (matklad's cargo-xtask pattern).
//!
//! - `ci`: every check CI runs, in order (what `.ci/run` calls after installing tools).
//! - `bench [--quick]`: the `verify` criterion benchmark plus callgrind instruction counts, the
//!   token cache, every peer library side by side (`bench/`), the `api_keys` benchmark of
//!   auth-store, the `idle_connections` benchmark of auth-socketio and the HTTP comparison
//!   (`bench-http`), printed as the ratio tables that go into `docs/benchmarks.md`.
//! - `bench-http [--quick]`: the HTTP comparison alone (wrk against the example apps and the
//!   peer apps).
//! - `interop`: the example app signing a user in, refreshing and signing out against a real
//!   OpenID provider (`oidc-provider` on Node.js; see `xtask/interop/README.md`), then the
//!   official Socket.IO client against example-axum's namespaces (`socketio.rs`).
//! - `e2e`: headless Chromium (Debian's `chromium` + `chromium-driver`) signing in and out of the
//!   example app through the dev issuer's login page, as a person would (see `e2e.rs`).
//!
//! Hygiene checks live in `tidy.rs` as ordinary tests (`cargo test -p xtask`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod e2e;
mod http_bench;
mod interop;
mod socketio;
mod support;
#[cfg(test)]
mod tidy;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(args.iter().any(|a| a == "--quick")),
        Some("bench-http") => http_bench::run(args.iter().any(|a| a == "--quick")),
        Some("interop") => interop::run(),
        Some("e2e") => e2e::run(),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | bench [--quick] | bench-http [--quick] | interop | e2e>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn have(program: &str, probe: &str) -> bool {
    Command::new(program)
        .arg(probe)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every CI check. The test command is the one README.md gives.
fn ci() -> Result<(), String> {
    run("cargo", &["test", "--workspace", "--locked"], &[])?;
    // Every benchmark once, in its quick mode (criterion's test mode; the custom harnesses
    // without `--bench`), so that they keep working; then the side-by-side one with its peers
    // (their C libraries need cmake, libclang and libssl-dev, which .ci/run installs), after
    // josekit's process that it runs from beside it.
    run(
        "cargo",
        &["test", "--workspace", "--benches", "--locked"],
        &[],
    )?;
    run(
        "cargo",
        &[
            "build",
            "-p",
            "auth-bench-josekit",
            "--features",
            "josekit",
            "--locked",
        ],
        &[],
    )?;
    run(
        "cargo",
        &[
            "test",
            "-p",
            "auth-bench",
            "--features",
            "peers",
            "--bench",
            "peers",
            "--locked",
        ],
        &[],
    )?;
    run("cargo", &["test", "--doc", "--workspace", "--locked"], &[])?;
    // --all-targets: examples and benches must keep compiling too.
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    // The benchmarks' peer code, behind features.
    run(
        "cargo",
        &[
            "clippy",
            "-p",
            "auth-bench",
            "-p",
            "auth-bench-josekit",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    // The core without its default HTTP client must keep compiling (bring-your-own `HttpClient`).
    run(
        "cargo",
        &[
            "check",
            "-p",
            "auth-core",
            "--no-default-features",
            "--locked",
        ],
        &[],
    )?;
    run("cargo", &["fmt", "--all", "--", "--check"], &[])?;
    // Every published crate packages and builds from its own tarball, in dependency order.
    forget_packaged_sources()?;
    run(
        "cargo",
        &[
            "publish",
            "--workspace",
            "--dry-run",
            "--locked",
            "--allow-dirty",
        ],
        &[],
    )?;
    run(
        "cargo",
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    if have("cargo-deny", "--version") {
        // The advisory database comes from GitHub; where it cannot be fetched, check the rest.
        if run("cargo", &["deny", "check"], &[]).is_err() {
            eprintln!(
                "xtask: full `cargo deny check` failed (advisory database unreachable?); checking bans, licenses, sources"
            );
            run(
                "cargo",
                &["deny", "check", "bans", "licenses", "sources"],
                &[],
            )?;
        }
    } else {
        return Err("cargo-deny is not installed (`cargo install cargo-deny --locked`)".into());
    }
    Ok(())
}

/// Removes the copies of our own crates that an earlier `cargo publish --dry-run` unpacked from
/// its temporary registry into `$CARGO_HOME/registry/src/-<hash>/`. Cargo reuses such a copy
/// when the version has not changed, so a second dry run on the same machine would verify the
/// dependents against the first run's sources.
fn forget_packaged_sources() -> Result<(), String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        // The temporary registry's folder has no name before its hash.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for krate in std::fs::read_dir(registry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = krate.file_name().to_string_lossy().into_owned();
            if name.starts_with("auth-") {
                std::fs::remove_dir_all(krate.path())
                    .map_err(|e| format!("{}: {e}", krate.path().display()))?;
            }
        }
    }
    Ok(())
}

/// Every JWT library side by side (bench/benches/peers.rs): josekit's process built first, Node's
/// jose installed.
fn peers_bench(quick: bool) -> Result<(), String> {
    run(
        "cargo",
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "auth-bench-josekit",
            "--features",
            "josekit",
        ],
        &[],
    )?;
    if have("npm", "--version") {
        interop::npm_install(&root().join("bench/node"))?;
    }
    run(
        "cargo",
        &[
            "bench",
            "--locked",
            "-p",
            "auth-bench",
            "--features",
            "peers",
            "--bench",
            "peers",
        ],
        &[("PEER_ROUNDS", if quick { "10" } else { "40" })],
    )?;
    // Startup and scale: first request, memory per key and per token, a flood of tokens.
    run(
        "cargo",
        &["bench", "--locked", "-p", "auth-bench", "--bench", "scale"],
        &[],
    )
}

/// Runs one criterion benchmark with a 1 s warm-up and `time` seconds of measurement.
fn criterion(package: &str, bench: &str, time: &str) -> Result<(), String> {
    run(
        "cargo",
        &[
            "bench",
            "-p",
            package,
            "--bench",
            bench,
            "--",
            "--warm-up-time",
            "1",
            "--measurement-time",
            time,
        ],
        &[],
    )
}

/// Median estimate in nanoseconds from criterion's output.
fn criterion_median(group: &str, function: &str) -> Option<f64> {
    let path = root().join(format!(
        "target/criterion/{group}/{function}/new/estimates.json"
    ));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// The API-key criterion benchmark (auth-store), printed as ratios against the warm RS256 JWT
/// verification measured in the same run. PostgreSQL is included when `AUTH_TEST_POSTGRES_URL` is set.
fn api_key_bench(time: &str) -> Result<(), String> {
    criterion("auth-store", "api_keys", time)?;
    let jwt = criterion_median("api_key", "jwt_rs256_warm").ok_or("missing criterion output")?;
    println!("\n| API-key path | median | vs RS256 JWT (warm) |");
    println!("|---|---:|---:|");
    for case in [
        "jwt_rs256_warm",
        "sha256_only",
        "hit",
        "unknown_cached",
        "miss_sqlite",
        "miss_postgres",
    ] {
        // A result left by an earlier run must not pass for this one's.
        let skipped =
            case == "miss_postgres" && std::env::var_os("AUTH_TEST_POSTGRES_URL").is_none();
        let Some(ns) = criterion_median("api_key", case).filter(|_| !skipped) else {
            println!("| {case} | (not run) | |");
            continue;
        };
        let shown = if ns >= 1e3 {
            format!("{:.2} µs", ns / 1e3)
        } else {
            format!("{ns:.1} ns")
        };
        println!("| {case} | {shown} | {:.3}× |", ns / jwt);
    }
    Ok(())
}

/// The verified-token cache: its cost on a token not yet cached, and hits from 1, 2 and 4
/// threads, as ratios against the full verification measured in the same run.
fn token_cache_bench(time: &str) -> Result<(), String> {
    criterion("auth-core", "token_cache", time)?;
    println!(
        "\n| algorithm | full verify | + cache (not yet cached) | hit, 1 thread | hit, 2 threads | hit, 4 threads |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for alg in ["RS256", "ES256", "EdDSA"] {
        let group = format!("token_cache_{alg}");
        let ns = |case: &str| criterion_median(&group, case).ok_or("missing criterion output");
        let full = ns("full")?;
        let cold = ns("full_cache_on")?;
        let mut row = format!(
            "| {alg} | {:.2} µs ({:.1}k/s) | {:+.0} ns ({:.3}×) |",
            full / 1e3,
            1e6 / full,
            cold - full,
            cold / full
        );
        for threads in [1, 2, 4] {
            let hit = ns(&format!("hit_{threads}t"))?;
            row.push_str(&format!(
                " {hit:.0} ns ({:.2}M/s, {:.0}× full) |",
                1e3 / hit,
                full / hit
            ));
        }
        println!("{row}");
    }
    Ok(())
}

/// Instructions for `n` iterations of the harness, counted inside the measured loop only.
fn callgrind(alg: &str, mode: &str, n: usize) -> Option<u64> {
    let out_file = std::env::temp_dir().join(format!("xtask-cg-{alg}-{mode}-{n}.out"));
    let binary = root().join("target/release/examples/verify_loop");
    let output = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            &format!("--toggle-collect=*loop_{mode}*"),
        ])
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(&binary)
        .args([alg, mode, &n.to_string()])
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().find(|l| l.contains("Collected :"))?;
    line.rsplit(':').next()?.trim().parse().ok()
}

fn bench(quick: bool) -> Result<(), String> {
    let time = if quick { "2" } else { "5" };
    criterion("auth-core", "verify", time)?;
    let algs = ["RS256", "ES256", "EdDSA"];
    println!(
        "\n| algorithm | sig-only (aws-lc-rs) | full verify, warm cache | ratio | cold (discovery + JWKS fetch + verify) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for alg in algs {
        let sig = criterion_median(alg, "sig_only").ok_or("missing criterion output")?;
        let warm = criterion_median(alg, "warm").ok_or("missing criterion output")?;
        let cold = criterion_median(alg, "cold").ok_or("missing criterion output")?;
        println!(
            "| {alg} | {:.2} µs ({:.1}k/s) | {:.2} µs ({:.1}k/s) | {:.3}× | {:.0} µs |",
            sig / 1e3,
            1e6 / sig,
            warm / 1e3,
            1e6 / warm,
            sig / warm,
            cold / 1e3
        );
    }
    // What DPoP adds to a request whose token the cache answers (docs/benchmarks.md).
    criterion("auth-core", "dpop", time)?;
    let bearer = criterion_median("dpop", "bearer").ok_or("missing criterion output")?;
    let dpop = criterion_median("dpop", "dpop").ok_or("missing criterion output")?;
    let proof = criterion_median("dpop", "proof_only").ok_or("missing criterion output")?;
    let sig = criterion_median("dpop", "sig_only").ok_or("missing criterion output")?;
    println!(
        "\n| cached token | Bearer | DPoP (token + proof) | ratio | proof check alone | ES256 signature alone | proof ÷ signature |\n|---|---:|---:|---:|---:|---:|---:|\n| ES256 proof | {:.2} µs | {:.2} µs | {:.1}× | {:.2} µs | {:.2} µs | {:.3}× |",
        bearer / 1e3,
        dpop / 1e3,
        dpop / bearer,
        proof / 1e3,
        sig / 1e3,
        proof / sig
    );
    run(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "auth-core",
            "--example",
            "verify_loop",
        ],
        &[],
    )?;
    let binary = root().join("target/release/examples/verify_loop");
    let rounds = if quick { "40" } else { "150" };
    println!("\nInterleaved (ABBA) batches of 200, median of {rounds} rounds:\n");
    println!("| algorithm | sig-only/s | full verify/s | ratio (median) | ratio range |");
    println!("|---|---:|---:|---:|---:|");
    for alg in algs {
        let out = Command::new(&binary)
            .args([alg, "paired", rounds])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() == 6 {
            println!(
                "| {alg} | {} | {} | {}× | {}–{} |",
                f[1], f[2], f[3], f[4], f[5]
            );
        }
    }
    token_cache_bench(time)?;
    peers_bench(quick)?;
    api_key_bench(time)?;
    // Memory and idle CPU of idle authenticated connections, against unauthenticated ones.
    let connections = if quick { "2000" } else { "10000" };
    run(
        "cargo",
        &[
            "bench",
            "-p",
            "auth-socketio",
            "--bench",
            "idle_connections",
        ],
        &[("IDLE_CONNECTIONS", connections)],
    )?;
    http_bench::run(quick)?;
    if !have("valgrind", "--version") {
        println!("\n(valgrind not installed: instruction counts skipped)");
        return Ok(());
    }
    println!(
        "\n| algorithm | sig-only instructions/token | full verify instructions/token | overhead | ratio |"
    );
    println!("|---|---:|---:|---:|---:|");
    let (lo, hi) = (100usize, 600usize);
    for alg in algs {
        let per = |mode: &str| -> Option<f64> {
            Some(
                (callgrind(alg, mode, hi)? as f64 - callgrind(alg, mode, lo)? as f64)
                    / (hi - lo) as f64,
            )
        };
        let sig = per("sig").ok_or("callgrind failed")?;
        let warm = per("warm").ok_or("callgrind failed")?;
        println!(
            "| {alg} | {sig:.0} | {warm:.0} | {:.0} | {:.3}× |",
            warm - sig,
            sig / warm
        );
    }
    Ok(())
}
