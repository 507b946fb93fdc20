//! The bar above the grid: title, map type, who is here, connection state, undo and redo,
//! and (for the facilitator) the share links.

use super::board_page::BoardCtx;
use super::confirm::ConfirmButton;
use super::join::JoinDialog;
use crate::storage;
use journeyboard_shared::Template;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn Toolbar() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let template_label = move || {
        state
            .template
            .get()
            .parse::<Template>()
            .map(|t| t.label().to_string())
            .unwrap_or_default()
    };
    view! {
        <header class="toolbar">
            <div class="toolbar-title">
                <a href="/" class="logo" aria-label="Journeyboard home">"JB"</a>
                <h1 data-testid="board-title-heading">{move || state.title.get()}</h1>
                <span class="template-label">{template_label}</span>
            </div>
            <PresenceBar/>
            <ConnectionStatus/>
            <Show when=move || ctx.can_write()>
                <div class="undo-redo">
                    <button type="button" data-testid="undo" aria-label="Undo my last change (Ctrl+Z)"
                        on:click=move |_| ctx.undo()>"↶"</button>
                    <button type="button" data-testid="redo" aria-label="Redo (Ctrl+Shift+Z)"
                        on:click=move |_| ctx.redo()>"↷"</button>
                </div>
            </Show>
            <ExportMenu/>
            <Show when=move || ctx.can_edit_structure()>
                <SharePanel/>
            </Show>
        </header>
    }
}

/// Who is on the board, in their colours.
#[component]
fn PresenceBar() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let renaming = RwSignal::new(false);
    view! {
        <ul class="presence" data-testid="presence" aria-label="People on this board">
            <For each=move || ctx.state.people.get() key=|p| (p.client_id, p.name.clone(), p.color.clone(), p.is_me) let:person>
                <li data-testid="presence-user" class="person" style:--person-color=person.color.clone()
                    title=person.name.clone()>
                    <span class="dot" aria-hidden="true"></span>
                    {person.name.clone()}
                    {person.is_me.then(|| view! {
                        " (you) "
                        <button type="button" class="link" data-testid="rename-me" aria-label="Change my name or colour"
                            on:click=move |_| renaming.set(true)>"edit"</button>
                    })}
                </li>
            </For>
        </ul>
        <Show when=move || renaming.get()>
            <JoinDialog board_title=ctx.state.title.get_untracked() on_done=move |identity| {
                ctx.me.set_value(identity);
                ctx.select(None);
                renaming.set(false);
            }/>
        </Show>
    }
}

/// Connected / reconnecting / offline; edits made offline stay and sync on return.
#[component]
fn ConnectionStatus() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let label = move || match ctx.conn.get() {
        crate::sync::ConnState::Connected => "Connected",
        crate::sync::ConnState::Connecting => "Connecting…",
        crate::sync::ConnState::Offline => "Offline: your changes are kept and sync when back",
        crate::sync::ConnState::Revoked => {
            "This link no longer opens the board: ask the facilitator for the new link"
        }
    };
    view! {
        <span class="connection" data-testid="connection-status" role="status"
            data-state=move || ctx.conn.get().as_str()>
            <span class="dot" aria-hidden="true"></span>{label}
        </span>
    }
}

