//! The byte layout of the store's trees (described in `sled_store.rs`): building keys,
//! splitting a named snapshot's value, and reading or dropping a board's log entries. Used by
//! the [`Store`](crate::store::Store) methods of [`SledStore`](super::SledStore).

use super::backend;
use crate::store::{SnapshotMeta, StoreError};
use uuid::Uuid;

const SNAPSHOT_TAG: u8 = 0;
/// Tags a log entry in `docs` (stores from before the `log` tree).
const LEGACY_UPDATE_TAG: u8 = 1;

/// Key of a snapshot in tree `snapshots`: board id ++ snapshot id.
pub(super) fn snapshot_entry_key(board: Uuid, id: Uuid) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(board.as_bytes());
    key[16..].copy_from_slice(id.as_bytes());
    key
}

pub(super) fn split_snapshot(value: &[u8]) -> Result<(SnapshotMeta, &[u8]), StoreError> {
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
pub(super) fn drop_covered<const N: usize>(
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

pub(super) fn snapshot_key(id: Uuid) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[..16].copy_from_slice(id.as_bytes());
    key[16] = SNAPSHOT_TAG;
    key
}

pub(super) fn log_key(id: Uuid, seq: u64) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(id.as_bytes());
    key[16..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// A log entry's key in `docs`, where stores from before the `log` tree kept it.
pub(super) fn legacy_update_key(id: Uuid, seq: u64) -> [u8; 25] {
    let mut key = [0u8; 25];
    key[..16].copy_from_slice(id.as_bytes());
    key[16] = LEGACY_UPDATE_TAG;
    key[17..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The log entries of board `id` in `tree` whose keys are `prefix ++ seq`, in order.
pub(super) fn log_entries(
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
