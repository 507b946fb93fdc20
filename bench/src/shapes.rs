//! The load shapes: rooms of clients sending at a rate, a reconnect storm, idle memory, and
//! joins of a large board.

use crate::client::{self, ClientResult, ClientSpec, Hub, Phase, RoomTrack};
use crate::servers::{Kind, Programs, Server};
use crate::stats::{self, Stats};
use anyhow::{bail, Context};
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use yrs::{ClientID, StateVector};

/// A room shape.
#[derive(Debug, Clone, Serialize)]
pub struct Shape {
    pub name: String,
    pub boards: usize,
    /// Clients per board.
    pub clients: usize,
    /// Of which send updates.
    pub active: usize,
    /// Updates per second per active client.
    pub rate_hz: f64,
    /// Full (integrating) clients per checked board, among the active ones.
    pub checkers: usize,
    /// Boards whose convergence is checked.
    pub checked_boards: usize,
    /// Notes the first client of each board adds at setup.
    pub seed_notes: usize,
    pub measure_s: f64,
    /// All clients drop at once and rejoin after the run.
    pub storm: bool,
    /// One more client in board 0 stops reading once synced.
    pub stall: bool,
    /// Measure memory per board, then (full mode, Journeyboard) wait for idle boards to unload.
    pub memory: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ShapeResult {
    /// Which round of the shape this was (1 unless `--rounds`).
    pub round: usize,
    /// Send until every other client of the room has the update.
    pub fanout: Stats,
    /// Send until the first receiver has it, for the updates of `fanout`.
    pub first: Stats,
    /// Send until the update reached every other client's socket (the kernel's receive
    /// stamps), for the updates of `fanout`: the fan-out without the receivers' wake-ups.
    pub arrival: Stats,
    /// Send until one receiver has it, over every (update, receiver) pair.
    pub delivery: Stats,
    pub sent: u64,
    pub delivered_per_s: f64,
    /// (update, receiver) pairs never delivered.
    pub lost: usize,
    pub converged: bool,
    pub convergence: String,
    pub connect_s: f64,
    /// Server CPU seconds while measuring, and for the whole shape (connects, storm...).
    pub cpu_measure_s: f64,
    /// Of `cpu_measure_s`, in user space (the rest is the kernel's, mostly socket writes).
    pub user_cpu_measure_s: f64,
    pub cpu_total_s: f64,
    pub bench_cpu_measure_s: f64,
    pub peak_rss_mib: f64,
    pub storm_ms: Option<f64>,
    /// Connection attempts retried during the storm (refused or reset, then tried again).
    pub storm_retries: Option<usize>,
    /// (RSS with every client connected - RSS at start) / boards.
    pub per_board_connected_kib: Option<f64>,
    /// (RSS once every client left, boards still loaded - RSS at start) / boards.
    pub per_board_idle_kib: Option<f64>,
    /// (RSS with every board loaded and no client - RSS before) / boards, in a freshly
    /// restarted server (Journeyboard only: Node loads a room only for a client).
    pub per_board_loaded_kib: Option<f64>,
    /// Boards unloaded within 60 s of being loaded with no client (Journeyboard, full mode).
    pub unloaded_boards: Option<usize>,
    /// Server RSS (MiB) at each step of a memory shape.
    pub rss_steps: Vec<(String, f64)>,
}

/// Runs one shape against a freshly started server.
pub async fn run_shape(
    kind: Kind,
    programs: &Programs,
    shape: &Shape,
    wait_unload: bool,
) -> anyhow::Result<ShapeResult> {
    let server = Server::start(kind, programs).await?;
    let result = run_on(&server, shape, wait_unload).await;
    let (mut out, urls) = match result {
        Ok(r) => r,
        Err(e) => {
            server.finish().await?;
            return Err(e);
        }
    };
    if !(shape.memory && kind == Kind::Ours) {
        server.finish().await?;
        return Ok(out);
    }
    // A loaded board's own memory, without connections or what they left behind: restart
    // (nothing loaded), then load every board through its summary (no client joins).
    let server = server.restart().await?;
    let result = loaded_board_memory(&server, &urls, &mut out, wait_unload).await;
    server.finish().await?;
    result.map(|()| out)
}

async fn loaded_board_memory(
    server: &Server,
    urls: &[String],
    out: &mut ShapeResult,
    wait_unload: bool,
) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let base = server.rss_kib();
    out.rss_steps
        .push(("restarted".into(), base as f64 / 1024.0));
    let loaded: Vec<anyhow::Result<()>> = futures_util::stream::iter(urls)
        .map(|url| server.load_board(url))
        .buffered(16)
        .collect()
        .await;
    loaded.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = server.rss_kib();
    out.rss_steps.push((
        "every board loaded by a summary request, no clients".into(),
        rss as f64 / 1024.0,
    ));
    out.per_board_loaded_kib = Some(rss.saturating_sub(base) as f64 / urls.len() as f64);
    if wait_unload {
        // Unused boards unload after the idle time (30 s).
        let until = Instant::now() + Duration::from_secs(60);
        while server.unloads.load(Ordering::Relaxed) < urls.len() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        out.unloaded_boards = Some(server.unloads.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_secs(1)).await;
        out.rss_steps
            .push(("boards unloaded".into(), server.rss_kib() as f64 / 1024.0));
    }
    Ok(())
}

