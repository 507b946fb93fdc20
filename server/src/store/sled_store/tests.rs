//! The sled store on disk: the store contract, export and import, reopening, logs of older
//! stores, and a data directory deleted under a running store.

use super::reopen::CLOSE_WAIT;
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
