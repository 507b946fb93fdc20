//! `journeyboard backup DIR` while the server runs and clients write, and `journeyboard
//! restore DIR` into a fresh data dir that then serves the same boards.

use journeyboard_shared::{NewNote, NoteColor};
use journeyboard_tests::{create_board, ChildServer, YClient, PATIENCE};
use std::path::Path;
use std::time::Duration;

const CHILD: &str = env!("CARGO_BIN_EXE_journeyboard-child");

fn note(id: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: format!("text of {id}"),
        stage: "retention".into(),
        lane: "thoughts".into(),
        color: NoteColor::Blue,
        author: "T".into(),
        created_at: 0.0,
        ..NewNote::default()
    }
}

/// Runs `journeyboard COMMAND DIR --data-dir DATA`; returns whether it succeeded and what it
/// printed.
async fn command(name: &str, dir: &Path, data_dir: &Path) -> (bool, String) {
    let out = tokio::process::Command::new(CHILD)
        .arg(name)
        .arg(dir)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .await
        .expect("run the command");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn fresh(label: &str) -> std::path::PathBuf {
    journeyboard_tests::temp_dir(label).join("store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_writes_restores_into_a_fresh_data_dir() {
    let data = journeyboard_tests::temp_dir("live");
    let server = ChildServer::start(CHILD, &data).await;
    let boards = [
        create_board(server.addr, "Backed up", "current-state").await,
        create_board(server.addr, "Also", "service-blueprint").await,
    ];
    let writers = [
        YClient::connect(&server.ws_url(&boards[0].id, &boards[0].participant_token)).await,
        YClient::connect(&server.ws_url(&boards[1].id, &boards[1].facilitator_token)).await,
    ];
    let watcher = YClient::connect(&server.ws_url(&boards[0].id, &boards[0].viewer_token)).await;
    for i in 0..450 {
        writers[0].edit(|v, t| v.add_note(t, &note(&format!("early-{i}"))));
    }
    watcher
        .wait_until("early notes", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t)) == 450
        })
        .await;
    let relayed_before: usize = 450;

    // Back up while both boards are written to, steadily, with compactions going on (a
    // compaction every 500 updates: board 0 passes 500 meanwhile).
    let during = fresh("backup-during");
    let backup = {
        let (during, data) = (during.clone(), data.clone());
        tokio::spawn(async move { command("backup", &during, &data).await })
    };
    let mut i = 0;
    while !backup.is_finished() || i < 150 {
        for (w, writer) in writers.iter().enumerate() {
            writer.edit(|v, t| v.add_note(t, &note(&format!("during-{w}-{i}"))));
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (ok, said) = backup.await.unwrap();
    assert!(ok, "backup: {said}");
    assert!(said.contains("from the server at"), "{said}");
    let written = i;

    // Quiet now: a second backup must equal the live boards exactly.
    let readers = [
        YClient::connect(&server.ws_url(&boards[0].id, &boards[0].viewer_token)).await,
        YClient::connect(&server.ws_url(&boards[1].id, &boards[1].viewer_token)).await,
    ];
    readers[0]
        .wait_until("all written", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t)) == 450 + written
        })
        .await;
    readers[1]
        .wait_until("all written", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t)) == written
        })
        .await;
    let live: Vec<String> = readers.iter().map(YClient::state_json).collect();
    let quiet = fresh("backup-quiet");
    let (ok, said) = command("backup", &quiet, &data).await;
    assert!(ok, "{said}");
    let (ok, said) = command("backup", &quiet, &data).await;
    assert!(
        !ok && said.contains("not empty"),
        "never over another backup: {said}"
    );

    // The first backup restores into a fresh data dir: both boards load, with everything
    // relayed before the backup began, and with the same tokens.
    let restored = fresh("restored-during");
    let (ok, said) = command("restore", &during, &restored).await;
    assert!(ok, "restore: {said}");
    let second = ChildServer::start(CHILD, &restored).await;
    let reader = YClient::connect(&second.ws_url(&boards[0].id, &boards[0].viewer_token)).await;
    reader
        .wait_until("what was relayed before the backup", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t) >= relayed_before && v.note(t, "early-449").is_some())
        })
        .await;
    YClient::connect(&second.ws_url(&boards[1].id, &boards[1].facilitator_token)).await;
    second.kill9().await;

    // The quiet backup restores into boards identical to the live ones.
    let identical = fresh("restored-quiet");
    let (ok, said) = command("restore", &quiet, &identical).await;
    assert!(ok, "{said}");
    let (ok, said) = command("restore", &quiet, &identical).await;
    assert!(!ok && said.contains("already holds boards"), "{said}");
    let third = ChildServer::start(CHILD, &identical).await;
    for (b, board) in boards.iter().enumerate() {
        let reader = YClient::connect(&third.ws_url(&board.id, &board.viewer_token)).await;
        reader
            .wait_until("identical", PATIENCE, |c| c.state_json() == live[b])
            .await;
    }
    third.kill9().await;

    // With no server running, the command reads the data dir itself.
    let status = server.terminate().await;
    assert!(status.success());
    let offline = fresh("backup-offline");
    let (ok, said) = command("backup", &offline, &data).await;
    assert!(ok, "{said}");
    assert!(!said.contains("from the server"), "{said}");
}

#[tokio::test]
async fn the_admin_endpoint_needs_the_admin_token() {
    let data = journeyboard_tests::temp_dir("admin");
    let server = ChildServer::start(CHILD, &data).await;
    let get = |auth: Option<&str>| {
        let header = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let addr = server.addr;
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!(
                "GET /api/admin/backup HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.unwrap();
            String::from_utf8_lossy(&out)
                .split_whitespace()
                .nth(1)
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(get(None).await, "401");
    assert_eq!(get(Some("Bearer wrong")).await, "403");
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    assert_eq!(get(Some(&format!("Bearer {token}"))).await, "200");
    // The scheme's name is case-insensitive (RFC 7235, 2.1).
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        assert_eq!(
            get(Some(&format!("{scheme} {token}"))).await,
            "200",
            "{scheme}"
        );
    }
    assert_eq!(get(Some(&format!("Basic {token}"))).await, "401");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("admin-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only its owner may read the admin token");
    }
    server.kill9().await;
}
