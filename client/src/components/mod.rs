//! The UI, one area per file.

pub mod app;
pub mod board_page;
pub mod grid;
pub mod headers;
pub mod home;
pub mod join;
pub mod note;
pub mod toolbar;
