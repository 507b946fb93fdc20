//! The official Yjs JS client (y-websocket's `WebsocketProvider`, in Node) against the real
//! server, unchanged: it syncs the seeded board, reads a note written by a Rust client,
//! writes one of its own per docs/SCHEMA.md, shares presence, and converges back after the
//! server refuses a participant's facilitator-only change.
//! Needs `npm ci` in tests/js (the README's test command does it).

use journeyboard_shared::{NewNote, NoteColor};
use journeyboard_tests::{create_board, TestServer, YClient, PATIENCE};
use std::path::Path;

const BULK_NOTES: usize = 8;
const BULK_NOTE_CHARS: usize = 4_000;

fn bulk_note(i: usize) -> NewNote {
    NewNote {
        id: format!("bulk-{i}"),
        text: "abcdefghij".repeat(BULK_NOTE_CHARS / 10),
        stage: "awareness".into(),
        lane: "thoughts".into(),
        color: NoteColor::Blue,
        author: "Rust".into(),
        created_at: 1.0,
        ..NewNote::default()
    }
}

#[tokio::test]
async fn the_official_js_client_syncs_reads_and_writes_a_board() {
    let js_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        js_dir.join("node_modules/y-websocket").exists(),
        "JS test dependencies missing: run `npm ci` in tests/js (the README's test command does)"
    );
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Interop", "current-state").await;
    let rust = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    rust.set_presence(r##"{"user":{"name":"Rust client","color":"#ff5500"}}"##);
    rust.edit(|view, txn| {
        view.add_note(
            txn,
            &NewNote {
                id: "from-rust".into(),
                text: "Written by yrs — ünïcode ✓".into(),
                stage: "awareness".into(),
                lane: "thoughts".into(),
                color: NoteColor::Yellow,
                author: "Rust".into(),
                created_at: 1.0,
                ..NewNote::default()
            },
        )
    });

    // Enough text that the board's initial sync (about 32 KB) leaves the server as several
    // WebSocket fragments, which the JS client must put back together.
    rust.edit(|view, txn| {
        for i in 0..BULK_NOTES {
            view.add_note(txn, &bulk_note(i));
        }
    });

    let node = tokio::process::Command::new("node")
        .current_dir(&js_dir)
        .arg("interop.mjs")
        .arg(format!("ws://{}/ws", server.addr))
        .arg(&board.id)
        .arg(&board.participant_token)
        .output();
    let node = tokio::spawn(node);

    rust.wait_until("the JS note arrives", PATIENCE, |c| {
        c.read(|v, t| v.note(t, "from-js").is_some())
    })
    .await;
    let js_note = rust.read(|v, t| v.note(t, "from-js")).unwrap();
    assert_eq!(js_note.text, "Written by y-websocket");
    assert_eq!(
        (js_note.stage.as_str(), js_note.lane.as_str()),
        ("purchase", "pain-points")
    );
    assert!(
        rust.read(|v, t| v.note_text(t, "from-js").is_some()),
        "JS wrote text as a Y.Text"
    );
    rust.wait_until("JS presence arrives", PATIENCE, |c| {
        c.peers_presence()
            .iter()
            .any(|(_, s)| s.contains("JS client"))
    })
    .await;
    rust.edit(|view, txn| {
        view.add_note(
            txn,
            &NewNote {
                id: "ack-from-rust".into(),
                text: "seen".into(),
                stage: "awareness".into(),
                lane: "actions".into(),
                color: NoteColor::Yellow,
                author: "Rust".into(),
                created_at: 2.0,
                ..NewNote::default()
            },
        )
    });

    let output = node.await.unwrap().expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON line");
    assert_eq!(seen["title"], "Interop");
    assert_eq!(seen["phase"], "icebreaker");
    assert_eq!(seen["stages"][0], "Awareness");
    assert_eq!(seen["lanes"].as_array().unwrap().len(), 9);
    assert_eq!(seen["rustNoteText"], "Written by yrs — ünïcode ✓");
    assert_eq!(seen["rustNoteTextIsYText"], true);
    assert_eq!(seen["bulkTextLength"], BULK_NOTES * BULK_NOTE_CHARS);
    // The JS participant's phase and stage change was refused: it converged back (above) and
    // the Rust client never had it.
    assert_eq!(rust.read(|v, t| v.phase(t)), "icebreaker");
    assert_eq!(rust.read(|v, t| v.stages(t).len()), 5);
    assert!(
        seen["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "Rust client"),
        "{seen}"
    );
}
