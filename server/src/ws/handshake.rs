//! The WebSocket opening handshake (RFC 6455, section 4.2), done here rather than by axum's
//! `WebSocketUpgrade` so that a connection is a plain tokio-tungstenite stream whose frames
//! the server chooses: a large message goes out in fragments (`send.rs`). tungstenite copies
//! each frame into a write buffer that keeps the capacity of the largest frame it ever held,
//! so whole-board syncs of 30-100 KB sent as single frames left that much memory behind on
//! every connection (BENCHMARKS.md, "What was changed").

use crate::error::AppError;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use axum::response::Response;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use std::future::Future;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// An accepted WebSocket connection.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// A valid upgrade request, not answered yet: the route checks the board and token first.
pub struct Handshake {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let upgrade_required = || {
            AppError::new(
                StatusCode::UPGRADE_REQUIRED,
                "this address takes WebSocket connections only (a y-websocket client)",
            )
        };
        if parts.method != Method::GET || parts.version != Version::HTTP_11 {
            return Err(upgrade_required());
        }
        if !has_token(&parts.headers, header::CONNECTION, "upgrade")
            || !has_token(&parts.headers, header::UPGRADE, "websocket")
        {
            return Err(upgrade_required());
        }
        if !has_token(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13") {
            return Err(AppError::bad_request(
                "unsupported WebSocket version: Sec-WebSocket-Version must be 13",
            ));
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or_else(|| AppError::bad_request("the Sec-WebSocket-Key header is missing"))?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or_else(upgrade_required)?;
        Ok(Handshake { key, on_upgrade })
    }
}

impl Handshake {
    /// Answers 101 Switching Protocols and, once the connection is switched, runs `serve` on
    /// it in a task of its own; if the switch fails (the client went away), runs `failed`.
    pub fn accept<F, Fut>(
        self,
        config: WebSocketConfig,
        failed: impl FnOnce(hyper::Error) + Send + 'static,
        serve: F,
    ) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    let socket =
                        WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                    serve(socket).await;
                }
                Err(e) => failed(e),
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        let accept = derive_accept_key(self.key.as_bytes());
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// Whether header `name` lists `token` (comma-separated, any case), as `Connection: keep-alive,
/// Upgrade` lists "upgrade".
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}
