//! Browser end-to-end tests: the real server (`journeyboard_tests::TestServer`, which serves the
//! source tree's `static/`, where `cargo xtask build-client` puts the bundle) driven through
//! headless Chromium over WebDriver.
//!
//! - [`Browser`]: one chromedriver on a free 127.0.0.1 port; [`Browser::session`] opens an
//!   independent Chromium (its own profile, so its own localStorage) as a [`BoardPage`].
//! - [`BoardPage`]: page-object helpers that find elements by `[data-testid=...]`, poll for a
//!   condition, run scripts and take screenshots (PNG, under `target/e2e-screenshots/`).
//!
//! Run with `cargo xtask browser-test`, which installs Chromium and chromedriver if missing and
//! builds the client first.

pub mod board;

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use journeyboard_tests::{create_board, CreatedBoard, TestServer, YClient};

/// Chromium, as Debian installs it (`JOURNEYBOARD_CHROMIUM` overrides).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// chromedriver, as Debian's `chromium-driver` installs it (`JOURNEYBOARD_CHROMEDRIVER`
/// overrides). It must match Chromium's version.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page gets to load and render the app.
pub const PAGE_PATIENCE: Duration = Duration::from_secs(20);
/// How long chromedriver gets to start, and Chromium to open a session.
const START_PATIENCE: Duration = Duration::from_secs(30);
/// How often `wait_until` checks its condition.
const POLL: Duration = Duration::from_millis(50);

/// The headless flags: root needs `--no-sandbox`; the rest keeps Chromium from reaching out to
/// the network or doing background work. Each session adds its own `--user-data-dir`.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1280,800",
];

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e lives in the workspace")
        .to_path_buf()
}

/// Where screenshots go: `target/e2e-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    workspace_root().join("target/e2e-screenshots")
}

