//! The Journeyboard server: one live yrs document per board, synced with any Yjs client over
//! the y-websocket protocol, persisted in sled.
//!
//! Module map:
//! - [`cli`]: the `journeyboard` command (flags, tracing, store, bind, run).
//! - [`config`]: settings from flags and environment.
//! - [`app`]: shared state, router, static files, [`app::run`].
//! - [`api`]: the boards HTTP API; [`access`]: board lookup and token check; [`auth`]: tokens.
//! - [`limits`]: the limits on connections, messages and board size.
//! - [`ws`]: the only WebSocket code: moves frames between a socket and a room.
//! - [`room`]: socket-free live boards: sync protocol, relay, presence, load and unload.
//! - [`store`]: a small storage trait; sled by default, in-memory for unit tests.
//! - [`backup`]: `journeyboard backup` and `restore`, and the admin endpoint behind them.
//! - [`snapshots`]: named snapshots: save, list, export, restore, derive a new board.
//! - [`export`]: the board as Markdown, CSV, JSON, SVG and PNG.
//! - [`error`]: the HTTP error type.

pub mod access;
pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod error;
pub mod export;
pub mod limits;
pub mod room;
mod serve;
pub mod snapshots;
pub mod store;
pub mod ws;

/// Locks a std mutex, going on past a poisoning panic: every mutex here guards data that
/// stays consistent between operations (whole transactions, plain collections).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub use app::{run, AppState};
pub use config::Config;
