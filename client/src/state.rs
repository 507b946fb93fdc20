//! The board as signals for the UI, refreshed from the yrs document after each change.
//! Only what changed is set, so a keystroke in one note re-renders that note alone.

use journeyboard_shared::{ActionItem, Lane, Note, Persona, Resource, Stage, WorkshopSettings};
use leptos::prelude::*;
use std::collections::BTreeMap;
use std::collections::HashMap;
use yrs::Map;

/// Where a note sits: (id, stage, lane), in display order.
pub type Placement = (String, String, String);

/// Someone on the board, from presence.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub client_id: u64,
    pub name: String,
    pub color: String,
    pub selected: Option<String>,
    pub is_me: bool,
}

/// Reactive view of one board.
#[derive(Clone, Copy)]
pub struct BoardState {
    pub title: RwSignal<String>,
    pub template: RwSignal<String>,
    pub phase: RwSignal<String>,
    pub stages: RwSignal<Vec<Stage>>,
    pub lanes: RwSignal<Vec<Lane>>,
    /// One signal per note, so an edit touches only its note's view.
    pub notes: RwSignal<HashMap<String, RwSignal<Note>>>,
    /// Which cell each note is in; set only when a note is added, moved or removed.
    pub placement: RwSignal<Vec<Placement>>,
    pub people: RwSignal<Vec<Person>>,
    pub settings: RwSignal<WorkshopSettings>,
    pub personas: RwSignal<Vec<Persona>>,
    /// (author id, stage id) -> score.
    pub emotions: RwSignal<BTreeMap<(String, String), i64>>,
    /// Published vote totals (after voting closed).
    pub votes: RwSignal<BTreeMap<String, u32>>,
    pub actions: RwSignal<Vec<ActionItem>>,
    pub resources: RwSignal<Vec<Resource>>,
    /// Icebreaker notes of the shared doc (revealed or written in the open).
    pub icebreaker: RwSignal<Vec<Note>>,
    /// My private doc: unrevealed icebreaker notes and the dots I placed.
    pub private_notes: RwSignal<Vec<Note>>,
    pub my_votes: RwSignal<BTreeMap<String, u32>>,
}

impl BoardState {
    pub fn new() -> Self {
        BoardState {
            title: RwSignal::new(String::new()),
            template: RwSignal::new(String::new()),
            phase: RwSignal::new(String::new()),
            stages: RwSignal::new(Vec::new()),
            lanes: RwSignal::new(Vec::new()),
            notes: RwSignal::new(HashMap::new()),
            placement: RwSignal::new(Vec::new()),
            people: RwSignal::new(Vec::new()),
            settings: RwSignal::new(WorkshopSettings::default()),
            personas: RwSignal::new(Vec::new()),
            emotions: RwSignal::new(BTreeMap::new()),
            votes: RwSignal::new(BTreeMap::new()),
            actions: RwSignal::new(Vec::new()),
            resources: RwSignal::new(Vec::new()),
            icebreaker: RwSignal::new(Vec::new()),
            private_notes: RwSignal::new(Vec::new()),
            my_votes: RwSignal::new(BTreeMap::new()),
        }
    }

    /// Re-reads the document and updates the signals whose values changed.
    pub fn refresh(&self, session: &crate::sync::Session) {
        let (title, template, phase, stages, lanes, all_notes) = session.read(|view, txn| {
            (
                view.title(txn),
                view.template(txn),
                view.phase(txn),
                view.stages(txn),
                view.lanes(txn),
                view.notes(txn),
            )
        });
        session.read(|view, txn| {
            set_if_changed(self.settings, view.settings(txn));
            set_if_changed(self.personas, view.personas(txn));
            set_if_changed(self.emotions, view.emotions(txn));
            set_if_changed(self.votes, view.vote_totals(txn));
            set_if_changed(self.actions, view.action_items(txn));
            set_if_changed(self.resources, view.resources(txn));
        });
        // Every note gets a signal; only grid notes have a place in the grid.
        let icebreaker: Vec<Note> = all_notes
            .iter()
            .filter(|n| n.area == "icebreaker")
            .cloned()
            .collect();
        set_if_changed(self.icebreaker, icebreaker);
        let notes = all_notes;
        set_if_changed(self.title, title);
        set_if_changed(self.template, template);
        set_if_changed(self.phase, phase);
        set_if_changed(self.stages, stages);
        set_if_changed(self.lanes, lanes);

        let placement: Vec<Placement> = notes
            .iter()
            .filter(|n| n.area != "icebreaker")
            .map(|n| (n.id.clone(), n.stage.clone(), n.lane.clone()))
            .collect();
        let note_count = notes.len();
        let mut membership_changed = false;
        let mut signals = self.notes.get_untracked();
        for note in notes {
            match signals.get(&note.id) {
                Some(signal) => {
                    if signal.with_untracked(|old| *old != note) {
                        signal.set(note);
                    }
                }
                None => {
                    membership_changed = true;
                    signals.insert(note.id.clone(), RwSignal::new(note));
                }
            }
        }
        if signals.len() != note_count {
            let live: std::collections::HashSet<String> =
                session.read(|view, txn| view.notes.keys(txn).map(str::to_string).collect());
            signals.retain(|id, _| live.contains(id));
            membership_changed = true;
        }
        if membership_changed {
            self.notes.set(signals);
        }
        set_if_changed(self.placement, placement);
    }

    /// Re-reads my private doc.
    pub fn refresh_private(&self, session: &crate::sync::Session) {
        let (notes, votes) = session.read(|view, txn| {
            let votes: BTreeMap<String, u32> = view
                .votes
                .iter(txn)
                .filter_map(|(k, v)| match v {
                    yrs::Out::Any(yrs::Any::Number(n)) => {
                        Some((k.to_string(), n.as_f64()?.max(0.0) as u32))
                    }
                    _ => None,
                })
                .filter(|(_, n)| *n > 0)
                .collect();
            (view.notes(txn), votes)
        });
        set_if_changed(self.private_notes, notes);
        set_if_changed(self.my_votes, votes);
    }

    /// Re-reads presence.
    pub fn refresh_people(&self, session: &crate::sync::Session) {
        let me = session.client_id();
        let mut people: Vec<Person> = session
            .presence()
            .into_iter()
            .filter_map(|(client_id, json)| {
                let value: serde_json::Value = serde_json::from_str(&json).ok()?;
                let user = value.get("user")?;
                Some(Person {
                    client_id,
                    name: user.get("name")?.as_str()?.to_string(),
                    color: user
                        .get("color")
                        .and_then(|c| c.as_str())
                        .unwrap_or("#888888")
                        .to_string(),
                    selected: value
                        .get("selected")
                        .and_then(|s| s.as_str())
                        .map(str::to_string),
                    is_me: client_id == me,
                })
            })
            .collect();
        people.sort_by(|a, b| b.is_me.cmp(&a.is_me).then_with(|| a.name.cmp(&b.name)));
        set_if_changed(self.people, people);
    }

    /// The ids of the notes in one cell, in display order.
    pub fn cell_notes(&self, stage: &str, lane: &str) -> Vec<String> {
        self.placement.with(|placement| {
            placement
                .iter()
                .filter(|(_, s, l)| s == stage && l == lane)
                .map(|(id, _, _)| id.clone())
                .collect()
        })
    }
}

impl Default for BoardState {
    fn default() -> Self {
        Self::new()
    }
}

fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|old| *old != value) {
        signal.set(value);
    }
}
