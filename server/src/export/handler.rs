//! `GET /api/boards/{id}/export.{md,csv,json,svg,png}?t=TOKEN`: the board as it is at the
//! moment of the request, in any role.

use super::{file_stem, render, Format};
use crate::access;
use crate::api::TokenQuery;
use crate::app::AppState;
use crate::error::AppError;
use crate::error::Query;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use journeyboard_shared::export::BoardData;
use journeyboard_shared::schema::BoardDoc;
use std::collections::BTreeSet;
use std::sync::Arc;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Transact, Update as YUpdate};

pub async fn export(
    State(state): State<Arc<AppState>>,
    Path((id, file)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let format = requested_format(&file)?;
    let access = access::resolve(&state, &id, query.t.as_deref()).await?;
    let room = state.rooms.get(access.id).await?;
    download(room.encode_state(), format, now_ms(), None).await
}

/// The format a file name asks for (`export.md`, ...), or a 404 naming the choices.
pub fn requested_format(file: &str) -> Result<Format, AppError> {
    file.strip_prefix("export.")
        .and_then(Format::from_extension)
        .ok_or_else(|| {
            AppError::not_found(
                "no such export; try export.md, export.csv, export.json, export.svg or export.png",
            )
        })
}

/// Renders a board (a full-state update) off the async runtime and answers it as a download
/// dated `date_ms`, its file named after the title (and `suffix`, for a snapshot).
pub async fn download(
    update: Vec<u8>,
    format: Format,
    date_ms: f64,
    suffix: Option<String>,
) -> Result<Response, AppError> {
    let (bytes, title) = tokio::task::spawn_blocking(move || {
        let board = board_from_update(&update)?;
        let participants: Vec<String> = board
            .notes
            .iter()
            .map(|n| n.author.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let date = super::csv::date_of(date_ms);
        let bytes = render(&board, format, &date, &participants).map_err(AppError::internal)?;
        let title = match suffix {
            Some(suffix) => format!("{} {suffix}", board.title),
            None => board.title,
        };
        Ok::<_, AppError>((bytes, title))
    })
    .await
    .map_err(AppError::internal)??;
    let disposition = format!(
        "attachment; filename=\"{}.{}\"",
        file_stem(&title),
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Reads a whole board out of a full-state update.
pub fn board_from_update(update: &[u8]) -> Result<BoardData, AppError> {
    let doc = Doc::new();
    let decoded = YUpdate::decode_v1(update).map_err(AppError::internal)?;
    doc.transact_mut()
        .apply_update(decoded)
        .map_err(AppError::internal)?;
    let view = BoardDoc::new(&doc);
    let data = BoardData::read(&view, &doc.transact());
    Ok(data)
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

/// Stages, lanes and notes each have ids of their own: an import with two of one id would
/// keep only one of them (notes) or make a grid whose columns or rows cannot be told apart.
fn check_unique_ids(data: &BoardData) -> Result<(), AppError> {
    let kinds = [
        (
            "stage",
            data.stages
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>(),
        ),
        ("lane", data.lanes.iter().map(|l| l.id.as_str()).collect()),
        ("note", data.notes.iter().map(|n| n.id.as_str()).collect()),
    ];
    for (kind, ids) in kinds {
        let mut seen = std::collections::HashSet::new();
        if let Some(id) = ids.into_iter().find(|id| !seen.insert(*id)) {
            return Err(AppError::bad_request(format!(
                "two {kind}s have the id {id:?}"
            )));
        }
    }
    Ok(())
}

/// Largest JSON board accepted by an import: a board of tens of thousands of notes.
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;

/// An import body that could not be read: 413 over [`MAX_IMPORT_BYTES`] and 415 without a
/// JSON content type, as for any JSON body (`api::body_error`); otherwise 400, saying what
/// was expected.
fn import_body_error(e: JsonRejection) -> AppError {
    match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            crate::api::body_error(e)
        }
        _ => AppError::bad_request(format!("not a Journeyboard JSON export: {}", e.body_text())),
    }
}

/// `POST /api/boards/import` with a JSON export: creates an identical new board (new id,
/// new tokens) and answers like `POST /api/boards`.
pub async fn import(
    State(state): State<Arc<AppState>>,
    body: Result<axum::Json<BoardData>, JsonRejection>,
) -> Result<(StatusCode, axum::Json<crate::api::CreatedBoard>), AppError> {
    let axum::Json(data) = body.map_err(import_body_error)?;
    if data.format != journeyboard_shared::export::FORMAT {
        return Err(AppError::bad_request(format!(
            "unsupported export format {:?}; expected {:?}",
            data.format,
            journeyboard_shared::export::FORMAT
        )));
    }
    let template: journeyboard_shared::Template = data
        .template
        .parse()
        .map_err(|e| AppError::bad_request(format!("{e}")))?;
    crate::api::check_title(&data.title)?;
    check_unique_ids(&data)?;
    let doc = Doc::new();
    data.write_into(&BoardDoc::new(&doc), &mut doc.transact_mut());
    let created = crate::api::store_new_board(&state, &doc, &data.title, template.as_str()).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}
