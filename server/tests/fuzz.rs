//! Fuzzing the WebSocket message handling: arbitrary bytes and mutated y-sync frames (sync
//! steps 1 and 2, updates, awareness, queries) go to `protocol::decode_frame` and
//! `Room::receive` from a participant, a facilitator and a viewer. Whatever comes in: no
//! panic, a document that still encodes, decodes and reads, only well-formed frames sent to
//! peers, and a document that grows no more than the bytes sent.
//!
//! Bounded: a fixed number of cases (`FUZZ_CASES`, default 1000 per property: about two seconds),
//! so CI runs it with every `cargo test`. `FUZZ_CASES=20000 cargo test -p
//! journeyboard-server --test fuzz` fuzzes longer. The corpus in `tests/fuzz-corpus/`
//! (interesting inputs, one frame per file) is replayed as a regular test;
//! `cargo test -p journeyboard-server --test fuzz -- --ignored` rewrites its seed files.

use journeyboard_server::room::protocol::{self, decode_frame};
use journeyboard_server::room::{Joined, Outgoing, Room};
use journeyboard_server::store::{BoardMeta, MemoryStore, Store};
use journeyboard_shared::schema::{new_board_doc, BoardDoc};
use journeyboard_shared::{NewNote, Role, Template};
use proptest::prelude::*;
use std::sync::Arc;
use yrs::sync::{Awareness, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

/// A loaded board with three peers, one per role.
struct Board {
    room: Arc<Room>,
    peers: Vec<Joined>,
    initial_size: usize,
}

fn board() -> Board {
    let store = Arc::new(MemoryStore::default());
    let id = uuid::Uuid::new_v4();
    let doc = new_board_doc("Fuzz", Template::ServiceBlueprint, 0.0);
    let snapshot = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let meta = BoardMeta {
        title: "Fuzz".into(),
        template: "service-blueprint".into(),
        created_at: 0,
        facilitator_hash: String::new(),
        participant_hash: String::new(),
        viewer_hash: String::new(),
    };
    store.create_board(id, &meta, &snapshot).unwrap();
    let room = Arc::new(Room::load(id, store).unwrap());
    let peers = [Role::Participant, Role::Facilitator, Role::Viewer]
        .into_iter()
        .map(|role| room.join(role).unwrap())
        .collect();
    Board {
        initial_size: room.encode_state().len(),
        room,
        peers,
    }
}

/// Valid frames to start from: what real clients send.
fn seeds() -> Vec<Vec<u8>> {
    let client = Doc::with_client_id(4242);
    let view = BoardDoc::new(&client);
    let note = |id: &str, text: &str| NewNote {
        id: id.into(),
        text: text.into(),
        stage: "purchase".into(),
        lane: "actions".into(),
        ..NewNote::default()
    };
    let mut updates = Vec::new();
    let mut edit = |change: &dyn Fn(&mut yrs::TransactionMut)| {
        let mut txn = client.transact_mut();
        change(&mut txn);
        updates.push(txn.encode_update_v1());
    };
    edit(&|txn| view.add_note(txn, &note("a", "hello")));
    edit(&|txn| {
        view.set_note_text(txn, "a", "hello, world");
    });
    edit(&|txn| view.add_note(txn, &note("b", "ünïcødé ✓")));
    edit(&|txn| {
        view.delete_note(txn, "a");
    });
    edit(&|txn| view.set_phase(txn, journeyboard_shared::Phase::Walkthrough));
    edit(&|txn| view.insert_stage(txn, 0, "pre", "Pre"));
    let mut frames: Vec<Vec<u8>> = updates
        .iter()
        .flat_map(|u| {
            [
                Message::Sync(SyncMessage::Update(u.clone())).encode_v1(),
                Message::Sync(SyncMessage::SyncStep2(u.clone())).encode_v1(),
            ]
        })
        .collect();
    let whole = client
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    frames.push(Message::Sync(SyncMessage::SyncStep2(whole)).encode_v1());
    frames.push(Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1());
    frames
        .push(Message::Sync(SyncMessage::SyncStep1(client.transact().state_vector())).encode_v1());
    let mut awareness = Awareness::new(Doc::with_client_id(77));
    awareness.set_local_state_raw(r##"{"user":{"name":"F","color":"#ff0000"},"selected":"b"}"##);
    frames.push(Message::Awareness(awareness.update().unwrap()).encode_v1());
    awareness.set_local_state_raw("null");
    frames.push(Message::Awareness(awareness.update().unwrap()).encode_v1());
    frames.push(Message::AwarenessQuery.encode_v1());
    frames.push(Message::Auth(Some("x".into())).encode_v1());
    // Two messages in one frame, and an update that depends on one not sent (pending).
    frames.push([frames[0].clone(), frames[frames.len() - 2].clone()].concat());
    frames.push(Message::Sync(SyncMessage::Update(updates[1].clone())).encode_v1());
    frames
}

/// A seed with random damage: bytes flipped, inserted, removed, the end cut off.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds();
    (
        0..seeds.len(),
        prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..6),
        prop::option::of(any::<usize>()),
    )
        .prop_map(move |(seed, edits, cut)| {
            let mut frame = seeds[seed].clone();
            for (kind, at, byte) in edits {
                if frame.is_empty() {
                    frame.push(byte);
                    continue;
                }
                let at = at % frame.len();
                match kind % 4 {
                    0 => frame[at] ^= byte | 1,
                    1 => frame.insert(at, byte),
                    2 => {
                        frame.remove(at);
                    }
                    _ => frame[at] = byte,
                }
            }
            if let Some(cut) = cut {
                let len = frame.len();
                frame.truncate(cut % (len + 1));
            }
            frame
        })
}

