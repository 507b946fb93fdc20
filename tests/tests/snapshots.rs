//! Snapshots: saved by hand and at each phase change, listed, exported, restored (and the
//! restore undone), and a future-state board started from a current-state snapshot.

use journeyboard_shared::{NewNote, Phase};
use journeyboard_tests::{create_board, http_request, CreatedBoard, TestServer, YClient, PATIENCE};
use std::net::SocketAddr;

fn note(id: &str, text: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: text.into(),
        stage: "purchase".into(),
        lane: "pain-points".into(),
        ..NewNote::default()
    }
}

async fn api(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> journeyboard_tests::http::HttpResponse {
    http_request(addr, method, &format!("{path}?t={token}"), body).await
}

/// Derives a future-state board from snapshot `sid` of `board` (with the default title) and
/// returns the new board's summary.
async fn derive_future_state(
    server: &TestServer,
    board: &CreatedBoard,
    sid: &str,
) -> serde_json::Value {
    let derived = api(
        server.addr,
        "POST",
        &format!("/api/boards/{}/snapshots/{sid}/derive", board.id),
        &board.facilitator_token,
        Some(r#"{"template": "future-state"}"#),
    )
    .await;
    assert_eq!(derived.status, 201, "{}", derived.body);
    let derived: CreatedBoard = serde_json::from_str(&derived.body).unwrap();
    api(
        server.addr,
        "GET",
        &format!("/api/boards/{}", derived.id),
        &derived.viewer_token,
        None,
    )
    .await
    .json()
}

async fn notes_on_server(server: &TestServer, board: &CreatedBoard) -> usize {
    let summary = api(
        server.addr,
        "GET",
        &format!("/api/boards/{}", board.id),
        &board.viewer_token,
        None,
    )
    .await;
    summary.json()["notes"].as_u64().unwrap() as usize
}

#[tokio::test]
async fn save_list_export_restore_and_undo_a_restore() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Snap", "current-state").await;
    let fac = YClient::connect(&server.ws_url(&board.id, &board.facilitator_token)).await;
    fac.edit(|v, t| v.add_note(t, &note("n1", "before the snapshot")));
    fac.wait_until("stored", PATIENCE, |_| true).await;
    let base = format!("/api/boards/{}/snapshots", board.id);
    // Wait until the server has the note (the summary reads the live room).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while notes_on_server(&server, &board).await != 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let saved = api(
        server.addr,
        "POST",
        &base,
        &board.facilitator_token,
        Some(r#"{"name": "After warm-up"}"#),
    )
    .await;
    assert_eq!(saved.status, 201, "{}", saved.body);
    let snapshot = saved.json();
    assert_eq!(snapshot["name"], "After warm-up");
    assert_eq!(snapshot["notes"], 1);
    let sid = snapshot["id"].as_str().unwrap().to_string();

    // Participants and viewers may list and export, not save or restore.
    let refused = api(
        server.addr,
        "POST",
        &base,
        &board.participant_token,
        Some(r#"{"name": "x"}"#),
    )
    .await;
    assert_eq!(refused.status, 403);
    let listed = api(server.addr, "GET", &base, &board.viewer_token, None)
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let md = api(
        server.addr,
        "GET",
        &format!("{base}/{sid}/export.md"),
        &board.viewer_token,
        None,
    )
    .await;
    assert_eq!(md.status, 200);
    assert!(md.body.contains("before the snapshot"));

    // Change the board, then restore.
    fac.edit(|v, t| {
        v.delete_note(t, "n1");
        v.add_note(t, &note("n2", "after the snapshot"));
    });
    let viewer = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    viewer
        .wait_until("the server has the change", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "n2").is_some() && v.note(t, "n1").is_none())
        })
        .await;
    let restore_path = format!("{base}/{sid}/restore");
    assert_eq!(
        api(
            server.addr,
            "POST",
            &restore_path,
            &board.participant_token,
            None
        )
        .await
        .status,
        403
    );
    let restored = api(
        server.addr,
        "POST",
        &restore_path,
        &board.facilitator_token,
        None,
    )
    .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    let previous = restored.json()["previous"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    fac.wait_until("restored live", PATIENCE, |c| {
        c.read(|v, t| v.note(t, "n1").is_some() && v.note(t, "n2").is_none())
    })
    .await;
    viewer
        .wait_until("others see the restore", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "n1").is_some() && v.note(t, "n2").is_none())
        })
        .await;

    // The restore is undone by restoring the snapshot it made of the state it replaced.
    let undo = api(
        server.addr,
        "POST",
        &format!("{base}/{previous}/restore"),
        &board.facilitator_token,
        None,
    )
    .await;
    assert_eq!(undo.status, 200);
    viewer
        .wait_until("undone", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "n2").is_some() && v.note(t, "n1").is_none())
        })
        .await;

    let unknown = api(
        server.addr,
        "POST",
        &format!("{base}/{}/restore", uuid::Uuid::new_v4()),
        &board.facilitator_token,
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);
    let bad_name = api(
        server.addr,
        "POST",
        &base,
        &board.facilitator_token,
        Some(r#"{"name": "  "}"#),
    )
    .await;
    assert_eq!(bad_name.status, 400);
}

