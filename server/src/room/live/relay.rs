//! A room's sending to its peers: one peer's frame, broadcasts (written at once, or queued
//! when they come in a burst), presence batched in a reconnect storm, and peers dropped when
//! they stall or leave.

use super::{Room, RoomState};
use crate::room::protocol;
use crate::room::{ConnId, Outgoing};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use yrs::sync::AwarenessUpdate;

/// Broadcasts closer together than this are a burst: queued, not written (see [`broadcast`]).
/// Steady relays are further apart (a board of 20 typing at 10 changes a second: 5 ms).
pub(super) const BURST_GAP: Duration = Duration::from_micros(500);

/// A broadcast is in a burst once this many in a row, itself included, each came within
/// [`BURST_GAP`] of the one before: the third of three close together is queued, while two
/// people's keystrokes landing together are still written at once (queued, each would be a
/// wake-up of every peer's connection task, for the same number of writes).
pub(super) const BURST_AFTER: u32 = 2;

/// Presence updates that follow a presence broadcast within this time are merged and sent
/// together this long after (one awareness message carries any number of clients): when a
/// thousand clients rejoin at once, each would otherwise send its presence to every other,
/// a million frames, queued 1,000 deep on every connection.
pub(super) const PRESENCE_BATCH: Duration = Duration::from_millis(20);

impl Room {
    /// Relays a peer's presence to the others at once, or, within [`PRESENCE_BATCH`] of the
    /// last presence relayed, merged with the rest of that time's and sent to everyone then
    /// (a client ignores its own state at a clock it already has).
    pub(super) fn relay_presence(
        self: &Arc<Self>,
        st: &mut RoomState,
        from: ConnId,
        update: AwarenessUpdate,
    ) {
        if let Some(batch) = &mut st.presence_batch {
            merge_presence(batch, update);
            return;
        }
        let recent = st
            .last_presence
            .is_some_and(|at| at.elapsed() < PRESENCE_BATCH);
        let room = Arc::clone(self);
        if recent && crate::room::run_later(PRESENCE_BATCH, move || room.flush_presence()) {
            st.presence_batch = Some(update);
            return;
        }
        st.last_presence = Some(Instant::now());
        broadcast(st, Some(from), protocol::awareness(update));
    }

    /// Sends the merged presence updates that waited (see [`Room::relay_presence`]).
    pub(super) fn flush_presence(&self) {
        let mut st = self.lock();
        if let Some(batch) = st.presence_batch.take() {
            st.last_presence = Some(Instant::now());
            if !batch.clients.is_empty() {
                broadcast(&mut st, None, protocol::awareness(batch));
            }
        }
    }
}

pub(super) fn send_to(st: &mut RoomState, conn: ConnId, frame: Bytes) {
    let Some(peer) = st.peers.get(&conn) else {
        return;
    };
    if peer.queue.try_send(Outgoing::Frame(frame)).is_err() {
        remove_peers(st, vec![conn]);
    }
}

/// Sends `frame` to every peer but `except`. A peer whose queue is full has stalled: it is
/// dropped from the room (its connection closes once its queue drains) so it never delays
/// the others.
///
/// Broadcasts in a burst ([`BURST_AFTER`] in a row within [`BURST_GAP`] of each other) are
/// queued rather than written (a thousand clients rejoining at once send a thousand
/// presence updates to all: a million writes one by one; queued, each connection writes
/// what gathered at once).
pub(super) fn broadcast(st: &mut RoomState, except: Option<ConnId>, frame: Bytes) {
    let quick = st.last_broadcast.is_some_and(|at| at.elapsed() < BURST_GAP);
    st.quick_broadcasts = if quick {
        st.quick_broadcasts.saturating_add(1)
    } else {
        0
    };
    let in_burst = st.quick_broadcasts >= BURST_AFTER;
    let mut stalled = Vec::new();
    for (id, peer) in &st.peers {
        if Some(*id) == except {
            continue;
        }
        let item = Outgoing::Frame(frame.clone());
        let sent = if in_burst {
            peer.queue.try_queue(item)
        } else {
            peer.queue.try_send(item)
        };
        if sent.is_err() {
            stalled.push(*id);
        }
    }
    st.last_broadcast = Some(Instant::now());
    if !stalled.is_empty() {
        tracing::warn!(peers = ?stalled, "disconnecting stalled peers");
        remove_peers(st, stalled);
    }
}

/// Adds `update`'s client states to `batch`, keeping the newer of two states of one client.
fn merge_presence(batch: &mut AwarenessUpdate, update: AwarenessUpdate) {
    for (client, entry) in update.clients {
        match batch.clients.get(&client) {
            Some(kept) if kept.clock > entry.clock => {}
            _ => {
                batch.clients.insert(client, entry);
            }
        }
    }
}

/// Removes peers and tells the rest that their presence is gone.
pub(super) fn remove_peers(st: &mut RoomState, conns: Vec<ConnId>) {
    let mut gone_ids = Vec::new();
    for conn in conns {
        if let Some(peer) = st.peers.remove(&conn) {
            gone_ids.extend(peer.awareness_ids);
        }
    }
    if gone_ids.is_empty() {
        return;
    }
    for id in &gone_ids {
        st.awareness.remove_state(*id);
        // Not sent later as if still there: a client that joins meanwhile would show it.
        if let Some(batch) = &mut st.presence_batch {
            batch.clients.remove(id);
        }
    }
    if let Ok(update) = st.awareness.update_with_clients(gone_ids) {
        broadcast(st, None, protocol::awareness(update));
    }
}
