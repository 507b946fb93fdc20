//! A picture of the map for a slide deck: the grid with its notes and the emotion curve, as
//! SVG, and as PNG rendered from that SVG with an embedded font (the same on every machine).
//! Notes are laid out in columns wide enough for a few words a line; rows grow with their
//! fullest cell, so a board of 100 notes stays legible.

use super::ExportError;
use journeyboard_shared::export::BoardData;
use journeyboard_shared::Template;
use std::fmt::Write;
use std::sync::OnceLock;

const MARGIN: f64 = 24.0;
const HEADER_H: f64 = 72.0;
const LANE_W: f64 = 190.0;
const STAGE_W: f64 = 250.0;
const STAGE_HEAD_H: f64 = 40.0;
const CURVE_H: f64 = 110.0;
const NOTE_W: f64 = STAGE_W - 20.0;
const NOTE_PAD: f64 = 8.0;
const LINE_H: f64 = 16.0;
/// Characters a note line holds at 13 px in DejaVu Sans within NOTE_W.
const LINE_CHARS: usize = 30;
const MAX_LINES: usize = 6;
const FONT: &str = "DejaVu Sans";
/// The PNG is drawn at this scale (crisp on projectors), within a pixel budget.
const PNG_SCALE: f32 = 1.5;
const PNG_MAX_PIXELS: f32 = 40_000_000.0;

