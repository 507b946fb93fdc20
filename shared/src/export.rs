//! The whole board as plain data: the JSON export format (documented in docs/SCHEMA.md,
//! "JSON export") and the source of every other export. `BoardData::write_into` builds an
//! identical board from it, for imports and for new boards made from snapshots.

use crate::model::{
    ActionItem, Lane, NewNote, Note, NoteArea, NoteColor, Persona, Resource, ResourceKind, Stage,
    WorkshopSettings,
};
use crate::schema::{key, BoardDoc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yrs::{Map, ReadTxn, TransactionMut};

/// The format tag of the JSON export; bumped on incompatible changes.
pub const FORMAT: &str = "journeyboard/1";

/// One person's emotion score at one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmotionScore {
    pub author_id: String,
    pub stage: String,
    pub score: i64,
}

/// A board, whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardData {
    pub format: String,
    pub title: String,
    pub template: String,
    pub phase: String,
    pub created_at: f64,
    pub settings: WorkshopSettings,
    pub stages: Vec<Stage>,
    pub lanes: Vec<Lane>,
    pub notes: Vec<Note>,
    pub personas: Vec<Persona>,
    pub emotions: Vec<EmotionScore>,
    /// Note id -> votes (published totals).
    pub votes: BTreeMap<String, u32>,
    pub actions: Vec<ActionItem>,
    pub resources: Vec<Resource>,
}

impl BoardData {
    /// Reads the whole board.
    pub fn read<T: ReadTxn>(view: &BoardDoc, txn: &T) -> BoardData {
        let created_at = match view.board.get(txn, key::CREATED_AT) {
            Some(yrs::Out::Any(yrs::Any::Number(n))) => n.as_f64().unwrap_or(0.0),
            _ => 0.0,
        };
        BoardData {
            format: FORMAT.to_string(),
            title: view.title(txn),
            template: view.template(txn),
            phase: view.phase(txn),
            created_at,
            settings: view.settings(txn),
            stages: view.stages(txn),
            lanes: view.lanes(txn),
            notes: view.notes(txn),
            personas: view.personas(txn),
            emotions: view
                .emotions(txn)
                .into_iter()
                .map(|((author_id, stage), score)| EmotionScore {
                    author_id,
                    stage,
                    score,
                })
                .collect(),
            votes: view.vote_totals(txn),
            actions: view.action_items(txn),
            resources: view.resources(txn),
        }
    }

    /// Writes this board into an empty document.
    pub fn write_into(&self, view: &BoardDoc, txn: &mut TransactionMut) {
        view.board.insert(txn, key::TITLE, self.title.as_str());
        view.board
            .insert(txn, key::TEMPLATE, self.template.as_str());
        view.board.insert(txn, key::PHASE, self.phase.as_str());
        view.board
            .insert(txn, key::SCHEMA_VERSION, crate::schema::SCHEMA_VERSION);
        view.board.insert(txn, key::CREATED_AT, self.created_at);
        self.write_settings(view, txn);
        for stage in &self.stages {
            view.insert_stage(txn, u32::MAX, &stage.id, &stage.title);
        }
        for lane in &self.lanes {
            view.insert_lane(txn, u32::MAX, &lane.id, &lane.title, &lane.kind);
        }
        for note in &self.notes {
            view.add_note(
                txn,
                &NewNote {
                    id: note.id.clone(),
                    text: note.text.clone(),
                    stage: note.stage.clone(),
                    lane: note.lane.clone(),
                    color: note.color.parse().unwrap_or(NoteColor::Yellow),
                    author: note.author.clone(),
                    created_at: note.created_at,
                    author_id: note.author_id.clone(),
                    area: note.area.parse().unwrap_or(NoteArea::Grid),
                },
            );
            if !note.channel.is_empty() || !note.touchpoint.is_empty() {
                view.set_touchpoint(
                    txn,
                    &note.id,
                    note.channel.parse().ok(),
                    note.touchpoint.parse().ok(),
                );
            }
        }
        for persona in &self.personas {
            view.put_persona(txn, persona);
        }
        for e in &self.emotions {
            view.set_emotion(txn, &e.author_id, &e.stage, Some(e.score));
        }
        view.set_vote_totals(txn, &self.votes);
        for action in &self.actions {
            view.put_action_item(txn, action);
        }
        for r in &self.resources {
            view.put_resource(
                txn,
                &r.id,
                &r.text,
                r.kind.parse().unwrap_or(ResourceKind::Have),
            );
        }
    }

    fn write_settings(&self, view: &BoardDoc, txn: &mut TransactionMut) {
        let s = &self.settings;
        view.set_setting(txn, key::GOALS, s.goals.as_str());
        view.set_setting(txn, key::KPIS, s.kpis.as_str());
        match s.timer_deadline {
            Some(deadline) => view.set_setting(txn, key::TIMER_DEADLINE, deadline),
            None => view.set_setting(txn, key::TIMER_DEADLINE, yrs::Any::Null),
        }
        view.set_setting(txn, key::TIMER_DURATION, s.timer_duration);
        view.set_setting(txn, key::TIMER_REVEAL, s.timer_reveal);
        view.set_setting(txn, key::PRIVATE_MODE, s.private_mode);
        view.set_setting(
            txn,
            key::WALKTHROUGH_STAGE,
            s.walkthrough_stage.as_deref().unwrap_or(""),
        );
        view.set_setting(txn, key::VOTING_OPEN, s.voting_open);
        view.set_setting(txn, key::VOTE_DOTS, s.vote_dots as f64);
        view.set_setting_list(txn, key::VOTE_LANES, &s.vote_lanes);
        view.set_setting(txn, key::LOCKED, s.locked);
        view.set_setting_list(txn, key::LOCKED_LANES, &s.locked_lanes);
        view.set_setting(
            txn,
            key::MAIN_PERSONA,
            s.main_persona.as_deref().unwrap_or(""),
        );
    }

