//! One-off clients, each on a connection of its own: a newcomer that receives a whole board
//! (timed in the join shape; after a load shape, what the server holds for the convergence
//! check) and one that fills a board with notes before the joins.

use super::apply;
use super::connect::{connect, Socket, JOIN_READ_BUFFER};
use super::local::Local;
use crate::wire::{step1, step2, update_frame, Reader};
use anyhow::{anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as Ws;
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

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
