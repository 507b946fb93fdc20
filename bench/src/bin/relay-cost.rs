//! `relay-cost`: the room's share of a relay, in process and without sockets, for repeatable
//! instruction counts under callgrind (timings on a shared 2-core machine drift; instruction
//! counts do not):
//!
//! ```sh
//! cargo build --release -p journeyboard-bench --bin relay-cost
//! valgrind --tool=callgrind --callgrind-out-file=relay.out target/release/relay-cost
//! callgrind_annotate relay.out | head -40
//! ```
//!
//! One board in a sled store, 20 participants; each sends `UPDATES / 20` keystrokes into its
//! own note (as the load generator's clients do), and every other participant's queue is
//! drained after each, as its socket task would. Prints the updates relayed and the time.

use journeyboard_server::room::Room;
use journeyboard_server::store::{BoardMeta, SledStore, Store};
use journeyboard_shared::schema::new_board_doc;
use journeyboard_shared::{Role, Template};
use std::sync::Arc;
use std::time::Instant;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{Doc, Map, MapPrelim, ReadTxn, StateVector, Text, TextPrelim, TextRef, Transact};

const PEERS: usize = 20;
const UPDATES: usize = 4000;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("jb-relay-cost-{}", uuid::Uuid::new_v4()));
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir)?);
    let id = uuid::Uuid::new_v4();
    let snapshot = new_board_doc("Relay cost", Template::CurrentState, 0.0)
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let meta = BoardMeta {
        title: "Relay cost".into(),
        template: "current-state".into(),
        created_at: 0,
        facilitator_hash: String::new(),
        participant_hash: String::new(),
        viewer_hash: String::new(),
    };
    store.create_board(id, &meta, &snapshot)?;
    let room = Arc::new(Room::load(id, Arc::clone(&store))?);

    let mut peers = Vec::new();
    for i in 0..PEERS {
        let joined = room
            .join(Role::Participant)
            .ok_or_else(|| anyhow::anyhow!("room closed"))?;
        // Each peer's own note, created as its first update.
        let doc = Doc::with_client_id(1000 + i as u64);
        let notes = doc.get_or_insert_map("notes");
        let text = {
            let mut txn = doc.transact_mut();
            let note_id = format!("note-{i}");
            let note = notes.insert(
                &mut txn,
                note_id.as_str(),
                MapPrelim::from([
                    ("id".to_string(), yrs::In::from(note_id.as_str())),
                    ("stage".to_string(), yrs::In::from("awareness")),
                    ("lane".to_string(), yrs::In::from("emotions")),
                    ("color".to_string(), yrs::In::from("yellow")),
                    ("author".to_string(), yrs::In::from("bench")),
                    ("created_at".to_string(), yrs::In::from(0.0)),
                ]),
            );
            let text: TextRef = note.insert(&mut txn, "text", TextPrelim::new(""));
            text
        };
        let first = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        room.receive(joined.conn, &frame(first))?;
        peers.push((joined, doc, text));
    }
    drain(&mut peers);

    let start = Instant::now();
    let mut relayed = 0;
    for n in 0..UPDATES {
        let (joined, doc, text) = &peers[n % PEERS];
        let update = {
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, "x");
            if len >= 80 {
                text.remove_range(&mut txn, 0, 1);
            }
            txn.encode_update_v1()
        };
        room.receive(joined.conn, &frame(update))?;
        relayed += drain(&mut peers);
    }
    let elapsed = start.elapsed();
    println!(
        "{UPDATES} updates from {PEERS} participants, {relayed} frames queued, {:.1} us per update",
        elapsed.as_secs_f64() * 1e6 / UPDATES as f64
    );
    drop(room);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

fn frame(update: Vec<u8>) -> Vec<u8> {
    Message::Sync(SyncMessage::Update(update)).encode_v1()
}

/// Empties every peer's queue; returns the frames taken.
fn drain(peers: &mut [(journeyboard_server::room::Joined, Doc, TextRef)]) -> usize {
    let mut n = 0;
    for (joined, _, _) in peers.iter_mut() {
        while joined.outgoing.try_recv().is_ok() {
            n += 1;
        }
    }
    n
}
