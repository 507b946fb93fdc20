//! The WebSocket opening handshake (RFC 6455, section 4.2), done here rather than by axum's
//! `WebSocketUpgrade` so that the connection's TCP stream is ours: the room writes relayed
//! frames to it directly (`room::outbox`, `socket.rs`), and tungstenite only reads.

use super::socket::{ReadHalf, SocketWriter};
use crate::error::AppError;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::future::Future;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// An accepted WebSocket connection: frames are read with tungstenite, written by us.
pub struct Socket {
    pub reader: WebSocketStream<ReadHalf>,
    pub writer: std::sync::Arc<SocketWriter>,
}

/// A valid upgrade request, not answered yet: the route checks the board and token first.
pub struct Handshake {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// 426 Upgrade Required, for a request that is not a WebSocket upgrade. RFC 7231 (6.5.15):
/// such an answer MUST name the protocol to switch to in an `Upgrade` header, and `Upgrade`
/// is a connection option, so `Connection` lists it.
fn upgrade_required() -> Response {
    let mut response = AppError::new(
        StatusCode::UPGRADE_REQUIRED,
        "this address takes WebSocket connections only (a y-websocket client)",
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
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
            )
            .into_response());
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or_else(|| {
                AppError::bad_request("the Sec-WebSocket-Key header is missing").into_response()
            })?;
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
        failed: impl FnOnce(String) + Send + 'static,
        serve: F,
    ) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(e) => return failed(e.to_string()),
            };
            // The server's connections are plain TCP streams served by hyper's HTTP/1
            // (`serve.rs`), so this is what the upgrade holds.
            let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() else {
                return failed("the upgraded connection is not a TCP stream".into());
            };
            let (read, write) = parts.io.into_inner().into_split();
            // Bytes the client sent right after its request were read with it.
            let early = parts.read_buf.to_vec();
            let reader = WebSocketStream::from_partially_read(
                ReadHalf(read),
                early,
                Role::Server,
                Some(config),
            )
            .await;
            let writer = std::sync::Arc::new(SocketWriter(write));
            serve(Socket { reader, writer }).await;
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
