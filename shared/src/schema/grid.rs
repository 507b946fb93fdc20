//! The grid's columns and rows: the `stages` and `lanes` roots, arrays of small Y.Maps
//! (`id`, `title`, lanes also `kind`) that notes refer to by id. Read in order, inserted,
//! renamed, moved and removed by id; the parent module seeds them from a template.

use super::{key, map_string, BoardDoc};
use crate::model::{Lane, Stage};
use yrs::{Any, Array, ArrayRef, In, Map, MapPrelim, MapRef, Out, ReadTxn, TransactionMut};

impl BoardDoc {
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

/// A new stage's map (for the parent's seeding too).
pub(super) fn stage_prelim(id: &str, title: &str) -> MapPrelim {
    MapPrelim::from([(key::ID, In::from(id)), (key::TITLE, In::from(title))])
}

/// A new lane's map (for the parent's seeding too).
pub(super) fn lane_prelim(id: &str, title: &str, kind: &str) -> MapPrelim {
    MapPrelim::from([
        (key::ID, In::from(id)),
        (key::TITLE, In::from(title)),
        (key::KIND, In::from(kind)),
    ])
}

#[cfg(test)]
mod tests {
    use crate::schema::{new_board_doc, BoardDoc};
    use crate::Template;
    use yrs::{Doc, Transact};

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
}
