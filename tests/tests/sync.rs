//! The sync server against real Yjs clients: convergence, late joiners, presence, offline
//! edits, many concurrent writers.

use journeyboard_shared::{NewNote, NoteColor};
use journeyboard_tests::{create_board, TestServer, YClient, PATIENCE};
use yrs::Text;

fn note(id: &str, text: &str, stage: &str, lane: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: text.into(),
        stage: stage.into(),
        lane: lane.into(),
        color: NoteColor::Yellow,
        author: "Test".into(),
        created_at: 1_700_000_000_000.0,
        ..NewNote::default()
    }
}

fn has_note(client: &YClient, id: &str) -> bool {
    client.read(|view, txn| view.note(txn, id).is_some())
}

#[tokio::test]
async fn two_clients_converge_both_ways() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Onboarding", "current-state").await;
    let a = YClient::connect(&server.ws_url(&board.id, &board.facilitator_token)).await;
    let b = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    a.wait_until("a has the seeded board", PATIENCE, |c| {
        c.read(|v, t| v.stages(t).len() == 5)
    })
    .await;
    b.wait_until("b has the seeded board", PATIENCE, |c| {
        c.read(|v, t| v.lanes(t).len() == 9)
    })
    .await;

    a.edit(|view, txn| {
        view.add_note(
            txn,
            &note(
                "from-a",
                "Cannot find pricing",
                "consideration",
                "pain-points",
            ),
        )
    });
    b.edit(|view, txn| {
        view.add_note(
            txn,
            &note("from-b", "Loves the demo", "purchase", "love-points"),
        )
    });
    a.wait_until("a sees b's note", PATIENCE, |c| has_note(c, "from-b"))
        .await;
    b.wait_until("b sees a's note", PATIENCE, |c| has_note(c, "from-a"))
        .await;

    // Typing into the same note from both sides merges.
    a.edit(|view, txn| {
        view.note_text(txn, "from-b").unwrap().push(txn, "!");
    });
    b.edit(|view, txn| {
        view.note_text(txn, "from-b")
            .unwrap()
            .insert(txn, 0, "Really ");
    });
    let expected = "Really Loves the demo!";
    for (name, c) in [("a", &a), ("b", &b)] {
        c.wait_until(&format!("{name} merges the typing"), PATIENCE, |c| {
            c.read(|v, t| v.note(t, "from-b").map(|n| n.text)) == Some(expected.to_string())
        })
        .await;
    }
    assert_eq!(a.state_json(), b.state_json());
}

#[tokio::test]
async fn a_late_joiner_gets_the_full_state() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Late", "service-blueprint").await;
    let a = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    // About 20 KB of text: the late joiner's sync arrives in several WebSocket fragments.
    for i in 0..20 {
        a.edit(|view, txn| {
            view.add_note(
                txn,
                &note(
                    &format!("n{i}"),
                    &format!("note {i} {}", "-".repeat(1_000)),
                    "awareness",
                    "actions",
                ),
            )
        });
    }
    a.edit(|view, txn| {
        view.move_note(txn, "n3", "advocacy", "opportunities");
    });
    let late = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    late.wait_until("late joiner has all 20 notes", PATIENCE, |c| {
        c.read(|v, t| v.note_count(t) == 20)
    })
    .await;
    late.wait_until("late joiner converges", PATIENCE, |c| {
        c.state_json() == a.state_json()
    })
    .await;
    let moved = late.read(|v, t| v.note(t, "n3")).unwrap();
    assert_eq!(
        (moved.stage.as_str(), moved.lane.as_str()),
        ("advocacy", "opportunities")
    );
    assert_eq!(
        late.read(|v, t| v.lanes(t).len()),
        15,
        "service blueprint has backstage lanes"
    );
}

#[tokio::test]
async fn presence_propagates_and_is_removed_when_a_connection_drops() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Presence", "current-state").await;
    let a = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    let mut b = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    b.set_presence(r##"{"user":{"name":"Bea","color":"#e91e63"}}"##);
    a.wait_until("a sees Bea", PATIENCE, |c| {
        c.peers_presence().iter().any(|(_, s)| s.contains("Bea"))
    })
    .await;

    // A late joiner receives current presence on connect.
    let c = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    c.wait_until("c sees Bea", PATIENCE, |c| {
        c.peers_presence().iter().any(|(_, s)| s.contains("Bea"))
    })
    .await;

    // No close frame: the TCP connection just goes away.
    b.disconnect();
    a.wait_until("Bea's presence is removed", PATIENCE, |c| {
        c.peers_presence().is_empty()
    })
    .await;
    c.wait_until("Bea's presence is removed for c", PATIENCE, |c| {
        c.peers_presence().is_empty()
    })
    .await;
}

#[tokio::test]
async fn offline_edits_merge_both_ways_on_reconnect() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Offline", "current-state").await;
    let mut a = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    let b = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    a.wait_until("a synced", PATIENCE, |c| {
        c.read(|v, t| v.stages(t).len() == 5)
    })
    .await;

    a.disconnect();
    a.edit(|view, txn| {
        view.add_note(
            txn,
            &note("offline-a", "written on a train", "retention", "thoughts"),
        )
    });
    b.edit(|view, txn| {
        view.add_note(
            txn,
            &note("online-b", "written meanwhile", "purchase", "actions"),
        )
    });
    b.wait_until("b's own edit is in", PATIENCE, |c| has_note(c, "online-b"))
        .await;
    assert!(!has_note(&b, "offline-a"));

    a.reconnect().await;
    a.wait_until("a gets b's edit", PATIENCE, |c| has_note(c, "online-b"))
        .await;
    b.wait_until("b gets a's offline edit", PATIENCE, |c| {
        has_note(c, "offline-a")
    })
    .await;
    b.wait_until("converged", PATIENCE, |c| c.state_json() == a.state_json())
        .await;
}

#[tokio::test]
async fn fifty_clients_editing_at_once_converge() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Crowd", "current-state").await;
    let mut clients = Vec::new();
    for _ in 0..50 {
        clients.push(YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await);
    }
    for (i, c) in clients.iter().enumerate() {
        for j in 0..4 {
            c.edit(|view, txn| {
                view.add_note(
                    txn,
                    &note(&format!("c{i}-{j}"), "x", "awareness", "actions"),
                )
            });
        }
        // Everyone also types into one shared note.
        c.edit(|view, txn| {
            if view.note(txn, "shared").is_none() {
                view.add_note(txn, &note("shared", "", "purchase", "thoughts"));
            }
        });
    }
    for c in &clients {
        c.wait_until("all 200 notes arrive", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t) >= 200)
        })
        .await;
    }
    let reference = clients[0].state_json();
    for (i, c) in clients.iter().enumerate() {
        c.wait_until(&format!("client {i} converges"), PATIENCE, |c| {
            c.state_json() == clients[0].state_json()
        })
        .await;
    }
    assert!(reference.contains("c49-3"));
    let summary = journeyboard_tests::http_request(
        server.addr,
        "GET",
        &format!("/api/boards/{}?t={}", board.id, board.viewer_token),
        None,
    )
    .await
    .json();
    assert_eq!(summary["connected"], 50);
    assert_eq!(summary["notes"], clients[0].read(|v, t| v.note_count(t)));
}
