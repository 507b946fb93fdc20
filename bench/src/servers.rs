//! The two servers under test, each started as a child process on 127.0.0.1 with a fresh
//! data directory and persistence on: Journeyboard (`journeyboard --data-dir`) and the
//! reference Node server (`@y/websocket-server` with `YPERSISTENCE`).

use crate::stats;
use anyhow::{anyhow, bail, Context};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Journeyboard.
    Ours,
    /// `@y/websocket-server` on Node.
    Node,
    /// `relay-floor`: a relay with no document and no store, for what the machine and the
    /// generator alone cost (not part of a default run).
    Floor,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Ours => "journeyboard",
            Kind::Node => "node y-websocket",
            Kind::Floor => "relay floor",
        }
    }
}

/// Where the servers' programs are.
#[derive(Clone)]
pub struct Programs {
    pub journeyboard: PathBuf,
    /// `bench/node`, with `node_modules` installed.
    pub node_dir: PathBuf,
    /// The `relay-floor` binary.
    pub floor: PathBuf,
}

/// A running server.
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    child: Child,
    pid: String,
    pub data_dir: PathBuf,
    programs: Programs,
    /// Journeyboard's "unloading idle room" log lines so far.
    pub unloads: Arc<AtomicUsize>,
}

impl Server {
    /// Starts a server on a fresh data directory.
    pub async fn start(kind: Kind, programs: &Programs) -> anyhow::Result<Server> {
        let data_dir = std::env::temp_dir().join(format!(
            "jb-bench-{}-{}",
            match kind {
                Kind::Ours => "ours",
                Kind::Node => "node",
                Kind::Floor => "floor",
            },
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&data_dir)?;
        Self::start_in(kind, programs, data_dir).await
    }

    async fn start_in(
        kind: Kind,
        programs: &Programs,
        data_dir: PathBuf,
    ) -> anyhow::Result<Server> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.with_extension("log"))?;
        let mut command = match kind {
            Kind::Ours => {
                let mut c = Command::new(&programs.journeyboard);
                c.args(["--addr", "127.0.0.1:0", "--data-dir"])
                    .arg(data_dir.join("store"))
                    // Quiet, but for the unload lines the idle-memory check counts.
                    .env("RUST_LOG", "warn,journeyboard_server::room::registry=debug");
                c
            }
            Kind::Node => {
                // `npx y-websocket-server` runs this script; starting it directly makes the
                // measured process node itself rather than an npx wrapper.
                let port = free_port()?;
                let mut c = Command::new("node");
                c.arg(
                    programs
                        .node_dir
                        .join("node_modules/@y/websocket-server/src/server.js"),
                )
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string())
                .env("YPERSISTENCE", data_dir.join("leveldb"));
                c
            }
            Kind::Floor => {
                let mut c = Command::new(&programs.floor);
                c.env("PORT", free_port()?.to_string());
                c
            }
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", kind.label()))?;
        let pid = child.id().ok_or_else(|| anyhow!("no pid"))?.to_string();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split([',', ' ', ')']).next().unwrap_or_default();
                    return Ok(addr.parse::<SocketAddr>()?);
                }
                // Node: "running at '127.0.0.1' on port N"
                if let Some(port) = line.split("on port ").nth(1) {
                    let port: u16 = port.trim().parse()?;
                    return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
                }
            }
            bail!("{} exited before listening", kind.label())
        })
        .await
        .map_err(|_| anyhow!("{} did not start within 30 s", kind.label()))??;
        let unloads = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&unloads);
        // The server's stdout (Journeyboard logs there) goes to the log file as well.
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(data_dir.with_extension("log"))?;
        tokio::spawn(async move {
            use std::io::Write;
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("unloading idle room") {
                    counter.fetch_add(1, Ordering::Relaxed);
                } else {
                    let _ = writeln!(log, "{line}");
                }
            }
        });
        let server = Server {
            kind,
            addr,
            child,
            pid,
            data_dir,
            programs: programs.clone(),
            unloads,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// Waits until the port answers HTTP.
    async fn wait_ready(&self) -> anyhow::Result<()> {
        for _ in 0..100 {
            if http(self.addr, "GET", "/healthz", None).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{} does not answer on {}", self.kind.label(), self.addr)
    }

    /// SIGTERM, then wait for the exit (SIGKILL after 20 s).
    pub async fn stop(mut self) -> anyhow::Result<PathBuf> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid])
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(self.data_dir.clone())
    }

    /// A clean stop and a start on the same data: nothing is loaded afterwards.
    pub async fn restart(self) -> anyhow::Result<Server> {
        let (kind, programs) = (self.kind, self.programs.clone());
        let dir = self.stop().await?;
        Self::start_in(kind, &programs, dir).await
    }

    /// Stops and removes the data directory.
    pub async fn finish(self) -> anyhow::Result<()> {
        let dir = self.stop().await?;
        let _ = std::fs::remove_dir_all(&dir);
        if std::env::var_os("BENCH_KEEP_LOGS").is_none() {
            let _ = std::fs::remove_file(dir.with_extension("log"));
        }
        Ok(())
    }

    pub fn cpu_seconds(&self) -> f64 {
        stats::cpu_seconds(&self.pid)
    }

    /// User-space CPU seconds (the rest was in the kernel).
    pub fn user_cpu_seconds(&self) -> f64 {
        stats::cpu_split(&self.pid).0
    }

    pub fn rss_kib(&self) -> u64 {
        stats::status_kib(&self.pid, "VmRSS:")
    }

    pub fn peak_rss_kib(&self) -> u64 {
        stats::status_kib(&self.pid, "VmHWM:")
    }

    pub async fn create_board_titled(&self, i: usize) -> anyhow::Result<String> {
        self.create_board(&format!("Bench board {i}")).await
    }

    /// A new board; returns the WebSocket URL a participant joins it with. Node rooms are
    /// just names: a fresh UUID.
    pub async fn create_board(&self, title: &str) -> anyhow::Result<String> {
        match self.kind {
            Kind::Node | Kind::Floor => Ok(format!("ws://{}/{}", self.addr, uuid::Uuid::new_v4())),
            Kind::Ours => {
                let body =
                    serde_json::json!({"title": title, "template": "current-state"}).to_string();
                let (status, body) = http(self.addr, "POST", "/api/boards", Some(&body)).await?;
                if status != 201 {
                    bail!("POST /api/boards: {status} {body}");
                }
                let created: serde_json::Value = serde_json::from_str(&body)?;
                let id = created["id"].as_str().ok_or_else(|| anyhow!("no id"))?;
                let token = created["participant_token"]
                    .as_str()
                    .ok_or_else(|| anyhow!("no token"))?;
                Ok(format!("ws://{}/ws/{id}?t={token}", self.addr))
            }
        }
    }
}

