//! The connection task's writing: what the room could not write straight away (the socket
//! was full, or frames already waited), pings and pongs, and the close frame. Queued items
//! are written together, then the room may write straight to the socket again.

use super::socket::{close_payload, header, SocketWriter};
use super::socket::{OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG};
use crate::room::{CloseReason, OutboxReceiver, Outgoing};
use std::future::Future;
use std::io;
use std::task::Poll;
use std::time::Duration;

/// How long a write to a client may take before the client counts as stalled (its receive
/// window stays full): it is dropped, so a stuck socket never holds a task and its queue.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Queued frames are gathered into one write up to this size; a larger message is written
/// from its own bytes, not copied.
const GATHER_BYTES: usize = 16 * 1024;

/// Awaits a write, or fails with 1013 once it has waited [`SEND_TIMEOUT`]. A write that
/// completes at once (the usual case: the kernel takes the bytes) never arms a timer.
pub async fn within_send_timeout<T>(
    write: impl Future<Output = io::Result<T>>,
) -> Result<T, CloseReason> {
    let mut write = std::pin::pin!(write);
    let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
    let result = match first {
        Poll::Ready(result) => result,
        Poll::Pending => tokio::time::timeout(SEND_TIMEOUT, write)
            .await
            .map_err(|_| CloseReason::TOO_SLOW)?,
    };
    result.map_err(|_| CloseReason {
        code: 1006,
        reason: "send failed",
    })
}

/// Writes `first` and everything queued behind it, until the queue is empty; returns a close
/// the room asked for (its close frame written).
pub async fn write_queued(
    socket: &SocketWriter,
    first: Outgoing,
    outgoing: &OutboxReceiver,
) -> io::Result<Option<CloseReason>> {
    let mut next = Some(first);
    loop {
        let mut gathered = Vec::new();
        while let Some(item) = next.take() {
            match item {
                Outgoing::Frame(message) if message.len() > GATHER_BYTES => {
                    socket.write_all(&gathered, &[]).await?;
                    gathered.clear();
                    let (head, used) = header(OPCODE_BINARY, message.len());
                    socket.write_all(&head[..used], &message).await?;
                }
                Outgoing::Frame(message) => push_frame(&mut gathered, OPCODE_BINARY, &message),
                Outgoing::Raw(bytes) => gathered.extend_from_slice(&bytes),
                Outgoing::Ping => push_frame(&mut gathered, OPCODE_PING, &[]),
                Outgoing::Pong(payload) => push_frame(&mut gathered, OPCODE_PONG, &payload),
                Outgoing::Close(reason) => {
                    let payload = close_payload(reason.code, reason.reason);
                    push_frame(&mut gathered, OPCODE_CLOSE, &payload);
                    socket.write_all(&gathered, &[]).await?;
                    return Ok(Some(reason));
                }
            }
            if gathered.len() >= GATHER_BYTES {
                break;
            }
            next = outgoing.try_take();
        }
        socket.write_all(&gathered, &[]).await?;
        // Only once all of it is written may the room write to the socket again.
        match outgoing.try_recv() {
            Ok(item) => next = Some(item),
            Err(_) => return Ok(None),
        }
    }
}

/// Ends the connection with a close frame. The room stops writing to the socket first; a
/// message it had begun is finished (the close frame must not land inside it), the rest of
/// the queue is dropped.
pub async fn close(
    socket: &SocketWriter,
    outgoing: &OutboxReceiver,
    reason: CloseReason,
) -> io::Result<()> {
    let mut gathered = Vec::new();
    for item in outgoing.detach() {
        if let Outgoing::Raw(bytes) = item {
            gathered.extend_from_slice(&bytes);
        }
    }
    push_frame(
        &mut gathered,
        OPCODE_CLOSE,
        &close_payload(reason.code, reason.reason),
    );
    socket.write_all(&gathered, &[]).await
}

fn push_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    let (head, used) = header(opcode, payload.len());
    out.extend_from_slice(&head[..used]);
    out.extend_from_slice(payload);
}
