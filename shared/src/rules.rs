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
//!
//! This file holds the rules ([`check`]); `rules/guarded.rs` reads the guarded state and
//! what changed in it ([`Guarded`], [`Changes`]), which the rules take as input.

mod guarded;

pub use guarded::{Changes, Guarded, NoteChange, NoteGuard, Touched};

use crate::model::Role;

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
    use crate::schema::{key, new_board_doc, BoardDoc};
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
