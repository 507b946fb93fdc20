//! An in-memory store for unit tests of rooms: same contract as sled, nothing on disk.

use super::{BoardMeta, SnapshotMeta, Store, StoreError, StoredDoc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use uuid::Uuid;

/// Boards kept in maps; a std `Mutex` is right here since no lock is held across `.await`.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    metas: HashMap<Uuid, BoardMeta>,
    /// Documents of boards and of private rooms.
    docs: HashMap<Uuid, StoredDoc>,
    /// (board, owner's public id) -> private room id.
    private_rooms: BTreeMap<(Uuid, String), Uuid>,
    /// (board, snapshot id) -> (metadata, state).
    snapshots: BTreeMap<(Uuid, String), (SnapshotMeta, Vec<u8>)>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_doc<R>(&self, id: Uuid, f: impl FnOnce(&mut StoredDoc) -> R) -> Result<R, StoreError> {
        let mut inner = self.lock();
        let doc = inner
            .docs
            .get_mut(&id)
            .ok_or_else(|| StoreError::Backend(format!("no board {id}")))?;
        Ok(f(doc))
    }
}

impl Store for MemoryStore {
    fn create_board(&self, id: Uuid, meta: &BoardMeta, snapshot: &[u8]) -> Result<(), StoreError> {
        let doc = StoredDoc {
            snapshot: snapshot.to_vec(),
            ..StoredDoc::default()
        };
        let mut inner = self.lock();
        inner.docs.insert(id, doc);
        inner.metas.insert(id, meta.clone());
        Ok(())
    }

    fn board_meta(&self, id: Uuid) -> Result<Option<BoardMeta>, StoreError> {
        Ok(self.lock().metas.get(&id).cloned())
    }

    fn put_board_meta(&self, id: Uuid, meta: &BoardMeta) -> Result<(), StoreError> {
        let mut inner = self.lock();
        match inner.metas.get_mut(&id) {
            Some(stored) => {
                *stored = meta.clone();
                Ok(())
            }
            None => Err(StoreError::Backend(format!("no board {id}"))),
        }
    }

    fn load_doc(&self, id: Uuid) -> Result<StoredDoc, StoreError> {
        self.with_doc(id, |doc| doc.clone())
    }

    fn append_update(&self, id: Uuid, seq: u64, update: &[u8]) -> Result<(), StoreError> {
        self.with_doc(id, |doc| doc.updates.push((seq, update.to_vec())))
    }

    fn compact(&self, id: Uuid, snapshot: &[u8], up_to_seq: u64) -> Result<(), StoreError> {
        self.with_doc(id, |doc| {
            if up_to_seq < doc.snapshot_seq {
                return; // never back to an older snapshot (see `Store::compact`)
            }
            doc.snapshot = snapshot.to_vec();
            doc.snapshot_seq = up_to_seq;
            doc.updates.retain(|(seq, _)| *seq > up_to_seq);
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn add_private_room(&self, board: Uuid, public_id: &str, room: Uuid) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.docs.entry(room).or_default();
        inner
            .private_rooms
            .insert((board, public_id.to_string()), room);
        Ok(())
    }

    fn put_snapshot(
        &self,
        board: Uuid,
        meta: &SnapshotMeta,
        state: &[u8],
    ) -> Result<(), StoreError> {
        self.lock()
            .snapshots
            .insert((board, meta.id.clone()), (meta.clone(), state.to_vec()));
        Ok(())
    }

    fn list_snapshots(&self, board: Uuid) -> Result<Vec<SnapshotMeta>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .snapshots
            .iter()
            .filter(|((b, _), _)| *b == board)
            .map(|(_, (meta, _))| meta.clone())
            .collect())
    }

    fn snapshot(
        &self,
        board: Uuid,
        id: Uuid,
    ) -> Result<Option<(SnapshotMeta, Vec<u8>)>, StoreError> {
        Ok(self.lock().snapshots.get(&(board, id.to_string())).cloned())
    }

    fn private_rooms(&self, board: Uuid) -> Result<Vec<(String, Uuid)>, StoreError> {
        Ok(self
            .lock()
            .private_rooms
            .iter()
            .filter(|((b, _), _)| *b == board)
            .map(|((_, owner), room)| (owner.clone(), *room))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_keeps_the_store_contract() {
        super::super::contract::store_contract(&super::MemoryStore::default());
    }
}
