//! What only the facilitator does, from the UI. Snapshots: save one, view it read-only beside
//! the live board, change the board, restore the snapshot (everyone's board follows), and
//! start a future-state board from it. Share links: make new ones, which shut out the old.

use journeyboard_e2e::board::LIVE_PATIENCE;
use journeyboard_e2e::{create_board, Browser, CreatedBoard, TestServer};
use serde_json::Value;

#[tokio::test]
async fn save_view_restore_and_derive_from_the_snapshots_tab() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Snapshots", "current-state").await;
    let fac = browser.session().await?;
    let par = browser.session().await?;
    fac.join(&link(&server, &board, &board.facilitator_token), "Fa")
        .await?;
    par.join(&link(&server, &board, &board.participant_token), "Pa")
        .await?;
    let kept = fac
        .add_note("purchase", "actions", "Kept in the snapshot")
        .await?;
    par.wait_for_note(&kept, "Kept in the snapshot", "purchase", "actions")
        .await?;

    fac.click("tab-snapshots").await?;
    fac.by_testid("snapshot-name")
        .await?
        .send_keys("Before changes")
        .await?;
    fac.click("save-snapshot").await?;
    fac.wait_until("the snapshot is listed", LIVE_PATIENCE, async |p| {
        Ok(p.by_testid("snapshot")
            .await?
            .text()
            .await?
            .contains("Before changes"))
    })
    .await?;

    let later = par
        .add_note("retention", "emotions", "Added after the snapshot")
        .await?;
    fac.wait_for_note(&later, "Added after the snapshot", "retention", "emotions")
        .await?;

    fac.click("open-snapshot").await?;
    fac.wait_until(
        "the read-only snapshot beside the board",
        LIVE_PATIENCE,
        async |p| {
            let text = p.by_testid("snapshot-view").await?.text().await?;
            Ok(text.contains("Kept in the snapshot") && !text.contains("Added after the snapshot"))
        },
    )
    .await?;
    fac.screenshot("snapshot-side-by-side").await?;

    fac.click("restore-snapshot").await?;
    fac.click("restore-snapshot-confirm").await?;
    par.wait_for_no_note(&later).await?;
    par.wait_for_note(&kept, "Kept in the snapshot", "purchase", "actions")
        .await?;
    // Both still see each other: a restore is a change to the board, not a new session.
    for page in [&fac, &par] {
        page.wait_until(
            "both people present",
            std::time::Duration::from_secs(3),
            async |p| Ok(p.all_by_testid("presence-user").await?.len() == 2),
        )
        .await?;
    }

    // A future-state board from the snapshot opens as a new board for the facilitator.
    let buttons = fac.all_by_testid("derive-snapshot").await?;
    buttons.last().expect("a derive button").click().await?;
    fac.wait_until("the new board", LIVE_PATIENCE, async |p| {
        Ok(!p.client.current_url().await?.path().contains(&board.id)
            && !p.all_by_testid("board").await?.is_empty())
    })
    .await?;
    fac.wait_until("it is a future-state map with the snapshot's notes", LIVE_PATIENCE, async |p| {
        let text = p.script("return document.body.innerText").await?;
        let notes = p.script("return [...document.querySelectorAll('[data-testid=note-text]')].map(t => t.value)").await?;
        Ok(text.as_str().unwrap_or_default().contains("Future state")
            && notes.as_array().is_some_and(|n| n.iter().any(|v| v == &Value::from("Kept in the snapshot"))))
    })
    .await?;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn new_links_shut_out_the_old_ones() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Rotate", "current-state").await;
    let fac = browser.session().await?;
    let old = browser.session().await?;
    fac.join(&link(&server, &board, &board.facilitator_token), "Fa")
        .await?;
    old.join(&link(&server, &board, &board.participant_token), "Ol")
        .await?;

    fac.click("share-toggle").await?;
    // The first click only asks (it would disconnect everyone); cancelling keeps the links.
    fac.click("rotate-links").await?;
    fac.click("rotate-links-cancel").await?;
    fac.click("rotate-links").await?;
    fac.click("rotate-links-confirm").await?;
    let mut fresh = String::new();
    fac.wait_until("a new participant link", LIVE_PATIENCE, async |p| {
        fresh = p
            .by_testid("share-participant")
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        Ok(fresh.contains("#t=") && !fresh.ends_with(&board.participant_token))
    })
    .await?;
    old.wait_until("the old link is shut out", LIVE_PATIENCE, async |p| {
        Ok(p.by_testid("connection-status")
            .await?
            .text()
            .await?
            .contains("no longer opens"))
    })
    .await?;
    let new = browser.session().await?;
    new.join(&fresh, "Ne").await?;
    // The shut-out participant pastes the new link into the same tab: only the part after
    // `#` differs, and the page must open the board with the new token.
    old.open(&fresh).await?;
    old.wait_for_connection("connected").await?;
    server.stop().await;
    Ok(())
}

fn link(server: &TestServer, board: &CreatedBoard, token: &str) -> String {
    format!("http://{}/b/{}#t={token}", server.addr, board.id)
}
