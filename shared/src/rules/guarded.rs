//! The guarded state of a board's document, and how it changed: what the rules in the parent
//! module judge. [`Guarded`] is read whole once ([`Guarded::capture`]) and then kept up to
//! date from what the server's deep observers say a transaction touched ([`Touched`],
//! [`Guarded::refresh`]); the difference comes out as [`Changes`], which also carries the
//! values before so that a revert can be checked. Reads the document through the schema's
//! typed view ([`BoardDoc`]); knows nothing of roles.

use crate::model::Note;
use crate::schema::BoardDoc;
use std::collections::{HashMap, HashSet};
use yrs::types::ToJson;
use yrs::{Any, Map, MapRef, Out, ReadTxn, Text};

/// What a note must keep from a participant's hands.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteGuard {
    pub(super) author_id: String,
    pub(super) lane: String,
    /// The length of its text, in bytes.
    pub(super) text_len: usize,
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
    pub(super) locked_lanes_before: HashSet<String>,
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
