//! `auth doctor` (the real binary) against a real auth-issuer: a good configuration passes;
//! each broken one fails the right check with a fix, exit status 1, and no secret printed.

use std::process::Command;

use auth_issuer::{TestClient, TestIssuer};
use serde_json::Value;

const CLIENT: &str = "doctor-app";
const SECRET: &str = "doctor-client-secret-0123456789";
const COOKIE_SECRET: &str = "Zq8Rk2XbW1mN4pL7vT0yC3fH6jD9sA5eG2uI8oK1";
const APP: &str = "http://127.0.0.1:4999";

struct Issuer {
    issuer: TestIssuer,
    _runtime: tokio::runtime::Runtime,
}

fn start() -> Issuer {
    start_with(|b| {
        b.client(
            TestClient::confidential(CLIENT, SECRET).redirect_uri(format!("{APP}/auth/callback")),
        )
    })
}

/// An issuer configured by `configure`, on a runtime of its own (the tests are synchronous).
fn start_with(
    configure: impl FnOnce(auth_issuer::TestIssuerBuilder) -> auth_issuer::TestIssuerBuilder,
) -> Issuer {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = runtime
        .block_on(configure(TestIssuer::builder()).start())
        .expect("issuer");
    Issuer {
        issuer,
        _runtime: runtime,
    }
}

/// Runs `auth doctor --json` with these variables only; the exit code and the report.
fn doctor(vars: &[(&str, &str)]) -> (Option<i32>, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_auth"))
        .args(["doctor", "--json"])
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("auth doctor runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let report = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    let all = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    (output.status.code(), report, all)
}

fn status<'a>(report: &'a Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("absent")
}

fn good(issuer: &TestIssuer) -> Vec<(&'static str, String)> {
    vec![
        ("AUTH_ISSUER", issuer.issuer().to_owned()),
        ("AUTH_AUDIENCE", issuer.audience().to_owned()),
        ("AUTH_CLIENT_ID", CLIENT.to_owned()),
        ("AUTH_CLIENT_SECRET", SECRET.to_owned()),
        ("AUTH_COOKIE_SECRET", COOKIE_SECRET.to_owned()),
        ("APP_URL", APP.to_owned()),
    ]
}

fn with<'a>(
    base: &'a [(&'static str, String)],
    name: &'static str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut vars: Vec<(&str, &str)> = base
        .iter()
        .filter(|(n, _)| *n != name)
        .map(|(n, v)| (*n, v.as_str()))
        .collect();
    if let Some(value) = value {
        vars.push((name, value));
    }
    vars
}

#[test]
fn a_good_configuration_passes_every_check() {
    let issuer = start();
    let base = good(&issuer.issuer);
    let (code, report, all) = doctor(&with(&base, "NONE", None));
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(report["ok"], true);
    for check in [
        "configuration",
        "issuer reachable",
        "discovery issuer",
        "clock",
        "key set",
        "algorithms",
        "client credentials",
        "redirect URI",
        "cookie secret",
        "app URL",
    ] {
        assert_eq!(status(&report, check), "ok", "{check}: {all}");
    }
    assert!(
        !all.contains(SECRET) && !all.contains(COOKIE_SECRET),
        "a secret was printed"
    );
}

#[test]
fn each_broken_configuration_fails_its_check_with_a_fix() {
    let issuer = start();
    let base = good(&issuer.issuer);
    let slash = format!("{}/", issuer.issuer.issuer());
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        (
            "AUTH_CLIENT_SECRET",
            Some("wrong-secret"),
            "client credentials",
        ),
        ("AUTH_ISSUER", Some(slash.as_str()), "discovery issuer"),
        (
            "AUTH_ISSUER",
            Some("http://127.0.0.1:1"),
            "issuer reachable",
        ),
        ("APP_URL", Some("http://127.0.0.1:4998"), "redirect URI"),
        ("AUTH_COOKIE_SECRET", Some("short"), "cookie secret"),
        (
            "AUTH_COOKIE_SECRET",
            Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            "cookie secret",
        ),
        ("AUTH_AUDIENCE", None, "configuration"),
    ];
    for (name, value, check) in cases {
        let (code, report, all) = doctor(&with(&base, name, value));
        assert_eq!(code, Some(1), "{name}={value:?}: {all}");
        assert_eq!(report["ok"], false);
        assert_eq!(status(&report, check), "fail", "{name}={value:?}: {all}");
        let fix = report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == check))
            .and_then(|c| c["fix"].as_str())
            .unwrap_or_default()
            .to_owned();
        assert!(!fix.is_empty(), "{check} has a fix");
        assert!(!all.contains(SECRET), "the client secret was printed");
    }
    // The trailing slash is named as such.
    let (_, report, _) = doctor(&with(&base, "AUTH_ISSUER", Some(slash.as_str())));
    let detail = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "discovery issuer"))
        .and_then(|c| c["detail"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("trailing slash"), "{detail}");
}

