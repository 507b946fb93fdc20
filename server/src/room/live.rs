//! One loaded board: its document and awareness, its peers and their outgoing queues.
//!
//! A std `Mutex` guards the state: every operation is short, CPU-bound work on the document
//! and never awaits while holding it. Applied updates go to the room's [`StoreLog`] under the
//! same lock, so the store's log has them in the order they were applied in; it writes them
//! in batches (see `log.rs`).
//!
//! This file has the room's state and what a peer does in it (join, send, leave) and what
//! the server does (its own changes, reads, closing); `relay.rs` sends to the peers, and
//! `saving.rs` loads the board and keeps the store up to date.

mod relay;
mod saving;
#[cfg(test)]
mod tests;

use relay::{broadcast, remove_peers, send_to};

use super::content::{Content, Live};
use super::guard::{self, Applied, SizeLimit};
use super::log::StoreLog;
use super::outbox::{self, Outbox, OutboxReceiver};
use super::private::RoomKind;
use super::protocol::{self, is_empty_update};
use super::triggers::{Switches, Trigger};
use super::{CloseReason, ConnId, Outgoing, COMPACT_AFTER_UPDATES};
use crate::limits::MAX_PENDING_BYTES;
use crate::store::{Store, StoreError};
use journeyboard_shared::rules::Violation;
use journeyboard_shared::schema::BoardDoc;
use journeyboard_shared::{BoardSummary, Role};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::mpsc;
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::{ClientID, ReadTxn, StateVector, Transact, TransactionMut, Update as YUpdate};

/// What the sender of dropped pending updates is told (a y-protocol "permission denied").
const PENDING_DROPPED: &str =
    "dropped updates waiting for history the server never received (over the limit)";

/// Why a peer's frame was refused; each maps to the close code the peer gets.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Malformed(#[from] protocol::FrameError),
    #[error("update rejected: {0}")]
    BadUpdate(String),
    #[error("store failed: {0}")]
    Store(#[from] StoreError),
    #[error("connection is no longer part of the room")]
    UnknownPeer,
}

