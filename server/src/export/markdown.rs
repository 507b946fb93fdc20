//! The session report in Markdown: what a facilitator shares with the team after the
//! workshop (DOMAIN.md, "What a good session produces").

use super::title_of;
use journeyboard_shared::export::BoardData;
use journeyboard_shared::{Channel, LaneKind, Template};
use std::fmt::Write;

/// The report. `date` is `YYYY-MM-DD`; `participants` are the names of people on the board.
pub fn report(board: &BoardData, date: &str, participants: &[String]) -> String {
    let mut md = String::new();
    let template = board
        .template
        .parse::<Template>()
        .map(Template::label)
        .unwrap_or(&board.template);
    let _ = writeln!(md, "# {}\n", inline(&board.title));
    let _ = writeln!(md, "- **Map type:** {template}");
    let _ = writeln!(md, "- **Date:** {date}");
    let _ = writeln!(md, "- **Phase reached:** {}", board.phase);
    let people = if participants.is_empty() {
        "(nobody connected at export time)".to_string()
    } else {
        participants.join(", ")
    };
    let _ = writeln!(md, "- **Participants:** {}", inline(&people));
    let s = &board.settings;
    if !s.goals.trim().is_empty() {
        let _ = writeln!(md, "- **Goals:** {}", inline(&s.goals));
    }
    if !s.kpis.trim().is_empty() {
        let _ = writeln!(md, "- **KPIs to watch:** {}", inline(&s.kpis));
    }
    md.push('\n');
    personas(&mut md, board);
    grid(&mut md, board);
    emotions(&mut md, board);
    touchpoints(&mut md, board);
    ranking(&mut md, board);
    actions(&mut md, board);
    resources(&mut md, board);
    md
}

