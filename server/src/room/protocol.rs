//! The y-websocket wire format, as bytes: strict decoding of a frame into messages and
//! encoding of the frames a room sends. Socket-free.
//!
//! A frame is one or more y-sync messages back to back: `[type: varUint, payload..]` with
//! type 0 = sync (step 1, step 2, update), 1 = awareness, 2 = auth, 3 = awareness query.
//! yrs' own `MessageReader` treats a truncated message as the end of the frame; a server must
//! not, so this reader fails on any byte it cannot account for.

use crate::limits::MAX_MESSAGES_PER_FRAME;
use bytes::Bytes;
use yrs::sync::{AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::{Decode, Decoder, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{StateVector, Update};

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("empty frame")]
    Empty,
    #[error("malformed y-sync message: {0}")]
    Malformed(#[from] yrs::encoding::read::Error),
    #[error("malformed y-sync message: {0}")]
    Refused(&'static str),
    #[error("more than {MAX_MESSAGES_PER_FRAME} y-sync messages in one frame")]
    TooManyMessages,
}

/// Runs a yrs decoder on a peer's bytes, turning a panic into an error. yrs asserts, in
/// builds with debug assertions (the tests'), that every client id it reads fits in 53 bits,
/// and a peer may send any number (the fuzz test found it); release builds mask the id
/// instead. A peer's bytes must not panic the server in either.
fn decoding<T>(decode: impl FnOnce() -> T) -> Result<T, &'static str> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode))
        .map_err(|_| "a client id out of range")
}

/// Decodes a v1 document update from a peer.
pub fn decode_update(update: &[u8]) -> Result<Update, String> {
    decoding(|| Update::decode_v1(update))
        .map_err(str::to_string)?
        .map_err(|e| e.to_string())
}

/// Decodes every message of a frame, or fails if any part of it is malformed or it holds
/// more than [`MAX_MESSAGES_PER_FRAME`] (found before decoding the rest).
pub fn decode_frame(data: &[u8]) -> Result<Vec<Message>, FrameError> {
    if data.is_empty() {
        return Err(FrameError::Empty);
    }
    let mut rest = data;
    let mut messages = Vec::with_capacity(1);
    while !rest.is_empty() {
        if messages.len() == MAX_MESSAGES_PER_FRAME {
            return Err(FrameError::TooManyMessages);
        }
        let mut decoder = DecoderV1::from(rest);
        let message = decoding(|| Message::decode(&mut decoder)).map_err(FrameError::Refused)?;
        messages.push(message?);
        let remaining = decoder.read_to_end()?.len();
        rest = &rest[rest.len() - remaining..];
    }
    Ok(messages)
}

/// A sync step 1 frame: "here is my state vector, send me what I lack".
pub fn sync_step1(sv: StateVector) -> Bytes {
    frame(Message::Sync(SyncMessage::SyncStep1(sv)))
}

/// A sync step 2 frame: the answer to a step 1.
pub fn sync_step2(update: Vec<u8>) -> Bytes {
    frame(Message::Sync(SyncMessage::SyncStep2(update)))
}

/// An incremental update frame.
pub fn sync_update(update: Vec<u8>) -> Bytes {
    frame(Message::Sync(SyncMessage::Update(update)))
}

/// An awareness (presence) frame.
pub fn awareness(update: AwarenessUpdate) -> Bytes {
    frame(Message::Awareness(update))
}

/// The y-protocol's auth message "permission denied" with a reason (y-websocket clients log
/// it): says why an update was refused.
pub fn permission_denied(reason: &str) -> Bytes {
    frame(Message::Auth(Some(reason.to_string())))
}

fn frame(message: Message) -> Bytes {
    // yrs' encoder starts with a 1 KiB buffer. A relayed update is usually a few dozen bytes,
    // and its frame waits in every peer's queue until sent: keep only what it uses (heaptrack:
    // 10 of 56 MB peak heap at 10 boards x 20 clients typing was these buffers).
    let mut bytes = message.encode_v1();
    bytes.shrink_to_fit();
    Bytes::from(bytes)
}

/// An update that changes nothing (no structs, empty delete set): not worth storing or relaying.
pub fn is_empty_update(update: &[u8]) -> bool {
    update == [0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_several_messages_in_one_frame() {
        let mut data = sync_step1(StateVector::default()).to_vec();
        data.extend_from_slice(&frame(Message::AwarenessQuery));
        let messages = decode_frame(&data).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1], Message::AwarenessQuery);
    }

    #[test]
    fn a_frame_holds_at_most_the_limit_of_messages() {
        let query = frame(Message::AwarenessQuery);
        let at_limit = query.repeat(MAX_MESSAGES_PER_FRAME);
        assert_eq!(
            decode_frame(&at_limit).unwrap().len(),
            MAX_MESSAGES_PER_FRAME
        );
        let over = query.repeat(650_000);
        assert!(matches!(
            decode_frame(&over),
            Err(FrameError::TooManyMessages)
        ));
    }

    #[test]
    fn rejects_truncated_and_garbage_frames() {
        let full = sync_update(vec![1, 2, 3, 4, 5]).to_vec();
        assert!(decode_frame(&full[..full.len() - 2]).is_err(), "truncated");
        assert!(decode_frame(&[]).is_err(), "empty");
        assert!(decode_frame(&[0, 9, 0]).is_err(), "unknown sync step");
        assert!(decode_frame(&[0xff, 0xff, 0xff]).is_err(), "bad varint");
        assert!(
            decode_frame(&[1, 5, 1, 2]).is_err(),
            "awareness shorter than it says"
        );
    }

    fn var(out: &mut Vec<u8>, mut n: u64) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    #[test]
    fn client_ids_past_53_bits_are_refused_not_a_panic() {
        // Awareness: one entry from client 2^60.
        let mut payload = Vec::new();
        var(&mut payload, 1);
        var(&mut payload, 1 << 60);
        var(&mut payload, 1);
        var(&mut payload, 2);
        payload.extend_from_slice(b"{}");
        let mut awareness = vec![1];
        var(&mut awareness, payload.len() as u64);
        awareness.extend_from_slice(&payload);
        // A document update with one client 2^60 and no structs; and a state vector.
        let mut update = Vec::new();
        var(&mut update, 1);
        var(&mut update, 0);
        var(&mut update, 1 << 60);
        var(&mut update, 0);
        update.push(0);
        let mut step1 = vec![0, 0];
        let mut sv = Vec::new();
        var(&mut sv, 1);
        var(&mut sv, 1 << 60);
        var(&mut sv, 3);
        var(&mut step1, sv.len() as u64);
        step1.extend_from_slice(&sv);
        // With debug assertions yrs would panic on each; release builds mask the id.
        let masked = !cfg!(debug_assertions);
        assert!(masked || decode_frame(&awareness).is_err());
        assert!(masked || decode_frame(&step1).is_err());
        assert!(masked || decode_update(&update).is_err());
    }
}
