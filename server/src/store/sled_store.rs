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

use super::{BoardMeta, SnapshotMeta, Store, StoreError, StoredDoc};
use crate::lock;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How often a failed store tries to open its database again.
pub const REOPEN_EVERY: Duration = Duration::from_secs(1);

/// How long opening the store again waits for the failed database to close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How often sled writes its buffers to disk. Together with the flush itself this bounds how
/// long an acknowledged update may sit only in memory (see `DURABILITY_DELAY` in the README).
pub const FLUSH_EVERY_MS: u64 = 100;

/// sled's page cache, in bytes (its default is 1 GiB). Loaded boards live in their rooms, so
/// the cache only serves loads, compactions and board metadata.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

const SNAPSHOT_TAG: u8 = 0;
/// Tags a log entry in `docs` (stores from before the `log` tree).
const LEGACY_UPDATE_TAG: u8 = 1;

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

/// The first bytes of an export stream.
const EXPORT_MAGIC: &[u8] = b"JOURNEYBOARD-EXPORT-1\n";
/// Marks the end of an export stream, before the entry count.
const EXPORT_END: u8 = 0xff;

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

    /// Runs `op` on the open database, reopening it first if it failed a while ago; a
    /// backend error marks the store as failing.
    fn using<T>(&self, op: impl FnOnce(&Open) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let result = self.current().and_then(|open| op(&open));
        if let Err(StoreError::Backend(_)) = &result {
            lock(&self.failing_since).get_or_insert_with(Instant::now);
        }
        result
    }

    /// Like [`SledStore::using`], for writes: while the store is failing and not yet due to be
    /// opened again, a write fails at once without reaching sled. sled refuses writes after a
    /// failure anyway, and a large value it fails to write (over 128 KiB, written to a file of
    /// its own) leaves its log buffer unfinished, so that its next flush never returns.
    fn writing<T>(&self, op: impl FnOnce(&Open) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if matches!(*lock(&self.failing_since), Some(at) if at.elapsed() < REOPEN_EVERY) {
            return Err(StoreError::Backend(
                "the store is failing (a write failed less than a second ago)".into(),
            ));
        }
        self.using(op)
    }

    /// The open database: the current one, or, if the store has been failing for
    /// [`REOPEN_EVERY`], a freshly opened one (sled's own error state never clears).
    fn current(&self) -> Result<Arc<Open>, StoreError> {
        let retry = matches!(*lock(&self.failing_since), Some(at) if at.elapsed() >= REOPEN_EVERY);
        if retry {
            self.reopen();
        }
        self.open
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| StoreError::Backend("the store could not be opened again".into()))
    }

    /// Drops the failed database and opens it again.
    fn reopen(&self) {
        let mut open = self.open.write().unwrap_or_else(|e| e.into_inner());
        let mut failing = lock(&self.failing_since);
        if !matches!(*failing, Some(at) if at.elapsed() >= REOPEN_EVERY) {
            return; // another thread just did
        }
        // The old database must be gone before sled can lock its files again. It is dropped on
        // a thread of its own: sled flushes on drop, and after some write failures that flush
        // never returns. While it is stuck it holds sled's process-wide concurrency lock, which
        // every database's writes take: one opened now (possible when the data directory was
        // deleted and so holds no file lock) would hang every caller. So the store keeps
        // failing until the old one has closed, which may take a restart.
        let mut closing = lock(&self.closing);
        let wait = match open.take() {
            Some(old) => {
                let (done, dropped) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    drop(old);
                    let _ = done.send(());
                });
                *closing = Some(dropped);
                CLOSE_WAIT
            }
            None => Duration::ZERO, // a later try: only look whether it has closed since
        };
        if let Some(dropped) = closing.as_ref() {
            if let Err(RecvTimeoutError::Timeout) = dropped.recv_timeout(wait) {
                *failing = Some(Instant::now());
                if !wait.is_zero() {
                    tracing::error!(
                        "the failed store did not close within {CLOSE_WAIT:?}, so it cannot be \
                         opened again until it does: restart the server"
                    );
                }
                return;
            }
            *closing = None;
        }
        drop(closing);
        match Open::new(&self.dir) {
            Ok(reopened) => {
                *open = Some(Arc::new(reopened));
                *failing = None;
                let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                tracing::warn!(generation, "the store failed and was opened again");
            }
            Err(e) => {
                *failing = Some(Instant::now());
                tracing::error!("the store could not be opened again: {e}");
            }
        }
    }

    /// Reads an export stream (from [`Store::export`]) into this store, over what it holds;
    /// fails on a truncated or foreign stream. Returns the number of entries.
    pub fn import(&self, input: &mut dyn std::io::Read) -> Result<u64, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("export stream: {what}"));
        let mut magic = vec![0u8; EXPORT_MAGIC.len()];
        input
            .read_exact(&mut magic)
            .map_err(|_| corrupt("too short"))?;
        if magic != EXPORT_MAGIC {
            return Err(corrupt("not a Journeyboard export"));
        }
        let open = self.current()?;
        let trees = open.trees();
        let mut count = 0u64;
        loop {
            let mut tag = [0u8; 1];
            input
                .read_exact(&mut tag)
                .map_err(|_| corrupt("truncated"))?;
            if tag[0] == EXPORT_END {
                let mut n = [0u8; 8];
                input.read_exact(&mut n).map_err(|_| corrupt("truncated"))?;
                if u64::from_be_bytes(n) != count {
                    return Err(corrupt("entry count does not match"));
                }
                return Ok(count);
            }
            let tree = trees
                .get(tag[0] as usize)
                .ok_or_else(|| corrupt("unknown tree"))?;
            let key = read_chunk(input).ok_or_else(|| corrupt("truncated"))?;
            let value = read_chunk(input).ok_or_else(|| corrupt("truncated"))?;
            tree.insert(key, value).map_err(backend)?;
            count += 1;
        }
    }

    /// How many boards the store holds.
    pub fn board_count(&self) -> Result<usize, StoreError> {
        self.using(|s| Ok(s.boards.len()))
    }
}

