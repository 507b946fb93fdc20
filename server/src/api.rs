//! The boards HTTP API: create a board, read its summary.

use crate::access;
use crate::app::AppState;
use crate::auth::{self, hash_token, BoardTokens};
use crate::error::AppError;
use crate::error::Query;
use crate::store::BoardMeta;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use journeyboard_shared::schema::new_board_doc;
use journeyboard_shared::{BoardSummary, Role, Template};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;
use yrs::{ReadTxn, StateVector, Transact};

/// Longest board title accepted, in characters: a title is a headline, not a document.
pub const MAX_TITLE_CHARS: usize = 200;

/// `POST /api/boards` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBoard {
    #[serde(default)]
    pub title: String,
    pub template: String,
}

/// `POST /api/boards` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatedBoard {
    pub id: String,
    pub facilitator_token: String,
    pub participant_token: String,
    pub viewer_token: String,
    pub links: Links,
}

/// The URLs a person opens in a browser, one per role. The token travels in the fragment so
/// it never reaches server logs or a Referer header.
#[derive(Debug, Serialize, Deserialize)]
pub struct Links {
    pub facilitator: String,
    pub participant: String,
    pub viewer: String,
}

/// `?t=TOKEN`
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub t: Option<String>,
}

pub async fn create_board(
    State(state): State<Arc<AppState>>,
    body: Result<Json<CreateBoard>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedBoard>), AppError> {
    let Json(body) = body.map_err(body_error)?;
    let template: Template = body
        .template
        .parse()
        .map_err(|e| AppError::bad_request(format!("{e}")))?;
    let title = body.title.trim();
    let title = if title.is_empty() {
        "Untitled journey"
    } else {
        title
    };
    check_title(title)?;

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let doc = new_board_doc(title, template, now_ms as f64);
    let created = store_new_board(&state, &doc, title, template.as_str()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// A request body that could not be read: 400 for bad JSON, 413 for a body over the limit,
/// 415 without a JSON content type; the message says which.
pub fn body_error(e: JsonRejection) -> AppError {
    let status = match e.status() {
        s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => s,
        _ => StatusCode::BAD_REQUEST,
    };
    AppError::new(status, format!("invalid request body: {}", e.body_text()))
}

/// A board title is at most [`MAX_TITLE_CHARS`] characters and has no control characters
/// (a NUL or an escape code shows as garbage in every export and in the board's header).
pub fn check_title(title: &str) -> Result<(), AppError> {
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(AppError::bad_request(format!(
            "title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    if title.chars().any(char::is_control) {
        return Err(AppError::bad_request("title contains control characters"));
    }
    Ok(())
}

/// `POST /api/boards/{id}/rotate` body: which links to replace. Default: participant and
/// viewer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    #[serde(default = "default_rotated")]
    pub roles: Vec<Role>,
}

fn default_rotated() -> Vec<Role> {
    vec![Role::Participant, Role::Viewer]
}

/// `POST /api/boards/{id}/rotate` answer: the new token and link of each rotated role.
#[derive(Debug, Serialize, Deserialize, Default)]
pub struct Rotated {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facilitator_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer_token: Option<String>,
    pub links: std::collections::BTreeMap<String, String>,
}

/// `POST /api/boards/{id}/rotate?t=FACILITATOR_TOKEN`: replaces the tokens of the given
/// roles. The old links stop working at once, and live connections that joined with them
/// (the board and its private rooms) are closed with 1008.
pub async fn rotate_tokens(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
    body: Result<Json<Rotate>, JsonRejection>,
) -> Result<Json<Rotated>, AppError> {
    let access = access::resolve(&state, &id, query.t.as_deref()).await?;
    if access.role != Role::Facilitator {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "only a facilitator may rotate links",
        ));
    }
    let Json(Rotate { roles }) = body.map_err(body_error)?;
    if roles.is_empty() {
        return Err(AppError::bad_request("roles is empty"));
    }
    let mut rotated = Rotated::default();
    let mut hashes = Vec::new();
    for role in &roles {
        let token = auth::new_token().map_err(AppError::internal)?;
        hashes.push((*role, hash_token(&token)));
        let slot = match role {
            Role::Facilitator => &mut rotated.facilitator_token,
            Role::Participant => &mut rotated.participant_token,
            Role::Viewer => &mut rotated.viewer_token,
        };
        rotated.links.insert(
            role.to_string(),
            format!("{}/b/{}#t={token}", state.config.public_url, access.id),
        );
        *slot = Some(token);
    }
    let presented = query.t.unwrap_or_default();
    let board = access.id;
    update_board_meta(&state, board, move |meta| {
        // A rotation that ended while this one waited may have replaced the caller's token.
        if auth::role_for(meta, &presented) != Some(Role::Facilitator) {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                "this token does not open this board",
            ));
        }
        for (role, hash) in hashes {
            *token_hash(meta, role) = hash;
        }
        Ok(())
    })
    .await?;
    // After the new hashes are stored: a connection that joins from now on was checked
    // against them (ws/mod.rs checks again after joining).
    let closed = state
        .rooms
        .close_peers(board, &roles, crate::room::CloseReason::REVOKED);
    tracing::info!(board = %board, ?roles, closed, "links rotated");
    Ok(Json(rotated))
}

