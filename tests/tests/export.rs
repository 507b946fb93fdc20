//! Exports against a board built by a raw Yjs client: emoji, right-to-left text, commas,
//! quotes and line breaks survive every format; the pictures decode at the expected size.

use journeyboard_shared::export::BoardData;
use journeyboard_shared::schema::key;
use journeyboard_shared::{Channel, NewNote, NoteColor, Persona, TouchpointStatus};
use journeyboard_tests::{create_board, http_request, CreatedBoard, TestServer, YClient, PATIENCE};
use std::net::SocketAddr;

const TRICKY: &str = "Price, \"hidden\" fees\nand a 2nd line 😤";
const RTL: &str = "الدفع صعب جدا";

async fn seeded_board() -> (TestServer, CreatedBoard, YClient) {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Checkout, \"v2\" 🛒", "current-state").await;
    let client = YClient::connect(&format!(
        "{}&u=exporter-secret",
        server.ws_url(&board.id, &board.facilitator_token)
    ))
    .await;
    client.edit(|view, txn| {
        view.add_note(
            txn,
            &NewNote {
                id: "n-tricky".into(),
                text: TRICKY.into(),
                stage: "purchase".into(),
                lane: "pain-points".into(),
                color: NoteColor::Pink,
                author: "Zoë".into(),
                created_at: 1_700_000_000_000.0,
                ..NewNote::default()
            },
        );
        view.add_note(
            txn,
            &NewNote {
                id: "n-rtl".into(),
                text: RTL.into(),
                stage: "purchase".into(),
                lane: "opportunities".into(),
                color: NoteColor::Green,
                author: "Amal".into(),
                created_at: 1_700_000_001_000.0,
                ..NewNote::default()
            },
        );
        view.add_note(
            txn,
            &NewNote {
                id: "n-tp".into(),
                text: "Mobile app".into(),
                stage: "awareness".into(),
                lane: "touchpoints".into(),
                author: "Bo".into(),
                created_at: 1_700_000_002_000.0,
                ..NewNote::default()
            },
        );
        view.set_touchpoint(
            txn,
            "n-tp",
            Some(Channel::App),
            Some(TouchpointStatus::Intended),
        );
        for i in 0..100 {
            view.add_note(
                txn,
                &NewNote {
                    id: format!("bulk-{i:03}"),
                    text: format!("Bulk note number {i} with a few words to wrap"),
                    stage: [
                        "awareness",
                        "consideration",
                        "purchase",
                        "retention",
                        "advocacy",
                    ][i % 5]
                        .into(),
                    lane: "actions".into(),
                    author: "Bulk".into(),
                    created_at: 1_700_000_100_000.0 + i as f64,
                    ..NewNote::default()
                },
            );
        }
        view.set_emotion(txn, "a", "purchase", Some(-2));
        view.set_emotion(txn, "b", "purchase", Some(0));
        view.set_emotion(txn, "a", "awareness", Some(1));
        view.put_persona(
            txn,
            &Persona {
                id: "p1".into(),
                name: "Busy parent".into(),
                avatar: "👩".into(),
                goals: "Buy fast".into(),
                quote: "No time!".into(),
                research: "8 of 12 interviewees shop on their phone".into(),
                ..Persona::default()
            },
        );
        view.set_setting(txn, key::MAIN_PERSONA, "p1");
        view.set_setting(txn, key::KPIS, "Checkout conversion");
        view.set_vote_totals(
            txn,
            &std::collections::BTreeMap::from([
                ("n-tricky".to_string(), 4),
                ("n-rtl".to_string(), 2),
            ]),
        );
        view.put_action_item(
            txn,
            &journeyboard_shared::ActionItem {
                id: "a1".into(),
                text: "Show fees early".into(),
                owner: "Kim".into(),
                due: "2026-12-01".into(),
                note: "n-tricky".into(),
            },
        );
        view.put_resource(
            txn,
            "r1",
            "UX designer",
            journeyboard_shared::ResourceKind::Have,
        );
        view.put_resource(
            txn,
            "r2",
            "Payment API budget",
            journeyboard_shared::ResourceKind::Need,
        );
    });
    // A second client seeing everything means the server has it.
    let watcher = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    watcher
        .wait_until("server has the board", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t)) == 103
        })
        .await;
    (server, board, client)
}

async fn export(
    addr: SocketAddr,
    board: &CreatedBoard,
    ext: &str,
) -> journeyboard_tests::http::HttpResponse {
    let response = http_request(
        addr,
        "GET",
        &format!(
            "/api/boards/{}/export.{ext}?t={}",
            board.id, board.viewer_token
        ),
        None,
    )
    .await;
    assert_eq!(response.status, 200, "export.{ext}: {}", response.body);
    response
}

