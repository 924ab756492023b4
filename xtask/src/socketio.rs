//! The official Socket.IO client (npm `socket.io-client`, run by Node) against example-axum's
//! `/socket.io/`, as part of `cargo xtask interop`.
//!
//! The app starts as a black box with its embedded issuer, `AUTH_DEV_MINT=1` (the client mints
//! its tokens with `POST {issuer}/dev/mint`) and `AUTH_LEEWAY_SECS=1` (so that a short token
//! ends its connection within seconds); `xtask/interop/socketio.mjs` then plays the scenarios:
//! each token source, the refusals and their codes, the admin namespace, the disconnection at
//! expiry of an idle socket, and in-band re-authentication. The app is killed when the task
//! ends, whatever the outcome; on failure the last lines of its log are printed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::e2e::{Process, dev_app, wait_for_app};
use crate::support::{free_port, tail, target_subdir};

pub(crate) fn run(dir: &Path, app_binary: &Path) -> Result<(), String> {
    let logs = target_subdir("interop/socketio")?;
    let app_log = logs.join("app.log");
    let port = free_port()?;
    let app_url = format!("http://127.0.0.1:{port}");
    let mut command = dev_app(app_binary, port);
    command.env("AUTH_LEEWAY_SECS", "1");
    let started = Instant::now();
    let mut app = Process::start("example app", command, &app_log, Duration::ZERO)?;
    let issuer = wait_for_app(&mut app, &app_url, &app_log)?;
    println!("ok: example-axum answers at {app_url} (dev issuer {issuer})");
    eprintln!("$ (cd xtask/interop && node socketio.mjs {app_url} {issuer})");
    let status = Command::new("node")
        .arg("socketio.mjs")
        .arg(&app_url)
        .arg(&issuer)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run node (Node.js 20.19+ is required): {e}"))?;
    if !status.success() {
        eprintln!(
            "--- last lines of {} ---\n{}",
            app_log.display(),
            tail(&app_log, 25)
        );
        return Err(format!("the Socket.IO client scenarios failed ({status})"));
    }
    drop(app);
    println!(
        "interop: socket.io-client against example-axum: all scenarios passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
