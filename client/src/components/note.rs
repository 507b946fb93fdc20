//! A sticky note: its text (edited in place, merged with others' typing), author, colour,
//! delete; dragged or moved with Alt+arrow keys to another cell; outlined in the colour of
//! whoever else has it selected.

use super::board_page::BoardCtx;
use super::grid::focus_cell;
use journeyboard_shared::textdiff::{diff, shift_caret};
use journeyboard_shared::{Channel, LaneKind, Note, NoteColor, TouchpointStatus};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use yrs::{GetString, Map, Text};

/// The drag-and-drop data type that carries a note id.
pub const NOTE_DRAG_TYPE: &str = "application/x-journeyboard-note";

#[component]
pub fn NoteCard(id: String, note: RwSignal<Note>) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let textarea = NodeRef::<html::Textarea>::new();
    let card = NodeRef::<html::Article>::new();

    // The document's text into the field, keeping the caret where the user is typing.
    Effect::new(move |_| {
        let text = note.with(|n| n.text.clone());
        let Some(el) = textarea.get() else { return };
        let current = el.value();
        let Some(edit) = diff(&current, &text) else {
            return;
        };
        let focused = document().active_element().is_some_and(|a| a == **el);
        let selection = (
            el.selection_start().ok().flatten(),
            el.selection_end().ok().flatten(),
        );
        el.set_value(&text);
        if let (true, (Some(start), Some(end))) = (focused, selection) {
            let _ = el.set_selection_range(shift_caret(start, &edit), shift_caret(end, &edit));
        }
    });
    // A note just added takes focus.
    let focus_id = id.clone();
    Effect::new(move |_| {
        if ctx.focus_note.get().as_deref() == Some(focus_id.as_str()) {
            if let Some(el) = textarea.get() {
                let _ = el.focus();
                ctx.focus_note.set(None);
            }
        }
    });

    let input_id = id.clone();
    let on_input = move |_| {
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        let new_text = el.value();
        ctx.edit(|view, txn| {
            let Some(text) = view.note_text(txn, &input_id) else {
                return;
            };
            let old = text.get_string(txn);
            if let Some(edit) = diff(&old, &new_text) {
                if edit.delete > 0 {
                    text.remove_range(txn, edit.index, edit.delete);
                }
                if !edit.insert.is_empty() {
                    text.insert(txn, edit.index, &edit.insert);
                }
            }
        });
    };

    let selected_id = id.clone();
    let others_selecting = Memo::new(move |_| {
        ctx.state.people.with(|people| {
            people
                .iter()
                .filter(|p| !p.is_me && p.selected.as_deref() == Some(selected_id.as_str()))
                .map(|p| (p.name.clone(), p.color.clone()))
                .collect::<Vec<_>>()
        })
    });

    let lane_kind = Memo::new(move |_| {
        let lane = note.with(|n| n.lane.clone());
        ctx.state.lanes.with(|l| {
            l.iter()
                .find(|x| x.id == lane)
                .map(|x| x.kind.clone())
                .unwrap_or_default()
        })
    });
    let writable = Memo::new(move |_| ctx.can_write() && !note.with(|n| ctx.lane_locked(&n.lane)));
    let readonly = move || !writable.get();
    let key_id = id.clone();
    let on_card_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let on_card = ev
            .target()
            .zip(ev.current_target())
            .is_some_and(|(t, c)| t == c);
        if !on_card || !writable.get_untracked() {
            return;
        }
        match ev.key().as_str() {
            "Enter" => {
                ev.prevent_default();
                if let Some(el) = textarea.get_untracked() {
                    let _ = el.focus();
                }
            }
            "Delete" | "Backspace" => {
                ev.prevent_default();
                // Removing someone else's note is the facilitator's call.
                let mine =
                    note.with_untracked(|n| n.author_id.is_empty() || n.author_id == ctx.me_id());
                if mine || ctx.can_edit_structure() {
                    ctx.edit(|view, txn| {
                        view.delete_note(txn, &key_id);
                    });
                }
            }
            key @ ("ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown") if ev.alt_key() => {
                ev.prevent_default();
                move_by_key(&ctx, &key_id, key);
            }
            _ => {}
        }
    };

    let color_id = id.clone();
    let delete_id = StoredValue::new(id.clone());
    let drag_id = id.clone();
    let select_id = id.clone();
    let label = move || {
        note.with(|n| {
            let text = if n.text.is_empty() {
                "empty".to_string()
            } else {
                n.text.chars().take(80).collect()
            };
            format!("Note by {}: {text}", n.author)
        })
    };

    let touch_id = id.clone();
    view! {
        <article class=move || format!("note note-{}", note.with(|n| n.color.clone()))
            data-testid="note" data-id=id.clone() tabindex="0" node_ref=card
            draggable=move || writable.get().to_string()
            aria-label=label
            class:selected-by-other=move || others_selecting.with(|o| !o.is_empty())
            style:--selector-color=move || others_selecting.with(|o| o.first().map(|(_, c)| c.clone()).unwrap_or_default())
            on:keydown=on_card_keydown
            on:focusin=move |_| ctx.select(Some(&select_id))
            on:focusout=move |_| ctx.select(None)
            on:dragstart=move |ev| {
                if let Some(dt) = ev.data_transfer() {
                    let _ = dt.set_data(NOTE_DRAG_TYPE, &drag_id);
                    let _ = dt.set_data("text/plain", &note.with_untracked(|n| n.text.clone()));
                    dt.set_effect_allowed("move");
                }
            }>
            <textarea data-testid="note-text" class="note-text" rows="3" maxlength="2000" dir="auto"
                aria-label="Note text" placeholder=move || if readonly() { "" } else { "Type here…" }
                readonly=readonly node_ref=textarea
                on:input=on_input
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        if let Some(card) = card.get_untracked() {
                            let _ = card.focus();
                        }
                    }
                }></textarea>
            <footer class="note-footer">
                <span class="note-author" data-testid="note-author">{move || note.with(|n| n.author.clone())}</span>
                <Show when=move || others_selecting.with(|o| !o.is_empty())>
                    <span class="note-selectors">{move || others_selecting.with(|o| o.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>().join(", "))}</span>
                </Show>
                <NoteVotes id=id.clone() lane=Signal::derive(move || note.with(|n| n.lane.clone()))/>
                <Show when=move || !readonly()>
                    <select class="note-color" data-testid="note-color" aria-label="Note colour"
                        on:change={
                            let color_id = color_id.clone();
                            move |ev| {
                                if let Ok(color) = event_target_value(&ev).parse::<NoteColor>() {
                                    ctx.edit(|view, txn| { view.set_note_color(txn, &color_id, color); });
                                }
                            }
                        }>
                        {NoteColor::ALL.iter().map(|c| view! {
                            <option value=c.as_str() selected=move || note.with(|n| n.color == c.as_str())>{c.as_str()}</option>
                        }).collect_view()}
                    </select>
                    <Show when=move || ctx.can_edit_structure() || note.with(|n| n.author_id.is_empty() || n.author_id == ctx.me_id())>
                    <button type="button" class="note-delete" data-testid="note-delete" aria-label="Delete note"
                        on:click=move |_| {
                            let id = delete_id.get_value();
                            ctx.edit(|view, txn| { view.delete_note(txn, &id); })
                        }>"✕"</button>
                    </Show>
                </Show>
            </footer>
            <Show when=move || lane_kind.get() == LaneKind::Touchpoints.as_str()>
                <TouchpointFields id=touch_id.clone() note writable=Signal::derive(move || writable.get())/>
            </Show>
        </article>
    }
}

