//! Exports of a board: a Markdown session report, CSV of the notes, the JSON data, and a
//! picture (SVG and PNG). Each renders a [`BoardData`] read from the live document (so
//! edits not yet compacted are in), which never holds unrevealed private notes: those live
//! in their authors' private rooms until the reveal.

mod csv;
pub mod handler;
mod markdown;
mod picture;

pub use self::csv::notes_csv;
pub use markdown::report;
pub use picture::{png, svg};

use journeyboard_shared::export::BoardData;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Csv,
    Json,
    Svg,
    Png,
}

impl Format {
    /// The format of a file extension (`md`, `csv`, `json`, `svg`, `png`).
    pub fn from_extension(ext: &str) -> Option<Format> {
        Some(match ext {
            "md" => Format::Markdown,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "svg" => Format::Svg,
            "png" => Format::Png,
            _ => return None,
        })
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
        }
    }
}

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("rendering the picture failed: {0}")]
    Render(String),
    #[error("serialising failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// Renders `board` in `format`. `date` is the export's date (`YYYY-MM-DD`), `participants`
/// the names of the people on the board.
pub fn render(
    board: &BoardData,
    format: Format,
    date: &str,
    participants: &[String],
) -> Result<Vec<u8>, ExportError> {
    Ok(match format {
        Format::Markdown => report(board, date, participants).into_bytes(),
        Format::Csv => notes_csv(board).into_bytes(),
        Format::Json => serde_json::to_vec_pretty(board)?,
        Format::Svg => svg(board).into_bytes(),
        Format::Png => png(board)?,
    })
}

/// A file-name-safe version of a title.
pub fn file_stem(title: &str) -> String {
    let stem: String = title
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if stem.is_empty() {
        "journey-map".into()
    } else {
        stem.chars().take(60).collect()
    }
}

/// The display name of a stage or lane id (the id itself if it is gone).
pub(crate) fn title_of<'a>(
    items: impl IntoIterator<Item = (&'a str, &'a str)>,
    id: &'a str,
) -> &'a str {
    items
        .into_iter()
        .find(|(i, _)| *i == id)
        .map_or(id, |(_, t)| t)
}

/// "1 vote", "3 votes": a note's votes as the report and the picture print them.
pub(crate) fn votes_label(votes: u32) -> String {
    if votes == 1 {
        "1 vote".into()
    } else {
        format!("{votes} votes")
    }
}

#[cfg(test)]
mod tests {
    use super::votes_label;

    #[test]
    fn one_vote_is_singular() {
        assert_eq!(votes_label(1), "1 vote");
        assert_eq!(votes_label(2), "2 votes");
    }
}
