//! A store that cannot write (full disk, read-only data dir): the log says so, every update
//! after the failed write is refused (close 1011) until the board could be saved whole, so no
//! client takes an edit as kept for longer than the log's write delay while it is not, and
//! the server resumes by itself once the store works again.
//!
//! The failure is simulated: a store that delegates to sled but fails every write while a
//! switch is on (as root, as these tests run, a read-only directory would not stop sled;
//! a tiny tmpfs would, but mounting one is no test to run everywhere).

use journeyboard_server::store::{
    BoardMeta, SledStore, SnapshotMeta, Store, StoreError, StoredDoc,
};
use journeyboard_shared::{NewNote, NoteColor};
use journeyboard_tests::{create_board, logs, TestServer, YClient, PATIENCE};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// sled, but every write fails while `failing` is set.
struct FlakyStore {
    inner: SledStore,
    failing: Arc<AtomicBool>,
}

impl FlakyStore {
    fn write(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Backend(
                "No space left on device (os error 28)".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl Store for FlakyStore {
    fn create_board(&self, id: Uuid, meta: &BoardMeta, snapshot: &[u8]) -> Result<(), StoreError> {
        self.write()?;
        self.inner.create_board(id, meta, snapshot)
    }
    fn board_meta(&self, id: Uuid) -> Result<Option<BoardMeta>, StoreError> {
        self.inner.board_meta(id)
    }
    fn put_board_meta(&self, id: Uuid, meta: &BoardMeta) -> Result<(), StoreError> {
        self.write()?;
        self.inner.put_board_meta(id, meta)
    }
    fn load_doc(&self, id: Uuid) -> Result<StoredDoc, StoreError> {
        self.inner.load_doc(id)
    }
    fn append_update(&self, id: Uuid, seq: u64, update: &[u8]) -> Result<(), StoreError> {
        self.write()?;
        self.inner.append_update(id, seq, update)
    }
    fn compact(&self, id: Uuid, snapshot: &[u8], up_to_seq: u64) -> Result<(), StoreError> {
        self.write()?;
        self.inner.compact(id, snapshot, up_to_seq)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.write()?;
        self.inner.flush()
    }
    fn add_private_room(&self, board: Uuid, public_id: &str, room: Uuid) -> Result<(), StoreError> {
        self.write()?;
        self.inner.add_private_room(board, public_id, room)
    }
    fn private_rooms(&self, board: Uuid) -> Result<Vec<(String, Uuid)>, StoreError> {
        self.inner.private_rooms(board)
    }
    fn put_snapshot(
        &self,
        board: Uuid,
        meta: &SnapshotMeta,
        state: &[u8],
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.put_snapshot(board, meta, state)
    }
    fn list_snapshots(&self, board: Uuid) -> Result<Vec<SnapshotMeta>, StoreError> {
        self.inner.list_snapshots(board)
    }
    fn snapshot(
        &self,
        board: Uuid,
        id: Uuid,
    ) -> Result<Option<(SnapshotMeta, Vec<u8>)>, StoreError> {
        self.inner.snapshot(board, id)
    }
}

fn note(id: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: format!("text of {id}"),
        stage: "purchase".into(),
        lane: "actions".into(),
        color: NoteColor::Pink,
        author: "T".into(),
        created_at: 0.0,
        ..NewNote::default()
    }
}

#[tokio::test]
async fn a_failing_store_refuses_edits_clearly_and_the_server_resumes_when_it_works_again() {
    logs::capture();
    let dir = journeyboard_tests::temp_dir("flaky");
    let failing = Arc::new(AtomicBool::new(false));
    let store = Arc::new(FlakyStore {
        inner: SledStore::open(&dir).unwrap(),
        failing: Arc::clone(&failing),
    });
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = TestServer::start_with_store(addr, &dir, store, |_| {}).await;
    let board = create_board(server.addr, "Disk full", "current-state").await;
    let url = server.ws_url(&board.id, &board.participant_token);
    let mut writer = YClient::connect(&url).await;
    let bystander = YClient::connect(&url).await;
    writer.edit(|v, t| v.add_note(t, &note("before")));
    bystander
        .wait_until("before", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "before").is_some())
        })
        .await;

    failing.store(true, Ordering::SeqCst);
    // Relayed at once; the store write that follows fails (updates are written in batches,
    // `LOG_WRITE_DELAY` after they are relayed).
    writer.edit(|v, t| v.add_note(t, &note("during")));
    logs::wait_for(&[&board.id, "could not append updates", "No space left"]).await;
    // From then on the board refuses updates: the next one is not applied, not relayed.
    writer.edit(|v, t| v.add_note(t, &note("refused")));
    assert_eq!(
        writer.wait_closed().await,
        Some(1011),
        "storage unavailable"
    );
    logs::wait_for(&[&board.id, "the store still fails"]).await;
    assert!(bystander.read(|v, t| v.note(t, "refused").is_none()));
    // New boards are refused with a clear 500.
    let refused = journeyboard_tests::http_request(
        server.addr,
        "POST",
        "/api/boards",
        Some(r#"{"title": "x", "template": "current-state"}"#),
    )
    .await;
    assert_eq!(refused.status, 500);
    assert_eq!(refused.json()["error"], "internal error");
    // The writer comes back while the store still fails: its edit is refused again (the
    // server does not let it believe the edit is kept), and so is the bystander's.
    writer.reconnect().await;
    assert_eq!(writer.wait_closed().await, Some(1011));
    bystander.edit(|v, t| v.add_note(t, &note("bystander-during")));
    assert_eq!(bystander.wait_closed().await, Some(1011));

    // The cause goes away: the next edit saves the board whole and everything resumes.
    failing.store(false, Ordering::SeqCst);
    writer.reconnect().await;
    writer.edit(|v, t| v.add_note(t, &note("after")));
    let reader = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    reader
        .wait_until("everything", PATIENCE, |c| {
            c.read(|v, t| {
                ["before", "during", "refused", "after"]
                    .iter()
                    .all(|n| v.note(t, n).is_some())
            })
        })
        .await;
    logs::wait_for(&[&board.id, "the store works again"]).await;
    assert!(!writer.is_disconnected());
    // And it was stored: a restart has it all.
    let expected = reader.state_json();
    server.stop().await;
    let server = TestServer::start_in(&dir, std::time::Duration::from_secs(30)).await;
    let after = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    after
        .wait_until("restored", PATIENCE, |c| c.state_json() == expected)
        .await;
}