#[test]
fn the_text_report_has_one_line_per_check_and_a_verdict() {
    let issuer = start();
    let base = good(&issuer.issuer);
    let output = Command::new(env!("CARGO_BIN_EXE_auth"))
        .arg("doctor")
        .env_clear()
        .envs(with(&base, "AUTH_CLIENT_SECRET", Some("wrong-secret")))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("✘ client credentials:"), "{text}");
    assert!(
        text.contains("    fix: check AUTH_CLIENT_ID and AUTH_CLIENT_SECRET"),
        "{text}"
    );
    assert!(text.contains("✔ key set:"), "{text}");
    assert!(text.trim_end().ends_with("1 check(s) failed"), "{text}");
    assert!(!text.contains("wrong-secret"));
}

#[test]
fn every_issuer_of_auth_issuers_is_checked() {
    let primary = start();
    let partner = start();
    let base = good(&primary.issuer);
    let both = format!("{},{}", primary.issuer.issuer(), partner.issuer.issuer());
    let mut vars = with(&base, "AUTH_ISSUER", None);
    vars.push(("AUTH_ISSUERS", both.as_str()));
    let (code, report, all) = doctor(&vars);
    assert_eq!(code, Some(0), "{all}");
    let reachable = report["checks"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter(|c| c["name"] == "issuer reachable" && c["status"] == "ok")
                .count()
        })
        .unwrap_or_default();
    assert_eq!(reachable, 2, "both issuers checked: {all}");
    let broken = format!("{},http://127.0.0.1:1", primary.issuer.issuer());
    let mut vars = with(&base, "AUTH_ISSUER", None);
    vars.push(("AUTH_ISSUERS", broken.as_str()));
    let (code, report, all) = doctor(&vars);
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(report["ok"], false);
}

#[test]
fn a_private_key_client_is_checked_with_its_key_and_client_jwk_prints_what_to_register() {
    let key_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../auth-core/tests/data/client-p256.pem"
    );
    let jwk_run = Command::new(env!("CARGO_BIN_EXE_auth"))
        .args(["client-jwk", "--key", key_file])
        .env_clear()
        .output()
        .expect("auth client-jwk runs");
    assert!(jwk_run.status.success());
    let jwks: Value = serde_json::from_slice(&jwk_run.stdout).expect("a JWK set");
    let jwk = jwks["keys"][0].clone();
    assert_eq!(jwk["kty"], "EC");
    assert!(jwk.get("d").is_none(), "nothing private");

    let issuer = start_with(|b| {
        b.client(
            TestClient::private_key_jwt(CLIENT, jwk).redirect_uri(format!("{APP}/auth/callback")),
        )
    });
    let base: Vec<(&str, String)> = good(&issuer.issuer)
        .into_iter()
        .filter(|(name, _)| *name != "AUTH_CLIENT_SECRET")
        .chain([("AUTH_CLIENT_KEY_FILE", key_file.to_owned())])
        .collect();
    let (code, report, all) = doctor(&with(&base, "NONE", None));
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(status(&report, "client credentials"), "ok", "{all}");
    assert!(!all.contains("BEGIN"), "no key material printed");

    // A kid the provider does not know: refused, with the fix.
    let (code, report, all) = doctor(&with(&base, "AUTH_CLIENT_KEY_ID", Some("not-registered")));
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(status(&report, "client credentials"), "fail", "{all}");
    assert!(all.contains("client-jwk"), "{all}");

    // A file that is not a key.
    let not_a_key = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let (code, report, all) = doctor(&with(&base, "AUTH_CLIENT_KEY_FILE", Some(not_a_key)));
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(status(&report, "client credentials"), "fail", "{all}");
    assert!(all.contains("PEM"), "{all}");
}

#[test]
fn an_issuer_pattern_is_checked_tenant_by_tenant() {
    let acme = start_with(|b| b.path("/acme"));
    let acme = &acme.issuer;
    let pattern = acme.issuer().replace("/acme", "/{tenant}");
    let vars = |tenants: &str| {
        vec![
            ("AUTH_ISSUER", pattern.clone()),
            ("AUTH_AUDIENCE", acme.audience().to_owned()),
            ("AUTH_TENANTS", tenants.to_owned()),
        ]
    };
    let good = vars("acme");
    let (code, report, all) = doctor(&with(&good, "NONE", None));
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(status(&report, "issuer pattern"), "ok", "{all}");
    assert_eq!(status(&report, "key set"), "ok", "{all}");
    let broken = vars("acme,nowhere");
    let (code, _, all) = doctor(&with(&broken, "NONE", None));
    assert_eq!(
        code,
        Some(1),
        "a tenant without a discovery document: {all}"
    );
    assert!(all.contains("nowhere"), "{all}");
}