#[tokio::test]
async fn each_phase_change_saves_a_snapshot() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Phases", "current-state").await;
    let fac = YClient::connect(&server.ws_url(&board.id, &board.facilitator_token)).await;
    // Synced first: a phase written on an empty document is concurrent with the template's,
    // and loses to it when the client's random id is the lower one.
    fac.wait_until("synced", PATIENCE, |c| {
        c.read(|v, t| v.stages(t).len() == 5)
    })
    .await;
    fac.edit(|v, t| v.set_phase(t, Phase::Persona));
    fac.edit(|v, t| v.set_phase(t, Phase::Touchpoints));
    let base = format!("/api/boards/{}/snapshots", board.id);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let list = api(server.addr, "GET", &base, &board.viewer_token, None)
            .await
            .json();
        let names: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        if names.len() == 2 {
            assert_eq!(
                names,
                vec!["Persona → Touchpoints", "Icebreaker → Persona"],
                "newest first"
            );
            assert!(list.as_array().unwrap().iter().all(|s| s["auto"] == true));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "auto snapshots: {names:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_future_state_board_starts_from_a_current_state_snapshot() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Today", "current-state").await;
    let fac = YClient::connect(&server.ws_url(&board.id, &board.facilitator_token)).await;
    fac.edit(|v, t| v.add_note(t, &note("pain", "Checkout too long")));
    let base = format!("/api/boards/{}/snapshots", board.id);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while notes_on_server(&server, &board).await != 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let sid = api(
        server.addr,
        "POST",
        &base,
        &board.facilitator_token,
        Some(r#"{"name": "As is"}"#),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let summary = derive_future_state(&server, &board, &sid).await;
    assert_eq!(summary["template"], "future-state");
    assert_eq!(summary["title"], "Today (Future state (to be))");
    assert_eq!(summary["phase"], "icebreaker");
    assert_eq!(summary["notes"], 1);
    let bad = api(
        server.addr,
        "POST",
        &format!("{base}/{sid}/derive"),
        &board.facilitator_token,
        Some(r#"{"template": "kanban"}"#),
    )
    .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn a_board_with_the_longest_title_derives_with_a_shortened_default_title() {
    let server = TestServer::start().await;
    // 200 characters (the limit), most of them two bytes long in UTF-8.
    let title: String = "Écoute clients ".chars().cycle().take(200).collect();
    let board = create_board(server.addr, &title, "current-state").await;
    let base = format!("/api/boards/{}/snapshots", board.id);
    let saved = api(
        server.addr,
        "POST",
        &base,
        &board.facilitator_token,
        Some(r#"{"name": "As is"}"#),
    )
    .await;
    let sid = saved.json()["id"].as_str().unwrap().to_string();
    let summary = derive_future_state(&server, &board, &sid).await;
    let derived_title = summary["title"].as_str().unwrap();
    assert_eq!(derived_title.chars().count(), 200, "{derived_title}");
    let shortened = derived_title
        .strip_suffix("… (Future state (to be))")
        .expect("an ellipsis, then the map type");
    assert!(title.starts_with(shortened), "{derived_title}");
    // A title the facilitator gives is still refused when too long.
    let too_long = serde_json::json!({ "template": "future-state", "title": title + "!" });
    let refused = api(
        server.addr,
        "POST",
        &format!("{base}/{sid}/derive"),
        &board.facilitator_token,
        Some(&too_long.to_string()),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
}
