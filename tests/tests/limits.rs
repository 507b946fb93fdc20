//! The limits (server/src/limits.rs, README "Limits"): each one exceeded gets its refusal
//! and a log line, and the board and its other clients go on. Servers here run with small
//! limits so that the tests stay quick; the mechanisms are those of the defaults.

use journeyboard_shared::rules::MAX_NOTE_TEXT_BYTES;
use journeyboard_shared::{NewNote, NoteColor};
use journeyboard_tests::yclient::ConnectError;
use journeyboard_tests::{create_board, logs, TestServer, YClient, PATIENCE};
use std::time::Duration;

fn note(id: &str, text: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: text.into(),
        stage: "awareness".into(),
        lane: "actions".into(),
        color: NoteColor::Yellow,
        author: "T".into(),
        created_at: 0.0,
        ..NewNote::default()
    }
}

async fn synced(client: &YClient) {
    client
        .wait_until("synced", PATIENCE, |c| {
            c.read(|v, t| v.stages(t).len() == 5)
        })
        .await;
}

#[tokio::test]
async fn a_flood_is_read_slowly_never_dropped_and_does_not_hold_up_the_others() {
    logs::capture();
    let server = TestServer::start_configured(|c| {
        c.limits.messages_per_second = 40;
        c.limits.message_burst = 10;
    })
    .await;
    let board = create_board(server.addr, "Flood", "current-state").await;
    let url = server.ws_url(&board.id, &board.participant_token);
    let flooder = YClient::connect(&url).await;
    let bystander = YClient::connect(&url).await;
    let watcher = YClient::connect(&url).await;
    for c in [&flooder, &bystander, &watcher] {
        synced(c).await;
    }
    const FLOOD: usize = 80;
    for i in 0..FLOOD {
        flooder.edit(|v, t| v.add_note(t, &note(&format!("flood-{i}"), "x")));
    }
    logs::wait_for(&[&board.id, "over the message rate limit"]).await;
    // The flood is being read at 40 a second (about two seconds in all); the bystander's edit
    // is read at once, so it reaches the watcher before the flood's end does.
    bystander.edit(|v, t| v.add_note(t, &note("bystander", "still here")));
    watcher
        .wait_until("the bystander's note", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "bystander").is_some())
        })
        .await;
    let flood_seen = watcher.read(|v, t| v.note_count(t)) - 1;
    assert!(
        flood_seen < FLOOD,
        "the bystander waited behind the whole flood"
    );
    // Nothing of the flood is dropped, and the flooder is not disconnected.
    watcher
        .wait_until("the whole flood", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t)) == FLOOD + 1
        })
        .await;
    assert!(!flooder.is_disconnected());
    assert_eq!(flooder.close_code(), None);
}

#[tokio::test]
async fn connections_over_the_board_limit_are_refused_with_503_and_the_others_go_on() {
    logs::capture();
    let server = TestServer::start_configured(|c| c.limits.connections_per_board = 3).await;
    let board = create_board(server.addr, "Crowded", "current-state").await;
    let other = create_board(server.addr, "Another", "current-state").await;
    let url = server.ws_url(&board.id, &board.participant_token);
    let mut first = YClient::connect(&url).await;
    let second = YClient::connect(&url).await;
    let third = YClient::connect(&url).await;
    match YClient::try_connect(&url).await {
        Err(ConnectError::Status(503)) => {}
        other => panic!("a fourth connection: {:?}", other.map(|_| "upgraded")),
    }
    logs::wait_for(&[&board.id, "board connection limit"]).await;
    // Another board is not affected, nor are the three connected.
    YClient::connect(&server.ws_url(&other.id, &other.participant_token)).await;
    second.edit(|v, t| v.add_note(t, &note("n", "hello")));
    third
        .wait_until("relayed", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "n").is_some())
        })
        .await;
    // Once one leaves, there is room again.
    first.disconnect();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match YClient::try_connect(&url).await {
            Ok(_) => break,
            Err(ConnectError::Status(503)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(e) => panic!("after one left: {e:?}"),
        }
    }
}

#[tokio::test]
async fn connections_over_the_server_limit_are_refused_with_503() {
    logs::capture();
    let server = TestServer::start_configured(|c| c.limits.connections = 2).await;
    let a = create_board(server.addr, "A", "current-state").await;
    let b = create_board(server.addr, "B", "current-state").await;
    let _one = YClient::connect(&server.ws_url(&a.id, &a.participant_token)).await;
    let two = YClient::connect(&server.ws_url(&b.id, &b.participant_token)).await;
    match YClient::try_connect(&server.ws_url(&a.id, &a.viewer_token)).await {
        Err(ConnectError::Status(503)) => {}
        other => panic!("a third connection: {:?}", other.map(|_| "upgraded")),
    }
    logs::wait_for(&["server connection limit"]).await;
    // The API still answers, and the connected go on.
    let summary = journeyboard_tests::http_request(
        server.addr,
        "GET",
        &format!("/api/boards/{}?t={}", b.id, b.viewer_token),
        None,
    )
    .await;
    assert_eq!(summary.status, 200);
    two.edit(|v, t| v.add_note(t, &note("n", "ok")));
    two.wait_until("still connected", PATIENCE, |c| !c.is_disconnected())
        .await;
}

