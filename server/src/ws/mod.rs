//! The only WebSocket code: `GET /ws/{id}?t=TOKEN&u=SECRET` (the board) and
//! `GET /ws/{id}/private?t=TOKEN&u=SECRET` (the caller's private room) check the board, token
//! and secret before the upgrade, then move frames between the socket and the room.
//!
//! The y-websocket JS client appends the room name to its URL, so `new WebsocketProvider(
//! 'ws://HOST/ws', id, doc, { params: { t } })` connects here unchanged.

use crate::access::{self, BoardAccess};
use crate::app::AppState;
use crate::error::AppError;
use crate::error::Query;
use crate::limits::{RateLimiter, THROTTLE_LOG_EVERY};
use crate::room::{private_room_id, CloseReason, Joined, OutboxReceiver, Outgoing, Room, RoomKind};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use handshake::{Handshake, Socket};
use journeyboard_shared::identity::public_id;
use journeyboard_shared::Role;
use send::{within_send_timeout, write_queued};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

mod handshake;
mod send;
mod socket;

// For the bench's `relay-floor`, which reads and frames as the server does.
pub use socket::{header as frame_header, ReadHalf, OPCODE_BINARY};

/// Largest message a client may send. A frame carries one update or a sync step 2 with a
/// client's offline edits; 4 MiB holds thousands of notes. Anything larger is refused with
/// close code 1009.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The transport's own cap, above ours so that an oversized message still reaches our check
/// and earns a clean 1009; beyond it the transport drops the connection outright.
const TRANSPORT_MAX_MESSAGE_BYTES: usize = 4 * MAX_MESSAGE_BYTES;

/// How often the server pings an idle connection, and how long without any frame (a pong
/// included) before it counts as dead and its presence is removed. Catches peers that vanish
/// without a TCP close (sleeping laptops, dropped Wi-Fi).
const PING_EVERY: Duration = Duration::from_secs(15);
const DEAD_AFTER: Duration = Duration::from_secs(45);

/// Read buffer per connection. tungstenite's default (128 KiB) is zero-filled on first read,
/// so it costs 128 KiB of resident memory per connection; client frames are small (a large
/// one still arrives whole: the buffer grows for it).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// `/ws/{id}` (the board) or `/ws/{id}/private` (the caller's private room).
#[derive(Debug, Deserialize)]
pub struct WsPath {
    id: String,
    #[serde(default)]
    room: Option<String>,
}

/// `?t=TOKEN&u=SECRET`. The secret identifies the person (docs/SCHEMA.md, "Identity"); like
/// the token it is never logged.
#[derive(Deserialize)]
pub struct WsQuery {
    t: Option<String>,
    u: Option<String>,
}

impl WsQuery {
    /// The caller's public id; "" for an anonymous connection.
    fn public_id(&self) -> String {
        self.u
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(public_id)
            .unwrap_or_default()
    }
}

pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    Path(path): Path<WsPath>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    handshake: Handshake,
) -> Result<Response, AppError> {
    check_origin(&state, &headers)?;
    let limits = state.config.limits;
    // One clone of `connections` per open WebSocket (see `AppState`); taken now, so a refused
    // or failed upgrade gives it back when this handler's closure is dropped.
    let connection = Arc::clone(&state.connections);
    let open = Arc::strong_count(&connection).saturating_sub(2);
    if open >= limits.connections {
        tracing::warn!(
            open,
            limit = limits.connections,
            "refused a connection: server connection limit"
        );
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server has too many connections, try again later",
        ));
    }
    let access = access::resolve(&state, &path.id, query.t.as_deref()).await?;
    // Load the room before upgrading: a client's sync is answered only from a loaded board.
    let (room, joined) = join(&state, &access, path.room.as_deref(), &query).await?;
    if room.number_of_peers() > limits.connections_per_board {
        state.rooms.leave(&room, joined.conn);
        tracing::warn!(board = %access.id, limit = limits.connections_per_board, "refused a connection: board connection limit");
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this board has too many connections, try again later",
        ));
    }
    // A rotation of this token between the check above and the join would have missed this
    // peer: check again now that it is in the room (a rotation after this closes it).
    if let Err(e) = access::resolve(&state, &path.id, query.t.as_deref()).await {
        state.rooms.leave(&room, joined.conn);
        return Err(e);
    }
    let private = matches!(room.kind(), RoomKind::Private { .. });
    tracing::info!(board = %access.id, conn = joined.conn, role = %access.role, private, "client connected");
    let rooms = Arc::clone(&state.rooms);
    let shutdown = state.shutdown.subscribe();
    let config = WebSocketConfig::default()
        .max_message_size(Some(TRANSPORT_MAX_MESSAGE_BYTES))
        .max_frame_size(Some(TRANSPORT_MAX_MESSAGE_BYTES))
        .read_buffer_size(READ_BUFFER_BYTES);
    let failed = {
        let (rooms, room) = (Arc::clone(&rooms), Arc::clone(&room));
        let conn = joined.conn;
        move |e| {
            tracing::warn!("websocket upgrade failed: {e}");
            rooms.leave(&room, conn);
        }
    };
    Ok(handshake.accept(config, failed, move |socket| async move {
        let _connection = connection;
        let conn = joined.conn;
        let limiter = RateLimiter::new(limits.messages_per_second, limits.message_burst);
        let close = serve(socket, &room, joined.conn, joined.outgoing, shutdown, limiter).await;
        tracing::info!(board = %room.id(), conn, code = close.code, reason = close.reason, "client disconnected");
        rooms.leave(&room, conn);
    }))
}