/// Any frame: random bytes, a mutated seed, or an intact one.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        mutated(),
        (0..seeds.len()).prop_map(move |i| seeds[i].clone()),
    ]
}

/// Sends `frames` (peer index, bytes) to the room and checks the invariants.
fn feed(board: &mut Board, frames: &[(usize, Vec<u8>)]) -> Result<(), TestCaseError> {
    let mut sent = 0;
    for (peer, data) in frames {
        let _ = decode_frame(data);
        let conn = board.peers[*peer % board.peers.len()].conn;
        // A refused frame closes the connection in ws.rs; the room itself must stay sound
        // whatever happens, so keep sending.
        let _ = board.room.receive(conn, data);
        sent += data.len();
    }
    // The document still encodes, decodes into an equal document (same state, same
    // content, nothing left pending), and reads.
    let state = board.room.encode_state();
    let load = |bytes: &[u8]| -> Result<Doc, TestCaseError> {
        let doc = Doc::new();
        let update = Update::decode_v1(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut txn = doc.transact_mut();
        txn.apply_update(update)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(!txn.has_missing_updates(), "the stored state is whole");
        drop(txn);
        Ok(doc)
    };
    let copy = load(&state)?;
    let again = load(
        &copy
            .transact()
            .encode_state_as_update_v1(&StateVector::default()),
    )?;
    prop_assert_eq!(
        copy.transact().state_vector(),
        again.transact().state_vector()
    );
    let json = |doc: &Doc| format!("{:?}", BoardDoc::new(doc).to_any(&doc.transact()));
    prop_assert_eq!(json(&copy).len(), json(&again).len());
    let summary = board.room.summary();
    prop_assert!(summary.lanes <= 15 + frames.len() * 4);
    // Growth is bounded by what was sent (plus the server's own reverts of refused edits).
    prop_assert!(
        state.len() <= board.initial_size + 4 * sent + 1024,
        "{} bytes from {} sent",
        state.len(),
        sent
    );
    // Every frame queued for a peer is well-formed.
    for peer in &mut board.peers {
        while let Ok(out) = peer.outgoing.try_recv() {
            if let Outgoing::Frame(bytes) = out {
                prop_assert!(
                    decode_frame(&bytes).is_ok(),
                    "the server sent a malformed frame"
                );
            }
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decode_frame_never_panics(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_frame(&data);
    }

    #[test]
    fn a_room_stays_sound_whatever_its_peers_send(
        frames in prop::collection::vec((0usize..3, frame()), 1..12)
    ) {
        let rt = runtime();
        let _enter = rt.enter();
        let mut board = board();
        feed(&mut board, &frames)?;
    }
}

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus")
}

#[test]
fn the_corpus_replays_cleanly() {
    let rt = runtime();
    let _enter = rt.enter();
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("tests/fuzz-corpus")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus is there");
    let mut board = board();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        // Each alone on a fresh board, from each role; then all in a row on one board.
        for peer in 0..3 {
            let mut fresh = board_for_replay();
            feed(&mut fresh, &[(peer, data.clone())])
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        feed(&mut board, &[(0, data.clone()), (1, data)])
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

fn board_for_replay() -> Board {
    board()
}

/// Writes the seed frames and a few hand-made hostile ones into the corpus.
#[test]
#[ignore = "rewrites tests/fuzz-corpus"]
fn write_corpus_seeds() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut frames = seeds();
    let update = seeds()[0].clone();
    frames.extend([
        vec![],
        vec![0],
        vec![0, 0],
        vec![0xff; 16],
        vec![0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f],
        vec![1, 0xff, 0xff, 0xff, 0xff, 0x07],
        vec![0, 9, 0],
        vec![3, 3, 3, 3],
        update[..update.len() / 2].to_vec(),
        [update.clone(), vec![0xff]].concat(),
        protocol::sync_update(vec![0, 0]).to_vec(),
        protocol::sync_update(vec![1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]).to_vec(),
        Message::Sync(SyncMessage::Update(vec![5, 200, 1, 0, 77, 3, 9, 9, 9])).encode_v1(),
    ]);
    for (i, frame) in frames.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:03}.bin")), frame).unwrap();
    }
}