#[tokio::test]
async fn a_note_text_over_the_limit_is_reverted_for_everyone_and_the_sender_told() {
    logs::capture();
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Long notes", "current-state").await;
    let url = server.ws_url(&board.id, &board.participant_token);
    let writer = YClient::connect(&url).await;
    let other = YClient::connect(&url).await;
    synced(&writer).await;
    synced(&other).await;
    writer.edit(|v, t| v.add_note(t, &note("ok", "short")));
    let long = "x".repeat(MAX_NOTE_TEXT_BYTES + 1);
    writer.edit(|v, t| v.add_note(t, &note("long", &long)));
    writer.edit(|v, t| v.add_note(t, &note("after", "short too")));
    other
        .wait_until("the later note", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "after").is_some())
        })
        .await;
    assert!(other.read(|v, t| v.note(t, "long").is_none()));
    writer
        .wait_until("the sender converges back", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "long").is_none())
        })
        .await;
    writer
        .wait_until("told why", PATIENCE, |c| {
            c.denials().iter().any(|d| d.contains("length limit"))
        })
        .await;
    logs::wait_for(&[&board.id, "NoteTooLong"]).await;
    assert!(!writer.is_disconnected(), "no close: it would resend it");
    assert_eq!(writer.state_json(), other.state_json());
}

#[tokio::test]
async fn a_board_at_its_size_limit_refuses_growth_and_goes_on() {
    logs::capture();
    const LIMIT: usize = 48 * 1024;
    let server = TestServer::start_configured(|c| c.limits.doc_bytes = LIMIT).await;
    let board = create_board(server.addr, "Full", "current-state").await;
    let spare = create_board(server.addr, "Spare", "current-state").await;
    let facilitator = YClient::connect(&server.ws_url(&board.id, &board.facilitator_token)).await;
    let participant = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    synced(&facilitator).await;
    synced(&participant).await;
    // Fill it with 8 KB notes until one is refused: about five fit.
    let text = "y".repeat(8 * 1024);
    let mut added = 0;
    for i in 0..10 {
        facilitator.edit(|v, t| v.add_note(t, &note(&format!("big-{i}"), &text)));
        added += 1;
        let marker = i as u64;
        facilitator.send_marker(marker);
        participant.wait_marker(marker).await;
        if !facilitator.denials().is_empty() {
            break;
        }
    }
    facilitator
        .wait_until("refused", PATIENCE, |c| !c.denials().is_empty())
        .await;
    assert!(added < 10, "the board never filled");
    logs::wait_for(&[&board.id, "grow past its size limit"]).await;
    let id = uuid::Uuid::parse_str(&board.id).unwrap();
    let room = server.state.rooms.loaded(id).unwrap();
    assert!(
        room.encode_state().len() <= LIMIT,
        "the board stayed under its limit"
    );
    // The refused notes are gone for everyone, the facilitator too; all converge.
    let kept = room.summary().notes;
    assert!(kept > 0 && kept < added, "{kept} of {added} kept");
    facilitator
        .wait_until("converged", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t)) == kept
        })
        .await;
    participant
        .wait_until("converged", PATIENCE, |c| {
            c.state_json() == facilitator.state_json()
        })
        .await;
    // A participant's big note is refused too, and still nobody is disconnected.
    participant.edit(|v, t| v.add_note(t, &note("more", &text)));
    participant
        .wait_until("refused", PATIENCE, |c| !c.denials().is_empty())
        .await;
    participant
        .wait_until("reverted", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "more").is_none())
        })
        .await;
    assert!(!participant.is_disconnected() && !facilitator.is_disconnected());
    // Shrinking still works, and then growth fits again; another board never noticed.
    facilitator.edit(|v, t| {
        v.delete_note(t, "big-0");
        v.delete_note(t, "big-1");
    });
    facilitator.edit(|v, t| v.add_note(t, &note("fits-again", &text)));
    participant
        .wait_until("growth fits again", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "fits-again").is_some())
        })
        .await;
    let other = YClient::connect(&server.ws_url(&spare.id, &spare.participant_token)).await;
    synced(&other).await;
    other.edit(|v, t| v.add_note(t, &note("elsewhere", &text)));
    let reader = YClient::connect(&server.ws_url(&spare.id, &spare.viewer_token)).await;
    reader
        .wait_until("the other board grows", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "elsewhere").is_some())
        })
        .await;
}

#[tokio::test]
async fn private_rooms_over_the_board_limit_are_refused_and_the_others_kept() {
    logs::capture();
    let server = TestServer::start_configured(|c| c.limits.private_rooms_per_board = 2).await;
    let board = create_board(server.addr, "Many people", "current-state").await;
    let p = &board.participant_token;
    YClient::connect(&server.private_url(&board.id, p, "ana")).await;
    YClient::connect(&server.private_url(&board.id, p, "bo")).await;
    match YClient::try_connect(&server.private_url(&board.id, p, "cy")).await {
        Err(ConnectError::Status(503)) => {}
        other => panic!("a third person's room: {:?}", other.map(|_| "upgraded")),
    }
    logs::wait_for(&[&board.id, "private-room limit"]).await;
    // Those who have a room keep it.
    YClient::connect(&server.private_url(&board.id, p, "ana")).await;
}

#[tokio::test]
async fn a_request_whose_headers_never_end_is_dropped_after_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server =
        TestServer::start_configured(|c| c.limits.header_read_timeout = Duration::from_secs(1))
            .await;
    // Half a request head, the rest never sent (slowloris).
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, slow.read_to_end(&mut rest))
        .await
        .expect("the server closed the connection")
        .ok();
    // A whole request on a new connection is answered as ever.
    let health = journeyboard_tests::http_request(server.addr, "GET", "/healthz", None).await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_refused_after_the_body_timeout() {
    use tokio::io::AsyncReadExt;
    let server =
        TestServer::start_configured(|c| c.limits.body_read_timeout = Duration::from_secs(1)).await;
    let mut slow = journeyboard_tests::http::start_unfinished_request(server.addr).await;
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(PATIENCE, slow.read(&mut answer))
        .await
        .expect("the server answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(server.state.rooms.loaded_count(), 0, "no board created");
}
