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
//! about the size of the update, not of the board; facilitators' updates skip the check. The undo stack never holds more
//! than the one update being checked (it is cleared after each), and content the update
//! deleted is garbage-collected right after, as a plain transaction would have done.
//!
//! Pending updates: an update whose causal dependencies the server lacks is kept by yrs as
//! "pending" and integrated by whichever later update fills the gap. A participant could use
//! that to slip content into a facilitator's (unguarded) transaction, so pending data never
//! stays in the document: it is taken out after every apply and kept with the connection that
//! sent it, to be retried (guarded again) with that connection's next update.

use crate::lock;
use journeyboard_shared::rules::{check, Changes, Guarded, Touched, Violation};
use journeyboard_shared::schema::BoardDoc;
use journeyboard_shared::Role;
use std::sync::{Arc, Mutex};
use yrs::types::ToJson;
use yrs::types::{Event, Events, PathSegment};
use yrs::{
    Any, Array, ArrayRef, DeepObservable, Doc, IdSet, In, Map, MapPrelim, MapRef, ReadTxn,
    StateVector, Transact, TransactionMut, UndoManager, Update, WriteTxn,
};

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
}

/// Why an update could not be applied.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApplyError(pub String);

/// An update as it came from a peer: decoded, and its bytes.
pub struct Received<'a> {
    pub update: Update,
    pub bytes: &'a [u8],
}

/// Applies `update` (after the connection's `pending` leftovers) in `txn` and returns the
/// transaction's delta. What cannot be integrated yet goes back into `pending`: blocks after a
/// gap in their client's clock (yrs would integrate them around a hole that its incremental
/// encoding then leaves out, so they would be in the document but neither relayed nor
/// stored), and whatever yrs itself keeps pending for a missing dependency.
fn apply_in(
    txn: &mut TransactionMut,
    received: Received,
    pending: &mut Option<Update>,
) -> Result<Vec<u8>, ApplyError> {
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
    result.map_err(|e| ApplyError(e.to_string()))?;
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
    let delta = apply_in(&mut doc.transact_mut(), update, pending)?;
    Ok(if is_empty_update(&delta) {
        Applied::Unchanged
    } else {
        Applied::Accepted(delta)
    })
}

/// Writes back, by value, every guarded part `changes` changed (a second line of defence,
/// should the undo manager ever fail to revert something: it should not).
fn restore(view: &BoardDoc, txn: &mut TransactionMut, changes: &Changes) {
    if let Some(board) = &changes.board {
        restore_map(&view.board, txn, board);
    }
    if let Some(votes) = &changes.votes {
        restore_map(&view.votes, txn, votes);
    }
    if let Some(stages) = &changes.stages {
        restore_array(&view.stages, txn, stages);
    }
    if let Some(lanes) = &changes.lanes {
        restore_array(&view.lanes, txn, lanes);
    }
    for (key, before) in &changes.emotions {
        match before {
            Some(value) => {
                view.emotions
                    .insert(txn, key.as_str(), In::Any(value.clone()));
            }
            None => {
                view.emotions.remove(txn, key);
            }
        }
    }
}

fn restore_map(map: &MapRef, txn: &mut TransactionMut, before: &Any) {
    let Any::Map(before) = before else { return };
    if map.to_json(txn) == Any::Map(before.clone()) {
        return;
    }
    let keys: Vec<String> = map.keys(txn).map(str::to_string).collect();
    for key in keys {
        if !before.contains_key(&key) {
            map.remove(txn, &key);
        }
    }
    for (key, value) in before.iter() {
        map.insert(txn, key.as_str(), In::Any(value.clone()));
    }
}

