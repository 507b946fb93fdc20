//! A whole store as one byte stream and back (`backup.rs` writes and reads it): the export
//! that writes it tree by tree and the import that reads it into a store. The stream's format
//! is documented on the `export` method of `SledStore`'s [`Store`](crate::store::Store) impl,
//! in `sled_store.rs`, which calls [`SledStore::write_export`]. Talks to sled only.

use super::{backend, SledStore};
use crate::store::StoreError;

/// The first bytes of an export stream.
const EXPORT_MAGIC: &[u8] = b"JOURNEYBOARD-EXPORT-1\n";
/// Marks the end of an export stream, before the entry count.
const EXPORT_END: u8 = 0xff;

impl SledStore {
    /// Reads an export stream (from [`Store::export`](crate::store::Store::export)) into this
    /// store, over what it holds; fails on a truncated or foreign stream. Returns the number
    /// of entries.
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

    /// Writes the export stream (`Store::export` of this store: its doc has the format).
    pub(super) fn write_export(&self, out: &mut dyn std::io::Write) -> Result<u64, StoreError> {
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
