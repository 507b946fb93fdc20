//! A board of 1,000 notes in a real browser: it renders, and typing and scrolling stay smooth.
//! The figures (render time, per-keystroke time to the next painted frame, frame times while
//! scrolling) are printed as one JSON line and saved to target/e2e-screenshots/scale.json for
//! BENCHMARKS.md; they are measurements, not assertions (speed belongs to the benchmark).

use journeyboard_e2e::board::LIVE_PATIENCE;
use journeyboard_e2e::{create_board, screenshot_dir, Browser, TestServer, YClient};
use journeyboard_shared::NewNote;
use serde_json::Value;
use std::time::{Duration, Instant};

const NOTES: usize = 1000;

/// Types 40 characters into a note, one input event each, and returns how long each took
/// until the next frame was painted (ms).
const TYPING_JS: &str = r#"
const done = arguments[arguments.length - 1];
const field = document.querySelector('[data-testid=cell] [data-testid=note-text]');
field.focus();
const times = [];
const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
(async () => {
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    field.value = field.value + 'x';
    field.dispatchEvent(new Event('input', { bubbles: true }));
    await frame();
    times.push(performance.now() - t0);
  }
  done(times);
})();
"#;

/// Scrolls the grid through its whole height and width and returns the frame intervals (ms).
const SCROLL_JS: &str = r#"
const done = arguments[arguments.length - 1];
const grid = document.querySelector('.grid-scroll');
const times = [];
let last = performance.now();
let step = 0;
function tick(now) {
  times.push(now - last);
  last = now;
  step++;
  grid.scrollTop = (grid.scrollHeight * step) / 120;
  grid.scrollLeft = (grid.scrollWidth * step) / 240;
  if (step < 120) requestAnimationFrame(tick); else done(times.slice(1));
}
requestAnimationFrame(tick);
"#;

fn stats(values: &Value) -> Value {
    let mut v: Vec<f64> = values
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    v.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    serde_json::json!({ "p50_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": pick(1.0), "samples": v.len() })
}

#[tokio::test]
async fn a_board_of_a_thousand_notes_stays_smooth() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let board = create_board(server.addr, "Big board", "service-blueprint").await;
    let writer = YClient::connect(&server.ws_url(&board.id, &board.facilitator_token)).await;
    let stages = [
        "awareness",
        "consideration",
        "purchase",
        "retention",
        "advocacy",
    ];
    let lanes = [
        "actions",
        "thoughts",
        "emotions",
        "touchpoints",
        "pain-points",
        "opportunities",
        "processes",
        "kpis",
    ];
    writer.edit(|view, txn| {
        for i in 0..NOTES {
            view.add_note(
                txn,
                &NewNote {
                    id: format!("n{i:04}"),
                    text: format!("Note {i}: the customer wonders about delivery times and costs"),
                    stage: stages[i % stages.len()].into(),
                    lane: lanes[(i / stages.len()) % lanes.len()].into(),
                    author: "Loader".into(),
                    created_at: i as f64,
                    ..NewNote::default()
                },
            );
        }
    });
    let check = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    check
        .wait_until("the server has every note", LIVE_PATIENCE, |c| {
            c.read(|v, t| v.note_count(t)) == NOTES
        })
        .await;

    let page = browser.session().await?;
    let started = Instant::now();
    page.join(
        &format!(
            "http://{}/b/{}#t={}",
            server.addr, board.id, board.participant_token
        ),
        "Sam",
    )
    .await?;
    page.wait_until("all notes rendered", Duration::from_secs(60), async |p| {
        Ok(
            p.script("return document.querySelectorAll('[data-testid=note]').length")
                .await?
                == NOTES,
        )
    })
    .await?;
    let render_ms = started.elapsed().as_millis();

    let typing = page.client.execute_async(TYPING_JS, vec![]).await?;
    let scrolling = page.client.execute_async(SCROLL_JS, vec![]).await?;
    let figures = serde_json::json!({
        "notes": NOTES,
        "join_and_render_ms": render_ms,
        "keystroke_to_frame": stats(&typing),
        "scroll_frame_interval": stats(&scrolling),
    });
    println!("{figures}");
    std::fs::create_dir_all(screenshot_dir())?;
    std::fs::write(screenshot_dir().join("scale.json"), figures.to_string())?;
    page.screenshot("thousand-notes").await?;

    // The typing reached the document.
    check
        .wait_until("the typed text arrives", LIVE_PATIENCE, |c| {
            c.read(|v, t| v.notes(t).iter().any(|n| n.text.ends_with(&"x".repeat(40))))
        })
        .await;
    server.stop().await;
    Ok(())
}
