//! A room's updates on their way to the store's log, written in batches.
//!
//! An update is relayed as soon as it is applied and reaches the store at most
//! [`LOG_WRITE_DELAY`] later, together with the room's other updates of that time, as one
//! log entry (merged into one Yjs update). One store write per board per 50 ms instead of one
//! per keystroke: sled's per-insert work (tree descent, node splits every few entries, its
//! log and flusher) was about a quarter of the server's CPU on the fanout benchmark.
//!
//! What a crash can take is unchanged in kind: sled itself only writes its buffers to disk
//! every `FLUSH_EVERY_MS`. A failed write is remembered ([`StoreLog::failed`]); the room
//! then saves its whole document before it takes another update (the document holds every
//! update the log lacks), and refuses updates while it cannot.

use crate::lock;
use crate::store::Store;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// How long an applied update may wait before it is written to the store.
pub const LOG_WRITE_DELAY: Duration = Duration::from_millis(50);

/// Updates are merged into one entry up to this size; a larger update is an entry of its
/// own, as every update was before batching. Kept small on purpose: sled writes a node over
/// 128 KiB (up to 16 entries) to a file of its own, and when that write fails (a full disk)
/// it never completes the log buffer it reserved, so that its next flush never returns.
/// Keystrokes are tens of bytes: a batch of them fits many times over.
const MAX_ENTRY_BYTES: usize = 4 * 1024;

/// The updates of one room not yet in the store, and the log's next sequence number.
pub struct StoreLog {
    id: Uuid,
    store: Arc<dyn Store>,
    state: Mutex<LogState>,
}

struct LogState {
    /// Applied and relayed, not yet written, in the order they were applied.
    pending: Vec<Vec<u8>>,
    /// Sequence number of the next entry written.
    next_seq: u64,
    /// A write is due (a timer is running, or the caller writes at once).
    write_due: bool,
    /// A write failed since the room last saved its whole document.
    failed: bool,
    /// The room was unloaded: its final snapshot has what is pending, and a newer load of
    /// the board may be writing the same sequence numbers.
    closed: bool,
}

impl StoreLog {
    /// The log of room `id`, whose store holds entries up to `next_seq - 1`.
    pub fn new(id: Uuid, store: Arc<dyn Store>, next_seq: u64) -> Arc<StoreLog> {
        Arc::new(StoreLog {
            id,
            store,
            state: Mutex::new(LogState {
                pending: Vec::new(),
                next_seq,
                write_due: false,
                failed: false,
                closed: false,
            }),
        })
    }

    /// Adds an applied update; it is written within [`LOG_WRITE_DELAY`] (at once where no
    /// tokio runtime runs).
    pub fn push(self: &Arc<Self>, delta: &[u8]) {
        let schedule = {
            let mut st = lock(&self.state);
            st.pending.push(delta.to_vec());
            !std::mem::replace(&mut st.write_due, true)
        };
        if !schedule {
            return;
        }
        let log = Arc::clone(self);
        if !super::run_later(LOG_WRITE_DELAY, move || log.write_pending()) {
            self.write_pending();
        }
    }

