//! One loaded board: its document and awareness, its peers and their outgoing queues.
//!
//! A std `Mutex` guards the state: every operation is short, CPU-bound work on the document
//! and never awaits while holding it. Applied updates go to the room's [`StoreLog`] under the
//! same lock, so the store's log has them in the order they were applied in; it writes them
//! in batches (see `log.rs`).

use super::content::{Content, Live};
use super::guard::{self, Applied, SizeLimit};
use super::log::StoreLog;
use super::outbox::{self, Outbox, OutboxReceiver};
use super::private::RoomKind;
use super::protocol::{self, is_empty_update};
use super::triggers::{Switches, Trigger};
use super::{CloseReason, ConnId, Outgoing, COMPACT_AFTER_UPDATES};
use crate::store::{Store, StoreError};
use bytes::Bytes;
use journeyboard_shared::rules::Violation;
use journeyboard_shared::schema::BoardDoc;
use journeyboard_shared::{BoardSummary, Role};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Transact, TransactionMut, Update as YUpdate};

/// Broadcasts closer together than this are a burst: queued, not written (see [`broadcast`]).
/// Steady relays are further apart (a board of 20 typing at 10 changes a second: 5 ms).
const BURST_GAP: Duration = Duration::from_micros(500);

/// A broadcast is in a burst once this many in a row, itself included, each came within
/// [`BURST_GAP`] of the one before: the third of three close together is queued, while two
/// people's keystrokes landing together are still written at once (queued, each would be a
/// wake-up of every peer's connection task, for the same number of writes).
const BURST_AFTER: u32 = 2;

