//! What one client, one board and the whole server may use. Each limit is a named constant
//! (the default) with the reason for its value, and listed in the README's "Limits" table.
//! [`Limits`] carries them in the [`Config`](crate::Config) so that tests can set small
//! ones; the server itself always runs with the defaults.
//!
//! The message size limit is `ws::MAX_MESSAGE_BYTES`; the note text limit is
//! `journeyboard_shared::rules::MAX_NOTE_TEXT_BYTES` (a role rule, checked by the guard).

use std::time::Duration;

/// Messages (document updates and presence) a connection may send per second, sustained.
/// A person typing sends one update per keystroke and a presence message per selection:
/// ~10 a second. Over it, the server reads that connection's socket more slowly
/// (backpressure: TCP holds the rest), never drops a message (dropping one update of a
/// client breaks every later one) and never closes (a y-websocket client reconnects at once
/// and would send it all again).
pub const MAX_MESSAGES_PER_SECOND: u32 = 100;

/// y-sync messages one WebSocket frame may hold. A y-websocket client sends one per frame;
/// a few together are allowed. Unbounded, one 4 MiB frame of tiny messages (650,000 sync
/// step 1s) held the board's lock and the server's thread for seconds. Over it: close 1009.
pub const MAX_MESSAGES_PER_FRAME: usize = 16;

/// Bytes of a connection's updates that may wait for history the server never received
/// (`room/guard.rs`, "Pending updates"): as much as one message. Without a bound a client
/// could make the server hold any amount (24 MiB in the audit) outside the document limit;
/// over it they are dropped, as they could never be applied.
pub const MAX_PENDING_BYTES: usize = crate::ws::MAX_MESSAGE_BYTES;

/// Messages a connection may send at once before the rate above applies: a returning client's
/// burst (sync, presence, a pasted list) goes through untouched.
pub const MESSAGE_BURST: u32 = 1000;

/// Connections to one board (or one private room) at a time. A workshop is tens of people;
/// an all-hands watching one board is a thousand viewers. Over it the upgrade is refused
/// with HTTP 503 (a y-websocket client backs off after a refused connection, while it
/// reconnects at once after a close).
pub const MAX_CONNECTIONS_PER_BOARD: usize = 2000;

/// Open WebSocket connections in the whole server: bounds memory (each costs a read buffer,
/// a queue and a task) and file descriptors. Over it: HTTP 503, as above.
pub const MAX_CONNECTIONS: usize = 20_000;

/// Private rooms of one board (one per person who opened theirs). Anyone with a participant
/// link may claim to be any number of people (a new `u` secret makes a new room), and a
/// reveal or a vote count reads every private room of the board: the bound keeps both small.
/// A workshop is tens of people; a board reused for years stays far under it. Over it: HTTP
/// 503 for a new person's private room (the people who have one keep it).
pub const MAX_PRIVATE_ROOMS_PER_BOARD: usize = 10_000;

/// A board's document, encoded, in bytes. A workshop board with 5,000 notes is ~1 MiB; the
/// limit leaves room for far more while bounding what one board can make the server hold
/// in memory and write to disk. An update that would take a board past it is refused: reverted
/// at once, the revert relayed to its sender too (so it converges back, and no reconnect
/// loop), and the sender told why with a y-protocol "permission denied" message.
pub const MAX_DOC_BYTES: usize = 32 * 1024 * 1024;

/// How long a client may take to send a request's line and headers (hyper's timeout, on
/// since `serve.rs`): a client that sends half of them (the slowloris attack) no longer holds
/// its connection forever. Browsers send theirs at once.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request's body may pause between two of its parts (`serve.rs`): a body
/// announced and never sent no longer holds its connection (and a clean shutdown) forever.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the rate limiter waits before logging again that one connection is throttled.
pub const THROTTLE_LOG_EVERY: Duration = Duration::from_secs(10);

/// The limits in force (defaults: the constants above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub messages_per_second: u32,
    pub message_burst: u32,
    pub connections_per_board: usize,
    pub connections: usize,
    pub private_rooms_per_board: usize,
    pub doc_bytes: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            messages_per_second: MAX_MESSAGES_PER_SECOND,
            message_burst: MESSAGE_BURST,
            connections_per_board: MAX_CONNECTIONS_PER_BOARD,
            connections: MAX_CONNECTIONS,
            private_rooms_per_board: MAX_PRIVATE_ROOMS_PER_BOARD,
            doc_bytes: MAX_DOC_BYTES,
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
        }
    }
}

/// A token bucket: `burst` messages at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: std::time::Instant,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: std::time::Instant::now(),
        }
    }

    /// Takes the tokens of `messages` messages (one frame may hold several). Returns how
    /// long to wait before reading the next frame (zero while within the rate).
    pub fn take(&mut self, messages: usize) -> Duration {
        self.take_at(std::time::Instant::now(), messages)
    }

    fn take_at(&mut self, now: std::time::Instant, messages: usize) -> Duration {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst) - messages as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let mut limiter = RateLimiter::new(10, 3);
        let start = limiter.last;
        for _ in 0..3 {
            assert_eq!(limiter.take_at(start, 1), Duration::ZERO);
        }
        let wait = limiter.take_at(start, 1);
        assert_eq!(wait, Duration::from_millis(100));
        // Waiting as told, the next message is again 100 ms away: the rate holds.
        assert_eq!(limiter.take_at(start + wait, 1), Duration::from_millis(100));
        let later = start + Duration::from_secs(5);
        assert_eq!(limiter.take_at(later, 1), Duration::ZERO, "refilled");
    }

    #[test]
    fn every_message_of_a_frame_counts() {
        let mut limiter = RateLimiter::new(10, 3);
        let start = limiter.last;
        assert_eq!(
            limiter.take_at(start, 3),
            Duration::ZERO,
            "the burst, in one frame"
        );
        assert_eq!(limiter.take_at(start, 2), Duration::from_millis(200));
    }
}
