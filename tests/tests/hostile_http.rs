//! The HTTP surface against a hostile or careless client: security headers and no inline
//! script, path traversal, unknown methods, oversized, mistyped and malformed bodies, and
//! WebSocket upgrades that are not. Each test starts the real server and sends it requests,
//! some as raw bytes. (Who may open a board: access.rs.)

use journeyboard_tests::http::http_request_typed;
use journeyboard_tests::{create_board, http_request, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn pages_carry_the_security_headers_and_no_inline_script() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Headers", "current-state").await;
    for path in [
        "/".to_string(),
        format!("/b/{}", board.id),
        "/healthz".into(),
    ] {
        let page = http_request(server.addr, "GET", &path, None).await;
        assert_eq!(page.status, 200, "{path}");
        let csp = page.header("content-security-policy").expect("a CSP");
        for directive in [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "style-src 'self'",
            "img-src 'self' data:",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp} lacks {directive}");
        }
        assert!(
            csp.contains(&format!("connect-src 'self' ws://{}", server.addr)),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
    }
    // The app's page has no inline script for the policy to block: every script has a src.
    let index = http_request(server.addr, "GET", "/", None).await.body;
    let scripts = index.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        index.matches("<script type=\"module\" src=").count(),
        scripts,
        "{index}"
    );
    let boot = http_request(server.addr, "GET", "/boot.js", None).await;
    assert_eq!(boot.status, 200);
    assert!(boot.body.contains("serviceWorker.register('/sw.js')"));
}

