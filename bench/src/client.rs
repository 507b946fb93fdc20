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

use crate::stamped::StampedTcp;
use crate::stats::Stats;
use crate::wire::{step1, step2, update_frame, update_key, write_var, Reader};
use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::WebSocketStream;
use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::{
    Any, ClientID, Doc, GetString, Map, MapPrelim, MapRef, ReadTxn, StateVector, Text, TextPrelim,
    TextRef, Transact, Update,
};

pub type Socket = WebSocketStream<StampedTcp>;

/// Every measured update of one room, from its send until each receiver has it.
#[derive(Default)]
pub struct RoomTrack {
    /// Clients that receive this room's updates (all but stalled ones).
    pub receivers: AtomicUsize,
    pending: Mutex<HashMap<(u64, u32), Pending>>,
    /// Send-to-last-receiver latency of each update every receiver got, in microseconds.
    pub fanout_us: Mutex<Vec<u32>>,
    /// Send-to-first-receiver latency of the same updates: what the fan-out took before the
    /// relays' spread over the receivers (the sender's write, the server's wake-up and work
    /// up to its first relay, that receiver's wake-up).
    pub first_us: Mutex<Vec<u32>>,
    /// Send until the update reached the last receiver's socket (the kernel's receive stamp,
    /// `stamped.rs`): the fan-out without the receiving clients' own wake-ups.
    pub arrival_us: Mutex<Vec<u32>>,
    pub sent: AtomicU64,
    /// The highest clock each sender reached: the server must end up with at least that.
    pub final_clocks: Mutex<HashMap<u64, u32>>,
}

struct Pending {
    sent: Instant,
    /// The same moment on the wall clock, which the kernel's receive stamps use.
    sent_wall: SystemTime,
    remaining: usize,
    first: Duration,
    worst: Duration,
    worst_arrival: Duration,
}

impl RoomTrack {
    fn register(&self, key: (u64, u32), end_clock: u32) {
        let remaining = self.receivers.load(Ordering::Relaxed).saturating_sub(1);
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.final_clocks.lock().unwrap().insert(key.0, end_clock);
        if remaining == 0 {
            return;
        }
        self.pending.lock().unwrap().insert(
            key,
            Pending {
                sent: Instant::now(),
                sent_wall: SystemTime::now(),
                remaining,
                first: Duration::MAX,
                worst: Duration::ZERO,
                worst_arrival: Duration::ZERO,
            },
        );
    }

    /// Records one delivery, read at `at` and received by the kernel at `arrival` (if the
    /// socket had a stamp); returns its latency if the update is a measured one.
    fn delivered(
        &self,
        key: (u64, u32),
        at: Instant,
        arrival: Option<SystemTime>,
    ) -> Option<Duration> {
        let mut pending = self.pending.lock().unwrap();
        let entry = pending.get_mut(&key)?;
        let latency = at.saturating_duration_since(entry.sent);
        // Without a stamp, the read time: never earlier than the arrival.
        let arrived = arrival
            .and_then(|a| a.duration_since(entry.sent_wall).ok())
            .map_or(latency, |a| a.min(latency));
        entry.first = entry.first.min(latency);
        entry.worst = entry.worst.max(latency);
        entry.worst_arrival = entry.worst_arrival.max(arrived);
        entry.remaining -= 1;
        if entry.remaining == 0 {
            let (first, worst, arrival) = (entry.first, entry.worst, entry.worst_arrival);
            pending.remove(&key);
            drop(pending);
            self.fanout_us.lock().unwrap().push(micros(worst));
            self.first_us.lock().unwrap().push(micros(first));
            self.arrival_us.lock().unwrap().push(micros(arrival));
        }
        Some(latency)
    }

    /// (update, receiver) pairs still undelivered.
    pub fn undelivered(&self) -> usize {
        self.pending
            .lock()
            .unwrap()
            .values()
            .map(|p| p.remaining)
            .sum()
    }
}

pub fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

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

const STAGES: [&str; 5] = [
    "awareness",
    "consideration",
    "purchase",
    "retention",
    "advocacy",
];

/// The client's own edits: a document holding them and handles on its note.
struct Local {
    doc: Doc,
    client: u64,
    note: Option<(MapRef, TextRef)>,
    edits: u64,
    awareness_clock: u32,
}

impl Local {
    fn new() -> Local {
        let doc = Doc::with_client_id(rand_u64() & ((1 << 53) - 1));
        let client = doc.client_id().get();
        Local {
            doc,
            client,
            note: None,
            edits: 0,
            awareness_clock: 0,
        }
    }

