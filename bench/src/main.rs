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
//! BENCHMARKS.md has the figures, how they are measured and how to read them.

mod client;
mod servers;
mod shapes;
mod stats;

use anyhow::{bail, Context};
use servers::{Kind, Programs};
use shapes::{JoinResult, Shape, ShapeResult};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

const USAGE: &str = "\
journeyboard-bench: Journeyboard vs the reference Node y-websocket server, same shapes, same run

USAGE: journeyboard-bench [--quick] [--servers ours,node] [--only SHAPE,...] [--server-bin PATH]
                          [--measure SECS] [--json FILE]

  --quick            small shapes, about two minutes in all
  --servers LIST     which servers to run: ours, node (default both)
  --only LIST        shape names to run (fanout, crowd, company, many, join)
  --server-bin PATH  the journeyboard binary (default: build it, release, next to this one)
  --measure SECS     measuring time per shape (default 30, quick 6)
  --json FILE        also write the JSON line to FILE
";

struct Args {
    quick: bool,
    servers: Vec<Kind>,
    only: Option<Vec<String>>,
    server_bin: Option<PathBuf>,
    measure: Option<f64>,
    json: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        quick: false,
        servers: vec![Kind::Ours, Kind::Node],
        only: None,
        server_bin: None,
        measure: None,
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
                        other => bail!("unknown server {other:?}"),
                    })
                    .collect::<anyhow::Result<_>>()?
            }
            "--only" => args.only = Some(value()?.split(',').map(String::from).collect()),
            "--server-bin" => args.server_bin = Some(PathBuf::from(value()?)),
            "--measure" => args.measure = Some(value()?.parse()?),
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
    results: BTreeMap<String, BTreeMap<String, ShapeResult>>,
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
    };
    if args.servers.contains(&Kind::Node) {
        servers::ensure_node(&node_dir)?;
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
        ..Default::default()
    };

    for (key, shape) in shapes(args.quick, args.measure) {
        if !wanted(key) {
            continue;
        }
        report.shapes.insert(key.to_string(), shape.clone());
        for &kind in &args.servers {
            eprintln!(
                "[{:>5.0}s] {key}: {} on {}",
                started.elapsed().as_secs_f64(),
                shape.name,
                kind.label()
            );
            match shapes::run_shape(kind, &programs, &shape, !args.quick).await {
                Ok(result) => {
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
                        .insert(server_key(kind).into(), result);
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

fn compute_ratios(report: &mut Report) {
    for (shape, by_server) in &report.results {
        let (Some(ours), Some(node)) = (by_server.get("journeyboard"), by_server.get("node"))
        else {
            continue;
        };
        for (name, get) in METRICS {
            if let (Some(a), Some(b)) = (get(ours), get(node)) {
                if b > 0.0 && !name.starts_with("delivered") && !name.starts_with("lost") {
                    report
                        .ratios
                        .insert(format!("{shape}: {}", name.trim()), a / b);
                }
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
    if let Some(by) = report.results.get("fanout") {
        if let Some(ours) = by.get("journeyboard") {
            add(
                "fan-out p99 < 10 ms (10x20 @ 10 Hz)",
                format!("{:.2} ms", ours.fanout.p99_ms),
                ours.fanout.p99_ms < 10.0,
            );
            add(
                "peak RSS < 40 MB (10x20)",
                format!("{:.1} MiB", ours.peak_rss_mib),
                ours.peak_rss_mib * 1.048576 < 40.0,
            );
            if let Some(node) = by.get("node") {
                let r = ours.fanout.p99_ms / node.fanout.p99_ms;
                add("fan-out p99 <= 1/5 of Node's", format!("{r:.3}x"), r <= 0.2);
                let r = ours.cpu_measure_s / node.cpu_measure_s;
                add("server CPU <= 1/4 of Node's", format!("{r:.3}x"), r <= 0.25);
            }
        }
    }
    for (key, by) in &report.results {
        if let Some(ours) = by.get("journeyboard") {
            add(
                &format!("no lost updates, converged ({key})"),
                format!("lost {}, {}", ours.lost, ours.converged),
                ours.lost == 0 && ours.converged,
            );
        }
    }
    if let Some(ours) = report
        .results
        .get("many")
        .and_then(|by| by.get("journeyboard"))
    {
        if let Some(kib) = ours.per_board_loaded_kib {
            add(
                "idle memory per loaded 100-note board < 200 KB",
                format!("{kib:.0} KiB"),
                kib * 1.024 < 200.0,
            );
        }
        if let Some(n) = ours.unloaded_boards {
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
        for (name, get) in METRICS {
            let a = by.get("journeyboard").and_then(get);
            let b = by.get("node").and_then(get);
            if a.is_none() && b.is_none() {
                continue;
            }
            let ratio = match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
                _ => "-".into(),
            };
            let _ = writeln!(t, "{:<28} {:>14} {:>14} {:>9}", name, fmt(a), fmt(b), ratio);
        }
        for (server, r) in by {
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
