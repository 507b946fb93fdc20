//! The warm-up area outside the grid: the session's goals and KPIs, and icebreaker notes.
//! In private mode a new note goes to my private doc: the server keeps it from everyone else
//! until the facilitator reveals (or the time box ends, if set so).

use super::board_page::BoardCtx;
use super::note::NoteCard;
use journeyboard_shared::schema::key;
use leptos::prelude::*;
use yrs::Map;

#[component]
pub fn WarmUp() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let settings = state.settings;
    let private_mode = move || settings.with(|s| s.private_mode);
    view! {
        <section class="warmup" data-testid="warmup" aria-label="Warm-up">
            <h2>"Session goals"</h2>
            <SettingText label="Goals of this session" field=key::GOALS testid="goals"
                value=Signal::derive(move || settings.with(|s| s.goals.clone()))/>
            <SettingText label="KPIs to watch" field=key::KPIS testid="kpis"
                value=Signal::derive(move || settings.with(|s| s.kpis.clone()))/>
            <h2>"Warm-up notes"</h2>
            <Show when=move || ctx.can_edit_structure()>
                <div class="facilitator-tools">
                    <label class="toggle">
                        <input type="checkbox" data-testid="private-mode"
                            prop:checked=private_mode
                            on:change=move |ev| ctx.set_setting(key::PRIVATE_MODE, event_target_checked(&ev))/>
                        "Private mode (notes hidden until revealed)"
                    </label>
                    <label class="toggle">
                        <input type="checkbox" data-testid="timer-reveal"
                            prop:checked=move || settings.with(|s| s.timer_reveal)
                            on:change=move |ev| ctx.set_setting(key::TIMER_REVEAL, event_target_checked(&ev))/>
                        "Reveal when the time box ends"
                    </label>
                    <button type="button" data-testid="reveal" disabled=move || !private_mode()
                        on:click=move |_| ctx.set_setting(key::PRIVATE_MODE, false)>"Reveal private notes"</button>
                </div>
            </Show>
            <Show when=private_mode>
                <p class="hint" role="note">"Private mode: your new notes are visible only to you until the facilitator reveals them."</p>
            </Show>
            <Show when=move || ctx.can_write()>
                <button type="button" data-testid="add-icebreaker-note" on:click=move |_| ctx.add_icebreaker_note()>
                    {move || if private_mode() { "+ Private note" } else { "+ Note" }}
                </button>
            </Show>
            <div class="warmup-notes">
                <For each=move || state.private_notes.get() key=|n| n.id.clone() let:note>
                    <PrivateNote id=note.id.clone() text=note.text.clone()/>
                </For>
                <For each=move || state.icebreaker.get() key=|n| n.id.clone() let:note>
                    {state.notes.with_untracked(|m| m.get(&note.id).copied()).map(|signal| view! { <NoteCard id=note.id.clone() note=signal/> })}
                </For>
            </div>
        </section>
    }
}

/// One of my unrevealed notes (in my private doc).
#[component]
fn PrivateNote(id: String, text: String) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let focus = NodeRef::<leptos::html::Textarea>::new();
    let focus_id = id.clone();
    Effect::new(move |_| {
        if ctx.focus_note.get().as_deref() == Some(focus_id.as_str()) {
            if let Some(el) = focus.get() {
                let _ = el.focus();
                ctx.focus_note.set(None);
            }
        }
    });
    let edit_id = id.clone();
    let delete_id = id.clone();
    view! {
        <article class="note note-yellow private-note" data-testid="private-note" data-id=id.clone()>
            <textarea data-testid="note-text" class="note-text" dir="auto" aria-label="Private note text" node_ref=focus
                prop:value=text
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    ctx.edit_private(|view, txn| { view.set_note_text(txn, &edit_id, &value); });
                }></textarea>
            <footer class="note-footer">
                <span class="badge">"Private"</span>
                <button type="button" class="note-delete" aria-label="Delete note"
                    on:click=move |_| ctx.edit_private(|view, txn| { view.notes.remove(txn, &delete_id); })>"✕"</button>
            </footer>
        </article>
    }
}

/// A facilitator-editable text setting, read-only for everyone else.
#[component]
fn SettingText(
    label: &'static str,
    field: &'static str,
    testid: &'static str,
    value: Signal<String>,
) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let id = format!("setting-{field}");
    view! {
        <label for=id.clone()>{label}</label>
        {move || if ctx.can_edit_structure() {
            view! {
                <textarea id=id.clone() rows="2" data-testid=testid prop:value=move || value.get()
                    on:change=move |ev| ctx.set_setting(field, event_target_value(&ev))></textarea>
            }.into_any()
        } else {
            view! { <p id=id.clone() class="setting-text" data-testid=testid>{move || { let v = value.get(); if v.is_empty() { "—".to_string() } else { v } }}</p> }.into_any()
        }}
    }
}
