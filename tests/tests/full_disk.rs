//! A real full disk: the data dir on a 3 MiB tmpfs. Writes fill it, the writer is told
//! (close 1011) and the log says why; once the disk has room again the store opens its
//! database again (sled refuses everything after a failed write until then) and the room
//! saves its whole document, so nothing the clients still hold is lost, across a restart too.
//!
//! Mounting a tmpfs needs root (these tests run as root in CI, and `.ci/run` runs this one);
//! where it cannot be mounted the test says so and passes: tests/tests/storage_errors.rs
//! covers the same path with a store that fails on demand, everywhere.

use journeyboard_shared::{NewNote, NoteColor};
use journeyboard_tests::{create_board, logs, TestServer, YClient, PATIENCE};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = journeyboard_tests::temp_dir("full-disk");
        std::fs::create_dir_all(&dir).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs(dir))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(status.success(), "remount the tmpfs");
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn big_note(i: usize) -> NewNote {
    NewNote {
        id: format!("n{i}"),
        text: format!("{i} {}", "x".repeat(9_000)),
        stage: "purchase".into(),
        lane: "actions".into(),
        color: NoteColor::Yellow,
        author: "T".into(),
        created_at: 0.0,
        ..NewNote::default()
    }
}

#[tokio::test]
async fn a_full_disk_refuses_edits_clearly_and_the_server_resumes_once_there_is_room() {
    let Some(disk) = Tmpfs::mount("3m") else {
        eprintln!("skipped: a tmpfs cannot be mounted here (needs root)");
        return;
    };
    logs::capture();
    let data = disk.path().join("data");
    let server = TestServer::start_in(&data, Duration::from_secs(30)).await;
    let board = create_board(server.addr, "Full disk", "current-state").await;
    let mut writer = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;

    // Fill the disk: about 9 KB per note, 3 MiB in all.
    let mut written = 0;
    while !writer.is_disconnected() && written < 2_000 {
        writer.edit(|v, t| v.add_note(t, &big_note(written)));
        written += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        writer.wait_closed().await,
        Some(1011),
        "storage unavailable"
    );
    logs::wait_for(&["No space left on device"]).await;
    let kept_by_the_writer = writer.read(|v, t| v.note_count(t));
    assert!(kept_by_the_writer > 10, "wrote {kept_by_the_writer} notes");

    // Room again: after the reopen delay the next edit goes through, and the board is saved
    // whole, with the notes the store had lost.
    disk.resize("64m");
    tokio::time::sleep(journeyboard_server::store::REOPEN_EVERY + Duration::from_millis(200)).await;
    writer.reconnect().await;
    writer.edit(|v, t| v.add_note(t, &big_note(100_000)));
    logs::wait_for(&["the store failed and was opened again"]).await;
    let reader = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    reader
        .wait_until("every note the writer has", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t)) == kept_by_the_writer + 1
        })
        .await;
    assert!(!writer.is_disconnected());

    // And on disk: a restart has all of it.
    let expected = reader.state_json();
    server.stop().await;
    let server = TestServer::start_in(&data, Duration::from_secs(30)).await;
    let after = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    after
        .wait_until("the same board after a restart", PATIENCE, |c| {
            c.state_json() == expected
        })
        .await;
    server.stop().await;
}
