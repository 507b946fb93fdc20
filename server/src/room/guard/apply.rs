//! Applying a peer's update to a board's document, before any rule is checked: what goes in
//! now, what waits with its connection as pending (see `guard.rs`), and the delta the room
//! stores and relays. Called by the [`Guard`](super::Guard) inside its guarded transaction,
//! and on its own for updates nobody checks; talks only to yrs.

use super::{Applied, ApplyError};
use crate::room::protocol::{self, is_empty_update};
use yrs::{Doc, ReadTxn, StateVector, Transact, TransactionMut, Update, WriteTxn};

/// An update yrs refused partway: why, and the encoding of what it had integrated before
/// (yrs integrates block by block and keeps what went in).
pub(super) struct Failed {
    error: ApplyError,
    integrated: Vec<u8>,
}

impl Failed {
    /// The outcome, given the updates that go with what was integrated (a revert).
    pub(super) fn into_outcome(self, reverts: Vec<Vec<u8>>) -> Result<Applied, ApplyError> {
        let parts: Vec<Vec<u8>> = std::iter::once(self.integrated)
            .chain(reverts)
            .filter(|u| !is_empty_update(u))
            .collect();
        if parts.is_empty() {
            return Err(self.error);
        }
        let delta = yrs::merge_updates_v1(&parts)
            .map_err(|e| ApplyError(format!("merging a failed update's part: {e}")))?;
        Ok(Applied::Broken {
            delta,
            error: self.error,
        })
    }
}

/// An update as it came from a peer: decoded, and its bytes.
pub struct Received<'a> {
    pub update: Update,
    pub bytes: &'a [u8],
}

/// Applies `update` (after the connection's `pending` leftovers) in `txn` and returns the
/// transaction's delta. What cannot be integrated yet goes back into `pending`: blocks after a
/// gap in their client's clock (yrs would integrate them around a hole that its incremental
/// encoding then leaves out, so they would be in the document but neither relayed nor
/// stored), and whatever yrs itself keeps pending for a missing dependency. An update yrs
/// refuses partway fails with what it had integrated ([`Failed`]).
pub(super) fn apply_in(
    txn: &mut TransactionMut,
    received: Received,
    pending: &mut Option<Update>,
) -> Result<Vec<u8>, Failed> {
    let Received { update, bytes } = received;
    let (update, merged) = match pending.take() {
        Some(earlier) => (Update::merge_updates([earlier, update]), true),
        None => (update, false),
    };
    // The state before the transaction, which yrs keeps and its encoding below uses again.
    let fit = fit(&update, txn.before_state());
    if fit == Fit::Gap {
        *pending = Some(update);
        return Ok(Update::EMPTY_V1.to_vec());
    }
    let result = txn.apply_update(update);
    let missing = txn.has_missing_updates();
    if missing {
        *pending = txn.prune_pending();
    }
    if let Err(e) = result {
        return Err(Failed {
            error: ApplyError(e.to_string()),
            integrated: txn.encode_update_v1(),
        });
    }
    if fit == Fit::New && !merged && !missing {
        // All of it was new and all of it went in: the delta is the update as it came.
        // (Encoding the transaction would take the document's state vector again and diff
        // it against the one before: about a seventh of a relay's instructions.)
        return Ok(bytes.to_vec());
    }
    Ok(txn.encode_update_v1())
}

/// How an update's insertions stand against what the document has.
#[derive(Debug, PartialEq)]
enum Fit {
    /// Each client's blocks go on from where the document ends: all of them are new.
    New,
    /// Some are known already (sent again, or overlapping what the document has), or there
    /// are none (a deletion only, which may delete nothing new): only the encoding of what
    /// the transaction did is the delta.
    Known,
    /// Some block starts after a clock its client has not reached, counting the update's own
    /// earlier blocks.
    Gap,
}

fn fit(update: &Update, known: &StateVector) -> Fit {
    let insertions = update.insertions(true);
    let mut fit = if insertions.is_empty() {
        Fit::Known
    } else {
        Fit::New
    };
    for (client, ranges) in insertions.iter() {
        let mut ranges: Vec<_> = ranges.iter().cloned().collect();
        ranges.sort_by_key(|r| r.start);
        let mut clock = known.get(client);
        if ranges.first().is_some_and(|r| r.start < clock) {
            fit = Fit::Known;
        }
        for range in &ranges {
            if range.start > clock {
                return Fit::Gap;
            }
            clock = clock.max(range.end);
        }
    }
    fit
}

/// Applies an update without any check (facilitators, private rooms).
pub fn apply_unguarded(
    doc: &Doc,
    update: Received,
    pending: &mut Option<Update>,
) -> Result<Applied, ApplyError> {
    let delta = match apply_in(&mut doc.transact_mut(), update, pending) {
        Ok(delta) => delta,
        Err(failed) => return failed.into_outcome(Vec::new()),
    };
    Ok(if is_empty_update(&delta) {
        Applied::Unchanged
    } else {
        Applied::Accepted(delta)
    })
}

/// Decodes a v1 update.
pub fn decode(bytes: &[u8]) -> Result<Received<'_>, ApplyError> {
    let update = protocol::decode_update(bytes).map_err(ApplyError)?;
    Ok(Received { update, bytes })
}
