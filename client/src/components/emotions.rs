//! The walkthrough: the facilitator steps through the stages and everyone's view follows;
//! each person scores the customer's emotion at each stage (-2 to +2); the emotion curve
//! (median and spread per stage) is drawn along the grid.

use super::board_page::BoardCtx;
use journeyboard_shared::export::EmotionStats;
use journeyboard_shared::schema::key;
use journeyboard_shared::{LaneKind, Phase};
use leptos::prelude::*;

/// Median and spread (min, max) of each stage's scores, in stage order; None where nobody
/// scored yet.
pub fn curve(
    stages: &[String],
    scores: &std::collections::BTreeMap<(String, String), i64>,
) -> Vec<Option<(f64, i64, i64)>> {
    stages
        .iter()
        .map(|stage| {
            EmotionStats::of(
                scores
                    .iter()
                    .filter(|((_, s), _)| s == stage)
                    .map(|(_, v)| *v),
            )
            .map(|stats| (stats.median, stats.low, stats.high))
        })
        .collect()
}

/// The facilitator's walkthrough controls, and the participants' "follow" switch.
#[component]
pub fn WalkthroughBar() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let current = move || state.settings.with(|s| s.walkthrough_stage.clone());
    let index = move || {
        let current = current();
        state
            .stages
            .with(|s| current.and_then(|c| s.iter().position(|x| x.id == c)))
    };
    let step = move |delta: i64| {
        let stages = state.stages.get_untracked();
        if stages.is_empty() {
            return;
        }
        let i = index().map_or(0, |i| {
            (i as i64 + delta).clamp(0, stages.len() as i64 - 1) as usize
        });
        ctx.set_setting(key::WALKTHROUGH_STAGE, stages[i].id.as_str());
    };
    let stage_title = move || {
        let current = current();
        state.stages.with(|s| {
            s.iter()
                .find(|x| Some(&x.id) == current.as_ref())
                .map(|x| x.title.clone())
        })
    };
    let add_barrier = move |_| {
        let Some(stage) = current() else { return };
        let lane = state.lanes.with_untracked(|l| {
            l.iter()
                .find(|x| x.kind == LaneKind::PainPoints.as_str())
                .map(|x| x.id.clone())
        });
        if let Some(lane) = lane {
            ctx.add_note(&stage, &lane);
        }
    };
    // Everyone's view follows the facilitator's step. Also when the stages arrive (someone
    // joining or reloading mid-walkthrough has the stage id before its column exists): after
    // the next frame, once the grid has drawn them, and again 300 ms later, once the layout
    // has settled (scrolled only once, a joiner's stage ended up under the lane headers).
    Effect::new(move |_| {
        let Some(stage) = current() else { return };
        state.stages.track();
        if !ctx.following.get() {
            return;
        }
        let scroll = move || {
            let selector = format!("[data-testid=stage-header][data-id=\"{stage}\"]");
            if let Some(el) = document().query_selector(&selector).ok().flatten() {
                let options = web_sys::ScrollIntoViewOptions::new();
                options.set_inline(web_sys::ScrollLogicalPosition::Center);
                options.set_block(web_sys::ScrollLogicalPosition::Nearest);
                el.scroll_into_view_with_scroll_into_view_options(&options);
            }
        };
        request_animation_frame(scroll.clone());
        set_timeout(scroll, std::time::Duration::from_millis(300));
    });
    let visible = move || state.phase.get() == Phase::Walkthrough.as_str() || current().is_some();
    view! {
        <Show when=visible>
            <div class="walkthrough-bar" data-testid="walkthrough-bar" role="region" aria-label="Walkthrough">
                <span data-testid="walkthrough-stage" data-stage=move || current().unwrap_or_default()>
                    {move || match stage_title() {
                        Some(title) => format!("Walking through: {title}"),
                        None => "The walkthrough has not started.".to_string(),
                    }}
                </span>
                <Show when=move || ctx.can_edit_structure()>
                    <button type="button" data-testid="walk-prev" disabled=move || index().is_none_or(|i| i == 0) on:click=move |_| step(-1)>"◀ Previous stage"</button>
                    <button type="button" data-testid="walk-next" on:click=move |_| step(1)
                        disabled=move || index().is_some_and(|i| i + 1 >= state.stages.with(Vec::len))>
                        {move || if index().is_none() { "Start the walkthrough" } else { "Next stage ▶" }}
                    </button>
                    <button type="button" data-testid="walk-end" disabled=move || current().is_none()
                        on:click=move |_| ctx.set_setting(key::WALKTHROUGH_STAGE, "")>"End"</button>
                </Show>
                <Show when=move || !ctx.can_edit_structure()>
                    <label class="toggle">
                        <input type="checkbox" data-testid="follow" prop:checked=move || ctx.following.get()
                            on:change=move |ev| ctx.following.set(event_target_checked(&ev))/>
                        "Follow the facilitator"
                    </label>
                </Show>
                <Show when=move || ctx.can_write() && current().is_some()>
                    <button type="button" data-testid="add-barrier" on:click=add_barrier>"+ Barrier at this stage"</button>
                </Show>
            </div>
        </Show>
    }
}

