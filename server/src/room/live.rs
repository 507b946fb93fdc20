//! One loaded board: its document and awareness, its peers and their outgoing queues.
//!
//! A std `Mutex` guards the state: every operation is short, CPU-bound work on the document
//! and never awaits while holding it. Applied updates go to the room's [`StoreLog`] under the
//! same lock, so the store's log has them in the order they were applied in; it writes them
//! in batches (see `log.rs`).
//!
//! This file has the room's state, a peer's joining and leaving, and what the server does
//! (its own changes, reads, closing); `receive.rs` takes a peer's frames (sync, updates,
//! presence), `relay.rs` sends to the peers, and `saving.rs` loads the board and keeps the
//! store up to date.

mod receive;
mod relay;
mod saving;
#[cfg(test)]
mod tests;

pub use receive::ReceiveError;

use relay::{broadcast, remove_peers};

use super::content::Content;
use super::log::StoreLog;
use super::outbox::{self, Outbox, OutboxReceiver};
use super::private::RoomKind;
use super::protocol::{self, is_empty_update};
use super::triggers::{Switches, Trigger};
use super::{CloseReason, ConnId, Outgoing};
use crate::store::{Store, StoreError};
use journeyboard_shared::schema::BoardDoc;
use journeyboard_shared::{BoardSummary, Role};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::mpsc;
use yrs::sync::{Awareness, AwarenessUpdate};
use yrs::{ClientID, ReadTxn, Transact, TransactionMut, Update as YUpdate};

/// A new connection's handle: its id and the queue of frames to send it.
pub struct Joined {
    pub conn: ConnId,
    pub role: Role,
    pub outgoing: OutboxReceiver,
}

struct Peer {
    role: Role,
    /// The connection's public id (`identity::public_id` of its `u` secret; "" if none).
    me: String,
    /// Update data that cannot be integrated before more of this connection's updates arrive
    /// (see `guard.rs`).
    pending: Option<YUpdate>,
    /// The sizes of the updates received since `pending` began (a bound on its size).
    pending_bytes: usize,
    queue: Outbox,
    /// Awareness client ids this connection announced, removed for everyone when it leaves.
    awareness_ids: HashSet<ClientID>,
}

struct RoomState {
    /// Presence. Its yrs `Awareness` holds a placeholder document: the board's own is in
    /// `content`, which may rest (see `content.rs`).
    awareness: Awareness,
    /// The document, its view and its guard (which reverts participants' updates that break
    /// the role rules, and anyone's that would take the board over its size limit).
    content: Content,
    /// Updates applied since the last snapshot (written to the log or waiting in it).
    unsnapshotted: u64,
    /// About how big the stored document is: the snapshot plus the updates appended since
    /// (an over-estimate; measured exactly when it nears the room's size limit).
    approx_bytes: usize,
    /// The store started over: the document holds edits only a snapshot can still save.
    needs_snapshot: bool,
    /// The store's generation when the document was last saved whole or loaded; when the
    /// store starts over (`Store::generation`), what it had buffered may be gone.
    store_generation: u64,
    compacting: bool,
    /// When the last broadcast ended, and how many in a row came within [`relay::BURST_GAP`] of
    /// the one before (see [`broadcast`]).
    last_broadcast: Option<Instant>,
    quick_broadcasts: u32,
    /// When presence was last relayed, and what waits to be (see [`relay::PRESENCE_BATCH`]).
    last_presence: Option<Instant>,
    presence_batch: Option<AwarenessUpdate>,
    /// Set when the room is unloaded: joins must go to a freshly loaded room instead.
    closed: bool,
    peers: HashMap<ConnId, Peer>,
    next_conn: ConnId,
    /// Where facilitators' setting changes go (board rooms, while loaded).
    triggers: Option<mpsc::UnboundedSender<Trigger>>,
}

/// Why the server could not make its own change.
#[derive(Debug, thiserror::Error)]
pub enum ServerChangeError {
    #[error("the room was unloaded")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A loaded board.
pub struct Room {
    id: uuid::Uuid,
    kind: RoomKind,
    store: Arc<dyn Store>,
    /// The encoded document's size limit (`limits::MAX_DOC_BYTES`).
    max_doc_bytes: usize,
    state: Mutex<RoomState>,
    /// Applied updates on their way to the store.
    log: Arc<StoreLog>,
    /// Held by a compaction from taking its snapshot until the store has it: two at once
    /// (one in the background, one at unload or shutdown) could reach the store in the
    /// other order, the older snapshot replacing the newer and dropping the log between.
    compaction: Mutex<()>,
}

impl Room {
    /// Sets the size limit of the encoded document (default `limits::MAX_DOC_BYTES`).
    pub fn with_max_doc_bytes(mut self, max_doc_bytes: usize) -> Room {
        self.max_doc_bytes = max_doc_bytes;
        self
    }

    /// The board's id.
    pub fn id(&self) -> uuid::Uuid {
        self.id
    }

    /// What the room holds.
    pub fn kind(&self) -> &RoomKind {
        &self.kind
    }

    fn lock(&self) -> MutexGuard<'_, RoomState> {
        // A panic while holding the lock would poison it; the state is still consistent
        // (each operation applies whole transactions), so keep serving rather than cascade.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a peer. Its queue starts with the server's sync step 1 (so a returning client's
    /// offline edits flow to the server) and the current presence. `None` if the room was
    /// unloaded meanwhile: the caller must load it again.
    pub fn join(&self, role: Role) -> Option<Joined> {
        self.join_as(role, String::new())
    }

