//! Snapshots: the list (saved by the facilitator, and automatically at each phase change),
//! each one's exports, a read-only view beside the live board, restore (the facilitator;
//! undone by restoring the "Before restoring" snapshot it makes), and a new future-state
//! board started from a snapshot.

use super::board_page::BoardCtx;
use super::confirm::ConfirmButton;
use super::home::navigate;
use crate::api::{self, SnapshotMeta};
use crate::storage;
use journeyboard_shared::export::BoardData;
use journeyboard_shared::Template;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn Snapshots() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let list = RwSignal::new(Vec::<SnapshotMeta>::new());
    let message = RwSignal::new(None::<String>);
    let opened = RwSignal::new(None::<(String, BoardData)>);
    let name = RwSignal::new(String::new());
    let (id, token) = (ctx.board_id.get_value(), ctx.token.get_value());
    let reload = {
        let (id, token) = (id.clone(), token.clone());
        move || {
            let (id, token) = (id.clone(), token.clone());
            spawn_local(async move {
                match api::list_snapshots(&id, &token).await {
                    Ok(snapshots) => list.set(snapshots),
                    Err(e) => message.set(Some(e.message)),
                }
            });
        }
    };
    reload();
    // A phase change saves one on the server: list again when the phase moves.
    let reload_on_phase = reload.clone();
    Effect::new(move |_| {
        ctx.state.phase.track();
        reload_on_phase();
    });
    let save = {
        let (id, token, reload) = (id.clone(), token.clone(), reload.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let label = name.get_untracked().trim().to_string();
            if label.is_empty() {
                message.set(Some("Give the snapshot a name.".into()));
                return;
            }
            let (id, token, reload) = (id.clone(), token.clone(), reload.clone());
            spawn_local(async move {
                match api::save_snapshot(&id, &token, &label).await {
                    Ok(_) => {
                        name.set(String::new());
                        message.set(Some(format!("Saved “{label}”.")));
                        reload();
                    }
                    Err(e) => message.set(Some(e.message)),
                }
            });
        }
    };
    view! {
        <section class="snapshots" data-testid="snapshots" aria-label="Snapshots">
            <Show when=move || ctx.can_edit_structure()>
                <form class="resource-form" on:submit=save.clone()>
                    <input type="text" aria-label="Snapshot name" placeholder="e.g. After the walkthrough" data-testid="snapshot-name"
                        maxlength="120" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    <button type="submit" data-testid="save-snapshot">"Save snapshot"</button>
                </form>
            </Show>
            <p class="hint" role="status">{move || message.get()}</p>
            <ul class="snapshot-list">
                <For each=move || list.get() key=|s| s.id.clone() let:snapshot>
                    <SnapshotRow snapshot opened message reload=reload.clone()/>
                </For>
            </ul>
            <Show when=move || list.with(Vec::is_empty)>
                <p class="hint">"No snapshots yet. One is saved at each phase change."</p>
            </Show>
            {move || opened.get().map(|(name, board)| view! { <ReadOnlyBoard name board on_close=move || opened.set(None)/> })}
        </section>
    }
}

