//! `journeyboard-bench`: a y-websocket load generator that runs the same shapes against
//! Journeyboard and the reference Node server (`@y/websocket-server`), each started here on
//! 127.0.0.1 with a fresh data directory and persistence on, and reports both side by side
//! with ratios (absolute times drift on a shared machine; ratios from one run hold better).
//!
//! ```sh
//! cargo run --release -p journeyboard-bench -- --quick    # about 1.5 minutes
//! cargo run --release -p journeyboard-bench               # the full run, about 6 minutes
//! ```
//!
//! Prints a readable table on stderr and one JSON line on stdout (also `--json FILE`).
//! With `--rounds N` each shape runs N times, the servers taking turns, and the table shows
//! medians: a ratio is the median of the rounds' ratios, each from two runs back to back.
//! BENCHMARKS.md has the figures, how they are measured and how to read them.

mod client;
mod servers;
mod shapes;
mod stamped;
mod stats;
mod wire;

use anyhow::{bail, Context};
use servers::{Kind, Programs};
use shapes::{JoinResult, Shape, ShapeResult};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

const USAGE: &str = "\
journeyboard-bench: Journeyboard vs the reference Node y-websocket server, same shapes, same run

USAGE: journeyboard-bench [--quick] [--servers ours,node] [--only SHAPE,...] [--server-bin PATH]
                          [--measure SECS] [--rounds N] [--json FILE]

  --quick            small shapes, about two minutes in all
  --servers LIST     which servers to run: ours, node (default both); floor is a relay with
                     no document and no store (`relay-floor`), to see what the machine and
                     this generator cost alone (its figures are in the per-run lines and the
                     JSON, not the table)
  --only LIST        shape names to run (fanout, crowd, company, many, join)
  --server-bin PATH  the journeyboard binary (default: build it, release, next to this one)
  --measure SECS     measuring time per shape (default 30, quick 6)
  --rounds N         run each shape N times, the servers taking turns; the table shows
                     medians, and each ratio is the median of the rounds' ratios (default 1)
  --json FILE        also write the JSON line to FILE
";

struct Args {
    quick: bool,
    servers: Vec<Kind>,
    only: Option<Vec<String>>,
    server_bin: Option<PathBuf>,
    measure: Option<f64>,
    rounds: usize,
    json: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        quick: false,
        servers: vec![Kind::Ours, Kind::Node],
        only: None,
        server_bin: None,
        measure: None,
        rounds: 1,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--quick" => args.quick = true,
            "--servers" => {
                args.servers = value()?
                    .split(',')
                    .map(|s| match s {
                        "ours" | "journeyboard" => Ok(Kind::Ours),
                        "node" => Ok(Kind::Node),
                        "floor" => Ok(Kind::Floor),
                        other => bail!("unknown server {other:?}"),
                    })
                    .collect::<anyhow::Result<_>>()?
            }
            "--only" => args.only = Some(value()?.split(',').map(String::from).collect()),
            "--server-bin" => args.server_bin = Some(PathBuf::from(value()?)),
            "--measure" => args.measure = Some(value()?.parse()?),
            "--rounds" => {
                args.rounds = value()?.parse()?;
                if args.rounds == 0 {
                    bail!("--rounds must be at least 1");
                }
            }
            "--json" => args.json = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(args)
}

fn shapes(quick: bool, measure: Option<f64>) -> Vec<(&'static str, Shape)> {
    let m = measure.unwrap_or(if quick { 6.0 } else { 30.0 });
    let shape = |name: &str, boards, clients, active, rate_hz| Shape {
        name: name.to_string(),
        boards,
        clients,
        active,
        rate_hz,
        checkers: 2,
        checked_boards: boards.min(10),
        seed_notes: 0,
        measure_s: m,
        storm: true,
        stall: false,
        memory: false,
    };
    let (company_idle, many_boards) = if quick { (200, 200) } else { (1000, 2000) };
    vec![
        (
            "fanout",
            Shape {
                stall: true,
                ..shape("10 boards x 20 clients x 10 updates/s", 10, 20, 20, 10.0)
            },
        ),
        (
            "crowd",
            shape("1 board x 200 clients x 1 update/s", 1, 200, 200, 1.0),
        ),
        (
            "company",
            shape(
                &format!("1 board x {company_idle} idle + 20 clients x 1 update/s"),
                1,
                company_idle + 20,
                20,
                1.0,
            ),
        ),
        (
            "many",
            Shape {
                checkers: 1,
                seed_notes: 100,
                storm: false,
                memory: true,
                ..shape(
                    &format!("{many_boards} boards (100 notes) x 3 clients x 1 update/20 s"),
                    many_boards,
                    3,
                    3,
                    0.05,
                )
            },
        ),
    ]
}

/// The journeyboard binary: built here (release) unless given.
fn journeyboard_binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building journeyboard (release)...");
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "journeyboard-server",
            "--bin",
            "journeyboard",
        ])
        .current_dir(&workspace)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building journeyboard failed");
    }
    let exe = std::env::current_exe()?;
    let beside = exe.with_file_name("journeyboard");
    if beside.exists() && exe.parent().is_some_and(|p| p.ends_with("release")) {
        return Ok(beside);
    }
    Ok(workspace.join("target/release/journeyboard"))
}

