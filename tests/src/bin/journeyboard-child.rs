//! The `journeyboard` command under another name, so integration tests in this crate can
//! start it as a child process (`CARGO_BIN_EXE_journeyboard-child`) and kill it.

fn main() -> std::process::ExitCode {
    journeyboard_server::cli::main()
}
