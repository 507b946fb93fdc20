//! Board storage: a small trait over bytes, so rooms do not care where documents live.
//!
//! A board is stored as its metadata (title, map type, token hashes), one snapshot (a full
//! document state covering every update up to a sequence number) and an append-only log of
//! the updates since. Loading applies the snapshot and then the log; Yjs updates are
//! idempotent, so an update present in both is harmless. That is what makes compaction safe
//! to run beside live writes and after a crash at any point.

mod memory;
mod sled_store;

pub use memory::MemoryStore;
pub use sled_store::{SledStore, REOPEN_EVERY};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Storage failures. Rooms log them and refuse the edit rather than pretend it was kept.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("stored board metadata is unreadable: {0}")]
    Corrupt(String),
}

/// What is kept about a board besides its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardMeta {
    pub title: String,
    pub template: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
    /// SHA-256 of each role's token, hex. Tokens themselves are never stored.
    pub facilitator_hash: String,
    pub participant_hash: String,
    pub viewer_hash: String,
}

/// A board's stored document: a snapshot and the updates appended after it, in order.
#[derive(Debug, Default, Clone)]
pub struct StoredDoc {
    /// Full state (Yjs update v1) covering every update up to `snapshot_seq`; may be empty.
    pub snapshot: Vec<u8>,
    pub snapshot_seq: u64,
    /// (sequence number, Yjs update v1), ascending.
    pub updates: Vec<(u64, Vec<u8>)>,
}

impl StoredDoc {
    /// The sequence number the next appended update must take.
    pub fn next_seq(&self) -> u64 {
        let last_update = self.updates.last().map_or(0, |(seq, _)| *seq);
        last_update.max(self.snapshot_seq) + 1
    }
}

/// A board store. Implementations are synchronous; async callers use `spawn_blocking` for
/// anything that may touch the disk synchronously (load, compact, flush).
pub trait Store: Send + Sync + 'static {
    /// Stores a new board's metadata and its first snapshot.
    fn create_board(&self, id: Uuid, meta: &BoardMeta, snapshot: &[u8]) -> Result<(), StoreError>;
    /// The board's metadata, or `None` for an unknown board.
    fn board_meta(&self, id: Uuid) -> Result<Option<BoardMeta>, StoreError>;
    /// Replaces a board's metadata (for example after a token rotation).
    fn put_board_meta(&self, id: Uuid, meta: &BoardMeta) -> Result<(), StoreError>;
    /// The board's snapshot and update log.
    fn load_doc(&self, id: Uuid) -> Result<StoredDoc, StoreError>;
    /// Appends one update; cheap (buffered), durable within the store's flush interval.
    fn append_update(&self, id: Uuid, seq: u64, update: &[u8]) -> Result<(), StoreError>;
    /// How many times the store lost what it had buffered and started over (a sled store
    /// reopened after a failed write). A room that sees it change writes its whole document
    /// again before anything else.
    fn generation(&self) -> u64 {
        0
    }
    /// Atomically replaces the snapshot with one covering `up_to_seq` and drops the updates it
    /// covers. A snapshot older than the stored one (a lower `up_to_seq`) is ignored: it
    /// lacks updates whose log entries are gone.
    fn compact(&self, id: Uuid, snapshot: &[u8], up_to_seq: u64) -> Result<(), StoreError>;
    /// Forces everything written so far to disk.
    fn flush(&self) -> Result<(), StoreError>;
    /// Records that board `board` has a private room `room` owned by `public_id` (idempotent).
    /// The room's document is stored like a board's (`load_doc`, `append_update`, `compact`
    /// under the room's id); it has no metadata, so it never opens as a board.
    fn add_private_room(&self, board: Uuid, public_id: &str, room: Uuid) -> Result<(), StoreError>;
    /// The private rooms of a board: (owner's public id, room id), ordered by public id.
    fn private_rooms(&self, board: Uuid) -> Result<Vec<(String, Uuid)>, StoreError>;
    /// Keeps a named snapshot of a board: its metadata and full state (a Yjs update).
    fn put_snapshot(
        &self,
        board: Uuid,
        meta: &SnapshotMeta,
        state: &[u8],
    ) -> Result<(), StoreError>;
    /// A board's snapshots' metadata, in no particular order.
    fn list_snapshots(&self, board: Uuid) -> Result<Vec<SnapshotMeta>, StoreError>;
    /// One snapshot of a board, with its state.
    fn snapshot(
        &self,
        board: Uuid,
        id: Uuid,
    ) -> Result<Option<(SnapshotMeta, Vec<u8>)>, StoreError>;
    /// Writes a consistent copy of the whole store to `out` (see `backup.rs`); returns the
    /// number of entries. Stores that cannot say so.
    fn export(&self, out: &mut dyn std::io::Write) -> Result<u64, StoreError> {
        let _ = out;
        Err(StoreError::Backend("this store cannot make backups".into()))
    }
}

