//! `journeyboard-bench`: a y-websocket load generator that runs the same shapes against
//! Journeyboard and the reference Node server (`@y/websocket-server`), each started here on
//! 127.0.0.1 with a fresh data directory and persistence on, and reports both side by side
//! with ratios (absolute times drift on a shared machine; ratios from one run hold better).
//!
//! ```sh
//! cargo run --release -p journeyboard-bench -- --quick    # about two minutes
//! cargo run --release -p journeyboard-bench               # the full run, about 6 minutes
//! ```
//!
//! Prints a readable table on stderr and one JSON line on stdout (also `--json FILE`).
//! With `--rounds N` each shape runs N times, the servers taking turns, and the table shows
//! medians: a ratio is the median of the rounds' ratios, each from two runs back to back.
//! BENCHMARKS.md has the figures, how they are measured and how to read them.
//!
//! This file holds the run itself (which shapes, in which order, on which servers); around it:
//! `args` (the flags), `servers` (starting the servers under test), `shapes` (running one
//! shape), `client` (the load clients), `report` (the JSON line and its ratios), `targets`
//! (what Journeyboard is held to), `table` (the readable table); `stats`, `wire` and
//! `stamped` are their helpers.

mod args;
mod client;
mod report;
mod servers;
mod shapes;
mod stamped;
mod stats;
mod table;
mod targets;
mod wire;

use anyhow::{bail, Context};
use args::{parse_args, Args};
use report::{compute_ratios, Report};
use servers::{Kind, Programs};
use shapes::Shape;
use std::path::PathBuf;
use std::time::Instant;
use table::print_table;
use targets::check_targets;

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
