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
use std::collections::{BTreeMap, HashMap, HashSet};
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
struct NoteGuard {
    author_id: String,
    lane: String,
    /// The length of its text, in bytes.
    text_len: usize,
    /// The whole note, for notes in a locked lane (any change to them is refused).
    whole: Option<Note>,
}

/// The guarded parts of a document at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Guarded {
    board: String,
    structure: String,
    votes: String,
    locked: bool,
    locked_lanes: HashSet<String>,
    notes: HashMap<String, NoteGuard>,
    emotions: BTreeMap<String, String>,
}

impl Guarded {
    /// Reads the guarded state. Cost is linear in the number of notes, with whole notes read
    /// only for locked lanes.
    pub fn capture<T: ReadTxn>(view: &BoardDoc, txn: &T) -> Guarded {
        let settings = view.settings(txn);
        let locked_lanes: HashSet<String> = settings.locked_lanes.iter().cloned().collect();
        let notes = view
            .notes
            .iter(txn)
            .filter_map(|(id, value)| {
                let m = value.cast::<MapRef>().ok()?;
                let lane = crate::schema::map_string(&m, txn, crate::schema::key::LANE);
                let whole = locked_lanes
                    .contains(&lane)
                    .then(|| crate::schema::read_note(&m, txn));
                Some((
                    id.to_string(),
                    NoteGuard {
                        author_id: crate::schema::map_string(
                            &m,
                            txn,
                            crate::schema::key::AUTHOR_ID,
                        ),
                        lane,
                        text_len: text_len(&m, txn),
                        whole,
                    },
                ))
            })
            .collect();
        let emotions = view
            .emotions
            .iter(txn)
            .map(|(k, v)| (k.to_string(), out_json(v, txn)))
            .collect();
        Guarded {
            board: canonical(&view.board.to_json(txn)),
            structure: canonical(&view.stages.to_json(txn)) + &canonical(&view.lanes.to_json(txn)),
            votes: canonical(&view.votes.to_json(txn)),
            locked: settings.locked,
            locked_lanes,
            notes,
            emotions,
        }
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

fn out_json<T: ReadTxn>(value: Out, txn: &T) -> String {
    match value {
        Out::Any(any) => canonical(&any),
        other => other.to_string(txn),
    }
}

/// A string form of a value with map keys sorted, so equal values compare equal (`Any`'s
/// maps are hash maps, whose order varies).
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

/// What `role` (whose public id is `me`) did wrong going from `before` to `after`;
/// `changed` says whether the update changed anything at all.
pub fn check(
    role: Role,
    me: &str,
    before: &Guarded,
    after: &Guarded,
    changed: bool,
) -> Vec<Violation> {
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
    if before.locked || after.locked {
        violations.push(Violation::BoardLocked);
    }
    if before.board != after.board {
        violations.push(Violation::FacilitatorOnly("board settings"));
    }
    if before.structure != after.structure {
        violations.push(Violation::FacilitatorOnly("stages and lanes"));
    }
    if before.votes != after.votes {
        violations.push(Violation::FacilitatorOnly("vote totals"));
    }
    let mine = |author: &str| author.is_empty() || author == me;
    for (id, old) in &before.notes {
        match after.notes.get(id) {
            None if !mine(&old.author_id) => {
                violations.push(Violation::OthersNote { note: id.clone() })
            }
            Some(new) if new.author_id != old.author_id => {
                violations.push(Violation::Impersonation { note: id.clone() })
            }
            _ => {}
        }
    }
    for (id, new) in &after.notes {
        if !before.notes.contains_key(id) && !mine(&new.author_id) {
            violations.push(Violation::Impersonation { note: id.clone() });
        }
        let was = before.notes.get(id).map_or(0, |old| old.text_len);
        if new.text_len > MAX_NOTE_TEXT_BYTES && new.text_len > was {
            violations.push(Violation::NoteTooLong { note: id.clone() });
        }
    }
    let ids: HashSet<&String> = before.notes.keys().chain(after.notes.keys()).collect();
    for id in ids {
        let (old, new) = (before.notes.get(id), after.notes.get(id));
        let in_locked_lane = [old, new]
            .iter()
            .flatten()
            .any(|n| before.locked_lanes.contains(&n.lane));
        if in_locked_lane && old != new {
            violations.push(Violation::LaneLocked { note: id.clone() });
        }
    }
    let keys: HashSet<&String> = before
        .emotions
        .keys()
        .chain(after.emotions.keys())
        .collect();
    for key in keys {
        if before.emotions.get(key) != after.emotions.get(key) && key.split('/').next() != Some(me)
        {
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
        check(role, "me", &before, &after, true)
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
