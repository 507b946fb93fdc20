//! `board-memory`: what one loaded 100-note board costs the server, live and resting (see
//! server/src/room/content.rs), measured in process from /proc/self/statm, without sockets:
//!
//! ```sh
//! cargo run --release -p journeyboard-bench --bin board-memory
//! ```
//!
//! Loads 500 boards of 100 notes (the load generator's notes: six fields and a text) from an
//! in-memory store, each going to rest as soon as it is loaded, then 500 more kept live, and
//! reports the RSS growth per board of each batch. (Memory a document frees when it goes to
//! rest is reused by the process, not handed back to the system.)

use journeyboard_server::room::Room;
use journeyboard_server::store::{BoardMeta, MemoryStore, Store};
use journeyboard_shared::schema::new_board_doc;
use journeyboard_shared::Template;
use std::sync::Arc;
use std::time::Duration;
use yrs::{Map, MapPrelim, ReadTxn, StateVector, Text, TextPrelim, TextRef, Transact};

const BOARDS: usize = 500;
const NOTES: usize = 100;

fn rss_kib() -> anyhow::Result<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("no RSS in /proc/self/statm"))?
        .parse()?;
    Ok(pages * 4)
}

/// A board of `NOTES` notes, as one encoded state.
fn board_state() -> Vec<u8> {
    let doc = new_board_doc("Memory", Template::CurrentState, 0.0);
    let notes = doc.get_or_insert_map("notes");
    {
        let mut txn = doc.transact_mut();
        for i in 0..NOTES {
            let id = uuid::Uuid::new_v4().to_string();
            let fields = [
                ("id", id.as_str()),
                ("stage", "awareness"),
                ("lane", "emotions"),
                ("color", "yellow"),
                ("author", "bench-1"),
            ];
            let mut prelim: MapPrelim = fields
                .iter()
                .map(|(k, v)| (k.to_string(), yrs::In::from(*v)))
                .collect();
            prelim.insert("created_at".into(), yrs::In::from(0.0));
            let note = notes.insert(&mut txn, id.as_str(), prelim);
            let text: TextRef = note.insert(&mut txn, "text", TextPrelim::new(""));
            text.insert(
                &mut txn,
                0,
                &format!("Seed note {i}: what the customer feels here"),
            );
        }
    }
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    state
}

fn main() -> anyhow::Result<()> {
    let state = board_state();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let meta = BoardMeta {
        title: "Memory".into(),
        template: "current-state".into(),
        created_at: 0,
        facilitator_hash: String::new(),
        participant_hash: String::new(),
        viewer_hash: String::new(),
    };
    let create = || -> anyhow::Result<Vec<uuid::Uuid>> {
        (0..BOARDS)
            .map(|_| {
                let id = uuid::Uuid::new_v4();
                store.create_board(id, &meta, &state)?;
                Ok(id)
            })
            .collect()
    };
    let (first, second) = (create()?, create()?);
    println!("a {NOTES}-note board: {} bytes encoded", state.len());

    // Resting first, in a fresh process: each board's decoded document is freed as it goes to
    // rest and its memory reused by the next, so the growth is what resting boards hold.
    let before = rss_kib()?;
    let resting: Vec<Room> = first
        .iter()
        .map(|id| {
            let room = Room::load(*id, Arc::clone(&store))?;
            room.rest_if_unused(Duration::ZERO);
            Ok::<_, anyhow::Error>(room)
        })
        .collect::<Result<_, _>>()?;
    let per_resting = (rss_kib()? - before) as f64 / BOARDS as f64;
    println!("resting: {per_resting:.0} KiB per board");
    let before = rss_kib()?;
    let live: Vec<Room> = second
        .iter()
        .map(|id| Room::load(*id, Arc::clone(&store)))
        .collect::<Result<_, _>>()?;
    let per_live = (rss_kib()? - before) as f64 / BOARDS as f64;
    println!("live:    {per_live:.0} KiB per board");
    println!(
        "{{\"notes\":{NOTES},\"encoded_bytes\":{},\"live_kib\":{per_live:.1},\"resting_rss_kib\":{per_resting:.1}}}",
        state.len()
    );
    drop((live, resting));
    Ok(())
}