/// Sends raw bytes as one request and returns the status code and the whole answer.
async fn raw(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[tokio::test]
async fn hostile_http_requests_get_clear_errors_and_nothing_outside_the_static_root() {
    let server = TestServer::start().await;
    // Path traversal, plain and encoded: never a file from outside static/ (the repository's
    // Cargo.toml is one level up; /etc/passwd is further).
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2e%2e%2fCargo.toml",
        "/pkg/../../Cargo.toml",
        "/pkg/%2e%2e/%2e%2e/Cargo.toml",
        "/..%5cCargo.toml",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/b/x/../../../Cargo.toml",
        "/static/../../../../../../etc/passwd",
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let (status, answer) = raw(server.addr, &request).await;
        assert!(
            !answer.contains("[workspace]") && !answer.contains("root:x:0"),
            "{path} served a file from outside static/"
        );
        assert!(
            (400..500).contains(&status) || status == 200,
            "{path}: {status}"
        );
        if status == 200 {
            assert!(
                answer.contains("<!doctype html>"),
                "{path}: only the app's page"
            );
        }
    }
    // Unknown methods: 405 with a clear JSON error.
    for (method, path) in [
        ("DELETE", "/api/boards"),
        ("PUT", "/healthz"),
        ("PATCH", "/api/boards/x"),
    ] {
        let response = http_request(server.addr, method, path, None).await;
        assert_eq!(response.status, 405, "{method} {path}");
        assert_eq!(response.json()["error"], "method not allowed");
    }
    let (status, _) = raw(
        server.addr,
        "BREW / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!((400..500).contains(&status), "BREW: {status}");
    // A body far over the limit: 413, not read whole, nothing created.
    let huge = format!(
        r#"{{"title": "{}", "template": "current-state"}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    let response = http_request(server.addr, "POST", "/api/boards", Some(&huge)).await;
    assert_eq!(response.status, 413, "{}", response.body);
    // Invalid JSON, and JSON of the wrong shape, on every JSON endpoint: 400 and a message.
    let board = create_board(server.addr, "Bodies", "current-state").await;
    for path in [
        "/api/boards".to_string(),
        format!(
            "/api/boards/{}/rotate?t={}",
            board.id, board.facilitator_token
        ),
        format!(
            "/api/boards/{}/snapshots?t={}",
            board.id, board.facilitator_token
        ),
    ] {
        for body in ["{not json", "[1, 2", r#"{"roles": "all", "title": 5}"#] {
            let response = http_request(server.addr, "POST", &path, Some(body)).await;
            assert_eq!(response.status, 400, "{path} {body}: {}", response.body);
            assert!(response.json()["error"]
                .as_str()
                .unwrap()
                .contains("invalid"));
        }
    }
    // The WebSocket route with a valid board and token but no valid upgrade: a clear error
    // before the board is touched.
    let ws_path = format!("/ws/{}?t={}", board.id, board.participant_token);
    // "close" so that the server ends the connection after its answer.
    let upgrade = "Connection: Upgrade, close\r\nUpgrade: websocket\r\n";
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    for (headers, status, error) in [
        (
            "Connection: close\r\n".into(),
            426,
            "WebSocket connections only",
        ),
        (
            format!("{upgrade}{key}Sec-WebSocket-Version: 8\r\n"),
            400,
            "WebSocket version",
        ),
        (
            format!("{upgrade}Sec-WebSocket-Version: 13\r\n"),
            400,
            "Sec-WebSocket-Key",
        ),
    ] {
        let request = format!("GET {ws_path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
        let (got, answer) = raw(server.addr, &request).await;
        assert_eq!(got, status, "{headers}: {answer}");
        assert!(answer.contains(error), "{headers}: {answer}");
    }
    assert_eq!(
        server.state.rooms.loaded_count(),
        0,
        "no board was loaded by any of it"
    );
}

#[tokio::test]
async fn every_json_endpoint_answers_413_for_a_large_body_and_415_for_another_type() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Bodies", "current-state").await;
    let facilitator = |path: &str| {
        format!(
            "/api/boards/{}/{path}?t={}",
            board.id, board.facilitator_token
        )
    };
    let saved = http_request(
        server.addr,
        "POST",
        &facilitator("snapshots"),
        Some(r#"{"name": "To derive from"}"#),
    )
    .await;
    let sid = saved.json()["id"].as_str().unwrap().to_string();
    const MIB: usize = 1024 * 1024;
    // Each endpoint with a body just over its limit: 2 MB, imports 16 MiB.
    for (path, too_large) in [
        ("/api/boards".to_string(), 3 * MIB),
        (facilitator("rotate"), 3 * MIB),
        (facilitator("snapshots"), 3 * MIB),
        (facilitator(&format!("snapshots/{sid}/derive")), 3 * MIB),
        ("/api/boards/import".to_string(), 17 * MIB),
    ] {
        let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(too_large));
        let response = http_request(server.addr, "POST", &path, Some(&huge)).await;
        assert_eq!(response.status, 413, "{path}: {}", response.body);
        assert!(response.json()["error"].as_str().unwrap().contains("body"));
        for content_type in [Some("text/plain"), None] {
            let response =
                http_request_typed(server.addr, "POST", &path, content_type, Some("{}")).await;
            assert_eq!(
                response.status, 415,
                "{path} {content_type:?}: {}",
                response.body
            );
            assert!(
                response.json()["error"]
                    .as_str()
                    .unwrap()
                    .contains("Content-Type"),
                "{path}: {}",
                response.body
            );
        }
    }
}

#[tokio::test]
async fn a_plain_get_on_the_websocket_route_names_the_upgrade_it_needs() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Upgrade", "current-state").await;
    let request = format!(
        "GET /ws/{}?t={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        board.id, board.viewer_token
    );
    let (status, answer) = raw(server.addr, &request).await;
    assert_eq!(status, 426, "{answer}");
    // RFC 7231, 6.5.15: a 426 carries an Upgrade header naming the protocol.
    let head = answer
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase();
    assert!(head.contains("\r\nupgrade: websocket\r\n"), "{head}");
    assert!(
        head.lines()
            .filter_map(|line| line.strip_prefix("connection:"))
            .any(|value| value.split(',').any(|token| token.trim() == "upgrade")),
        "{head}"
    );
}
