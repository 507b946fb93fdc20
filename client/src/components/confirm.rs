//! A button for an action that affects everyone on the board and cannot be taken back with
//! undo (new share links, restoring a snapshot): the first click says what will happen and
//! asks again, inline, so the facilitator never does it by a stray click. Not a browser
//! `confirm()` dialog: that blocks the page (and everyone's live updates on it) while open.

use leptos::prelude::*;

/// `label` opens the question; `{testid}-confirm` carries it out, "Cancel" closes it.
#[component]
pub fn ConfirmButton<F>(
    label: &'static str,
    testid: &'static str,
    /// What the action does to the others, shown before it is done.
    warning: String,
    confirm_label: &'static str,
    on_confirm: F,
) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
{
    let asking = RwSignal::new(false);
    view! {
        <Show when=move || asking.get()
            fallback=move || view! {
                <button type="button" data-testid=testid on:click=move |_| asking.set(true)>{label}</button>
            }>
            <div class="confirm" role="alertdialog" aria-label=label>
                <p class="confirm-warning">{warning.clone()}</p>
                <div class="confirm-actions">
                    <button type="button" class="danger" data-testid=format!("{testid}-confirm")
                        on:click={
                            let on_confirm = on_confirm.clone();
                            move |_| {
                                asking.set(false);
                                on_confirm();
                            }
                        }>{confirm_label}</button>
                    <button type="button" data-testid=format!("{testid}-cancel")
                        on:click=move |_| asking.set(false)>"Cancel"</button>
                </div>
            </div>
        </Show>
    }
}