async fn run_on(
    server: &Server,
    shape: &Shape,
    _wait_unload: bool,
) -> anyhow::Result<(ShapeResult, Vec<String>)> {
    let mut out = ShapeResult::default();
    let base_rss = server.rss_kib();
    let cpu_start = server.cpu_seconds();
    let started = Instant::now();

    let step = |out: &mut ShapeResult, name: &str| {
        if shape.memory {
            out.rss_steps
                .push((name.to_string(), server.rss_kib() as f64 / 1024.0));
        }
    };
    step(&mut out, "started");
    let urls = create_boards(server, shape.boards).await?;
    step(&mut out, "boards created");
    let tracks: Vec<Arc<RoomTrack>> = (0..shape.boards)
        .map(|_| {
            let t = Arc::new(RoomTrack::default());
            t.receivers.store(shape.clients, Ordering::Relaxed);
            t
        })
        .collect();

    let mut specs = Vec::new();
    for (b, url) in urls.iter().enumerate() {
        for c in 0..shape.clients {
            let active = c < shape.active;
            let offset = if active {
                Duration::from_secs_f64(
                    (client::rand_u64() % 1_000_000) as f64 / 1_000_000.0 / shape.rate_hz,
                )
            } else {
                Duration::ZERO
            };
            specs.push(ClientSpec {
                url: url.clone(),
                track: Arc::clone(&tracks[b]),
                full: b < shape.checked_boards && c < shape.checkers,
                rate_hz: if active { shape.rate_hz } else { 0.0 },
                seed_notes: if c == 0 { shape.seed_notes } else { 0 },
                stall: false,
                offset,
            });
        }
    }
    if shape.stall {
        specs.push(ClientSpec {
            url: urls[0].clone(),
            track: Arc::clone(&tracks[0]),
            full: false,
            rate_hz: 0.0,
            seed_notes: 0,
            stall: true,
            offset: Duration::ZERO,
        });
    }
    let total = specs.len();
    let (phase_tx, phase_rx) = watch::channel(Phase::Setup);
    let hub = Arc::new(Hub::default());
    let mut handles = Vec::with_capacity(total);
    // Connect in waves, as people arrive, not as a SYN flood.
    const WAVE: usize = 50;
    for (i, spec) in specs.into_iter().enumerate() {
        handles.push(tokio::spawn(client::run(
            spec,
            phase_rx.clone(),
            Arc::clone(&hub),
        )));
        if (i + 1) % WAVE == 0 {
            hub.wait_synced(i + 1, Duration::from_secs(60))
                .await
                .context("connecting")?;
        }
    }
    hub.wait_synced(total, Duration::from_secs(60))
        .await
        .context("connecting")?;
    out.connect_s = started.elapsed().as_secs_f64();
    // Setup updates (each sender's note, seed notes) settle.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    step(&mut out, "clients connected, notes seeded");

    let cpu_before = server.cpu_seconds();
    let user_cpu_before = server.user_cpu_seconds();
    let bench_before = stats::cpu_seconds("self");
    let measure_start = Instant::now();
    phase_tx.send_replace(Phase::Measure);
    tokio::time::sleep(Duration::from_secs_f64(shape.measure_s)).await;
    let connected_rss = server.rss_kib();
    step(&mut out, "after measuring");
    phase_tx.send_replace(Phase::Quiet);
    let measured = measure_start.elapsed().as_secs_f64();
    out.cpu_measure_s = server.cpu_seconds() - cpu_before;
    out.user_cpu_measure_s = server.user_cpu_seconds() - user_cpu_before;
    out.bench_cpu_measure_s = stats::cpu_seconds("self") - bench_before;

    // Drain what is in flight.
    let drain_until = Instant::now() + Duration::from_secs(10);
    while tracks.iter().any(|t| t.undelivered() > 0) && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out.lost = tracks.iter().map(|t| t.undelivered()).sum();
    out.sent = tracks.iter().map(|t| t.sent.load(Ordering::Relaxed)).sum();

    // What a newcomer gets from the server, per checked board.
    let mut server_docs = Vec::new();
    for b in 0..shape.checked_boards.min(shape.boards) {
        let expected = {
            let clocks = tracks[b].final_clocks.lock().unwrap();
            let mut sv = StateVector::default();
            for (client, clock) in clocks.iter() {
                sv.set_max(ClientID::new(*client), *clock);
            }
            sv
        };
        let joined = client::join_once(&urls[b], &expected, true, Duration::from_secs(20)).await;
        server_docs.push(joined.map(|(_, doc)| doc));
    }

    if shape.storm {
        hub.synced.store(0, Ordering::SeqCst);
        let retries_before = client::RETRIES.load(Ordering::Relaxed);
        let storm_start = Instant::now();
        phase_tx.send_replace(Phase::Storm(1));
        hub.wait_synced(total, Duration::from_secs(120))
            .await
            .context("reconnect storm")?;
        out.storm_ms = Some(storm_start.elapsed().as_secs_f64() * 1000.0);
        out.storm_retries = Some(client::RETRIES.load(Ordering::Relaxed) - retries_before);
    }
    out.peak_rss_mib = server.peak_rss_kib() as f64 / 1024.0;

    phase_tx.send_replace(Phase::Stop);
    let mut results: Vec<ClientResult> = Vec::with_capacity(total);
    let mut failures = Vec::new();
    for handle in handles {
        match tokio::time::timeout(Duration::from_secs(30), handle).await {
            Ok(Ok(Ok(r))) => results.push(r),
            Ok(Ok(Err(e))) => failures.push(e.to_string()),
            Ok(Err(e)) => failures.push(e.to_string()),
            Err(_) => failures.push("client did not stop".into()),
        }
    }
    if !failures.is_empty() {
        failures.sort();
        failures.dedup();
        eprintln!(
            "  {} clients ended with errors: {:?}",
            total - results.len(),
            failures
        );
    }

    out.fanout = Stats::from_micros(
        tracks
            .iter()
            .flat_map(|t| t.fanout_us.lock().unwrap().clone())
            .collect(),
    );
    out.first = Stats::from_micros(
        tracks
            .iter()
            .flat_map(|t| t.first_us.lock().unwrap().clone())
            .collect(),
    );
    out.arrival = Stats::from_micros(
        tracks
            .iter()
            .flat_map(|t| t.arrival_us.lock().unwrap().clone())
            .collect(),
    );
    out.delivery = client::merge_latencies(&results);
    out.delivered_per_s = out.delivery.count as f64 / measured;

    // Convergence: each checker's document equals what a newcomer got from the server, and
    // that covers every update every sender made.
    let mut notes = Vec::new();
    let mut checked = 0;
    let checker_docs: Vec<_> = results.iter().filter_map(|r| r.doc.as_ref()).collect();
    for (b, server_doc) in server_docs.iter().enumerate() {
        let server_doc = match server_doc {
            Ok(Some(doc)) => client::doc_state(doc),
            Ok(None) => unreachable!("join kept its document"),
            Err(e) => {
                notes.push(format!("board {b}: newcomer never got every update: {e}"));
                continue;
            }
        };
        let board_checkers = &checker_docs[b * shape.checkers..(b + 1) * shape.checkers];
        for (i, doc) in board_checkers.iter().enumerate() {
            checked += 1;
            if client::doc_state(doc) != server_doc {
                notes.push(format!("board {b}: checker {i} differs from the server"));
            }
        }
    }
    if checker_docs.len() != shape.checked_boards.min(shape.boards) * shape.checkers {
        notes.push("some checkers failed".into());
    }
    out.converged = notes.is_empty() && failures.is_empty() && out.lost == 0;
    out.convergence = if notes.is_empty() {
        format!(
            "{checked} checker documents identical to the server's on {} boards",
            server_docs.len()
        )
    } else {
        notes.join("; ")
    };

    if shape.memory {
        let boards = shape.boards as f64;
        out.per_board_connected_kib = Some(connected_rss.saturating_sub(base_rss) as f64 / boards);
        // Every client left; Journeyboard keeps boards loaded a while (Node unloads at once).
        tokio::time::sleep(Duration::from_secs(2)).await;
        out.per_board_idle_kib = Some(server.rss_kib().saturating_sub(base_rss) as f64 / boards);
        step(&mut out, "clients gone, boards loaded");
    }
    out.cpu_total_s = server.cpu_seconds() - cpu_start;
    Ok((out, urls))
}

