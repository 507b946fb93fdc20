//! The board's Y.Doc schema, and the only code that knows its root names and shapes.
//! `docs/SCHEMA.md` documents the same for JS clients; keep the two in step.
//!
//! Roots:
//! - `board` (Y.Map): `title`, `template`, `phase`, `schema_version`, `created_at` and the
//!   facilitator's workshop settings (see [`workshop`]).
//! - `stages`, `lanes` (Y.Array of Y.Map): `id`, `title` (lanes also `kind`).
//! - `notes` (Y.Map): note id -> Y.Map with `id`, `text` (Y.Text), `stage`, `lane`, `color`,
//!   `author`, `author_id`, `area`, `channel`, `touchpoint`, `created_at`.
//! - `personas`, `actions`, `resources` (Y.Map id -> Y.Map), `emotions` (Y.Map
//!   `author_id/stage_id` -> score), `votes` (Y.Map note id -> total, written by the server).

mod workshop;

use crate::model::{Lane, NewNote, Note, NoteColor, Phase, Stage, Template};
use crate::templates;
use yrs::types::ToJson;
use yrs::{
    Any, Array, ArrayRef, Doc, GetString, In, Map, MapPrelim, MapRef, Out, ReadTxn, Text,
    TextPrelim, TextRef, Transact, TransactionMut,
};

/// Root map with the board's own fields.
pub const ROOT_BOARD: &str = "board";
/// Root array of stage maps (the grid's columns, in order).
pub const ROOT_STAGES: &str = "stages";
/// Root array of lane maps (the grid's rows, in order).
pub const ROOT_LANES: &str = "lanes";
/// Root map of note id -> note map.
pub const ROOT_NOTES: &str = "notes";
/// Root map of persona id -> persona map.
pub const ROOT_PERSONAS: &str = "personas";
/// Root map of `author_id/stage_id` -> emotion score (-2..=2).
pub const ROOT_EMOTIONS: &str = "emotions";
/// Root map of note id -> vote total (written by the server when voting closes).
pub const ROOT_VOTES: &str = "votes";
/// Root map of action item id -> action map.
pub const ROOT_ACTIONS: &str = "actions";
/// Root map of resource id -> resource map.
pub const ROOT_RESOURCES: &str = "resources";

/// Bumped when the schema changes in a way old clients cannot read.
pub const SCHEMA_VERSION: f64 = 1.0;

pub mod key {
    //! Field names inside the schema's maps.
    pub const ID: &str = "id";
    pub const TITLE: &str = "title";
    pub const TEMPLATE: &str = "template";
    pub const PHASE: &str = "phase";
    pub const SCHEMA_VERSION: &str = "schema_version";
    pub const CREATED_AT: &str = "created_at";
    pub const KIND: &str = "kind";
    pub const TEXT: &str = "text";
    pub const STAGE: &str = "stage";
    pub const LANE: &str = "lane";
    pub const COLOR: &str = "color";
    pub const AUTHOR: &str = "author";
    pub const AUTHOR_ID: &str = "author_id";
    pub const AREA: &str = "area";
    pub const CHANNEL: &str = "channel";
    pub const TOUCHPOINT: &str = "touchpoint";
    // Workshop settings in `board` (facilitator-only).
    pub const GOALS: &str = "goals";
    pub const KPIS: &str = "kpis";
    pub const TIMER_DEADLINE: &str = "timer_deadline";
    pub const TIMER_DURATION: &str = "timer_duration";
    pub const TIMER_REVEAL: &str = "timer_reveal";
    pub const PRIVATE_MODE: &str = "private_mode";
    pub const WALKTHROUGH_STAGE: &str = "walkthrough_stage";
    pub const VOTING_OPEN: &str = "voting_open";
    pub const VOTE_DOTS: &str = "vote_dots";
    pub const VOTE_LANES: &str = "vote_lanes";
    pub const LOCKED: &str = "locked";
    pub const LOCKED_LANES: &str = "locked_lanes";
    pub const MAIN_PERSONA: &str = "main_persona";
    // Persona, action item and resource fields.
    pub const NAME: &str = "name";
    pub const AVATAR: &str = "avatar";
    pub const ROLE: &str = "role";
    pub const DEMOGRAPHICS: &str = "demographics";
    pub const WAY_OF_LIFE: &str = "way_of_life";
    pub const MOTIVATIONS: &str = "motivations";
    pub const FRUSTRATIONS: &str = "frustrations";
    pub const QUOTE: &str = "quote";
    pub const OWNER: &str = "owner";
    pub const DUE: &str = "due";
    pub const NOTE: &str = "note";
}

