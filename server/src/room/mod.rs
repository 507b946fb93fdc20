//! Live boards. A [`Room`] holds one board's yrs document and awareness and its connected
//! peers; it takes a peer's frames as bytes and sends each peer the frames it must receive,
//! through the peer's outbox (`outbox.rs`: written at once to the socket `ws/` attached, if
//! it takes them, else queued for the connection's task). [`Rooms`] loads rooms from the
//! store on first use and unloads them when idle.
//!
//! A board room guards participants' updates (`guard.rs`) and runs the facilitator's
//! triggers (`triggers.rs`): reveals of private notes and vote counts, which read and write
//! the board's private rooms (`private.rs`), one per person.

mod content;
mod guard;
mod live;
mod log;
mod outbox;
pub mod private;
pub mod protocol;
mod registry;
mod triggers;

pub use live::{Joined, ReceiveError, Room, ServerChangeError};
pub use outbox::{DirectWrite, OutboxReceiver, Written};
pub use private::{private_room_id, RoomKind};
pub use registry::Rooms;

use bytes::Bytes;
use std::time::Duration;

/// Runs `job` on the tokio runtime once `delay` has passed; returns false (and drops `job`)
/// where no runtime runs, for the caller to do the work at once.
fn run_later(delay: Duration, job: impl FnOnce() + Send + 'static) -> bool {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                job();
            });
            true
        }
        Err(_) => false,
    }
}

/// A connection's id within its room.
pub type ConnId = u64;

/// Frames a peer may have queued before it counts as stalled and is disconnected (it
/// reconnects and resyncs on its own). Bounds memory per connection; at 10 updates/s from 20
/// peers a healthy client drains this in well under a second.
pub const PEER_QUEUE_FRAMES: usize = 1024;

/// Updates appended to a board's log before it is compacted into a snapshot, so that load
/// time does not grow with history.
pub const COMPACT_AFTER_UPDATES: u64 = 500;

/// How long a room with no connections stays in memory (a reload or a brief network loss
/// should not pay for a load from disk).
pub const DEFAULT_IDLE_UNLOAD: Duration = Duration::from_secs(30);

/// A loaded room whose document nobody used (no update, no join, no read) for this long
/// keeps only its encoded state until the next use (see `content.rs`): long enough that a
/// board being worked on stays decoded, short enough that a paused one costs little.
pub const REST_AFTER: Duration = Duration::from_secs(10);

/// How often loaded rooms are checked for rest.
pub const REST_CHECK_EVERY: Duration = Duration::from_secs(5);

/// What the connection layer must do for a peer.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// Send this binary message.
    Frame(Bytes),
    /// Close the connection with this code and reason.
    Close(CloseReason),
    /// Write these bytes as they are: the rest of a message the room began writing
    /// straight to the socket (see `outbox.rs`).
    Raw(Bytes),
    /// A ping of the connection's own, to tell whether the peer is still there.
    Ping,
    /// The answer to the peer's ping.
    Pong(Bytes),
}

/// A WebSocket close code and reason, chosen by the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

impl CloseReason {
    /// 1001: the server is shutting down.
    pub const GOING_AWAY: CloseReason = CloseReason {
        code: 1001,
        reason: "server shutting down",
    };
    /// 1002: a frame that is not valid y-sync.
    pub const MALFORMED: CloseReason = CloseReason {
        code: 1002,
        reason: "malformed message",
    };
    /// 1002: a frame that breaks RFC 6455 (unmasked, reserved bits, an unknown opcode, bad
    /// fragmentation, a close code not allowed on the wire).
    pub const WEBSOCKET_PROTOCOL: CloseReason = CloseReason {
        code: 1002,
        reason: "WebSocket protocol error",
    };
    /// 1007: a text frame or close reason that is not UTF-8.
    pub const NOT_UTF8: CloseReason = CloseReason {
        code: 1007,
        reason: "invalid UTF-8",
    };
    /// 1003: text frames are not part of the protocol.
    pub const TEXT_FRAME: CloseReason = CloseReason {
        code: 1003,
        reason: "binary frames only",
    };
    /// 1007: a well-formed message carrying an update that cannot be decoded or applied.
    pub const BAD_UPDATE: CloseReason = CloseReason {
        code: 1007,
        reason: "invalid update",
    };
    /// 1009: a message over the size limit.
    pub const TOO_BIG: CloseReason = CloseReason {
        code: 1009,
        reason: "message too big",
    };
    /// 1009: a frame with more y-sync messages than `limits::MAX_MESSAGES_PER_FRAME`.
    pub const TOO_MANY_MESSAGES: CloseReason = CloseReason {
        code: 1009,
        reason: "too many messages in one frame",
    };
    /// 1011: the store failed; the edit was not kept, so it must not look accepted.
    pub const STORAGE: CloseReason = CloseReason {
        code: 1011,
        reason: "storage unavailable",
    };
    /// 1008: the token this connection joined with was rotated; the old link no longer
    /// opens the board.
    pub const REVOKED: CloseReason = CloseReason {
        code: 1008,
        reason: "access revoked",
    };
    /// 1013: the peer fell too far behind; it reconnects and resyncs.
    pub const TOO_SLOW: CloseReason = CloseReason {
        code: 1013,
        reason: "client too slow, reconnect",
    };
}
