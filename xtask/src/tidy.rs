//! Repository hygiene, checked as tests (rust-analyzer's `tidy.rs` habit).

use std::fs;

use super::root;

fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn members() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["crates", "examples"] {
        if let Ok(entries) = fs::read_dir(root().join(dir)) {
            for e in entries.flatten() {
                if e.path().join("Cargo.toml").exists() {
                    out.push(format!("{dir}/{}", e.file_name().to_string_lossy()));
                }
            }
        }
    }
    out.push("xtask".into());
    out
}

#[test]
fn every_member_uses_the_workspace_lints() {
    for m in members() {
        let manifest = read(&format!("{m}/Cargo.toml"));
        assert!(
            manifest.contains("[lints]\nworkspace = true"),
            "{m}/Cargo.toml lacks `[lints] workspace = true`"
        );
    }
}

#[test]
fn every_member_folder_is_named_after_its_package() {
    for m in members().into_iter().filter(|m| m.starts_with("crates/")) {
        let manifest = read(&format!("{m}/Cargo.toml"));
        let folder = m.rsplit('/').next().unwrap_or_default();
        assert!(
            manifest.contains(&format!("name = \"{folder}\"")),
            "{m}: package name differs from its folder"
        );
    }
}

#[test]
fn ci_runs_the_test_command_the_readme_gives() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    assert!(
        readme.contains("cargo test --workspace"),
        "README.md must give the test command"
    );
    assert!(
        ci.contains("cargo xtask ci") || ci.contains("cargo test --workspace"),
        ".ci/run must run it"
    );
    let xtask = read("xtask/src/main.rs");
    assert!(xtask.contains(r#"&["test", "--workspace", "--locked"]"#));
}

#[test]
fn changelog_has_an_unreleased_section() {
    assert!(read("CHANGELOG.md").contains("## [Unreleased]"));
}

#[test]
fn test_vectors_keep_their_licence() {
    let dir = root().join("crates/auth-core/tests/data/wycheproof");
    assert!(
        dir.join("LICENSE").exists(),
        "Wycheproof vectors are Apache-2.0: keep LICENSE beside them"
    );
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_unwrap_or_expect_in_library_code() {
    // Attacker-controlled input must never reach an unwrap (rustls CONTRIBUTING). Tests may; a
    // library line may only with an `allow-panic:` comment on it or just above it saying why
    // it cannot fire.
    let mut files = Vec::new();
    for dir in ["crates/auth-core/src", "crates/auth-axum/src"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 10, "found only {files:?}");
    for path in files {
        let text = fs::read_to_string(&path).unwrap_or_default();
        if text.contains("#![cfg(test)]") {
            continue; // a test-only module
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            let allowed = line.contains("allow-panic:")
                || i.checked_sub(1)
                    .is_some_and(|p| lines[p].contains("allow-panic:"));
            assert!(
                !(line.contains(".unwrap()") || line.contains(".expect(")) || allowed,
                "{}:{}: unwrap/expect in library code",
                path.display(),
                i + 1
            );
        }
    }
}

#[test]
fn the_readme_test_is_the_one_ci_runs() {
    let readme = read("README.md");
    let test = read("examples/axum/tests/readme.rs");
    assert!(
        readme.contains(&format!("```rust,ignore\n{test}```")),
        "README.md must show examples/axum/tests/readme.rs verbatim"
    );
}