/// Handles to a board document's roots. Cheap to create; holds no transaction.
#[derive(Clone)]
pub struct BoardDoc {
    pub board: MapRef,
    pub stages: ArrayRef,
    pub lanes: ArrayRef,
    pub notes: MapRef,
    pub personas: MapRef,
    pub emotions: MapRef,
    pub votes: MapRef,
    pub actions: MapRef,
    pub resources: MapRef,
}

impl BoardDoc {
    /// Binds the roots of `doc` (creating them if the doc is new).
    pub fn new(doc: &Doc) -> Self {
        BoardDoc {
            board: doc.get_or_insert_map(ROOT_BOARD),
            stages: doc.get_or_insert_array(ROOT_STAGES),
            lanes: doc.get_or_insert_array(ROOT_LANES),
            notes: doc.get_or_insert_map(ROOT_NOTES),
            personas: doc.get_or_insert_map(ROOT_PERSONAS),
            emotions: doc.get_or_insert_map(ROOT_EMOTIONS),
            votes: doc.get_or_insert_map(ROOT_VOTES),
            actions: doc.get_or_insert_map(ROOT_ACTIONS),
            resources: doc.get_or_insert_map(ROOT_RESOURCES),
        }
    }

    /// Fills a new board from its template: title, map type, first phase, stages and lanes.
    pub fn seed(&self, txn: &mut TransactionMut, title: &str, template: Template, now_ms: f64) {
        self.board.insert(txn, key::TITLE, title);
        self.board.insert(txn, key::TEMPLATE, template.as_str());
        self.board
            .insert(txn, key::PHASE, Phase::Icebreaker.as_str());
        self.board.insert(txn, key::SCHEMA_VERSION, SCHEMA_VERSION);
        self.board.insert(txn, key::CREATED_AT, now_ms);
        for (id, title) in templates::stages(template) {
            self.stages.push_back(txn, stage_prelim(id, title));
        }
        for (id, title, kind) in templates::lanes(template) {
            self.lanes
                .push_back(txn, lane_prelim(id, title, kind.as_str()));
        }
    }

    /// The board's title ("" if unset).
    pub fn title<T: ReadTxn>(&self, txn: &T) -> String {
        map_string(&self.board, txn, key::TITLE)
    }

    /// The map type name as stored.
    pub fn template<T: ReadTxn>(&self, txn: &T) -> String {
        map_string(&self.board, txn, key::TEMPLATE)
    }

    /// The current phase name as stored.
    pub fn phase<T: ReadTxn>(&self, txn: &T) -> String {
        map_string(&self.board, txn, key::PHASE)
    }

    /// Stages in column order. Items that are not maps are skipped.
    pub fn stages<T: ReadTxn>(&self, txn: &T) -> Vec<Stage> {
        self.stages
            .iter(txn)
            .filter_map(|item| item.cast::<MapRef>().ok())
            .map(|m| Stage {
                id: map_string(&m, txn, key::ID),
                title: map_string(&m, txn, key::TITLE),
            })
            .collect()
    }

    /// Lanes in row order. Items that are not maps are skipped.
    pub fn lanes<T: ReadTxn>(&self, txn: &T) -> Vec<Lane> {
        self.lanes
            .iter(txn)
            .filter_map(|item| item.cast::<MapRef>().ok())
            .map(|m| Lane {
                id: map_string(&m, txn, key::ID),
                title: map_string(&m, txn, key::TITLE),
                kind: map_string(&m, txn, key::KIND),
            })
            .collect()
    }

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

    /// Appends a stage (a new column) at `index` (clamped to the end).
    pub fn insert_stage(&self, txn: &mut TransactionMut, index: u32, id: &str, title: &str) {
        let index = index.min(self.stages.len(txn));
        self.stages.insert(txn, index, stage_prelim(id, title));
    }

    /// Appends a lane (a new row) at `index` (clamped to the end).
    pub fn insert_lane(
        &self,
        txn: &mut TransactionMut,
        index: u32,
        id: &str,
        title: &str,
        kind: &str,
    ) {
        let index = index.min(self.lanes.len(txn));
        self.lanes.insert(txn, index, lane_prelim(id, title, kind));
    }

