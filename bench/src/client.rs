//! A load-generating y-websocket client, as cheap as the measurement allows.
//!
//! Every client speaks the protocol like the JS `WebsocketProvider`: sync step 1 on connect,
//! a step 2 answering the server's step 1, presence (awareness) once per connection, one
//! update per local change. What a client does with incoming updates depends on its kind:
//! - a *light* client only reads each update's header (the first struct's client id and
//!   clock), which identifies the update and so its send time; it keeps a document of its own
//!   edits only, enough to answer a sync step 1 after a reconnect;
//! - a *full* client (a few per room) also integrates every update into a whole document, so
//!   that convergence can be checked at the end.
//!
//! Edits follow the board schema (docs/SCHEMA.md): each sending client owns one note in the
//! `notes` root map and types into its `text`, moving it to another stage now and then.
//!
//! This file holds a load client's connection loop and its handling of incoming messages,
//! and what `shapes.rs` coordinates the clients with; around it: `track` (a room's measured
//! updates), `local` (a client's own edits), `connect` (opening the WebSocket), `join` (the
//! one-off clients that join or fill a board).

mod connect;
mod join;
mod local;
mod track;

pub use connect::{connect, LOAD_READ_BUFFER, RETRIES};
pub use join::{join_once, populate};
pub use track::RoomTrack;

use crate::stats::Stats;
use crate::wire::{step1, step2, update_frame, update_key, Reader};
use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use local::Local;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::Message as Ws;
use track::micros;
use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::{Any, Doc, ReadTxn, StateVector, Transact, Update};

/// What the coordinator asks every client of a shape to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Connected and idle; senders create their note.
    Setup,
    /// Senders send at their rate.
    Measure,
    /// Nobody sends; updates in flight drain.
    Quiet,
    /// Drop the connection without a close frame and rejoin (the number is the storm's
    /// generation).
    Storm(u32),
    /// Close and report.
    Stop,
}

/// Where clients report that they are synced.
#[derive(Default)]
pub struct Hub {
    pub synced: AtomicUsize,
    pub failed: AtomicUsize,
    pub changed: Notify,
}

impl Hub {
    /// Waits until `count` clients synced since the counter was last reset.
    pub async fn wait_synced(&self, count: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            let synced = self.synced.load(Ordering::SeqCst);
            if synced >= count {
                return Ok(());
            }
            let failed = self.failed.load(Ordering::SeqCst);
            if failed > 0 {
                bail!("{failed} clients failed ({synced}/{count} synced)");
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!("timed out: {synced}/{count} clients synced");
            }
        }
    }

    fn report_synced(&self) {
        self.synced.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }
}

/// One client's part in a shape.
#[derive(Clone)]
pub struct ClientSpec {
    pub url: String,
    pub track: Arc<RoomTrack>,
    /// Integrates every update into a whole document (convergence checkers).
    pub full: bool,
    /// Updates per second while measuring; 0 for an idle client.
    pub rate_hz: f64,
    /// Notes this client creates at setup (besides its own typing note, if it sends).
    pub seed_notes: usize,
    /// Stops reading the socket once synced (a stalled browser tab).
    pub stall: bool,
    /// Delay before the first update, so that clients do not tick in lockstep.
    pub offset: Duration,
}

/// What a client hands back when told to stop.
pub struct ClientResult {
    pub latencies_us: Vec<u32>,
    pub received_updates: u64,
    pub doc: Option<Doc>,
}

/// Runs one client until told to stop.
pub async fn run(
    spec: ClientSpec,
    mut phase: watch::Receiver<Phase>,
    hub: Arc<Hub>,
) -> anyhow::Result<ClientResult> {
    let result = run_inner(spec, &mut phase, &hub).await;
    if result.is_err() {
        hub.failed.fetch_add(1, Ordering::SeqCst);
        hub.changed.notify_waiters();
    }
    result
}

