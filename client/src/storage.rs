//! The browser's localStorage: who I am on boards, the links of boards I created, and a copy
//! of each board's document so offline edits survive a reload. Failures (private mode, quota)
//! degrade to "not remembered", never to an error.

use base64::Engine;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

const USER_KEY: &str = "journeyboard.user";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn get(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok()?
}

fn set(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

fn get_json<T: DeserializeOwned>(key: &str) -> Option<T> {
    serde_json::from_str(&get(key)?).ok()
}

fn set_json<T: Serialize>(key: &str, value: &T) {
    if let Ok(json) = serde_json::to_string(value) {
        set(key, &json);
    }
}

/// The display name and colour a person picked, shared by all boards in this browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub color: String,
}

pub fn load_identity() -> Option<Identity> {
    get_json::<Identity>(USER_KEY).filter(|i| !i.name.trim().is_empty())
}

pub fn save_identity(identity: &Identity) {
    set_json(USER_KEY, identity);
}

/// This browser's secret: it proves to the server which notes and scores are ours. Made on
/// first use; its public id (a hash) is what the document shows.
pub fn user_secret() -> String {
    const KEY: &str = "journeyboard.secret";
    if let Some(secret) = get(KEY).filter(|s| s.len() >= 32) {
        return secret;
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    set(KEY, &secret);
    secret
}

/// The share links of a board this browser created (tokens are only shown once, at creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardLinks {
    pub facilitator: String,
    pub participant: String,
    pub viewer: String,
}

pub fn load_links(board: &str) -> Option<BoardLinks> {
    get_json(&format!("journeyboard.links.{board}"))
}

pub fn save_links(board: &str, links: &BoardLinks) {
    set_json(&format!("journeyboard.links.{board}"), links);
}

/// The last saved copy of a board's document (a Yjs update).
pub fn load_doc(board: &str) -> Option<Vec<u8>> {
    let text = get(&format!("journeyboard.doc.{board}"))?;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

pub fn save_doc(board: &str, state: &[u8]) {
    let text = base64::engine::general_purpose::STANDARD.encode(state);
    set(&format!("journeyboard.doc.{board}"), &text);
}

/// The last summary of a board (title, role), so a board page opens while offline.
pub fn load_summary(board: &str) -> Option<crate::api::Summary> {
    get_json(&format!("journeyboard.summary.{board}"))
}

pub fn save_summary(board: &str, summary: &crate::api::Summary) {
    set_json(&format!("journeyboard.summary.{board}"), summary);
}

/// Marks a board as just created here, so its page opens with the share links shown.
pub fn mark_just_created(board: &str) {
    set("journeyboard.just_created", board);
}

/// Whether the board was just created here (asked once: the mark is cleared).
pub fn take_just_created(board: &str) -> bool {
    let created = get("journeyboard.just_created").as_deref() == Some(board);
    if created {
        if let Some(storage) = local_storage() {
            let _ = storage.remove_item("journeyboard.just_created");
        }
    }
    created
}
