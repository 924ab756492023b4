//! The HTTP comparison's apps, the same routes in each:
//!
//! - `GET /public`: `{"ok":true}`, never looks at a credential;
//! - `GET /optional`: `{"authenticated":bool}`, a credential optional;
//! - `GET /me`: `{"sub":…,"claims":{…}}` for a valid Bearer token, else 401.
//!
//! `peer-http <bare|ours|jwt-authorizer> <port> <issuer-url> <audience>`:
//! - `bare`: axum 0.8 without authentication (the baseline: `/optional` answers `false`, `/me`
//!   is not served);
//! - `ours`: axum 0.8 under auth-axum's `AuthLayer`, `/optional` with `Option<Auth>`, `/me` with
//!   `Auth`;
//! - `jwt-authorizer`: axum 0.7 with jwt-authorizer's layer on `/me` (its extractor is all or
//!   nothing, so `/optional` is the bare handler).
//!
//! Every mode verifies against the same issuer's discovery document and JWKS. Measured with
//! `wrk` by `cargo xtask bench-http` (`xtask/src/http_bench.rs`).

use std::net::SocketAddr;

use serde_json::{Value, json};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, port, issuer, audience] = args.as_slice() else {
        eprintln!("usage: peer-http <bare|ours|jwt-authorizer> <port> <issuer-url> <audience>");
        std::process::exit(2);
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port.parse().expect("a port")).into();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        match mode.as_str() {
            "bare" => axum::serve(listener, auth_bench::bare_app()).await,
            "ours" => axum::serve(listener, auth_bench::ours_app(issuer, audience).await).await,
            "jwt-authorizer" => {
                axum07::serve(listener, jwt_authorizer(issuer, audience).await).await
            }
            other => panic!("unknown mode {other}"),
        }
        .expect("serve");
    });
}

async fn jwt_authorizer(issuer: &str, audience: &str) -> axum07::Router {
    use axum07::routing::get;
    use jwt_authorizer::{Authorizer, IntoLayer, JwtAuthorizer, JwtClaims, Validation};
    let authorizer: Authorizer<Value> = JwtAuthorizer::from_oidc(issuer)
        .validation(Validation::new().iss(&[issuer]).aud(&[audience]))
        .build()
        .await
        .expect("the issuer answers");
    let protected = axum07::Router::new()
        .route(
            "/me",
            get(|JwtClaims(claims): JwtClaims<Value>| async move {
                axum07::Json(json!({ "sub": claims["sub"], "claims": claims }))
            }),
        )
        .layer(authorizer.into_layer());
    axum07::Router::new()
        .route(
            "/public",
            get(|| async { axum07::Json(json!({ "ok": true })) }),
        )
        .route(
            "/optional",
            get(|| async { axum07::Json(json!({ "authenticated": false })) }),
        )
        .merge(protected)
}
