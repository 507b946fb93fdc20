//! The real server, started two ways: in this process on `127.0.0.1:0` (fast, for most
//! tests), or as a child process (`journeyboard-child`, the same `cli::main` as the
//! `journeyboard` binary) that a test can kill with SIGKILL.

use journeyboard_server::store::{SledStore, Store};
use journeyboard_server::{AppState, Config};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// An in-process server with its own sled directory.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// Handles on the store a server holds with no connection (see [`TestServer::stop`]).
    idle_store_handles: usize,
}

impl TestServer {
    /// Starts a server on a fresh data directory.
    pub async fn start() -> TestServer {
        Self::start_in(&crate::temp_dir("server"), Duration::from_secs(30)).await
    }

    /// Starts a server on `data_dir` (reusing what an earlier server stored there).
    pub async fn start_in(data_dir: &Path, idle_unload: Duration) -> TestServer {
        Self::start_on(
            "127.0.0.1:0".parse().expect("address"),
            data_dir,
            idle_unload,
        )
        .await
    }

    /// Starts a server on a given address: a restarted server on the same port, so that
    /// clients reconnecting to the old URL find it again.
    pub async fn start_on(addr: SocketAddr, data_dir: &Path, idle_unload: Duration) -> TestServer {
        Self::start_with(addr, data_dir, |config| config.idle_unload = idle_unload).await
    }

    /// Starts a server on a fresh data directory with settings changed by `configure` (small
    /// limits, allowed origins...).
    pub async fn start_configured(configure: impl FnOnce(&mut Config)) -> TestServer {
        let addr = "127.0.0.1:0".parse().expect("address");
        Self::start_with(addr, &crate::temp_dir("server"), configure).await
    }

    /// Starts a server on `addr` and `data_dir` with settings changed by `configure`.
    pub async fn start_with(
        addr: SocketAddr,
        data_dir: &Path,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        // A server stopped just before on this directory may not have let go of sled's
        // lock yet (its last handles close on sled's own threads): retry for a while.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let store = loop {
            match SledStore::open(data_dir) {
                Ok(store) => break store,
                Err(e)
                    if tokio::time::Instant::now() < deadline && e.to_string().contains("lock") =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("open store: {e:?}"),
            }
        };
        let store: Arc<dyn Store> = Arc::new(store);
        Self::start_with_store(addr, data_dir, store, configure).await
    }

    /// Starts a server on `addr` over `store` (a failing store, for storage-error tests).
    pub async fn start_with_store(
        addr: SocketAddr,
        data_dir: &Path,
        store: Arc<dyn Store>,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let mut config = Config::new(addr, data_dir.to_path_buf());
        config.idle_unload = Duration::from_secs(30);
        configure(&mut config);
        let state = AppState::new(config, Arc::clone(&store));
        // Ours, and the state's own; the serving task's is gone once it ends.
        let idle_store_handles = Arc::strong_count(&state.store) - 1;
        let (stop, stopped) = oneshot::channel::<()>();
        let server_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            journeyboard_server::run(listener, server_state, async {
                let _ = stopped.await;
            })
            .await
            .expect("server run");
            store.flush().expect("flush");
        });
        TestServer {
            addr,
            state,
            data_dir: data_dir.to_path_buf(),
            stop: Some(stop),
            task: Some(task),
            idle_store_handles,
        }
    }

    /// A clean shutdown, as on SIGTERM: waits until the store is flushed and closed.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
        // Connection tasks still ending hold the store (through their rooms); sled keeps its
        // directory locked until the last handle goes, and a restart on it would fail.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&self.state.store) > self.idle_store_handles
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn ws_url(&self, board: &str, token: &str) -> String {
        format!("ws://{}/ws/{board}?t={token}", self.addr)
    }

    /// The board's WebSocket URL for a person with `secret` (docs/SCHEMA.md, "Identity").
    pub fn ws_url_as(&self, board: &str, token: &str, secret: &str) -> String {
        format!("ws://{}/ws/{board}?t={token}&u={secret}", self.addr)
    }

    /// The WebSocket URL of the private room of the person with `secret`.
    pub fn private_url(&self, board: &str, token: &str, secret: &str) -> String {
        format!("ws://{}/ws/{board}/private?t={token}&u={secret}", self.addr)
    }
}

/// The server as a separate process.
pub struct ChildServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    child: tokio::process::Child,
    /// What it printed (its log: warnings and errors).
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ChildServer {
    /// Starts `journeyboard-child` on `data_dir` and waits until it prints its address.
    /// `binary` is `env!("CARGO_BIN_EXE_journeyboard-child")` from the calling test.
    pub async fn start(binary: &str, data_dir: &Path) -> ChildServer {
        let mut child = tokio::process::Command::new(binary)
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn child server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(crate::PATIENCE, async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split([',', ' ']).next().expect("address");
                    return addr.parse::<SocketAddr>().expect("socket address");
                }
            }
            panic!("child server exited before listening");
        })
        .await
        .expect("child server start");
        // Keep draining stdout so the child never blocks on a full pipe.
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&output);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        ChildServer {
            addr,
            data_dir: data_dir.to_path_buf(),
            child,
            output,
        }
    }

    /// The lines it printed so far.
    pub fn log(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    /// The board's WebSocket URL with `token`.
    pub fn ws_url(&self, board: &str, token: &str) -> String {
        format!("ws://{}/ws/{board}?t={token}", self.addr)
    }

    /// SIGKILL: no shutdown code runs, nothing is flushed on the way out.
    pub async fn kill9(mut self) {
        self.child.kill().await.expect("kill child");
    }

    /// SIGTERM and wait for a clean exit.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("pid");
        let status = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .expect("send SIGTERM");
        assert!(status.success());
        tokio::time::timeout(crate::PATIENCE, self.child.wait())
            .await
            .expect("child exits after SIGTERM")
            .expect("wait child")
    }
}