fn tool(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// Fails unless the client bundle is in `static/` (TestServer serves it from there).
pub fn require_client_bundle() -> Result<()> {
    let statics = workspace_root().join("static");
    for needed in [
        "index.html",
        "pkg/journeyboard_client.js",
        "pkg/journeyboard_client_bg.wasm",
    ] {
        if !statics.join(needed).exists() {
            bail!(
                "{} is missing: the web client is not built. Run the browser tests with \
                 `cargo xtask browser-test`, which builds it first",
                statics.join(needed).display()
            );
        }
    }
    Ok(())
}

/// One chromedriver process on a free 127.0.0.1 port, and every Chromium session opened
/// through it. On drop, the sessions are closed (Chromium quits) and chromedriver is killed
/// with anything it left running; the sessions' profile directories are removed.
pub struct Browser {
    driver: Child,
    url: String,
    log: PathBuf,
    chromium: PathBuf,
    sessions: Mutex<Vec<String>>,
    profiles: Mutex<Vec<PathBuf>>,
}

impl Browser {
    /// Starts chromedriver and waits until it answers. Fails with what to do if Chromium,
    /// chromedriver or the client bundle is missing.
    pub async fn start() -> Result<Browser> {
        let chromium = tool("JOURNEYBOARD_CHROMIUM", CHROMIUM);
        let chromedriver = tool("JOURNEYBOARD_CHROMEDRIVER", CHROMEDRIVER);
        for (what, path) in [("Chromium", &chromium), ("chromedriver", &chromedriver)] {
            if !path.exists() {
                bail!(
                    "{what} not found at {}: run the browser tests with `cargo xtask browser-test`, \
                     which installs Chromium and chromedriver (Debian packages chromium and \
                     chromium-driver)",
                    path.display()
                );
            }
        }
        require_client_bundle()?;

        let port = free_port()?;
        let log_dir = workspace_root().join("target/e2e-logs");
        std::fs::create_dir_all(&log_dir).context("create target/e2e-logs")?;
        let log = log_dir.join(format!("chromedriver-{port}.log"));
        let log_file = std::fs::File::create(&log).context("create chromedriver log")?;
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            // Its own process group, so that drop can also end any Chromium left behind.
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not start {}", chromedriver.display()))?;
        let mut browser = Browser {
            driver,
            url: format!("http://127.0.0.1:{port}"),
            log,
            chromium,
            sessions: Mutex::new(Vec::new()),
            profiles: Mutex::new(Vec::new()),
        };
        browser.wait_until_ready(port).await?;
        Ok(browser)
    }

    async fn wait_until_ready(&mut self, port: u16) -> Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            if let Some(status) = self.driver.try_wait()? {
                bail!(
                    "chromedriver exited at start ({status}); its log ({}):\n{}",
                    self.log.display(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            let answer =
                tokio::task::spawn_blocking(move || blocking_http(addr, "GET", "/status")).await?;
            if answer.is_ok_and(|body| body.contains("\"ready\":true")) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "chromedriver did not answer on 127.0.0.1:{port} within {START_PATIENCE:?}; \
                     its log: {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The chromedriver URL (`http://127.0.0.1:PORT`).
    pub fn webdriver_url(&self) -> &str {
        &self.url
    }

    /// Opens a new, independent Chromium session: a fresh profile directory, so cookies and
    /// localStorage are its own (like a second person on another computer).
    pub async fn session(&self) -> Result<BoardPage> {
        let profile = journeyboard_tests::temp_dir("chromium-profile");
        self.profiles.lock().unwrap().push(profile.clone());
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": self.chromium, "args": args }),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let client = tokio::time::timeout(START_PATIENCE, builder.connect(&self.url))
            .await
            .map_err(|_| {
                anyhow!(
                    "Chromium did not start within {START_PATIENCE:?} (chromedriver log: {})",
                    self.log.display()
                )
            })?
            .with_context(|| {
                format!(
                    "could not open a Chromium session (chromedriver log: {})",
                    self.log.display()
                )
            })?;
        if let Some(id) = client.session_id().await? {
            self.sessions.lock().unwrap().push(id);
        }
        Ok(BoardPage { client })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Deleting a session makes chromedriver quit its Chromium. Plain blocking HTTP: drop
        // cannot await, and chromedriver answers within a second.
        let addr: Option<SocketAddr> = self
            .url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok());
        if let Some(addr) = addr {
            for id in self.sessions.lock().unwrap().drain(..) {
                let _ = blocking_http(addr, "DELETE", &format!("/session/{id}"));
            }
        }
        // chromedriver and anything left in its process group (whose id is chromedriver's
        // pid). The `--` matters: procps `kill -KILL -PID` reads `-PID` as -1, every process.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        for profile in self.profiles.lock().unwrap().drain(..) {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// One HTTP/1.1 request with no body; returns the response body (status 2xx only). Reads
/// by `Content-Length`: chromedriver keeps the connection open whatever the request says.
fn blocking_http(addr: SocketAddr, method: &str, path: &str) -> Result<String> {
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            bail!("{method} {path}: connection closed before the response head");
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if !status.starts_with('2') {
        bail!("{method} {path}: HTTP {status}");
    }
    let body_end = raw.len().min(head_end + length);
    Ok(String::from_utf8_lossy(&raw[head_end..body_end]).into_owned())
}

/// The browser's console messages (chromedriver's `se/log` endpoint).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

/// One browser session on the Journeyboard app. Elements are found by their `data-testid`.
pub struct BoardPage {
    /// The underlying WebDriver client, for anything the helpers do not cover.
    pub client: Client,
}

impl BoardPage {
    /// Navigates to `url` (and waits for the page's load event).
    pub async fn open(&self, url: &str) -> Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("open {url}"))
    }

    /// The first element with `data-testid="id"`; fails if there is none.
    pub async fn by_testid(&self, id: &str) -> Result<Element> {
        self.client
            .find(Locator::Css(&testid_selector(id)))
            .await
            .with_context(|| format!("no element [data-testid={id:?}]"))
    }

    /// Every element with `data-testid="id"`, in document order (maybe none).
    pub async fn all_by_testid(&self, id: &str) -> Result<Vec<Element>> {
        self.client
            .find_all(Locator::Css(&testid_selector(id)))
            .await
            .with_context(|| format!("find [data-testid={id:?}]"))
    }

    /// Waits until an element with `data-testid="id"` exists and returns it.
    pub async fn wait_for_testid(&self, id: &str, timeout: Duration) -> Result<Element> {
        let mut found = None;
        self.wait_until(&format!("[data-testid={id:?}]"), timeout, async |page| {
            found = page.all_by_testid(id).await?.into_iter().next();
            Ok(found.is_some())
        })
        .await?;
        found.ok_or_else(|| anyhow!("[data-testid={id:?}] vanished"))
    }

    /// Polls `condition` every 50 ms until it returns `Ok(true)`. An `Err` counts as "not
    /// yet" (an element may be replaced while the app re-renders). On timeout, fails naming
    /// `what`, the last error, the browser console, and a screenshot it saves.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut condition: impl AsyncFnMut(&BoardPage) -> Result<bool>,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        loop {
            match condition(self).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => last_error = Some(e),
            }
            if Instant::now() > deadline {
                let shot = self
                    .screenshot(&format!("timeout-{}", file_name(what)))
                    .await;
                let console = self.console_log().await.unwrap_or_default();
                let mut message = format!("timed out after {timeout:?} waiting for {what}");
                if let Some(e) = last_error {
                    message += &format!("\nlast error: {e:#}");
                }
                match shot {
                    Ok(path) => message += &format!("\nscreenshot: {}", path.display()),
                    Err(e) => message += &format!("\nno screenshot: {e:#}"),
                }
                if !console.is_empty() {
                    message += &format!("\nbrowser console:\n  {}", console.join("\n  "));
                }
                bail!(message);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the wasm app has rendered: the page shows "Journeyboard" and the app says
    /// it is mounted (`window.__journeyboard_ready === true`) or its root
    /// (`[data-testid=app]`) is there.
    pub async fn wait_for_app(&self, timeout: Duration) -> Result<()> {
        const RENDERED: &str = "return document.body !== null \
            && document.body.innerText.includes('Journeyboard') \
            && (window.__journeyboard_ready === true \
                || document.querySelector('[data-testid=app]') !== null);";
        self.wait_until("the app to render", timeout, async |page| {
            Ok(page.script(RENDERED).await? == Value::Bool(true))
        })
        .await
    }

    /// Runs `js` (a function body: `return ...` gives the result) in the page.
    pub async fn script(&self, js: &str) -> Result<Value> {
        self.client
            .execute(js, Vec::new())
            .await
            .with_context(|| format!("run script {js:?}"))
    }

    /// Saves a PNG of the viewport as `target/e2e-screenshots/NAME.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = self
            .client
            .screenshot()
            .await
            .context("take a screenshot")?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let path = dir.join(format!("{}.png", name.trim_end_matches(".png")));
        std::fs::write(&path, png).with_context(|| format!("write {}", path.display()))?;
        Ok(path)
    }

    /// The browser console's messages so far ("LEVEL message"), oldest first; each call
    /// returns only what came since the last.
    pub async fn console_log(&self) -> Result<Vec<String>> {
        let entries = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .context("read the browser console")?;
        Ok(entries
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["level"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Ends the session (Chromium quits). Sessions not closed end when the [`Browser`] drops.
    pub async fn close(self) -> Result<()> {
        self.client.close().await.context("close the session")
    }
}

fn testid_selector(id: &str) -> String {
    format!(
        "[data-testid=\"{}\"]",
        id.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

/// `what` made safe as a file name.
fn file_name(what: &str) -> String {
    let name: String = what
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}
