//! Journeyboard's shared vocabulary: the board document's schema and the plain types both the
//! server and the WebAssembly client use.
//!
//! - [`model`]: plain serde types (templates, phases, roles, stages, lanes, notes, summaries).
//! - [`phases`]: each workshop phase's goal and prompts.
//! - [`export`]: the whole board as plain data (the JSON export, imports, snapshots).
//! - [`identity`]: a person's public id, derived from a secret only their browser knows.
//! - [`rules`]: what each role may change in the document (enforced by the server).
//! - [`templates`]: the default stages and lanes each map type starts with (from DOMAIN.md).
//! - [`textdiff`]: the single edit between two texts, for live typing into a Y.Text.
//! - [`schema`]: the only code that knows the Y.Doc's root names and shapes; a typed view to
//!   read and write a board through any yrs transaction.
//!
//! No tokio, no axum, no clock: this crate compiles for wasm32 and for the server alike.

pub mod export;
pub mod identity;
pub mod model;
pub mod phases;
pub mod rules;
pub mod schema;
pub mod templates;
pub mod textdiff;

pub use model::*;