#[tokio::test]
async fn markdown_report_has_every_section() {
    let (server, board, _client) = seeded_board().await;
    let md = export(server.addr, &board, "md").await;
    assert!(md
        .header("content-type")
        .unwrap()
        .starts_with("text/markdown"));
    let md = md.body;
    for expected in [
        "# Checkout, \"v2\" 🛒",
        "**Map type:** Current state (as is)",
        "**KPIs to watch:** Checkout conversion",
        "## Personas",
        "Busy parent (main persona)",
        "- **What the research said:** 8 of 12 interviewees shop on their phone",
        "### Purchase",
        "**Pain points / barriers**",
        "Price, \"hidden\" fees and a 2nd line 😤",
        RTL,
        "## Emotion curve",
        "| Purchase | -1 | -2 | +0 |",
        "## Touchpoint gap",
        "App",
        "## Pain points and opportunities, by votes",
        "| 4 | Pain point |",
        "## Action items",
        "| Show fees early | Kim | 2026-12-01 |",
        "**We need**",
        "Payment API budget",
        "Zoë",
    ] {
        assert!(md.contains(expected), "report lacks {expected:?}:\n{md}");
    }
    assert!(
        md.find("| 4 | Pain point |").unwrap() < md.find("| 2 | Opportunity |").unwrap(),
        "ranked by votes"
    );
}

#[tokio::test]
async fn csv_survives_a_round_trip() {
    let (server, board, _client) = seeded_board().await;
    let response = export(server.addr, &board, "csv").await;
    assert!(response
        .header("content-disposition")
        .unwrap()
        .contains(".csv"));
    let text = response
        .body
        .strip_prefix('\u{feff}')
        .expect("UTF-8 byte-order mark");
    let rows = parse_csv(text);
    assert_eq!(
        rows[0],
        [
            "stage",
            "lane",
            "text",
            "author",
            "colour",
            "channel",
            "status",
            "votes",
            "area",
            "created_at"
        ]
    );
    assert_eq!(rows.len(), 1 + 103);
    let tricky = rows
        .iter()
        .find(|r| r[2] == TRICKY)
        .expect("tricky note intact");
    assert_eq!(
        (
            tricky[0].as_str(),
            tricky[1].as_str(),
            tricky[3].as_str(),
            tricky[7].as_str()
        ),
        ("Purchase", "Pain points / barriers", "Zoë", "4")
    );
    assert_eq!(tricky[9], "2023-11-14T22:13:20Z");
    assert!(rows.iter().any(|r| r[2] == RTL));
    let tp = rows.iter().find(|r| r[2] == "Mobile app").unwrap();
    assert_eq!((tp[5].as_str(), tp[6].as_str()), ("app", "intended"));
}

#[tokio::test]
async fn csv_cells_cannot_start_a_spreadsheet_formula() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "=1+1 formulas", "current-state").await;
    let client = YClient::connect(&server.ws_url(&board.id, &board.facilitator_token)).await;
    let texts = [
        "=HYPERLINK(\"https://evil.example\",\"click\")",
        "=cmd|' /C calc'!A0",
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        "a = b, said @kim",
    ];
    client.edit(|view, txn| {
        for (i, text) in texts.iter().enumerate() {
            view.add_note(
                txn,
                &NewNote {
                    id: format!("n{i}"),
                    text: (*text).into(),
                    stage: "purchase".into(),
                    lane: "actions".into(),
                    author: "=evil()".into(),
                    created_at: 1_700_000_000_000.0 + i as f64,
                    ..NewNote::default()
                },
            );
        }
    });
    let watcher = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    watcher
        .wait_until("server has the notes", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t)) == texts.len()
        })
        .await;
    let csv = export(server.addr, &board, "csv").await.body;
    let rows = parse_csv(csv.strip_prefix('\u{feff}').unwrap());
    // OWASP's advice: a cell that starts with = + - @ tab or CR gets a leading quote, which
    // spreadsheets show as text; other cells are written as they are.
    for text in &texts[..7] {
        let row = rows.iter().find(|r| r[2] == format!("'{text}"));
        assert!(row.is_some(), "{text:?} not neutralised: {csv}");
        assert_eq!(row.unwrap()[3], "'=evil()");
    }
    assert!(rows.iter().any(|r| r[2] == texts[7]), "{csv}");
}

