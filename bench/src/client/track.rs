//! The measured updates of one room: a sender registers each update it sends, every
//! receiver reports when it had it, and the room keeps the latencies (to the first receiver,
//! the last one, and the last one's socket) once all its receivers had the update. Shared by
//! all the clients of the room and read by `shapes.rs` at the end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Every measured update of one room, from its send until each receiver has it.
#[derive(Default)]
pub struct RoomTrack {
    /// Clients that receive this room's updates (all but stalled ones).
    pub receivers: AtomicUsize,
    pending: Mutex<HashMap<(u64, u32), Pending>>,
    /// Send-to-last-receiver latency of each update every receiver got, in microseconds.
    pub fanout_us: Mutex<Vec<u32>>,
    /// Send-to-first-receiver latency of the same updates: what the fan-out took before the
    /// relays' spread over the receivers (the sender's write, the server's wake-up and work
    /// up to its first relay, that receiver's wake-up).
    pub first_us: Mutex<Vec<u32>>,
    /// Send until the update reached the last receiver's socket (the kernel's receive stamp,
    /// `stamped.rs`): the fan-out without the receiving clients' own wake-ups.
    pub arrival_us: Mutex<Vec<u32>>,
    pub sent: AtomicU64,
    /// The highest clock each sender reached: the server must end up with at least that.
    pub final_clocks: Mutex<HashMap<u64, u32>>,
}

struct Pending {
    sent: Instant,
    /// The same moment on the wall clock, which the kernel's receive stamps use.
    sent_wall: SystemTime,
    remaining: usize,
    first: Duration,
    worst: Duration,
    worst_arrival: Duration,
}

impl RoomTrack {
    /// Starts measuring an update its sender is about to send: `key` names it (as
    /// `wire::update_key` reads it back) and `end_clock` is the sender's clock after it.
    pub(super) fn register(&self, key: (u64, u32), end_clock: u32) {
        let remaining = self.receivers.load(Ordering::Relaxed).saturating_sub(1);
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.final_clocks.lock().unwrap().insert(key.0, end_clock);
        if remaining == 0 {
            return;
        }
        self.pending.lock().unwrap().insert(
            key,
            Pending {
                sent: Instant::now(),
                sent_wall: SystemTime::now(),
                remaining,
                first: Duration::MAX,
                worst: Duration::ZERO,
                worst_arrival: Duration::ZERO,
            },
        );
    }

    /// Records one delivery, read at `at` and received by the kernel at `arrival` (if the
    /// socket had a stamp); returns its latency if the update is a measured one.
    pub(super) fn delivered(
        &self,
        key: (u64, u32),
        at: Instant,
        arrival: Option<SystemTime>,
    ) -> Option<Duration> {
        let mut pending = self.pending.lock().unwrap();
        let entry = pending.get_mut(&key)?;
        let latency = at.saturating_duration_since(entry.sent);
        // Without a stamp, the read time: never earlier than the arrival.
        let arrived = arrival
            .and_then(|a| a.duration_since(entry.sent_wall).ok())
            .map_or(latency, |a| a.min(latency));
        entry.first = entry.first.min(latency);
        entry.worst = entry.worst.max(latency);
        entry.worst_arrival = entry.worst_arrival.max(arrived);
        entry.remaining -= 1;
        if entry.remaining == 0 {
            let (first, worst, arrival) = (entry.first, entry.worst, entry.worst_arrival);
            pending.remove(&key);
            drop(pending);
            self.fanout_us.lock().unwrap().push(micros(worst));
            self.first_us.lock().unwrap().push(micros(first));
            self.arrival_us.lock().unwrap().push(micros(arrival));
        }
        Some(latency)
    }

    /// (update, receiver) pairs still undelivered.
    pub fn undelivered(&self) -> usize {
        self.pending
            .lock()
            .unwrap()
            .values()
            .map(|p| p.remaining)
            .sum()
    }
}

/// A latency in whole microseconds, as the rooms and clients keep them (saturating, so that
/// a `u32` holds it).
pub(super) fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}
