//! Picking a display name and colour on first joining (remembered in this browser).

use crate::storage::{self, Identity};
use leptos::prelude::*;

/// Colours people can pick: distinct, and readable as outlines on every note colour.
pub const PERSON_COLORS: &[(&str, &str)] = &[
    ("#d32f2f", "Red"),
    ("#1976d2", "Blue"),
    ("#388e3c", "Green"),
    ("#7b1fa2", "Purple"),
    ("#f57c00", "Orange"),
    ("#00838f", "Teal"),
    ("#c2185b", "Magenta"),
    ("#5d4037", "Brown"),
];

/// A modal form; calls `on_done` with the saved identity.
#[component]
pub fn JoinDialog(board_title: String, on_done: impl Fn(Identity) + 'static) -> impl IntoView {
    let previous = storage::load_identity();
    let name = RwSignal::new(
        previous
            .as_ref()
            .map(|i| i.name.clone())
            .unwrap_or_default(),
    );
    let color = RwSignal::new(previous.map(|i| i.color).unwrap_or_else(|| {
        PERSON_COLORS
            [(js_sys::Math::random() * PERSON_COLORS.len() as f64) as usize % PERSON_COLORS.len()]
        .0
        .to_string()
    }));
    let error = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let chosen = name.get_untracked().trim().to_string();
        if chosen.is_empty() {
            error.set(true);
            return;
        }
        let identity = Identity {
            name: chosen.chars().take(40).collect(),
            color: color.get_untracked(),
        };
        storage::save_identity(&identity);
        on_done(identity);
    };
    view! {
        <div class="dialog-backdrop">
            <form class="dialog card" role="dialog" aria-modal="true" aria-labelledby="join-title"
                data-testid="join-dialog" on:submit=submit>
                <h2 id="join-title">"Join “" {board_title} "”"</h2>
                <label for="join-name">"Your name, as others will see it"</label>
                <input id="join-name" data-testid="join-name" type="text" maxlength="40" autofocus
                    prop:value=move || name.get()
                    on:input=move |ev| { name.set(event_target_value(&ev)); error.set(false); }/>
                <Show when=move || error.get()>
                    <p class="error" role="alert">"Please enter a name."</p>
                </Show>
                <fieldset class="color-choice">
                    <legend>"Your colour"</legend>
                    {PERSON_COLORS.iter().map(|(hex, label)| {
                        let hex = hex.to_string();
                        let value = hex.clone();
                        let chosen = hex.clone();
                        view! {
                            <label class="swatch" style:background-color=hex.clone() title=*label>
                                <input type="radio" name="person-color" value=hex.clone() aria-label=*label
                                    prop:checked=move || color.get() == value
                                    on:change=move |_| color.set(chosen.clone())/>
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <button type="submit" data-testid="join-submit">"Join the board"</button>
            </form>
        </div>
    }
}
