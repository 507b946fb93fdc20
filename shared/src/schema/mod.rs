//! The board's Y.Doc schema, and the only code that knows its root names and shapes.
//! `docs/SCHEMA.md` documents the same for JS clients; keep the two in step.
//!
//! Roots:
//! - `board` (Y.Map): `title`, `template`, `phase`, `schema_version`, `created_at` and the
//!   facilitator's workshop settings (see `workshop.rs`).
//! - `stages`, `lanes` (Y.Array of Y.Map): `id`, `title` (lanes also `kind`).
//! - `notes` (Y.Map): note id -> Y.Map with `id`, `text` (Y.Text), `stage`, `lane`, `color`,
//!   `author`, `author_id`, `area`, `channel`, `touchpoint`, `created_at`.
//! - `personas`, `actions`, `resources` (Y.Map id -> Y.Map), `emotions` (Y.Map
//!   `author_id/stage_id` -> score), `votes` (Y.Map note id -> total, written by the server).
//!
//! The view's methods are split by the part of the document they touch: this file binds the
//! roots and reads and writes the board's own fields; `grid.rs` the stages and lanes,
//! `notes.rs` the notes, `workshop.rs` everything the workshop adds.

mod grid;
mod notes;
mod workshop;

pub(crate) use notes::read_note;

use crate::model::{Phase, Template};
use crate::templates;
use grid::{lane_prelim, stage_prelim};
use yrs::types::ToJson;
use yrs::{Any, Array, ArrayRef, Doc, Map, MapRef, Out, ReadTxn, Transact, TransactionMut};

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
    pub const RESEARCH: &str = "research";
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
}
