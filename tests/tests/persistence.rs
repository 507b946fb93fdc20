//! Nothing acknowledged is lost: clean restarts, SIGKILL of a child server, compaction.

use journeyboard_shared::{NewNote, NoteColor};
use journeyboard_tests::{create_board, ChildServer, TestServer, YClient, PATIENCE};
use std::time::Duration;

const CHILD: &str = env!("CARGO_BIN_EXE_journeyboard-child");

/// The durability delay stated in the README: sled flushes every 100 ms; one second leaves
/// room for a loaded machine.
const DURABILITY_DELAY: Duration = Duration::from_secs(1);

fn note(id: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: format!("text of {id}"),
        stage: "purchase".into(),
        lane: "pain-points".into(),
        color: NoteColor::Orange,
        author: "T".into(),
        created_at: 0.0,
        ..NewNote::default()
    }
}

#[tokio::test]
async fn a_clean_restart_restores_every_update() {
    let dir = journeyboard_tests::temp_dir("restart");
    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let board = create_board(server.addr, "Restart", "current-state").await;
    let a = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    for i in 0..30 {
        a.edit(|view, txn| view.add_note(txn, &note(&format!("n{i}"))));
    }
    let b = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    b.wait_until("relayed", PATIENCE, |c| {
        c.read(|v, t| v.note_count(t) == 30)
    })
    .await;
    let before = a.state_json();
    server.stop().await;

    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let c = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    c.wait_until("restored", PATIENCE, |c| c.state_json() == before)
        .await;
}

#[tokio::test]
async fn sigkill_loses_nothing_relayed_before_the_durability_delay() {
    let dir = journeyboard_tests::temp_dir("kill9");
    for round in 0..3 {
        let server = ChildServer::start(CHILD, &dir).await;
        let board = create_board(server.addr, "Crash", "current-state").await;
        let url = |token: &str| format!("ws://{}/ws/{}?t={token}", server.addr, board.id);
        let writer = YClient::connect(&url(&board.participant_token)).await;
        let watcher = YClient::connect(&url(&board.viewer_token)).await;
        for i in 0..50 {
            writer.edit(|view, txn| view.add_note(txn, &note(&format!("r{round}-{i}"))));
        }
        watcher
            .wait_until("all relayed", PATIENCE, |c| {
                c.read(|v, t| v.note_count(t) == 50)
            })
            .await;
        let relayed = watcher.state_json();
        tokio::time::sleep(DURABILITY_DELAY).await;
        server.kill9().await;

        let server = ChildServer::start(CHILD, &dir).await;
        let url = format!(
            "ws://{}/ws/{}?t={}",
            server.addr, board.id, board.viewer_token
        );
        let after = YClient::connect(&url).await;
        after
            .wait_until("everything relayed is back", PATIENCE, |c| {
                c.state_json() == relayed
            })
            .await;
        server.kill9().await;
    }
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_everything() {
    let dir = journeyboard_tests::temp_dir("sigterm");
    let server = ChildServer::start(CHILD, &dir).await;
    let board = create_board(server.addr, "Term", "day-in-the-life").await;
    let url = format!(
        "ws://{}/ws/{}?t={}",
        server.addr, board.id, board.participant_token
    );
    let writer = YClient::connect(&url).await;
    writer.edit(|view, txn| view.add_note(txn, &note("last-words")));
    writer.wait_until("sent", PATIENCE, |_| true).await;
    // Give the frame time to cross the socket; then terminate at once (no durability wait).
    let watcher = YClient::connect(&url).await;
    watcher
        .wait_until("relayed", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "last-words").is_some())
        })
        .await;
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(
        writer.wait_closed().await,
        Some(1001),
        "clients told the server is going away"
    );

    let server = ChildServer::start(CHILD, &dir).await;
    let url = format!(
        "ws://{}/ws/{}?t={}",
        server.addr, board.id, board.viewer_token
    );
    let after = YClient::connect(&url).await;
    after
        .wait_until("kept", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "last-words").is_some())
        })
        .await;
    server.kill9().await;
}

#[tokio::test]
async fn compaction_under_live_writes_loses_nothing_and_bounds_the_log() {
    let dir = journeyboard_tests::temp_dir("compact");
    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let board = create_board(server.addr, "Long session", "current-state").await;
    let id = uuid::Uuid::parse_str(&board.id).unwrap();
    let url = server.ws_url(&board.id, &board.participant_token);
    let writers = [YClient::connect(&url).await, YClient::connect(&url).await];
    let total = 2 * 700;
    for i in 0..700 {
        for (w, writer) in writers.iter().enumerate() {
            writer.edit(|view, txn| view.add_note(txn, &note(&format!("w{w}-{i}"))));
        }
    }
    writers[0]
        .wait_until("all relayed", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t) == total)
        })
        .await;
    let expected = writers[0].state_json();
    // Compaction ran in the background during the writes; the log holds only the tail.
    let stored = server.state.store.load_doc(id).unwrap();
    assert!(stored.snapshot_seq > 0, "a compaction happened");
    assert!(
        stored.updates.len() < total,
        "log compacted: {} entries",
        stored.updates.len()
    );
    server.stop().await;

    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let reader = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    reader
        .wait_until("all restored", PATIENCE, |c| c.state_json() == expected)
        .await;
}
