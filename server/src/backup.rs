//! Backups of the whole store while the server runs, and restores into a fresh data dir.
//!
//! The running server holds the sled lock on its data dir, so `journeyboard backup DIR` asks
//! it: `GET /api/admin/backup` with the admin token, which the server writes at start to
//! `DATA_DIR/admin-token` (mode 0600: whoever can read the data dir may copy it anyway)
//! together with its address (`DATA_DIR/admin-addr`). The answer is the store as a stream
//! of entries ([`SledStore::export`]); the command writes it into `DIR` as a new sled store,
//! a data dir of its own. With no server running, the command reads the data dir itself.
//! `journeyboard restore DIR` copies such a backup into a new or empty data dir (the server
//! stopped).
//!
//! Consistency: the export holds off compactions while it runs, so each board's snapshot and
//! log are copied from one moment; updates appended meanwhile are either in the copy or after
//! its end, never with a hole before them (see [`SledStore::export`]).

use crate::app::AppState;
use crate::config::Config;
use crate::error::AppError;
use crate::store::{SledStore, Store};
use anyhow::{bail, Context};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

/// The admin token's file in the data dir.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// The running server's address, for `journeyboard backup`.
pub const ADMIN_ADDR_FILE: &str = "admin-addr";

/// Writes a fresh admin token to `DATA_DIR/admin-token` (readable by the owner only).
pub fn write_admin_token(data_dir: &Path) -> std::io::Result<()> {
    let token = crate::auth::new_token().map_err(std::io::Error::other)?;
    write_private(&data_dir.join(ADMIN_TOKEN_FILE), token.as_bytes())
}

