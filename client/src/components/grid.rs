//! The journey grid: stage columns, lane rows, and a cell for each pair holding its notes.
//! Keyboard: arrow keys move between cells, Enter adds a note; a screen reader hears each
//! cell as "Purchase, Pain points, 3 notes".

use super::board_page::BoardCtx;
use super::emotions::EmotionCurve;
use super::headers::{AddLane, AddStage, LaneHeader, StageHeader};
use super::note::{NoteCard, NOTE_DRAG_TYPE};
use journeyboard_shared::{Channel, LaneKind};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

#[component]
pub fn Grid() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let columns = move || {
        let extra = if ctx.can_edit_structure() {
            " 3rem"
        } else {
            ""
        };
        format!(
            "14rem repeat({}, minmax(15rem, 1fr)){extra}",
            state.stages.with(Vec::len).max(1)
        )
    };
    view! {
        <div class="grid-scroll">
            <div class="grid" role="grid" data-testid="board" aria-label=move || format!("Journey map: {}", state.title.get())
                aria-rowcount=move || state.lanes.with(Vec::len) + 1
                aria-colcount=move || state.stages.with(Vec::len) + 1
                style:grid-template-columns=columns>
                <div class="grid-row" role="row">
                    <div class="corner" role="columnheader">
                        <span class="corner-stages">"Stages →"</span>
                        <span class="corner-lanes">"Lanes ↓"</span>
                    </div>
                    <For each=move || state.stages.get() key=|s| s.id.clone() let:stage>
                        <StageHeader id=stage.id/>
                    </For>
                    <Show when=move || ctx.can_edit_structure()>
                        <AddStage/>
                    </Show>
                </div>
                <Show when=move || state.phase.get() == "walkthrough" || state.emotions.with(|e| !e.is_empty())>
                    <div class="grid-row" role="row">
                        <EmotionCurve/>
                        <Show when=move || ctx.can_edit_structure()>
                            <div class="grid-filler" aria-hidden="true"></div>
                        </Show>
                    </div>
                </Show>
                <For each=move || state.lanes.get() key=|l| l.id.clone() let:lane>
                    <LaneRow lane_id=lane.id/>
                </For>
                <Show when=move || ctx.can_edit_structure()>
                    <div class="grid-row" role="row"><AddLane/></div>
                </Show>
            </div>
        </div>
    }
}

#[component]
fn LaneRow(lane_id: String) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let stages = ctx.state.stages;
    let header_id = lane_id.clone();
    // The service blueprint's line of visibility: above it what the customer sees, below it
    // the backstage lanes (processes, roles, systems), drawn above the first of those.
    let visibility_id = lane_id.clone();
    let (backstage, first_backstage) = {
        let lanes = ctx.state.lanes;
        let is_backstage = |kind: &str| kind.parse::<LaneKind>().is_ok_and(LaneKind::is_backstage);
        let here = Memo::new(move |_| {
            lanes.with(|l| {
                let i = l.iter().position(|x| x.id == visibility_id)?;
                let previous = i.checked_sub(1).map(|p| is_backstage(&l[p].kind));
                Some((is_backstage(&l[i].kind), previous))
            })
        });
        (
            move || here.get().is_some_and(|(b, _)| b),
            move || {
                here.get()
                    .is_some_and(|(b, previous)| b && previous != Some(true))
            },
        )
    };
    view! {
        <div class="grid-row" role="row" class:backstage=backstage class:below-visibility-line=first_backstage>
            <LaneHeader id=header_id/>
            <For each=move || stages.get() key=|s| s.id.clone() let:stage>
                <Cell stage_id=stage.id lane_id=lane_id.clone()/>
            </For>
            <Show when=move || ctx.can_edit_structure()>
                <div class="grid-filler" aria-hidden="true"></div>
            </Show>
        </div>
    }
}

