//! The home page: create a board (title and map type), or open a link to join one.

use crate::api;
use crate::storage;
use journeyboard_shared::Template;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn Home() -> impl IntoView {
    let title = RwSignal::new(String::new());
    let template = RwSignal::new(Template::CurrentState.as_str().to_string());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let join_link = RwSignal::new(String::new());

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::create_board(&title.get_untracked(), &template.get_untracked()).await {
                Ok(created) => {
                    storage::save_links(&created.id, &created.links);
                    storage::mark_just_created(&created.id);
                    navigate(&created.links.facilitator);
                }
                Err(e) => {
                    error.set(Some(e.message));
                    busy.set(false);
                }
            }
        });
    };
    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let link = join_link.get_untracked();
        if link.contains("/b/") {
            navigate(link.trim());
        } else {
            error.set(Some(
                "That is not a board link (it should contain /b/).".into(),
            ));
        }
    };

    view! {
        <main class="home">
            <header class="home-hero">
                <h1>"Journeyboard"</h1>
                <p>"Map your customer's journey together, live: stages, lanes and sticky notes for the whole workshop."</p>
            </header>
            <form class="card" on:submit=create aria-labelledby="create-heading">
                <h2 id="create-heading">"Start a workshop board"</h2>
                <label for="board-title">"Board title"</label>
                <input id="board-title" data-testid="board-title" type="text" maxlength="200"
                    placeholder="e.g. First-time buyer, web shop"
                    prop:value=move || title.get()
                    on:input=move |ev| title.set(event_target_value(&ev))/>
                <label for="board-template">"Map type"</label>
                <select id="board-template" data-testid="board-template"
                    on:change=move |ev| template.set(event_target_value(&ev))>
                    {Template::ALL.iter().map(|t| view! {
                        <option value=t.as_str() selected=move || template.get() == t.as_str()>{t.label()}</option>
                    }).collect_view()}
                </select>
                <button type="submit" data-testid="create-board" disabled=move || busy.get()>
                    {move || if busy.get() { "Creating…" } else { "Create board" }}
                </button>
            </form>
            <form class="card" on:submit=join aria-labelledby="join-heading">
                <h2 id="join-heading">"Join a board"</h2>
                <label for="join-link">"Paste the link you were sent"</label>
                <input id="join-link" data-testid="join-link" type="url"
                    prop:value=move || join_link.get()
                    on:input=move |ev| join_link.set(event_target_value(&ev))/>
                <button type="submit">"Join"</button>
            </form>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert" data-testid="error">{move || error.get()}</p>
            </Show>
        </main>
    }
}

/// Opens a URL in this tab (a board link is a new page load).
pub fn navigate(url: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(url);
    }
}
