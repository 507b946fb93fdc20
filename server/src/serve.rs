//! Serving HTTP connections: axum's `serve` loop, but with read timeouts. `axum::serve`
//! (0.8) installs no timer, so hyper's timeout for reading a request's head never fires: a
//! client that sent half its headers held a connection, and its memory, forever (the
//! slowloris attack); one that announced a body and never sent it, the same. Otherwise as
//! `axum::serve`: a task per connection, upgrades for WebSockets, and a graceful stop.
//! HTTP/1 only, as before.

use crate::limits::Limits;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower_http::timeout::RequestBodyTimeout;

/// After an accept fails (out of file descriptors, say), wait this long before the next, as
/// `axum::serve` does, rather than spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// The connections still open once the listener stopped.
pub struct OpenConnections {
    stop: watch::Sender<bool>,
    /// Yields `None` once every connection task has ended (each holds a sender).
    ended: mpsc::Receiver<()>,
}

impl OpenConnections {
    /// Asks every connection to finish the request in progress and close; returns once all
    /// have. (An upgraded connection is a WebSocket's own from the upgrade on.)
    pub async fn close(mut self) {
        let _ = self.stop.send(true);
        let _ = self.ended.recv().await;
    }
}

/// Serves `app` on `listener` until `stop` resolves, then returns the connections still
/// open. `limits` has the read timeouts.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    stop: impl Future<Output = ()>,
) -> OpenConnections {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // A body that stops arriving fails its read (the handler answers 400), rather than
    // waiting for the client forever.
    let app = RequestBodyTimeout::new(app, limits.body_read_timeout);
    let (stop_connections, stopping) = watch::channel(false);
    let (alive, ended) = mpsc::channel::<()>(1);
    let mut stop = std::pin::pin!(stop);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Small relays must not wait for delayed ACKs (~40 ms each without TCP_NODELAY).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("could not set TCP_NODELAY: {e}");
        }
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        let mut stopping = stopping.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = async { stopping.wait_for(|stop| *stop).await.is_ok() } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    OpenConnections {
        stop: stop_connections,
        ended,
    }
}