    /// Adds `count` notes (and a typing note of its own if `own`); returns the update.
    fn create_notes(&mut self, count: usize, own: bool) -> Vec<u8> {
        let notes = self.doc.get_or_insert_map("notes");
        let mut txn = self.doc.transact_mut();
        for i in 0..count {
            let id = uuid::Uuid::new_v4().to_string();
            let note = note_prelim(&id, i, self.client);
            let map = notes.insert(&mut txn, id.as_str(), note);
            let text: TextRef = map.insert(&mut txn, "text", TextPrelim::new(""));
            text.insert(
                &mut txn,
                0,
                &format!("Seed note {i}: what the customer feels here"),
            );
        }
        if own {
            let id = uuid::Uuid::new_v4().to_string();
            let map = notes.insert(&mut txn, id.as_str(), note_prelim(&id, 0, self.client));
            let text: TextRef = map.insert(&mut txn, "text", TextPrelim::new(""));
            self.note = Some((map, text));
        }
        txn.encode_update_v1()
    }

    /// One keystroke in its note (every tenth change moves the note instead). Returns the
    /// update and its key: (client, first clock), with the clock it ends at.
    fn edit(&mut self) -> (Vec<u8>, (u64, u32), u32) {
        let (map, text) = self.note.clone().expect("a sending client has a note");
        let cid = ClientID::new(self.client);
        let mut txn = self.doc.transact_mut();
        let start = txn.state_vector().get(&cid);
        self.edits += 1;
        if self.edits.is_multiple_of(10) {
            let stage = STAGES[(self.edits / 10 % 5) as usize];
            map.insert(&mut txn, "stage", stage);
        } else {
            let len = text.len(&txn);
            text.insert(&mut txn, len, "x");
            if len >= 80 {
                text.remove_range(&mut txn, 0, 1);
            }
        }
        let end = txn.state_vector().get(&cid);
        (txn.encode_update_v1(), (self.client, start), end)
    }

    fn presence(&mut self) -> Vec<u8> {
        self.awareness_clock += 1;
        let json = format!(
            r##"{{"user":{{"name":"Bench {}","color":"#30bced"}},"selected":null}}"##,
            self.client % 10_000
        );
        let mut update = Vec::new();
        write_var(&mut update, 1);
        write_var(&mut update, self.client);
        write_var(&mut update, self.awareness_clock as u64);
        write_var(&mut update, json.len() as u64);
        update.extend_from_slice(json.as_bytes());
        let mut frame = vec![1];
        write_var(&mut frame, update.len() as u64);
        frame.extend_from_slice(&update);
        frame
    }
}