/// Writes the address `journeyboard backup` should reach this server at.
pub fn write_admin_addr(data_dir: &Path, addr: std::net::SocketAddr) -> std::io::Result<()> {
    write_private(&data_dir.join(ADMIN_ADDR_FILE), addr.to_string().as_bytes())
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

fn read_admin_token(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(ADMIN_TOKEN_FILE))
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// `GET /api/admin/backup` with `Authorization: Bearer ADMIN_TOKEN`: the whole store as an
/// export stream. 404 when the server has no admin token (not started by the command),
/// 401 without the header, 403 with a wrong token.
pub async fn download(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let expected = read_admin_token(&state.config.data_dir)
        .ok_or_else(|| AppError::not_found("backups are not enabled on this server"))?;
    let presented = bearer_token(&headers)
        .ok_or_else(|| AppError::new(StatusCode::UNAUTHORIZED, "the admin token is required"))?;
    if !crate::auth::constant_time_eq(
        &crate::auth::hash_token(presented),
        &crate::auth::hash_token(&expected),
    ) {
        tracing::warn!("refused a backup request: wrong admin token");
        return Err(AppError::new(StatusCode::FORBIDDEN, "wrong admin token"));
    }
    let (store, rooms) = (Arc::clone(&state.store), Arc::clone(&state.rooms));
    let (bytes, entries) = tokio::task::spawn_blocking(move || {
        rooms.write_pending_logs();
        let mut out = Vec::new();
        let entries = store.export(&mut out)?;
        Ok::<_, crate::store::StoreError>((out, entries))
    })
    .await
    .map_err(AppError::internal)??;
    tracing::info!(bytes = bytes.len(), entries, "backup sent");
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// The token of an `Authorization: Bearer TOKEN` header, if there is one. The scheme's name
/// is case-insensitive (RFC 7235, 2.1): `bearer` and `BEARER` are `Bearer` too.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `journeyboard backup DIR`: writes a copy of the store into `dir` (new or empty), from the
/// running server if there is one, else straight from the data dir.
pub fn backup(config: &Config, dir: &Path) -> anyhow::Result<String> {
    ensure_empty(dir)?;
    let data_dir = &config.data_dir;
    let from_server = match read_admin_token(data_dir) {
        Some(token) => {
            let addr = std::fs::read_to_string(data_dir.join(ADMIN_ADDR_FILE))
                .ok()
                .and_then(|a| a.trim().parse().ok())
                .unwrap_or(config.addr);
            match fetch_backup(addr, &token) {
                Ok(bytes) => Some((bytes, format!("the server at {addr}"))),
                Err(FetchError::Unreachable) => None,
                Err(FetchError::Failed(e)) => return Err(e),
            }
        }
        None => None,
    };
    let (bytes, source) = match from_server {
        Some(found) => found,
        None => {
            let store = SledStore::open(data_dir).with_context(|| {
                format!(
                    "no server answered and the data dir {} cannot be opened",
                    data_dir.display()
                )
            })?;
            let mut out = Vec::new();
            store.export(&mut out)?;
            (out, data_dir.display().to_string())
        }
    };
    let target = SledStore::open(dir).with_context(|| format!("creating {}", dir.display()))?;
    let entries = target.import(&mut bytes.as_slice())?;
    target.flush()?;
    Ok(format!(
        "backed up {entries} entries from {source} into {}",
        dir.display()
    ))
}

/// `journeyboard restore DIR`: copies the backup in `dir` into the data dir, which must hold
/// no board (and no running server: it would hold the lock).
pub fn restore(config: &Config, dir: &Path) -> anyhow::Result<String> {
    if !dir.join("db").exists() && !dir.join("conf").exists() {
        bail!(
            "{} is not a Journeyboard backup (no store in it)",
            dir.display()
        );
    }
    let backup = SledStore::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    let mut bytes = Vec::new();
    backup.export(&mut bytes)?;
    drop(backup);
    let data_dir = &config.data_dir;
    let target = SledStore::open(data_dir).with_context(|| {
        format!(
            "opening the data dir {} (is the server still running? stop it first)",
            data_dir.display()
        )
    })?;
    if target.board_count()? > 0 {
        bail!(
            "the data dir {} already holds boards: restore into a new or empty one",
            data_dir.display()
        );
    }
    let entries = target.import(&mut bytes.as_slice())?;
    target.flush()?;
    Ok(format!(
        "restored {entries} entries from {} into {}",
        dir.display(),
        data_dir.display()
    ))
}

fn ensure_empty(dir: &Path) -> anyhow::Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: back up into a new or empty directory",
            dir.display()
        );
    }
    Ok(())
}

enum FetchError {
    /// Nothing listens there: no server runs.
    Unreachable,
    Failed(anyhow::Error),
}

/// `GET /api/admin/backup` over plain HTTP/1.1 (the server is on this machine).
fn fetch_backup(addr: std::net::SocketAddr, token: &str) -> Result<Vec<u8>, FetchError> {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let mut stream = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5))
        .map_err(|_| FetchError::Unreachable)?;
    let failed =
        |e: std::io::Error| FetchError::Failed(anyhow::Error::new(e).context("reading the backup"));
    write!(
        stream,
        "GET /api/admin/backup HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .map_err(failed)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(failed)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| FetchError::Failed(anyhow::anyhow!("the server's answer has no body")))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = raw[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(FetchError::Failed(anyhow::anyhow!(
            "the server at {addr} refused the backup ({status}): {}",
            String::from_utf8_lossy(&body)
        )));
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(dechunk(&body));
    }
    Ok(body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|&s| s > 0) else {
            break;
        };
        let start = line_end + 2;
        if body.len() < start + size {
            break;
        }
        out.extend_from_slice(&body[start..start + size]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for value in ["Bearer tok", "bearer tok", "BEARER tok", "bEaReR  tok "] {
            assert_eq!(bearer_token(&authorization(value)), Some("tok"), "{value}");
        }
        for value in ["Basic tok", "Bearertok", "Bearer ", "tok"] {
            assert_eq!(bearer_token(&authorization(value)), None, "{value}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