/// The stored hash of `role`'s token.
fn token_hash(meta: &mut BoardMeta, role: Role) -> &mut String {
    match role {
        Role::Facilitator => &mut meta.facilitator_hash,
        Role::Participant => &mut meta.participant_hash,
        Role::Viewer => &mut meta.viewer_hash,
    }
}

/// Changes board `board`'s stored metadata with `change`, writes it back and flushes; the
/// metadata as written is returned. Every writer goes through here: each re-reads the
/// metadata under [`AppState::meta_writes`], so none writes back a stale copy over another's
/// change (two rotations of different roles at once both take effect). The lock is taken in
/// the blocking task, not across an `.await`: a request dropped half-way (its client gone)
/// must not release it while its write still runs.
pub async fn update_board_meta(
    state: &AppState,
    board: Uuid,
    change: impl FnOnce(&mut BoardMeta) -> Result<(), AppError> + Send + 'static,
) -> Result<BoardMeta, AppError> {
    let store = Arc::clone(&state.store);
    let lock = Arc::clone(&state.meta_writes);
    tokio::task::spawn_blocking(move || {
        // The lock guards no data, so a panic while it was held left nothing half-changed.
        let _writing = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut meta = store
            .board_meta(board)?
            .ok_or_else(|| AppError::not_found("no such board"))?;
        change(&mut meta)?;
        store.put_board_meta(board, &meta)?;
        store.flush()?;
        Ok(meta)
    })
    .await
    .map_err(AppError::internal)?
}

/// Stores a new board whose document is `doc` and returns its id, tokens and links. Used for
/// new boards, imports, and boards made from snapshots.
pub async fn store_new_board(
    state: &AppState,
    doc: &yrs::Doc,
    title: &str,
    template: &str,
) -> Result<CreatedBoard, AppError> {
    let id = Uuid::new_v4();
    let tokens = BoardTokens::generate().map_err(AppError::internal)?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let snapshot = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let meta = BoardMeta {
        title: title.to_string(),
        template: template.to_string(),
        created_at: now_ms,
        facilitator_hash: hash_token(&tokens.facilitator),
        participant_hash: hash_token(&tokens.participant),
        viewer_hash: hash_token(&tokens.viewer),
    };
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.create_board(id, &meta, &snapshot))
        .await
        .map_err(AppError::internal)??;
    tracing::info!(board = %id, template, "board created");

    let link = |token: &str| format!("{}/b/{id}#t={token}", state.config.public_url);
    Ok(CreatedBoard {
        id: id.to_string(),
        links: Links {
            facilitator: link(&tokens.facilitator),
            participant: link(&tokens.participant),
            viewer: link(&tokens.viewer),
        },
        facilitator_token: tokens.facilitator,
        participant_token: tokens.participant,
        viewer_token: tokens.viewer,
    })
}

/// `GET /api/boards/{id}` answer: the summary, what the presented token may do, and the
/// server's clock (ms since the epoch), so that clients can correct theirs for the shared
/// countdown (`board.timer_deadline` is in server time).
#[derive(Debug, Serialize)]
pub struct SummaryResponse {
    #[serde(flatten)]
    pub summary: BoardSummary,
    pub role: Role,
    pub server_time: u64,
}

pub async fn board_summary(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> Result<Json<SummaryResponse>, AppError> {
    let access = access::resolve(&state, &id, query.t.as_deref()).await?;
    let room = state.rooms.get(access.id).await?;
    Ok(Json(SummaryResponse {
        summary: room.summary(),
        role: access.role,
        server_time: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    }))
}
