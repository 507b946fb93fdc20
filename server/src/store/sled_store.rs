//! The default store: sled, embedded, one directory.
//!
//! Layout: tree `boards` maps a board id (16 bytes) to its metadata as JSON. A board's
//! document is a snapshot and a log of the updates since:
//! - tree `docs`: `id ++ 0x00` -> `snapshot_seq (u64 BE) ++ snapshot bytes`;
//! - tree `log`: `id ++ seq (u64 BE)` -> one update (big-endian keys sort in sequence order).
//!
//! The log has a tree of its own so that an append never touches the node that holds a
//! snapshot (sled rewrites a whole node when it consolidates it). A compaction writes the
//! snapshot, then drops the log entries it covers; a crash between the two leaves entries a
//! load applies again, which changes nothing (applying a Yjs update twice is a no-op), and
//! the next compaction drops them. Stores written before the log tree existed kept the log
//! in `docs` as `id ++ 0x01 ++ seq`; such entries are still read and dropped the same way.
//!
//! Tree `private_rooms` indexes each board's private rooms (docs/SCHEMA.md, "Private notes"):
//! `board id ++ owner's public id` -> room id (16 bytes). A private room's document lives in
//! `docs` under the room's id, like a board's.
//!
//! sled checksums its log and discards a torn tail on start, so a crash mid-write costs at
//! most the writes of the last flush interval, never earlier data.
//!
//! After a failed write (a full disk) sled refuses every later operation until it is opened
//! again, even once the disk has room. So after a failure the store reopens the database
//! (at most once every [`REOPEN_EVERY`]) and counts a new [`Store::generation`]: whatever
//! sled had buffered but not written is gone, and the rooms write their whole documents
//! again before their next update.
//!
//! This file has the store, its trees and its [`Store`] methods; `layout.rs` the keys and
//! values above, `reopen.rs` running operations and opening the database again after a
//! failure, and `export.rs` the whole store as one stream and back.

mod export;
mod layout;
mod reopen;

use layout::{
    drop_covered, legacy_update_key, log_entries, log_key, snapshot_entry_key, snapshot_key,
    split_snapshot,
};

use super::{BoardMeta, SnapshotMeta, Store, StoreError, StoredDoc};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How often a failed store tries to open its database again.
pub const REOPEN_EVERY: Duration = Duration::from_secs(1);

/// How often sled writes its buffers to disk. Together with the flush itself this bounds how
/// long an acknowledged update may sit only in memory (see `DURABILITY_DELAY` in the README).
pub const FLUSH_EVERY_MS: u64 = 100;

/// sled's page cache, in bytes (its default is 1 GiB). Loaded boards live in their rooms, so
/// the cache only serves loads, compactions and board metadata.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// A sled database with the trees described above.
pub struct SledStore {
    dir: PathBuf,
    /// The open database; `None` while a reopen after a failure has not succeeded yet.
    open: RwLock<Option<Arc<Open>>>,
    /// When the last operation failed or the last reopen was tried, while failing.
    failing_since: Mutex<Option<Instant>>,
    /// How many times the database was reopened after a failure.
    generation: AtomicU64,
    /// Signals when a failed database that did not close in time (see [`SledStore::reopen`])
    /// has closed after all; `None` when no close is pending.
    closing: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    /// Compactions hold it shared, an export exclusively: an export never sees a board's
    /// snapshot from before a compaction and its log from after it.
    gate: RwLock<()>,
}

/// One opening of the database.
struct Open {
    db: sled::Db,
    boards: sled::Tree,
    docs: sled::Tree,
    private_rooms: sled::Tree,
    snapshots: sled::Tree,
    log: sled::Tree,
}

