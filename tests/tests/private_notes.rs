//! Private rooms: private notes reach no one but their author until the reveal (by the
//! facilitator or at the end of the time box), and dot votes stay private until voting closes.

use journeyboard_server::room::private_room_id;
use journeyboard_shared::identity::public_id;
use journeyboard_shared::schema::{key, BoardDoc};
use journeyboard_shared::{NewNote, NoteArea};
use journeyboard_tests::yclient::ConnectError;
use journeyboard_tests::{create_board, http_request, CreatedBoard, TestServer, YClient, PATIENCE};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};
use yrs::updates::decoder::Decode;
use yrs::{Any, Doc, Map, Transact, Update};

const ANA: &str = "secret-of-ana";
const BO: &str = "secret-of-bo";
const FAY: &str = "secret-of-fay";

fn icebreaker_note(id: &str, text: &str, secret: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: text.into(),
        author: "Ana".into(),
        author_id: public_id(secret),
        area: NoteArea::Icebreaker,
        created_at: 5.0,
        ..NewNote::default()
    }
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
}

/// A room's document as the server holds it now.
fn server_doc(server: &TestServer, room: &str) -> Doc {
    let id = room.parse().unwrap();
    let state = server
        .state
        .rooms
        .loaded(id)
        .expect("room loaded")
        .encode_state();
    let doc = Doc::new();
    doc.transact_mut()
        .apply_update(Update::decode_v1(&state).unwrap())
        .unwrap();
    doc
}

fn private_id(board: &CreatedBoard, secret: &str) -> String {
    private_room_id(board.id.parse().unwrap(), &public_id(secret)).to_string()
}

fn notes_of(c: &YClient) -> Vec<String> {
    c.read(|v, t| v.notes(t).into_iter().map(|n| n.id).collect())
}

fn has(c: &YClient, id: &str) -> bool {
    c.read(|v, t| v.note(t, id).is_some())
}

struct People {
    ana: YClient,
    ana_private: YClient,
    ana_private_2: YClient,
    bo: YClient,
    bo_private: YClient,
    fay: YClient,
}

async fn people(server: &TestServer, board: &CreatedBoard) -> People {
    let (p, f) = (&board.participant_token, &board.facilitator_token);
    let people = People {
        ana: YClient::connect(&server.ws_url_as(&board.id, p, ANA)).await,
        ana_private: YClient::connect(&server.private_url(&board.id, p, ANA)).await,
        ana_private_2: YClient::connect(&server.private_url(&board.id, p, ANA)).await,
        bo: YClient::connect(&server.ws_url_as(&board.id, p, BO)).await,
        bo_private: YClient::connect(&server.private_url(&board.id, p, BO)).await,
        fay: YClient::connect(&server.ws_url_as(&board.id, f, FAY)).await,
    };
    for c in [&people.ana, &people.bo, &people.fay] {
        c.wait_until("seeded", PATIENCE, |c| {
            c.read(|v, t| v.stages(t).len() == 5)
        })
        .await;
    }
    people
}

/// Ana writes a private note and the server has it (her second tab sees it); nobody else
/// does, on the board or in their own private room.
async fn ana_writes_a_private_note(
    server: &TestServer,
    board: &CreatedBoard,
    p: &People,
    marker: u64,
) {
    p.ana_private
        .edit(|v, t| v.add_note(t, &icebreaker_note("secret-1", "I hate queues", ANA)));
    p.ana_private_2
        .wait_until("Ana's other tab has her private note", PATIENCE, |c| {
            has(c, "secret-1")
        })
        .await;
    // After Ana's marker on the board, Bo and Fay have everything the server would have sent.
    p.ana.send_marker(marker);
    p.bo.wait_marker(marker).await;
    p.fay.wait_marker(marker).await;
    for (who, c) in [("Bo", &p.bo), ("Fay", &p.fay), ("Ana's board", &p.ana)] {
        assert!(!has(c, "secret-1"), "{who} must not have the private note");
    }
    // Bo's private room is his own: his second connection's note arrives, Ana's never.
    p.bo_private
        .edit(|v, t| v.add_note(t, &icebreaker_note("bo-1", "mine", BO)));
    let bo_second =
        YClient::connect(&server.private_url(&board.id, &board.participant_token, BO)).await;
    bo_second
        .wait_until("Bo's second tab has Bo's note", PATIENCE, |c| {
            has(c, "bo-1")
        })
        .await;
    assert_eq!(notes_of(&bo_second), vec!["bo-1"]);
    // On the server: the board's document has no trace of the text.
    let board_state = server
        .state
        .rooms
        .loaded(board.id.parse().unwrap())
        .unwrap()
        .encode_state();
    let needle = b"I hate queues";
    assert!(
        !board_state.windows(needle.len()).any(|w| w == needle),
        "the private text is not in the board's document"
    );
    let ana_room = server_doc(server, &private_id(board, ANA));
    assert!(BoardDoc::new(&ana_room)
        .note(&ana_room.transact(), "secret-1")
        .is_some());
}

