//! The board as signals for the UI, refreshed from the yrs document after each change.
//! Only what changed is set, so a keystroke in one note re-renders that note alone.

use journeyboard_shared::{Lane, Note, Stage};
use leptos::prelude::*;
use std::collections::HashMap;

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
        }
    }

    /// Re-reads the document and updates the signals whose values changed.
    pub fn refresh(&self, session: &crate::sync::Session) {
        let (title, template, phase, stages, lanes, notes) = session.read(|view, txn| {
            (
                view.title(txn),
                view.template(txn),
                view.phase(txn),
                view.stages(txn),
                view.lanes(txn),
                view.notes(txn),
            )
        });
        set_if_changed(self.title, title);
        set_if_changed(self.template, template);
        set_if_changed(self.phase, phase);
        set_if_changed(self.stages, stages);
        set_if_changed(self.lanes, lanes);

        let placement: Vec<Placement> = notes
            .iter()
            .map(|n| (n.id.clone(), n.stage.clone(), n.lane.clone()))
            .collect();
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
        if signals.len() != placement.len() {
            let live: std::collections::HashSet<&String> = placement.iter().map(|(id, _, _)| id).collect();
            signals.retain(|id, _| live.contains(id));
            membership_changed = true;
        }
        if membership_changed {
            self.notes.set(signals);
        }
        set_if_changed(self.placement, placement);
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
                    color: user.get("color").and_then(|c| c.as_str()).unwrap_or("#888888").to_string(),
                    selected: value.get("selected").and_then(|s| s.as_str()).map(str::to_string),
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