fn note_fill(color: &str) -> &'static str {
    match color {
        "pink" => "#ffd6e5",
        "blue" => "#d4ecff",
        "green" => "#d9f2d9",
        "orange" => "#ffe0c2",
        "purple" => "#e8dcff",
        _ => "#fff3b0",
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Not characters XML allows: control characters, U+FFFE, U+FFFF (an SVG with
            // one does not parse, and the PNG export failed with it).
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Word-wraps note text into at most `MAX_LINES` lines of about `LINE_CHARS` characters.
fn wrap(text: &str) -> Vec<String> {
    wrap_to(text, LINE_CHARS)
}

/// Characters a lane title line holds in the lane column.
const LANE_LINE_CHARS: usize = 20;

/// Linear in the text up to the lines it keeps: a long word is cut a line at a time, and
/// wrapping stops once there are more lines than are kept (a note of one 100,000-character
/// word took seconds when each cut copied the rest of the word).
fn wrap_to(text: &str, limit: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    'words: for word in text.split_whitespace() {
        let mut word = word;
        // A word longer than a line gets lines of its own.
        while let Some((cut, _)) = word.char_indices().nth(limit) {
            if current_chars > 0 {
                lines.push(std::mem::take(&mut current));
                current_chars = 0;
            }
            lines.push(word[..cut].to_string());
            word = &word[cut..];
            if lines.len() > MAX_LINES {
                break 'words;
            }
        }
        let word_chars = word.chars().count();
        if current_chars > 0 && current_chars + word_chars + 1 > limit {
            lines.push(std::mem::take(&mut current));
            current_chars = 0;
            if lines.len() > MAX_LINES {
                break;
            }
        }
        if current_chars > 0 {
            current.push(' ');
            current_chars += 1;
        }
        current.push_str(word);
        current_chars += word_chars;
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > MAX_LINES {
        lines.truncate(MAX_LINES);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

fn note_height(text: &str) -> f64 {
    let lines = wrap(text).len().max(1) as f64;
    NOTE_PAD * 2.0 + lines * LINE_H + 14.0
}

/// The SVG picture.
pub fn svg(board: &BoardData) -> String {
    let stages = &board.stages;
    let lanes = &board.lanes;
    let row_heights: Vec<f64> = lanes
        .iter()
        .map(|lane| {
            stages
                .iter()
                .map(|stage| {
                    board
                        .cell_notes(&stage.id, &lane.id)
                        .map(|n| note_height(&n.text) + 8.0)
                        .sum::<f64>()
                        + 16.0
                })
                .fold(56.0, f64::max)
        })
        .collect();
    let has_curve = board.emotions.iter().any(|_| true);
    let curve_h = if has_curve { CURVE_H } else { 0.0 };
    let width = MARGIN * 2.0 + LANE_W + STAGE_W * stages.len().max(1) as f64;
    let grid_top = MARGIN + HEADER_H;
    let height = grid_top + STAGE_HEAD_H + curve_h + row_heights.iter().sum::<f64>() + MARGIN;
    let template = board
        .template
        .parse::<Template>()
        .map(Template::label)
        .unwrap_or(&board.template);

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}">"#
    );
    let _ = write!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = write!(
        s,
        r##"<text x="{MARGIN}" y="{}" font-size="26" font-weight="bold" fill="#1f2430">{}</text>"##,
        MARGIN + 28.0,
        escape(&board.title)
    );
    let _ = write!(
        s,
        r##"<text x="{MARGIN}" y="{}" font-size="14" fill="#5b6170">{} · {} notes · phase: {}</text>"##,
        MARGIN + 52.0,
        escape(template),
        board.notes.len(),
        escape(&board.phase)
    );

    // Stage headers.
    let x0 = MARGIN + LANE_W;
    for (i, stage) in stages.iter().enumerate() {
        let x = x0 + i as f64 * STAGE_W;
        let _ = write!(
            s,
            r##"<rect x="{x}" y="{grid_top}" width="{STAGE_W}" height="{STAGE_HEAD_H}" fill="#283593" stroke="#ffffff"/>"##
        );
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="15" font-weight="bold" fill="#ffffff">{}</text>"##,
            x + 10.0,
            grid_top + 26.0,
            escape(&truncate(&stage.title, 26))
        );
    }
    let mut y = grid_top + STAGE_HEAD_H;

    // Emotion curve.
    if has_curve {
        let _ = write!(
            s,
            r##"<rect x="{MARGIN}" y="{y}" width="{}" height="{curve_h}" fill="#f6f7f9" stroke="#d7dae0"/>"##,
            width - 2.0 * MARGIN
        );
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="13" font-weight="bold" fill="#1f2430">Emotion curve</text>"##,
            MARGIN + 10.0,
            y + 24.0
        );
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="11" fill="#5b6170">median and spread, −2 to +2</text>"##,
            MARGIN + 10.0,
            y + 42.0
        );
        let mid = y + curve_h / 2.0;
        let scale = (curve_h - 24.0) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{x0}" x2="{}" y1="{mid}" y2="{mid}" stroke="#b0bec5" stroke-dasharray="4 4"/>"##,
            width - MARGIN
        );
        let mut points = Vec::new();
        for (i, (_, stats)) in board.emotion_curve().into_iter().enumerate() {
            let cx = x0 + i as f64 * STAGE_W + STAGE_W / 2.0;
            if let Some(journeyboard_shared::export::EmotionStats {
                median,
                low: lo,
                high: hi,
            }) = stats
            {
                let (top, bottom) = (mid - hi as f64 * scale, mid - lo as f64 * scale);
                let _ = write!(
                    s,
                    r##"<rect x="{}" y="{top}" width="24" height="{}" fill="#283593" fill-opacity="0.15"/>"##,
                    cx - 12.0,
                    (bottom - top).max(2.0)
                );
                let cy = mid - median * scale;
                points.push(format!("{cx},{cy}"));
                let _ = write!(s, r##"<circle cx="{cx}" cy="{cy}" r="5" fill="#283593"/>"##);
                let _ = write!(
                    s,
                    r##"<text x="{}" y="{}" font-size="11" fill="#283593">{median:+}</text>"##,
                    cx + 9.0,
                    cy - 6.0
                );
            }
        }
        if points.len() > 1 {
            let _ = write!(
                s,
                r##"<polyline points="{}" fill="none" stroke="#283593" stroke-width="2.5"/>"##,
                points.join(" ")
            );
        }
        y += curve_h;
    }

    // Lanes and notes.
    for (lane, row_h) in lanes.iter().zip(&row_heights) {
        let _ = write!(
            s,
            r##"<rect x="{MARGIN}" y="{y}" width="{LANE_W}" height="{row_h}" fill="#eef0f4" stroke="#d7dae0"/>"##
        );
        for (k, line) in wrap_to(&lane.title, LANE_LINE_CHARS)
            .iter()
            .take(3)
            .enumerate()
        {
            let _ = write!(
                s,
                r##"<text x="{}" y="{}" font-size="13" font-weight="bold" fill="#1f2430">{}</text>"##,
                MARGIN + 10.0,
                y + 22.0 + k as f64 * LINE_H,
                escape(line)
            );
        }
        for (i, stage) in stages.iter().enumerate() {
            let x = x0 + i as f64 * STAGE_W;
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{STAGE_W}" height="{row_h}" fill="#ffffff" stroke="#d7dae0"/>"##
            );
            let mut ny = y + 8.0;
            for note in board.cell_notes(&stage.id, &lane.id) {
                let h = note_height(&note.text);
                let nx = x + 10.0;
                let _ = write!(
                    s,
                    r##"<rect x="{nx}" y="{ny}" width="{NOTE_W}" height="{h}" rx="3" fill="{}" stroke="#00000022"/>"##,
                    note_fill(&note.color)
                );
                for (k, line) in wrap(&note.text).iter().enumerate() {
                    let _ = write!(
                        s,
                        r##"<text x="{}" y="{}" font-size="13" fill="#1f2430">{}</text>"##,
                        nx + NOTE_PAD,
                        ny + NOTE_PAD + 12.0 + k as f64 * LINE_H,
                        escape(line)
                    );
                }
                let votes = board.votes.get(&note.id).copied().unwrap_or(0);
                let mut footer = truncate(&note.author, 24);
                if votes > 0 {
                    footer.push_str(&format!(" · {}", super::votes_label(votes)));
                }
                let _ = write!(
                    s,
                    r##"<text x="{}" y="{}" font-size="10" fill="#5b6170">{}</text>"##,
                    nx + NOTE_PAD,
                    ny + h - 6.0,
                    escape(&footer)
                );
                ny += h + 8.0;
            }
        }
        y += row_h;
    }
    s.push_str("</svg>");
    s
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        text.chars().take(chars - 1).collect::<String>() + "…"
    }
}

