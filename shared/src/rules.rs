//! What each role may change in a board's document. The server captures the guarded state
//! before and after applying a participant's update; if [`check`] finds a violation it
//! reverts the update in a server transaction relayed with it, so nobody else ever sees it
//! and the store keeps the reverted state (see docs/SCHEMA.md, "Who may change what").
//!
//! - Facilitators may change anything.
//! - Viewers may change nothing (their updates never reach this check: they are dropped).
//! - Participants may add, edit and move notes, write their own emotion scores, and edit
//!   personas, action items and resources; but not the `board` settings (phase, timer,
//!   reveal, walkthrough, voting, locks, title), stages and lanes, vote totals, others'
//!   notes' removal or authorship, others' emotion scores; nothing at all on a locked board,
//!   and nothing about notes in a locked lane; no note text longer than
//!   [`MAX_NOTE_TEXT_BYTES`].

use crate::model::{Note, Role};
use crate::schema::BoardDoc;
use std::collections::{HashMap, HashSet};
use yrs::types::ToJson;
use yrs::{Any, Map, MapRef, Out, ReadTxn, Text};

/// Longest note text a participant may write, in bytes of UTF-8 (2,500 to 10,000
/// characters): a sticky note is a few words, at most a paragraph or two; far longer text is
/// a paste gone wrong or abuse, and every client renders every note. A participant's update
/// that takes a note past it is refused whole (a text already that long may still shrink).
pub const MAX_NOTE_TEXT_BYTES: usize = 10_000;

/// A refused change, named for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Something only a facilitator may change.
    FacilitatorOnly(&'static str),
    /// Any change while the board is locked.
    BoardLocked,
    /// A change to a note in a locked lane (or a move into or out of one).
    LaneLocked { note: String },
    /// Removing a note someone else wrote.
    OthersNote { note: String },
    /// Writing a note under someone else's id, or changing a note's author.
    Impersonation { note: String },
    /// Writing someone else's emotion score.
    OthersEmotion { key: String },
    /// A note's text over [`MAX_NOTE_TEXT_BYTES`].
    NoteTooLong { note: String },
    /// The board would grow past its size limit (checked by the server, not by [`check`]).
    DocumentTooLarge,
}

impl Violation {
    /// Whether this is about size (a note's text, the whole board) rather than permissions.
    pub fn is_about_size(&self) -> bool {
        matches!(
            self,
            Violation::NoteTooLong { .. } | Violation::DocumentTooLarge
        )
    }
}

/// What a note must keep from a participant's hands.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteGuard {
    author_id: String,
    lane: String,
    /// The length of its text, in bytes.
    text_len: usize,
    /// The whole note, for notes in a locked lane (any change to them is refused).
    whole: Option<Note>,
}

/// The guarded parts of a document at one moment. The server keeps one per board up to date
/// with [`Guarded::refresh`], re-reading only what each transaction touched.
#[derive(Debug, Clone)]
pub struct Guarded {
    board: Any,
    stages: Any,
    lanes: Any,
    votes: Any,
    locked: bool,
    locked_lanes: HashSet<String>,
    notes: HashMap<String, NoteGuard>,
    emotions: HashMap<String, Any>,
}

impl PartialEq for Guarded {
    fn eq(&self, other: &Guarded) -> bool {
        same(&self.board, &other.board)
            && same(&self.stages, &other.stages)
            && same(&self.lanes, &other.lanes)
            && same(&self.votes, &other.votes)
            && self.locked == other.locked
            && self.locked_lanes == other.locked_lanes
            && self.notes == other.notes
            && self.emotions.len() == other.emotions.len()
            && self
                .emotions
                .iter()
                .all(|(k, v)| other.emotions.get(k).is_some_and(|w| same(v, w)))
    }
}

/// What a transaction (or several) touched in the guarded roots: the parts
/// [`Guarded::refresh`] must read again. Filled by the server from deep observers.
#[derive(Debug, Clone, Default)]
pub struct Touched {
    pub board: bool,
    pub stages: bool,
    pub lanes: bool,
    pub votes: bool,
    /// Ids of notes added, removed or changed inside.
    pub notes: HashSet<String>,
    /// Emotion keys set or removed.
    pub emotions: HashSet<String>,
}

impl Touched {
    /// Whether nothing guarded was touched.
    pub fn is_empty(&self) -> bool {
        !(self.board || self.stages || self.lanes || self.votes)
            && self.notes.is_empty()
            && self.emotions.is_empty()
    }
}

/// A note whose guarded part changed.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteChange {
    pub id: String,
    pub before: Option<NoteGuard>,
    pub after: Option<NoteGuard>,
}

