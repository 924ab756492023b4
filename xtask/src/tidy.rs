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

#[test]
fn no_unwrap_in_library_code() {
    // Attacker-controlled input must never reach an unwrap (rustls CONTRIBUTING). Tests may.
    for path in ["crates/auth-core/src"] {
        for entry in fs::read_dir(root().join(path))
            .into_iter()
            .flatten()
            .flatten()
        {
            let text = fs::read_to_string(entry.path()).unwrap_or_default();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (i, line) in code.lines().enumerate() {
                assert!(
                    !line.contains(".unwrap()") || line.trim_start().starts_with("//"),
                    "{}:{}: unwrap in library code",
                    entry.path().display(),
                    i + 1
                );
            }
        }
    }
}
