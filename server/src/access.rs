//! Resolving a request to a board and the role its token grants: 404 for an unknown board,
//! 401 without a token, 403 with a wrong one. Used by the API and the WebSocket route alike.

use crate::app::AppState;
use crate::auth;
use crate::error::AppError;
use crate::store::BoardMeta;
use axum::http::StatusCode;
use journeyboard_shared::Role;
use uuid::Uuid;

/// A board the caller may access, with the caller's role.
pub struct BoardAccess {
    pub id: Uuid,
    pub meta: BoardMeta,
    pub role: Role,
}

/// Checks that board `id` exists and that `token` opens it.
pub async fn resolve(
    state: &AppState,
    id: &str,
    token: Option<&str>,
) -> Result<BoardAccess, AppError> {
    let id = Uuid::parse_str(id).map_err(|_| AppError::not_found("no such board"))?;
    let store = state.store.clone();
    let meta = tokio::task::spawn_blocking(move || store.board_meta(id))
        .await
        .map_err(AppError::internal)??
        .ok_or_else(|| AppError::not_found("no such board"))?;
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "a board token is required (?t=...)",
        )
    })?;
    let role = auth::role_for(&meta, token).ok_or_else(|| {
        AppError::new(StatusCode::FORBIDDEN, "this token does not open this board")
    })?;
    Ok(BoardAccess { id, meta, role })
}