#[tokio::test]
async fn private_notes_reach_nobody_else_until_the_facilitator_reveals_them() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Private", "current-state").await;
    let p = people(&server, &board).await;
    p.fay.edit(|v, t| v.set_setting(t, key::PRIVATE_MODE, true));
    ana_writes_a_private_note(&server, &board, &p, 1).await;

    p.fay
        .edit(|v, t| v.set_setting(t, key::PRIVATE_MODE, false));
    for (who, c) in [("Ana", &p.ana), ("Bo", &p.bo), ("Fay", &p.fay)] {
        c.wait_until(&format!("{who} gets the revealed notes"), PATIENCE, |c| {
            has(c, "secret-1") && has(c, "bo-1")
        })
        .await;
    }
    let revealed = p.bo.read(|v, t| v.note(t, "secret-1")).unwrap();
    assert_eq!(
        (
            revealed.text.as_str(),
            revealed.author.as_str(),
            revealed.author_id,
            revealed.area.as_str(),
            revealed.created_at
        ),
        ("I hate queues", "Ana", public_id(ANA), "icebreaker", 5.0)
    );
    for (who, c) in [
        ("Ana", &p.ana_private),
        ("Ana's other tab", &p.ana_private_2),
        ("Bo", &p.bo_private),
    ] {
        c.wait_until(&format!("{who}'s private room empties"), PATIENCE, |c| {
            notes_of(c).is_empty()
        })
        .await;
    }
    // A revealed note is an ordinary note: its author may edit it.
    p.ana.edit(|v, t| {
        v.set_note_text(t, "secret-1", "I hate long queues");
    });
    p.bo.wait_until("Ana's edit of her revealed note", PATIENCE, |c| {
        c.read(|v, t| v.note(t, "secret-1"))
            .is_some_and(|n| n.text == "I hate long queues")
    })
    .await;
}

#[tokio::test]
async fn the_end_of_the_time_box_reveals_when_asked_to() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Timer", "current-state").await;
    let p = people(&server, &board).await;
    p.fay.edit(|v, t| {
        v.set_setting(t, key::PRIVATE_MODE, true);
        v.set_setting(t, key::TIMER_REVEAL, true);
    });
    ana_writes_a_private_note(&server, &board, &p, 1).await;

    let deadline = now_ms() + 300.0;
    p.fay
        .edit(|v, t| v.set_setting(t, key::TIMER_DEADLINE, deadline));
    p.bo.wait_until("the time box ends and reveals", PATIENCE, |c| {
        has(c, "secret-1") && has(c, "bo-1") && !c.read(|v, t| v.settings(t).private_mode)
    })
    .await;
    assert!(now_ms() >= deadline, "not before the deadline");
    assert_eq!(
        p.bo.read(|v, t| v.settings(t).timer_deadline),
        Some(deadline),
        "the deadline stays, so clients show the time box as ended"
    );
    p.ana_private
        .wait_until("Ana's private room empties", PATIENCE, |c| {
            notes_of(c).is_empty()
        })
        .await;
}