/// My emotion score at one stage: five choices from -2 to +2.
#[component]
pub fn EmotionScore(stage_id: String) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let me = ctx.me_id();
    let lookup = (me.clone(), stage_id.clone());
    let mine = move || state.emotions.with(|e| e.get(&lookup).copied());
    let title = {
        let stage_id = stage_id.clone();
        move || {
            state.stages.with(|s| {
                s.iter()
                    .find(|x| x.id == stage_id)
                    .map(|x| x.title.clone())
                    .unwrap_or_default()
            })
        }
    };
    const FACES: [(i64, &str, &str); 5] = [
        (-2, "−2", "very negative"),
        (-1, "−1", "negative"),
        (0, "0", "neutral"),
        (1, "+1", "positive"),
        (2, "+2", "very positive"),
    ];
    view! {
        <div class="emotion-score" role="radiogroup" data-testid="emotion-score" data-stage=stage_id.clone()
            aria-label=move || format!("How does the customer feel at {}?", title())>
            {FACES.iter().map(|(score, face, label)| {
                let (score, stage, me) = (*score, stage_id.clone(), me.clone());
                let mine = mine.clone();
                let checked = mine.clone();
                view! {
                    <button type="button" role="radio" class="face" data-score=score
                        aria-checked=move || (checked() == Some(score)).to_string()
                        aria-label=format!("{label} ({score:+})")
                        on:click=move |_| {
                            let next = if mine() == Some(score) { None } else { Some(score) };
                            ctx.edit(|view, txn| view.set_emotion(txn, &me, &stage, next));
                        }>{*face}</button>
                }
            }).collect_view()}
        </div>
    }
}

/// The emotion curve row: median line and min–max band per stage, as SVG along the columns.
#[component]
pub fn EmotionCurve() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let points = Memo::new(move |_| {
        let stages: Vec<String> = state
            .stages
            .with(|s| s.iter().map(|x| x.id.clone()).collect());
        state.emotions.with(|e| curve(&stages, e))
    });
    let y = |score: f64| 50.0 - score * 20.0;
    let width = move || points.with(Vec::len).max(1) as f64 * 100.0;
    let path = move || {
        points.with(|pts| {
            let mut d = String::new();
            for (i, p) in pts.iter().enumerate() {
                if let Some((median, _, _)) = p {
                    let cmd = if d.is_empty() { 'M' } else { 'L' };
                    d.push_str(&format!("{cmd}{} {} ", i as f64 * 100.0 + 50.0, y(*median)));
                }
            }
            d
        })
    };
    let medians = move || {
        points.with(|pts| {
            pts.iter()
                .map(|p| p.map_or("".to_string(), |(m, _, _)| format!("{m}")))
                .collect::<Vec<_>>()
                .join(",")
        })
    };
    let description = move || {
        let titles: Vec<String> = state
            .stages
            .with(|s| s.iter().map(|x| x.title.clone()).collect());
        points.with(|pts| {
            pts.iter()
                .zip(titles)
                .map(|(p, t)| match p {
                    Some((m, lo, hi)) => format!("{t}: median {m:+}, from {lo:+} to {hi:+}"),
                    None => format!("{t}: no scores yet"),
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    view! {
        <div class="emotion-row-label" role="rowheader">"Emotion curve"<span class="hint">"median, and spread"</span></div>
        <div class="emotion-curve" data-testid="emotion-curve" data-medians=medians role="img"
            aria-label=move || format!("Emotion curve. {}", description())
            style:grid-column=move || format!("2 / span {}", points.with(Vec::len).max(1))>
            <svg viewBox=move || format!("0 0 {} 100", width()) preserveAspectRatio="none" aria-hidden="true">
                <line x1="0" x2=move || width().to_string() y1="50" y2="50" class="axis"/>
                {move || points.get().into_iter().enumerate().filter_map(|(i, p)| p.map(|(_, lo, hi)| (i, lo, hi))).map(|(i, lo, hi)| view! {
                    <rect class="spread" x=(i as f64 * 100.0 + 35.0).to_string() width="30"
                        y=y(hi as f64).to_string() height=(y(lo as f64) - y(hi as f64)).max(2.0).to_string()/>
                }).collect_view()}
                <path class="median" d=path vector-effect="non-scaling-stroke"/>
                {move || points.get().into_iter().enumerate().filter_map(|(i, p)| p.map(|(m, _, _)| (i, m))).map(|(i, m)| view! {
                    // A zero-length line with a round cap: a dot that stays round when the
                    // curve stretches to the columns' width.
                    <line class="median-point" x1=(i as f64 * 100.0 + 50.0).to_string() x2=(i as f64 * 100.0 + 50.0).to_string()
                        y1=y(m).to_string() y2=y(m).to_string() vector-effect="non-scaling-stroke"/>
                }).collect_view()}
            </svg>
        </div>
    }
}