#[derive(serde::Serialize, Default)]
struct Report {
    date: String,
    machine: String,
    mode: &'static str,
    shapes: BTreeMap<String, Shape>,
    rounds: usize,
    /// Per shape and server, each round's result.
    results: BTreeMap<String, BTreeMap<String, Vec<ShapeResult>>>,
    join: BTreeMap<String, JoinResult>,
    ratios: BTreeMap<String, f64>,
    targets: Vec<Target>,
    duration_s: f64,
}

#[derive(serde::Serialize)]
struct Target {
    what: String,
    value: String,
    met: bool,
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // One worker thread: the generator must stay lighter than the server on a 2-core machine.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let node_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
    let programs = Programs {
        journeyboard: if args.servers.contains(&Kind::Ours) {
            journeyboard_binary(args.server_bin.clone())?
        } else {
            PathBuf::new()
        },
        node_dir: node_dir.clone(),
        floor: std::env::current_exe()?.with_file_name("relay-floor"),
    };
    if args.servers.contains(&Kind::Node) {
        servers::ensure_node(&node_dir)?;
    }
    if args.servers.contains(&Kind::Floor) && !programs.floor.exists() {
        bail!(
            "{} is missing: cargo build --release -p journeyboard-bench --bin relay-floor",
            programs.floor.display()
        );
    }
    let wanted = |name: &str| {
        args.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|n| n == name))
    };
    let mut report = Report {
        date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine: machine(),
        mode: if args.quick { "quick" } else { "full" },
        rounds: args.rounds,
        ..Default::default()
    };

    for (key, shape) in shapes(args.quick, args.measure) {
        if !wanted(key) {
            continue;
        }
        report.shapes.insert(key.to_string(), shape.clone());
        // The servers take turns, so that each round's pair ran back to back.
        let turns =
            (1..=args.rounds).flat_map(|round| args.servers.iter().map(move |&k| (round, k)));
        for (round, kind) in turns {
            let of_rounds = if args.rounds > 1 {
                format!(" (round {round} of {})", args.rounds)
            } else {
                String::new()
            };
            eprintln!(
                "[{:>5.0}s] {key}: {} on {}{of_rounds}",
                started.elapsed().as_secs_f64(),
                shape.name,
                kind.label()
            );
            match shapes::run_shape(kind, &programs, &shape, !args.quick).await {
                Ok(mut result) => {
                    result.round = round;
                    eprintln!(
                        "         fan-out p99 {:.2} ms, lost {}, cpu {:.2} s (user {:.2}), peak {:.1} MiB",
                        result.fanout.p99_ms,
                        result.lost,
                        result.cpu_measure_s,
                        result.user_cpu_measure_s,
                        result.peak_rss_mib
                    );
                    report
                        .results
                        .entry(key.to_string())
                        .or_default()
                        .entry(server_key(kind).into())
                        .or_default()
                        .push(result);
                }
                Err(e) => eprintln!("         FAILED: {e:#}"),
            }
        }
    }
    if wanted("join") {
        let (warm, cold) = if args.quick { (5, 2) } else { (20, 5) };
        for &kind in &args.servers {
            eprintln!(
                "[{:>5.0}s] join: 5000-note board on {}",
                started.elapsed().as_secs_f64(),
                kind.label()
            );
            match shapes::run_join(kind, &programs, 5000, warm, cold).await {
                Ok(result) => {
                    report.join.insert(server_key(kind).into(), result);
                }
                Err(e) => eprintln!("         FAILED: {e:#}"),
            }
        }
    }
    report.duration_s = started.elapsed().as_secs_f64();
    compute_ratios(&mut report);
    check_targets(&mut report);
    print_table(&report);
    let line = serde_json::to_string(&report)?;
    println!("{line}");
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{line}\n"))?;
    }
    Ok(())
}

fn server_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Ours => "journeyboard",
        Kind::Node => "node",
        Kind::Floor => "floor",
    }
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = stats::status_kib_meminfo() as f64 / 1024.0 / 1024.0;
    format!(
        "{cores} cores ({cpu}), {mem_gib:.0} GiB, Linux {}, node {}",
        command_output("uname", &["-r"]),
        command_output("node", &["--version"])
    )
}

/// Metric getters compared as ours / node (lower is better for all of them).
type Getter = fn(&ShapeResult) -> Option<f64>;
const METRICS: &[(&str, Getter)] = &[
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
fn median_of(rounds: &[ShapeResult], get: Getter) -> Option<f64> {
    stats::median(rounds.iter().filter_map(get).collect())
}

/// The run in `runs` of the same round as `run`.
fn same_round<'a>(runs: &'a [ShapeResult], run: &ShapeResult) -> Option<&'a ShapeResult> {
    runs.iter().find(|r| r.round == run.round)
}

/// A metric's ratio ours / Node's in each round (the two runs of a round were back to back,
/// so a change in the machine's speed between rounds cancels out), and the median of those.
fn paired_ratio(ours: &[ShapeResult], node: &[ShapeResult], get: Getter) -> Option<f64> {
    let ratios = ours.iter().filter_map(|a| {
        let b = same_round(node, a)?;
        match (get(a), get(b)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        }
    });
    stats::median(ratios.collect())
}

fn compute_ratios(report: &mut Report) {
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

fn check_targets(report: &mut Report) {
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

fn print_table(report: &Report) {
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
