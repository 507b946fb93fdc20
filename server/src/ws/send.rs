//! Writing a connection's queued frames to its socket: in batches with one flush, large
//! messages in fragments, and within a time limit.

use super::handshake::Socket;
use crate::room::{CloseReason, Outgoing};
use bytes::Bytes;
use futures_util::SinkExt;
use std::future::Future;
use std::task::Poll;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::{Error, Message};

/// How long a write to a client may take before the client counts as stalled (its receive
/// window stays full): it is dropped, so a stuck socket never holds a task and its queue.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Most frames written before one flush.
const BATCH_FRAMES: usize = 64;

/// A message larger than this goes out as fragments of this size (RFC 6455, 5.4; every
/// WebSocket client reassembles them). tungstenite copies each frame into its write buffer,
/// and that buffer keeps the capacity of the largest frame it held for the connection's
/// life: a whole-board sync as one frame would leave its size behind on every connection.
const FRAGMENT_BYTES: usize = 8 * 1024;

/// tungstenite writes its buffer to the socket once it holds more than this, so the buffer
/// stays under this plus one fragment. A batch of relayed updates (a few dozen bytes each)
/// still goes out in one write.
pub const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// Awaits a write, or fails with 1013 once it has waited [`SEND_TIMEOUT`]. A write that
/// completes at once (the usual case: the kernel takes the bytes) never arms a timer.
pub async fn within_send_timeout<T>(
    write: impl Future<Output = Result<T, Error>>,
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

/// Writes `first` and every frame already waiting behind it (up to [`BATCH_FRAMES`]), then
/// flushes once; returns a close the room asked for after them. Frames are taken off the
/// queue as they are written, so a batch needs no list of its own.
pub async fn write_batch(
    socket: &mut Socket,
    first: Bytes,
    outgoing: &mut tokio::sync::mpsc::Receiver<Outgoing>,
) -> Result<Option<CloseReason>, Error> {
    write_message(socket, first).await?;
    let mut close = None;
    for _ in 1..BATCH_FRAMES {
        match outgoing.try_recv() {
            Ok(Outgoing::Frame(frame)) => write_message(socket, frame).await?,
            Ok(Outgoing::Close(reason)) => {
                close = Some(reason);
                break;
            }
            Err(_) => break,
        }
    }
    socket.flush().await?;
    Ok(close)
}

/// Queues one message on the socket (written once the buffer fills, or at the flush).
async fn write_message(socket: &mut Socket, message: Bytes) -> Result<(), Error> {
    if message.len() <= FRAGMENT_BYTES {
        return socket.feed(Message::Binary(message)).await;
    }
    for fragment in fragments(message) {
        socket.feed(Message::Frame(fragment)).await?;
    }
    Ok(())
}

/// One binary message as frames of at most [`FRAGMENT_BYTES`]: a binary frame, then
/// continuation frames, the last one final. The slices share the message's bytes.
fn fragments(message: Bytes) -> impl Iterator<Item = Frame> {
    let count = message.len().div_ceil(FRAGMENT_BYTES).max(1);
    (0..count).map(move |i| {
        let start = i * FRAGMENT_BYTES;
        let end = (start + FRAGMENT_BYTES).min(message.len());
        let opcode = if i == 0 { Data::Binary } else { Data::Continue };
        Frame::message(
            message.slice(start..end),
            OpCode::Data(opcode),
            i + 1 == count,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_message_is_split_into_a_binary_frame_and_continuations() {
        let message = Bytes::from(
            (0..FRAGMENT_BYTES * 2 + 5)
                .map(|i| i as u8)
                .collect::<Vec<_>>(),
        );
        let frames: Vec<Frame> = fragments(message.clone()).collect();
        let kinds: Vec<_> = frames
            .iter()
            .map(|f| (f.header().opcode, f.header().is_final, f.payload().len()))
            .collect();
        assert_eq!(
            kinds,
            [
                (OpCode::Data(Data::Binary), false, FRAGMENT_BYTES),
                (OpCode::Data(Data::Continue), false, FRAGMENT_BYTES),
                (OpCode::Data(Data::Continue), true, 5),
            ]
        );
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload().to_vec()).collect();
        assert_eq!(joined, message);
    }
}
