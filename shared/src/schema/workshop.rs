//! The workshop's parts of the document: the facilitator's settings in `board`, touchpoint
//! details of notes, persona cards, emotion scores, vote totals, action items and resources.

use super::{key, map_string, BoardDoc};
use crate::model::{
    ActionItem, Channel, Persona, Phase, Resource, ResourceKind, TouchpointStatus, WorkshopSettings,
};
use std::collections::BTreeMap;
use yrs::{Any, In, Map, MapPrelim, MapRef, Out, ReadTxn, TransactionMut};

/// Emotion scores range from -2 (very negative) to +2 (very positive).
const EMOTION_RANGE: std::ops::RangeInclusive<i64> = -2..=2;

/// The key of one person's emotion score at one stage in the `emotions` map.
fn emotion_key(author_id: &str, stage_id: &str) -> String {
    format!("{author_id}/{stage_id}")
}

impl BoardDoc {
    /// The facilitator's settings, with defaults for what is unset.
    pub fn settings<T: ReadTxn>(&self, txn: &T) -> WorkshopSettings {
        let b = &self.board;
        WorkshopSettings {
            goals: map_string(b, txn, key::GOALS),
            kpis: map_string(b, txn, key::KPIS),
            timer_deadline: map_number(b, txn, key::TIMER_DEADLINE),
            timer_duration: map_number(b, txn, key::TIMER_DURATION).unwrap_or(5.0 * 60_000.0),
            timer_reveal: map_bool(b, txn, key::TIMER_REVEAL),
            private_mode: map_bool(b, txn, key::PRIVATE_MODE),
            walkthrough_stage: Some(map_string(b, txn, key::WALKTHROUGH_STAGE))
                .filter(|s| !s.is_empty()),
            voting_open: map_bool(b, txn, key::VOTING_OPEN),
            vote_dots: map_number(b, txn, key::VOTE_DOTS).map_or(5, |n| n.clamp(0.0, 100.0) as u32),
            vote_lanes: map_strings(b, txn, key::VOTE_LANES),
            locked: map_bool(b, txn, key::LOCKED),
            locked_lanes: map_strings(b, txn, key::LOCKED_LANES),
            main_persona: Some(map_string(b, txn, key::MAIN_PERSONA)).filter(|s| !s.is_empty()),
        }
    }

    /// Sets the workshop phase.
    pub fn set_phase(&self, txn: &mut TransactionMut, phase: Phase) {
        self.board.insert(txn, key::PHASE, phase.as_str());
    }

    /// Sets one plain setting of the `board` map (a string, number, bool or null).
    pub fn set_setting(&self, txn: &mut TransactionMut, field: &str, value: impl Into<Any>) {
        self.board.insert(txn, field, In::Any(value.into()));
    }

    /// Sets a list-of-ids setting (`vote_lanes`, `locked_lanes`).
    pub fn set_setting_list(&self, txn: &mut TransactionMut, field: &str, ids: &[String]) {
        let list: Vec<Any> = ids.iter().map(|s| Any::from(s.as_str())).collect();
        self.board.insert(txn, field, In::Any(Any::from(list)));
    }

    /// Sets a note's touchpoint channel and status.
    pub fn set_touchpoint(
        &self,
        txn: &mut TransactionMut,
        note: &str,
        channel: Option<Channel>,
        status: Option<TouchpointStatus>,
    ) -> bool {
        let Some(m) = self.note_map(txn, note) else {
            return false;
        };
        m.insert(txn, key::CHANNEL, channel.map_or("", Channel::as_str));
        m.insert(
            txn,
            key::TOUCHPOINT,
            status.map_or("", TouchpointStatus::as_str),
        );
        true
    }

    /// Persona cards, ordered by name then id.
    pub fn personas<T: ReadTxn>(&self, txn: &T) -> Vec<Persona> {
        let mut personas: Vec<Persona> = maps(&self.personas, txn)
            .map(|m| Persona {
                id: map_string(&m, txn, key::ID),
                name: map_string(&m, txn, key::NAME),
                avatar: map_string(&m, txn, key::AVATAR),
                role: map_string(&m, txn, key::ROLE),
                demographics: map_string(&m, txn, key::DEMOGRAPHICS),
                way_of_life: map_string(&m, txn, key::WAY_OF_LIFE),
                goals: map_string(&m, txn, key::GOALS),
                motivations: map_string(&m, txn, key::MOTIVATIONS),
                frustrations: map_string(&m, txn, key::FRUSTRATIONS),
                quote: map_string(&m, txn, key::QUOTE),
                research: map_string(&m, txn, key::RESEARCH),
            })
            .collect();
        personas.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        personas
    }