    /// Renames the stage with `id`. Returns false if there is none.
    pub fn rename_stage(&self, txn: &mut TransactionMut, id: &str, title: &str) -> bool {
        rename_item(&self.stages, txn, id, title)
    }

    /// Renames the lane with `id`. Returns false if there is none.
    pub fn rename_lane(&self, txn: &mut TransactionMut, id: &str, title: &str) -> bool {
        rename_item(&self.lanes, txn, id, title)
    }

    /// Moves the stage with `id` to `to` (clamped). Notes follow, since they refer to the id.
    pub fn move_stage(&self, txn: &mut TransactionMut, id: &str, to: u32) -> bool {
        move_item(&self.stages, txn, id, to)
    }

    /// Moves the lane with `id` to `to` (clamped).
    pub fn move_lane(&self, txn: &mut TransactionMut, id: &str, to: u32) -> bool {
        move_item(&self.lanes, txn, id, to)
    }

    /// Removes the stage with `id`. Its notes stay in the document (and come back with undo).
    pub fn remove_stage(&self, txn: &mut TransactionMut, id: &str) -> bool {
        remove_item(&self.stages, txn, id)
    }

    /// Removes the lane with `id`. Its notes stay in the document (and come back with undo).
    pub fn remove_lane(&self, txn: &mut TransactionMut, id: &str) -> bool {
        remove_item(&self.lanes, txn, id)
    }

    /// Sets the board's title.
    pub fn set_title(&self, txn: &mut TransactionMut, title: &str) {
        self.board.insert(txn, key::TITLE, title);
    }

    /// Empties every root (restoring a snapshot writes the whole board again after this).
    pub fn clear(&self, txn: &mut TransactionMut) {
        self.board.clear(txn);
        let stages = self.stages.len(txn);
        self.stages.remove_range(txn, 0, stages);
        let lanes = self.lanes.len(txn);
        self.lanes.remove_range(txn, 0, lanes);
        for map in [
            &self.notes,
            &self.personas,
            &self.emotions,
            &self.votes,
            &self.actions,
            &self.resources,
        ] {
            map.clear(txn);
        }
    }

    /// The whole document as JSON-like data (for debugging and tests).
    pub fn to_any<T: ReadTxn>(&self, txn: &T) -> Any {
        let mut root = std::collections::HashMap::new();
        root.insert(ROOT_BOARD.to_string(), self.board.to_json(txn));
        root.insert(ROOT_STAGES.to_string(), self.stages.to_json(txn));
        root.insert(ROOT_LANES.to_string(), self.lanes.to_json(txn));
        root.insert(ROOT_NOTES.to_string(), self.notes.to_json(txn));
        root.insert(ROOT_PERSONAS.to_string(), self.personas.to_json(txn));
        root.insert(ROOT_EMOTIONS.to_string(), self.emotions.to_json(txn));
        root.insert(ROOT_VOTES.to_string(), self.votes.to_json(txn));
        root.insert(ROOT_ACTIONS.to_string(), self.actions.to_json(txn));
        root.insert(ROOT_RESOURCES.to_string(), self.resources.to_json(txn));
        Any::from(root)
    }

    pub(crate) fn note_map<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<MapRef> {
        self.notes.get(txn, id)?.cast::<MapRef>().ok()
    }
}

/// Index and map of the item with `id` in a stage or lane array.
fn find_item<T: ReadTxn>(array: &ArrayRef, txn: &T, id: &str) -> Option<(u32, MapRef)> {
    array.iter(txn).enumerate().find_map(|(i, item)| {
        let m = item.cast::<MapRef>().ok()?;
        (map_string(&m, txn, key::ID) == id).then_some((i as u32, m))
    })
}

fn rename_item(array: &ArrayRef, txn: &mut TransactionMut, id: &str, title: &str) -> bool {
    let Some((_, m)) = find_item(array, txn, id) else {
        return false;
    };
    m.insert(txn, key::TITLE, title);
    true
}