/// The font database, loaded once: DejaVu Sans, embedded so output does not depend on the
/// fonts a machine happens to have.
fn fonts() -> &'static std::sync::Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<std::sync::Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(dejavu::sans::regular().to_vec());
        db.load_font_data(dejavu::sans::bold().to_vec());
        db.set_sans_serif_family(FONT);
        std::sync::Arc::new(db)
    })
}

/// The PNG picture (the SVG rendered at 1.5x, or smaller for a huge board).
pub fn png(board: &BoardData) -> Result<Vec<u8>, ExportError> {
    let svg = svg(board);
    let options = usvg::Options {
        fontdb: fonts().clone(),
        ..usvg::Options::default()
    };
    let tree =
        usvg::Tree::from_str(&svg, &options).map_err(|e| ExportError::Render(e.to_string()))?;
    let size = tree.size();
    let pixels = size.width() * size.height();
    let scale = PNG_SCALE.min((PNG_MAX_PIXELS / pixels).sqrt());
    let (w, h) = (
        (size.width() * scale).ceil() as u32,
        (size.height() * scale).ceil() as u32,
    );
    let mut pixmap =
        tiny_skia::Pixmap::new(w, h).ok_or_else(|| ExportError::Render("empty picture".into()))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| ExportError::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_and_is_cut_with_an_ellipsis() {
        assert_eq!(wrap("short"), vec!["short"]);
        let long = "word ".repeat(100);
        let lines = wrap(&long);
        assert_eq!(lines.len(), MAX_LINES);
        assert!(lines.last().unwrap().ends_with('…'));
        assert!(wrap(&"x".repeat(70))
            .iter()
            .all(|l| l.chars().count() <= LINE_CHARS));
    }

    #[test]
    fn wrapping_is_as_before_and_stops_at_the_lines_it_keeps() {
        assert_eq!(
            wrap_to("aa bb cc dddddddd e", 5),
            vec!["aa bb", "cc", "ddddd", "ddd e"]
        );
        assert_eq!(wrap_to("éééééé x", 3), vec!["ééé", "ééé", "x"]);
        // One word of a million characters: as many lines as are kept, the last cut.
        let lines = wrap(&"x".repeat(1_000_000));
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(lines[0].chars().count(), LINE_CHARS);
        assert!(lines.last().unwrap().ends_with('…'));
    }

    #[test]
    fn characters_xml_does_not_allow_are_replaced() {
        assert_eq!(escape("a\u{FFFE}b\u{FFFF}c\u{1}d"), "a b c d");
    }

    #[test]
    fn a_note_with_characters_xml_does_not_allow_still_renders() {
        use journeyboard_shared::schema::{new_board_doc, BoardDoc};
        use journeyboard_shared::{NewNote, Template};
        use yrs::Transact;
        let doc = new_board_doc("Odd", Template::CurrentState, 0.0);
        let view = BoardDoc::new(&doc);
        let note = NewNote {
            id: "odd".into(),
            text: format!("odd \u{FFFE} text {}", "w".repeat(50_000)),
            stage: "purchase".into(),
            lane: "actions".into(),
            ..NewNote::default()
        };
        view.add_note(&mut doc.transact_mut(), &note);
        let board = BoardData::read(&view, &doc.transact());
        let picture = svg(&board);
        assert!(usvg::Tree::from_str(&picture, &usvg::Options::default()).is_ok());
        assert!(png(&board).is_ok());
    }

    #[test]
    fn markup_in_notes_is_escaped() {
        assert_eq!(escape("<b>&\"x\""), "&lt;b&gt;&amp;&quot;x&quot;");
    }
}
