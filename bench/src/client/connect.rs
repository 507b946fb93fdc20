//! Opening a client's WebSocket: TCP_NODELAY, the kernel's receive stamps (`stamped.rs`), a
//! read buffer sized for the client's traffic, and retries when the server's listen backlog
//! is full (a reconnect storm).

use crate::stamped::StampedTcp;
use anyhow::{anyhow, Context};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

/// A client's WebSocket, over a TCP stream that keeps the kernel's receive stamps.
pub(super) type Socket = WebSocketStream<StampedTcp>;

/// Connection attempts that failed and were retried (a full listen backlog, a refused upgrade).
pub static RETRIES: AtomicUsize = AtomicUsize::new(0);

/// How much a client reads per system call. tungstenite zero-fills the free part of its read
/// buffer before every read, and its default buffer is 128 KiB: with the small frames of a
/// load run that fill was about half of the generator's CPU (a `perf` profile of fanout), so
/// load clients read 4 KiB at a time. A frame larger than that still arrives whole.
pub const LOAD_READ_BUFFER: usize = 4 * 1024;

/// For a client that receives a whole board at once (a join): fewer, larger reads.
pub(super) const JOIN_READ_BUFFER: usize = 128 * 1024;

/// Connects with TCP_NODELAY (as a browser's WebSocket does), the kernel's receive stamps on,
/// and a read buffer of `read_buffer` bytes.
pub async fn connect(url: &str, read_buffer: usize) -> anyhow::Result<Socket> {
    let mut attempt = 0;
    loop {
        match connect_once(url, read_buffer).await {
            Ok(ws) => return Ok(ws),
            // A listen backlog overflow under a storm: retry as a browser would, soon.
            Err(e) if attempt < 20 => {
                attempt += 1;
                RETRIES.fetch_add(1, Ordering::Relaxed);
                if std::env::var_os("BENCH_DEBUG").is_some() {
                    eprintln!("connect {url}: {e} (retrying)");
                }
                if attempt == 20 {
                    return Err(anyhow!("connect {url}: {e}"));
                }
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(anyhow!("connect {url}: {e}")),
        }
    }
}

async fn connect_once(url: &str, read_buffer: usize) -> anyhow::Result<Socket> {
    let request = url.into_client_request()?;
    let host = request.uri().host().context("no host in the URL")?;
    let port = request.uri().port_u16().unwrap_or(80);
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let config = WebSocketConfig::default().read_buffer_size(read_buffer);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, StampedTcp::new(tcp)?, Some(config))
            .await?;
    Ok(ws)
}