impl ReceiveError {
    /// The close code and reason a peer gets for this error.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            ReceiveError::Malformed(protocol::FrameError::TooManyMessages) => {
                CloseReason::TOO_MANY_MESSAGES
            }
            ReceiveError::Malformed(_) => CloseReason::MALFORMED,
            ReceiveError::BadUpdate(_) => CloseReason::BAD_UPDATE,
            ReceiveError::Store(_) => CloseReason::STORAGE,
            ReceiveError::UnknownPeer => CloseReason::TOO_SLOW,
        }
    }
}

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

    /// Handles one binary frame from a peer: answers sync requests, applies, stores and relays
    /// updates, relays presence; returns how many messages the frame held. On error nothing
    /// from the frame's failing message on is applied (what came before it was, and was
    /// stored and relayed like any message); the caller closes the connection with
    /// [`ReceiveError::close_reason`].
    pub fn receive(self: &Arc<Self>, conn: ConnId, data: &[u8]) -> Result<usize, ReceiveError> {
        let messages = protocol::decode_frame(data)?;
        let count = messages.len();
        let mut st = self.lock();
        let role = st.peers.get(&conn).ok_or(ReceiveError::UnknownPeer)?.role;
        for message in messages {
            match message {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let live = st.content.live(|| self.reload());
                    let step2 = if sv.is_empty() {
                        live.whole_state_frame()
                    } else {
                        protocol::sync_step2(live.doc.transact().encode_diff_v1(&sv))
                    };
                    send_to(&mut st, conn, step2);
                }
                Message::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
                    if !role.can_write() {
                        // Refuse quietly: closing would make the client reconnect and resend
                        // in a loop. Nothing is applied, stored or relayed.
                        tracing::warn!(board = %self.id, conn, "dropped a document update from a viewer");
                        continue;
                    }
                    self.apply_update(&mut st, conn, &update)?;
                }
                Message::Awareness(mut update) => {
                    // A state that is not JSON would throw in every JS peer's `JSON.parse`:
                    // dropped and logged, not relayed (a close would only bring it back).
                    let before = update.clients.len();
                    update.clients.retain(|_, entry| {
                        serde_json::from_str::<serde::de::IgnoredAny>(&entry.json).is_ok()
                    });
                    if update.clients.len() < before {
                        tracing::warn!(board = %self.id, conn, "dropped presence that is not JSON");
                        if update.clients.is_empty() {
                            continue;
                        }
                    }
                    let peer = st.peers.get_mut(&conn).ok_or(ReceiveError::UnknownPeer)?;
                    for (client, entry) in &update.clients {
                        if entry.json.as_ref() == "null" {
                            peer.awareness_ids.remove(client);
                        } else {
                            peer.awareness_ids.insert(*client);
                        }
                    }
                    if let Err(e) = st.awareness.apply_update(update.clone()) {
                        return Err(ReceiveError::BadUpdate(e.to_string()));
                    }
                    self.relay_presence(&mut st, conn, update);
                }
                Message::AwarenessQuery => {
                    if let Ok(presence) = st.awareness.update() {
                        send_to(&mut st, conn, protocol::awareness(presence));
                    }
                }
                Message::Auth(_) | Message::Custom(..) => {
                    tracing::debug!(board = %self.id, conn, "ignored an auth or custom message");
                }
            }
        }
        let compact = st.unsnapshotted >= COMPACT_AFTER_UPDATES && !st.compacting;
        if compact {
            st.compacting = true;
        }
        drop(st);
        if compact {
            let room = Arc::clone(self);
            tokio::task::spawn_blocking(move || room.compact());
        }
        Ok(count)
    }

    /// Applies a peer's update; stores and relays only what it actually changed (a
    /// returning client's sync step 2 mostly repeats what the server has). A participant's
    /// update to a board is guarded: if it breaks a rule, the update and its revert are
    /// stored and relayed as one, to the sender too (see `guard.rs`). A facilitator's update
    /// may set off triggers (see `triggers.rs`).
    fn apply_update(
        &self,
        st: &mut RoomState,
        conn: ConnId,
        update: &[u8],
    ) -> Result<(), ReceiveError> {
        let decoded = guard::decode(update).map_err(|e| ReceiveError::BadUpdate(e.to_string()))?;
        self.recover_store(st)?;
        let peer = st.peers.get_mut(&conn).ok_or(ReceiveError::UnknownPeer)?;
        let (role, me, mut pending) = (peer.role, peer.me.clone(), peer.pending.take());
        let RoomState {
            content,
            approx_bytes,
            ..
        } = &mut *st;
        let Live {
            doc, view, guard, ..
        } = content.live(|| self.reload());
        let (doc, view) = (&*doc, &*view);
        let board = self.kind == RoomKind::Board;
        let switches =
            (board && role == Role::Facilitator).then(|| Switches::read(view, &doc.transact()));
        // Size: cheap while the estimate stays under the limit; near it, measured exactly
        // once the update is in (and reverted if over).
        let (max, approx) = (self.max_doc_bytes, *approx_bytes);
        let measured = std::cell::Cell::new(None);
        let fits = |doc: &yrs::Doc, growth: usize| {
            if approx.saturating_add(growth) <= max {
                return true;
            }
            let size = doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default())
                .len();
            measured.set(Some(size));
            size <= max
        };
        let guarded = board && role == Role::Participant;
        let near_limit = approx.saturating_add(update.len()) > max;
        let applied = if guarded || near_limit {
            guard.apply_checked(
                doc,
                view,
                guarded.then_some((role, me.as_str())),
                SizeLimit {
                    near: near_limit,
                    fits: &fits,
                },
                decoded,
                &mut pending,
            )
        } else {
            guard::apply_unguarded(doc, decoded, &mut pending)
        };
        if let Some(size) = measured.get() {
            *approx_bytes = size;
        }
        let after = switches.map(|before| (before, Switches::read(view, &doc.transact())));
        let mut dropped_pending = false;
        if let Some(peer) = st.peers.get_mut(&conn) {
            // What waits is part of the updates received since it began: their sizes bound it.
            peer.pending_bytes = match pending {
                Some(_) => peer.pending_bytes.saturating_add(update.len()),
                None => 0,
            };
            if peer.pending_bytes > MAX_PENDING_BYTES {
                // The history it waits for never came: it could never go in. Dropped, not
                // closed (a client would reconnect and send it all again); the sender is told.
                tracing::warn!(board = %self.id, conn, bytes = peer.pending_bytes, "dropped updates waiting for missing history");
                pending = None;
                peer.pending_bytes = 0;
                dropped_pending = true;
            }
            peer.pending = pending;
        }
        if dropped_pending {
            send_to(st, conn, protocol::permission_denied(PENDING_DROPPED));
        }
        let mut refusal = None;
        let (delta, except) = match applied.map_err(|e| ReceiveError::BadUpdate(e.0))? {
            Applied::Unchanged => return Ok(()),
            Applied::Broken { delta, error } => {
                // What went in before yrs refused the rest reaches the store and every peer
                // (with its revert, for a guarded update): no copy of the board differs.
                self.append(st, &delta);
                broadcast(st, None, protocol::sync_update(delta));
                return Err(ReceiveError::BadUpdate(error.0));
            }
            Applied::Accepted(delta) => (delta, Some(conn)),
            Applied::Refused { delta, violations } => {
                tracing::warn!(board = %self.id, conn, ?violations, "refused a participant's update");
                if let Some(why) = size_refusal(&violations) {
                    tracing::warn!(board = %self.id, conn, limit = self.max_doc_bytes, "{why}");
                    // The y-protocol's "permission denied": a y-websocket client logs it.
                    refusal = Some(protocol::permission_denied(why));
                }
                (delta, None)
            }
        };
        self.append(st, &delta);
        broadcast(st, except, protocol::sync_update(delta));
        if let Some(frame) = refusal {
            send_to(st, conn, frame);
        }
        if let (Some((before, after)), Some(triggers)) = (after, &st.triggers) {
            for trigger in before.transitions(&after) {
                let _ = triggers.send(trigger);
            }
        }
        Ok(())
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

/// What to tell the sender of an update refused for its size, if it was.
fn size_refusal(violations: &[Violation]) -> Option<&'static str> {
    if violations.contains(&Violation::DocumentTooLarge) {
        Some("refused an update: the board would grow past its size limit")
    } else if violations.iter().any(Violation::is_about_size) {
        Some("refused an update: a note's text is over its length limit")
    } else {
        None
    }
}
