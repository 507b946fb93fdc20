//! Private rooms (docs/SCHEMA.md, "Private notes" and "Voting"): one small document per
//! person and board, joined only by that person's connections, holding what others must not
//! see yet: `notes` written in private mode and `votes` placed while voting is open.
//!
//! This module is the document logic: room ids, moving notes out at a reveal, counting votes.
//! `triggers.rs` decides when.

use journeyboard_shared::schema::{key, BoardDoc};
use journeyboard_shared::Note;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;
use yrs::{In, Map, MapPrelim, ReadTxn, TextPrelim, TransactionMut};

/// What a room holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomKind {
    /// A board's shared document.
    Board,
    /// A person's private room on a board.
    Private {
        board: Uuid,
        /// The owner's public id.
        owner: String,
    },
}

/// The id of the private room of `public_id` on `board`: a UUID (version 8) made from the
/// first 16 bytes of SHA-256 over both, so the same person always finds the same room and
/// nobody can guess another's without their secret.
pub fn private_room_id(board: Uuid, public_id: &str) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(b"journeyboard-private-room:");
    hasher.update(board.as_bytes());
    hasher.update(public_id.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Writes notes revealed from `owner`'s private room into the board's `notes`, with the same
/// ids and fields, except `author_id`, which is always the owner's (a private room is written
/// by its owner alone, and cannot make a note pass for someone else's). A note whose id the
/// board already has is not written (it would replace someone's note). Returns the ids
/// written.
pub fn insert_revealed(
    view: &BoardDoc,
    txn: &mut TransactionMut,
    owner: &str,
    notes: &[Note],
) -> Vec<String> {
    let mut written = Vec::new();
    for note in notes {
        if note.id.is_empty() || view.notes.get(txn, &note.id).is_some() {
            tracing::warn!(note = %note.id, "a revealed note's id is taken; not revealed");
            continue;
        }
        let mut fields: Vec<(&str, In)> = vec![
            (key::ID, In::from(note.id.as_str())),
            (key::TEXT, In::from(TextPrelim::new(note.text.as_str()))),
            (key::STAGE, In::from(note.stage.as_str())),
            (key::LANE, In::from(note.lane.as_str())),
            (key::COLOR, In::from(note.color.as_str())),
            (key::AUTHOR, In::from(note.author.as_str())),
            (key::AUTHOR_ID, In::from(owner)),
            (key::AREA, In::from(note.area.as_str())),
            (key::CREATED_AT, In::from(note.created_at)),
        ];
        if !note.channel.is_empty() {
            fields.push((key::CHANNEL, In::from(note.channel.as_str())));
        }
        if !note.touchpoint.is_empty() {
            fields.push((key::TOUCHPOINT, In::from(note.touchpoint.as_str())));
        }
        view.notes
            .insert(txn, note.id.as_str(), MapPrelim::from_iter(fields));
        written.push(note.id.clone());
    }
    written
}

/// Which notes can be voted on: those on the board, in one of `lanes` (all lanes if empty).
pub fn votable<T: ReadTxn>(view: &BoardDoc, txn: &T, lanes: &[String]) -> HashSet<String> {
    let lanes: HashSet<&str> = lanes.iter().map(String::as_str).collect();
    view.notes(txn)
        .into_iter()
        .filter(|n| lanes.is_empty() || lanes.contains(n.lane.as_str()))
        .map(|n| n.id)
        .collect()
}

/// One person's counted dots: only votable notes, at most `dots` in all. The excess is
/// dropped deterministically: notes are taken in id order until the budget is spent.
pub fn ballot(
    votes: &BTreeMap<String, u32>,
    votable: &HashSet<String>,
    dots: u32,
) -> BTreeMap<String, u32> {
    let mut left = dots;
    let mut counted = BTreeMap::new();
    for (note, &n) in votes {
        if left == 0 {
            break;
        }
        if n == 0 || !votable.contains(note) {
            continue;
        }
        let n = n.min(left);
        left -= n;
        counted.insert(note.clone(), n);
    }
    counted
}

/// Sums ballots into totals per note.
pub fn tally(ballots: impl IntoIterator<Item = BTreeMap<String, u32>>) -> BTreeMap<String, u32> {
    let mut totals = BTreeMap::new();
    for ballot in ballots {
        for (note, n) in ballot {
            *totals.entry(note).or_insert(0) += n;
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;
    use journeyboard_shared::model::{NewNote, Template};
    use journeyboard_shared::schema::new_board_doc;
    use yrs::{Doc, Transact};

    #[test]
    fn room_ids_are_per_board_and_person() {
        let (b1, b2) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(private_room_id(b1, "a"), private_room_id(b1, "a"));
        assert_ne!(private_room_id(b1, "a"), private_room_id(b1, "b"));
        assert_ne!(private_room_id(b1, "a"), private_room_id(b2, "a"));
        assert_ne!(private_room_id(b1, "a"), b1);
    }

    #[test]
    fn revealed_notes_keep_their_fields_but_not_a_borrowed_author_id_nor_a_taken_id() {
        let private = Doc::new();
        let pview = BoardDoc::new(&private);
        for (id, author_id) in [("p1", "owner"), ("p2", "someone-else"), ("taken", "owner")] {
            pview.add_note(
                &mut private.transact_mut(),
                &NewNote {
                    id: id.into(),
                    text: format!("secret {id}"),
                    author: "Ana".into(),
                    author_id: author_id.into(),
                    created_at: 7.0,
                    area: journeyboard_shared::NoteArea::Icebreaker,
                    ..NewNote::default()
                },
            );
        }
        let board = new_board_doc("R", Template::CurrentState, 0.0);
        let view = BoardDoc::new(&board);
        view.add_note(
            &mut board.transact_mut(),
            &NewNote {
                id: "taken".into(),
                text: "someone's".into(),
                ..NewNote::default()
            },
        );
        let notes = pview.notes(&private.transact());
        let written = insert_revealed(&view, &mut board.transact_mut(), "owner", &notes);
        assert_eq!(written, vec!["p1", "p2"]);
        let txn = board.transact();
        let p2 = view.note(&txn, "p2").unwrap();
        assert_eq!(
            (
                p2.text.as_str(),
                p2.author.as_str(),
                p2.author_id.as_str(),
                p2.area.as_str(),
                p2.created_at
            ),
            ("secret p2", "Ana", "owner", "icebreaker", 7.0)
        );
        assert_eq!(view.note(&txn, "taken").unwrap().text, "someone's");
        assert!(view.note_text(&txn, "p1").is_some(), "text is a Y.Text");
    }

    #[test]
    fn ballots_respect_budget_and_lanes_and_sum_up() {
        let votable: HashSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let votes = |pairs: &[(&str, u32)]| -> BTreeMap<String, u32> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let ana = ballot(
            &votes(&[("a", 1), ("b", 5), ("gone", 3), ("c", 1)]),
            &votable,
            3,
        );
        assert_eq!(ana, votes(&[("a", 1), ("b", 2)]));
        let bo = ballot(&votes(&[("c", 1), ("a", 0)]), &votable, 3);
        assert_eq!(tally([ana, bo]), votes(&[("a", 1), ("b", 2), ("c", 1)]));
        assert!(ballot(&votes(&[("a", 2)]), &votable, 0).is_empty());
    }
}
