//! The app root: picks the page from the URL.

use super::board_page::BoardPage;
use super::home::Home;
use crate::route::Route;
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    let shown = Route::current();
    // A link pasted over this one that differs only after `#` (a board's new token) is not a
    // new page to the browser: open it as one, or the board would keep the old token.
    let _ = window_event_listener(leptos::ev::hashchange, move |_| {
        if Route::current() != shown {
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
        }
    });
    let page = match Route::current() {
        Route::Home => view! { <Home/> }.into_any(),
        Route::Board { id, token } => view! { <BoardPage id token/> }.into_any(),
        Route::NotFound => view! {
            <main class="message">
                <h1>"Page not found"</h1>
                <p><a href="/">"Go to Journeyboard's home page"</a></p>
            </main>
        }
        .into_any(),
    };
    view! { <div id="app" data-testid="app">{page}</div> }
}