    /// The notes of one cell, in display order.
    pub fn cell_notes<'a>(
        &'a self,
        stage: &'a str,
        lane: &'a str,
    ) -> impl Iterator<Item = &'a Note> + 'a {
        self.notes
            .iter()
            .filter(move |n| n.area != "icebreaker" && n.stage == stage && n.lane == lane)
    }

    /// Emotion median and spread per stage, in stage order: (stage id, stats if scored).
    pub fn emotion_curve(&self) -> Vec<(String, Option<EmotionStats>)> {
        self.stages
            .iter()
            .map(|stage| {
                let values = self
                    .emotions
                    .iter()
                    .filter(|e| e.stage == stage.id)
                    .map(|e| e.score);
                (stage.id.clone(), EmotionStats::of(values))
            })
            .collect()
    }

    /// The touchpoint gap per stage, in stage order.
    pub fn touchpoint_gap(&self) -> Vec<TouchpointGap> {
        use std::collections::BTreeSet;
        self.stages
            .iter()
            .map(|stage| {
                let mut used = BTreeSet::new();
                let mut intended = BTreeSet::new();
                for n in self
                    .notes
                    .iter()
                    .filter(|n| n.stage == stage.id && !n.channel.is_empty())
                {
                    match n.touchpoint.as_str() {
                        "used" => {
                            used.insert(n.channel.clone());
                        }
                        "intended" => {
                            intended.insert(n.channel.clone());
                        }
                        _ => {}
                    }
                }
                TouchpointGap {
                    stage: stage.id.clone(),
                    unused: intended.difference(&used).cloned().collect(),
                    unplanned: used.difference(&intended).cloned().collect(),
                }
            })
            .collect()
    }
}

/// The median and spread of a stage's emotion scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmotionStats {
    pub median: f64,
    pub low: i64,
    pub high: i64,
}

impl EmotionStats {
    /// The stats of some scores; `None` if there are none.
    pub fn of(values: impl IntoIterator<Item = i64>) -> Option<EmotionStats> {
        let mut values: Vec<i64> = values.into_iter().collect();
        values.sort_unstable();
        let n = values.len();
        if n == 0 {
            return None;
        }
        let median = if n % 2 == 1 {
            values[n / 2] as f64
        } else {
            (values[n / 2 - 1] + values[n / 2]) as f64 / 2.0
        };
        Some(EmotionStats {
            median,
            low: values[0],
            high: values[n - 1],
        })
    }
}

/// One stage's touchpoint gap: channels intended but not used, and used but not planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TouchpointGap {
    pub stage: String,
    pub unused: Vec<String>,
    pub unplanned: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::new_board_doc;
    use crate::Template;
    use yrs::{Doc, Transact};

    #[test]
    fn a_cleared_board_rewritten_from_other_data_equals_that_data() {
        let a = new_board_doc("A", Template::CurrentState, 1.0);
        let b = new_board_doc("B", Template::DayInTheLife, 2.0);
        let (va, vb) = (BoardDoc::new(&a), BoardDoc::new(&b));
        va.add_note(
            &mut a.transact_mut(),
            &NewNote {
                id: "gone".into(),
                ..NewNote::default()
            },
        );
        let data_b = BoardData::read(&vb, &b.transact());
        {
            let mut txn = a.transact_mut();
            va.clear(&mut txn);
            data_b.write_into(&va, &mut txn);
        }
        assert_eq!(BoardData::read(&va, &a.transact()), data_b);
    }

    #[test]
    fn a_board_written_from_its_data_reads_back_identical() {
        let doc = new_board_doc("Round trip", Template::ServiceBlueprint, 42.0);
        let view = BoardDoc::new(&doc);
        {
            let mut txn = doc.transact_mut();
            view.add_note(
                &mut txn,
                &NewNote {
                    id: "n1".into(),
                    text: "héllo, \"quoted\"\nline".into(),
                    stage: "purchase".into(),
                    lane: "touchpoints".into(),
                    author_id: "a".into(),
                    ..NewNote::default()
                },
            );
            view.set_touchpoint(
                &mut txn,
                "n1",
                Some(crate::Channel::App),
                Some(crate::TouchpointStatus::Intended),
            );
            view.set_emotion(&mut txn, "a", "purchase", Some(-1));
            view.put_persona(
                &mut txn,
                &Persona {
                    id: "p".into(),
                    name: "Ana".into(),
                    ..Persona::default()
                },
            );
            view.set_setting(&mut txn, key::MAIN_PERSONA, "p");
            view.set_vote_totals(&mut txn, &BTreeMap::from([("n1".to_string(), 3)]));
        }
        let data = BoardData::read(&view, &doc.transact());
        let copy = Doc::new();
        let copy_view = BoardDoc::new(&copy);
        data.write_into(&copy_view, &mut copy.transact_mut());
        assert_eq!(BoardData::read(&copy_view, &copy.transact()), data);
        assert_eq!(data.touchpoint_gap()[2].unused, vec!["app".to_string()]);
        assert_eq!(
            data.emotion_curve()[2].1,
            Some(EmotionStats {
                median: -1.0,
                low: -1,
                high: -1
            })
        );
        assert_eq!(
            EmotionStats::of([2, -2, 0, 1]),
            Some(EmotionStats {
                median: 0.5,
                low: -2,
                high: 2
            })
        );
    }
}
