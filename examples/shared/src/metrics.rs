//! `/metrics` (with `METRICS=1`): the SDK's metrics (auth-core's `metrics` feature) in the
//! Prometheus text format, through `metrics-exporter-prometheus`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::BoxError;

/// The recorder, installed once per process (apps started in parallel wait for the first).
static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls do nothing).
///
/// # Errors
/// When another recorder was installed already.
pub fn enable() -> Result<(), BoxError> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .map_err(|e| format!("cannot install the metrics recorder: {e}"))
        })
        .as_ref()
        .map(drop)
        .map_err(|e| e.clone().into())
}

/// The metrics in the Prometheus text format, or `None` when they are off (then `/metrics`
/// answers 404).
#[must_use]
pub fn render() -> Option<String> {
    HANDLE.get()?.as_ref().ok().map(PrometheusHandle::render)
}

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