/// How the guarded state changed between two moments, with the values before, so that a
/// refused change can be checked to be reverted (and restored by value if it was not).
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub locked_before: bool,
    pub locked_after: bool,
    locked_lanes_before: HashSet<String>,
    /// For each small root that changed, its value before.
    pub board: Option<Any>,
    pub stages: Option<Any>,
    pub lanes: Option<Any>,
    pub votes: Option<Any>,
    pub notes: Vec<NoteChange>,
    /// Emotion keys that changed, with their values before (`None`: there was none).
    pub emotions: Vec<(String, Option<Any>)>,
}

impl Changes {
    /// Whether nothing guarded changed.
    pub fn is_empty(&self) -> bool {
        self.board.is_none()
            && self.stages.is_none()
            && self.lanes.is_none()
            && self.votes.is_none()
            && self.notes.is_empty()
            && self.emotions.is_empty()
            && self.locked_before == self.locked_after
    }

    /// Whether `now` has every changed part back at its value before.
    pub fn is_undone_in(&self, now: &Guarded) -> bool {
        let root = |before: &Option<Any>, now: &Any| before.as_ref().is_none_or(|b| same(b, now));
        root(&self.board, &now.board)
            && root(&self.stages, &now.stages)
            && root(&self.lanes, &now.lanes)
            && root(&self.votes, &now.votes)
            && self
                .notes
                .iter()
                .all(|c| c.before.as_ref() == now.notes.get(&c.id))
            && self
                .emotions
                .iter()
                .all(|(key, before)| match (before, now.emotions.get(key)) {
                    (None, None) => true,
                    (Some(b), Some(n)) => same(b, n),
                    _ => false,
                })
    }
}

impl Guarded {
    /// Reads the whole guarded state. Cost is linear in the number of notes, with whole
    /// notes read only for locked lanes.
    pub fn capture<T: ReadTxn>(view: &BoardDoc, txn: &T) -> Guarded {
        let settings = view.settings(txn);
        let mut guarded = Guarded {
            board: view.board.to_json(txn),
            stages: view.stages.to_json(txn),
            lanes: view.lanes.to_json(txn),
            votes: view.votes.to_json(txn),
            locked: settings.locked,
            locked_lanes: settings.locked_lanes.into_iter().collect(),
            notes: HashMap::new(),
            emotions: HashMap::new(),
        };
        guarded.notes = view
            .notes
            .iter(txn)
            .filter_map(|(id, value)| Some((id.to_string(), guarded.read_note(value, txn)?)))
            .collect();
        guarded.emotions = view
            .emotions
            .iter(txn)
            .map(|(k, v)| (k.to_string(), v.to_json(txn)))
            .collect();
        guarded
    }

    /// Re-reads what `touched` names, brings `self` up to date and says what changed. A
    /// change of the board's locked lanes re-reads every note (their whole content is kept
    /// for notes in locked lanes).
    pub fn refresh<T: ReadTxn>(&mut self, view: &BoardDoc, txn: &T, touched: &Touched) -> Changes {
        let mut changes = Changes {
            locked_before: self.locked,
            locked_after: self.locked,
            locked_lanes_before: self.locked_lanes.clone(),
            ..Changes::default()
        };
        let mut all_notes = false;
        if touched.board {
            let board = view.board.to_json(txn);
            if !same(&board, &self.board) {
                changes.board = Some(std::mem::replace(&mut self.board, board));
                let settings = view.settings(txn);
                self.locked = settings.locked;
                changes.locked_after = settings.locked;
                let lanes: HashSet<String> = settings.locked_lanes.into_iter().collect();
                all_notes = lanes != self.locked_lanes;
                self.locked_lanes = lanes;
            }
        }
        for (touched, root, old, slot) in [
            (
                touched.stages,
                &view.stages,
                &mut changes.stages,
                &mut self.stages,
            ),
            (
                touched.lanes,
                &view.lanes,
                &mut changes.lanes,
                &mut self.lanes,
            ),
        ] {
            if touched {
                let now = root.to_json(txn);
                if !same(&now, slot) {
                    *old = Some(std::mem::replace(slot, now));
                }
            }
        }
        if touched.votes {
            let votes = view.votes.to_json(txn);
            if !same(&votes, &self.votes) {
                changes.votes = Some(std::mem::replace(&mut self.votes, votes));
            }
        }
        let ids: Vec<String> = if all_notes {
            let mut ids: HashSet<String> = self.notes.keys().cloned().collect();
            ids.extend(view.notes.keys(txn).map(str::to_string));
            ids.into_iter().collect()
        } else {
            touched.notes.iter().cloned().collect()
        };
        for id in ids {
            let after = view
                .notes
                .get(txn, &id)
                .and_then(|value| self.read_note(value, txn));
            let before = match &after {
                Some(note) => self.notes.insert(id.clone(), note.clone()),
                None => self.notes.remove(&id),
            };
            if before != after {
                changes.notes.push(NoteChange { id, before, after });
            }
        }
        for key in &touched.emotions {
            let after = view.emotions.get(txn, key).map(|v| v.to_json(txn));
            let before = match &after {
                Some(value) => self.emotions.insert(key.clone(), value.clone()),
                None => self.emotions.remove(key),
            };
            let unchanged = match (&before, &after) {
                (None, None) => true,
                (Some(b), Some(a)) => same(b, a),
                _ => false,
            };
            if !unchanged {
                changes.emotions.push((key.clone(), before));
            }
        }
        changes
    }