fn restore_array(array: &ArrayRef, txn: &mut TransactionMut, before: &Any) {
    let Any::Array(before) = before else { return };
    if array.to_json(txn) == Any::Array(before.clone()) {
        return;
    }
    let len = array.len(txn);
    array.remove_range(txn, 0, len);
    for item in before.iter() {
        match item {
            Any::Map(fields) => {
                let prelim: MapPrelim = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), In::Any(v.clone())))
                    .collect();
                array.push_back(txn, prelim);
            }
            other => {
                array.push_back(txn, In::Any(other.clone()));
            }
        }
    }
}

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
    /// rule. On an error nothing of the update stays in effect.
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
            Err(e) => {
                // Part of it may have been integrated: take it all back (nothing is stored or
                // relayed; the connection is closed).
                self.revert(doc, view, &mut state, &changes);
                self.state = Some(state);
                return Err(e);
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

/// Decodes a v1 update.
pub fn decode(bytes: &[u8]) -> Result<Received<'_>, ApplyError> {
    let update = super::protocol::decode_update(bytes).map_err(ApplyError)?;
    Ok(Received { update, bytes })
}

/// The full state of a doc (for tests).
#[cfg(test)]
pub fn full_state(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&yrs::StateVector::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use journeyboard_shared::model::{NewNote, Phase, Template};
    use journeyboard_shared::schema::{key, new_board_doc};
    use yrs::updates::decoder::Decode;
    use yrs::{GetString, Text};

    /// A server document with a guard, and a peer in sync with it.
    struct World {
        server: Doc,
        view: BoardDoc,
        guard: Guard,
    }

    fn note(id: &str, lane: &str, author_id: &str) -> NewNote {
        NewNote {
            id: id.into(),
            text: format!("text of {id}"),
            stage: "purchase".into(),
            lane: lane.into(),
            author_id: author_id.into(),
            ..NewNote::default()
        }
    }

    fn world() -> World {
        let server = new_board_doc("G", Template::CurrentState, 0.0);
        let view = BoardDoc::new(&server);
        {
            let mut txn = server.transact_mut();
            view.add_note(&mut txn, &note("hers", "emotions", "her"));
            view.add_note(&mut txn, &note("mine", "actions", "me"));
            view.set_emotion(&mut txn, "her", "purchase", Some(1));
            view.set_setting(&mut txn, key::VOTE_DOTS, 3.0);
        }
        let guard = Guard::new(&server, &view);
        World {
            server,
            view,
            guard,
        }
    }

    fn peer_of(doc: &Doc) -> Doc {
        let peer = Doc::new();
        peer.transact_mut()
            .apply_update(Update::decode_v1(&full_state(doc)).unwrap())
            .unwrap();
        peer
    }

    fn json(doc: &Doc) -> String {
        let view = BoardDoc::new(doc);
        let any = view.to_any(&doc.transact());
        canonical(&any)
    }

    fn canonical(value: &Any) -> String {
        match value {
            Any::Map(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let inner: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{k:?}:{}", canonical(v)))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
            Any::Array(items) => format!(
                "[{}]",
                items.iter().map(canonical).collect::<Vec<_>>().join(",")
            ),
            other => other.to_string(),
        }
    }

    fn apply(doc: &Doc, update: &[u8]) {
        doc.transact_mut()
            .apply_update(Update::decode_v1(update).unwrap())
            .unwrap();
    }

    /// A participant ("me") makes `change`; the server must refuse it, and the sender, a
    /// bystander and a reload from (initial state + stored delta) all end where they began.
    fn assert_refused_in(
        w: World,
        change: impl FnOnce(&BoardDoc, &mut TransactionMut),
    ) -> Vec<Violation> {
        refuse(w, change).0
    }

    /// Does what `assert_refused_in` says, and returns the world and the converged sender.
    fn refuse(
        w: World,
        change: impl FnOnce(&BoardDoc, &mut TransactionMut),
    ) -> (Vec<Violation>, World, Doc) {
        refuse_sized(w, SizeLimit::NONE, change)
    }

    /// [`refuse`], with the document's size limit checked as `size` says.
    fn refuse_sized(
        mut w: World,
        size: SizeLimit,
        change: impl FnOnce(&BoardDoc, &mut TransactionMut),
    ) -> (Vec<Violation>, World, Doc) {
        let sender = peer_of(&w.server);
        let bystander = peer_of(&w.server);
        let initial = full_state(&w.server);
        let expected = json(&w.server);
        let update = {
            let view = BoardDoc::new(&sender);
            let mut txn = sender.transact_mut();
            change(&view, &mut txn);
            txn.encode_update_v1()
        };
        assert_ne!(json(&sender), expected, "the change changes something");
        let applied = w
            .guard
            .apply_checked(
                &w.server,
                &w.view,
                Some((Role::Participant, "me")),
                size,
                decode(&update).unwrap(),
                &mut None,
            )
            .unwrap();
        let Applied::Refused { delta, violations } = applied else {
            panic!("not refused: {applied:?}");
        };
        assert_eq!(json(&w.server), expected, "server reverted");
        apply(&bystander, &delta);
        assert_eq!(json(&bystander), expected, "bystander never sees it");
        apply(&sender, &delta);
        assert_eq!(json(&sender), expected, "sender converges back");
        let reloaded = Doc::new();
        apply(&reloaded, &initial);
        apply(&reloaded, &delta);
        assert_eq!(json(&reloaded), expected, "a reload has the reverted state");
        assert!(!w.guard.undo.can_undo() && !w.guard.undo.can_redo());
        assert_eq!(w.guard.fallbacks, 0, "the undo manager reverted it alone");
        assert!(w.guard.state_is_current(&w.server, &w.view));
        (violations, w, sender)
    }

    /// Refused on the unlocked board, after which the converged sender's next good edit is
    /// accepted.
    fn assert_refused(change: impl FnOnce(&BoardDoc, &mut TransactionMut)) -> Vec<Violation> {
        let (violations, mut w, sender) = refuse(world(), change);
        let good = {
            let view = BoardDoc::new(&sender);
            let mut txn = sender.transact_mut();
            view.set_note_text(&mut txn, "hers", "fine");
            txn.encode_update_v1()
        };
        let applied = w
            .guard
            .apply(
                &w.server,
                &w.view,
                Role::Participant,
                "me",
                decode(&good).unwrap(),
                &mut None,
            )
            .unwrap();
        assert!(matches!(applied, Applied::Accepted(_)), "{applied:?}");
        assert_eq!(json(&w.server), json(&sender));
        violations
    }

    #[test]
    fn an_update_over_the_size_limit_is_reverted_whether_or_not_the_board_was_near_it() {
        // Near the limit the answer is the document's diff from before the update; otherwise
        // (an update that grew more than it weighed) the update merged with its revert.
        for near in [true, false] {
            let size = SizeLimit {
                near,
                fits: &|_, _| false,
            };
            let (violations, ..) = refuse_sized(world(), size, |v, t| {
                v.set_note_text(t, "hers", "a longer text than before");
            });
            assert_eq!(
                violations,
                vec![Violation::DocumentTooLarge],
                "near: {near}"
            );
        }
    }

    #[test]
    fn facilitator_only_settings_are_reverted() {
        assert_refused(|v, t| v.set_phase(t, Phase::Iteration));
        assert_refused(|v, t| v.set_setting(t, key::TIMER_DEADLINE, 5.0));
        assert_refused(|v, t| v.set_setting(t, key::VOTE_DOTS, 50.0));
        assert_refused(|v, t| v.set_setting(t, key::LOCKED, true));
        assert_refused(|v, t| v.set_setting_list(t, key::LOCKED_LANES, &["x".into()]));
        assert_refused(|v, t| {
            v.board.remove(t, key::VOTE_DOTS);
        });
        assert_refused(|v, t| {
            v.board.remove(t, key::TITLE);
            v.board.remove(t, key::PHASE);
        });
    }

    #[test]
    fn structure_changes_are_reverted() {
        assert_refused(|v, t| v.insert_stage(t, 0, "pre", "Pre"));
        assert_refused(|v, t| {
            v.rename_stage(t, "purchase", "Buy");
        });
        assert_refused(|v, t| {
            v.remove_stage(t, "purchase");
        });
        assert_refused(|v, t| {
            v.move_stage(t, "advocacy", 0);
        });
        assert_refused(|v, t| {
            v.move_lane(t, "emotions", 0);
            v.rename_lane(t, "actions", "Doing");
        });
        assert_refused(|v, t| {
            let len = v.lanes.len(t);
            v.lanes.remove_range(t, 0, len);
        });
    }

    #[test]
    fn deleting_someone_elses_note_is_reverted_with_its_text() {
        let v = assert_refused(|v, t| {
            v.delete_note(t, "hers");
        });
        assert_eq!(
            v,
            vec![Violation::OthersNote {
                note: "hers".into()
            }]
        );
        // After the revert the note's text is a live Y.Text again, editable by anyone.
        let w = world();
        let sender = peer_of(&w.server);
        let mut w = w;
        let del = {
            let view = BoardDoc::new(&sender);
            let mut txn = sender.transact_mut();
            view.delete_note(&mut txn, "hers");
            txn.encode_update_v1()
        };
        let Applied::Refused { delta, .. } = w
            .guard
            .apply(
                &w.server,
                &w.view,
                Role::Participant,
                "me",
                decode(&del).unwrap(),
                &mut None,
            )
            .unwrap()
        else {
            panic!("not refused")
        };
        apply(&sender, &delta);
        let edit = {
            let view = BoardDoc::new(&sender);
            let mut txn = sender.transact_mut();
            let text = view.note_text(&txn, "hers").unwrap();
            text.insert(&mut txn, 0, "still ");
            txn.encode_update_v1()
        };
        let applied = w
            .guard
            .apply(
                &w.server,
                &w.view,
                Role::Participant,
                "me",
                decode(&edit).unwrap(),
                &mut None,
            )
            .unwrap();
        assert!(matches!(applied, Applied::Accepted(_)));
        let text = w
            .view
            .note_text(&w.server.transact(), "hers")
            .unwrap()
            .get_string(&w.server.transact());
        assert_eq!(text, "still text of hers");
    }

    #[test]
    fn the_kept_guarded_state_follows_every_kind_of_change() {
        let mut w = world();
        let participant = peer_of(&w.server);
        let facilitator = peer_of(&w.server);
        let send = |w: &mut World,
                    from: &Doc,
                    role: Role,
                    change: &dyn Fn(&BoardDoc, &mut TransactionMut)| {
            let update = {
                let view = BoardDoc::new(from);
                let mut txn = from.transact_mut();
                change(&view, &mut txn);
                txn.encode_update_v1()
            };
            let applied = match role {
                Role::Facilitator => {
                    apply_unguarded(&w.server, decode(&update).unwrap(), &mut None)
                }
                _ => w.guard.apply(
                    &w.server,
                    &w.view,
                    role,
                    "me",
                    decode(&update).unwrap(),
                    &mut None,
                ),
            }
            .unwrap();
            if let Applied::Accepted(delta) | Applied::Refused { delta, .. } = applied {
                for peer in [&participant, &facilitator] {
                    apply(peer, &delta);
                }
            }
            assert!(w.guard.state_is_current(&w.server, &w.view));
        };
        let p = Role::Participant;
        let f = Role::Facilitator;
        send(&mut w, &participant, p, &|v, t| {
            v.add_note(t, &note("a", "actions", "me"));
        });
        send(&mut w, &facilitator, f, &|v, t| {
            v.add_note(t, &note("b", "emotions", "her"));
        });
        send(&mut w, &facilitator, f, &|v, t| {
            v.set_setting_list(t, key::LOCKED_LANES, &["actions".into()])
        });
        send(&mut w, &participant, p, &|v, t| {
            v.set_note_text(t, "a", "locked");
        });
        send(&mut w, &participant, p, &|v, t| {
            v.set_note_text(t, "b", "open lane");
        });
        send(&mut w, &facilitator, f, &|v, t| {
            v.move_note(t, "b", "purchase", "actions");
        });
        send(&mut w, &facilitator, f, &|v, t| {
            v.set_setting_list(t, key::LOCKED_LANES, &[])
        });
        send(&mut w, &participant, p, &|v, t| {
            v.set_emotion(t, "me", "purchase", Some(2))
        });
        send(&mut w, &participant, p, &|v, t| {
            v.set_emotion(t, "her", "purchase", None)
        });
        send(&mut w, &facilitator, f, &|v, t| {
            v.set_emotion(t, "her", "purchase", None)
        });
        send(&mut w, &participant, p, &|v, t| {
            v.delete_note(t, "b");
        });
        send(&mut w, &facilitator, f, &|v, t| {
            v.delete_note(t, "b");
        });
        send(&mut w, &participant, p, &|v, t| {
            v.delete_note(t, "a");
        });
        send(&mut w, &facilitator, f, &|v, t| {
            v.rename_stage(t, "purchase", "Buy");
        });
    }

    #[test]
    fn a_refused_update_is_reverted_whole_with_its_allowed_parts() {
        assert_refused(|v, t| {
            v.set_note_text(t, "mine", "allowed on its own");
            v.add_note(t, &note("new", "actions", "me"));
            v.set_phase(t, Phase::Walkthrough);
        });
    }

    #[test]
    fn votes_emotions_and_authorship_are_guarded() {
        assert_refused(|v, t| {
            let totals = [("hers".to_string(), 9u32)].into_iter().collect();
            v.set_vote_totals(t, &totals);
        });
        assert_refused(|v, t| v.set_emotion(t, "her", "purchase", Some(-2)));
        assert_refused(|v, t| v.set_emotion(t, "her", "purchase", None));
        assert_refused(|v, t| {
            v.add_note(t, &note("fake", "actions", "her"));
        });
        assert_refused(|v, t| {
            let m = v.notes.get(t, "mine").unwrap().cast::<MapRef>().unwrap();
            m.insert(t, key::AUTHOR_ID, "her");
        });
        assert_refused(|v, t| {
            let m = v.notes.get(t, "hers").unwrap().cast::<MapRef>().unwrap();
            m.remove(t, key::AUTHOR_ID);
        });
    }

    fn locked_world(lock: impl FnOnce(&BoardDoc, &mut TransactionMut)) -> World {
        let w = world();
        lock(&w.view, &mut w.server.transact_mut());
        w
    }

    #[test]
    fn locks_revert_nested_text_edits_moves_and_new_notes() {
        let lane = |v: &BoardDoc, t: &mut TransactionMut| {
            v.set_setting_list(t, key::LOCKED_LANES, &["emotions".into()])
        };
        assert_refused_in(locked_world(lane), |v, t| {
            let text = v.note_text(t, "hers").unwrap();
            text.insert(t, 3, "XYZ");
            text.remove_range(t, 0, 2);
        });
        assert_refused_in(locked_world(lane), |v, t| {
            v.move_note(t, "hers", "purchase", "actions");
        });
        assert_refused_in(locked_world(lane), |v, t| {
            v.move_note(t, "mine", "purchase", "emotions");
        });
        assert_refused_in(locked_world(lane), |v, t| {
            v.add_note(t, &note("new", "emotions", "me"));
        });
        let board = |v: &BoardDoc, t: &mut TransactionMut| v.set_setting(t, key::LOCKED, true);
        assert_refused_in(locked_world(board), |v, t| {
            v.set_note_text(t, "mine", "changed");
        });
        assert_refused_in(locked_world(board), |v, t| {
            v.delete_note(t, "mine");
        });
        assert_refused_in(locked_world(board), |v, t| {
            v.set_emotion(t, "me", "purchase", Some(2));
        });
    }

    #[test]
    fn allowed_updates_are_accepted_and_leave_no_undo_state() {
        let mut w = world();
        let sender = peer_of(&w.server);
        let update = {
            let view = BoardDoc::new(&sender);
            let mut txn = sender.transact_mut();
            view.set_note_text(&mut txn, "hers", "edited");
            view.delete_note(&mut txn, "mine");
            view.set_emotion(&mut txn, "me", "purchase", Some(-1));
            txn.encode_update_v1()
        };
        let applied = w
            .guard
            .apply(
                &w.server,
                &w.view,
                Role::Participant,
                "me",
                decode(&update).unwrap(),
                &mut None,
            )
            .unwrap();
        assert!(matches!(applied, Applied::Accepted(_)), "{applied:?}");
        assert_eq!(json(&w.server), json(&sender));
        assert!(!w.guard.undo.can_undo());
        // The same again changes nothing.
        let again = w
            .guard
            .apply(
                &w.server,
                &w.view,
                Role::Participant,
                "me",
                decode(&update).unwrap(),
                &mut None,
            )
            .unwrap();
        assert!(matches!(again, Applied::Unchanged));
    }

    #[test]
    fn a_new_update_is_relayed_as_it_came_and_a_partly_known_one_as_its_new_part() {
        let server = Doc::new();
        let peer = Doc::new();
        let text = peer.get_or_insert_text("t");
        let type_in = |at: u32, chunk: &str| {
            let mut txn = peer.transact_mut();
            text.insert(&mut txn, at, chunk);
            txn.encode_update_v1()
        };
        let (first, second) = (type_in(0, "ab"), type_in(2, "cd"));
        let accepted =
            |bytes: &[u8]| match apply_unguarded(&server, decode(bytes).unwrap(), &mut None) {
                Ok(Applied::Accepted(delta)) => delta,
                other => panic!("not accepted: {other:?}"),
            };
        assert_eq!(accepted(&first), first, "all new: relayed byte for byte");
        // The first half again with the second: only the second is new.
        let both = yrs::merge_updates_v1([&first, &second]).unwrap();
        let delta = accepted(&both);
        assert_ne!(delta, both);
        let new_part: Vec<_> = Update::decode_v1(&delta)
            .unwrap()
            .insertions(true)
            .iter()
            .flat_map(|(client, ranges)| {
                ranges
                    .iter()
                    .map(|r| (*client, r.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(new_part, vec![(peer.client_id(), 2..4)]);
        let unchanged = apply_unguarded(&server, decode(&both).unwrap(), &mut None).unwrap();
        assert!(matches!(unchanged, Applied::Unchanged), "{unchanged:?}");
        let relayed_to = Doc::new();
        apply(&relayed_to, &first);
        apply(&relayed_to, &delta);
        assert_eq!(full_state(&relayed_to), full_state(&server));
        assert_eq!(json(&relayed_to), json(&peer));
    }

    #[test]
    fn pending_data_waits_with_its_connection_and_is_guarded_when_it_lands() {
        let mut w = world();
        let sender = peer_of(&w.server);
        let view = BoardDoc::new(&sender);
        let first = {
            let mut txn = sender.transact_mut();
            view.add_note(&mut txn, &note("n1", "actions", "me"));
            txn.encode_update_v1()
        };
        let second = {
            let mut txn = sender.transact_mut();
            view.set_setting(&mut txn, key::LOCKED, true);
            txn.encode_update_v1()
        };
        // The second arrives first: it cannot be integrated yet.
        let mut pending = None;
        let applied = w
            .guard
            .apply(
                &w.server,
                &w.view,
                Role::Participant,
                "me",
                decode(&second).unwrap(),
                &mut pending,
            )
            .unwrap();
        assert!(matches!(applied, Applied::Unchanged));
        assert!(pending.is_some());
        assert!(!w.server.transact().has_missing_updates());
        // A facilitator's update meanwhile does not carry it in.
        let mut none = None;
        let fac = peer_of(&w.server);
        let fac_update = {
            let v = BoardDoc::new(&fac);
            let mut txn = fac.transact_mut();
            v.set_setting(&mut txn, key::GOALS, "g");
            txn.encode_update_v1()
        };
        apply_unguarded(&w.server, decode(&fac_update).unwrap(), &mut none).unwrap();
        assert!(!w.view.settings(&w.server.transact()).locked);
        // The first arrives: both land, guarded, and the phase change is refused.
        let applied = w
            .guard
            .apply(
                &w.server,
                &w.view,
                Role::Participant,
                "me",
                decode(&first).unwrap(),
                &mut pending,
            )
            .unwrap();
        assert!(matches!(applied, Applied::Refused { .. }), "{applied:?}");
        assert!(pending.is_none());
        assert!(!w.view.settings(&w.server.transact()).locked);
    }
}