/// Runs one connection until it closes; returns why it closed. One task reads the socket
/// and writes what the room queued (the room writes most frames itself, see
/// `room::outbox`), pings and answers pings, and closes.
async fn serve(
    socket: Socket,
    room: &Arc<Room>,
    conn: crate::room::ConnId,
    outgoing: OutboxReceiver,
    mut shutdown: watch::Receiver<bool>,
    mut limiter: RateLimiter,
) -> CloseReason {
    let Socket { mut reader, writer } = socket;
    outgoing.attach(writer.clone());
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    // Over the message rate, the socket is not read until this moment (see `limits`).
    let mut throttled: Option<tokio::time::Instant> = None;
    let mut throttle_logged: Option<tokio::time::Instant> = None;
    // Made once: made anew on each turn of the loop, it would join and leave the channel's
    // list of waiters on every wake-up.
    let mut shutting_down = std::pin::pin!(shutdown.changed());
    let reason = loop {
        tokio::select! {
            // Queued frames first. Reads are not starved: the queue empties whenever the
            // client keeps up, and one that cannot is dropped.
            biased;
            queued = outgoing.recv() => match queued {
                // The room's close is written with what was queued before it. A client that
                // does not take the frames within SEND_TIMEOUT has stalled: drop it, it
                // reconnects and resyncs.
                Some(item) => match within_send_timeout(write_queued(&writer, item, &outgoing)).await {
                    Ok(None) => {}
                    Ok(Some(closed)) => return closed,
                    Err(reason) => return reason,
                },
                // The room dropped this peer: it stalled and its queue overflowed.
                None => break CloseReason::TOO_SLOW,
            },
            _ = sleep_until(throttled), if throttled.is_some() => throttled = None,
            incoming = reader.next(), if throttled.is_none() => {
                last_heard = tokio::time::Instant::now();
                match incoming {
                    Some(Ok(Message::Binary(data))) => {
                        if data.len() > MAX_MESSAGE_BYTES {
                            tracing::warn!(board = %room.id(), conn, bytes = data.len(), "message over the size limit");
                            break CloseReason::TOO_BIG;
                        }
                        let messages = match room.receive(conn, &data) {
                            Ok(messages) => messages,
                            Err(e) => {
                                tracing::warn!(board = %room.id(), conn, "refused a frame: {e}");
                                break e.close_reason();
                            }
                        };
                        // Every message of the frame counts: the next frame waits for them.
                        let wait = limiter.take(messages);
                        if !wait.is_zero() {
                            let now = tokio::time::Instant::now();
                            throttled = Some(now + wait);
                            if throttle_logged.is_none_or(|at| now.duration_since(at) >= THROTTLE_LOG_EVERY) {
                                throttle_logged = Some(now);
                                tracing::warn!(board = %room.id(), conn, "over the message rate limit: reading this connection more slowly");
                            }
                        }
                    }
                    Some(Ok(Message::Text(_))) => {
                        tracing::warn!(board = %room.id(), conn, "text frame refused");
                        break CloseReason::TEXT_FRAME;
                    }
                    Some(Ok(Message::Ping(payload))) => outgoing.push(Outgoing::Pong(payload)),
                    Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                    // The close is echoed (RFC 6455 5.5.1); tungstenite has already turned a
                    // code not allowed on the wire into 1002.
                    Some(Ok(Message::Close(Some(frame)))) => break CloseReason { code: frame.code.into(), reason: "client closed" },
                    Some(Ok(Message::Close(None))) | None => break CloseReason { code: 1000, reason: "client closed" },
                    Some(Err(e)) => {
                        tracing::warn!(board = %room.id(), conn, "socket error: {e}");
                        match close_for(&e) {
                            Some(reason) => break reason,
                            None => return CloseReason { code: 1006, reason: "socket error" },
                        }
                    }
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    return CloseReason { code: 1006, reason: "no answer to pings" };
                }
                outgoing.push(Outgoing::Ping);
            },
            _ = &mut shutting_down => break CloseReason::GOING_AWAY,
        }
    };
    let _ = within_send_timeout(send::close(&writer, &outgoing, reason)).await;
    reason
}

