//! A y-websocket relay that does nothing else: no document, no store, no checks. It answers
//! a client's sync step 1 with an empty step 2 followed by every update relayed on its path
//! so far (so the bench's newcomers converge), and relays every other message as it came to
//! the path's other clients, written straight to their sockets (a full socket loses the
//! frame). Measurement only (`journeyboard-bench --servers floor`): what the machine and the
//! load generator cost with a server that does the least a relay can.
//!
//! Listens on 127.0.0.1:$PORT and says so as the Node server does.

use futures_util::StreamExt;
use journeyboard_server::ws::{frame_header, ReadHalf, OPCODE_BINARY};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Per path: its clients' sockets, and every update frame relayed (for newcomers).
#[derive(Default)]
struct Room {
    peers: HashMap<u64, Arc<OwnedWriteHalf>>,
    updates: Vec<Vec<u8>>,
}

type Rooms = Arc<Mutex<HashMap<String, Room>>>;

fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("PORT")?.parse()?;
    // One worker thread, as Journeyboard runs by default.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("running at '127.0.0.1' on port {port}");
        let rooms = Rooms::default();
        for id in 1.. {
            let (tcp, _) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            tokio::spawn(serve(tcp, id, Arc::clone(&rooms)));
        }
        Ok(())
    })
}

async fn serve(tcp: TcpStream, id: u64, rooms: Rooms) {
    if answered_health_check(&tcp).await {
        return;
    }
    let mut path = String::new();
    #[allow(clippy::result_large_err)] // tungstenite's callback type
    let remember_path = |request: &Request, response: Response| -> Result<_, ErrorResponse> {
        path = request.uri().path().to_string();
        Ok(response)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, remember_path).await else {
        return;
    };
    let (read, write) = ws.into_inner().into_split();
    let write = Arc::new(write);
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let mut ws = WebSocketStream::from_raw_socket(ReadHalf(read), Role::Server, Some(config)).await;
    lock(&rooms)
        .entry(path.clone())
        .or_default()
        .peers
        .insert(id, Arc::clone(&write));
    while let Some(Ok(message)) = ws.next().await {
        match message {
            Message::Binary(data) if data.starts_with(&[0, 0]) => {
                write_now(&write, &frame(&[0, 1, 2, 0, 0]));
                let updates = lock(&rooms)[&path].updates.clone();
                for update in updates {
                    write_now(&write, &update);
                }
            }
            Message::Binary(data) => relay(&rooms, &path, id, &data),
            Message::Close(_) => break,
            _ => {}
        }
    }
    if let Some(room) = lock(&rooms).get_mut(&path) {
        room.peers.remove(&id);
    }
}

/// Relays `data` to the path's other clients; keeps it if it is an update (or a step 2).
fn relay(rooms: &Rooms, path: &str, from: u64, data: &[u8]) {
    let peers: Vec<Arc<OwnedWriteHalf>> = {
        let mut rooms = lock(rooms);
        let Some(room) = rooms.get_mut(path) else {
            return;
        };
        if data.len() >= 2 && data[0] == 0 {
            room.updates.push(frame(&[&[0, 2], &data[2..]].concat()));
        }
        room.peers
            .iter()
            .filter(|(id, _)| **id != from)
            .map(|(_, peer)| Arc::clone(peer))
            .collect()
    };
    let frame = frame(data);
    for peer in peers {
        let _ = peer.try_write(&frame);
    }
}

/// Answers the bench's `GET /healthz` (any other request goes on to the WebSocket upgrade).
async fn answered_health_check(tcp: &TcpStream) -> bool {
    let mut head = [0u8; 12];
    match tcp.peek(&mut head).await {
        Ok(n) if head[..n].starts_with(b"GET /healthz") => {
            // Read the request first: closing with unread bytes resets the connection, and
            // the answer would be lost.
            let _ = tcp.try_read(&mut [0u8; 4096]);
            // A short answer into an empty socket: one write takes it.
            let _ =
                tcp.try_write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            true
        }
        _ => false,
    }
}

fn lock(rooms: &Rooms) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
    rooms
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A final, unmasked binary frame, as the server writes it.
fn frame(payload: &[u8]) -> Vec<u8> {
    let (head, used) = frame_header(OPCODE_BINARY, payload.len());
    [&head[..used], payload].concat()
}

/// Writes `bytes` without waiting, retrying a full socket for a while (a sync answer).
fn write_now(socket: &OwnedWriteHalf, bytes: &[u8]) {
    let mut at = 0;
    for _ in 0..10_000 {
        if at == bytes.len() {
            return;
        }
        if let Ok(n) = socket.try_write(&bytes[at..]) {
            at += n;
        }
    }
}
