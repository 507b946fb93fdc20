//! Nothing acknowledged is lost: clean restarts, SIGKILL of a child server, compaction.

use journeyboard_server::store::{SledStore, Store};
use journeyboard_shared::{NewNote, NoteColor};
use journeyboard_tests::{create_board, ChildServer, TestServer, YClient, PATIENCE};
use std::time::Duration;

const CHILD: &str = env!("CARGO_BIN_EXE_journeyboard-child");

/// The durability delay stated in the README: a board's updates reach the store within
/// 50 ms of being relayed and sled flushes every 100 ms; one second leaves room for a loaded
/// machine.
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
async fn a_request_that_never_ends_does_not_hold_back_a_clean_shutdown() {
    let dir = journeyboard_tests::temp_dir("hung-request");
    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let board = create_board(server.addr, "Hung request", "current-state").await;
    let a = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    a.edit(|view, txn| view.add_note(txn, &note("kept")));
    let b = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    b.wait_until("relayed", PATIENCE, |c| {
        c.read(|v, t| v.note(t, "kept").is_some())
    })
    .await;
    // A body announced and never sent: the request never ends.
    let hung = journeyboard_tests::http::start_unfinished_request(server.addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Before the fix the shutdown waited for that request forever.
    tokio::time::timeout(Duration::from_secs(60), server.stop())
        .await
        .expect("the server stopped, hung request or not");
    drop(hung);

    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let c = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    c.wait_until("the board was saved", PATIENCE, |c| {
        c.read(|v, t| v.note(t, "kept").is_some())
    })
    .await;
}

/// A number in `0..n` (a test's random moments; no seed to keep: every round checks itself).
fn random_below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(n)) as u64
}

/// The crash test: a child server under a steady write load from many clients is killed
/// with SIGKILL at random moments, several rounds, and restarted. After each restart,
/// every note a watcher had received a durability delay before the kill is there; then the
/// clients, which kept their documents, reconnect and all converge with the server, the
/// notes the server lost with the kill coming back from their authors. Before the last
/// restart the store gets a torn update at the end of a board's log: it is skipped with a
/// warning, and nothing earlier is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_nothing_relayed_before_the_durability_delay() {
    const ROUNDS: usize = 4;
    const BOARDS: usize = 2;
    const WRITERS: usize = 4; // per board
    const EVERY: Duration = Duration::from_millis(20);
    let dir = journeyboard_tests::temp_dir("crash");
    let mut server = ChildServer::start(CHILD, &dir).await;
    let mut boards = Vec::new();
    for b in 0..BOARDS {
        boards.push(create_board(server.addr, &format!("Crash {b}"), "current-state").await);
    }
    let mut writers: Vec<Vec<YClient>> = Vec::new();
    let mut watchers: Vec<YClient> = Vec::new();
    for board in &boards {
        let mut list = Vec::new();
        for _ in 0..WRITERS {
            list.push(YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await);
        }
        writers.push(list);
        watchers.push(YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await);
    }
    let note_ids = |client: &YClient| -> std::collections::BTreeSet<String> {
        client.read(|v, t| v.notes(t).into_iter().map(|n| n.id).collect())
    };
    let mut written = [0usize; BOARDS];
    for round in 0..ROUNDS {
        // Steady load until a random moment 0.3 to 2.3 s in; what each watcher had at each
        // moment is sampled as it goes.
        let kill_after = Duration::from_millis(300 + random_below(2000));
        let started = tokio::time::Instant::now();
        let mut samples: Vec<(
            tokio::time::Instant,
            Vec<std::collections::BTreeSet<String>>,
        )> = vec![(started, watchers.iter().map(note_ids).collect())];
        let mut ticker = tokio::time::interval(EVERY);
        let mut i = 0;
        while started.elapsed() < kill_after {
            ticker.tick().await;
            for (b, list) in writers.iter().enumerate() {
                for (w, writer) in list.iter().enumerate() {
                    writer.edit(|v, t| v.add_note(t, &note(&format!("r{round}-b{b}-w{w}-{i}"))));
                    written[b] += 1;
                }
            }
            samples.push((
                tokio::time::Instant::now(),
                watchers.iter().map(note_ids).collect(),
            ));
            i += 1;
        }
        let killed_at = tokio::time::Instant::now();
        server.kill9().await;
        let must_survive = samples
            .iter()
            .rev()
            .find(|(at, _)| *at + DURABILITY_DELAY <= killed_at)
            .map_or_else(|| samples[0].1.clone(), |(_, ids)| ids.clone());

        if round == ROUNDS - 1 {
            // A torn write at the end of the log: an update entry cut short.
            let store = SledStore::open(&dir).expect("open the killed server's store");
            let id = uuid::Uuid::parse_str(&boards[0].id).unwrap();
            let next = store.load_doc(id).unwrap().next_seq();
            let whole = {
                let doc = yrs::Doc::new();
                let view = journeyboard_shared::schema::BoardDoc::new(&doc);
                let mut txn = yrs::Transact::transact_mut(&doc);
                view.add_note(&mut txn, &note("torn"));
                txn.encode_update_v1()
            };
            store
                .append_update(id, next, &whole[..whole.len() / 2])
                .unwrap();
            store.flush().unwrap();
        }

        server = ChildServer::start(CHILD, &dir).await;
        for (b, board) in boards.iter().enumerate() {
            let reader = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
            reader
                .wait_until(
                    &format!("round {round}: what was relayed before the delay"),
                    PATIENCE,
                    |c| note_ids(c).is_superset(&must_survive[b]),
                )
                .await;
        }
        // Everyone reconnects with the document it kept: all converge, losing nothing.
        for (b, board) in boards.iter().enumerate() {
            for writer in writers[b].iter_mut() {
                writer
                    .reconnect_to(&server.ws_url(&board.id, &board.participant_token))
                    .await
                    .expect("reconnect");
            }
            watchers[b]
                .reconnect_to(&server.ws_url(&board.id, &board.viewer_token))
                .await
                .expect("reconnect");
        }
        for (b, board) in boards.iter().enumerate() {
            let reader = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
            let total = written[b];
            reader
                .wait_until(&format!("round {round}: every note back"), PATIENCE, |c| {
                    c.read(|v, t| v.note_count(t)) == total
                })
                .await;
            let state = reader.state_json();
            for client in writers[b].iter().chain([&watchers[b]]) {
                client
                    .wait_until(&format!("round {round}: converged"), PATIENCE, |c| {
                        c.state_json() == state
                    })
                    .await;
            }
        }
    }
    let log = server.log().join("\n");
    assert!(
        log.contains("skipping torn stored update"),
        "the torn write was noticed: {log}"
    );
    server.kill9().await;
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
    let created = server.state.store.load_doc(id).unwrap().snapshot.len();
    let total = 2 * 700;
    for i in 0..700 {
        for (w, writer) in writers.iter().enumerate() {
            writer.edit(|view, txn| view.add_note(txn, &note(&format!("w{w}-{i}"))));
        }
    }
    // Each writer has its own notes already: only once each has the other's has the server
    // received (and stored) every note.
    for writer in &writers {
        writer
            .wait_until("all relayed", PATIENCE, |c| {
                c.read(|v, t| v.note_count(t) == total)
            })
            .await;
    }
    let expected = writers[0].state_json();
    // Compaction ran in the background during the writes; the log holds only the tail.
    let stored = server.state.store.load_doc(id).unwrap();
    // (Its sequence number may still be 0: the log writes a board's updates in batches.)
    assert!(stored.snapshot.len() > created, "a compaction happened");
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