    /// Adds a peer whose public id is `me` (see [`Room::join`]).
    pub fn join_as(&self, role: Role, me: String) -> Option<Joined> {
        let mut st = self.lock();
        if st.closed {
            return None;
        }
        let (queue, outgoing) = outbox::outbox();
        let sv = st
            .content
            .live(|| self.reload())
            .doc
            .transact()
            .state_vector();
        let _ = queue.try_send(Outgoing::Frame(protocol::sync_step1(sv)));
        if let Ok(presence) = st.awareness.update() {
            if !presence.clients.is_empty() {
                let _ = queue.try_send(Outgoing::Frame(protocol::awareness(presence)));
            }
        }
        let conn = st.next_conn;
        st.next_conn += 1;
        st.peers.insert(
            conn,
            Peer {
                role,
                me,
                pending: None,
                pending_bytes: 0,
                queue,
                awareness_ids: HashSet::new(),
            },
        );
        Some(Joined {
            conn,
            role,
            outgoing,
        })
    }

    /// Removes a peer and clears its presence for everyone. Returns true if the room is now
    /// empty (the registry then schedules an unload).
    pub fn leave(&self, conn: ConnId) -> bool {
        let mut st = self.lock();
        remove_peers(&mut st, vec![conn]);
        st.peers.is_empty()
    }

    /// Makes a change as the server (a trigger's work): applies it in one transaction, stores
    /// it and relays it to every peer. Refused once the room is unloaded, so that two loads
    /// of one board never both write its log.
    pub(super) fn server_change<R>(
        &self,
        change: impl FnOnce(&BoardDoc, &mut TransactionMut) -> R,
    ) -> Result<R, ServerChangeError> {
        let mut st = self.lock();
        if st.closed {
            return Err(ServerChangeError::Closed);
        }
        self.recover_store(&mut st)?;
        let (result, delta) = {
            let live = st.content.live(|| self.reload());
            let mut txn = live.doc.transact_mut();
            let result = change(&live.view, &mut txn);
            (result, txn.encode_update_v1())
        };
        if !is_empty_update(&delta) {
            self.append(&mut st, &delta);
            broadcast(&mut st, None, protocol::sync_update(delta));
        }
        Ok(result)
    }

    /// Replaces the whole board with `data` (restoring a snapshot), as one server change.
    /// The settings it brings back set off their triggers (a time box is re-armed, a reveal
    /// or a vote count runs), except the phase's snapshot: the restore made its own.
    pub fn replace_board(
        &self,
        data: &journeyboard_shared::export::BoardData,
    ) -> Result<(), ServerChangeError> {
        let before = self.read(|view, txn| Switches::read(view, txn));
        self.server_change(|view, txn| {
            view.clear(txn);
            data.write_into(view, txn);
        })?;
        let after = self.read(|view, txn| Switches::read(view, txn));
        if let Some(triggers) = &self.lock().triggers {
            for trigger in before.transitions(&after) {
                if !matches!(trigger, Trigger::PhaseChanged { .. }) {
                    let _ = triggers.send(trigger);
                }
            }
        }
        Ok(())
    }

    /// Reads the document.
    pub(super) fn read<R>(&self, read: impl FnOnce(&BoardDoc, &yrs::Transaction) -> R) -> R {
        self.lock().content.read(|| self.reload(), read)
    }

    /// Whether the room was unloaded (or the server is shutting down).
    pub(super) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Connects the room to its trigger worker (board rooms). Ignored once closed.
    pub(super) fn set_triggers(&self, triggers: mpsc::UnboundedSender<Trigger>) {
        let mut st = self.lock();
        if !st.closed {
            st.triggers = Some(triggers);
        }
    }

    /// Whether the document is decoded now (not resting).
    pub fn is_live(&self) -> bool {
        self.lock().content.is_live()
    }

    /// Marks the room closed if it has no peers, so no one joins it again. Returns whether it
    /// closed.
    pub fn close_if_idle(&self) -> bool {
        let mut st = self.lock();
        if st.peers.is_empty() && !st.closed {
            st.closed = true;
            st.triggers = None;
            self.log.close();
            true
        } else {
            false
        }
    }

    /// Asks every peer that joined with one of `roles` to close with `reason` (their token was
    /// rotated). Returns how many.
    pub fn close_peers_with(&self, roles: &[Role], reason: CloseReason) -> usize {
        let st = self.lock();
        let mut closed = 0;
        for peer in st.peers.values().filter(|p| roles.contains(&p.role)) {
            let _ = peer.queue.try_send(Outgoing::Close(reason));
            closed += 1;
        }
        closed
    }

    /// Asks every peer to close (server shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        let mut st = self.lock();
        for peer in st.peers.values() {
            let _ = peer.queue.try_send(Outgoing::Close(reason));
        }
        st.closed = true;
        st.triggers = None;
        self.log.close();
    }

    /// How many connections the room has.
    pub fn number_of_peers(&self) -> usize {
        self.lock().peers.len()
    }

    /// The board at a glance.
    pub fn summary(&self) -> BoardSummary {
        let st = self.lock();
        let connected = st.peers.len();
        st.content.read(
            || self.reload(),
            |view, txn| BoardSummary {
                id: self.id.to_string(),
                title: view.title(txn),
                template: view.template(txn),
                phase: view.phase(txn),
                stages: view.stages(txn).len(),
                lanes: view.lanes(txn).len(),
                notes: view.note_count(txn),
                connected,
            },
        )
    }

    /// The whole document as one update (for tests and exports).
    pub fn encode_state(&self) -> Vec<u8> {
        self.lock().content.encode_state()
    }
}
