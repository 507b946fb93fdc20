//! `journeyboard`: the server binary. All the work is in the library (`cli::main`).

fn main() -> std::process::ExitCode {
    journeyboard_server::cli::main()
}
