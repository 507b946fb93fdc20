//! Who can open a board: cross-origin upgrades, token rotation (alone and overlapping), and
//! tokens and secrets kept out of the log. Each test starts the real server and talks to it
//! through the API and the test Yjs client. (Wrong tokens: api.rs; viewers' writes:
//! bad_input.rs; hostile HTTP requests and security headers: hostile_http.rs.)

use futures_util::FutureExt;
use journeyboard_shared::{NewNote, NoteColor};
use journeyboard_tests::yclient::ConnectError;
use journeyboard_tests::{create_board, http_request, logs, TestServer, YClient, PATIENCE};

fn note(id: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: "hi".into(),
        stage: "awareness".into(),
        lane: "actions".into(),
        color: NoteColor::Green,
        author: "T".into(),
        created_at: 0.0,
        ..NewNote::default()
    }
}

fn status_of(result: Result<YClient, ConnectError>) -> u16 {
    match result {
        Ok(_) => 101,
        Err(ConnectError::Status(status)) => status,
        Err(e) => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn a_page_of_another_origin_cannot_open_a_board() {
    logs::capture();
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Origins", "current-state").await;
    let url = server.ws_url(&board.id, &board.participant_token);
    let same = format!("http://{}", server.addr);
    assert_eq!(
        status_of(YClient::try_connect_from(&url, Some("https://evil.example")).await),
        403
    );
    assert_eq!(
        status_of(YClient::try_connect_from(&url, Some("http://127.0.0.1:1")).await),
        403,
        "another port is another origin"
    );
    logs::wait_for(&["refused a cross-origin WebSocket", "evil.example"]).await;
    assert_eq!(
        status_of(YClient::try_connect_from(&url, Some(&same)).await),
        101
    );
    // Clients that are not browsers send no Origin: they pass (their token still counts).
    assert_eq!(status_of(YClient::try_connect_from(&url, None).await), 101);
    let wrong = server.ws_url(&board.id, "AAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        status_of(YClient::try_connect_from(&wrong, None).await),
        403
    );
}

#[tokio::test]
async fn a_configured_list_of_origins_replaces_same_origin() {
    let server = TestServer::start_configured(|c| {
        c.allowed_origins = vec!["https://board.example".into()];
    })
    .await;
    let board = create_board(server.addr, "Listed", "current-state").await;
    let url = server.ws_url(&board.id, &board.viewer_token);
    assert_eq!(
        status_of(YClient::try_connect_from(&url, Some("https://board.example")).await),
        101
    );
    assert_eq!(
        status_of(YClient::try_connect_from(&url, Some("https://BOARD.example/")).await),
        101
    );
    let same = format!("http://{}", server.addr);
    assert_eq!(
        status_of(YClient::try_connect_from(&url, Some(&same)).await),
        403
    );
}

#[tokio::test]
async fn rotating_links_locks_out_the_old_ones_and_closes_their_connections() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Rotate", "current-state").await;
    let facilitator = YClient::connect(&server.ws_url(&board.id, &board.facilitator_token)).await;
    let participant =
        YClient::connect(&server.ws_url_as(&board.id, &board.participant_token, "secret-p")).await;
    let private =
        YClient::connect(&server.private_url(&board.id, &board.participant_token, "secret-p"))
            .await;
    let viewer = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    facilitator
        .wait_until("synced", PATIENCE, |c| {
            c.read(|v, t| v.stages(t).len() == 5)
        })
        .await;

    let addr = server.addr;
    let rotate = |token: &str, body: &str| {
        let path = format!("/api/boards/{}/rotate?t={token}", board.id);
        let body = body.to_string();
        async move { http_request(addr, "POST", &path, Some(&body)).await }
    };
    // Only a facilitator may, and only with a valid body.
    assert_eq!(rotate(&board.participant_token, "{}").await.status, 403);
    assert_eq!(rotate("nope", "{}").await.status, 403);
    assert_eq!(
        rotate(&board.facilitator_token, r#"{"roles": ["admin"]}"#)
            .await
            .status,
        400
    );
    assert_eq!(
        rotate(&board.facilitator_token, r#"{"roles": []}"#)
            .await
            .status,
        400
    );

    let answer = rotate(
        &board.facilitator_token,
        r#"{"roles": ["participant", "viewer"]}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let rotated = answer.json();
    let new_participant = rotated["participant_token"].as_str().unwrap().to_string();
    let new_viewer = rotated["viewer_token"].as_str().unwrap().to_string();
    assert!(rotated.get("facilitator_token").is_none());
    assert_eq!(
        rotated["links"]["participant"].as_str().unwrap(),
        format!("http://{}/b/{}#t={new_participant}", server.addr, board.id)
    );

    // Live connections with the old tokens are closed with 1008; the facilitator's is not.
    assert_eq!(participant.wait_closed().await, Some(1008));
    assert_eq!(private.wait_closed().await, Some(1008));
    assert_eq!(viewer.wait_closed().await, Some(1008));
    assert!(!facilitator.is_disconnected());

    // Old tokens no longer open the board, on the API or the WebSocket.
    for old in [&board.participant_token, &board.viewer_token] {
        let api = http_request(
            server.addr,
            "GET",
            &format!("/api/boards/{}?t={old}", board.id),
            None,
        )
        .await;
        assert_eq!(api.status, 403);
        assert_eq!(
            status_of(YClient::try_connect(&server.ws_url(&board.id, old)).await),
            403
        );
    }
    // The new ones do, with their roles.
    let summary = http_request(
        server.addr,
        "GET",
        &format!("/api/boards/{}?t={new_viewer}", board.id),
        None,
    )
    .await;
    assert_eq!(summary.json()["role"], "viewer");
    let fresh = YClient::connect(&server.ws_url(&board.id, &new_participant)).await;
    fresh.edit(|v, t| v.add_note(t, &note("after-rotation")));
    facilitator
        .wait_until("the new participant writes", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "after-rotation").is_some())
        })
        .await;
    // The stored metadata holds the new hashes, never the tokens.
    let meta = server
        .state
        .store
        .board_meta(uuid::Uuid::parse_str(&board.id).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        meta.participant_hash,
        journeyboard_server::auth::hash_token(&new_participant)
    );
    assert!(!serde_json::to_string(&meta)
        .unwrap()
        .contains(&new_participant));
}

/// The role a token opens `board` with, or the refusal's status.
async fn role_of(addr: std::net::SocketAddr, board: &str, token: &str) -> Result<String, u16> {
    let path = format!("/api/boards/{board}?t={token}");
    let answer = http_request(addr, "GET", &path, None).await;
    match answer.status {
        200 => Ok(answer.json()["role"].as_str().unwrap().to_string()),
        status => Err(status),
    }
}

/// Rotates `role` of `board` and returns its new token.
async fn rotate_role(addr: std::net::SocketAddr, path: String, role: &'static str) -> String {
    let body = format!(r#"{{"roles": ["{role}"]}}"#);
    let answer = http_request(addr, "POST", &path, Some(&body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()[format!("{role}_token")]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_rotations_of_different_roles_all_take_effect() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Rotate at once", "current-state").await;
    let path = format!(
        "/api/boards/{}/rotate?t={}",
        board.id, board.facilitator_token
    );
    let mut current = [
        ("participant", board.participant_token.clone()),
        ("viewer", board.viewer_token.clone()),
    ];
    // Rounds of participant and viewer rotations at once: each writes the board's metadata,
    // and none may undo another's.
    for round in 0..4 {
        let rotations: Vec<_> = (0..16)
            .map(|i| {
                let role = current[i % 2].0;
                tokio::spawn(rotate_role(server.addr, path.clone(), role))
                    .map(move |token| (role, token.unwrap()))
            })
            .collect();
        let mut issued: Vec<(&str, String)> = current.to_vec();
        issued.extend(futures_util::future::join_all(rotations).await);
        // Of each role's tokens, the one before the round and every rotation's, exactly one
        // opens the board (the last rotation's), with that role; the rest are refused.
        for (role, token) in current.iter_mut() {
            let mut working = Vec::new();
            for (_, candidate) in issued.iter().filter(|(r, _)| r == role) {
                match role_of(server.addr, &board.id, candidate).await {
                    Ok(granted) => working.push((candidate.clone(), granted)),
                    Err(status) => assert_eq!(status, 403, "{role}"),
                }
            }
            assert_eq!(working.len(), 1, "round {round}, {role}: {working:?}");
            assert_eq!(working[0].1, *role);
            assert_ne!(
                &working[0].0, token,
                "round {round}: {role}'s old token still works"
            );
            *token = working[0].0.clone();
        }
    }
    assert_eq!(
        role_of(server.addr, &board.id, &board.facilitator_token).await,
        Ok("facilitator".to_string())
    );
}

#[tokio::test]
async fn tokens_and_secrets_never_reach_the_log() {
    logs::capture();
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Quiet", "current-state").await;
    let secret = "my-very-own-browser-secret";
    let participant =
        YClient::connect(&server.ws_url_as(&board.id, &board.participant_token, secret)).await;
    let _private =
        YClient::connect(&server.private_url(&board.id, &board.participant_token, secret)).await;
    participant.edit(|v, t| v.add_note(t, &note("n")));
    http_request(
        server.addr,
        "GET",
        &format!("/api/boards/{}?t={}", board.id, board.viewer_token),
        None,
    )
    .await;
    http_request(
        server.addr,
        "GET",
        &format!("/api/boards/{}?t=wrong-guess-token", board.id),
        None,
    )
    .await;
    let rotated = http_request(
        server.addr,
        "POST",
        &format!(
            "/api/boards/{}/rotate?t={}",
            board.id, board.facilitator_token
        ),
        Some("{}"),
    )
    .await
    .json();
    participant.wait_closed().await;
    logs::wait_for(&[&board.id, "links rotated"]).await;
    let log = logs::all();
    assert!(log.contains(&board.id), "the log names the board");
    for token in [
        board.facilitator_token.as_str(),
        &board.participant_token,
        &board.viewer_token,
        rotated["participant_token"].as_str().unwrap(),
        rotated["viewer_token"].as_str().unwrap(),
        secret,
        "wrong-guess-token",
    ] {
        assert!(!log.contains(token), "{token} is in the log");
    }
    assert!(!log.contains("?t="), "a query string is in the log");
}