    /// How `after` differs from `before`, whole (for tests and checks; the server refreshes).
    pub fn between(before: &Guarded, after: &Guarded) -> Changes {
        let root = |b: &Any, a: &Any| (!same(b, a)).then(|| b.clone());
        let ids: HashSet<&String> = before.notes.keys().chain(after.notes.keys()).collect();
        let keys: HashSet<&String> = before
            .emotions
            .keys()
            .chain(after.emotions.keys())
            .collect();
        Changes {
            locked_before: before.locked,
            locked_after: after.locked,
            locked_lanes_before: before.locked_lanes.clone(),
            board: root(&before.board, &after.board),
            stages: root(&before.stages, &after.stages),
            lanes: root(&before.lanes, &after.lanes),
            votes: root(&before.votes, &after.votes),
            notes: ids
                .into_iter()
                .filter(|id| before.notes.get(*id) != after.notes.get(*id))
                .map(|id| NoteChange {
                    id: id.clone(),
                    before: before.notes.get(id).cloned(),
                    after: after.notes.get(id).cloned(),
                })
                .collect(),
            emotions: keys
                .into_iter()
                .filter(
                    |k| match (before.emotions.get(*k), after.emotions.get(*k)) {
                        (Some(b), Some(a)) => !same(b, a),
                        (b, a) => b.is_some() != a.is_some(),
                    },
                )
                .map(|k| (k.clone(), before.emotions.get(k).cloned()))
                .collect(),
        }
    }

    /// A note's guarded part (`None` if the value is not a note map).
    fn read_note<T: ReadTxn>(&self, value: Out, txn: &T) -> Option<NoteGuard> {
        let m = value.cast::<MapRef>().ok()?;
        let lane = crate::schema::map_string(&m, txn, crate::schema::key::LANE);
        let whole = self
            .locked_lanes
            .contains(&lane)
            .then(|| crate::schema::read_note(&m, txn));
        Some(NoteGuard {
            author_id: crate::schema::map_string(&m, txn, crate::schema::key::AUTHOR_ID),
            lane,
            text_len: text_len(&m, txn),
            whole,
        })
    }
}

/// The length of a note's text in bytes (a `Y.Text`'s is known without reading it).
fn text_len<T: ReadTxn>(note: &MapRef, txn: &T) -> usize {
    match note.get(txn, crate::schema::key::TEXT) {
        Some(Out::YText(text)) => text.len(txn) as usize,
        Some(Out::Any(Any::String(s))) => s.len(),
        Some(other) => other.to_string(txn).len(),
        None => 0,
    }
}

