//! Named snapshots of a board: saved by the facilitator at any time and by the server at each
//! phase change; listed, exported, restored (restoring first snapshots the state it replaces,
//! so a restore can itself be undone), and used to start a new board (a future-state map
//! from a current-state one).
//!
//! Routes (token in `?t=`):
//! - `GET  /api/boards/{id}/snapshots` (any role): the list, newest first.
//! - `POST /api/boards/{id}/snapshots` `{"name"}` (facilitator): save one now.
//! - `GET  /api/boards/{id}/snapshots/{sid}/export.{md,csv,json,svg,png}` (any role).
//! - `POST /api/boards/{id}/snapshots/{sid}/restore` (facilitator).
//! - `POST /api/boards/{id}/snapshots/{sid}/derive` `{"template", "title"}` (facilitator):
//!   a new board from the snapshot.

use crate::access;
use crate::api::{CreatedBoard, TokenQuery, MAX_TITLE_CHARS};
use crate::app::AppState;
use crate::error::AppError;
use crate::error::Query;
use crate::export::handler::{board_from_update, download, requested_format};
use crate::room::Room;
use crate::store::{SnapshotMeta, Store, StoreError};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use journeyboard_shared::schema::BoardDoc;
use journeyboard_shared::{Role, Template};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;
use yrs::{Doc, Transact};

/// Longest snapshot name, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// Saves a snapshot of a loaded room's current state (blocking: call from `spawn_blocking`).
pub fn save(
    store: &dyn Store,
    room: &Room,
    name: &str,
    auto: bool,
) -> Result<SnapshotMeta, StoreError> {
    let update = room.encode_state();
    let board = board_from_update(&update).map_err(|e| StoreError::Corrupt(e.message))?;
    let meta = SnapshotMeta {
        // Time-ordered (v7): snapshots saved in the same millisecond still list in order.
        id: Uuid::now_v7().to_string(),
        name: name.chars().take(MAX_NAME_CHARS).collect(),
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        auto,
        phase: board.phase.clone(),
        notes: board.notes.len(),
    };
    store.put_snapshot(room.id(), &meta, &update)?;
    tracing::info!(board = %room.id(), snapshot = %meta.id, auto, "snapshot saved");
    Ok(meta)
}

