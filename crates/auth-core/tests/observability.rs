//! What operators see: the `auth.verify` span's fields, and never a token. (The metrics are in
//! `tests/metrics.rs`: a test in another thread of this process could register the span's
//! callsite while no subscriber listens.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use auth_core::NoExtraClaims;
use auth_issuer::TestIssuer;

mod common;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_verify_span_names_issuer_kid_alg_code_and_time_but_never_the_token() {
    let issuer = TestIssuer::start().await;
    let verifier = common::verifier(&issuer);
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let good = issuer.token().sub("alice").sign();
    verifier
        .verify::<NoExtraClaims>(&good)
        .await
        .expect("verifies");
    let expired = issuer.token().sub("alice").expires_in(-3600).sign();
    let error = verifier
        .verify::<NoExtraClaims>(&expired)
        .await
        .expect_err("expired");
    assert_eq!(error.code().as_str(), "token_expired");
    let text = captured.text();
    let closes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("auth.verify") && l.contains("close"))
        .collect();
    assert_eq!(closes.len(), 2, "{text}");
    for line in &closes {
        assert!(
            line.contains(&format!("issuer={}", issuer.issuer())),
            "{line}"
        );
        assert!(
            line.contains("alg=\"RS256\"") && line.contains("kid=\"rsa-1\""),
            "{line}"
        );
        assert!(line.contains("elapsed_us="), "{line}");
    }
    assert!(
        closes[1].contains("code=\"token_expired\"") || closes[1].contains("code=token_expired"),
        "{}",
        closes[1]
    );
    // Neither token, nor its signature, is anywhere in the output.
    for token in [&good, &expired] {
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(!text.contains(signature), "a token was logged:\n{text}");
    }
}
