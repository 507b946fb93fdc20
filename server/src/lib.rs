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
pub mod snapshots;
pub mod store;
pub mod ws;

pub use app::{run, AppState};
pub use config::Config;
