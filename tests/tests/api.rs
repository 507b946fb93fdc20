//! The boards HTTP API and access checks, on the API and the WebSocket route alike.

use journeyboard_tests::yclient::ConnectError;
use journeyboard_tests::{create_board, http_request, TestServer, YClient, PATIENCE};

#[tokio::test]
async fn health_check_answers() {
    let server = TestServer::start().await;
    assert_eq!(
        http_request(server.addr, "GET", "/healthz", None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn creating_a_board_returns_ids_tokens_and_links() {
    let server = TestServer::start().await;
    let body = r#"{"title": "Checkout journey", "template": "service-blueprint"}"#;
    let response = http_request(server.addr, "POST", "/api/boards", Some(body)).await;
    assert_eq!(response.status, 201, "{}", response.body);
    let created = response.json();
    let id = created["id"].as_str().unwrap();
    let parsed = uuid::Uuid::parse_str(id).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    let tokens: Vec<&str> = ["facilitator_token", "participant_token", "viewer_token"]
        .iter()
        .map(|k| created[*k].as_str().unwrap())
        .collect();
    for token in &tokens {
        assert!(token.len() >= 22, "at least 128 bits of base64: {token}");
        assert!(token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
    assert_ne!(tokens[0], tokens[1]);
    let link = created["links"]["participant"].as_str().unwrap();
    assert_eq!(
        link,
        format!("http://{}/b/{id}#t={}", server.addr, tokens[1])
    );

    let summary = http_request(
        server.addr,
        "GET",
        &format!("/api/boards/{id}?t={}", tokens[2]),
        None,
    )
    .await;
    assert_eq!(summary.status, 200);
    let summary = summary.json();
    assert_eq!(summary["title"], "Checkout journey");
    assert_eq!(summary["template"], "service-blueprint");
    assert_eq!(summary["phase"], "icebreaker");
    assert_eq!(
        summary["role"], "viewer",
        "the summary says what the token may do"
    );
    assert_eq!(
        (summary["stages"].as_u64(), summary["lanes"].as_u64()),
        (Some(5), Some(15))
    );
    assert_eq!(
        (summary["notes"].as_u64(), summary["connected"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn tokens_are_not_stored_in_the_clear() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Secret", "current-state").await;
    let meta = server
        .state
        .store
        .board_meta(uuid::Uuid::parse_str(&board.id).unwrap())
        .unwrap()
        .unwrap();
    let stored = serde_json::to_string(&meta).unwrap();
    for token in [
        &board.facilitator_token,
        &board.participant_token,
        &board.viewer_token,
    ] {
        assert!(!stored.contains(token.as_str()));
    }
}

#[tokio::test]
async fn bad_requests_get_a_clear_400_and_create_nothing() {
    let server = TestServer::start().await;
    for (body, expect) in [
        ("{not json", "invalid request body"),
        (r#"{"title": "x"}"#, "template"),
        (
            r#"{"title": "x", "template": "kanban"}"#,
            "unknown template \"kanban\"",
        ),
        (
            r#"{"title": 5, "template": "current-state"}"#,
            "invalid request body",
        ),
        (
            r#"{"title": "x", "template": "current-state", "extra": 1}"#,
            "unknown field",
        ),
        (
            r#"{"title": "a\u0000b", "template": "current-state"}"#,
            "control characters",
        ),
    ] {
        let response = http_request(server.addr, "POST", "/api/boards", Some(body)).await;
        assert_eq!(response.status, 400, "{body} -> {}", response.body);
        let message = response.json()["error"].as_str().unwrap().to_string();
        assert!(message.contains(expect), "{body}: {message}");
    }
    let long_title = format!(
        r#"{{"title": "{}", "template": "current-state"}}"#,
        "x".repeat(201)
    );
    assert_eq!(
        http_request(server.addr, "POST", "/api/boards", Some(&long_title))
            .await
            .status,
        400
    );
    assert_eq!(server.state.rooms.loaded_count(), 0);
}

#[tokio::test]
async fn unknown_boards_and_bad_tokens_are_refused_on_api_and_websocket() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Guarded", "current-state").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases = [
        (
            unknown.as_str(),
            Some(board.facilitator_token.as_str()),
            404,
        ),
        ("not-a-uuid", Some(board.facilitator_token.as_str()), 404),
        (board.id.as_str(), None, 401),
        (board.id.as_str(), Some(""), 401),
        (board.id.as_str(), Some("AAAAAAAAAAAAAAAAAAAAAAAA"), 403),
        // Two tokens: a query string that does not read (answered as JSON like the rest).
        (board.id.as_str(), Some("x&t=y"), 400),
    ];
    for (id, token, status) in cases {
        let query = token.map(|t| format!("?t={t}")).unwrap_or_default();
        let api = http_request(
            server.addr,
            "GET",
            &format!("/api/boards/{id}{query}"),
            None,
        )
        .await;
        assert_eq!(api.status, status, "API {id} {token:?}: {}", api.body);
        assert!(api.json()["error"].is_string());
        let url = format!("ws://{}/ws/{id}{query}", server.addr);
        match YClient::try_connect(&url).await {
            Err(ConnectError::Status(got)) => assert_eq!(got, status, "ws {id} {token:?}"),
            Err(other) => panic!("ws {id} {token:?}: {other:?}"),
            Ok(_) => panic!("ws {id} {token:?} was upgraded"),
        }
    }
    // An API path that does not exist is a JSON 404 too.
    for path in [
        format!("/api/boards/{}/", board.id),
        "/api/nope".to_string(),
    ] {
        let api = http_request(server.addr, "GET", &path, None).await;
        assert_eq!(api.status, 404, "{path}: {}", api.body);
        assert!(api.json()["error"].is_string(), "{path}: {}", api.body);
    }
    // The facilitator token of one board does not open another.
    let other = create_board(server.addr, "Other", "current-state").await;
    let url = server.ws_url(&other.id, &board.facilitator_token);
    assert!(matches!(
        YClient::try_connect(&url).await,
        Err(ConnectError::Status(403))
    ));
}

#[tokio::test]
async fn an_idle_room_is_unloaded_and_loads_again_intact() {
    let dir = journeyboard_tests::temp_dir("unload");
    let server = TestServer::start_in(&dir, std::time::Duration::from_millis(200)).await;
    let board = create_board(server.addr, "Idle", "current-state").await;
    let id = uuid::Uuid::parse_str(&board.id).unwrap();
    let mut a = YClient::connect(&server.ws_url(&board.id, &board.facilitator_token)).await;
    a.edit(|view, txn| view.insert_stage(txn, 5, "referral", "Referral"));
    a.wait_until("the server has the new stage", PATIENCE, |_| {
        server
            .state
            .rooms
            .loaded(id)
            .map(|room| room.summary().stages)
            == Some(6)
    })
    .await;
    a.disconnect();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while server.state.rooms.loaded(id).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "room never unloaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let b = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    b.wait_until("reloaded board has the new stage", PATIENCE, |c| {
        c.read(|v, t| v.stages(t).len() == 6)
    })
    .await;
}
