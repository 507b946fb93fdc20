//! The server's enforcement of the role rules (`journeyboard_shared::rules`, docs/SCHEMA.md
//! "Who may change what").
//!
//! A participant's update is applied in a transaction with the origin [`GUARDED_ORIGIN`], the
//! only origin the room's [`UndoManager`] tracks. The guarded state is captured before and
//! after; if [`check`] finds a violation the undo manager reverts the update at once, in a
//! server transaction, and the update and its revert are merged into one update. That one
//! update is what the room stores and relays, to everyone including the sender: a peer
//! applying it sees the net effect (nothing), so nobody else ever observes the refused change,
//! the sender converges back, and a reload from the store has the reverted state.
//!
//! Cost: the guard keeps the guarded state of the document up to date, re-reading only what
//! each transaction touched (deep observers on the guarded roots say what), so a check costs
//! about the size of the update, not of the board; facilitators' updates skip the check.
//! The undo stack never holds more than the one update being checked (it is cleared after
//! each), and content the update deleted is garbage-collected right after, as a plain
//! transaction would have done.
//!
//! Pending updates: an update whose causal dependencies the server lacks is kept by yrs as
//! "pending" and integrated by whichever later update fills the gap. A participant could use
//! that to slip content into a facilitator's (unguarded) transaction, so pending data never
//! stays in the document: it is taken out after every apply and kept with the connection that
//! sent it, to be retried (guarded again) with that connection's next update.
//!
//! This file has the guard itself (check, revert, the kept guarded state); `apply.rs` applies
//! an update's bytes and keeps what cannot go in yet apart, and `restore.rs` writes guarded
//! parts back by value should the undo manager fall short.

mod apply;
mod restore;

pub use apply::{apply_unguarded, decode, Received};

use apply::apply_in;
use restore::restore;

use crate::lock;
use journeyboard_shared::rules::{check, Changes, Guarded, Touched, Violation};
use journeyboard_shared::schema::BoardDoc;
use journeyboard_shared::Role;
use std::sync::{Arc, Mutex};
use yrs::types::{Event, Events, PathSegment};
use yrs::{DeepObservable, Doc, IdSet, ReadTxn, Transact, TransactionMut, UndoManager, Update};

use super::protocol::is_empty_update;

/// The key of the guard's deep observers on the guarded roots.
const TOUCH_OBSERVER: &str = "journeyboard:guard-touched";

/// The origin of transactions that apply a guarded (participant's) update.
pub const GUARDED_ORIGIN: &str = "journeyboard:guarded";

/// The key under which the revert's updates are collected while it runs.
const REVERT_OBSERVER: &str = "journeyboard:revert";

/// What applying an update did.
#[derive(Debug)]
pub enum Applied {
    /// The server already had all of it.
    Unchanged,
    /// Applied: store this delta and relay it to the other peers.
    Accepted(Vec<u8>),
    /// Refused and reverted: store this delta (the update and its revert as one) and relay it
    /// to every peer, the sender included.
    Refused {
        delta: Vec<u8>,
        violations: Vec<Violation>,
    },
    /// It failed partway (a block yrs cannot integrate, such as one whose parent is not a
    /// type), after part of it had gone in: store this delta (what went in, and for a
    /// guarded update the revert of it) and relay it to every peer, so that every copy of
    /// the board stays the same; then refuse the update with `error`.
    Broken { delta: Vec<u8>, error: ApplyError },
}

/// Why an update could not be applied.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApplyError(pub String);

/// The document's size limit, as the guard checks an update against it.
pub struct SizeLimit<'a> {
    /// The document was near its limit before the update (it may well go over).
    pub near: bool,
    /// Asked once the update is in, with the size of what it added: whether the document is
    /// still within its limit.
    pub fits: &'a dyn Fn(&Doc, usize) -> bool,
}

#[cfg(test)]
impl SizeLimit<'static> {
    /// No size limit (tests of the role rules).
    const NONE: SizeLimit<'static> = SizeLimit {
        near: false,
        fits: &|_, _| true,
    };
}

/// A main room's guard: the undo manager that reverts refused updates, and the guarded state
/// it checks them against.
pub struct Guard {
    undo: UndoManager,
    /// How many reverts needed the restore by value (for tests: it should stay 0).
    fallbacks: u64,
    /// What transactions touched since `state` was last brought up to date, as the deep
    /// observers on the guarded roots saw it.
    touched: Arc<Mutex<Touched>>,
    /// The guarded state, read whole on first use and then refreshed from `touched`: reading
    /// it whole walks every note and serialises the small roots, and two such reads per
    /// update were most of a relay's instructions (BENCHMARKS.md).
    state: Option<Guarded>,
}