    /// Adds or replaces a persona card whole.
    pub fn put_persona(&self, txn: &mut TransactionMut, p: &Persona) {
        let prelim = MapPrelim::from([
            (key::ID, In::from(p.id.as_str())),
            (key::NAME, In::from(p.name.as_str())),
            (key::AVATAR, In::from(p.avatar.as_str())),
            (key::ROLE, In::from(p.role.as_str())),
            (key::DEMOGRAPHICS, In::from(p.demographics.as_str())),
            (key::WAY_OF_LIFE, In::from(p.way_of_life.as_str())),
            (key::GOALS, In::from(p.goals.as_str())),
            (key::MOTIVATIONS, In::from(p.motivations.as_str())),
            (key::FRUSTRATIONS, In::from(p.frustrations.as_str())),
            (key::QUOTE, In::from(p.quote.as_str())),
            (key::RESEARCH, In::from(p.research.as_str())),
        ]);
        self.personas.insert(txn, p.id.as_str(), prelim);
    }

    /// Sets one field of a persona card (so two people editing different fields merge).
    pub fn set_persona_field(
        &self,
        txn: &mut TransactionMut,
        id: &str,
        field: &str,
        value: &str,
    ) -> bool {
        set_field(&self.personas, txn, id, field, value)
    }

    pub fn remove_persona(&self, txn: &mut TransactionMut, id: &str) -> bool {
        self.personas.remove(txn, id).is_some()
    }

    /// Every emotion score: (author id, stage id) -> score.
    pub fn emotions<T: ReadTxn>(&self, txn: &T) -> BTreeMap<(String, String), i64> {
        self.emotions
            .iter(txn)
            .filter_map(|(k, v)| {
                let (author, stage) = k.split_once('/')?;
                let score = match v {
                    Out::Any(Any::Number(n)) => n.as_f64()?.round() as i64,
                    _ => return None,
                };
                EMOTION_RANGE
                    .contains(&score)
                    .then(|| ((author.to_string(), stage.to_string()), score))
            })
            .collect()
    }

    /// Sets (or with `None`, clears) one person's emotion score at a stage.
    pub fn set_emotion(
        &self,
        txn: &mut TransactionMut,
        author_id: &str,
        stage: &str,
        score: Option<i64>,
    ) {
        let k = emotion_key(author_id, stage);
        match score {
            Some(score) => {
                self.emotions
                    .insert(txn, k, In::Any(Any::from(score.clamp(-2, 2) as f64)));
            }
            None => {
                self.emotions.remove(txn, &k);
            }
        }
    }

    /// Vote totals per note id (published by the server when voting closes).
    pub fn vote_totals<T: ReadTxn>(&self, txn: &T) -> BTreeMap<String, u32> {
        self.votes
            .iter(txn)
            .filter_map(|(k, v)| match v {
                Out::Any(Any::Number(n)) => Some((k.to_string(), n.as_f64()?.max(0.0) as u32)),
                _ => None,
            })
            .collect()
    }

    /// Replaces every vote total.
    pub fn set_vote_totals(&self, txn: &mut TransactionMut, totals: &BTreeMap<String, u32>) {
        self.votes.clear(txn);
        for (note, total) in totals {
            self.votes
                .insert(txn, note.as_str(), In::Any(Any::from(*total as f64)));
        }
    }

    /// Action items, in creation order of their ids' insertion (sorted by id for stability).
    pub fn action_items<T: ReadTxn>(&self, txn: &T) -> Vec<ActionItem> {
        let mut items: Vec<ActionItem> = maps(&self.actions, txn)
            .map(|m| ActionItem {
                id: map_string(&m, txn, key::ID),
                text: map_string(&m, txn, key::TEXT),
                owner: map_string(&m, txn, key::OWNER),
                due: map_string(&m, txn, key::DUE),
                note: map_string(&m, txn, key::NOTE),
            })
            .collect();
        items.sort_by(|a, b| {
            a.due
                .is_empty()
                .cmp(&b.due.is_empty())
                .then(a.due.cmp(&b.due))
                .then(a.id.cmp(&b.id))
        });
        items
    }

    pub fn put_action_item(&self, txn: &mut TransactionMut, a: &ActionItem) {
        let prelim = MapPrelim::from([
            (key::ID, In::from(a.id.as_str())),
            (key::TEXT, In::from(a.text.as_str())),
            (key::OWNER, In::from(a.owner.as_str())),
            (key::DUE, In::from(a.due.as_str())),
            (key::NOTE, In::from(a.note.as_str())),
        ]);
        self.actions.insert(txn, a.id.as_str(), prelim);
    }

    pub fn set_action_field(
        &self,
        txn: &mut TransactionMut,
        id: &str,
        field: &str,
        value: &str,
    ) -> bool {
        set_field(&self.actions, txn, id, field, value)
    }

    pub fn remove_action_item(&self, txn: &mut TransactionMut, id: &str) -> bool {
        self.actions.remove(txn, id).is_some()
    }

