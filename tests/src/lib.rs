//! Helpers for Journeyboard's integration tests: the real server on `127.0.0.1:0` (in-process
//! or as a child process that can be killed), a minimal HTTP client, and a test Yjs client
//! that speaks the y-websocket protocol over tokio-tungstenite.

pub mod http;
pub mod logs;
pub mod server;
pub mod yclient;

pub use http::{create_board, http_request, CreatedBoard};
pub use server::{ChildServer, TestServer};
pub use yclient::YClient;

use std::time::Duration;

/// How long a test waits for something that should happen "at once" before failing. Generous
/// so that a loaded CI machine does not fail tests; speed is measured in the benchmark.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A fresh directory under the system temp dir.
pub fn temp_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "journeyboard-test-{label}-{}",
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}