/// Presence updates that follow a presence broadcast within this time are merged and sent
/// together this long after (one awareness message carries any number of clients): when a
/// thousand clients rejoin at once, each would otherwise send its presence to every other,
/// a million frames, queued 1,000 deep on every connection.
const PRESENCE_BATCH: Duration = Duration::from_millis(20);

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
    /// When the last broadcast ended, and how many in a row came within [`BURST_GAP`] of
    /// the one before (see [`broadcast`]).
    last_broadcast: Option<Instant>,
    quick_broadcasts: u32,
    /// When presence was last relayed, and what waits to be (see [`PRESENCE_BATCH`]).
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
    /// Loads a board's document from the store (blocking: call from `spawn_blocking`).
    /// An update in the log that no longer decodes (a torn write) is skipped with a warning.
    pub fn load(id: uuid::Uuid, store: Arc<dyn Store>) -> Result<Room, StoreError> {
        Self::load_as(id, RoomKind::Board, store)
    }

    /// Loads a room of either kind (blocking). Board rooms guard participants' updates.
    pub fn load_as(
        id: uuid::Uuid,
        kind: RoomKind,
        store: Arc<dyn Store>,
    ) -> Result<Room, StoreError> {
        let store_generation = store.generation();
        let stored = store.load_doc(id)?;
        let doc = doc_from(id, &stored);
        let approx_bytes =
            stored.snapshot.len() + stored.updates.iter().map(|(_, u)| u.len()).sum::<usize>();
        Ok(Room {
            id,
            kind,
            log: StoreLog::new(id, Arc::clone(&store), stored.next_seq()),
            store,
            max_doc_bytes: crate::limits::MAX_DOC_BYTES,
            compaction: Mutex::new(()),
            state: Mutex::new(RoomState {
                awareness: Awareness::new(Doc::new()),
                content: Content::new(doc),
                unsnapshotted: stored.updates.len() as u64,
                approx_bytes,
                needs_snapshot: false,
                store_generation,
                compacting: false,
                last_broadcast: None,
                quick_broadcasts: 0,
                last_presence: None,
                presence_batch: None,
                closed: false,
                peers: HashMap::new(),
                next_conn: 1,
                triggers: None,
            }),
        })
    }

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
    /// updates, relays presence. On error nothing from the frame's failing message on is
    /// applied; the caller closes the connection with [`ReceiveError::close_reason`].
    pub fn receive(self: &Arc<Self>, conn: ConnId, data: &[u8]) -> Result<(), ReceiveError> {
        let messages = protocol::decode_frame(data)?;
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
                Message::Awareness(update) => {
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
        Ok(())
    }

    /// Relays a peer's presence to the others at once, or, within [`PRESENCE_BATCH`] of the
    /// last presence relayed, merged with the rest of that time's and sent to everyone then
    /// (a client ignores its own state at a clock it already has).
    fn relay_presence(self: &Arc<Self>, st: &mut RoomState, from: ConnId, update: AwarenessUpdate) {
        if let Some(batch) = &mut st.presence_batch {
            merge_presence(batch, update);
            return;
        }
        let recent = st
            .last_presence
            .is_some_and(|at| at.elapsed() < PRESENCE_BATCH);
        let room = Arc::clone(self);
        if recent && super::run_later(PRESENCE_BATCH, move || room.flush_presence()) {
            st.presence_batch = Some(update);
            return;
        }
        st.last_presence = Some(Instant::now());
        broadcast(st, Some(from), protocol::awareness(update));
    }

    /// Sends the merged presence updates that waited (see [`Room::relay_presence`]).
    fn flush_presence(&self) {
        let mut st = self.lock();
        if let Some(batch) = st.presence_batch.take() {
            st.last_presence = Some(Instant::now());
            if !batch.clients.is_empty() {
                broadcast(&mut st, None, protocol::awareness(batch));
            }
        }
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
        if let Some(peer) = st.peers.get_mut(&conn) {
            peer.pending = pending;
        }
        let mut refusal = None;
        let (delta, except) = match applied.map_err(|e| ReceiveError::BadUpdate(e.0))? {
            Applied::Unchanged => return Ok(()),
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

    /// Hands an applied delta to the store's log (written within `LOG_WRITE_DELAY`).
    fn append(&self, st: &mut RoomState, delta: &[u8]) {
        self.log.push(delta);
        st.unsnapshotted += 1;
        st.approx_bytes = st.approx_bytes.saturating_add(delta.len());
    }

    /// After a failed store write, the document holds edits the store lacks: before taking
    /// more, save it whole (a snapshot). While the store still fails, every update is
    /// refused before it is applied (its sender closed with 1011), so no client takes an
    /// edit as kept while the store cannot keep it; once the store works again, the room
    /// resumes on the next update.
    fn recover_store(&self, st: &mut RoomState) -> Result<(), StoreError> {
        let generation = self.store.generation();
        if generation != st.store_generation {
            tracing::warn!(board = %self.id, "the store started over: saving the board whole");
            st.needs_snapshot = true;
            st.store_generation = generation;
        }
        if !st.needs_snapshot && !self.log.failed() {
            return Ok(());
        }
        // A compaction that took an older snapshot must reach the store first. (It takes
        // this lock before the room's state: waiting for it here would deadlock.)
        let _one_at_a_time = match self.compaction.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(StoreError::Backend("a compaction is still running".into()));
            }
        };
        let snapshot = st.content.encode_state();
        if let Err(e) = self.store.compact(self.id, &snapshot, self.log.last_seq()) {
            tracing::error!(board = %self.id, "the store still fails: {e}");
            return Err(e);
        }
        // Under the room's lock: every update the log holds is in this snapshot.
        self.log.saved_whole();
        st.needs_snapshot = false;
        st.unsnapshotted = 0;
        st.approx_bytes = snapshot.len();
        tracing::info!(board = %self.id, "the store works again: board saved whole");
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

    /// Writes a snapshot of the current document and drops the log entries it covers
    /// (blocking: run from `spawn_blocking`). Safe beside live writes: an update appended
    /// after the snapshot was taken keeps its log entry. Returns whether it was saved.
    pub fn compact(&self) -> bool {
        let _one_at_a_time = crate::lock(&self.compaction);
        let (snapshot, up_to_seq, covered, covered_bytes) = {
            let st = self.lock();
            let snapshot = st.content.encode_state();
            (
                snapshot,
                self.log.last_seq(),
                st.unsnapshotted,
                st.approx_bytes,
            )
        };
        let result = self.store.compact(self.id, &snapshot, up_to_seq);
        let mut st = self.lock();
        st.compacting = false;
        match result {
            Ok(()) => {
                st.unsnapshotted = st.unsnapshotted.saturating_sub(covered);
                // What was appended meanwhile stays counted on top of the new snapshot.
                st.approx_bytes = st.approx_bytes.saturating_sub(covered_bytes) + snapshot.len();
                // A failed log write is left to `recover_store`: it may be newer than this.
                true
            }
            Err(e) => {
                tracing::error!(board = %self.id, "compaction failed: {e}");
                false
            }
        }
    }

    /// Whether the room holds anything the store does not have in its snapshot.
    pub fn has_unsnapshotted_changes(&self) -> bool {
        let st = self.lock();
        st.unsnapshotted > 0
            || st.needs_snapshot
            || self.log.failed()
            || st.store_generation != self.store.generation()
    }

    /// The document as the store has it, should a resting one fail to decode.
    fn reload(&self) -> Option<Doc> {
        match self.store.load_doc(self.id) {
            Ok(stored) => Some(doc_from(self.id, &stored)),
            Err(e) => {
                tracing::error!(board = %self.id, "could not load the board again: {e}");
                None
            }
        }
    }

    /// Lets the document rest (see `content.rs`) if nobody used it for `after` and the store
    /// has all of it. Returns whether it went to rest now.
    pub fn rest_if_unused(&self, after: Duration) -> bool {
        let mut st = self.lock();
        let unwritten = self.log.has_pending() || self.log.failed();
        if st.closed || st.compacting || st.needs_snapshot || unwritten {
            return false;
        }
        st.content.rest_if_unused(after)
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

    /// Writes the updates waiting for the store now, as the log's timer does (blocking).
    pub fn write_pending_log(&self) {
        self.log.write_pending();
    }

    /// The whole document as one update (for tests and exports).
    pub fn encode_state(&self) -> Vec<u8> {
        self.lock().content.encode_state()
    }
}

/// A board's document from what the store holds. An update in the log that no longer decodes
/// (a torn write) is skipped with a warning.
fn doc_from(id: uuid::Uuid, stored: &crate::store::StoredDoc) -> Doc {
    let doc = Doc::new();
    {
        let mut txn = doc.transact_mut();
        if !stored.snapshot.is_empty() {
            match YUpdate::decode_v1(&stored.snapshot) {
                Ok(update) => {
                    if let Err(e) = txn.apply_update(update) {
                        tracing::error!(board = %id, "snapshot does not apply: {e}");
                    }
                }
                Err(e) => tracing::error!(board = %id, "snapshot does not decode: {e}"),
            }
        }
        for (seq, bytes) in &stored.updates {
            match YUpdate::decode_v1(bytes) {
                Ok(update) => {
                    if let Err(e) = txn.apply_update(update) {
                        tracing::warn!(board = %id, seq, "skipping stored update: {e}");
                    }
                }
                Err(e) => tracing::warn!(board = %id, seq, "skipping torn stored update: {e}"),
            }
        }
    }
    doc
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

fn send_to(st: &mut RoomState, conn: ConnId, frame: Bytes) {
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
fn broadcast(st: &mut RoomState, except: Option<ConnId>, frame: Bytes) {
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
fn remove_peers(st: &mut RoomState, conns: Vec<ConnId>) {
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

#[cfg(test)]
mod tests {
    //! Rooms as bytes in, bytes out: two in-memory peers, no sockets.
    use super::super::outbox::tests::FakeSocket;
    use super::*;
    use crate::room::PEER_QUEUE_FRAMES;
    use crate::store::{BoardMeta, MemoryStore};
    use journeyboard_shared::schema::new_board_doc;
    use journeyboard_shared::Template;
    use yrs::updates::encoder::Encode;

    fn room() -> Arc<Room> {
        let store = Arc::new(MemoryStore::default());
        let id = uuid::Uuid::new_v4();
        let doc = new_board_doc("Unit", Template::CurrentState, 0.0);
        let snapshot = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let meta = BoardMeta {
            title: "Unit".into(),
            template: "current-state".into(),
            created_at: 0,
            facilitator_hash: String::new(),
            participant_hash: String::new(),
            viewer_hash: String::new(),
        };
        store.create_board(id, &meta, &snapshot).unwrap();
        Arc::new(Room::load(id, store).unwrap())
    }

    fn drain(joined: &mut Joined) -> Vec<Message> {
        let mut out = Vec::new();
        while let Ok(Outgoing::Frame(frame)) = joined.outgoing.try_recv() {
            out.extend(protocol::decode_frame(&frame).unwrap());
        }
        out
    }

    fn stage_update() -> Vec<u8> {
        let doc = Doc::with_client_id(7);
        let view = BoardDoc::new(&doc);
        let mut txn = doc.transact_mut();
        view.insert_stage(&mut txn, 0, "pre", "Pre-awareness");
        txn.encode_update_v1()
    }

    /// An update from a fresh client `client` that inserts a stage: each is new to the room.
    fn stage_from_client(client: u64) -> Vec<u8> {
        let doc = Doc::with_client_id(client);
        let view = BoardDoc::new(&doc);
        let mut txn = doc.transact_mut();
        view.insert_stage(&mut txn, 0, &format!("s{client}"), "S");
        txn.encode_update_v1()
    }

    fn update_frame(update: Vec<u8>) -> Vec<u8> {
        Message::Sync(SyncMessage::Update(update)).encode_v1()
    }

    #[tokio::test]
    async fn a_new_peer_gets_the_servers_sync_step_1_first() {
        let room = room();
        let mut a = room.join(Role::Participant).unwrap();
        let first = drain(&mut a);
        assert!(matches!(first[0], Message::Sync(SyncMessage::SyncStep1(_))));
    }

    #[tokio::test]
    async fn an_update_is_stored_and_relayed_to_others_only() {
        let room = room();
        let mut a = room.join(Role::Facilitator).unwrap();
        let mut b = room.join(Role::Participant).unwrap();
        drain(&mut a);
        drain(&mut b);
        room.receive(a.conn, &update_frame(stage_update())).unwrap();
        assert!(drain(&mut a).is_empty(), "not echoed to its sender");
        assert!(matches!(
            drain(&mut b)[..],
            [Message::Sync(SyncMessage::Update(_))]
        ));
        assert_eq!(room.summary().stages, 6);
        assert!(room.store.load_doc(room.id).unwrap().updates.is_empty());
        room.write_pending_log(); // as its timer does, `LOG_WRITE_DELAY` later
        assert_eq!(room.store.load_doc(room.id).unwrap().updates.len(), 1);

        // The same update again changes nothing: nothing stored, nothing relayed.
        room.receive(a.conn, &update_frame(stage_update())).unwrap();
        assert!(drain(&mut b).is_empty());
        assert_eq!(room.store.load_doc(room.id).unwrap().updates.len(), 1);
    }

    #[tokio::test]
    async fn a_resting_room_keeps_its_document_peers_and_rules() {
        let room = room();
        let mut a = room.join(Role::Facilitator).unwrap();
        let mut b = room.join(Role::Participant).unwrap();
        room.receive(a.conn, &update_frame(stage_update())).unwrap();
        drain(&mut a);
        drain(&mut b);
        let before = room.encode_state();
        assert!(!room.rest_if_unused(Duration::from_secs(60)), "just used");
        assert!(!room.rest_if_unused(Duration::ZERO), "not in the store yet");
        room.write_pending_log();
        assert!(room.rest_if_unused(Duration::ZERO));
        assert!(!room.is_live());
        assert_eq!(
            room.encode_state(),
            before,
            "resting keeps the state, undecoded"
        );
        assert!(!room.is_live(), "encoding a resting room does not wake it");

        // A newcomer's sync wakes it and gets everything.
        let mut c = room.join(Role::Viewer).unwrap();
        assert!(room.is_live());
        drain(&mut c);
        let step1 = Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
        room.receive(c.conn, &step1).unwrap();
        let [Message::Sync(SyncMessage::SyncStep2(state))] = &drain(&mut c)[..] else {
            panic!("no sync step 2");
        };
        let copy = Doc::new();
        copy.transact_mut()
            .apply_update(YUpdate::decode_v1(state).unwrap())
            .unwrap();
        assert_eq!(BoardDoc::new(&copy).stages(&copy.transact()).len(), 6);

        // After another rest, updates flow and the role rules still hold.
        assert!(room.rest_if_unused(Duration::ZERO));
        let phase = {
            let doc = Doc::new();
            doc.transact_mut()
                .apply_update(YUpdate::decode_v1(&before).unwrap())
                .unwrap();
            let view = BoardDoc::new(&doc);
            let mut txn = doc.transact_mut();
            view.set_phase(&mut txn, journeyboard_shared::Phase::Iteration);
            txn.encode_update_v1()
        };
        room.receive(b.conn, &update_frame(phase)).unwrap();
        assert_eq!(room.summary().phase, "icebreaker");
        assert!(
            matches!(drain(&mut b)[..], [Message::Sync(SyncMessage::Update(_))]),
            "the sender gets the revert"
        );
        room.write_pending_log();
        assert!(room.rest_if_unused(Duration::ZERO));
        room.receive(a.conn, &update_frame(stage_update())).unwrap();
        room.write_pending_log();
        let stored = room.store.load_doc(room.id).unwrap();
        assert_eq!(
            stored.updates.len(),
            2,
            "the stage and the refused phase with its revert"
        );
    }

    #[tokio::test]
    async fn a_viewers_update_is_dropped_but_its_presence_is_relayed() {
        let room = room();
        let mut viewer = room.join(Role::Viewer).unwrap();
        let mut other = room.join(Role::Participant).unwrap();
        drain(&mut viewer);
        drain(&mut other);
        room.receive(viewer.conn, &update_frame(stage_update()))
            .unwrap();
        assert_eq!(room.summary().stages, 5);
        assert!(drain(&mut other).is_empty());

        let mut awareness = Awareness::new(Doc::with_client_id(99));
        awareness.set_local_state_raw(r#"{"user":{"name":"V"}}"#);
        let frame = Message::Awareness(awareness.update().unwrap()).encode_v1();
        room.receive(viewer.conn, &frame).unwrap();
        assert!(matches!(drain(&mut other)[..], [Message::Awareness(_)]));

        // Leaving clears the viewer's presence for the others.
        room.leave(viewer.conn);
        match &drain(&mut other)[..] {
            [Message::Awareness(update)] => {
                assert_eq!(update.clients[&ClientID::new(99)].json.as_ref(), "null")
            }
            other => panic!("expected a presence removal, got {other:?}"),
        }
    }

    fn presence(client: u64, name: &str) -> Vec<u8> {
        let mut awareness = Awareness::new(Doc::with_client_id(client));
        awareness.set_local_state_raw(format!(r#"{{"user":{{"name":"{name}"}}}}"#));
        Message::Awareness(awareness.update().unwrap()).encode_v1()
    }

    #[tokio::test]
    async fn presence_in_a_burst_goes_out_merged_and_without_those_who_left() {
        let room = room();
        let mut peers: Vec<Joined> = (0..4)
            .map(|_| room.join(Role::Participant).unwrap())
            .collect();
        for peer in &mut peers {
            drain(peer);
        }
        // The first goes out at once, to the others.
        room.receive(peers[0].conn, &presence(10, "A")).unwrap();
        assert!(matches!(drain(&mut peers[3])[..], [Message::Awareness(_)]));
        // Right after it, two more wait; one of them leaves before they go out.
        room.receive(peers[1].conn, &presence(11, "B")).unwrap();
        room.receive(peers[2].conn, &presence(12, "C")).unwrap();
        assert!(drain(&mut peers[3]).is_empty(), "batched");
        room.leave(peers[2].conn);
        let left = drain(&mut peers[3]);
        assert!(
            matches!(left[..], [Message::Awareness(_)]),
            "C's removal at once"
        );
        tokio::time::sleep(PRESENCE_BATCH * 3).await;
        match &drain(&mut peers[3])[..] {
            [Message::Awareness(update)] => {
                let clients: Vec<ClientID> = update.clients.keys().copied().collect();
                assert_eq!(
                    clients,
                    vec![ClientID::new(11)],
                    "B's presence, and not C's, who left"
                );
            }
            other => panic!("expected one merged presence update, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_stalled_peer_is_dropped_and_never_blocks_the_others() {
        let room = room();
        let writer = room.join(Role::Facilitator).unwrap();
        let stalled = room.join(Role::Participant).unwrap();
        let mut healthy = room.join(Role::Participant).unwrap();
        drain(&mut healthy);
        for i in 0..(PEER_QUEUE_FRAMES + 10) {
            let update = stage_from_client(1000 + i as u64);
            room.receive(writer.conn, &update_frame(update)).unwrap();
            drain(&mut healthy);
        }
        assert_eq!(room.number_of_peers(), 2, "the stalled peer was dropped");
        // Its queue ends: the socket task then closes it with 1013 and it resyncs.
        let mut frames = 0;
        while let Ok(Outgoing::Frame(_)) = stalled.outgoing.try_recv() {
            frames += 1;
        }
        assert!(frames <= PEER_QUEUE_FRAMES);
        assert!(stalled.outgoing.try_recv().is_err());
    }

    /// A facilitator relays `count` updates back to back to a reader whose socket takes
    /// everything; returns the room, the reader and its socket.
    fn relay_back_to_back(count: u64) -> (Arc<Room>, Joined, Arc<FakeSocket>) {
        let room = room();
        let writer = room.join(Role::Facilitator).unwrap();
        let mut reader = room.join(Role::Participant).unwrap();
        drain(&mut reader);
        let socket = FakeSocket::with_room(usize::MAX);
        reader.outgoing.attach(socket.clone());
        for i in 0..count {
            let update = stage_from_client(2000 + i);
            room.receive(writer.conn, &update_frame(update)).unwrap();
        }
        (room, reader, socket)
    }

    #[tokio::test]
    async fn broadcasts_in_a_burst_are_queued_for_the_connection_to_write_together() {
        let (_room, reader, socket) = relay_back_to_back(50);
        assert!(!socket.taken().is_empty(), "the first went straight out");
        // The socket would have taken them all: whatever waits was queued as a burst.
        assert!(
            reader.outgoing.try_take().is_some(),
            "the rest wait for one write"
        );
    }

    #[tokio::test]
    async fn two_broadcasts_close_together_are_still_written_at_once() {
        let (_room, reader, socket) = relay_back_to_back(u64::from(BURST_AFTER));
        assert!(
            reader.outgoing.try_take().is_none(),
            "nothing waits for the connection's task"
        );
        assert!(!socket.taken().is_empty());
    }

    #[tokio::test]
    async fn malformed_frames_change_nothing() {
        let room = room();
        let a = room.join(Role::Participant).unwrap();
        assert!(matches!(
            room.receive(a.conn, &[0, 2, 50, 1]),
            Err(ReceiveError::Malformed(_))
        ));
        let bad_update = update_frame(vec![9, 9, 9, 9, 9]);
        assert!(matches!(
            room.receive(a.conn, &bad_update),
            Err(ReceiveError::BadUpdate(_))
        ));
        assert_eq!(room.summary().stages, 5);
        assert!(room.store.load_doc(room.id).unwrap().updates.is_empty());
    }
}