fn require_facilitator(role: Role) -> Result<(), AppError> {
    if role == Role::Facilitator {
        Ok(())
    } else {
        Err(AppError::new(
            StatusCode::FORBIDDEN,
            "only a facilitator may do this",
        ))
    }
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> Result<Json<Vec<SnapshotMeta>>, AppError> {
    let access = access::resolve(&state, &id, query.t.as_deref()).await?;
    let store = state.store.clone();
    let mut list = tokio::task::spawn_blocking(move || store.list_snapshots(access.id))
        .await
        .map_err(AppError::internal)??;
    list.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    Ok(Json(list))
}

/// `POST .../snapshots` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSnapshot {
    pub name: String,
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
    body: Result<Json<NewSnapshot>, JsonRejection>,
) -> Result<(StatusCode, Json<SnapshotMeta>), AppError> {
    let access = access::resolve(&state, &id, query.t.as_deref()).await?;
    require_facilitator(access.role)?;
    let Json(body) = body.map_err(crate::api::body_error)?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::bad_request(format!(
            "a snapshot needs a name of 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    let room = state.rooms.get(access.id).await?;
    let meta = tokio::task::spawn_blocking(move || save(state.store.as_ref(), &room, &name, false))
        .await
        .map_err(AppError::internal)??;
    Ok((StatusCode::CREATED, Json(meta)))
}

/// Loads one snapshot of an accessible board.
async fn load(
    state: &Arc<AppState>,
    board: Uuid,
    sid: &str,
) -> Result<(SnapshotMeta, Vec<u8>), AppError> {
    let sid = Uuid::parse_str(sid).map_err(|_| AppError::not_found("no such snapshot"))?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.snapshot(board, sid))
        .await
        .map_err(AppError::internal)??
        .ok_or_else(|| AppError::not_found("no such snapshot"))
}

pub async fn export(
    State(state): State<Arc<AppState>>,
    Path((id, sid, file)): Path<(String, String, String)>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let format = requested_format(&file)?;
    let access = access::resolve(&state, &id, query.t.as_deref()).await?;
    let (meta, update) = load(&state, access.id, &sid).await?;
    download(update, format, meta.created_at as f64, Some(meta.name)).await
}

/// `POST .../restore` answer.
#[derive(Debug, serde::Serialize)]
pub struct Restored {
    pub restored: SnapshotMeta,
    /// The snapshot of the state the restore replaced: restore it to undo.
    pub previous: SnapshotMeta,
}

pub async fn restore(
    State(state): State<Arc<AppState>>,
    Path((id, sid)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
) -> Result<Json<Restored>, AppError> {
    let access = access::resolve(&state, &id, query.t.as_deref()).await?;
    require_facilitator(access.role)?;
    let (meta, update) = load(&state, access.id, &sid).await?;
    let room = state.rooms.get(access.id).await?;
    let restored = tokio::task::spawn_blocking(move || {
        let data = board_from_update(&update)?;
        let previous = save(
            state.store.as_ref(),
            &room,
            &format!("Before restoring “{}”", meta.name),
            true,
        )?;
        room.replace_board(&data).map_err(AppError::internal)?;
        tracing::info!(board = %room.id(), snapshot = %meta.id, "snapshot restored");
        Ok::<_, AppError>(Restored {
            restored: meta,
            previous,
        })
    })
    .await
    .map_err(AppError::internal)??;
    Ok(Json(restored))
}

/// The default title of a board derived from one titled `source`: "SOURCE (MAP TYPE)", with
/// the source shortened (an ellipsis at the cut) so that the whole fits [`MAX_TITLE_CHARS`]:
/// a source title at the limit must not make the server's own default too long.
fn derived_title(source: &str, label: &str) -> String {
    let suffix = format!(" ({label})");
    let room = MAX_TITLE_CHARS.saturating_sub(suffix.chars().count());
    if source.chars().count() <= room {
        return format!("{source}{suffix}");
    }
    // Whole characters, so the cut never splits one; one place is for the ellipsis.
    let kept: String = source.chars().take(room.saturating_sub(1)).collect();
    format!("{}…{suffix}", kept.trim_end())
}

/// `POST .../derive` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derive {
    pub template: String,
    #[serde(default)]
    pub title: Option<String>,
}

pub async fn derive(
    State(state): State<Arc<AppState>>,
    Path((id, sid)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
    body: Result<Json<Derive>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedBoard>), AppError> {
    let access = access::resolve(&state, &id, query.t.as_deref()).await?;
    require_facilitator(access.role)?;
    let Json(body) = body.map_err(crate::api::body_error)?;
    let template: Template = body
        .template
        .parse()
        .map_err(|e| AppError::bad_request(format!("{e}")))?;
    let (_, update) = load(&state, access.id, &sid).await?;
    let mut data = board_from_update(&update)?;
    data.template = template.as_str().to_string();
    data.title = match body
        .title
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    {
        Some(title) => title,
        None => derived_title(&data.title, template.label()),
    };
    crate::api::check_title(&data.title)?;
    // A new map starts a new workshop: first phase, no running time box or vote.
    data.phase = journeyboard_shared::Phase::Icebreaker.as_str().to_string();
    data.settings.timer_deadline = None;
    data.settings.voting_open = false;
    data.settings.walkthrough_stage = None;
    data.settings.locked = false;
    let doc = Doc::new();
    data.write_into(&BoardDoc::new(&doc), &mut doc.transact_mut());
    let created = crate::api::store_new_board(&state, &doc, &data.title, template.as_str()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_title_names_the_map_type() {
        assert_eq!(
            derived_title("Checkout", "Future state"),
            "Checkout (Future state)"
        );
    }

    #[test]
    fn a_long_source_title_is_shortened_to_fit_the_limit() {
        for source in [
            "x".repeat(MAX_TITLE_CHARS),
            "é".repeat(MAX_TITLE_CHARS),
            "🛒".repeat(MAX_TITLE_CHARS),
        ] {
            let title = derived_title(&source, "Future state");
            assert_eq!(title.chars().count(), MAX_TITLE_CHARS, "{title}");
            let kept = title.strip_suffix("… (Future state)").expect("an ellipsis");
            assert!(source.starts_with(kept), "{title}");
        }
        // Exactly at the room left: kept whole.
        let fits = "y".repeat(MAX_TITLE_CHARS - " (Future state)".len());
        assert_eq!(
            derived_title(&fits, "Future state"),
            format!("{fits} (Future state)")
        );
        // No space before the ellipsis when the cut falls after a word.
        let words = "abc ".repeat(MAX_TITLE_CHARS);
        let title = derived_title(&words, "Future state");
        assert!(title.ends_with("abc… (Future state)"), "{title}");
    }
}
