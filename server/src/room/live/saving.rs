//! A room and its store: loading the board, handing applied updates to the store's log,
//! saving the board whole (compaction, and recovery after a failed write), and letting an
//! unused document rest once the store has all of it.

use super::{Room, RoomState};
use crate::room::content::Content;
use crate::room::log::StoreLog;
use crate::room::private::RoomKind;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use yrs::sync::Awareness;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Transact, Update as YUpdate};

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

    /// Hands an applied delta to the store's log (written within `LOG_WRITE_DELAY`).
    pub(super) fn append(&self, st: &mut RoomState, delta: &[u8]) {
        self.log.push(delta);
        st.unsnapshotted += 1;
        st.approx_bytes = st.approx_bytes.saturating_add(delta.len());
    }

    /// After a failed store write, the document holds edits the store lacks: before taking
    /// more, save it whole (a snapshot). While the store still fails, every update is
    /// refused before it is applied (its sender closed with 1011), so no client takes an
    /// edit as kept while the store cannot keep it; once the store works again, the room
    /// resumes on the next update.
    pub(super) fn recover_store(&self, st: &mut RoomState) -> Result<(), StoreError> {
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
    pub(super) fn reload(&self) -> Option<Doc> {
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

    /// Writes the updates waiting for the store now, as the log's timer does (blocking).
    pub fn write_pending_log(&self) {
        self.log.write_pending();
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
