//! `cargo xtask`: every set-up, build and test step of the project, so that a fresh machine
//! with only rustup and cargo needs nothing done by hand.
//!
//! - `cargo xtask build-client`: build the web client (wasm32, profile `wasm-release`), run
//!   wasm-bindgen on it into `static/pkg/` and write gzipped copies for the server to send.
//! - `cargo xtask serve [SERVER ARGS]`: build the web client, then run the server with it.
//! - `cargo xtask test [CARGO TEST ARGS]`: install test dependencies, build the client, run
//!   every test suite that needs no browser.
//! - `cargo xtask browser-test [CARGO TEST ARGS]`: install Chromium and chromedriver if
//!   missing, build the client, run the browser end-to-end tests (`e2e/`).
//!
//! Each step only shells out to `cargo`, `rustup`, `npm` and (for Chromium) `apt-get`;
//! wasm-bindgen runs in this process, as a library.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Instant, SystemTime};

const USAGE: &str = "usage: cargo xtask build-client
       cargo xtask serve [SERVER ARGS]
       cargo xtask test [CARGO TEST ARGS]
       cargo xtask browser-test [CARGO TEST ARGS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build-client") if args.len() == 1 => build_client(),
        Some("serve") => serve(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("browser-test") => browser_test(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
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

/// Runs a command and returns its standard output.
fn output(command: &mut Command) -> Result<String, String> {
    let shown = format!("{command:?}");
    let out = command
        .current_dir(root())
        .output()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn serve(server_args: &[String]) -> Result<(), String> {
    // `cargo xtask serve -- --addr ...` (as the README writes it) passes the `--` on to us.
    let server_args = match server_args.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => server_args,
    };
    build_client()?;
    run(cargo()
        .args([
            "run",
            "--package",
            "journeyboard-server",
            "--bin",
            "journeyboard",
            "--",
        ])
        .args(server_args))
}

fn test(cargo_args: &[String]) -> Result<(), String> {
    install_js_test_deps()?;
    build_client()?;
    run(cargo()
        .args(["test", "--workspace"])
        .args(["--exclude", "journeyboard-client"])
        .args(["--exclude", "journeyboard-e2e"])
        .args(["--exclude", "xtask"])
        .args(cargo_args))
}

fn browser_test(cargo_args: &[String]) -> Result<(), String> {
    install_chromium()?;
    build_client()?;
    run(cargo()
        .args(["test", "--package", "journeyboard-e2e"])
        .args(cargo_args))
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

// ---- the web client -------------------------------------------------------------------------

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Cargo profile of the client bundle (root Cargo.toml): optimised for size, yet quick to
/// rebuild after a change in client/src.
const CLIENT_PROFILE: &str = "wasm-release";
/// The crate's name as wasm-bindgen sees it: `static/pkg/journeyboard_client.js` and
/// `static/pkg/journeyboard_client_bg.wasm`.
const CLIENT_STEM: &str = "journeyboard_client";

/// Builds the client and puts the bundle, with `.gz` copies, into `static/pkg/`.
fn build_client() -> Result<(), String> {
    let started = Instant::now();
    ensure_wasm_target()?;
    run(cargo()
        .args(["build", "--package", "journeyboard-client", "--lib"])
        .args(["--target", WASM_TARGET, "--profile", CLIENT_PROFILE]))?;
    let wasm = target_dir()
        .join(WASM_TARGET)
        .join(CLIENT_PROFILE)
        .join(format!("{CLIENT_STEM}.wasm"));
    let pkg = root().join("static/pkg");
    if up_to_date(&wasm, &pkg)? {
        eprintln!("client bundle in static/pkg is up to date");
    } else {
        // Built beside static/pkg, then swapped in: a running server never serves a
        // half-written bundle, or a .js without its .gz.
        let fresh = root().join(format!("static/.pkg-new-{}", std::process::id()));
        bindgen(&wasm, &fresh)?;
        gzip_bundle(&fresh)?;
        swap_in(&fresh, &pkg)?;
    }
    print_sizes(&pkg)?;
    eprintln!("client built in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Adds the wasm32 target through rustup unless it is already installed.
fn ensure_wasm_target() -> Result<(), String> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))
        .map_err(|e| {
            format!("{e}\n(the web client needs rustup to add the {WASM_TARGET} target)")
        })?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether `pkg` was generated from this very `wasm` (cargo leaves the file alone when
/// nothing changed): its last output file is newer than the module.
fn up_to_date(wasm: &Path, pkg: &Path) -> Result<bool, String> {
    let input = modified(wasm).ok_or_else(|| format!("cargo built no {}", wasm.display()))?;
    let last_output = pkg.join(format!("{CLIENT_STEM}.js.gz"));
    Ok(modified(&last_output).is_some_and(|out| out >= input)
        && pkg.join(format!("{CLIENT_STEM}_bg.wasm.gz")).exists())
}

/// wasm-bindgen (`--target web`) into a fresh `pkg` directory.
fn bindgen(wasm: &Path, pkg: &Path) -> Result<(), String> {
    if pkg.exists() {
        fs::remove_dir_all(pkg).map_err(|e| format!("could not clear {}: {e}", pkg.display()))?;
    }
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?
        // Without the default path, the generated `init()` has no URL to load the module from.
        .omit_default_module_path(false)
        .typescript(false)
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(pkg)
        .map_err(|e| format!("wasm-bindgen on {}: {e:#}", wasm.display()))
}

/// Replaces the directory `pkg` with `fresh` (two renames). Retries if another build swaps
/// its own bundle in at the same moment.
fn swap_in(fresh: &Path, pkg: &Path) -> Result<(), String> {
    let old = pkg.with_file_name(format!(".pkg-old-{}", std::process::id()));
    let mut attempts = 0;
    loop {
        if pkg.exists() {
            // Another build may have moved it away already: that is fine.
            let _ = fs::rename(pkg, &old);
        }
        match fs::rename(fresh, pkg) {
            Ok(()) => break,
            Err(e) if attempts < 5 => {
                attempts += 1;
                eprintln!("retrying to move the bundle into {}: {e}", pkg.display());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => {
                return Err(format!(
                    "could not move {} to {}: {e}",
                    fresh.display(),
                    pkg.display()
                ))
            }
        }
    }
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| format!("could not remove {}: {e}", old.display()))?;
    }
    Ok(())
}

/// Every `.wasm` and `.js` under `dir`, recursively (wasm-bindgen puts inline JS snippets in
/// `snippets/`).
fn bundle_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let entries =
        fs::read_dir(dir).map_err(|e| format!("could not list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            files.extend(bundle_files(&path)?);
        } else if path
            .extension()
            .is_some_and(|ext| ext == "wasm" || ext == "js")
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn gz_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// Writes `FILE.gz` (best compression) beside each bundle file, for ServeDir's
/// `precompressed_gzip`. The main `.js.gz` is written last: `up_to_date` checks it.
fn gzip_bundle(pkg: &Path) -> Result<(), String> {
    let mut files = bundle_files(pkg)?;
    let main_js = pkg.join(format!("{CLIENT_STEM}.js"));
    files.sort_by_key(|f| *f == main_js);
    for file in files {
        let raw = fs::read(&file).map_err(|e| format!("could not read {}: {e}", file.display()))?;
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(raw.len() / 3),
            flate2::Compression::best(),
        );
        encoder.write_all(&raw).map_err(|e| e.to_string())?;
        let gz = encoder.finish().map_err(|e| e.to_string())?;
        let target = gz_path(&file);
        fs::write(&target, gz).map_err(|e| format!("could not write {}: {e}", target.display()))?;
    }
    Ok(())
}

fn print_sizes(pkg: &Path) -> Result<(), String> {
    let size = |path: &Path| fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let kib = |bytes: u64| bytes as f64 / 1024.0;
    let (mut total_raw, mut total_gz) = (0, 0);
    for file in bundle_files(pkg)? {
        let (raw, gz) = (size(&file), size(&gz_path(&file)));
        total_raw += raw;
        total_gz += gz;
        let name = file.strip_prefix(root()).unwrap_or(&file);
        eprintln!(
            "{:>9.1} KiB {:>8.1} KiB gzipped  {}",
            kib(raw),
            kib(gz),
            name.display()
        );
    }
    eprintln!(
        "{:>9.1} KiB {:>8.1} KiB gzipped  total",
        kib(total_raw),
        kib(total_gz)
    );
    Ok(())
}

// ---- the browser ----------------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Debian's Chromium and chromedriver (the same version, as the driver requires), installed
/// through apt-get: as root, else through sudo.
fn install_chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return Ok(());
    }
    eprintln!("installing Chromium and chromedriver (apt-get)");
    let is_root = output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    let apt_get = |args: &[&str]| -> Result<(), String> {
        let mut command = if is_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["--non-interactive", "apt-get"]);
            sudo
        };
        run(command.args(args).env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if !is_root && Command::new("sudo").arg("--version").output().is_err() {
        return Err(format!(
            "{CHROMIUM} or {CHROMEDRIVER} is missing and installing them needs root: run \
             `apt-get install chromium chromium-driver` as root, or run this as root or with sudo"
        ));
    }
    apt_get(&["update"])?;
    apt_get(&["install", "-y", "chromium", "chromium-driver"])?;
    for needed in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(needed).exists() {
            return Err(format!(
                "apt-get installed Chromium, but {needed} is still missing"
            ));
        }
    }
    Ok(())
}