    /// The have / need list, sorted by kind then text.
    pub fn resources<T: ReadTxn>(&self, txn: &T) -> Vec<Resource> {
        let mut items: Vec<Resource> = maps(&self.resources, txn)
            .map(|m| Resource {
                id: map_string(&m, txn, key::ID),
                text: map_string(&m, txn, key::TEXT),
                kind: map_string(&m, txn, key::KIND),
            })
            .collect();
        items.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.text.cmp(&b.text)));
        items
    }

    pub fn put_resource(&self, txn: &mut TransactionMut, id: &str, text: &str, kind: ResourceKind) {
        let prelim = MapPrelim::from([
            (key::ID, In::from(id)),
            (key::TEXT, In::from(text)),
            (key::KIND, In::from(kind.as_str())),
        ]);
        self.resources.insert(txn, id, prelim);
    }

    pub fn remove_resource(&self, txn: &mut TransactionMut, id: &str) -> bool {
        self.resources.remove(txn, id).is_some()
    }
}

fn maps<'a, T: ReadTxn>(map: &'a MapRef, txn: &'a T) -> impl Iterator<Item = MapRef> + 'a {
    map.iter(txn).filter_map(|(_, v)| v.cast::<MapRef>().ok())
}

fn set_field(map: &MapRef, txn: &mut TransactionMut, id: &str, field: &str, value: &str) -> bool {
    let Some(item) = map.get(txn, id).and_then(|v| v.cast::<MapRef>().ok()) else {
        return false;
    };
    item.insert(txn, field, value);
    true
}

fn map_bool<T: ReadTxn>(m: &MapRef, txn: &T, field: &str) -> bool {
    matches!(m.get(txn, field), Some(Out::Any(Any::Bool(true))))
}

/// A number setting; NaN and infinities read as unset (a NaN deadline, from a client's
/// `Date.now() + undefined`, never passes, and kept a time box waking at once forever).
fn map_number<T: ReadTxn>(m: &MapRef, txn: &T, field: &str) -> Option<f64> {
    match m.get(txn, field) {
        Some(Out::Any(Any::Number(n))) => n.as_f64().filter(|n| n.is_finite()),
        _ => None,
    }
}

fn map_strings<T: ReadTxn>(m: &MapRef, txn: &T, field: &str) -> Vec<String> {
    match m.get(txn, field) {
        Some(Out::Any(Any::Array(items))) => items
            .iter()
            .filter_map(|a| match a {
                Any::String(s) => Some(s.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::new_board_doc;
    use crate::Template;
    use yrs::Transact;

    #[test]
    fn settings_round_trip_with_defaults() {
        let doc = new_board_doc("W", Template::CurrentState, 0.0);
        let view = BoardDoc::new(&doc);
        let defaults = view.settings(&doc.transact());
        assert_eq!(
            (defaults.vote_dots, defaults.locked, defaults.timer_deadline),
            (5, false, None)
        );
        {
            let mut txn = doc.transact_mut();
            view.set_setting(&mut txn, key::TIMER_DEADLINE, 1234.0);
            view.set_setting(&mut txn, key::LOCKED, true);
            view.set_setting(&mut txn, key::WALKTHROUGH_STAGE, "purchase");
            view.set_setting_list(&mut txn, key::LOCKED_LANES, &["emotions".to_string()]);
            view.set_phase(&mut txn, Phase::Walkthrough);
        }
        let s = view.settings(&doc.transact());
        assert_eq!(s.timer_deadline, Some(1234.0));
        assert!(s.locked);
        assert_eq!(s.walkthrough_stage.as_deref(), Some("purchase"));
        assert_eq!(s.locked_lanes, vec!["emotions"]);
        assert_eq!(view.phase(&doc.transact()), "walkthrough");
    }

    #[test]
    fn a_number_setting_that_is_not_finite_reads_as_unset() {
        let doc = new_board_doc("W", Template::CurrentState, 0.0);
        let view = BoardDoc::new(&doc);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            view.set_setting(&mut doc.transact_mut(), key::TIMER_DEADLINE, bad);
            assert_eq!(view.settings(&doc.transact()).timer_deadline, None, "{bad}");
        }
    }

    #[test]
    fn emotions_are_clamped_and_keyed_by_person_and_stage() {
        let doc = new_board_doc("W", Template::CurrentState, 0.0);
        let view = BoardDoc::new(&doc);
        view.set_emotion(&mut doc.transact_mut(), "ana", "purchase", Some(-5));
        view.set_emotion(&mut doc.transact_mut(), "bo", "purchase", Some(1));
        let scores = view.emotions(&doc.transact());
        assert_eq!(scores[&("ana".into(), "purchase".into())], -2);
        assert_eq!(scores.len(), 2);
        view.set_emotion(&mut doc.transact_mut(), "bo", "purchase", None);
        assert_eq!(view.emotions(&doc.transact()).len(), 1);
    }
}