/// Moves by delete and re-insert of a map with the same fields (Yjs arrays have no move).
fn move_item(array: &ArrayRef, txn: &mut TransactionMut, id: &str, to: u32) -> bool {
    let Some((from, m)) = find_item(array, txn, id) else {
        return false;
    };
    let fields: Vec<(String, Any)> = m
        .iter(txn)
        .filter_map(|(k, v)| match v {
            Out::Any(any) => Some((k.to_string(), any)),
            _ => None,
        })
        .collect();
    array.remove(txn, from);
    let to = to.min(array.len(txn));
    let prelim: MapPrelim = fields.into_iter().map(|(k, v)| (k, In::Any(v))).collect();
    array.insert(txn, to, prelim);
    true
}

fn remove_item(array: &ArrayRef, txn: &mut TransactionMut, id: &str) -> bool {
    let Some((index, _)) = find_item(array, txn, id) else {
        return false;
    };
    array.remove(txn, index);
    true
}

fn stage_prelim(id: &str, title: &str) -> MapPrelim {
    MapPrelim::from([(key::ID, In::from(id)), (key::TITLE, In::from(title))])
}

fn lane_prelim(id: &str, title: &str, kind: &str) -> MapPrelim {
    MapPrelim::from([
        (key::ID, In::from(id)),
        (key::TITLE, In::from(title)),
        (key::KIND, In::from(kind)),
    ])
}

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

/// A string field of a map; other clients may have written another type, which reads as its
/// string form rather than failing.
pub(crate) fn map_string<T: ReadTxn>(m: &MapRef, txn: &T, field: &str) -> String {
    match m.get(txn, field) {
        Some(Out::Any(Any::String(s))) => s.to_string(),
        Some(Out::Any(Any::Null | Any::Undefined)) | None => String::new(),
        Some(other) => other.to_string(txn),
    }
}

/// Seeds a fresh document for a new board and returns it (used by the server at creation).
pub fn new_board_doc(title: &str, template: Template, now_ms: f64) -> Doc {
    let doc = Doc::new();
    let view = BoardDoc::new(&doc);
    let mut txn = doc.transact_mut();
    view.seed(&mut txn, title, template, now_ms);
    drop(txn);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::Update;

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
    fn seeded_board_reads_back_through_the_view() {
        let doc = new_board_doc("Checkout", Template::ServiceBlueprint, 42.0);
        let view = BoardDoc::new(&doc);
        let txn = doc.transact();
        assert_eq!(view.title(&txn), "Checkout");
        assert_eq!(view.template(&txn), "service-blueprint");
        assert_eq!(view.phase(&txn), "icebreaker");
        assert_eq!(view.stages(&txn).len(), 5);
        assert_eq!(view.lanes(&txn).len(), 15);
        assert_eq!(view.lanes(&txn)[5].kind, "pain-points");
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

    #[test]
    fn stages_and_lanes_rename_move_and_remove_by_id() {
        let doc = new_board_doc("S", Template::ServiceBlueprint, 0.0);
        let view = BoardDoc::new(&doc);
        let ids = |doc: &Doc| -> Vec<String> {
            view.stages(&doc.transact())
                .into_iter()
                .map(|s| s.id)
                .collect()
        };
        assert!(view.move_stage(&mut doc.transact_mut(), "advocacy", 0));
        assert_eq!(ids(&doc)[0], "advocacy");
        assert!(view.move_stage(&mut doc.transact_mut(), "advocacy", 99));
        assert_eq!(ids(&doc)[4], "advocacy");
        assert!(view.rename_stage(&mut doc.transact_mut(), "purchase", "Checkout"));
        assert_eq!(view.stages(&doc.transact())[2].title, "Checkout");
        assert!(view.move_lane(&mut doc.transact_mut(), "policies", 0));
        let lanes = view.lanes(&doc.transact());
        assert_eq!(
            (lanes[0].id.as_str(), lanes[0].kind.as_str()),
            ("policies", "policies")
        );
        assert!(view.remove_lane(&mut doc.transact_mut(), "policies"));
        assert!(view.remove_stage(&mut doc.transact_mut(), "awareness"));
        assert_eq!(view.lanes(&doc.transact()).len(), 14);
        assert_eq!(view.stages(&doc.transact()).len(), 4);
        assert!(!view.remove_stage(&mut doc.transact_mut(), "awareness"));
    }

    fn sync(from: &Doc, to: &Doc) {
        let sv = to.transact().state_vector();
        let update = from.transact().encode_diff_v1(&sv);
        to.transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
    }
}