fn note_prelim(id: &str, i: usize, client: u64) -> MapPrelim {
    MapPrelim::from([
        ("id".to_string(), yrs::In::from(id)),
        ("stage".to_string(), yrs::In::from(STAGES[i % 5])),
        ("lane".to_string(), yrs::In::from("emotions")),
        ("color".to_string(), yrs::In::from("yellow")),
        (
            "author".to_string(),
            yrs::In::from(format!("bench-{}", client % 10_000)),
        ),
        ("created_at".to_string(), yrs::In::from(0.0)),
    ])
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

/// Connection attempts that failed and were retried (a full listen backlog, a refused upgrade).
pub static RETRIES: AtomicUsize = AtomicUsize::new(0);

/// How much a client reads per system call. tungstenite zero-fills the free part of its read
/// buffer before every read, and its default buffer is 128 KiB: with the small frames of a
/// load run that fill was about half of the generator's CPU (a `perf` profile of fanout), so
/// load clients read 4 KiB at a time. A frame larger than that still arrives whole.
pub const LOAD_READ_BUFFER: usize = 4 * 1024;

/// For a client that receives a whole board at once (a join): fewer, larger reads.
pub const JOIN_READ_BUFFER: usize = 128 * 1024;

/// Connects with TCP_NODELAY (as a browser's WebSocket does), the kernel's receive stamps on,
/// and a read buffer of `read_buffer` bytes.
pub async fn connect(url: &str, read_buffer: usize) -> anyhow::Result<Socket> {
    let mut attempt = 0;
    loop {
        match connect_once(url, read_buffer).await {
            Ok(ws) => return Ok(ws),
            // A listen backlog overflow under a storm: retry as a browser would, soon.
            Err(e) if attempt < 20 => {
                attempt += 1;
                RETRIES.fetch_add(1, Ordering::Relaxed);
                if std::env::var_os("BENCH_DEBUG").is_some() {
                    eprintln!("connect {url}: {e} (retrying)");
                }
                if attempt == 20 {
                    return Err(anyhow!("connect {url}: {e}"));
                }
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(anyhow!("connect {url}: {e}")),
        }
    }
}

async fn connect_once(url: &str, read_buffer: usize) -> anyhow::Result<Socket> {
    let request = url.into_client_request()?;
    let host = request.uri().host().context("no host in the URL")?;
    let port = request.uri().port_u16().unwrap_or(80);
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let config = WebSocketConfig::default().read_buffer_size(read_buffer);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, StampedTcp::new(tcp)?, Some(config))
            .await?;
    Ok(ws)
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

/// A fresh client's join: connects, sends an empty step 1 and waits until what it received
/// covers `expected` (decoding updates, not integrating them). Returns the time from the
/// start of the connection and, when `keep` is set, the whole document it received.
pub async fn join_once(
    url: &str,
    expected: &StateVector,
    keep: bool,
    timeout: Duration,
) -> anyhow::Result<(Duration, Option<Doc>)> {
    let start = Instant::now();
    let work = async {
        let mut ws = connect(url, JOIN_READ_BUFFER).await?;
        ws.send(Ws::Binary(step1(&StateVector::default()).into()))
            .await?;
        let mut have = StateVector::default();
        let doc = keep.then(Doc::new);
        let mut step2_seen = false;
        loop {
            let data = match ws.next().await {
                Some(Ok(Ws::Binary(data))) => data,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("server closed the connection during a join"),
            };
            let mut r = Reader(&data);
            if r.var()? != 0 {
                continue;
            }
            match r.var()? {
                0 => {
                    let _ = r.bytes()?;
                    ws.send(Ws::Binary(step2(&[0, 0]).into())).await?;
                }
                kind @ (1 | 2) => {
                    step2_seen |= kind == 1;
                    let bytes = r.bytes()?;
                    let update = Update::decode_v1(bytes)?;
                    if let Some(doc) = &doc {
                        doc.transact_mut().apply_update(update)?;
                        have = doc.transact().state_vector();
                    } else {
                        // Decoded, not integrated: what a whole update (from clock 0) covers.
                        // Enough for a board at rest, whose state arrives whole.
                        for (client, clock) in update.state_vector().iter() {
                            have.set_max(*client, *clock);
                        }
                    }
                    let covered = expected
                        .iter()
                        .all(|(client, clock)| have.get(client) >= *clock);
                    if step2_seen && covered {
                        let elapsed = start.elapsed();
                        let _ = ws.close(None).await;
                        return Ok((elapsed, doc));
                    }
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| anyhow!("join of {url} timed out (expected {expected:?})"))?
}

/// A populating client: joins, adds `notes` notes in updates of `batch`, and returns the
/// state vector of everything it then has (the board's state) and its connection, to close
/// once the server has it all (the Node server drops updates of a client that leaves at once).
pub async fn populate(
    url: &str,
    notes: usize,
    batch: usize,
) -> anyhow::Result<(StateVector, Socket)> {
    let mut ws = connect(url, JOIN_READ_BUFFER).await?;
    ws.send(Ws::Binary(step1(&StateVector::default()).into()))
        .await?;
    let doc = Doc::new();
    // Wait for the server's step 2 (the board as it is).
    loop {
        let data = match ws.next().await {
            Some(Ok(Ws::Binary(data))) => data,
            Some(Ok(_)) => continue,
            _ => bail!("server closed the connection while populating"),
        };
        let mut r = Reader(&data);
        if r.var()? == 0 && r.var()? == 1 {
            apply(&doc, r.bytes()?)?;
            break;
        }
    }
    let mut local = Local::new();
    local.doc = doc;
    local.client = local.doc.client_id().get();
    let mut left = notes;
    while left > 0 {
        let n = left.min(batch);
        let update = local.create_notes(n, false);
        ws.send(Ws::Binary(update_frame(&update).into())).await?;
        left -= n;
    }
    let sv = local.doc.transact().state_vector();
    Ok((sv, ws))
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

/// The text of a note, for sanity checks.
#[allow(dead_code)]
pub fn text_of(doc: &Doc, text: &TextRef) -> String {
    text.get_string(&doc.transact())
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