/// Channel and used / intended, for notes in a touchpoints lane.
#[component]
fn TouchpointFields(id: String, note: RwSignal<Note>, writable: Signal<bool>) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let set_id = id.clone();
    let set = move |channel: Option<Channel>, status: Option<TouchpointStatus>| {
        ctx.edit(|view, txn| {
            view.set_touchpoint(txn, &set_id, channel, status);
        });
    };
    let set_channel = set.clone();
    view! {
        <div class="touchpoint-fields">
            <select data-testid="note-channel" aria-label="Channel" disabled=move || !writable.get()
                on:change=move |ev| {
                    let status = note.with_untracked(|n| n.touchpoint.parse().ok());
                    set_channel(event_target_value(&ev).parse().ok(), status);
                }>
                <option value="" selected=move || note.with(|n| n.channel.is_empty())>"Channel…"</option>
                {Channel::ALL.iter().map(|c| view! {
                    <option value=c.as_str() selected=move || note.with(|n| n.channel == c.as_str())>{c.label()}</option>
                }).collect_view()}
            </select>
            <select data-testid="note-touchpoint" aria-label="Used today or intended" disabled=move || !writable.get()
                on:change=move |ev| {
                    let channel = note.with_untracked(|n| n.channel.parse().ok());
                    set(channel, event_target_value(&ev).parse().ok());
                }>
                <option value="" selected=move || note.with(|n| n.touchpoint.is_empty())>"Status…"</option>
                <option value="used" selected=move || note.with(|n| n.touchpoint == "used")>"Used today"</option>
                <option value="intended" selected=move || note.with(|n| n.touchpoint == "intended")>"Intended"</option>
            </select>
        </div>
    }
}