async fn create_boards(server: &Server, count: usize) -> anyhow::Result<Vec<String>> {
    use futures_util::StreamExt;
    // 16 at a time: Journeyboard flushes its store on each creation.
    futures_util::stream::iter(0..count)
        .map(|i| server.create_board_titled(i))
        .buffered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Join times for a large board.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JoinResult {
    pub notes: usize,
    pub warm: Stats,
    pub cold: Stats,
}

/// Populates boards with `notes` notes, then times fresh joins: warm (the room loaded: one
/// client stays connected), and cold after a server restart (loaded from the store).
pub async fn run_join(
    kind: Kind,
    programs: &Programs,
    notes: usize,
    warm_samples: usize,
    cold_boards: usize,
) -> anyhow::Result<JoinResult> {
    let mut server = Server::start(kind, programs).await?;
    let result = async {
        let mut boards = Vec::new();
        for i in 0..=cold_boards {
            let url = server.create_board(&format!("Big board {i}")).await?;
            let (sv, mut populator) = client::populate(&url, notes, 250).await?;
            // The server has it all once a newcomer gets it all.
            client::join_once(&url, &sv, true, Duration::from_secs(60)).await?;
            let _ = futures_util::SinkExt::close(&mut populator).await;
            boards.push((url, sv));
        }
        // Warm: keep a client on board 0 (Node unloads a room when its last client leaves).
        let holder = client::connect(&boards[0].0, client::LOAD_READ_BUFFER).await?;
        let mut warm = Vec::new();
        for _ in 0..warm_samples {
            let (t, _) =
                client::join_once(&boards[0].0, &boards[0].1, false, Duration::from_secs(30))
                    .await?;
            warm.push(t.as_secs_f64() * 1000.0);
        }
        drop(holder);
        // Give Node's leveldb writes time to land before the restart.
        tokio::time::sleep(Duration::from_secs(2)).await;
        anyhow::Ok((boards, warm))
    }
    .await;
    let (boards, warm) = match result {
        Ok(r) => r,
        Err(e) => {
            server.finish().await?;
            return Err(e);
        }
    };
    let old_addr = server.addr.to_string();
    server = server.restart().await?;
    let new_addr = server.addr.to_string();
    let mut cold = Vec::new();
    let mut error = None;
    for (url, sv) in boards.iter().skip(1) {
        // The restarted server listens on a new port.
        let url = url.replace(&old_addr, &new_addr);
        match client::join_once(&url, sv, false, Duration::from_secs(30)).await {
            Ok((t, _)) => cold.push(t.as_secs_f64() * 1000.0),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    server.finish().await?;
    if let Some(e) = error {
        bail!("cold join: {e}");
    }
    Ok(JoinResult {
        notes,
        warm: Stats::from_millis(&warm),
        cold: Stats::from_millis(&cold),
    })
}