#[tokio::test]
async fn votes_stay_private_until_voting_closes_and_count_within_budget_and_lanes() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Votes", "current-state").await;
    let p = people(&server, &board).await;
    p.fay.edit(|v, t| {
        for (id, lane) in [
            ("n1", "pain-points"),
            ("n2", "pain-points"),
            ("n3", "actions"),
        ] {
            v.add_note(
                t,
                &NewNote {
                    id: id.into(),
                    lane: lane.into(),
                    stage: "purchase".into(),
                    ..NewNote::default()
                },
            );
        }
        v.set_setting(t, key::VOTE_DOTS, 2.0);
        v.set_setting_list(t, key::VOTE_LANES, &["pain-points".into()]);
        v.set_setting(t, key::VOTING_OPEN, true);
    });
    let place = |c: &YClient, votes: &[(&str, f64)]| {
        let votes: Vec<(String, f64)> = votes.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        c.edit(move |v, t| {
            for (note, n) in &votes {
                v.votes.insert(t, note.as_str(), Any::from(*n));
            }
        })
    };
    // Ana overspends and votes outside the lanes; Bo votes for a note that does not exist.
    place(&p.ana_private, &[("n1", 1.0), ("n2", 5.0), ("n3", 1.0)]);
    place(&p.bo_private, &[("n1", 1.0), ("ghost", 3.0)]);
    p.ana_private_2
        .wait_until("Ana's votes are on the server", PATIENCE, |c| {
            c.read(|v, t| v.vote_totals(t).len() == 3)
        })
        .await;
    p.bo.send_marker(1);
    p.fay.wait_marker(1).await;
    p.ana.wait_marker(1).await;
    for c in [&p.ana, &p.fay] {
        assert!(
            c.read(|v, t| v.vote_totals(t)).is_empty(),
            "no votes visible while open"
        );
    }
    // (Bo's private votes may still be on their way; wait for the server to have them.)
    let bo_room = private_id(&board, BO);
    for _ in 0..200 {
        let doc = server_doc(&server, &bo_room);
        if BoardDoc::new(&doc).vote_totals(&doc.transact()).len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    p.fay.edit(|v, t| v.set_setting(t, key::VOTING_OPEN, false));
    let expected: BTreeMap<String, u32> = [("n1".to_string(), 2), ("n2".to_string(), 1)].into();
    for (who, c) in [("Ana", &p.ana), ("Bo", &p.bo), ("Fay", &p.fay)] {
        c.wait_until(&format!("{who} sees the totals"), PATIENCE, |c| {
            c.read(|v, t| v.vote_totals(t)) == expected
        })
        .await;
    }
    // The counted dots left the private rooms; reopening clears the totals.
    for (who, c) in [("Ana's dots", &p.ana_private), ("Bo's dots", &p.bo_private)] {
        c.wait_until(&format!("{who} are counted and cleared"), PATIENCE, |c| {
            c.read(|v, t| v.vote_totals(t).is_empty())
        })
        .await;
    }
    p.fay.edit(|v, t| v.set_setting(t, key::VOTING_OPEN, true));
    p.bo.wait_until("reopening clears the totals", PATIENCE, |c| {
        c.read(|v, t| v.vote_totals(t).is_empty())
    })
    .await;
    // A new round counts only its own dots.
    p.fay
        .edit(|v, t| v.set_setting_list(t, key::VOTE_LANES, &[]));
    p.ana
        .wait_until("all lanes votable", PATIENCE, |c| {
            c.read(|v, t| v.settings(t).vote_lanes.is_empty())
        })
        .await;
    place(&p.ana_private, &[("n3", 1.0)]);
    p.ana_private_2
        .wait_until("Ana's new dot is on the server", PATIENCE, |c| {
            c.read(|v, t| v.vote_totals(t).len() == 1)
        })
        .await;
    p.fay.edit(|v, t| v.set_setting(t, key::VOTING_OPEN, false));
    let expected: BTreeMap<String, u32> = [("n3".to_string(), 1)].into();
    p.bo.wait_until("the second round's totals", PATIENCE, |c| {
        c.read(|v, t| v.vote_totals(t)) == expected
    })
    .await;
}

#[tokio::test]
async fn private_rooms_need_a_secret_and_are_not_for_viewers() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Doors", "current-state").await;
    let status = |url: String| async move {
        match YClient::try_connect(&url).await {
            Ok(_) => 101,
            Err(ConnectError::Status(code)) => code,
            Err(e) => panic!("{e:?}"),
        }
    };
    let base = format!("ws://{}/ws/{}", server.addr, board.id);
    let p = &board.participant_token;
    assert_eq!(status(format!("{base}/private?t={p}")).await, 400);
    assert_eq!(status(format!("{base}/private?t={p}&u=")).await, 400);
    assert_eq!(status(format!("{base}/private?u=x")).await, 401);
    assert_eq!(status(format!("{base}/private?t=wrong&u=x")).await, 403);
    assert_eq!(
        status(server.private_url(&board.id, &board.viewer_token, "x")).await,
        403
    );
    assert_eq!(status(format!("{base}/elsewhere?t={p}&u=x")).await, 404);
    assert_eq!(
        status(server.private_url(&board.id, &board.facilitator_token, "x")).await,
        101
    );
    assert_eq!(status(server.private_url(&board.id, p, "x")).await, 101);

    let summary = http_request(
        server.addr,
        "GET",
        &format!("/api/boards/{}?t={p}", board.id),
        None,
    )
    .await
    .json();
    let server_time = summary["server_time"].as_f64().expect("server_time");
    assert!((server_time - now_ms()).abs() < 60_000.0, "{summary}");
}