/// Dot voting on a note: my dots while voting is open (kept in my private doc, so nobody
/// sees them before the close), the published total after.
#[component]
fn NoteVotes(id: String, lane: Signal<String>) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let votable = Memo::new(move |_| {
        ctx.role.can_write()
            && state.settings.with(|s| {
                s.voting_open && (s.vote_lanes.is_empty() || s.vote_lanes.contains(&lane.get()))
            })
    });
    let mine_id = id.clone();
    let mine = Memo::new(move |_| {
        state
            .my_votes
            .with(|v| v.get(&mine_id).copied().unwrap_or(0))
    });
    let remaining = Memo::new(move |_| {
        let used: u32 = state.my_votes.with(|v| v.values().sum());
        state.settings.with(|s| s.vote_dots).saturating_sub(used)
    });
    let total_id = id.clone();
    let total = Memo::new(move |_| state.votes.with(|v| v.get(&total_id).copied().unwrap_or(0)));
    let vote_id = StoredValue::new(id);
    let vote = move |delta: i64| {
        let next = (mine.get_untracked() as i64 + delta).max(0);
        let id = vote_id.get_value();
        ctx.edit_private(|view, txn| {
            if next == 0 {
                view.votes.remove(txn, &id);
            } else {
                view.votes
                    .insert(txn, id.as_str(), yrs::In::Any(yrs::Any::from(next as f64)));
            }
        });
    };
    view! {
        <Show when=move || votable.get()>
            <span class="note-vote">
                <button type="button" data-testid="vote" aria-label="Place a dot on this note"
                    disabled=move || remaining.get() == 0 on:click=move |_| vote(1)>"●+"</button>
                <span data-testid="my-votes" aria-label="My dots on this note">{move || mine.get()}</span>
                <button type="button" data-testid="unvote" aria-label="Take a dot back"
                    disabled=move || mine.get() == 0 on:click=move |_| vote(-1)>"−"</button>
            </span>
        </Show>
        <Show when=move || { !state.settings.with(|s| s.voting_open) && total.get() > 0 }>
            <span class="badge votes" data-testid="note-votes" data-votes=move || total.get()>{move || format!("{} ●", total.get())}</span>
        </Show>
    }
}

/// Moves a note one cell over (Alt+arrow) and keeps keyboard focus on it.
fn move_by_key(ctx: &BoardCtx, id: &str, key: &str) {
    let Some(note) = ctx.state.notes.with_untracked(|n| n.get(id).copied()) else {
        return;
    };
    let (stage, lane) = note.with_untracked(|n| (n.stage.clone(), n.lane.clone()));
    let stages = ctx.state.stages.get_untracked();
    let lanes = ctx.state.lanes.get_untracked();
    let (Some(col), Some(row)) = (
        stages.iter().position(|s| s.id == stage),
        lanes.iter().position(|l| l.id == lane),
    ) else {
        return;
    };
    let (row, col) = match key {
        "ArrowLeft" => (row, col.saturating_sub(1)),
        "ArrowRight" => (row, (col + 1).min(stages.len() - 1)),
        "ArrowUp" => (row.saturating_sub(1), col),
        _ => ((row + 1).min(lanes.len() - 1), col),
    };
    let (to_stage, to_lane) = (stages[col].id.clone(), lanes[row].id.clone());
    ctx.edit(|view, txn| {
        view.move_note(txn, id, &to_stage, &to_lane);
    });
    // Once re-rendered in its new cell, focus the note again.
    let id = id.to_string();
    crate::sync::set_timeout(0, move || {
        let selector = format!("[data-testid=note][data-id=\"{id}\"]");
        match document()
            .query_selector(&selector)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            Some(el) => {
                let _ = el.focus();
            }
            None => focus_cell(row, col),
        }
    });
}