impl Server {
    /// Loads a Journeyboard board without joining it: `GET /api/boards/{id}?t=TOKEN` for the
    /// board behind a WebSocket URL from [`Server::create_board`].
    pub async fn load_board(&self, ws_url: &str) -> anyhow::Result<()> {
        let rest = ws_url
            .split("/ws/")
            .nth(1)
            .ok_or_else(|| anyhow!("not a board URL: {ws_url}"))?;
        let (status, body) = http(self.addr, "GET", &format!("/api/boards/{rest}"), None).await?;
        if status != 200 {
            bail!("GET /api/boards/{rest}: {status} {body}");
        }
        Ok(())
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad HTTP response"))?;
    Ok((status, body.to_string()))
}

/// `npm ci` in the Node server's folder when its `node_modules` is missing.
pub fn ensure_node(node_dir: &Path) -> anyhow::Result<()> {
    if node_dir
        .join("node_modules/@y/websocket-server/src/server.js")
        .exists()
    {
        return Ok(());
    }
    eprintln!(
        "installing the reference server: npm ci in {}",
        node_dir.display()
    );
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(node_dir)
        .status()
        .context("running npm (is Node installed?)")?;
    if !status.success() {
        bail!("npm ci failed in {}", node_dir.display());
    }
    Ok(())
}
