//! The HTTP application: shared state, the router, static files, and `run`, which serves a
//! bound listener until a shutdown signal and then closes rooms and flushes the store.

use crate::config::Config;
use crate::room::Rooms;
use crate::store::Store;
use crate::{api, ws};
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{any, get, post};
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::{SetResponseHeader, SetResponseHeaderLayer};

/// How long shutdown waits for open WebSockets to send their close frames.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub rooms: Arc<Rooms>,
    /// Flips to true at shutdown; every WebSocket task watches it and closes with 1001.
    pub shutdown: watch::Sender<bool>,
    /// One clone per open WebSocket; shutdown waits for the count to drop back to one.
    pub connections: Arc<()>,
    /// Held while a board's metadata is read, changed and written back
    /// ([`api::update_board_meta`]), so that two writers never overwrite each other's change.
    /// One lock for all boards: such writes (token rotations) are rare and short.
    pub meta_writes: Arc<std::sync::Mutex<()>>,
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>) -> Arc<Self> {
        let rooms = Rooms::with_doc_limit(
            Arc::clone(&store),
            config.idle_unload,
            config.limits.doc_bytes,
        );
        Arc::new(AppState {
            config,
            store,
            rooms,
            shutdown: watch::channel(false).0,
            connections: Arc::new(()),
            meta_writes: Arc::default(),
        })
    }
}

/// The routes. Board pages (`/b/{id}`) all serve the client app's index.html; the app reads
/// the board id from the path and the token from the fragment.
///
/// Static files are sent with `Cache-Control: no-cache` (browsers revalidate, a 304 when
/// unchanged), so a rebuilt client is picked up on reload. Where `FILE.gz` exists beside a
/// file (the client bundle in `pkg/`, see `cargo xtask build-client`), clients that accept
/// gzip get it instead.
pub fn router(state: Arc<AppState>) -> Router {
    let static_dir = &state.config.static_dir;
    let index = no_cache(ServeFile::new(static_dir.join("index.html")));
    // The same URL may be answered gzipped or not: caches must key on Accept-Encoding.
    let files = SetResponseHeader::appending(
        no_cache(ServeDir::new(static_dir).precompressed_gzip()),
        header::VARY,
        HeaderValue::from_static("accept-encoding"),
    );
    let routes = Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route("/api/boards", post(api::create_board))
        .route("/api/boards/{id}", get(api::board_summary))
        .route(
            "/api/boards/{id}/{file}",
            get(crate::export::handler::export),
        )
        .route(
            "/api/boards/{id}/snapshots",
            get(crate::snapshots::list).post(crate::snapshots::create),
        )
        .route(
            "/api/boards/{id}/snapshots/{sid}/restore",
            post(crate::snapshots::restore),
        )
        .route(
            "/api/boards/{id}/snapshots/{sid}/derive",
            post(crate::snapshots::derive),
        )
        .route(
            "/api/boards/{id}/snapshots/{sid}/{file}",
            get(crate::snapshots::export),
        )
        .route(
            "/api/boards/import",
            post(crate::export::handler::import).layer(axum::extract::DefaultBodyLimit::max(
                crate::export::handler::MAX_IMPORT_BYTES,
            )),
        )
        .route("/ws/{id}", get(ws::upgrade))
        .route("/ws/{id}/{room}", get(ws::upgrade))
        .route("/api/boards/{id}/rotate", post(api::rotate_tokens))
        .route("/api/admin/backup", get(crate::backup::download))
        // Any other API path (a typo, a trailing slash) is a JSON 404, not the static files'.
        .route(
            "/api/{*rest}",
            any(|| async { crate::error::AppError::not_found("no such API endpoint") }),
        )
        .route_service("/b/{id}", index)
        .fallback_service(files)
        .method_not_allowed_fallback(|| async {
            crate::error::AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        });
    security_headers(routes, &state.config).with_state(state)
}

/// Headers on every response. Board links carry their token in the fragment: no page leaks
/// its URL onward (`Referrer-Policy`), and no other site frames a board (`frame-ancestors`).
/// The content security policy fits the wasm app: its scripts and styles come from this
/// server only (`static/boot.js` starts it; no inline script), `'wasm-unsafe-eval'` lets it
/// compile its WebAssembly module, and it connects to this server's API and WebSockets.
fn security_headers(router: Router<Arc<AppState>>, config: &Config) -> Router<Arc<AppState>> {
    let csp = HeaderValue::from_str(&content_security_policy(config)).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; frame-ancestors 'none'",
        )
    });
    let set = |name, value| SetResponseHeaderLayer::overriding(name, value);
    router
        .layer(set(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(set(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(set(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(set(header::CONTENT_SECURITY_POLICY, csp))
}

/// The `Content-Security-Policy` of every response (see `security_headers`).
pub fn content_security_policy(config: &Config) -> String {
    let origin = config.public_origin();
    let ws_origin = origin
        .strip_prefix("https://")
        .map(|host| format!("wss://{host}"))
        .or_else(|| {
            origin
                .strip_prefix("http://")
                .map(|host| format!("ws://{host}"))
        })
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
         connect-src 'self' {ws_origin}; img-src 'self' data:; style-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

fn no_cache<S>(service: S) -> SetResponseHeader<S, HeaderValue> {
    SetResponseHeader::overriding(
        service,
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    )
}

/// Serves `listener` until `shutdown` resolves, then closes every connection with 1001,
/// snapshots loaded rooms and flushes the store.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(Arc::clone(&state));
    let http = crate::serve::serve(listener, app, &state.config.limits, shutdown).await;
    tracing::info!("shutting down");
    let _ = state.shutdown.send(true);
    // A request that never ends (a body announced and never sent) must not hold back the
    // final snapshot: HTTP connections get the grace WebSockets get, then are left behind.
    if tokio::time::timeout(SHUTDOWN_GRACE, http.close())
        .await
        .is_err()
    {
        tracing::warn!(
            "HTTP requests still open {}s after shutdown began: not waiting for them",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    // WebSocket tasks were told to close; let them finish before the final snapshot.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while Arc::strong_count(&state.connections) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    state.rooms.shutdown().await;
    Ok(())
}