impl Guard {
    /// A guard over every root of the board document.
    pub fn new(doc: &Doc, view: &BoardDoc) -> Guard {
        let mut undo = UndoManager::new();
        undo.expand_scope(doc, &view.board);
        undo.expand_scope(doc, &view.stages);
        undo.expand_scope(doc, &view.lanes);
        undo.expand_scope(doc, &view.notes);
        undo.expand_scope(doc, &view.personas);
        undo.expand_scope(doc, &view.emotions);
        undo.expand_scope(doc, &view.votes);
        undo.expand_scope(doc, &view.actions);
        undo.expand_scope(doc, &view.resources);
        undo.include_origin(GUARDED_ORIGIN);
        let touched = Arc::new(Mutex::new(Touched::default()));
        let flag = |mark: fn(&mut Touched)| {
            let touched = Arc::clone(&touched);
            move |_: &TransactionMut, _: &Events| mark(&mut lock(&touched))
        };
        view.board
            .observe_deep(TOUCH_OBSERVER, flag(|t| t.board = true));
        view.stages
            .observe_deep(TOUCH_OBSERVER, flag(|t| t.stages = true));
        view.lanes
            .observe_deep(TOUCH_OBSERVER, flag(|t| t.lanes = true));
        view.votes
            .observe_deep(TOUCH_OBSERVER, flag(|t| t.votes = true));
        let keys = |pick: fn(&mut Touched) -> &mut std::collections::HashSet<String>| {
            let touched = Arc::clone(&touched);
            move |txn: &TransactionMut, events: &Events| {
                let mut touched = lock(&touched);
                touched_keys(txn, events, pick(&mut touched));
            }
        };
        view.notes
            .observe_deep(TOUCH_OBSERVER, keys(|t| &mut t.notes));
        view.emotions
            .observe_deep(TOUCH_OBSERVER, keys(|t| &mut t.emotions));
        Guard {
            undo,
            fallbacks: 0,
            touched,
            state: None,
        }
    }

    /// Applies an update from `role` (whose public id is `me`), reverting it if it breaks a
    /// rule. An update that fails partway is taken back ([`Applied::Broken`]).
    #[cfg(test)]
    pub fn apply(
        &mut self,
        doc: &Doc,
        view: &BoardDoc,
        role: Role,
        me: &str,
        update: Received,
        pending: &mut Option<Update>,
    ) -> Result<Applied, ApplyError> {
        self.apply_checked(
            doc,
            view,
            Some((role, me)),
            SizeLimit::NONE,
            update,
            pending,
        )
    }

    /// Applies an update, reverting it if it breaks the role rules of `rules` (a role and
    /// its public id; `None`: no role rules) or the document's size limit (`size`).
    /// An update refused for its size ([`Violation::is_about_size`]) near the limit is
    /// answered with a compact delta: the document's diff from before it, where its reverted
    /// content is already collected, rather than the update itself plus its revert.
    pub fn apply_checked(
        &mut self,
        doc: &Doc,
        view: &BoardDoc,
        rules: Option<(Role, &str)>,
        size: SizeLimit,
        update: Received,
        pending: &mut Option<Update>,
    ) -> Result<Applied, ApplyError> {
        let (mut state, sv_before) = {
            let txn = doc.transact();
            let state = match self.state.take() {
                Some(mut state) => {
                    state.refresh(view, &txn, &self.take_touched());
                    state
                }
                None => {
                    self.take_touched();
                    Guarded::capture(view, &txn)
                }
            };
            // Only a compact answer to a size refusal needs it: most updates are far from
            // the limit, and a state vector walks every client of the document.
            (state, size.near.then(|| txn.state_vector()))
        };
        self.undo.reset();
        let result = {
            let mut txn = doc.transact_mut_with(GUARDED_ORIGIN);
            apply_in(&mut txn, update, pending)
        };
        let changes = state.refresh(view, &doc.transact(), &self.take_touched());
        let delta = match result {
            Ok(delta) => delta,
            Err(failed) => {
                // Part of it may have been integrated: take it all back, and store and relay
                // what went in with its revert (the connection is closed).
                let reverts = self.revert(doc, view, &mut state, &changes);
                self.state = Some(state);
                return failed.into_outcome(reverts);
            }
        };
        if is_empty_update(&delta) && changes.is_empty() {
            self.finish(doc, IdSet::default());
            self.state = Some(state);
            return Ok(Applied::Unchanged);
        }
        let mut violations = match rules {
            Some((role, me)) => check(role, me, &changes, true),
            None => Vec::new(),
        };
        if !(size.fits)(doc, delta.len()) {
            violations.push(Violation::DocumentTooLarge);
        }
        if violations.is_empty() {
            self.finish(doc, IdSet::default());
            self.state = Some(state);
            return Ok(Applied::Accepted(delta));
        }
        let reverts = self.revert(doc, view, &mut state, &changes);
        self.state = Some(state);
        if let (Some(sv_before), true) =
            (&sv_before, violations.iter().any(Violation::is_about_size))
        {
            let delta = doc.transact().encode_diff_v1(sv_before);
            return Ok(Applied::Refused { delta, violations });
        }
        let mut parts = vec![delta];
        parts.extend(reverts);
        let delta = yrs::merge_updates_v1(&parts)
            .map_err(|e| ApplyError(format!("merging an update with its revert: {e}")))?;
        Ok(Applied::Refused { delta, violations })
    }

