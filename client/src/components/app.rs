//! The app root: picks the page from the URL.

use super::board_page::BoardPage;
use super::home::Home;
use crate::route::Route;
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
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