fn read_chunk(input: &mut dyn std::io::Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len).ok()?;
    let mut chunk = vec![0u8; u32::from_be_bytes(len) as usize];
    input.read_exact(&mut chunk).ok()?;
    Some(chunk)
}

fn write_chunk(out: &mut dyn std::io::Write, chunk: &[u8]) -> std::io::Result<()> {
    out.write_all(&(chunk.len() as u32).to_be_bytes())?;
    out.write_all(chunk)
}

/// Key of a snapshot in tree `snapshots`: board id ++ snapshot id.
fn snapshot_entry_key(board: Uuid, id: Uuid) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(board.as_bytes());
    key[16..].copy_from_slice(id.as_bytes());
    key
}

fn split_snapshot(value: &[u8]) -> Result<(SnapshotMeta, &[u8]), StoreError> {
    let corrupt = || StoreError::Corrupt("snapshot entry".into());
    let len = u32::from_be_bytes(
        value
            .get(..4)
            .ok_or_else(corrupt)?
            .try_into()
            .map_err(|_| corrupt())?,
    ) as usize;
    let json = value.get(4..4 + len).ok_or_else(corrupt)?;
    let meta =
        serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(format!("snapshot: {e}")))?;
    Ok((meta, &value[4 + len..]))
}

/// Removes the log entries with keys in `range` in one batch.
fn drop_covered<const N: usize>(
    tree: &sled::Tree,
    range: std::ops::RangeInclusive<[u8; N]>,
) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for entry in tree.range(range) {
        let (key, _) = entry.map_err(backend)?;
        batch.remove(key);
    }
    tree.apply_batch(batch).map_err(backend)
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn snapshot_key(id: Uuid) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[..16].copy_from_slice(id.as_bytes());
    key[16] = SNAPSHOT_TAG;
    key
}