    /// Undoes the update just applied and returns the updates that did it. Checks that every
    /// guarded part it changed (`changes`) is back, restoring them by value if the undo fell
    /// short; `state` is kept up to date.
    fn revert(
        &mut self,
        doc: &Doc,
        view: &BoardDoc,
        state: &mut Guarded,
        changes: &Changes,
    ) -> Vec<Vec<u8>> {
        let collected = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&collected);
        let observing = doc
            .observe_update_v1(REVERT_OBSERVER, move |_, e| {
                lock(&sink).push(e.update.clone());
            })
            .is_ok();
        if !observing {
            tracing::error!("could not observe the revert of a refused update");
        }
        let mut deleted = self.stack_deletions(true);
        self.undo.undo_blocking();
        deleted.merge_with(self.stack_deletions(false));
        state.refresh(view, &doc.transact(), &self.take_touched());
        if !changes.is_undone_in(state) {
            tracing::error!("undo did not fully revert a refused update; restoring by value");
            self.fallbacks += 1;
            restore(view, &mut doc.transact_mut(), changes);
            state.refresh(view, &doc.transact(), &self.take_touched());
            if !changes.is_undone_in(state) {
                tracing::error!("a refused update could not be fully reverted");
            }
        }
        let _ = doc.unobserve_update_v1(REVERT_OBSERVER);
        self.finish(doc, deleted);
        let updates = std::mem::take(&mut *lock(&collected));
        updates
            .into_iter()
            .filter(|u| !is_empty_update(u))
            .collect()
    }

    /// Whether the kept guarded state, brought up to date, equals a whole read (for tests).
    #[cfg(test)]
    fn state_is_current(&mut self, doc: &Doc, view: &BoardDoc) -> bool {
        let txn = doc.transact();
        let touched = self.take_touched();
        match &mut self.state {
            Some(state) => {
                state.refresh(view, &txn, &touched);
                *state == Guarded::capture(view, &txn)
            }
            None => true,
        }
    }

    /// What was touched since the last call.
    fn take_touched(&self) -> Touched {
        std::mem::take(&mut *lock(&self.touched))
    }

    /// Deletions recorded by the top of the undo (or redo) stack.
    fn stack_deletions(&self, undo: bool) -> IdSet {
        let stack = if undo {
            self.undo.undo_stack()
        } else {
            self.undo.redo_stack()
        };
        stack
            .iter()
            .fold(IdSet::default(), |acc, item| acc.merge(item.deletions()))
    }

    /// Empties the stacks and collects the garbage the undo manager kept for them (content it
    /// would have needed to undo a deletion), plus `also`.
    fn finish(&mut self, doc: &Doc, mut also: IdSet) {
        also.merge_with(self.stack_deletions(true));
        also.merge_with(self.stack_deletions(false));
        self.undo.clear_all();
        if !also.is_empty() {
            doc.transact_mut().gc(Some(&also));
        }
    }
}

/// Records in `keys` the first-level keys of a keyed root (notes, emotions) that `events`
/// changed: the key itself for a set or removal, or the entry a nested change is under.
fn touched_keys(
    txn: &TransactionMut,
    events: &Events,
    keys: &mut std::collections::HashSet<String>,
) {
    for event in events.iter() {
        match event.path().front() {
            Some(PathSegment::Key(key)) => {
                keys.insert(key.to_string());
            }
            Some(PathSegment::Index(_)) => {}
            None => {
                if let Event::Map(map) = event {
                    keys.extend(map.keys(txn).keys().map(|k| k.to_string()));
                }
            }
        }
    }
}

/// The full state of a doc (for tests).
#[cfg(test)]
pub fn full_state(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&yrs::StateVector::default())
}

#[cfg(test)]
pub(super) mod tests;