#[component]
fn Cell(stage_id: String, lane_id: String) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let (sid, lid) = (stage_id.clone(), lane_id.clone());
    let note_ids = Memo::new(move |_| state.cell_notes(&sid, &lid));
    let (sid, lid) = (stage_id.clone(), lane_id.clone());
    let position = Memo::new(move |_| {
        let col = state.stages.with(|s| s.iter().position(|x| x.id == sid));
        let row = state.lanes.with(|l| l.iter().position(|x| x.id == lid));
        (row.unwrap_or(0), col.unwrap_or(0))
    });
    let (sid, lid) = (stage_id.clone(), lane_id.clone());
    let titles = Memo::new(move |_| {
        let stage = state
            .stages
            .with(|s| s.iter().find(|x| x.id == sid).map(|x| x.title.clone()));
        let lane = state
            .lanes
            .with(|l| l.iter().find(|x| x.id == lid).map(|x| x.title.clone()));
        (stage.unwrap_or_default(), lane.unwrap_or_default())
    });
    let label = move || {
        let (stage, lane) = titles.get();
        let n = note_ids.with(Vec::len);
        let notes = if n == 1 {
            "1 note".to_string()
        } else {
            format!("{n} notes")
        };
        format!("{stage}, {lane}, {notes}")
    };
    let add_label = move || {
        let (stage, lane) = titles.get();
        format!("Add a note to {stage}, {lane}")
    };
    let (add_stage, add_lane) = (stage_id.clone(), lane_id.clone());
    let add = move || ctx.add_note(&add_stage, &add_lane);
    let add_on_click = add.clone();
    let add_on_dblclick = add.clone();
    let (drop_stage, drop_lane) = (stage_id.clone(), lane_id.clone());
    let drag_over = RwSignal::new(false);
    let walk_stage = stage_id.clone();
    let walk_current = move || {
        state
            .settings
            .with(|s| s.walkthrough_stage.as_deref() == Some(walk_stage.as_str()))
    };
    let lock_lane = lane_id.clone();
    let writable = move || ctx.can_write() && !ctx.lane_locked(&lock_lane);
    let writable_drop = writable.clone();
    let writable_hint = writable.clone();
    let writable_add = writable.clone();
    let gap_lane = lane_id.clone();
    let is_touchpoints = move || {
        state.lanes.with(|l| {
            l.iter()
                .any(|x| x.id == gap_lane && x.kind == LaneKind::Touchpoints.as_str())
        })
    };
    let gap_stage = stage_id.clone();
    let gap_lane = lane_id.clone();
    let gap = Memo::new(move |_| touchpoint_gap(&state, &gap_stage, &gap_lane));

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let is_cell = ev
            .target()
            .zip(ev.current_target())
            .is_some_and(|(t, c)| t == c);
        if !is_cell {
            return;
        }
        let (row, col) = position.get_untracked();
        let target = match ev.key().as_str() {
            "ArrowLeft" => Some((row, col.saturating_sub(1))),
            "ArrowRight" => Some((row, col + 1)),
            "ArrowUp" => Some((row.saturating_sub(1), col)),
            "ArrowDown" => Some((row + 1, col)),
            "Enter" | " " => {
                ev.prevent_default();
                add();
                None
            }
            _ => None,
        };
        if let Some((row, col)) = target {
            ev.prevent_default();
            focus_cell(row, col);
        }
    };

    view! {
        <div class="cell" role="gridcell" data-testid="cell" tabindex="0"
            data-stage=stage_id.clone() data-lane=lane_id.clone()
            data-row=move || position.get().0 data-col=move || position.get().1
            aria-label=label
            class:drag-over=move || drag_over.get()
            class:walk-current=walk_current
            on:keydown=on_keydown
            on:dblclick=move |ev| {
                let on_cell = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .is_some_and(|el| el.class_list().contains("cell") || el.class_list().contains("cell-hint"));
                if on_cell {
                    add_on_dblclick();
                }
            }
            on:dragover=move |ev| {
                if writable_drop() {
                    ev.prevent_default();
                    drag_over.set(true);
                }
            }
            on:dragleave=move |_| drag_over.set(false)
            on:drop=move |ev| {
                ev.prevent_default();
                drag_over.set(false);
                let id = ev.data_transfer().and_then(|dt| dt.get_data(NOTE_DRAG_TYPE).ok()).unwrap_or_default();
                if !id.is_empty() {
                    let (stage, lane) = (drop_stage.clone(), drop_lane.clone());
                    ctx.edit(|view, txn| { view.move_note(txn, &id, &stage, &lane); });
                }
            }>
            <For each=move || note_ids.get() key=|id| id.clone() let:id>
                {
                    let note = state.notes.with_untracked(|notes| notes.get(&id).copied());
                    note.map(|note| view! { <NoteCard id=id.clone() note/> })
                }
            </For>
            <Show when=move || note_ids.with(Vec::is_empty) && writable_hint()>
                <span class="cell-hint" aria-hidden="true">"Double-click or + to add a note"</span>
            </Show>
            <Show when=is_touchpoints>
                <p class="touchpoint-gap" data-testid="touchpoint-gap"
                    data-unused=move || gap.with(|g| g.0.join(","))
                    data-unplanned=move || gap.with(|g| g.1.join(","))>
                    {move || gap.with(|(unused, unplanned)| {
                        let names = |list: &Vec<String>| list.iter().filter_map(|c| c.parse::<Channel>().ok()).map(|c| c.label()).collect::<Vec<_>>().join(", ");
                        let mut parts = Vec::new();
                        if !unused.is_empty() { parts.push(format!("Intended, not used: {}", names(unused))); }
                        if !unplanned.is_empty() { parts.push(format!("Used, not planned: {}", names(unplanned))); }
                        parts.join(" · ")
                    })}
                </p>
            </Show>
            <Show when=writable_add>
                <button type="button" class="add-note" data-testid="add-note" aria-label=add_label
                    on:click={
                        let add = add_on_click.clone();
                        move |_| add()
                    }>"+"</button>
            </Show>
        </div>
    }
}

/// The touchpoint gap of one cell: channels intended but not used, and used but not planned.
fn touchpoint_gap(
    state: &crate::state::BoardState,
    stage: &str,
    lane: &str,
) -> (Vec<String>, Vec<String>) {
    use std::collections::BTreeSet;
    let mut used = BTreeSet::new();
    let mut intended = BTreeSet::new();
    state.placement.with(|placement| {
        state.notes.with(|notes| {
            for (id, s, l) in placement {
                if s != stage || l != lane {
                    continue;
                }
                if let Some(note) = notes.get(id) {
                    note.with(|n| match n.touchpoint.as_str() {
                        "used" if !n.channel.is_empty() => {
                            used.insert(n.channel.clone());
                        }
                        "intended" if !n.channel.is_empty() => {
                            intended.insert(n.channel.clone());
                        }
                        _ => {}
                    });
                }
            }
        })
    });
    (
        intended.difference(&used).cloned().collect(),
        used.difference(&intended).cloned().collect(),
    )
}

/// Moves keyboard focus to the cell at (row, col), if there is one.
pub fn focus_cell(row: usize, col: usize) {
    let selector = format!("[data-testid=cell][data-row=\"{row}\"][data-col=\"{col}\"]");
    if let Some(el) = document()
        .query_selector(&selector)
        .ok()
        .flatten()
        .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}