    /// Writes what is pending as one entry now. Under the log's lock, so entries reach the
    /// store in sequence order.
    pub fn write_pending(&self) {
        let mut st = lock(&self.state);
        st.write_due = false;
        if st.closed || st.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut st.pending);
        for entry in self.entries(pending) {
            let seq = st.next_seq;
            match self.store.append_update(self.id, seq, &entry) {
                Ok(()) => st.next_seq += 1,
                Err(e) => {
                    tracing::error!(board = %self.id, "could not append updates: {e}");
                    st.failed = true;
                    return;
                }
            }
        }
    }

    /// The log entries for `pending`: runs of updates up to [`MAX_ENTRY_BYTES`], each merged
    /// into one update.
    fn entries(&self, pending: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let mut runs: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut run_bytes = 0;
        for update in pending {
            match runs.last_mut() {
                Some(run) if run_bytes + update.len() <= MAX_ENTRY_BYTES => {
                    run_bytes += update.len();
                    run.push(update);
                }
                _ => {
                    run_bytes = update.len();
                    runs.push(vec![update]);
                }
            }
        }
        let mut entries = Vec::with_capacity(runs.len());
        for mut run in runs {
            if run.len() == 1 {
                entries.append(&mut run);
                continue;
            }
            match yrs::merge_updates_v1(&run) {
                Ok(merged) => entries.push(merged),
                // Cannot happen for updates yrs encoded; written one by one all the same.
                Err(e) => {
                    tracing::warn!(board = %self.id, "could not merge updates for the log: {e}");
                    entries.append(&mut run);
                }
            }
        }
        entries
    }

    /// The sequence number of the last entry written (a snapshot taken now covers it).
    pub fn last_seq(&self) -> u64 {
        lock(&self.state).next_seq - 1
    }

    /// Whether updates wait to be written.
    pub fn has_pending(&self) -> bool {
        !lock(&self.state).pending.is_empty()
    }

    /// Whether a write failed since [`StoreLog::saved_whole`].
    pub fn failed(&self) -> bool {
        lock(&self.state).failed
    }

    /// The room's whole document was saved: what failed or waits is in that snapshot.
    pub fn saved_whole(&self) {
        let mut st = lock(&self.state);
        st.failed = false;
        st.pending.clear();
    }

    /// Stops writing: the room was unloaded (its final snapshot holds what is pending).
    pub fn close(&self) {
        lock(&self.state).closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{contract, MemoryStore, StoredDoc};
    use yrs::updates::decoder::Decode;
    use yrs::{GetString, Text, Transact};

    fn typed(doc: &yrs::Doc, text: &str) -> Vec<u8> {
        let t = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        let len = t.len(&txn);
        t.insert(&mut txn, len, text);
        txn.encode_update_v1()
    }

    /// A store holding one empty board, and its id.
    fn store_with_a_board() -> (Arc<dyn Store>, Uuid) {
        let store = MemoryStore::default();
        let id = Uuid::new_v4();
        store.create_board(id, &contract::meta(), &[]).unwrap();
        (Arc::new(store), id)
    }

    fn text_of(stored: &StoredDoc) -> String {
        let doc = yrs::Doc::new();
        let t = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        for (_, update) in &stored.updates {
            txn.apply_update(yrs::Update::decode_v1(update).unwrap())
                .unwrap();
        }
        t.get_string(&txn)
    }

    #[tokio::test]
    async fn updates_are_written_together_once_the_delay_is_over() {
        let (store, id) = store_with_a_board();
        let log = StoreLog::new(id, Arc::clone(&store), 1);
        let client = yrs::Doc::new();
        for word in ["one ", "two ", "three"] {
            log.push(&typed(&client, word));
        }
        // Nothing yet: the test's runtime has not run the timer.
        assert!(store.load_doc(id).unwrap().updates.is_empty());
        assert!(log.has_pending());
        let written = async {
            loop {
                tokio::time::sleep(LOG_WRITE_DELAY).await;
                if !log.has_pending() {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), written)
            .await
            .unwrap();
        let stored = store.load_doc(id).unwrap();
        assert_eq!(stored.updates.len(), 1, "one entry for the three updates");
        assert_eq!(stored.updates[0].0, 1);
        assert_eq!(text_of(&stored), "one two three");
        assert_eq!(log.last_seq(), 1);
    }

    #[test]
    fn large_batches_are_split_into_entries_sled_keeps_inline() {
        let (store, id) = store_with_a_board();
        let log = StoreLog::new(id, Arc::clone(&store), 1);
        let client = yrs::Doc::new();
        let big = "x".repeat(MAX_ENTRY_BYTES / 3);
        let updates: Vec<Vec<u8>> = (0..7).map(|_| typed(&client, &big)).collect();
        let entries = log.entries(updates);
        assert_eq!(entries.len(), 4, "2 + 2 + 2 + 1 updates");
        assert!(entries.iter().all(|e| e.len() <= MAX_ENTRY_BYTES + 1024));
        for (seq, entry) in (1..).zip(&entries) {
            store.append_update(id, seq, entry).unwrap();
        }
        assert_eq!(text_of(&store.load_doc(id).unwrap()), big.repeat(7));
    }

    #[test]
    fn without_a_runtime_each_update_is_written_at_once() {
        let (store, id) = store_with_a_board();
        let log = StoreLog::new(id, Arc::clone(&store), 5);
        let client = yrs::Doc::new();
        log.push(&typed(&client, "a"));
        log.push(&typed(&client, "b"));
        let stored = store.load_doc(id).unwrap();
        let seqs: Vec<u64> = stored.updates.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, vec![5, 6]);
        assert_eq!(text_of(&stored), "ab");
    }

    #[test]
    fn a_closed_log_writes_nothing_and_a_saved_whole_one_drops_what_waits() {
        let (store, id) = store_with_a_board();
        let log = StoreLog::new(id, Arc::clone(&store), 1);
        log.close();
        log.push(&typed(&yrs::Doc::new(), "late"));
        assert!(store.load_doc(id).unwrap().updates.is_empty());
        assert!(log.has_pending());
        log.saved_whole();
        assert!(!log.has_pending());
    }
}