async fn run_inner(
    spec: ClientSpec,
    phase: &mut watch::Receiver<Phase>,
    hub: &Hub,
) -> anyhow::Result<ClientResult> {
    let mut local = Local::new();
    let full = spec.full.then(Doc::new);
    let mut out = ClientResult {
        latencies_us: Vec::new(),
        received_updates: 0,
        doc: None,
    };
    let sends = spec.rate_hz > 0.0;
    let mut storm_gen = 0;
    let mut ws = connect(&spec.url, LOAD_READ_BUFFER).await?;
    let mut first = true;
    'connection: loop {
        // Like the JS provider: our step 1, then our presence.
        let sv = match &full {
            Some(doc) => doc.transact().state_vector(),
            None => StateVector::default(),
        };
        ws.send(Ws::Binary(step1(&sv).into())).await?;
        ws.send(Ws::Binary(local.presence().into())).await?;
        let mut synced = false;
        let period = if sends {
            Duration::from_secs_f64(1.0 / spec.rate_hz)
        } else {
            Duration::from_secs(3600)
        };
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + spec.offset, period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stalled = spec.stall && synced;
            tokio::select! {
                frame = ws.next(), if !stalled => {
                    let data = match frame {
                        Some(Ok(Ws::Binary(data))) => data,
                        Some(Ok(Ws::Close(_))) | None => {
                            if *phase.borrow() == Phase::Stop {
                                break 'connection;
                            }
                            bail!("server closed the connection");
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(e.into()),
                    };
                    let now = Instant::now();
                    let arrival = ws.get_ref().last_arrival();
                    match handle(&data, &spec.track, full.as_ref(), &local, (now, arrival), &mut out)? {
                        Reply::None => {}
                        Reply::Send(frame) => ws.send(Ws::Binary(frame.into())).await?,
                        Reply::Synced => {
                            if !synced {
                                synced = true;
                                if first {
                                    first = false;
                                    if sends || spec.seed_notes > 0 {
                                        let update = local.create_notes(spec.seed_notes, sends);
                                        if let Some(doc) = &full {
                                            apply(doc, &update)?;
                                        }
                                        ws.send(Ws::Binary(update_frame(&update).into())).await?;
                                    }
                                }
                                hub.report_synced();
                            }
                        }
                    }
                }
                _ = ticker.tick(), if sends => {
                    if *phase.borrow() != Phase::Measure || local.note.is_none() {
                        continue;
                    }
                    let (update, key, end) = local.edit();
                    if let Some(doc) = &full {
                        apply(doc, &update)?;
                    }
                    spec.track.register(key, end);
                    ws.send(Ws::Binary(update_frame(&update).into())).await?;
                }
                changed = phase.changed() => {
                    if changed.is_err() {
                        break 'connection;
                    }
                    let now_phase = *phase.borrow();
                    match now_phase {
                        Phase::Stop => {
                            let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                            break 'connection;
                        }
                        Phase::Storm(gen) if gen > storm_gen => {
                            storm_gen = gen;
                            // Gone without a close frame, as when a network drops.
                            drop(ws);
                            ws = connect(&spec.url, LOAD_READ_BUFFER).await?;
                            continue 'connection;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    out.doc = full;
    Ok(out)
}

enum Reply {
    None,
    Send(Vec<u8>),
    Synced,
}

fn handle(
    data: &[u8],
    track: &RoomTrack,
    full: Option<&Doc>,
    local: &Local,
    (now, arrival): (Instant, Option<SystemTime>),
    out: &mut ClientResult,
) -> anyhow::Result<Reply> {
    let mut r = Reader(data);
    match r.var()? {
        0 => match r.var()? {
            0 => {
                let sv = StateVector::decode_v1(r.bytes()?)?;
                let diff = match full {
                    Some(doc) => doc.transact().encode_diff_v1(&sv),
                    None => local.doc.transact().encode_diff_v1(&sv),
                };
                Ok(Reply::Send(step2(&diff)))
            }
            1 => {
                if let Some(doc) = full {
                    apply(doc, r.bytes()?)?;
                }
                Ok(Reply::Synced)
            }
            2 => {
                let update = r.bytes()?;
                if let Some(doc) = full {
                    apply(doc, update)?;
                }
                out.received_updates += 1;
                if let Some(key) = update_key(update) {
                    if let Some(latency) = track.delivered(key, now, arrival) {
                        out.latencies_us.push(micros(latency));
                    }
                }
                Ok(Reply::None)
            }
            other => bail!("unknown sync message {other}"),
        },
        _ => Ok(Reply::None),
    }
}

fn apply(doc: &Doc, update: &[u8]) -> anyhow::Result<()> {
    let update = Update::decode_v1(update).context("decode update")?;
    doc.transact_mut()
        .apply_update(update)
        .context("apply update")?;
    Ok(())
}

/// A document's content as comparable values: every root type as JSON, and its state vector.
pub fn doc_state(doc: &Doc) -> (Any, Vec<(u64, u32)>) {
    let txn = doc.transact();
    let json = doc.to_json(&txn);
    let mut sv: Vec<(u64, u32)> = txn
        .state_vector()
        .iter()
        .map(|(c, k)| (c.get(), *k))
        .collect();
    sv.sort_unstable();
    (json, sv)
}

pub fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    u64::from_le_bytes(bytes)
}

/// Merges the latencies every client of a shape reported.
pub fn merge_latencies(results: &[ClientResult]) -> Stats {
    let mut all = Vec::new();
    for r in results {
        all.extend_from_slice(&r.latencies_us);
    }
    Stats::from_micros(all)
}
