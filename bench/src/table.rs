//! The readable table on stderr: per shape, each metric's median for both servers and their
//! paired ratio, the per-run lines, the join, and the targets; all read from the [`Report`].

use crate::report::{median_of, paired_ratio, same_round, Report, METRICS};
use crate::shapes::JoinResult;

/// Prints the table of `report` on stderr.
pub(crate) fn print_table(report: &Report) {
    let mut t = String::new();
    use std::fmt::Write;
    let _ = writeln!(
        t,
        "\nJourneyboard vs @y/websocket-server, {} run, {}",
        report.mode, report.date
    );
    let _ = writeln!(t, "machine: {}", report.machine);
    for (key, by) in &report.results {
        let shape = &report.shapes[key];
        let _ = writeln!(t, "\n## {key}: {}", shape.name);
        let _ = writeln!(
            t,
            "{:<28} {:>14} {:>14} {:>9}",
            "", "journeyboard", "node", "ratio"
        );
        let (ours, node) = (by.get("journeyboard"), by.get("node"));
        for (name, get) in METRICS {
            let a = ours.and_then(|rounds| median_of(rounds, *get));
            let b = node.and_then(|rounds| median_of(rounds, *get));
            if a.is_none() && b.is_none() {
                continue;
            }
            let ratio = match (ours, node) {
                (Some(ours), Some(node)) => paired_ratio(ours, node, *get),
                _ => None,
            };
            let ratio = ratio.map_or("-".into(), |r| format!("{r:.3}"));
            let _ = writeln!(t, "{:<28} {:>14} {:>14} {:>9}", name, fmt(a), fmt(b), ratio);
        }
        if let (Some(ours), Some(node), true) = (ours, node, report.rounds > 1) {
            let _ = writeln!(
                t,
                "  rounds, ours / Node's (CPU while measuring, fan-out p99):"
            );
            for a in ours {
                let Some(b) = same_round(node, a) else {
                    continue;
                };
                let _ = writeln!(
                    t,
                    "    {}: {:.2} / {:.2} s = {:.3}x, {:.2} / {:.2} ms = {:.3}x",
                    a.round,
                    a.cpu_measure_s,
                    b.cpu_measure_s,
                    a.cpu_measure_s / b.cpu_measure_s,
                    a.fanout.p99_ms,
                    b.fanout.p99_ms,
                    a.fanout.p99_ms / b.fanout.p99_ms
                );
            }
        }
        for (server, r) in by
            .iter()
            .flat_map(|(s, rounds)| rounds.iter().map(move |r| (s, r)))
        {
            let server = if report.rounds > 1 {
                format!("{server} (round {})", r.round)
            } else {
                server.clone()
            };
            let _ = writeln!(
                t,
                "  {server}: sent {}, converged: {} ({})",
                r.sent, r.converged, r.convergence
            );
            if !r.rss_steps.is_empty() {
                let steps: Vec<String> = r
                    .rss_steps
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.1}"))
                    .collect();
                let _ = writeln!(t, "  {server}: RSS MiB: {}", steps.join(", "));
            }
            if let Some(n) = r.unloaded_boards {
                let _ = writeln!(
                    t,
                    "  {server}: boards loaded with no client and unloaded within 60 s: {n}"
                );
            }
        }
    }
    if !report.join.is_empty() {
        let _ = writeln!(t, "\n## join: a new client syncs a 5,000-note board");
        let _ = writeln!(
            t,
            "{:<28} {:>14} {:>14} {:>9}",
            "", "journeyboard", "node", "ratio"
        );
        let ours = report.join.get("journeyboard");
        let node = report.join.get("node");
        type J = fn(&JoinResult) -> f64;
        let rows: [(&str, J); 4] = [
            ("warm p50 ms", |j| j.warm.p50_ms),
            ("warm max ms", |j| j.warm.max_ms),
            ("cold p50 ms", |j| j.cold.p50_ms),
            ("cold max ms", |j| j.cold.max_ms),
        ];
        for (name, get) in rows {
            let a = ours.map(get);
            let b = node.map(get);
            let ratio = match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
                _ => "-".into(),
            };
            let _ = writeln!(t, "{:<28} {:>14} {:>14} {:>9}", name, fmt(a), fmt(b), ratio);
        }
    }
    if !report.targets.is_empty() {
        let _ = writeln!(t, "\n## targets (journeyboard)");
        for target in &report.targets {
            let _ = writeln!(
                t,
                "  [{}] {}: {}",
                if target.met { "met" } else { "MISSED" },
                target.what,
                target.value
            );
        }
    }
    let _ = writeln!(t, "\n(total {:.0} s)", report.duration_s);
    eprint!("{t}");
}

fn fmt(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
    }
}
