//! Stage (column) and lane (row) headers. The facilitator renames, reorders, adds and removes
//! them; everyone else sees the titles.

use super::board_page::BoardCtx;
use super::emotions::EmotionScore;
use leptos::prelude::*;

/// Which axis a header belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Axis {
    Stage,
    Lane,
}

impl Axis {
    fn noun(self) -> &'static str {
        match self {
            Axis::Stage => "stage",
            Axis::Lane => "lane",
        }
    }
}

#[component]
pub fn StageHeader(id: String) -> impl IntoView {
    view! { <Header axis=Axis::Stage id/> }
}

#[component]
pub fn LaneHeader(id: String) -> impl IntoView {
    view! { <Header axis=Axis::Lane id/> }
}

#[component]
fn Header(axis: Axis, id: String) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let lookup_id = id.clone();
    // (index, count, title)
    let info = Memo::new(move |_| match axis {
        Axis::Stage => state.stages.with(|all| {
            let i = all.iter().position(|s| s.id == lookup_id);
            (
                i.unwrap_or(0),
                all.len(),
                i.map(|i| all[i].title.clone()).unwrap_or_default(),
            )
        }),
        Axis::Lane => state.lanes.with(|all| {
            let i = all.iter().position(|l| l.id == lookup_id);
            (
                i.unwrap_or(0),
                all.len(),
                i.map(|i| all[i].title.clone()).unwrap_or_default(),
            )
        }),
    });
    let title = move || info.get().2;
    let noun = axis.noun();
    let (testid, role, class) = match axis {
        Axis::Stage => ("stage-header", "columnheader", "stage-header"),
        Axis::Lane => ("lane-header", "rowheader", "lane-header"),
    };
    let (back, forward) = match axis {
        Axis::Stage => (("◀", "left"), ("▶", "right")),
        Axis::Lane => (("▲", "up"), ("▼", "down")),
    };

    let edit_id = id.clone();
    let rename = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev).trim().to_string();
        if value.is_empty() {
            return;
        }
        ctx.edit(|view, txn| {
            match axis {
                Axis::Stage => view.rename_stage(txn, &edit_id, &value),
                Axis::Lane => view.rename_lane(txn, &edit_id, &value),
            };
        });
    };
    let move_id = id.clone();
    let move_by = move |delta: i64| {
        let (index, count, _) = info.get_untracked();
        let to = index as i64 + delta;
        if to < 0 || to >= count as i64 {
            return;
        }
        ctx.edit(|view, txn| {
            match axis {
                Axis::Stage => view.move_stage(txn, &move_id, to as u32),
                Axis::Lane => view.move_lane(txn, &move_id, to as u32),
            };
        });
    };
    let move_back = move_by.clone();
    let remove_id = id.clone();
    let remove = move |_| {
        ctx.edit(|view, txn| {
            match axis {
                Axis::Stage => view.remove_stage(txn, &remove_id),
                Axis::Lane => view.remove_lane(txn, &remove_id),
            };
        });
    };

    let walk_id = id.clone();
    let walk_current = move || {
        axis == Axis::Stage
            && state
                .settings
                .with(|s| s.walkthrough_stage.as_deref() == Some(walk_id.as_str()))
    };
    let score_id = id.clone();
    let scoring =
        move || axis == Axis::Stage && ctx.can_write() && state.phase.get() == "walkthrough";
    let lock_id = id.clone();
    let lane_locked =
        move || axis == Axis::Lane && state.settings.with(|s| s.locked_lanes.contains(&lock_id));
    let toggle_id = id.clone();
    let toggle_lock = move |_| {
        let mut lanes = state.settings.with_untracked(|s| s.locked_lanes.clone());
        if lanes.contains(&toggle_id) {
            lanes.retain(|l| *l != toggle_id);
        } else {
            lanes.push(toggle_id.clone());
        }
        ctx.edit(|view, txn| {
            view.set_setting_list(txn, journeyboard_shared::schema::key::LOCKED_LANES, &lanes)
        });
    };
    let lane_locked_btn = lane_locked.clone();
    let lane_locked_icon = lane_locked.clone();
    view! {
        <div class=class role=role data-testid=testid data-id=id.clone() class:walk-current=walk_current
            data-locked=move || lane_locked().to_string()>
            {move || if ctx.can_edit_structure() {
                view! {
                    <input class="header-title" type="text" maxlength="80"
                        aria-label=format!("{} title", capitalise(noun))
                        title=title prop:value=title on:change=rename.clone()/>
                    <div class="header-actions">
                        <button type="button" aria-label=move || format!("Move {noun} {} {}", title(), back.1)
                            disabled=move || info.get().0 == 0
                            on:click={ let f = move_back.clone(); move |_| f(-1) }>{back.0}</button>
                        <button type="button" aria-label=move || format!("Move {noun} {} {}", title(), forward.1)
                            disabled=move || { let (i, n, _) = info.get(); i + 1 >= n }
                            on:click={ let f = move_by.clone(); move |_| f(1) }>{forward.0}</button>
                        <button type="button" class="danger" aria-label=move || format!("Remove {noun} {}", title())
                            on:click=remove.clone()>"✕"</button>
                        {(axis == Axis::Lane).then(|| {
                            let locked = lane_locked_btn.clone();
                            let pressed = lane_locked_btn.clone();
                            let icon = lane_locked_btn.clone();
                            view! {
                                <button type="button" data-testid="lock-lane" aria-pressed=move || pressed().to_string()
                                    aria-label=move || format!("{} lane {}", if locked() { "Unlock" } else { "Lock" }, title())
                                    on:click=toggle_lock.clone()>{move || if icon() { "Unlock" } else { "Lock" }}</button>
                            }
                        })}
                    </div>
                }.into_any()
            } else {
                let locked = lane_locked_icon.clone();
                view! {
                    <span class="header-title">{title}</span>
                    <Show when=locked.clone()><span class="badge lock-icon" title="Locked by the facilitator">"Locked"</span></Show>
                }.into_any()
            }}
            <Show when=scoring>
                <EmotionScore stage_id=score_id.clone()/>
            </Show>
        </div>
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// "Add stage": a new column at the end.
#[component]
pub fn AddStage() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let add = move |_| {
        let id = uuid::Uuid::new_v4().to_string();
        ctx.edit(|view, txn| view.insert_stage(txn, u32::MAX, &id, "New stage"));
    };
    view! {
        <div class="add-axis" role="columnheader">
            <button type="button" data-testid="add-stage" aria-label="Add a stage" on:click=add>"+"</button>
        </div>
    }
}

/// "Add lane": a new row at the end.
#[component]
pub fn AddLane() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let add = move |_| {
        let id = uuid::Uuid::new_v4().to_string();
        ctx.edit(|view, txn| view.insert_lane(txn, u32::MAX, &id, "New lane", "custom"));
    };
    view! {
        <div class="add-axis add-lane" role="rowheader">
            <button type="button" data-testid="add-lane" on:click=add>"+ Add a lane"</button>
        </div>
    }
}
