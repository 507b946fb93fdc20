//! The `journeyboard` command: read settings, open the store, bind, print the URL, serve
//! until SIGINT or SIGTERM, then flush. Shared by the binary and the tests' child server.

use crate::config::{Config, ConfigError};
use crate::store::{SledStore, Store};
use crate::{run, AppState};
use anyhow::Context;
use std::sync::Arc;

/// Runs the server as the command line asks. Returns the process exit code.
pub fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `backup DIR` and `restore DIR`, with the server's own flags after them.
    let command = match args.first().map(String::as_str) {
        Some(name @ ("backup" | "restore")) => {
            let name = name.to_string();
            if args.len() < 2 || args[1].starts_with('-') {
                eprintln!(
                    "journeyboard: {name} needs a directory\n\n{}",
                    crate::config::USAGE
                );
                return std::process::ExitCode::from(2);
            }
            let dir = std::path::PathBuf::from(args[1].clone());
            args.drain(..2);
            Some((name, dir))
        }
        _ => None,
    };
    let config = match Config::from_args(args, |k| std::env::var(k).ok()) {
        Ok(config) => config,
        Err(ConfigError::Help) => {
            print!("{}", crate::config::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("journeyboard: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some((name, dir)) = command {
        let result = if name == "backup" {
            crate::backup::backup(&config, &dir)
        } else {
            crate::backup::restore(&config, &dir)
        };
        return match result {
            Ok(done) => {
                println!("{done}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("journeyboard {name}: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sled=warn".into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("journeyboard: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("journeyboard: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Gives glibc's malloc a single arena by starting the process again, once, with
/// `MALLOC_ARENA_MAX=1` (glibc reads it only from the environment, at start; the project
/// forbids `unsafe`, so no `mallopt`). Otherwise every thread that allocates under
/// contention gets an arena of its own (up to eight per core): tokio's workers, its blocking
/// pool and sled's threads each kept freed memory of their own. 10-board fanout benchmark,
/// 30 s: peak RSS about 72 MiB uncapped, 48-52 with two arenas, 43-44 with one, at no
/// measurable CPU cost (BENCHMARKS.md). An operator's own `MALLOC_ARENA_MAX` is kept; if the
/// restart cannot happen, the server runs on as it is.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        const VAR: &str = "MALLOC_ARENA_MAX";
        if std::env::var_os(VAR).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        // `exec` returns only if it failed.
        let error = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(VAR, "1")
            .exec();
        eprintln!("journeyboard: could not restart with {VAR}=1 ({error}); running on");
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let store: Arc<dyn Store> = Arc::new(
        SledStore::open(&data_dir)
            .with_context(|| format!("opening the store in {}", data_dir.display()))?,
    );
    let listener = bind(config.addr).with_context(|| format!("binding {}", config.addr))?;
    let local = listener.local_addr().context("reading the bound address")?;
    // For `journeyboard backup` (see backup.rs).
    crate::backup::write_admin_token(&data_dir)
        .and_then(|()| crate::backup::write_admin_addr(&data_dir, local))
        .with_context(|| format!("writing the admin token in {}", data_dir.display()))?;
    if !config.static_dir.join("index.html").exists() {
        tracing::warn!(dir = %config.static_dir.display(), "no index.html in the static directory; the web client is not built");
    }
    println!(
        "Journeyboard is running: open {}/ (listening on {local}, data in {})",
        config.public_url,
        data_dir.display()
    );
    let state = AppState::new(config, Arc::clone(&store));
    run(listener, state, shutdown_signal())
        .await
        .context("serving")?;
    store.flush().context("flushing the store")?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Resolves on SIGINT (Ctrl+C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Threads for blocking work: store reads and writes (board lookups on connect, loads,
/// compactions), exports, backups. tokio's default is 512, and a burst of connections (each
/// looks its board up in the store) started dozens that then stayed, kept busy by
/// compactions: 32 in the fanout benchmark, about 100 KiB resident each. Beyond this many,
/// blocking work waits its turn.
const BLOCKING_THREADS: usize = 8;

/// Pending connections the kernel queues for us. tokio's `TcpListener::bind` asks for 128:
/// when a whole room reconnects at once (a network blip, a server restart) the queue
/// overflows, the kernel drops SYNs and those clients retry only after the 1 s SYN timeout.
/// The kernel caps this at `net.core.somaxconn` (4096 by default).
const LISTEN_BACKLOG: u32 = 4096;

fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted server can take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