/// What is listed about a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// A UUID.
    pub id: String,
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
    /// Saved by the server (at a phase change, or before a restore) rather than by a person.
    pub auto: bool,
    /// The board's phase when saved.
    pub phase: String,
    /// How many notes it holds.
    pub notes: usize,
}

#[cfg(test)]
pub(crate) mod contract {
    //! One behavioural test suite run against every store implementation.
    use super::*;

    pub fn meta() -> BoardMeta {
        BoardMeta {
            title: "T".into(),
            template: "current-state".into(),
            created_at: 1,
            facilitator_hash: "f".into(),
            participant_hash: "p".into(),
            viewer_hash: "v".into(),
        }
    }

    pub fn store_contract(store: &dyn Store) {
        let id = Uuid::new_v4();
        assert!(store.board_meta(id).unwrap().is_none());
        store.create_board(id, &meta(), b"snap0").unwrap();
        assert_eq!(store.board_meta(id).unwrap(), Some(meta()));

        for seq in 1..=5u64 {
            store.append_update(id, seq, &[seq as u8]).unwrap();
        }
        let doc = store.load_doc(id).unwrap();
        assert_eq!(doc.snapshot, b"snap0");
        assert_eq!(doc.updates.len(), 5);
        assert_eq!(doc.next_seq(), 6);

        store.compact(id, b"snap3", 3).unwrap();
        let doc = store.load_doc(id).unwrap();
        assert_eq!(
            (doc.snapshot.as_slice(), doc.snapshot_seq),
            (&b"snap3"[..], 3)
        );
        assert_eq!(doc.updates, vec![(4, vec![4]), (5, vec![5])]);

        store.compact(id, b"snap5", 5).unwrap();
        // A compaction that took its snapshot earlier but arrives later changes nothing.
        store.compact(id, b"snap4", 4).unwrap();
        let doc = store.load_doc(id).unwrap();
        assert_eq!(
            (doc.snapshot.as_slice(), doc.snapshot_seq),
            (&b"snap5"[..], 5)
        );
        assert!(doc.updates.is_empty());
        assert_eq!(
            doc.next_seq(),
            6,
            "sequence continues after a full compaction"
        );

        // Another board's log is untouched by this one's compaction.
        let other = Uuid::new_v4();
        store.create_board(other, &meta(), b"").unwrap();
        store.append_update(other, 1, b"x").unwrap();
        store.compact(id, b"snap5", 5).unwrap();
        assert_eq!(store.load_doc(other).unwrap().updates.len(), 1);

        // Private rooms: indexed per board, their documents stored like boards' but with no
        // metadata.
        let (room_a, room_b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(store.private_rooms(id).unwrap().is_empty());
        store.add_private_room(id, "bbb", room_b).unwrap();
        store.add_private_room(id, "aaa", room_a).unwrap();
        store.add_private_room(id, "aaa", room_a).unwrap();
        store
            .add_private_room(other, "ccc", Uuid::new_v4())
            .unwrap();
        assert_eq!(
            store.private_rooms(id).unwrap(),
            vec![("aaa".to_string(), room_a), ("bbb".to_string(), room_b)]
        );
        assert!(store.board_meta(room_a).unwrap().is_none());
        assert!(store.load_doc(room_a).unwrap().updates.is_empty());
        store.append_update(room_a, 1, b"p").unwrap();
        assert_eq!(store.load_doc(room_a).unwrap().next_seq(), 2);
        store.compact(room_a, b"psnap", 1).unwrap();
        assert_eq!(store.load_doc(room_a).unwrap().snapshot, b"psnap");

        // Snapshots: per board, metadata listed, state kept whole.
        let snap = |name: &str| SnapshotMeta {
            id: Uuid::new_v4().to_string(),
            name: name.into(),
            created_at: 5,
            auto: false,
            phase: "persona".into(),
            notes: 2,
        };
        let (s1, s2) = (snap("one"), snap("two"));
        store.put_snapshot(id, &s1, b"state-1").unwrap();
        store.put_snapshot(id, &s2, b"state-2").unwrap();
        store.put_snapshot(other, &snap("elsewhere"), b"x").unwrap();
        let mut listed = store.list_snapshots(id).unwrap();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(listed, vec![s1.clone(), s2.clone()]);
        let s2_id = Uuid::parse_str(&s2.id).unwrap();
        assert_eq!(
            store.snapshot(id, s2_id).unwrap(),
            Some((s2, b"state-2".to_vec()))
        );
        assert_eq!(store.snapshot(other, s2_id).unwrap(), None);
        store.flush().unwrap();
    }
}
