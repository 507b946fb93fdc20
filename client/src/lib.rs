//! The Journeyboard web client: Leptos (client-side rendering) in WebAssembly, with a yrs
//! document synced to the server over the y-websocket protocol.
//!
//! Module map:
//! - [`route`]: which page the URL asks for.
//! - [`api`]: the server's HTTP API (create a board, read its summary and our role).
//! - [`storage`]: localStorage (identity, share links, offline copy of each board).
//! - [`sync`]: the WebSocket, the yrs doc, presence, reconnection, undo.
//! - [`state`]: the doc as signals for the UI.
//! - [`components`]: one UI area per file.

pub mod api;
pub mod components;
pub mod route;
pub mod state;
pub mod storage;
pub mod sync;

use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point, run when the module loads: mounts the app and flags readiness for tests.
#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(components::app::App);
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &"__journeyboard_ready".into(), &true.into());
    }
}
