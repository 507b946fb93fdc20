//! The guard's second line of defence: writing guarded parts of the board back by value,
//! should the undo manager ever fail to revert a refused update (it should not). Called by
//! [`Guard`](super::Guard)'s revert; talks to the board's view and yrs.

use journeyboard_shared::rules::Changes;
use journeyboard_shared::schema::BoardDoc;
use yrs::types::ToJson;
use yrs::{Any, Array, ArrayRef, In, Map, MapPrelim, MapRef, TransactionMut};

/// Writes back, by value, every guarded part `changes` changed (a second line of defence,
/// should the undo manager ever fail to revert something: it should not).
pub(super) fn restore(view: &BoardDoc, txn: &mut TransactionMut, changes: &Changes) {
    if let Some(board) = &changes.board {
        restore_map(&view.board, txn, board);
    }
    if let Some(votes) = &changes.votes {
        restore_map(&view.votes, txn, votes);
    }
    if let Some(stages) = &changes.stages {
        restore_array(&view.stages, txn, stages);
    }
    if let Some(lanes) = &changes.lanes {
        restore_array(&view.lanes, txn, lanes);
    }
    for (key, before) in &changes.emotions {
        match before {
            Some(value) => {
                view.emotions
                    .insert(txn, key.as_str(), In::Any(value.clone()));
            }
            None => {
                view.emotions.remove(txn, key);
            }
        }
    }
}

fn restore_map(map: &MapRef, txn: &mut TransactionMut, before: &Any) {
    let Any::Map(before) = before else { return };
    if map.to_json(txn) == Any::Map(before.clone()) {
        return;
    }
    let keys: Vec<String> = map.keys(txn).map(str::to_string).collect();
    for key in keys {
        if !before.contains_key(&key) {
            map.remove(txn, &key);
        }
    }
    for (key, value) in before.iter() {
        map.insert(txn, key.as_str(), In::Any(value.clone()));
    }
}

fn restore_array(array: &ArrayRef, txn: &mut TransactionMut, before: &Any) {
    let Any::Array(before) = before else { return };
    if array.to_json(txn) == Any::Array(before.clone()) {
        return;
    }
    let len = array.len(txn);
    array.remove_range(txn, 0, len);
    for item in before.iter() {
        match item {
            Any::Map(fields) => {
                let prelim: MapPrelim = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), In::Any(v.clone())))
                    .collect();
                array.push_back(txn, prelim);
            }
            other => {
                array.push_back(txn, In::Any(other.clone()));
            }
        }
    }
}