fn log_key(id: Uuid, seq: u64) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(id.as_bytes());
    key[16..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// A log entry's key in `docs`, where stores from before the `log` tree kept it.
fn legacy_update_key(id: Uuid, seq: u64) -> [u8; 25] {
    let mut key = [0u8; 25];
    key[..16].copy_from_slice(id.as_bytes());
    key[16] = LEGACY_UPDATE_TAG;
    key[17..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The log entries of board `id` in `tree` whose keys are `prefix ++ seq`, in order.
fn log_entries(
    tree: &sled::Tree,
    prefix: &[u8],
) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> {
    let at = prefix.len();
    tree.scan_prefix(prefix).map(move |entry| {
        let (key, value) = entry.map_err(backend)?;
        let seq = key
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| StoreError::Corrupt(format!("a log key of {} bytes", key.len())))?;
        Ok((seq, value))
    })
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
        self.using(|s| {
            let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
            let io = |e: std::io::Error| StoreError::Backend(format!("writing the export: {e}"));
            out.write_all(EXPORT_MAGIC).map_err(io)?;
            let mut count = 0u64;
            for (index, tree) in s.trees().iter().enumerate() {
                for entry in tree.iter() {
                    let (key, value) = entry.map_err(backend)?;
                    out.write_all(&[index as u8]).map_err(io)?;
                    write_chunk(out, &key).map_err(io)?;
                    write_chunk(out, &value).map_err(io)?;
                    count += 1;
                }
            }
            out.write_all(&[EXPORT_END]).map_err(io)?;
            out.write_all(&count.to_be_bytes()).map_err(io)?;
            Ok(count)
        })
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
mod tests {
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("jb-sled-{}", Uuid::new_v4()))
    }

    /// The store in `dir`, opened, with a new board whose snapshot is "s"; and its id.
    fn store_with_a_board(dir: &Path) -> (SledStore, Uuid) {
        let store = SledStore::open(dir).unwrap();
        let id = Uuid::new_v4();
        store
            .create_board(id, &super::super::contract::meta(), b"s")
            .unwrap();
        (store, id)
    }

    #[test]
    fn sled_store_keeps_the_store_contract() {
        let dir = temp_dir();
        super::super::contract::store_contract(&SledStore::open(&dir).unwrap());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_export_imports_into_an_equal_store_and_a_truncated_one_is_refused() {
        let (from, to) = (temp_dir(), temp_dir());
        let source = SledStore::open(&from).unwrap();
        super::super::contract::store_contract(&source);
        let mut stream = Vec::new();
        let entries = source.export(&mut stream).unwrap();
        let copy = SledStore::open(&to).unwrap();
        assert_eq!(copy.import(&mut stream.as_slice()).unwrap(), entries);
        let (source_open, copy_open) = (source.current().unwrap(), copy.current().unwrap());
        for (a, b) in source_open.trees().iter().zip(copy_open.trees()) {
            let a: Vec<_> = a.iter().map(Result::unwrap).collect();
            let b: Vec<_> = b.iter().map(Result::unwrap).collect();
            assert_eq!(a, b);
        }
        let cut = &stream[..stream.len() - 3];
        assert!(SledStore::open(&temp_dir())
            .unwrap()
            .import(&mut &cut[..])
            .is_err());
        let _ = std::fs::remove_dir_all(from);
        let _ = std::fs::remove_dir_all(to);
    }

    #[test]
    fn data_survives_reopening() {
        let dir = temp_dir();
        let id = {
            let (store, id) = store_with_a_board(&dir);
            store.append_update(id, 1, b"u1").unwrap();
            store.flush().unwrap();
            id
        };
        let store = SledStore::open(&dir).unwrap();
        assert!(store.board_meta(id).unwrap().is_some());
        assert_eq!(
            store.load_doc(id).unwrap().updates,
            vec![(1, b"u1".to_vec())]
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_log_kept_in_docs_by_an_older_store_is_read_and_compacted_away() {
        let dir = temp_dir();
        let (store, id) = store_with_a_board(&dir);
        let open = store.current().unwrap();
        for seq in 1..=2 {
            let update = format!("old{seq}");
            open.docs
                .insert(legacy_update_key(id, seq), update.as_bytes())
                .unwrap();
        }
        store.append_update(id, 3, b"new3").unwrap();
        let loaded = store.load_doc(id).unwrap();
        assert_eq!(
            loaded.updates,
            vec![
                (1, b"old1".to_vec()),
                (2, b"old2".to_vec()),
                (3, b"new3".to_vec())
            ]
        );
        assert_eq!(loaded.next_seq(), 4);
        store.compact(id, b"s2", 2).unwrap();
        let compacted = store.load_doc(id).unwrap();
        assert_eq!(compacted.updates, vec![(3, b"new3".to_vec())]);
        assert_eq!(open.docs.len(), 1, "only the snapshot is left in docs");
        drop((open, store));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The data directory deleted under a running store: a large value (which sled writes to
    /// a file of its own) fails, and sled's flush of the failed database then never returns.
    /// Opening a new database beside it would wait forever for sled's process-wide lock that
    /// the stuck flush holds, and with it every later call; the store must fail instead.
    #[test]
    fn a_store_whose_directory_was_deleted_fails_and_does_not_hang() {
        let dir = temp_dir();
        let (store, id) = store_with_a_board(&dir);
        store.append_update(id, 1, b"u1").unwrap();
        store.flush().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let large = vec![7u8; 512 * 1024];
        assert!(store.compact(id, &large, 1).is_err(), "a large value fails");
        std::thread::sleep(REOPEN_EVERY);
        let store = Arc::new(store);
        let (done, result) = std::sync::mpsc::channel();
        let writer = Arc::clone(&store);
        std::thread::spawn(move || {
            let _ = done.send(writer.append_update(id, 2, b"u2"));
            // A compaction writes a batch, which takes sled's lock exclusively.
            let _ = done.send(writer.compact(id, b"s2", 2));
            let _ = done.send(writer.append_update(id, 3, b"u3"));
        });
        let wait = CLOSE_WAIT + Duration::from_secs(10);
        for op in ["an append", "a compaction", "the next append"] {
            let written = result.recv_timeout(wait);
            let written = written.unwrap_or_else(|_| panic!("{op} returns, not hangs"));
            assert!(
                written.is_err(),
                "{op} fails while the failed database has not closed"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
