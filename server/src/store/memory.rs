//! An in-memory store for unit tests of rooms: same contract as sled, nothing on disk.

use super::{BoardMeta, Store, StoreError, StoredDoc};
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// Boards kept in a map; a std `Mutex` is right here since no lock is held across `.await`.
#[derive(Default)]
pub struct MemoryStore {
    boards: Mutex<HashMap<Uuid, (BoardMeta, StoredDoc)>>,
}

impl MemoryStore {
    fn with_board<R>(
        &self,
        id: Uuid,
        f: impl FnOnce(&mut (BoardMeta, StoredDoc)) -> R,
    ) -> Result<R, StoreError> {
        let mut boards = self.boards.lock().unwrap_or_else(|e| e.into_inner());
        let board = boards
            .get_mut(&id)
            .ok_or_else(|| StoreError::Backend(format!("no board {id}")))?;
        Ok(f(board))
    }
}

impl Store for MemoryStore {
    fn create_board(&self, id: Uuid, meta: &BoardMeta, snapshot: &[u8]) -> Result<(), StoreError> {
        let doc = StoredDoc {
            snapshot: snapshot.to_vec(),
            ..StoredDoc::default()
        };
        let mut boards = self.boards.lock().unwrap_or_else(|e| e.into_inner());
        boards.insert(id, (meta.clone(), doc));
        Ok(())
    }

    fn board_meta(&self, id: Uuid) -> Result<Option<BoardMeta>, StoreError> {
        let boards = self.boards.lock().unwrap_or_else(|e| e.into_inner());
        Ok(boards.get(&id).map(|(meta, _)| meta.clone()))
    }

    fn put_board_meta(&self, id: Uuid, meta: &BoardMeta) -> Result<(), StoreError> {
        self.with_board(id, |board| board.0 = meta.clone())
    }

    fn load_doc(&self, id: Uuid) -> Result<StoredDoc, StoreError> {
        self.with_board(id, |board| board.1.clone())
    }

    fn append_update(&self, id: Uuid, seq: u64, update: &[u8]) -> Result<(), StoreError> {
        self.with_board(id, |board| board.1.updates.push((seq, update.to_vec())))
    }

    fn compact(&self, id: Uuid, snapshot: &[u8], up_to_seq: u64) -> Result<(), StoreError> {
        self.with_board(id, |(_, doc)| {
            doc.snapshot = snapshot.to_vec();
            doc.snapshot_seq = up_to_seq;
            doc.updates.retain(|(seq, _)| *seq > up_to_seq);
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_keeps_the_store_contract() {
        super::super::contract::store_contract(&super::MemoryStore::default());
    }
}
