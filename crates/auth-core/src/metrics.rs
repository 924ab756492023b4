//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`): the
//! application installs the exporter it wants (Prometheus, StatsD, OpenTelemetry...); without
//! the feature every function here is empty and compiles away.
//!
//! The metrics are listed in the crate docs (`# Metrics`).

#[cfg(feature = "metrics")]
mod on {
    use std::time::Instant;

    use crate::error::{AuthError, ErrorCode};

    /// When a measured operation started.
    pub(crate) type Started = Instant;

    #[inline]
    pub(crate) fn start() -> Started {
        Instant::now()
    }

    fn result_label<T>(result: &Result<T, AuthError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        }
    }

    // On the per-request path every label is a literal: the macros then build the metric's key
    // statically, with no allocation (a label from a variable allocates its label list).

    pub(crate) fn verification<T>(result: &Result<T, AuthError>, started: Started) {
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(_) => {
                metrics::counter!("auth_verifications_total", "outcome" => "ok", "code" => "none")
                    .increment(1);
                metrics::histogram!("auth_verification_duration_seconds", "outcome" => "ok")
                    .record(seconds);
            }
            Err(e) => {
                metrics::counter!("auth_verifications_total", "outcome" => "error", "code" => e.code().as_str())
                    .increment(1);
                metrics::histogram!("auth_verification_duration_seconds", "outcome" => "error")
                    .record(seconds);
            }
        }
    }

    pub(crate) fn token_cache(hit: bool) {
        if hit {
            metrics::counter!("auth_token_cache_total", "result" => "hit").increment(1);
        } else {
            metrics::counter!("auth_token_cache_total", "result" => "miss").increment(1);
        }
    }

    pub(crate) fn key_lookup(hit: bool) {
        if hit {
            metrics::counter!("auth_key_cache_total", "result" => "hit").increment(1);
        } else {
            metrics::counter!("auth_key_cache_total", "result" => "miss").increment(1);
        }
    }

    pub(crate) fn jwks_fetch(issuer: &str, result: Result<(), ErrorCode>, started: Started) {
        let result = result.err().map_or("ok", ErrorCode::as_str);
        metrics::counter!("auth_jwks_fetches_total", "issuer" => issuer.to_owned(), "result" => result)
            .increment(1);
        metrics::histogram!("auth_jwks_fetch_duration_seconds", "issuer" => issuer.to_owned())
            .record(started.elapsed().as_secs_f64());
    }

    pub(crate) fn discovery_fetch(issuer: &str, result: Result<(), ErrorCode>, started: Started) {
        let result = result.err().map_or("ok", ErrorCode::as_str);
        metrics::counter!("auth_discovery_fetches_total", "issuer" => issuer.to_owned(), "result" => result)
            .increment(1);
        metrics::histogram!("auth_discovery_fetch_duration_seconds", "issuer" => issuer.to_owned())
            .record(started.elapsed().as_secs_f64());
    }

    pub(crate) fn introspection<T>(result: &Result<T, AuthError>, cached: bool) {
        let result = if cached {
            "cached"
        } else {
            result_label(result)
        };
        metrics::counter!("auth_introspections_total", "result" => result).increment(1);
    }

    pub(crate) fn session_refresh<T>(result: &Result<T, AuthError>) {
        metrics::counter!("auth_session_refreshes_total", "result" => result_label(result))
            .increment(1);
    }

    pub(crate) fn service_token<T>(result: &Result<T, AuthError>) {
        metrics::counter!("auth_service_tokens_total", "result" => result_label(result))
            .increment(1);
    }

    pub(crate) fn api_key<T>(result: &Result<T, AuthError>) {
        metrics::counter!("auth_api_key_verifications_total", "result" => result_label(result))
            .increment(1);
    }

    pub(crate) fn upgrade_rejected(error: &AuthError) {
        metrics::counter!("auth_upgrade_rejections_total", "code" => error.code().as_str())
            .increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
mod on {
    use crate::error::{AuthError, ErrorCode};

    /// Nothing is timed without the feature.
    #[derive(Clone, Copy)]
    pub(crate) struct Started;

    #[inline(always)]
    pub(crate) fn start() -> Started {
        Started
    }

    #[inline(always)]
    pub(crate) fn verification<T>(_: &Result<T, AuthError>, _: Started) {}
    #[inline(always)]
    pub(crate) fn key_lookup(_: bool) {}
    #[inline(always)]
    pub(crate) fn token_cache(_: bool) {}
    #[inline(always)]
    pub(crate) fn jwks_fetch(_: &str, _: Result<(), ErrorCode>, _: Started) {}
    #[inline(always)]
    pub(crate) fn discovery_fetch(_: &str, _: Result<(), ErrorCode>, _: Started) {}
    #[inline(always)]
    pub(crate) fn introspection<T>(_: &Result<T, AuthError>, _: bool) {}
    #[inline(always)]
    pub(crate) fn session_refresh<T>(_: &Result<T, AuthError>) {}
    #[inline(always)]
    pub(crate) fn service_token<T>(_: &Result<T, AuthError>) {}
    #[inline(always)]
    pub(crate) fn api_key<T>(_: &Result<T, AuthError>) {}
    #[inline(always)]
    pub(crate) fn upgrade_rejected(_: &AuthError) {}
}

pub(crate) use on::*;