impl Open {
    fn new(dir: &Path) -> Result<Open, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(FLUSH_EVERY_MS))
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(backend)?;
        Ok(Open {
            boards: db.open_tree("boards").map_err(backend)?,
            docs: db.open_tree("docs").map_err(backend)?,
            private_rooms: db.open_tree("private_rooms").map_err(backend)?,
            snapshots: db.open_tree("snapshots").map_err(backend)?,
            log: db.open_tree("log").map_err(backend)?,
            db,
        })
    }

    /// The trees an export holds, in the order it writes them: metadata before documents, so
    /// that a board created during the export is either whole in it or not in it, and
    /// snapshots before the log (see [`Store::export`]). An entry's tree is its index here,
    /// so a new tree goes last.
    fn trees(&self) -> [&sled::Tree; 5] {
        [
            &self.boards,
            &self.docs,
            &self.private_rooms,
            &self.snapshots,
            &self.log,
        ]
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Ok(SledStore {
            open: RwLock::new(Some(Arc::new(Open::new(dir)?))),
            dir: dir.to_path_buf(),
            failing_since: Mutex::new(None),
            generation: AtomicU64::new(0),
            closing: Mutex::new(None),
            gate: RwLock::new(()),
        })
    }

    /// How many boards the store holds.
    pub fn board_count(&self) -> Result<usize, StoreError> {
        self.using(|s| Ok(s.boards.len()))
    }
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl Store for SledStore {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn create_board(&self, id: Uuid, meta: &BoardMeta, snapshot: &[u8]) -> Result<(), StoreError> {
        self.writing(|s| {
            let json = serde_json::to_vec(meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut value = 0u64.to_be_bytes().to_vec();
            value.extend_from_slice(snapshot);
            s.docs.insert(snapshot_key(id), value).map_err(backend)?;
            // Metadata last: a board exists for readers only once its document does.
            s.boards.insert(id.as_bytes(), json).map_err(backend)?;
            s.db.flush().map_err(backend)?;
            Ok(())
        })
    }

    fn board_meta(&self, id: Uuid) -> Result<Option<BoardMeta>, StoreError> {
        self.using(|s| match s.boards.get(id.as_bytes()).map_err(backend)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("board {id}: {e}"))),
        })
    }

    fn put_board_meta(&self, id: Uuid, meta: &BoardMeta) -> Result<(), StoreError> {
        self.writing(|s| {
            let json = serde_json::to_vec(meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            s.boards.insert(id.as_bytes(), json).map_err(backend)?;
            Ok(())
        })
    }

    fn load_doc(&self, id: Uuid) -> Result<StoredDoc, StoreError> {
        self.using(|s| {
            let mut doc = StoredDoc::default();
            if let Some(value) = s.docs.get(snapshot_key(id)).map_err(backend)? {
                if value.len() >= 8 {
                    doc.snapshot_seq = u64::from_be_bytes(value[..8].try_into().expect("8 bytes"));
                    doc.snapshot = value[8..].to_vec();
                }
            }
            let legacy = legacy_update_key(id, 0);
            let entries =
                log_entries(&s.docs, &legacy[..17]).chain(log_entries(&s.log, id.as_bytes()));
            for entry in entries {
                let (seq, value) = entry?;
                doc.updates.push((seq, value.to_vec()));
            }
            Ok(doc)
        })
    }

    fn append_update(&self, id: Uuid, seq: u64, update: &[u8]) -> Result<(), StoreError> {
        self.writing(|s| {
            s.log.insert(log_key(id, seq), update).map_err(backend)?;
            Ok(())
        })
    }

    fn compact(&self, id: Uuid, snapshot: &[u8], up_to_seq: u64) -> Result<(), StoreError> {
        self.writing(|s| {
            let _gate = self.gate.read().unwrap_or_else(|e| e.into_inner());
            let stored_seq = s
                .docs
                .get(snapshot_key(id))
                .map_err(backend)?
                .and_then(|v| v.get(..8).and_then(|b| b.try_into().ok()))
                .map(u64::from_be_bytes);
            if stored_seq.is_some_and(|stored| up_to_seq < stored) {
                return Ok(()); // never back to an older snapshot (see `Store::compact`)
            }
            let mut value = up_to_seq.to_be_bytes().to_vec();
            value.extend_from_slice(snapshot);
            // The snapshot first: until the covered entries are gone they are only applied
            // again on a load, which changes nothing.
            s.docs.insert(snapshot_key(id), value).map_err(backend)?;
            drop_covered(
                &s.docs,
                legacy_update_key(id, 0)..=legacy_update_key(id, up_to_seq),
            )?;
            drop_covered(&s.log, log_key(id, 0)..=log_key(id, up_to_seq))?;
            Ok(())
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.using(|s| {
            s.db.flush().map_err(backend)?;
            Ok(())
        })
    }

    fn add_private_room(&self, board: Uuid, public_id: &str, room: Uuid) -> Result<(), StoreError> {
        self.writing(|s| {
            let mut key = board.as_bytes().to_vec();
            key.extend_from_slice(public_id.as_bytes());
            s.private_rooms
                .insert(key, room.as_bytes())
                .map_err(backend)?;
            Ok(())
        })
    }

    fn put_snapshot(
        &self,
        board: Uuid,
        meta: &SnapshotMeta,
        state: &[u8],
    ) -> Result<(), StoreError> {
        self.writing(|s| {
            let id = Uuid::parse_str(&meta.id)
                .map_err(|e| StoreError::Corrupt(format!("snapshot id: {e}")))?;
            let json = serde_json::to_vec(meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            // Value: metadata length (u32 BE), metadata JSON, then the state.
            let mut value = (json.len() as u32).to_be_bytes().to_vec();
            value.extend_from_slice(&json);
            value.extend_from_slice(state);
            s.snapshots
                .insert(snapshot_entry_key(board, id), value)
                .map_err(backend)?;
            Ok(())
        })
    }

    fn list_snapshots(&self, board: Uuid) -> Result<Vec<SnapshotMeta>, StoreError> {
        self.using(|s| {
            s.snapshots
                .scan_prefix(board.as_bytes())
                .map(|entry| {
                    let (_, value) = entry.map_err(backend)?;
                    Ok(split_snapshot(&value)?.0)
                })
                .collect()
        })
    }

    fn snapshot(
        &self,
        board: Uuid,
        id: Uuid,
    ) -> Result<Option<(SnapshotMeta, Vec<u8>)>, StoreError> {
        self.using(|s| {
            match s
                .snapshots
                .get(snapshot_entry_key(board, id))
                .map_err(backend)?
            {
                None => Ok(None),
                Some(value) => {
                    let (meta, state) = split_snapshot(&value)?;
                    Ok(Some((meta, state.to_vec())))
                }
            }
        })
    }

    /// Tree by tree, entry by entry: `[tree index][key length u32][key][value length
    /// u32][value]`, after a magic line and before `0xff` and the entry count (u64), so a
    /// truncated stream is detected. Compactions wait meanwhile; appends go on, and land
    /// in the copy or after it, in order (a board's log is read in sequence order and
    /// appended to in sequence order, so the copy holds a prefix of it).
    fn export(&self, out: &mut dyn std::io::Write) -> Result<u64, StoreError> {
        self.write_export(out)
    }

    fn private_rooms(&self, board: Uuid) -> Result<Vec<(String, Uuid)>, StoreError> {
        self.using(|s| {
            let mut rooms = Vec::new();
            for entry in s.private_rooms.scan_prefix(board.as_bytes()) {
                let (key, value) = entry.map_err(backend)?;
                let owner = String::from_utf8_lossy(&key[16..]).into_owned();
                let room = Uuid::from_slice(&value)
                    .map_err(|e| StoreError::Corrupt(format!("private room of {board}: {e}")))?;
                rooms.push((owner, room));
            }
            Ok(rooms)
        })
    }
}

#[cfg(test)]
mod tests;
