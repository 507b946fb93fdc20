//! One whole workshop in real browsers: a facilitator creates the board from the home page
//! and shares the link; two participants join; the team goes through the five phases
//! (private warm-up notes revealed, a persona, touchpoints with their gap, a walkthrough with
//! emotion scores and the curve, dot voting) and sees the ranked result.

use journeyboard_e2e::board::{keys, LIVE_PATIENCE};
use journeyboard_e2e::{Browser, TestServer, PAGE_PATIENCE};
use serde_json::Value;

#[tokio::test]
async fn a_whole_workshop_from_creation_to_ranked_result() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let fac = browser.session().await?;
    let ana = browser.session().await?;
    let bo = browser.session().await?;

    // Create from the home page; land on the board as facilitator with the share links.
    fac.open(&format!("http://{}/", server.addr)).await?;
    fac.wait_for_app(PAGE_PATIENCE).await?;
    fac.by_testid("board-title")
        .await?
        .send_keys("Web shop, first purchase")
        .await?;
    fac.by_testid("board-template")
        .await?
        .select_by_value("current-state")
        .await?;
    fac.click("create-board").await?;
    fac.wait_until("the board page", PAGE_PATIENCE, async |p| {
        Ok(p.client.current_url().await?.path().starts_with("/b/"))
    })
    .await?;
    let url = fac.client.current_url().await?.to_string();
    fac.join(&url, "Fay").await?;
    let participant_link = fac
        .by_testid("share-participant")
        .await?
        .prop("value")
        .await?
        .unwrap_or_default();
    assert!(
        participant_link.contains("/b/") && participant_link.contains("#t="),
        "{participant_link}"
    );
    fac.click("share-toggle").await?; // close the share panel
    ana.join(&participant_link, "Ana").await?;
    bo.join(&participant_link, "Bo").await?;

    // 1. Icebreaker: goals, a shared time box, private notes revealed by the facilitator.
    fac.click("tab-warmup").await?;
    fac.by_testid("kpis")
        .await?
        .send_keys(&format!("Checkout conversion{}", "\t"))
        .await?;
    let minutes = fac.by_testid("timer-minutes").await?;
    minutes.clear().await?;
    minutes.send_keys("0.1").await?;
    fac.click("timer-start").await?;
    for page in [&ana, &bo] {
        page.wait_until("the shared countdown runs", LIVE_PATIENCE, async |p| {
            Ok(p.attr_of("timer", "data-state").await?.as_deref() == Some("running"))
        })
        .await?;
    }
    ana.wait_until("time's up for everyone", LIVE_PATIENCE, async |p| {
        Ok(p.attr_of("timer", "data-state").await?.as_deref() == Some("finished"))
    })
    .await?;
    fac.click("private-mode").await?;
    ana.click("tab-warmup").await?;
    ana.wait_until("private mode reaches Ana", LIVE_PATIENCE, async |p| {
        Ok(p.by_testid("add-icebreaker-note")
            .await?
            .text()
            .await?
            .contains("Private"))
    })
    .await?;
    ana.click("add-icebreaker-note").await?;
    ana.wait_until("Ana's private note", LIVE_PATIENCE, async |p| {
        Ok(!p.all_by_testid("private-note").await?.is_empty())
    })
    .await?;
    ana.client
        .active_element()
        .await?
        .send_keys("I once waited 3 weeks for a sofa")
        .await?;
    bo.click("tab-warmup").await?;
    let sofa = "return document.body.innerHTML.includes('3 weeks for a sofa')";
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(
        bo.script(sofa).await?,
        Value::Bool(false),
        "a private note must not reach others"
    );
    assert_eq!(
        fac.script(sofa).await?,
        Value::Bool(false),
        "nor the facilitator"
    );
    fac.click("reveal").await?;
    for page in [&fac, &bo, &ana] {
        page.wait_until("the revealed note", LIVE_PATIENCE, async |p| {
            Ok(p.script("return [...document.querySelectorAll('[data-testid=warmup] [data-testid=note] textarea')].some(t => t.value.includes('3 weeks for a sofa'))").await? == Value::Bool(true))
        })
        .await?;
    }

    // 2. Persona.
    fac.click("phase-next").await?;
    ana.wait_until("everyone in the persona phase", LIVE_PATIENCE, async |p| {
        Ok(p.attr_of("current-phase", "data-phase").await?.as_deref() == Some("persona"))
    })
    .await?;
    fac.click("add-persona").await?;
    let name = fac.wait_for_testid("persona-name", LIVE_PATIENCE).await?;
    name.clear().await?;
    name.send_keys("Busy parent\t").await?;
    bo.wait_until("the persona card", LIVE_PATIENCE, async |p| {
        Ok(p.script("return [...document.querySelectorAll('[data-testid=persona-name]')].some(i => i.value === 'Busy parent')").await? == Value::Bool(true))
    })
    .await?;
    assert!(
        !bo.all_by_testid("main-persona").await?.is_empty(),
        "the first persona is the main one"
    );
    // A participant adds what the research said; the others see it on the card.
    let research = "textarea[id$='-research']";
    ana.wait_for_testid("persona-name", LIVE_PATIENCE).await?;
    ana.client
        .find(fantoccini::Locator::Css(research))
        .await?
        .send_keys("8 of 12 interviewees shop on their phone\t")
        .await?;
    bo.wait_until("the research on the card", LIVE_PATIENCE, async |p| {
        Ok(p.script(&format!(
            "return document.querySelector(\"{research}\").value"
        ))
        .await?
            == "8 of 12 interviewees shop on their phone")
    })
    .await?;

    // 3. Touchpoints: an intended channel nobody uses yet shows as a gap.
    fac.click("phase-next").await?;
    let tp = bo
        .add_note("purchase", "touchpoints", "Checkout in the app")
        .await?;
    let select =
        |testid: &str| format!("[data-testid=note][data-id=\"{tp}\"] [data-testid={testid}]");
    bo.client
        .find(fantoccini::Locator::Css(&select("note-channel")))
        .await?
        .select_by_value("app")
        .await?;
    bo.client
        .find(fantoccini::Locator::Css(&select("note-touchpoint")))
        .await?
        .select_by_value("intended")
        .await?;
    fac.wait_until("the touchpoint gap", LIVE_PATIENCE, async |p| {
        Ok(p.script("return document.querySelector('[data-testid=cell][data-stage=purchase][data-lane=touchpoints] [data-testid=touchpoint-gap]').dataset.unused").await? == "app")
    })
    .await?;

    // 4. Walkthrough: the facilitator steps, everyone follows and scores emotions.
    fac.click("phase-next").await?;
    fac.click("walk-next").await?;
    for page in [&ana, &bo] {
        page.wait_until("following the walkthrough", LIVE_PATIENCE, async |p| {
            Ok(p.attr_of("walkthrough-stage", "data-stage")
                .await?
                .as_deref()
                == Some("awareness"))
        })
        .await?;
    }
    for (page, score) in [(&ana, "-2"), (&bo, "0")] {
        page.script(&format!("document.querySelector('[data-testid=emotion-score][data-stage=awareness] [data-score=\"{score}\"]').click()")).await?;
    }
    fac.wait_until("the emotion curve", LIVE_PATIENCE, async |p| {
        Ok(p.attr_of("emotion-curve", "data-medians")
            .await?
            .unwrap_or_default()
            .starts_with("-1,"))
    })
    .await?;
    fac.click("walk-next").await?;
    ana.wait_until("the next stage", LIVE_PATIENCE, async |p| {
        Ok(p.attr_of("walkthrough-stage", "data-stage")
            .await?
            .as_deref()
            == Some("consideration"))
    })
    .await?;
    ana.click("add-barrier").await?;
    ana.client
        .active_element()
        .await?
        .send_keys("Too many plans to compare")
        .await?;
    let pain2 = bo
        .add_note(
            "purchase",
            "pain-points",
            "Hidden shipping fees, https://example.com/research/CustomerJourney2026Q3FindingsFinalVersion2.pdf",
        )
        .await?;

    // Someone who reloads mid-walkthrough lands on the stage being walked through, beside
    // the lane headers rather than under them.
    for _ in 0..3 {
        fac.click("walk-next").await?;
    }
    bo.wait_until("the last stage", LIVE_PATIENCE, async |p| {
        Ok(p.attr_of("walkthrough-stage", "data-stage")
            .await?
            .as_deref()
            == Some("advocacy"))
    })
    .await?;
    bo.join(&participant_link, "Bo").await?;
    bo.wait_until("the walked stage in view", LIVE_PATIENCE, async |p| {
        let shown = p
            .script(
                "const h = document.querySelector('[data-testid=stage-header][data-id=purchase]');
                 const lanes = document.querySelector('[data-testid=lane-header]');
                 const grid = document.querySelector('.grid-scroll');
                 if (!h || !lanes || !grid) return false;
                 const a = h.getBoundingClientRect();
                 return a.left >= lanes.getBoundingClientRect().right - 1
                     && a.right <= grid.getBoundingClientRect().right + 1;",
            )
            .await?;
        Ok(shown == Value::Bool(true))
    })
    .await?;

    // 5. Iteration: dot voting, then the ranked result. Leaving the walkthrough ends it.
    fac.click("phase-next").await?;
    ana.wait_until("the walkthrough ended", LIVE_PATIENCE, async |p| {
        Ok(p.all_by_testid("walkthrough-bar").await?.is_empty())
    })
    .await?;
    fac.click("tab-results").await?;
    let dots = fac.wait_for_testid("vote-dots", LIVE_PATIENCE).await?;
    dots.clear().await?;
    dots.send_keys(&format!("3{}", "\t")).await?;
    fac.click("open-voting").await?;
    for page in [&ana, &bo] {
        page.wait_until("voting open", LIVE_PATIENCE, async |p| {
            Ok(p.script(&format!("return !!document.querySelector('[data-testid=note][data-id=\"{pain2}\"] [data-testid=vote]')")).await? == Value::Bool(true))
        })
        .await?;
        for _ in 0..2 {
            page.script(&format!("document.querySelector('[data-testid=note][data-id=\"{pain2}\"] [data-testid=vote]').click()")).await?;
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        }
    }
    ana.script("[...document.querySelectorAll('[data-testid=cell][data-lane=pain-points] [data-testid=note]')].find(n => n.querySelector('textarea').value.includes('Too many plans')).querySelector('[data-testid=vote]').click()").await?;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        fac.all_by_testid("note-votes").await?.len(),
        0,
        "votes stay hidden while voting is open"
    );
    fac.click("close-voting").await?;
    fac.wait_until("the ranked result", LIVE_PATIENCE, async |p| {
        let items = p.script("return [...document.querySelectorAll('[data-testid=ranked-item]')].map(li => [li.dataset.votes, li.textContent])").await?;
        let items = items.as_array().cloned().unwrap_or_default();
        Ok(items.len() == 2
            && items[0][0] == "4"
            && items[0][1].as_str().unwrap_or_default().contains("Hidden shipping fees")
            && items[1][0] == "1")
    })
    .await?;
    // A long URL in a ranked note wraps: the results panel keeps its width (it pushed the
    // voting controls and action items out of view).
    let overflow = fac
        .script(
            "const b = document.querySelector('.tab-body'); return b.scrollWidth - b.clientWidth",
        )
        .await?;
    assert!(
        overflow.as_i64().unwrap_or(i64::MAX) <= 0,
        "results panel overflows by {overflow}px"
    );
    fac.press_on_note(&pain2, keys::RELEASE).await.ok();
    fac.screenshot("workshop").await?;
    server.stop().await;
    Ok(())
}