/// The participant and viewer links, copyable, and a way to replace them. Tokens are shown
/// only once by the server, so the links are those this browser kept when it created the
/// board (or made new ones).
#[component]
fn SharePanel() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let board_id = ctx.board_id.get_value();
    let open = RwSignal::new(storage::take_just_created(&board_id));
    let links = RwSignal::new(storage::load_links(&board_id));
    let message = RwSignal::new(None::<String>);
    let rotate = move || {
        let (id, token) = (ctx.board_id.get_value(), ctx.token.get_value());
        spawn_local(async move {
            match crate::api::rotate_links(&id, &token).await {
                Ok(rotated) => {
                    let current = links.get_untracked();
                    let facilitator = current.map(|l| l.facilitator).unwrap_or_else(|| {
                        web_sys::window()
                            .and_then(|w| w.location().href().ok())
                            .unwrap_or_default()
                    });
                    let fresh = storage::BoardLinks {
                        facilitator,
                        participant: rotated
                            .links
                            .get("participant")
                            .cloned()
                            .unwrap_or_default(),
                        viewer: rotated.links.get("viewer").cloned().unwrap_or_default(),
                    };
                    storage::save_links(&id, &fresh);
                    links.set(Some(fresh));
                    message.set(Some(
                        "New links made: the old ones no longer open the board.".into(),
                    ));
                }
                Err(e) => message.set(Some(e.message)),
            }
        });
    };
    view! {
        <div class="share">
            <button type="button" data-testid="share-toggle" aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)>"Share"</button>
            <Show when=move || open.get()>
                <div class="share-panel card" role="region" aria-label="Share links">
                    {move || match links.get() {
                        Some(links) => view! {
                            <ShareLink label="Participants (can add and edit notes)" testid="share-participant" url=links.participant.clone()/>
                            <ShareLink label="Viewers (watch only)" testid="share-viewer" url=links.viewer.clone()/>
                            <ShareLink label="Co-facilitators" testid="share-facilitator" url=links.facilitator.clone()/>
                        }.into_any(),
                        None => view! {
                            <p>"This board was created in another browser: its links are there, or make new ones here."</p>
                        }.into_any(),
                    }}
                    <ConfirmButton label="Make new participant and viewer links" testid="rotate-links"
                        warning="Everyone who joined with the current participant and viewer links is disconnected at once, and those links stop working. Send the new ones to everyone who should stay.".to_string()
                        confirm_label="Make new links" on_confirm=rotate/>
                    <p class="hint" role="status">{move || message.get()}</p>
                </div>
            </Show>
        </div>
    }
}

#[component]
fn ShareLink(label: &'static str, testid: &'static str, url: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let input_id = format!("{testid}-input");
    let to_copy = url.clone();
    view! {
        <div class="share-link">
            <label for=input_id.clone()>{label}</label>
            <div class="share-row">
                <input id=input_id type="text" readonly data-testid=testid prop:value=url.clone()
                    on:focus=move |ev| {
                        use wasm_bindgen::JsCast;
                        if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                            input.select();
                        }
                    }/>
                <button type="button" aria-label=format!("Copy the link for {label}")
                    on:click=move |_| {
                        if let Some(window) = web_sys::window() {
                            let _ = window.navigator().clipboard().write_text(&to_copy);
                            copied.set(true);
                        }
                    }>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </div>
        </div>
    }
}

/// Downloads of the board as it is now: report, notes, data, picture.
#[component]
fn ExportMenu() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let open = RwSignal::new(false);
    let href = move |ext: &str| {
        format!(
            "/api/boards/{}/export.{ext}?t={}",
            ctx.board_id.get_value(),
            String::from(js_sys::encode_uri_component(&ctx.token.get_value()))
        )
    };
    const FORMATS: [(&str, &str); 5] = [
        ("md", "Session report (Markdown)"),
        ("csv", "Notes (CSV, for spreadsheets)"),
        ("json", "Board data (JSON, re-importable)"),
        ("svg", "Picture of the map (SVG)"),
        ("png", "Picture of the map (PNG)"),
    ];
    view! {
        <div class="share">
            <button type="button" data-testid="export-toggle" aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)>"Export"</button>
            <Show when=move || open.get()>
                <ul class="share-panel card export-menu" data-testid="export-menu" aria-label="Export">
                    {FORMATS.iter().map(|(ext, label)| view! {
                        <li><a href=href(ext) download="" data-testid=format!("export-{ext}")>{*label}</a></li>
                    }).collect_view()}
                </ul>
            </Show>
        </div>
    }
}
