//! The server's log lines, captured in memory, for tests that check a refusal is logged.
//! One global subscriber per test binary (the first call installs it); lines of parallel
//! tests mix, so look for something unique to the test (its board id).

use std::io::Write;
use std::sync::{Mutex, OnceLock};

static LINES: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("JB_TEST_LOG").is_some() {
            let _ = std::io::stderr().write_all(buf);
        }
        LINES
            .get_or_init(Default::default)
            .lock()
            .unwrap()
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing the server's log (info and up), once per test binary.
pub fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,sled=warn"))
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
    });
}

/// Every captured line containing all of `needles`.
pub fn lines_with(needles: &[&str]) -> Vec<String> {
    let lines = LINES.get_or_init(Default::default).lock().unwrap();
    String::from_utf8_lossy(&lines)
        .lines()
        .filter(|line| needles.iter().all(|n| line.contains(n)))
        .map(str::to_string)
        .collect()
}

/// Waits until a captured line contains all of `needles`, and returns it.
pub async fn wait_for(needles: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + crate::PATIENCE;
    loop {
        if let Some(line) = lines_with(needles).into_iter().next() {
            return line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no log line with {needles:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The whole captured log (to check what is never in it).
pub fn all() -> String {
    String::from_utf8_lossy(&LINES.get_or_init(Default::default).lock().unwrap()).into_owned()
}
