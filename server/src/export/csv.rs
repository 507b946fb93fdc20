//! CSV of the notes, one row per note (RFC 4180: CRLF line ends, fields with commas, quotes
//! or line breaks quoted, quotes doubled). UTF-8 with a byte-order mark, so spreadsheets
//! read non-Latin text right. A field that a spreadsheet would take for a formula starts
//! with a `'` (see [`defuse`]).

use super::title_of;
use journeyboard_shared::export::BoardData;
use std::borrow::Cow;

const HEADER: [&str; 10] = [
    "stage",
    "lane",
    "text",
    "author",
    "colour",
    "channel",
    "status",
    "votes",
    "area",
    "created_at",
];

/// The notes as CSV.
pub fn notes_csv(board: &BoardData) -> String {
    let stages = || {
        board
            .stages
            .iter()
            .map(|s| (s.id.as_str(), s.title.as_str()))
    };
    let lanes = || {
        board
            .lanes
            .iter()
            .map(|l| (l.id.as_str(), l.title.as_str()))
    };
    let mut out = String::from("\u{feff}");
    push_row(&mut out, HEADER.iter().map(|h| h.to_string()));
    for note in &board.notes {
        let votes = board.votes.get(&note.id).copied().unwrap_or(0);
        push_row(
            &mut out,
            [
                title_of(stages(), &note.stage).to_string(),
                title_of(lanes(), &note.lane).to_string(),
                note.text.clone(),
                note.author.clone(),
                note.color.clone(),
                note.channel.clone(),
                note.touchpoint.clone(),
                votes.to_string(),
                note.area.clone(),
                rfc3339_millis(note.created_at),
            ],
        );
    }
    out
}

fn push_row(out: &mut String, fields: impl IntoIterator<Item = String>) {
    let fields: Vec<String> = fields.into_iter().map(|f| quote(&defuse(&f))).collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// A field made safe to open in a spreadsheet (OWASP, "CSV Injection"): notes are anyone's
/// text, and one that starts with `=`, `+`, `-` or `@` (or a tab or carriage return before
/// one) is run as a formula: `=HYPERLINK(...)` leaks data, `=cmd|...` runs a program. Such a
/// field gets a leading `'`, which spreadsheets read as "this cell is text".
fn defuse(field: &str) -> Cow<'_, str> {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{field}"))
    } else {
        Cow::Borrowed(field)
    }
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ') {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Milliseconds since the epoch as an RFC 3339 UTC timestamp (civil-from-days, no deps).
pub(crate) fn rfc3339_millis(ms: f64) -> String {
    if !ms.is_finite() || ms <= 0.0 {
        return String::new();
    }
    let total_secs = (ms / 1000.0).floor() as i64;
    let (days, secs) = (total_secs.div_euclid(86_400), total_secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The date (`YYYY-MM-DD`) of a timestamp in ms.
pub(crate) fn date_of(ms: f64) -> String {
    rfc3339_millis(ms).chars().take(10).collect()
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn fields_that_start_a_formula_get_a_leading_quote() {
        for formula in [
            "=HYPERLINK(\"https://evil.example\")",
            "=cmd|' /C calc'!A0",
            "+1",
            "-1+2",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(defuse(formula), format!("'{formula}"));
        }
        for text in ["plain", "a = b", " =1", "", "'quoted", "1-2"] {
            assert_eq!(defuse(text), text);
        }
        // Quoted as before, once defused.
        assert_eq!(quote(&defuse("=A1,\"x\"")), "\"'=A1,\"\"x\"\"\"");
        assert_eq!(quote(&defuse("\r=1")), "\"'\r=1\"");
    }

    #[test]
    fn timestamps_are_utc_rfc_3339() {
        assert_eq!(rfc3339_millis(0.0), "");
        assert_eq!(rfc3339_millis(1_700_000_000_000.0), "2023-11-14T22:13:20Z");
        assert_eq!(date_of(951_782_400_000.0), "2000-02-29");
    }
}
