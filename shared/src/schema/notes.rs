//! The board's notes: the `notes` root, note id -> Y.Map whose `text` is a Y.Text, so that
//! two people typing in one note merge. Read in a stable order, added, edited in place,
//! moved between cells, recoloured and deleted; [`read_note`] is also how the rules read a
//! note. Touchpoint details of notes are the workshop module's.

use super::{key, map_string, BoardDoc};
use crate::model::{NewNote, Note, NoteColor};
use yrs::{
    Any, GetString, In, Map, MapPrelim, MapRef, Out, ReadTxn, Text, TextPrelim, TextRef,
    TransactionMut,
};

impl BoardDoc {
    /// How many notes the board holds.
    pub fn note_count<T: ReadTxn>(&self, txn: &T) -> usize {
        self.notes.len(txn) as usize
    }

    /// Every note, ordered by creation time then id (a stable order for display and export).
    pub fn notes<T: ReadTxn>(&self, txn: &T) -> Vec<Note> {
        let mut notes: Vec<Note> = self
            .notes
            .iter(txn)
            .filter_map(|(_, value)| value.cast::<MapRef>().ok())
            .map(|m| read_note(&m, txn))
            .collect();
        notes.sort_by(|a, b| {
            a.created_at
                .total_cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        notes
    }

    /// One note by id.
    pub fn note<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<Note> {
        let m = self.notes.get(txn, id)?.cast::<MapRef>().ok()?;
        Some(read_note(&m, txn))
    }

    /// The Y.Text of a note, to edit it in place (so two people typing in one note merge).
    pub fn note_text<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<TextRef> {
        let m = self.notes.get(txn, id)?.cast::<MapRef>().ok()?;
        m.get(txn, key::TEXT)?.cast::<TextRef>().ok()
    }

    /// Adds a note.
    pub fn add_note(&self, txn: &mut TransactionMut, note: &NewNote) {
        let prelim = MapPrelim::from([
            (key::ID, In::from(note.id.as_str())),
            (key::TEXT, In::from(TextPrelim::new(note.text.as_str()))),
            (key::STAGE, In::from(note.stage.as_str())),
            (key::LANE, In::from(note.lane.as_str())),
            (key::COLOR, In::from(note.color.as_str())),
            (key::AUTHOR, In::from(note.author.as_str())),
            (key::AUTHOR_ID, In::from(note.author_id.as_str())),
            (key::AREA, In::from(note.area.as_str())),
            (key::CREATED_AT, In::from(note.created_at)),
        ]);
        self.notes.insert(txn, note.id.as_str(), prelim);
    }

    /// Replaces a note's whole text (prefer editing the Y.Text by range for live typing).
    pub fn set_note_text(&self, txn: &mut TransactionMut, id: &str, text: &str) -> bool {
        let Some(t) = self.note_text(txn, id) else {
            return false;
        };
        let len = t.len(txn);
        t.remove_range(txn, 0, len);
        t.insert(txn, 0, text);
        true
    }

    /// Moves a note to another cell.
    pub fn move_note(&self, txn: &mut TransactionMut, id: &str, stage: &str, lane: &str) -> bool {
        let Some(m) = self.note_map(txn, id) else {
            return false;
        };
        m.insert(txn, key::STAGE, stage);
        m.insert(txn, key::LANE, lane);
        true
    }

    /// Changes a note's colour.
    pub fn set_note_color(&self, txn: &mut TransactionMut, id: &str, color: NoteColor) -> bool {
        let Some(m) = self.note_map(txn, id) else {
            return false;
        };
        m.insert(txn, key::COLOR, color.as_str());
        true
    }

    /// Deletes a note.
    pub fn delete_note(&self, txn: &mut TransactionMut, id: &str) -> bool {
        self.notes.remove(txn, id).is_some()
    }

    /// A note's map, to change one of its fields.
    pub(crate) fn note_map<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<MapRef> {
        self.notes.get(txn, id)?.cast::<MapRef>().ok()
    }
}

/// A note's map as a plain [`Note`] (an empty or unset `area` reads as `grid`).
pub(crate) fn read_note<T: ReadTxn>(m: &MapRef, txn: &T) -> Note {
    Note {
        id: map_string(m, txn, key::ID),
        text: match m.get(txn, key::TEXT) {
            Some(Out::YText(t)) => t.get_string(txn),
            Some(other) => other.to_string(txn),
            None => String::new(),
        },
        stage: map_string(m, txn, key::STAGE),
        lane: map_string(m, txn, key::LANE),
        color: map_string(m, txn, key::COLOR),
        author: map_string(m, txn, key::AUTHOR),
        author_id: map_string(m, txn, key::AUTHOR_ID),
        area: match map_string(m, txn, key::AREA) {
            area if area.is_empty() => "grid".to_string(),
            area => area,
        },
        channel: map_string(m, txn, key::CHANNEL),
        touchpoint: map_string(m, txn, key::TOUCHPOINT),
        created_at: match m.get(txn, key::CREATED_AT) {
            Some(Out::Any(Any::Number(n))) => n.as_f64().unwrap_or(0.0),
            _ => 0.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, Transact, Update};

    fn note(id: &str, text: &str) -> NewNote {
        NewNote {
            id: id.into(),
            text: text.into(),
            stage: "purchase".into(),
            lane: "pain-points".into(),
            color: NoteColor::Pink,
            author: "Ana".into(),
            created_at: 1.0,
            ..NewNote::default()
        }
    }

    #[test]
    fn concurrent_typing_in_one_note_merges() {
        let a = Doc::with_client_id(1);
        let b = Doc::with_client_id(2);
        let (va, vb) = (BoardDoc::new(&a), BoardDoc::new(&b));
        va.add_note(&mut a.transact_mut(), &note("n1", "slow"));
        sync(&a, &b);
        {
            let mut ta = a.transact_mut();
            va.note_text(&ta, "n1").unwrap().push(&mut ta, " checkout");
        }
        {
            let mut tb = b.transact_mut();
            vb.note_text(&tb, "n1").unwrap().insert(&mut tb, 0, "Very ");
        }
        sync(&a, &b);
        sync(&b, &a);
        let text_a = va.note(&a.transact(), "n1").unwrap().text;
        let text_b = vb.note(&b.transact(), "n1").unwrap().text;
        assert_eq!(text_a, "Very slow checkout");
        assert_eq!(text_a, text_b);
    }

    #[test]
    fn move_recolour_and_delete_a_note() {
        let doc = Doc::new();
        let view = BoardDoc::new(&doc);
        view.add_note(&mut doc.transact_mut(), &note("n1", "x"));
        assert!(view.move_note(&mut doc.transact_mut(), "n1", "retention", "emotions"));
        assert!(view.set_note_color(&mut doc.transact_mut(), "n1", NoteColor::Green));
        let n = view.note(&doc.transact(), "n1").unwrap();
        assert_eq!(
            (n.stage.as_str(), n.lane.as_str(), n.color.as_str()),
            ("retention", "emotions", "green")
        );
        assert!(view.delete_note(&mut doc.transact_mut(), "n1"));
        assert!(!view.move_note(&mut doc.transact_mut(), "n1", "a", "b"));
        assert_eq!(view.note_count(&doc.transact()), 0);
    }

    fn sync(from: &Doc, to: &Doc) {
        let sv = to.transact().state_vector();
        let update = from.transact().encode_diff_v1(&sv);
        to.transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
    }
}