/// The close a peer gets for a frame tungstenite refused (RFC 6455 7.4.1), or `None` when
/// the socket itself failed and no close frame can go out.
fn close_for(error: &tokio_tungstenite::tungstenite::Error) -> Option<CloseReason> {
    use tokio_tungstenite::tungstenite::error::{Error, ProtocolError};
    match error {
        // The peer is gone: nothing to close.
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        Error::Protocol(_) | Error::AttackAttempt => Some(CloseReason::WEBSOCKET_PROTOCOL),
        Error::Utf8(_) => Some(CloseReason::NOT_UTF8),
        Error::Capacity(_) => Some(CloseReason::TOO_BIG),
        _ => None,
    }
}

/// Sleeps until `at` (never resolves for `None`).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Refuses (403) a browser page from another origin: another site must not open a board
/// with a link its user holds. Requests without `Origin` (not from a browser) pass.
fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin
        .to_str()
        .unwrap_or("")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    let allowed = if state.config.allowed_origins.is_empty() {
        let same_origin = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|host| {
                let host = host.to_ascii_lowercase();
                origin == format!("http://{host}") || origin == format!("https://{host}")
            });
        same_origin || origin == state.config.public_origin()
    } else {
        state.config.allowed_origins.contains(&origin)
    };
    if allowed {
        return Ok(());
    }
    tracing::warn!(origin = %origin, "refused a cross-origin WebSocket");
    Err(AppError::new(
        StatusCode::FORBIDDEN,
        "this page's origin may not open a board",
    ))
}

/// Joins the board's room, or with `room` = "private" the caller's private room: a
/// participant's or facilitator's, identified by `u` (required), never a viewer's.
async fn join(
    state: &AppState,
    access: &BoardAccess,
    room: Option<&str>,
    query: &WsQuery,
) -> Result<(Arc<Room>, Joined), AppError> {
    let me = query.public_id();
    match room {
        None => Ok(state
            .rooms
            .join_as(access.id, RoomKind::Board, access.role, me)
            .await?),
        Some("private") => {
            if access.role == Role::Viewer {
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    "viewers have no private room",
                ));
            }
            if me.is_empty() {
                return Err(AppError::bad_request(
                    "a private room needs the person's secret (&u=...)",
                ));
            }
            let (board, id) = (access.id, private_room_id(access.id, &me));
            let store = state.store.clone();
            let owner = me.clone();
            let limit = state.config.limits.private_rooms_per_board;
            tokio::task::spawn_blocking(move || {
                let rooms = store.private_rooms(board)?;
                let known = rooms.iter().any(|(_, room)| *room == id);
                if !known && rooms.len() >= limit {
                    tracing::warn!(board = %board, limit, "refused a private room: board private-room limit");
                    return Err(AppError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "this board has too many private rooms",
                    ));
                }
                store.add_private_room(board, &owner, id)?;
                Ok(())
            })
            .await
            .map_err(AppError::internal)??;
            let kind = RoomKind::Private {
                board,
                owner: me.clone(),
            };
            Ok(state.rooms.join_as(id, kind, access.role, me).await?)
        }
        Some(_) => Err(AppError::not_found("no such room")),
    }
}
