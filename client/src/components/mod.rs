//! The UI, one area per file.

pub mod app;
pub mod board_page;
pub mod confirm;
pub mod emotions;
pub mod grid;
pub mod headers;
pub mod home;
pub mod icebreaker;
pub mod join;
pub mod note;
pub mod personas;
pub mod phase_bar;
pub mod results;
pub mod side_panel;
pub mod snapshots;
pub mod toolbar;