#[tokio::test]
async fn json_export_imports_as_an_identical_board() {
    let (server, board, _client) = seeded_board().await;
    let json = export(server.addr, &board, "json").await.body;
    let original: BoardData = serde_json::from_str(&json).expect("documented JSON");
    assert_eq!(original.format, "journeyboard/1");
    let imported = http_request(server.addr, "POST", "/api/boards/import", Some(&json)).await;
    assert_eq!(imported.status, 201, "{}", imported.body);
    let imported: CreatedBoard = serde_json::from_str(&imported.body).unwrap();
    assert_ne!(imported.id, board.id);
    let again = export(server.addr, &imported, "json").await.body;
    let copy: BoardData = serde_json::from_str(&again).unwrap();
    assert_eq!(copy, original);

    // An export made before persona cards had `research` still imports (read as empty).
    let mut older: serde_json::Value = serde_json::from_str(&json).unwrap();
    for persona in older["personas"].as_array_mut().unwrap() {
        persona.as_object_mut().unwrap().remove("research");
    }
    let older = serde_json::to_string(&older).unwrap();
    let imported = http_request(server.addr, "POST", "/api/boards/import", Some(&older)).await;
    assert_eq!(imported.status, 201, "{}", imported.body);

    // Two notes with one id: one would silently replace the other.
    let mut twins = original.clone();
    twins.notes.push(twins.notes[0].clone());
    let twins = serde_json::to_string(&twins).unwrap();
    let refused = http_request(server.addr, "POST", "/api/boards/import", Some(&twins)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("two notes have the id"),
        "{}",
        refused.body
    );
    let mut nul = original.clone();
    nul.title = "a\u{0}b".into();
    let nul = serde_json::to_string(&nul).unwrap();
    let refused = http_request(server.addr, "POST", "/api/boards/import", Some(&nul)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);

    let bad = http_request(
        server.addr,
        "POST",
        "/api/boards/import",
        Some("{\"format\": \"nope\"}"),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

#[tokio::test]
async fn svg_and_png_decode_at_the_expected_size() {
    let (server, board, _client) = seeded_board().await;
    let svg = export(server.addr, &board, "svg").await;
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    let tree = usvg::Tree::from_str(&svg.body, &usvg::Options::default()).expect("SVG parses");
    let (w, h) = (tree.size().width(), tree.size().height());
    assert_eq!(w, 24.0 * 2.0 + 190.0 + 250.0 * 5.0, "one column per stage");
    assert!(h > 1000.0, "tall enough for 100 notes: {h}");
    assert!(svg.body.contains("Bulk note number 99"));
    assert!(svg.body.contains("&quot;hidden&quot;"));

    let png = http_request_bytes(
        server.addr,
        &format!(
            "/api/boards/{}/export.png?t={}",
            board.id, board.viewer_token
        ),
    )
    .await;
    let pixmap = tiny_skia::Pixmap::decode_png(&png).expect("PNG decodes");
    assert_eq!(pixmap.width(), (w * 1.5).ceil() as u32);
    assert_eq!(pixmap.height(), (h * 1.5).ceil() as u32);
    // Not blank: the header band is the accent colour.
    let distinct: std::collections::HashSet<_> = pixmap
        .pixels()
        .iter()
        .map(|p| (p.red(), p.green(), p.blue()))
        .collect();
    assert!(
        distinct.len() > 20,
        "a real picture, {} colours",
        distinct.len()
    );
    std::fs::create_dir_all("../target/exports").ok();
    std::fs::write("../target/exports/board.png", &png).ok();
}

#[tokio::test]
async fn exports_need_a_token_and_a_known_format() {
    let (server, board, _client) = seeded_board().await;
    let no_token = http_request(
        server.addr,
        "GET",
        &format!("/api/boards/{}/export.md", board.id),
        None,
    )
    .await;
    assert_eq!(no_token.status, 401);
    let unknown = http_request(
        server.addr,
        "GET",
        &format!(
            "/api/boards/{}/export.docx?t={}",
            board.id, board.viewer_token
        ),
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);
}

/// A minimal RFC 4180 reader, independent of the writer under test.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

async fn http_request_bytes(addr: SocketAddr, path: &str) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("chunked"), "expected a sized body");
    raw[split..].to_vec()
}

#[tokio::test]
async fn unrevealed_private_notes_are_in_no_export() {
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Private", "current-state").await;
    let private =
        YClient::connect(&server.private_url(&board.id, &board.participant_token, "secret-of-ana"))
            .await;
    private.edit(|view, txn| {
        view.add_note(
            txn,
            &NewNote {
                id: "secret-note".into(),
                text: "My private warm-up".into(),
                area: journeyboard_shared::NoteArea::Icebreaker,
                ..NewNote::default()
            },
        )
    });
    // Another connection to the same private room proves the server has the note.
    let again =
        YClient::connect(&server.private_url(&board.id, &board.participant_token, "secret-of-ana"))
            .await;
    again
        .wait_until("the server has the private note", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "secret-note").is_some())
        })
        .await;
    for ext in ["md", "csv", "json", "svg"] {
        let body = export(server.addr, &board, ext).await.body;
        assert!(
            !body.contains("My private warm-up"),
            "export.{ext} leaks a private note"
        );
    }
}
