//! Calls to the server's HTTP API with the browser's `fetch`.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// The answer to `POST /api/boards`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedBoard {
    pub id: String,
    pub links: crate::storage::BoardLinks,
}

/// The answer to `GET /api/boards/{id}`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Summary {
    pub title: String,
    pub role: String,
    /// The server's clock (ms since the epoch) when it answered: the shared countdown uses
    /// the server's time, not each laptop's.
    #[serde(default)]
    pub server_time: f64,
}

/// A failed call: the server's message, or what went wrong on the way.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

pub async fn create_board(title: &str, template: &str) -> Result<CreatedBoard, ApiError> {
    let body = serde_json::json!({ "title": title, "template": template }).to_string();
    request("POST", "/api/boards", Some(&body)).await
}

pub async fn board_summary(id: &str, token: &str) -> Result<Summary, ApiError> {
    let token = String::from(js_sys::encode_uri_component(token));
    request("GET", &format!("/api/boards/{id}?t={token}"), None).await
}

async fn request<T: DeserializeOwned>(
    method: &str,
    url: &str,
    body: Option<&str>,
) -> Result<T, ApiError> {
    let network = |what: &str| ApiError {
        status: 0,
        message: format!("could not reach the server ({what})"),
    };
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&body.into());
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(|_| network("request"))?;
    let _ = request.headers().set("Content-Type", "application/json");
    let window = web_sys::window().ok_or_else(|| network("window"))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| network("fetch"))?
        .dyn_into()
        .map_err(|_| network("response"))?;
    let text = JsFuture::from(response.text().map_err(|_| network("body"))?)
        .await
        .map_err(|_| network("body"))?
        .as_string()
        .unwrap_or_default();
    if !response.ok() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("HTTP {}", response.status()));
        return Err(ApiError {
            status: response.status(),
            message,
        });
    }
    serde_json::from_str(&text).map_err(|e| ApiError {
        status: response.status(),
        message: format!("unexpected answer: {e}"),
    })
}

/// A saved snapshot, as listed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SnapshotMeta {
    pub id: String,
    pub name: String,
    pub created_at: f64,
    pub auto: bool,
    pub phase: String,
    pub notes: usize,
}

fn board_path(id: &str, rest: &str, token: &str) -> String {
    let token = String::from(js_sys::encode_uri_component(token));
    format!("/api/boards/{id}{rest}?t={token}")
}

pub async fn list_snapshots(id: &str, token: &str) -> Result<Vec<SnapshotMeta>, ApiError> {
    request("GET", &board_path(id, "/snapshots", token), None).await
}

pub async fn save_snapshot(id: &str, token: &str, name: &str) -> Result<SnapshotMeta, ApiError> {
    let body = serde_json::json!({ "name": name }).to_string();
    request("POST", &board_path(id, "/snapshots", token), Some(&body)).await
}

pub async fn restore_snapshot(
    id: &str,
    token: &str,
    snapshot: &str,
) -> Result<serde_json::Value, ApiError> {
    request(
        "POST",
        &board_path(id, &format!("/snapshots/{snapshot}/restore"), token),
        None,
    )
    .await
}

pub async fn derive_board(
    id: &str,
    token: &str,
    snapshot: &str,
    template: &str,
) -> Result<CreatedBoard, ApiError> {
    let body = serde_json::json!({ "template": template }).to_string();
    request(
        "POST",
        &board_path(id, &format!("/snapshots/{snapshot}/derive"), token),
        Some(&body),
    )
    .await
}

pub async fn snapshot_data(
    id: &str,
    token: &str,
    snapshot: &str,
) -> Result<journeyboard_shared::export::BoardData, ApiError> {
    request(
        "GET",
        &board_path(id, &format!("/snapshots/{snapshot}/export.json"), token),
        None,
    )
    .await
}

/// The URL of a snapshot's export in `ext` format.
pub fn snapshot_export_url(id: &str, token: &str, snapshot: &str, ext: &str) -> String {
    board_path(id, &format!("/snapshots/{snapshot}/export.{ext}"), token)
}

/// The answer to `POST /api/boards/{id}/rotate`: the new links, by role.
#[derive(Debug, Clone, Deserialize)]
pub struct Rotated {
    pub links: std::collections::BTreeMap<String, String>,
}

/// Replaces the participant and viewer links (old ones stop working; people on them are
/// disconnected).
pub async fn rotate_links(id: &str, token: &str) -> Result<Rotated, ApiError> {
    let body = serde_json::json!({ "roles": ["participant", "viewer"] }).to_string();
    request("POST", &board_path(id, "/rotate", token), Some(&body)).await
}
