//! The performance targets Journeyboard is held to, checked against a run's [`Report`]
//! (its medians and paired ratios); the outcome goes into the report and the table.

use crate::report::{median_of, paired_ratio, Getter, Report};

/// One target and how the run did against it (an entry of the report's `targets`).
#[derive(serde::Serialize)]
pub(crate) struct Target {
    pub(crate) what: String,
    pub(crate) value: String,
    pub(crate) met: bool,
}

/// Fills in the report's `targets` from its results and join.
pub(crate) fn check_targets(report: &mut Report) {
    let mut targets = Vec::new();
    let mut add = |what: &str, value: String, met: bool| {
        targets.push(Target {
            what: what.into(),
            value,
            met,
        })
    };
    let p99: Getter = |r| Some(r.fanout.p99_ms);
    let cpu: Getter = |r| Some(r.cpu_measure_s);
    if let Some(by) = report.results.get("fanout") {
        if let Some(ours) = by.get("journeyboard") {
            if let Some(p99) = median_of(ours, p99) {
                add(
                    "fan-out p99 < 10 ms (10x20 @ 10 Hz)",
                    format!("{p99:.2} ms"),
                    p99 < 10.0,
                );
            }
            // A peak is a peak: the highest of the rounds.
            let peak = ours.iter().map(|r| r.peak_rss_mib).fold(0.0, f64::max);
            add(
                "peak RSS < 40 MB (10x20)",
                format!("{peak:.1} MiB"),
                peak * 1.048576 < 40.0,
            );
            if let Some(node) = by.get("node") {
                if let Some(r) = paired_ratio(ours, node, p99) {
                    add("fan-out p99 <= 1/5 of Node's", format!("{r:.3}x"), r <= 0.2);
                }
                if let Some(r) = paired_ratio(ours, node, cpu) {
                    add("server CPU <= 1/4 of Node's", format!("{r:.3}x"), r <= 0.25);
                }
            }
        }
    }
    for (key, by) in &report.results {
        if let Some(ours) = by.get("journeyboard") {
            let lost: usize = ours.iter().map(|r| r.lost).sum();
            let converged = ours.iter().all(|r| r.converged);
            add(
                &format!("no lost updates, converged ({key})"),
                format!("lost {lost}, {converged}"),
                lost == 0 && converged,
            );
        }
    }
    if let Some(ours) = report
        .results
        .get("many")
        .and_then(|by| by.get("journeyboard"))
    {
        if let Some(kib) = median_of(ours, |r| r.per_board_loaded_kib) {
            add(
                "idle memory per loaded 100-note board < 200 KB",
                format!("{kib:.0} KiB"),
                kib * 1.024 < 200.0,
            );
        }
        // Every round must unload them all: the fewest of the rounds.
        if let Some(n) = ours.iter().filter_map(|r| r.unloaded_boards).min() {
            let boards = report.shapes.get("many").map_or(0, |s| s.boards);
            add(
                "boards with no clients are unloaded",
                format!("{n}/{boards}"),
                n >= boards,
            );
        }
    }
    if let Some(ours) = report.join.get("journeyboard") {
        add(
            "join 5,000 notes warm < 30 ms (p50)",
            format!("{:.1} ms", ours.warm.p50_ms),
            ours.warm.p50_ms < 30.0,
        );
        add(
            "join 5,000 notes cold < 80 ms (p50)",
            format!("{:.1} ms", ours.cold.p50_ms),
            ours.cold.p50_ms < 80.0,
        );
    }
    report.targets = targets;
}