/// One line of text, safe inside Markdown (line breaks folded, markup characters escaped).
fn inline(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn personas(md: &mut String, board: &BoardData) {
    if board.personas.is_empty() {
        return;
    }
    md.push_str("## Personas\n\n");
    for p in &board.personas {
        let main = if board.settings.main_persona.as_deref() == Some(p.id.as_str()) {
            " (main persona)"
        } else {
            ""
        };
        let _ = writeln!(md, "### {} {}{main}\n", inline(&p.avatar), inline(&p.name));
        for (label, value) in [
            ("Role", &p.role),
            ("Demographics", &p.demographics),
            ("Way of life", &p.way_of_life),
            ("Goals", &p.goals),
            ("Motivations", &p.motivations),
            ("Frustrations", &p.frustrations),
            ("What the research said", &p.research),
        ] {
            if !value.trim().is_empty() {
                let _ = writeln!(md, "- **{label}:** {}", inline(value));
            }
        }
        if !p.quote.trim().is_empty() {
            let _ = writeln!(md, "\n> {}", inline(&p.quote));
        }
        md.push('\n');
    }
}

fn grid(md: &mut String, board: &BoardData) {
    md.push_str("## The map\n\n");
    let warmup: Vec<_> = board
        .notes
        .iter()
        .filter(|n| n.area == "icebreaker")
        .collect();
    if !warmup.is_empty() {
        md.push_str("### Warm-up\n\n");
        for n in warmup {
            let _ = writeln!(md, "- {} ({})", inline(&n.text), inline(&n.author));
        }
        md.push('\n');
    }
    for stage in &board.stages {
        let _ = writeln!(md, "### {}\n", inline(&stage.title));
        let mut any = false;
        for lane in &board.lanes {
            let notes: Vec<_> = board.cell_notes(&stage.id, &lane.id).collect();
            if notes.is_empty() {
                continue;
            }
            any = true;
            let _ = writeln!(md, "**{}**\n", inline(&lane.title));
            for n in notes {
                let votes = board.votes.get(&n.id).copied().unwrap_or(0);
                let mut extra = vec![inline(&n.author)];
                if !n.channel.is_empty() {
                    let channel = n
                        .channel
                        .parse::<Channel>()
                        .map(Channel::label)
                        .unwrap_or(&n.channel);
                    extra.push(format!("{channel}, {}", n.touchpoint));
                }
                if votes > 0 {
                    extra.push(super::votes_label(votes));
                }
                let _ = writeln!(md, "- {} ({})", inline(&n.text), extra.join("; "));
            }
            md.push('\n');
        }
        if !any {
            md.push_str("_No notes._\n\n");
        }
    }
}

fn emotions(md: &mut String, board: &BoardData) {
    let curve = board.emotion_curve();
    if curve.iter().all(|(_, stats)| stats.is_none()) {
        return;
    }
    md.push_str(
        "## Emotion curve\n\n| Stage | Median | Lowest | Highest |\n| --- | --- | --- | --- |\n",
    );
    for (stage_id, stats) in curve {
        let title = title_of(
            board
                .stages
                .iter()
                .map(|s| (s.id.as_str(), s.title.as_str())),
            &stage_id,
        );
        match stats {
            Some(journeyboard_shared::export::EmotionStats {
                median,
                low: lo,
                high: hi,
            }) => {
                let _ = writeln!(md, "| {} | {median:+} | {lo:+} | {hi:+} |", inline(title));
            }
            None => {
                let _ = writeln!(md, "| {} | – | – | – |", inline(title));
            }
        }
    }
    md.push('\n');
}

fn touchpoints(md: &mut String, board: &BoardData) {
    let gap = board.touchpoint_gap();
    if gap
        .iter()
        .all(|g| g.unused.is_empty() && g.unplanned.is_empty())
    {
        return;
    }
    let label = |c: &String| {
        c.parse::<Channel>()
            .map(|c| c.label().to_string())
            .unwrap_or_else(|_| c.clone())
    };
    md.push_str("## Touchpoint gap\n\n| Stage | Intended, not used | Used, not planned |\n| --- | --- | --- |\n");
    for g in gap {
        let (stage_id, unused, unplanned) = (g.stage, g.unused, g.unplanned);
        let title = title_of(
            board
                .stages
                .iter()
                .map(|s| (s.id.as_str(), s.title.as_str())),
            &stage_id,
        );
        let list = |v: &Vec<String>| {
            if v.is_empty() {
                "–".to_string()
            } else {
                v.iter().map(label).collect::<Vec<_>>().join(", ")
            }
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            inline(title),
            list(&unused),
            list(&unplanned)
        );
    }
    md.push('\n');
}

fn ranking(md: &mut String, board: &BoardData) {
    let kind = |lane: &str| {
        board
            .lanes
            .iter()
            .find(|l| l.id == lane)
            .map(|l| l.kind.clone())
            .unwrap_or_default()
    };
    let mut ranked: Vec<_> = board
        .notes
        .iter()
        .filter(|n| {
            let k = kind(&n.lane);
            k == LaneKind::PainPoints.as_str() || k == LaneKind::Opportunities.as_str()
        })
        .map(|n| (board.votes.get(&n.id).copied().unwrap_or(0), n))
        .collect();
    if ranked.is_empty() {
        return;
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.text.cmp(&b.1.text)));
    md.push_str("## Pain points and opportunities, by votes\n\n| Votes | Kind | Note | Stage |\n| --- | --- | --- | --- |\n");
    for (votes, n) in ranked {
        let k = if kind(&n.lane) == LaneKind::PainPoints.as_str() {
            "Pain point"
        } else {
            "Opportunity"
        };
        let stage = title_of(
            board
                .stages
                .iter()
                .map(|s| (s.id.as_str(), s.title.as_str())),
            &n.stage,
        );
        let _ = writeln!(
            md,
            "| {votes} | {k} | {} | {} |",
            inline(&n.text),
            inline(stage)
        );
    }
    md.push('\n');
}

fn actions(md: &mut String, board: &BoardData) {
    if board.actions.is_empty() {
        return;
    }
    md.push_str(
        "## Action items\n\n| Action | Owner | Due | For note |\n| --- | --- | --- | --- |\n",
    );
    for a in &board.actions {
        let note = board
            .notes
            .iter()
            .find(|n| n.id == a.note)
            .map(|n| inline(&n.text))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {note} |",
            inline(&a.text),
            inline(&a.owner),
            inline(&a.due)
        );
    }
    md.push('\n');
}

fn resources(md: &mut String, board: &BoardData) {
    if board.resources.is_empty() {
        return;
    }
    md.push_str("## Resources\n\n");
    for (kind, heading) in [("have", "We have"), ("need", "We need")] {
        let items: Vec<_> = board.resources.iter().filter(|r| r.kind == kind).collect();
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(md, "**{heading}**\n");
        for r in items {
            let _ = writeln!(md, "- {}", inline(&r.text));
        }
        md.push('\n');
    }
}
