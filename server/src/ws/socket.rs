//! A connection's TCP stream, split: tungstenite reads frames from one half; the other half
//! is written by us, either by the room straight away (`room::outbox`) or by the connection's
//! task. Server frames are simple (no masking): a header and the payload, written together.

use crate::room::{DirectWrite, Written};
use bytes::{Bytes, BytesMut};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub const OPCODE_BINARY: u8 = 0x2;
pub const OPCODE_CLOSE: u8 = 0x8;
pub const OPCODE_PING: u8 = 0x9;
pub const OPCODE_PONG: u8 = 0xA;

/// The header of a final, unmasked frame (RFC 6455, 5.2): at most 10 bytes.
pub fn header(opcode: u8, len: usize) -> ([u8; 10], usize) {
    let mut head = [0u8; 10];
    head[0] = 0x80 | opcode;
    let used = if len < 126 {
        head[1] = len as u8;
        2
    } else if len <= usize::from(u16::MAX) {
        head[1] = 126;
        head[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        head[1] = 127;
        head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (head, used)
}

/// The payload of a close frame: the code, then the reason (cut to the 123 bytes allowed).
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    payload
}

/// The half tungstenite reads from. tungstenite also answers pings and closes by itself,
/// into its own write buffer; those writes are dropped here, because the connection answers
/// them through `SocketWriter`, in order with everything else it sends.
pub struct ReadHalf(pub OwnedReadHalf);

impl AsyncRead for ReadHalf {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ReadHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Writes up to this size are copied into one buffer and sent with `send(2)`.
const SMALL_WRITE: usize = 512;

/// The half everything is written to.
pub struct SocketWriter(pub OwnedWriteHalf);

impl SocketWriter {
    /// Sends as much of `head` then `body` as the socket takes now, with the socket call
    /// itself rather than `write`/`writev`: those go through the kernel's file layer first,
    /// and a relay is one such call per peer per message. A relayed keystroke (a few dozen
    /// bytes) is copied behind its header: one buffer is the cheapest send.
    fn try_send(&self, head: &[u8], body: &[u8]) -> io::Result<usize> {
        let stream: &tokio::net::TcpStream = self.0.as_ref();
        let socket = socket2::SockRef::from(stream);
        let len = head.len() + body.len();
        if len <= SMALL_WRITE {
            let mut buf = [0u8; SMALL_WRITE];
            buf[..head.len()].copy_from_slice(head);
            buf[head.len()..len].copy_from_slice(body);
            stream.try_io(Interest::WRITABLE, || socket.send(&buf[..len]))
        } else {
            let bufs = [IoSlice::new(head), IoSlice::new(body)];
            stream.try_io(Interest::WRITABLE, || socket.send_vectored(&bufs))
        }
    }

    /// Writes all of `head` then `body`, waiting for the socket as needed.
    pub async fn write_all(&self, mut head: &[u8], mut body: &[u8]) -> io::Result<()> {
        while !head.is_empty() || !body.is_empty() {
            match self.try_send(head, body) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let from_head = n.min(head.len());
                    head = &head[from_head..];
                    body = &body[n - from_head..];
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.0.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl DirectWrite for SocketWriter {
    fn try_write(&self, message: &Bytes) -> Written {
        let (head, used) = header(OPCODE_BINARY, message.len());
        let head = &head[..used];
        match self.try_send(head, message) {
            Ok(n) if n == head.len() + message.len() => Written::All,
            Ok(0) | Err(_) => Written::Nothing,
            Ok(n) if n < head.len() => {
                let mut rest = BytesMut::from(&head[n..]);
                rest.extend_from_slice(message);
                Written::Part(rest.freeze())
            }
            Ok(n) => Written::Part(message.slice(n - head.len()..)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_use_the_shortest_length_encoding() {
        let (h, n) = header(OPCODE_BINARY, 5);
        assert_eq!(&h[..n], [0x82, 5]);
        let (h, n) = header(OPCODE_BINARY, 300);
        assert_eq!(&h[..n], [0x82, 126, 1, 44]);
        let (h, n) = header(OPCODE_CLOSE, 70_000);
        assert_eq!(&h[..n], [0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn a_close_reason_is_cut_at_a_character_boundary() {
        let payload = close_payload(1000, &"é".repeat(100));
        assert_eq!(&payload[..2], [0x03, 0xE8]);
        assert_eq!(payload.len(), 2 + 122);
        assert!(std::str::from_utf8(&payload[2..]).is_ok());
    }
}