#[component]
fn SnapshotRow(
    snapshot: SnapshotMeta,
    opened: RwSignal<Option<(String, BoardData)>>,
    message: RwSignal<Option<String>>,
    reload: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let (id, token) = (ctx.board_id.get_value(), ctx.token.get_value());
    let sid = snapshot.id.clone();
    let when = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(snapshot.created_at))
        .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
        .as_string()
        .unwrap_or_default();
    let open = {
        let (id, token, sid, name) = (
            id.clone(),
            token.clone(),
            sid.clone(),
            snapshot.name.clone(),
        );
        move |_| {
            let (id, token, sid, name) = (id.clone(), token.clone(), sid.clone(), name.clone());
            spawn_local(async move {
                match api::snapshot_data(&id, &token, &sid).await {
                    Ok(board) => opened.set(Some((name, board))),
                    Err(e) => message.set(Some(e.message)),
                }
            });
        }
    };
    let restore = {
        let (id, token, sid, name) = (
            id.clone(),
            token.clone(),
            sid.clone(),
            snapshot.name.clone(),
        );
        move || {
            let (id, token, sid, name, reload) = (
                id.clone(),
                token.clone(),
                sid.clone(),
                name.clone(),
                reload.clone(),
            );
            spawn_local(async move {
                match api::restore_snapshot(&id, &token, &sid).await {
                    Ok(_) => {
                        message.set(Some(format!(
                            "Restored “{name}”. To undo, restore “Before restoring “{name}””."
                        )));
                        reload();
                    }
                    Err(e) => message.set(Some(e.message)),
                }
            });
        }
    };
    let derive = {
        let (id, token, sid) = (id.clone(), token.clone(), sid.clone());
        move |_| {
            let (id, token, sid) = (id.clone(), token.clone(), sid.clone());
            spawn_local(async move {
                match api::derive_board(&id, &token, &sid, Template::FutureState.as_str()).await {
                    Ok(created) => {
                        storage::save_links(&created.id, &created.links);
                        storage::mark_just_created(&created.id);
                        navigate(&created.links.facilitator);
                    }
                    Err(e) => message.set(Some(e.message)),
                }
            });
        }
    };
    let export = |ext: &str| api::snapshot_export_url(&id, &token, &sid, ext);
    view! {
        <li class="snapshot card" data-testid="snapshot" data-id=snapshot.id.clone()>
            <strong>{snapshot.name.clone()}</strong>
            <span class="hint">{format!("{when} · {} · {} notes{}", snapshot.phase, snapshot.notes, if snapshot.auto { " · automatic" } else { "" })}</span>
            <div class="snapshot-actions">
                <button type="button" data-testid="open-snapshot" on:click=open>"View beside the board"</button>
                <a href=export("md") download="">"Report"</a>
                <a href=export("json") download="">"JSON"</a>
                <a href=export("png") download="">"PNG"</a>
                <Show when=move || ctx.can_edit_structure()>
                    <ConfirmButton label="Restore" testid="restore-snapshot"
                        warning=format!("Everyone's board goes back to “{}”: notes, stages, lanes, phase and votes. The board as it is now is kept as a snapshot first, to restore if you change your mind.", snapshot.name)
                        confirm_label="Restore for everyone" on_confirm=restore.clone()/>
                    <button type="button" data-testid="derive-snapshot" on:click=derive.clone()>"New future-state board"</button>
                </Show>
            </div>
        </li>
    }
}

/// A snapshot's grid, read-only, beside the live board.
#[component]
fn ReadOnlyBoard(
    name: String,
    board: BoardData,
    on_close: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let rows = board
        .lanes
        .iter()
        .map(|lane| {
            let cells = board
                .stages
                .iter()
                .map(|stage| {
                    let notes: Vec<String> = board.cell_notes(&stage.id, &lane.id).map(|n| n.text.clone()).collect();
                    view! { <td>{notes.into_iter().map(|t| view! { <p class="mini-note">{t}</p> }).collect_view()}</td> }
                })
                .collect_view();
            view! { <tr><th scope="row">{lane.title.clone()}</th>{cells}</tr> }
        })
        .collect_view();
    let headers = board
        .stages
        .iter()
        .map(|s| view! { <th scope="col">{s.title.clone()}</th> })
        .collect_view();
    view! {
        <div class="snapshot-view" data-testid="snapshot-view" role="region" aria-label=format!("Snapshot {name}, read-only")>
            <div class="snapshot-view-head">
                <strong>{format!("Snapshot: {name}")}</strong>
                <button type="button" aria-label="Close the snapshot" on:click=move |_| on_close()>"✕"</button>
            </div>
            <div class="snapshot-view-scroll">
                <table class="mini-grid">
                    <thead><tr><th></th>{headers}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </div>
    }
}
