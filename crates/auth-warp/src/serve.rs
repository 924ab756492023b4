//! [`serve`]: warp routes behind the [`AuthLayer`], over hyper.

use std::future::Future;
use std::io;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_layer::Layer;
use warp::Filter;
use warp::reject::Rejection;
use warp::reply::Reply;

use crate::layer::AuthLayer;

/// Serves `routes` behind `layer` on `listener` until `shutdown` resolves, then lets open
/// connections finish: what `warp::serve(routes).incoming(listener).graceful(shutdown)` does,
/// with the layer around the routes. HTTP/1.1 and HTTP/2, upgrades (WebSocket) included.
///
/// ```no_run
/// use auth_warp::auth_core::Authenticator;
/// use auth_warp::{Auth, AuthLayer};
/// use warp::Filter;
///
/// # async fn run(authenticator: Authenticator) -> std::io::Result<()> {
/// let routes = warp::path!("api" / "me")
///     .and(auth_warp::auth::<auth_warp::auth_core::NoExtraClaims>())
///     .map(|Auth(claims): Auth| format!("{:?}", claims.sub))
///     .or(auth_warp::helper_routes(&authenticator))
///     .recover(auth_warp::recover);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// auth_warp::serve(listener, AuthLayer::new(authenticator), routes, async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await
/// # }
/// ```
///
/// # Errors
/// When accepting connections fails for good (not for one connection's error).
pub async fn serve<F>(
    listener: TcpListener,
    layer: AuthLayer,
    routes: F,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    F: Filter<Error = Rejection> + Clone + Send + Sync + 'static,
    F::Extract: Reply,
{
    let service = layer.layer(warp::service(routes));
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_transient(&error) => {
                    tracing::debug!(%error, "accept failed");
                    continue;
                }
                Err(error) => return Err(error),
            },
            () = &mut shutdown => break,
        };
        let connection = builder.serve_connection_with_upgrades(
            TokioIo::new(stream),
            TowerToHyperService::new(service.clone()),
        );
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    graceful.shutdown().await;
    Ok(())
}

/// Accept errors that concern one connection (the listener keeps working).
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || error.raw_os_error() == Some(24) // EMFILE: too many open files, retry later
}
