//! `cargo xtask`: every set-up, build and test step of the project, so that a fresh machine
//! with only rustup and cargo needs nothing done by hand.
//!
//! - `cargo xtask serve [SERVER ARGS]`: build the web client, then run the server with it.
//! - `cargo xtask test`: install test dependencies, build the client, run every test suite
//!   that needs no browser.
//!
//! Each step only shells out to `cargo`, `rustup` and `npm`, the tools a fresh machine has.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("test") => test(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask serve [SERVER ARGS] | cargo xtask test [CARGO TEST ARGS]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (this crate's parent directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs a command in the workspace root, failing with its name if it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command
        .current_dir(root())
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn serve(server_args: &[String]) -> Result<(), String> {
    run(cargo()
        .args(["run", "--package", "journeyboard-server", "--bin", "journeyboard", "--"])
        .args(server_args))
}

fn test(cargo_args: &[String]) -> Result<(), String> {
    install_js_test_deps()?;
    run(cargo().args(["test", "--workspace", "--exclude", "journeyboard-client", "--exclude", "xtask"]).args(cargo_args))
}

/// The official Yjs JS client, for the interop test (pinned by tests/js/package-lock.json).
fn install_js_test_deps() -> Result<(), String> {
    let js = root().join("tests/js");
    if js.join("node_modules/.package-lock.json").exists() {
        return Ok(());
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&js))
}
