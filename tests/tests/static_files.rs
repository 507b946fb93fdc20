//! Static files: the client bundle's precompressed `.gz` copies are sent to clients that
//! accept gzip (and only to them), and every static response says `Cache-Control: no-cache`
//! so a rebuilt client is picked up on reload. Uses its own static directory, so it does not
//! depend on the client having been built.

use journeyboard_server::store::{MemoryStore, Store};
use journeyboard_server::{AppState, Config};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const JS: &[u8] = b"export default function init() {}\n";
const JS_GZ: &[u8] = b"\x1f\x8b pretend this is gzip";

struct Response {
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn status(&self) -> &str {
        self.head.split_whitespace().nth(1).unwrap_or("")
    }
}

async fn get(addr: SocketAddr, path: &str, extra_headers: &str) -> Response {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra_headers}\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    Response {
        head: String::from_utf8_lossy(&raw[..split]).into_owned(),
        body: raw[split + 4..].to_vec(),
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn the_bundle_is_sent_precompressed_and_never_cached_stale() {
    let static_dir = journeyboard_tests::temp_dir("static");
    write(
        &static_dir.join("index.html"),
        b"<!doctype html><title>JB</title>",
    );
    write(&static_dir.join("pkg/journeyboard_client.js"), JS);
    write(&static_dir.join("pkg/journeyboard_client.js.gz"), JS_GZ);
    write(&static_dir.join("style.css"), b"body {}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::new(addr, static_dir.join("data"));
    config.static_dir = static_dir.clone();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let state = AppState::new(config, store);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(journeyboard_server::run(listener, state, async {
        let _ = stopped.await;
    }));

    let gzipped = get(
        addr,
        "/pkg/journeyboard_client.js",
        "Accept-Encoding: gzip, br\r\n",
    )
    .await;
    assert_eq!(gzipped.status(), "200", "{}", gzipped.head);
    assert_eq!(
        gzipped.header("content-encoding"),
        Some("gzip"),
        "{}",
        gzipped.head
    );
    assert_eq!(gzipped.body, JS_GZ);
    assert!(
        gzipped
            .header("content-type")
            .unwrap_or("")
            .contains("javascript"),
        "{}",
        gzipped.head
    );
    assert_eq!(gzipped.header("cache-control"), Some("no-cache"));
    assert_eq!(gzipped.header("vary"), Some("accept-encoding"));

    let plain = get(addr, "/pkg/journeyboard_client.js", "").await;
    assert_eq!(plain.status(), "200", "{}", plain.head);
    assert_eq!(plain.header("content-encoding"), None, "{}", plain.head);
    assert_eq!(plain.body, JS);
    assert_eq!(plain.header("cache-control"), Some("no-cache"));

    // Files without a .gz copy are sent as they are, even to clients that accept gzip.
    let css = get(addr, "/style.css", "Accept-Encoding: gzip\r\n").await;
    assert_eq!(css.status(), "200", "{}", css.head);
    assert_eq!(css.header("content-encoding"), None);
    assert_eq!(css.body, b"body {}");

    for page in ["/", "/b/some-board"] {
        let index = get(addr, page, "").await;
        assert_eq!(index.status(), "200", "{page}: {}", index.head);
        assert_eq!(index.header("cache-control"), Some("no-cache"), "{page}");
        assert!(String::from_utf8_lossy(&index.body).contains("<title>JB</title>"));
    }

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&static_dir);
}
