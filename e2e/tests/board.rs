//! The board in real browsers: two sessions see each other's notes appear, move and change;
//! a raw Yjs client and the browser see each other's notes; a viewer cannot edit; notes made
//! offline survive a server restart and merge; undo touches only one's own changes; the grid
//! works from the keyboard. Ends with a screenshot of the board (target/e2e-screenshots/).

use journeyboard_e2e::board::{keys, LIVE_PATIENCE};
use journeyboard_e2e::{create_board, Browser, TestServer, YClient};
use journeyboard_shared::NewNote;
use std::time::Duration;

fn link(server: &TestServer, board: &journeyboard_e2e::CreatedBoard, token: &str) -> String {
    format!("http://{}/b/{}#t={token}", server.addr, board.id)
}

#[tokio::test]
async fn two_browsers_see_each_others_notes_appear_move_and_change() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Live", "current-state").await;
    let ana = browser.session().await?;
    let bo = browser.session().await?;
    ana.join(&link(&server, &board, &board.facilitator_token), "Ana")
        .await?;
    bo.join(&link(&server, &board, &board.participant_token), "Bo")
        .await?;

    // Presence: both names on both pages.
    for page in [&ana, &bo] {
        page.wait_until("both people present", LIVE_PATIENCE, async |p| {
            let names = p.presence().await?.join(" ");
            Ok(names.contains("Ana") && names.contains("Bo"))
        })
        .await?;
    }

    let id = ana
        .add_note("purchase", "pain-points", "Shipping fees")
        .await?;
    bo.wait_for_note(&id, "Shipping fees", "purchase", "pain-points")
        .await?;

    // Typing shows as it happens; both typing into one note merges.
    bo.type_into_note(&id, " show late").await?;
    ana.wait_for_note(&id, "Shipping fees show late", "purchase", "pain-points")
        .await?;

    // Drag and drop to another cell, then keyboard moves (Alt+arrows).
    ana.drag_note(&id, "consideration", "thoughts").await?;
    bo.wait_for_note(&id, "Shipping fees show late", "consideration", "thoughts")
        .await?;
    ana.press_on_note(
        &id,
        &format!("{}{}{}", keys::ALT, keys::RIGHT, keys::RELEASE),
    )
    .await?;
    bo.wait_for_note(&id, "Shipping fees show late", "purchase", "thoughts")
        .await?;
    ana.press_on_note(
        &id,
        &format!("{}{}{}", keys::ALT, keys::DOWN, keys::RELEASE),
    )
    .await?;
    bo.wait_for_note(&id, "Shipping fees show late", "purchase", "emotions")
        .await?;

    // Colour, author, selection outline.
    bo.set_note_color(&id, "pink").await?;
    ana.wait_until("the note turns pink", LIVE_PATIENCE, async |p| {
        Ok(p.note_class(&id).await?.contains("note-pink"))
    })
    .await?;
    let author = ana
        .script(&format!("return document.querySelector('[data-id=\"{id}\"] [data-testid=note-author]').textContent"))
        .await?;
    assert_eq!(author, "Ana");
    bo.press_on_note(&id, "").await?;
    ana.wait_until(
        "Bo's selection outlines the note",
        LIVE_PATIENCE,
        async |p| Ok(p.note_class(&id).await?.contains("selected-by-other")),
    )
    .await?;

    // Delete: a participant has no delete button on someone else's note; the facilitator
    // (and the author) do.
    let bo_buttons = bo
        .script(&format!("return document.querySelectorAll('[data-id=\"{id}\"] [data-testid=note-delete]').length"))
        .await?;
    assert_eq!(bo_buttons, 0, "Bo may not delete Ana's note");
    let own = bo.add_note("awareness", "actions", "Bo's own").await?;
    ana.wait_for_note(&own, "Bo's own", "awareness", "actions")
        .await?;
    bo.delete_note(&own).await?;
    ana.wait_for_no_note(&own).await?;
    ana.delete_note(&id).await?;
    bo.wait_for_no_note(&id).await?;
    ana.screenshot("two-browsers").await?;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_raw_yjs_client_and_the_browser_see_each_others_notes() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Interop", "service-blueprint").await;
    let page = browser.session().await?;
    page.join(&link(&server, &board, &board.participant_token), "Cy")
        .await?;
    // The blueprint's line of visibility is drawn once, above its first backstage lane.
    page.wait_until("the line of visibility", LIVE_PATIENCE, async |p| {
        let lines = p
            .script(
                "return [...document.querySelectorAll('.grid-row.below-visibility-line [data-testid=lane-header]')]
                     .map(h => h.dataset.id)",
            )
            .await?;
        Ok(lines == serde_json::json!(["processes"]))
    })
    .await?;
    page.script("document.querySelector('[data-testid=lane-header][data-id=processes]').scrollIntoView({block: 'center'})")
        .await?;
    page.screenshot("service-blueprint").await?;
    let raw = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;

    raw.edit(|view, txn| {
        view.add_note(
            txn,
            &NewNote {
                id: "from-raw".into(),
                text: "Written by yrs".into(),
                stage: "retention".into(),
                lane: "kpis".into(),
                author: "Robot".into(),
                ..NewNote::default()
            },
        )
    });
    page.wait_for_note("from-raw", "Written by yrs", "retention", "kpis")
        .await?;

    let id = page
        .add_note("advocacy", "love-points", "Friendly support")
        .await?;
    raw.wait_until("the browser's note", LIVE_PATIENCE, |c| {
        c.read(|v, t| v.note(t, &id).map(|n| (n.text, n.author)))
            == Some(("Friendly support".to_string(), "Cy".to_string()))
    })
    .await;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_viewer_sees_everything_live_and_can_change_nothing() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Watch", "current-state").await;
    let viewer = browser.session().await?;
    viewer
        .join(&link(&server, &board, &board.viewer_token), "Vi")
        .await?;
    let raw = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    raw.edit(|view, txn| {
        view.add_note(
            txn,
            &NewNote {
                id: "n".into(),
                text: "Visible".into(),
                stage: "awareness".into(),
                lane: "actions".into(),
                ..NewNote::default()
            },
        )
    });
    viewer
        .wait_for_note("n", "Visible", "awareness", "actions")
        .await?;

    assert!(
        viewer.all_by_testid("add-note").await?.is_empty(),
        "no add buttons for a viewer"
    );
    assert!(viewer.all_by_testid("note-delete").await?.is_empty());
    let readonly = viewer
        .script("return document.querySelector('[data-testid=note-text]').readOnly")
        .await?;
    assert_eq!(readonly, true);
    // Typing and keyboard shortcuts change nothing.
    viewer.type_into_note("n", "vandalism").await.ok();
    viewer.press_on_note("n", "\u{E017}").await?; // Delete key
    tokio::time::sleep(Duration::from_millis(500)).await;
    let other = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    other
        .wait_until("synced", LIVE_PATIENCE, |c| {
            c.read(|v, t| v.note(t, "n").is_some())
        })
        .await;
    assert_eq!(
        other.read(|v, t| v.note(t, "n").map(|n| n.text)),
        Some("Visible".to_string())
    );
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn offline_edits_survive_a_server_restart_and_merge() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let dir = journeyboard_tests::temp_dir("e2e-restart");
    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let addr = server.addr;
    let board = create_board(addr, "Restart", "current-state").await;
    let page = browser.session().await?;
    page.join(&link(&server, &board, &board.participant_token), "Di")
        .await?;
    let before = page
        .add_note("awareness", "actions", "Saved before")
        .await?;
    let raw = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    raw.wait_until("server has it", LIVE_PATIENCE, |c| {
        c.read(|v, t| v.note(t, &before).is_some())
    })
    .await;

    server.stop().await;
    page.wait_for_connection("offline").await?;
    let offline = page
        .add_note("retention", "emotions", "Typed while offline")
        .await?;
    page.type_into_note(&before, ", then edited offline")
        .await?;

    let server = TestServer::start_on(addr, &dir, Duration::from_secs(30)).await;
    page.wait_for_connection("connected").await?;
    let raw = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    raw.wait_until(
        "offline edits reached the restarted server",
        LIVE_PATIENCE,
        |c| {
            c.read(|v, t| {
                v.note(t, &offline).map(|n| n.text).as_deref() == Some("Typed while offline")
                    && v.note(t, &before).map(|n| n.text).as_deref()
                        == Some("Saved before, then edited offline")
            })
        },
    )
    .await;
    // And the server's changes reach the page.
    raw.edit(|_, _| {});
    let writer = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    writer.edit(|view, txn| {
        view.add_note(
            txn,
            &NewNote {
                id: "after".into(),
                text: "After restart".into(),
                stage: "advocacy".into(),
                lane: "actions".into(),
                ..NewNote::default()
            },
        )
    });
    page.wait_for_note("after", "After restart", "advocacy", "actions")
        .await?;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn undo_reverts_only_my_own_changes() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Undo", "current-state").await;
    let page = browser.session().await?;
    page.join(&link(&server, &board, &board.participant_token), "Ed")
        .await?;
    let raw = YClient::connect(&server.ws_url(&board.id, &board.participant_token)).await;
    let mine = page.add_note("purchase", "actions", "Mine").await?;
    raw.edit(|view, txn| {
        view.add_note(
            txn,
            &NewNote {
                id: "theirs".into(),
                text: "Theirs".into(),
                stage: "purchase".into(),
                lane: "actions".into(),
                ..NewNote::default()
            },
        )
    });
    page.wait_for_note("theirs", "Theirs", "purchase", "actions")
        .await?;

    page.click("undo").await?;
    page.wait_until("my note's text undone", LIVE_PATIENCE, async |p| {
        Ok(p.note(&mine).await?.map(|n| n.0) == Some(String::new()))
    })
    .await?;
    page.click("undo").await?;
    page.wait_for_no_note(&mine).await?;
    assert!(
        page.note("theirs").await?.is_some(),
        "someone else's note is never undone"
    );
    // Ctrl+Shift+Z redoes.
    page.client
        .active_element()
        .await?
        .send_keys(&format!(
            "{}{}z{}",
            keys::CONTROL,
            keys::SHIFT,
            keys::RELEASE
        ))
        .await?;
    page.wait_until("redone", LIVE_PATIENCE, async |p| {
        Ok(p.note(&mine).await?.is_some())
    })
    .await?;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_grid_works_from_the_keyboard_and_the_facilitator_edits_its_structure(
) -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Keyboard", "current-state").await;
    let page = browser.session().await?;
    page.join(&link(&server, &board, &board.facilitator_token), "Fa")
        .await?;

    // Screen-reader label, arrow keys between cells, Enter adds a note.
    page.script(
        "document.querySelector('[data-testid=cell][data-row=\"0\"][data-col=\"0\"]').focus()",
    )
    .await?;
    page.client
        .active_element()
        .await?
        .send_keys(&format!("{}{}", keys::RIGHT, keys::DOWN))
        .await?;
    let focused = page.script("return [document.activeElement.dataset.stage, document.activeElement.dataset.lane, document.activeElement.getAttribute('aria-label')]").await?;
    assert_eq!(
        focused,
        serde_json::json!([
            "consideration",
            "motivations",
            "Consideration, Motivations, 0 notes"
        ])
    );
    page.client
        .active_element()
        .await?
        .send_keys(keys::ENTER)
        .await?;
    page.wait_until("a note in the focused cell", LIVE_PATIENCE, async |p| {
        Ok(p.script("return document.querySelectorAll('[data-stage=consideration][data-lane=motivations] [data-testid=note]').length").await? == 1)
    })
    .await?;
    page.client
        .active_element()
        .await?
        .send_keys("Compare plans")
        .await?;
    let label = page.script("return document.querySelector('[data-stage=consideration][data-lane=motivations]').getAttribute('aria-label')").await?;
    assert_eq!(label, "Consideration, Motivations, 1 note");

    // Structure: add a stage, rename it, move a lane, remove a stage.
    page.click("add-stage").await?;
    page.wait_until("six stages", LIVE_PATIENCE, async |p| {
        Ok(p.all_by_testid("stage-header").await?.len() == 6)
    })
    .await?;
    let title = page.client.find(fantoccini::Locator::Css("[data-testid=stage-header]:nth-of-type(7) input, [data-testid=stage-header]:last-of-type input")).await;
    if let Ok(input) = title {
        input.clear().await?;
        input.send_keys(&format!("Referral{}", keys::ENTER)).await?;
    }
    page.script("document.querySelector('[data-testid=lane-header][data-id=opportunities] button[aria-label^=\"Move lane\"][aria-label$=\"up\"]').click()").await?;
    page.script("document.querySelector('[data-testid=stage-header][data-id=advocacy] button.danger').click()").await?;
    let raw = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    raw.wait_until("structure changes reached the server", LIVE_PATIENCE, |c| {
        c.read(|v, t| {
            let stages: Vec<String> = v.stages(t).into_iter().map(|s| s.title).collect();
            let lanes: Vec<String> = v.lanes(t).into_iter().map(|l| l.id).collect();
            stages.len() == 5
                && !stages.contains(&"Advocacy".to_string())
                && stages.contains(&"Referral".to_string())
                && lanes[7] == "opportunities"
        })
    })
    .await;
    page.screenshot("board").await?;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_reload_while_the_server_is_down_keeps_unsynced_edits() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let dir = journeyboard_tests::temp_dir("e2e-offline-reload");
    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let addr = server.addr;
    let board = create_board(addr, "Offline reload", "current-state").await;
    let url = link(&server, &board, &board.participant_token);
    let page = browser.session().await?;
    page.join(&url, "Flo").await?;
    // The app shell is cached by the service worker once it controls the page.
    page.wait_until(
        "the service worker controls the page",
        LIVE_PATIENCE,
        async |p| {
            Ok(
                p.script("return navigator.serviceWorker.controller !== null")
                    .await?
                    == serde_json::json!(true),
            )
        },
    )
    .await?;
    page.wait_for_connection("connected").await?;

    server.stop().await;
    page.wait_for_connection("offline").await?;
    let id = page
        .add_note("purchase", "thoughts", "Written offline, then reloaded")
        .await?;
    tokio::time::sleep(Duration::from_millis(800)).await; // the local copy is saved within 400 ms
    page.client.refresh().await?;
    page.wait_for_note(
        &id,
        "Written offline, then reloaded",
        "purchase",
        "thoughts",
    )
    .await?;
    page.wait_for_connection("offline").await?;

    let server = TestServer::start_on(addr, &dir, Duration::from_secs(30)).await;
    page.wait_for_connection("connected").await?;
    let raw = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    raw.wait_until(
        "the reloaded page's offline note reached the server",
        LIVE_PATIENCE,
        |c| {
            c.read(|v, t| v.note(t, &id).map(|n| n.text)).as_deref()
                == Some("Written offline, then reloaded")
        },
    )
    .await;
    server.stop().await;
    Ok(())
}
