//! The run's report, printed as one JSON line (and read by `table.rs` and `targets.rs`):
//! the shapes, each round's results per server, and the ratios ours / Node's of the metrics
//! both servers are compared on, each paired within a round.

use crate::shapes::{JoinResult, Shape, ShapeResult};
use crate::stats;
use crate::targets::Target;
use std::collections::BTreeMap;

/// Everything a run found; serialised as is, it is the JSON line (its keys are the field
/// names, so renaming a field changes the output).
#[derive(serde::Serialize, Default)]
pub(crate) struct Report {
    pub(crate) date: String,
    pub(crate) machine: String,
    pub(crate) mode: &'static str,
    pub(crate) shapes: BTreeMap<String, Shape>,
    pub(crate) rounds: usize,
    /// Per shape and server, each round's result.
    pub(crate) results: BTreeMap<String, BTreeMap<String, Vec<ShapeResult>>>,
    pub(crate) join: BTreeMap<String, JoinResult>,
    pub(crate) ratios: BTreeMap<String, f64>,
    pub(crate) targets: Vec<Target>,
    pub(crate) duration_s: f64,
}

/// Reads one metric from a result (`None` where the shape does not measure it).
pub(crate) type Getter = fn(&ShapeResult) -> Option<f64>;
/// Metric getters compared as ours / node (lower is better for all of them).
pub(crate) const METRICS: &[(&str, Getter)] = &[
    ("fan-out p50 ms", |r| Some(r.fanout.p50_ms)),
    ("fan-out p95 ms", |r| Some(r.fanout.p95_ms)),
    ("fan-out p99 ms", |r| Some(r.fanout.p99_ms)),
    ("fan-out max ms", |r| Some(r.fanout.max_ms)),
    ("first receiver p50 ms", |r| Some(r.first.p50_ms)),
    ("first receiver p99 ms", |r| Some(r.first.p99_ms)),
    ("arrival at all p50 ms", |r| Some(r.arrival.p50_ms)),
    ("arrival at all p99 ms", |r| Some(r.arrival.p99_ms)),
    ("delivery p50 ms", |r| Some(r.delivery.p50_ms)),
    ("delivery p99 ms", |r| Some(r.delivery.p99_ms)),
    ("delivered updates/s", |r| Some(r.delivered_per_s)),
    ("lost deliveries", |r| Some(r.lost as f64)),
    ("server CPU s (measuring)", |r| Some(r.cpu_measure_s)),
    ("  of it in user space", |r| Some(r.user_cpu_measure_s)),
    ("server CPU s (whole shape)", |r| Some(r.cpu_total_s)),
    ("bench CPU s (measuring)", |r| Some(r.bench_cpu_measure_s)),
    ("peak RSS MiB", |r| Some(r.peak_rss_mib)),
    ("connect all s", |r| Some(r.connect_s)),
    ("reconnect storm ms", |r| r.storm_ms),
    ("storm connect retries", |r| {
        r.storm_retries.map(|n| n as f64)
    }),
    ("KiB per board, clients on", |r| r.per_board_connected_kib),
    ("KiB per board, clients left", |r| r.per_board_idle_kib),
    ("KiB per loaded board, no clients", |r| {
        r.per_board_loaded_kib
    }),
];

/// A metric's median over a server's rounds.
pub(crate) fn median_of(rounds: &[ShapeResult], get: Getter) -> Option<f64> {
    stats::median(rounds.iter().filter_map(get).collect())
}

/// The run in `runs` of the same round as `run`.
pub(crate) fn same_round<'a>(
    runs: &'a [ShapeResult],
    run: &ShapeResult,
) -> Option<&'a ShapeResult> {
    runs.iter().find(|r| r.round == run.round)
}

/// A metric's ratio ours / Node's in each round (the two runs of a round were back to back,
/// so a change in the machine's speed between rounds cancels out), and the median of those.
pub(crate) fn paired_ratio(ours: &[ShapeResult], node: &[ShapeResult], get: Getter) -> Option<f64> {
    let ratios = ours.iter().filter_map(|a| {
        let b = same_round(node, a)?;
        match (get(a), get(b)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        }
    });
    stats::median(ratios.collect())
}

/// Fills in `ratios`: each compared metric of each shape both servers ran, and the join.
pub(crate) fn compute_ratios(report: &mut Report) {
    for (shape, by_server) in &report.results {
        let (Some(ours), Some(node)) = (by_server.get("journeyboard"), by_server.get("node"))
        else {
            continue;
        };
        for (name, get) in METRICS {
            if name.starts_with("delivered") || name.starts_with("lost") {
                continue;
            }
            if let Some(ratio) = paired_ratio(ours, node, *get) {
                report
                    .ratios
                    .insert(format!("{shape}: {}", name.trim()), ratio);
            }
        }
    }
    if let (Some(ours), Some(node)) = (report.join.get("journeyboard"), report.join.get("node")) {
        if node.warm.p50_ms > 0.0 {
            report
                .ratios
                .insert("join: warm p50".into(), ours.warm.p50_ms / node.warm.p50_ms);
        }
        if node.cold.p50_ms > 0.0 {
            report
                .ratios
                .insert("join: cold p50".into(), ours.cold.p50_ms / node.cold.p50_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(round: usize, cpu: f64) -> ShapeResult {
        ShapeResult {
            round,
            cpu_measure_s: cpu,
            ..ShapeResult::default()
        }
    }

    #[test]
    fn a_ratio_pairs_the_servers_runs_of_one_round() {
        let cpu: Getter = |r| Some(r.cpu_measure_s);
        let about = |got: Option<f64>, want: f64| got.is_some_and(|g| (g - want).abs() < 1e-9);
        // The machine slowed down in round 2: both servers took twice as long.
        let ours = [round(1, 1.0), round(2, 2.0), round(3, 1.2)];
        let node = [round(1, 4.0), round(2, 8.0), round(3, 4.0)];
        assert!(about(paired_ratio(&ours, &node, cpu), 0.25));
        // A round one server failed counts for neither.
        let node = [round(1, 4.0), round(3, 3.0)];
        assert!(about(paired_ratio(&ours, &node, cpu), 0.325));
        assert_eq!(median_of(&ours, cpu), Some(1.2));
    }
}