/// Equality of values where a NaN equals itself: a NaN someone wrote must not make a value
/// differ from itself (every later update would look like it changed it).
fn same(a: &Any, b: &Any) -> bool {
    match (a, b) {
        (Any::Number(yrs::Number::Float(x)), Any::Number(yrs::Number::Float(y))) => {
            x.to_bits() == y.to_bits() || x == y
        }
        (Any::Array(x), Any::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same(a, b))
        }
        (Any::Map(x), Any::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// What `role` (whose public id is `me`) did wrong with `changes`; `changed` says whether
/// the update changed anything at all (guarded or not).
pub fn check(role: Role, me: &str, changes: &Changes, changed: bool) -> Vec<Violation> {
    let mut violations = Vec::new();
    match role {
        Role::Facilitator => return violations,
        Role::Viewer => {
            if changed {
                violations.push(Violation::FacilitatorOnly("viewers change nothing"));
            }
            return violations;
        }
        Role::Participant => {}
    }
    if !changed {
        return violations;
    }
    if changes.locked_before || changes.locked_after {
        violations.push(Violation::BoardLocked);
    }
    if changes.board.is_some() {
        violations.push(Violation::FacilitatorOnly("board settings"));
    }
    if changes.stages.is_some() || changes.lanes.is_some() {
        violations.push(Violation::FacilitatorOnly("stages and lanes"));
    }
    if changes.votes.is_some() {
        violations.push(Violation::FacilitatorOnly("vote totals"));
    }
    let mine = |author: &str| author.is_empty() || author == me;
    let mut notes: Vec<&NoteChange> = changes.notes.iter().collect();
    notes.sort_by(|a, b| a.id.cmp(&b.id));
    for NoteChange { id, before, after } in notes {
        match (before, after) {
            (Some(old), None) if !mine(&old.author_id) => {
                violations.push(Violation::OthersNote { note: id.clone() })
            }
            (Some(old), Some(new)) if new.author_id != old.author_id => {
                violations.push(Violation::Impersonation { note: id.clone() })
            }
            (None, Some(new)) if !mine(&new.author_id) => {
                violations.push(Violation::Impersonation { note: id.clone() })
            }
            _ => {}
        }
        if let Some(new) = after {
            let was = before.as_ref().map_or(0, |old| old.text_len);
            if new.text_len > MAX_NOTE_TEXT_BYTES && new.text_len > was {
                violations.push(Violation::NoteTooLong { note: id.clone() });
            }
        }
        let in_locked_lane = [before, after]
            .into_iter()
            .flatten()
            .any(|n| changes.locked_lanes_before.contains(&n.lane));
        if in_locked_lane {
            violations.push(Violation::LaneLocked { note: id.clone() });
        }
    }
    let mut emotions: Vec<&String> = changes.emotions.iter().map(|(k, _)| k).collect();
    emotions.sort();
    for key in emotions {
        if key.split('/').next() != Some(me) {
            violations.push(Violation::OthersEmotion { key: key.clone() });
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewNote, Template};
    use crate::schema::{key, new_board_doc};
    use yrs::{Doc, Transact, TransactionMut};

    fn board() -> (Doc, BoardDoc) {
        let doc = new_board_doc("R", Template::CurrentState, 0.0);
        let view = BoardDoc::new(&doc);
        view.add_note(
            &mut doc.transact_mut(),
            &NewNote {
                id: "hers".into(),
                text: "hers".into(),
                stage: "purchase".into(),
                lane: "emotions".into(),
                author_id: "her".into(),
                ..NewNote::default()
            },
        );
        (doc, view)
    }

    /// Applies `change` as `role` (id "me") and returns the violations.
    fn as_role(
        role: Role,
        setup: impl FnOnce(&BoardDoc, &mut TransactionMut),
        change: impl FnOnce(&BoardDoc, &mut TransactionMut),
    ) -> Vec<Violation> {
        let (doc, view) = board();
        setup(&view, &mut doc.transact_mut());
        let before = Guarded::capture(&view, &doc.transact());
        change(&view, &mut doc.transact_mut());
        let after = Guarded::capture(&view, &doc.transact());
        check(role, "me", &Guarded::between(&before, &after), true)
    }

    fn nothing(_: &BoardDoc, _: &mut TransactionMut) {}

    #[test]
    fn participants_may_add_edit_and_move_notes_and_score_their_own_emotions() {
        let v = as_role(Role::Participant, nothing, |view, txn| {
            view.add_note(
                txn,
                &NewNote {
                    id: "mine".into(),
                    lane: "actions".into(),
                    author_id: "me".into(),
                    ..NewNote::default()
                },
            );
            view.set_note_text(txn, "hers", "edited together");
            view.move_note(txn, "hers", "retention", "thoughts");
            view.set_emotion(txn, "me", "purchase", Some(1));
            view.delete_note(txn, "mine");
        });
        assert_eq!(v, vec![]);
    }

    #[test]
    fn facilitator_only_settings_and_structure_are_refused_to_participants() {
        for change in [
            (|view: &BoardDoc, txn: &mut TransactionMut| {
                view.set_phase(txn, crate::Phase::Iteration)
            }) as fn(&BoardDoc, &mut TransactionMut),
            |view, txn| view.set_setting(txn, key::TIMER_DEADLINE, 5.0),
            |view, txn| view.set_setting(txn, key::VOTING_OPEN, true),
            |view, txn| view.set_setting(txn, key::WALKTHROUGH_STAGE, "purchase"),
            |view, txn| view.set_setting(txn, key::PRIVATE_MODE, false),
            |view, txn| {
                view.rename_stage(txn, "purchase", "Buy");
            },
            |view, txn| view.insert_lane(txn, 0, "x", "X", "custom"),
        ] {
            let v = as_role(Role::Participant, nothing, change);
            assert!(matches!(v[..], [Violation::FacilitatorOnly(_)]), "{v:?}");
            assert_eq!(as_role(Role::Facilitator, nothing, change), vec![]);
        }
    }

    #[test]
    fn others_notes_cannot_be_removed_or_taken_over() {
        let v = as_role(Role::Participant, nothing, |view, txn| {
            view.delete_note(txn, "hers");
        });
        assert_eq!(
            v,
            vec![Violation::OthersNote {
                note: "hers".into()
            }]
        );
        let v = as_role(Role::Participant, nothing, |view, txn| {
            view.add_note(
                txn,
                &NewNote {
                    id: "fake".into(),
                    author_id: "her".into(),
                    ..NewNote::default()
                },
            );
        });
        assert_eq!(
            v,
            vec![Violation::Impersonation {
                note: "fake".into()
            }]
        );
        assert_eq!(
            as_role(Role::Facilitator, nothing, |view, txn| {
                view.delete_note(txn, "hers");
            }),
            vec![]
        );
    }

    #[test]
    fn locks_stop_participants_but_not_facilitators() {
        let lock_board =
            |view: &BoardDoc, txn: &mut TransactionMut| view.set_setting(txn, key::LOCKED, true);
        let v = as_role(Role::Participant, lock_board, |view, txn| {
            view.set_emotion(txn, "me", "purchase", Some(2))
        });
        assert!(v.contains(&Violation::BoardLocked));
        let lock_lane = |view: &BoardDoc, txn: &mut TransactionMut| {
            view.set_setting_list(txn, key::LOCKED_LANES, &["emotions".into()])
        };
        let v = as_role(Role::Participant, lock_lane, |view, txn| {
            view.set_note_text(txn, "hers", "changed");
        });
        assert_eq!(
            v,
            vec![Violation::LaneLocked {
                note: "hers".into()
            }]
        );
        let v = as_role(Role::Participant, lock_lane, |view, txn| {
            view.add_note(
                txn,
                &NewNote {
                    id: "new".into(),
                    lane: "emotions".into(),
                    author_id: "me".into(),
                    ..NewNote::default()
                },
            );
        });
        assert_eq!(v, vec![Violation::LaneLocked { note: "new".into() }]);
        let v = as_role(Role::Participant, lock_lane, |view, txn| {
            view.add_note(
                txn,
                &NewNote {
                    id: "ok".into(),
                    lane: "actions".into(),
                    author_id: "me".into(),
                    ..NewNote::default()
                },
            );
        });
        assert_eq!(v, vec![]);
        assert_eq!(
            as_role(Role::Facilitator, lock_lane, |view, txn| {
                view.set_note_text(txn, "hers", "x");
            }),
            vec![]
        );
    }

    #[test]
    fn note_text_may_not_grow_past_the_limit() {
        let long = "x".repeat(MAX_NOTE_TEXT_BYTES + 1);
        let v = as_role(Role::Participant, nothing, |view, txn| {
            view.set_note_text(txn, "hers", &long);
        });
        assert_eq!(
            v,
            vec![Violation::NoteTooLong {
                note: "hers".into()
            }]
        );
        let v = as_role(Role::Participant, nothing, |view, txn| {
            view.add_note(
                txn,
                &NewNote {
                    id: "mine".into(),
                    text: long.clone(),
                    lane: "actions".into(),
                    author_id: "me".into(),
                    ..NewNote::default()
                },
            );
        });
        assert_eq!(
            v,
            vec![Violation::NoteTooLong {
                note: "mine".into()
            }]
        );
        let at_limit = "é".repeat(MAX_NOTE_TEXT_BYTES / 2);
        let v = as_role(Role::Participant, nothing, |view, txn| {
            view.set_note_text(txn, "hers", &at_limit);
        });
        assert_eq!(v, vec![], "the limit itself is allowed");
        // A text already over the limit (written by a facilitator) may shrink.
        let v = as_role(
            Role::Participant,
            |view, txn| {
                view.set_note_text(txn, "hers", &long);
            },
            |view, txn| {
                view.set_note_text(txn, "hers", "short");
            },
        );
        assert_eq!(v, vec![]);
    }

    #[test]
    fn emotion_scores_are_each_persons_own() {
        let v = as_role(Role::Participant, nothing, |view, txn| {
            view.set_emotion(txn, "her", "purchase", Some(-2))
        });
        assert_eq!(
            v,
            vec![Violation::OthersEmotion {
                key: "her/purchase".into()
            }]
        );
    }
}
