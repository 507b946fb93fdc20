//! A room's document, live or resting. A live yrs document takes about twelve times the size
//! of its encoding (a 100-note board: about 400 KiB live, 33 KiB encoded), and most of a
//! workshop's boards sit still most of the time (a discussion, a break, a board left open).
//! So a room whose document nobody used for a while keeps only its encoded state, and decodes
//! it again on the next use (about a millisecond for 100 notes). Presence and connections
//! stay with the room either way.

use super::guard::Guard;
use super::protocol;
use bytes::Bytes;
use journeyboard_shared::schema::BoardDoc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

/// The key of the observer that tells [`Live::whole_state_frame`] the document changed.
const CHANGE_OBSERVER: &str = "journeyboard:changed";

/// A decoded document, the view over its roots, and the guard watching it.
pub struct Live {
    pub doc: Doc,
    pub view: BoardDoc,
    pub guard: Guard,
    /// The sync step 2 a client with an empty document gets, while the document is unchanged:
    /// a reconnect storm (every client of a room rejoining at once) then encodes the board
    /// once instead of once per client, and the clients' queues share one copy.
    whole_state: Option<Bytes>,
    /// Set by the document's after-transaction observer: `whole_state` is out of date.
    /// `None` if the observer could not be added: then nothing is kept.
    changed: Option<Arc<AtomicBool>>,
}

impl Live {
    pub fn new(doc: Doc) -> Live {
        let view = BoardDoc::new(&doc);
        let guard = Guard::new(&doc, &view);
        // A committed transaction may have changed the document (a delete changes no state
        // vector, so that cannot tell): any commit makes the kept frame stale.
        let changed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&changed);
        let changed = doc
            .observe_after_transaction(CHANGE_OBSERVER, move |_| {
                flag.store(true, Ordering::Relaxed)
            })
            .is_ok()
            .then_some(changed);
        Live {
            doc,
            view,
            guard,
            whole_state: None,
            changed,
        }
    }

    /// The sync step 2 frame that brings an empty document up to this one.
    pub fn whole_state_frame(&mut self) -> Bytes {
        let encode = |doc: &Doc| {
            let state = doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default());
            protocol::sync_step2(state)
        };
        let Some(changed) = &self.changed else {
            return encode(&self.doc);
        };
        if changed.swap(false, Ordering::Relaxed) {
            self.whole_state = None;
        }
        let doc = &self.doc;
        self.whole_state.get_or_insert_with(|| encode(doc)).clone()
    }
}

/// Decodes a resting document. Should the encoding not decode (a yrs bug: it is yrs' own
/// encoding of a document it had decoded), the document comes from `reload` (the store, which
/// has all of it: a room rests only when nothing is waiting to be stored).
fn decode(state: &[u8], reload: impl FnOnce() -> Option<Doc>) -> Doc {
    let doc = Doc::new();
    let decoded = Update::decode_v1(state)
        .map_err(|e| e.to_string())
        .and_then(|u| {
            doc.transact_mut()
                .apply_update(u)
                .map_err(|e| e.to_string())
        });
    match decoded {
        Ok(()) => doc,
        Err(e) => {
            tracing::error!("a resting document does not decode ({e}); loading it again");
            reload().unwrap_or_else(|| {
                tracing::error!("a resting document could not be loaded again either");
                doc
            })
        }
    }
}

/// The document, decoded or as its encoded state.
pub enum Content {
    Live { live: Box<Live>, used: Instant },
    Resting(Vec<u8>),
}

impl Content {
    pub fn new(doc: Doc) -> Content {
        Content::Live {
            live: Box::new(Live::new(doc)),
            used: Instant::now(),
        }
    }

    /// The live document, decoding it first if it rests (see [`decode`]). Counts as a use.
    pub fn live(&mut self, reload: impl FnOnce() -> Option<Doc>) -> &mut Live {
        if let Content::Resting(state) = self {
            *self = Content::new(decode(state, reload));
        }
        match self {
            Content::Live { live, used } => {
                *used = Instant::now();
                live
            }
            Content::Resting(_) => unreachable!("decoded just above"),
        }
    }

    /// Reads the document without waking it: a resting one is decoded for this read only
    /// (not a use), so a board loaded for its summary or a timer check stays small.
    pub fn read<R>(
        &self,
        reload: impl FnOnce() -> Option<Doc>,
        read: impl FnOnce(&BoardDoc, &yrs::Transaction) -> R,
    ) -> R {
        match self {
            Content::Live { live, .. } => read(&live.view, &live.doc.transact()),
            Content::Resting(state) => {
                let doc = decode(state, reload);
                let view = BoardDoc::new(&doc);
                let txn = doc.transact();
                read(&view, &txn)
            }
        }
    }

    /// Encodes the document and drops the decoded one if nobody used it for `after`. Returns
    /// whether it went to rest now.
    pub fn rest_if_unused(&mut self, after: Duration) -> bool {
        match self {
            Content::Live { live, used } if used.elapsed() >= after => {
                let state = live
                    .doc
                    .transact()
                    .encode_state_as_update_v1(&StateVector::default());
                *self = Content::Resting(state);
                true
            }
            _ => false,
        }
    }

    /// The whole document as one update, without decoding a resting one (not a use).
    pub fn encode_state(&self) -> Vec<u8> {
        match self {
            Content::Live { live, .. } => live
                .doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default()),
            Content::Resting(state) => state.clone(),
        }
    }

    /// Whether the document is decoded now.
    pub fn is_live(&self) -> bool {
        matches!(self, Content::Live { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use journeyboard_shared::schema::new_board_doc;
    use journeyboard_shared::Template;

    fn stages(live: &Live) -> usize {
        live.view.stages(&live.doc.transact()).len()
    }

    #[test]
    fn a_document_rests_as_its_encoding_and_comes_back_whole() {
        let mut content = Content::new(new_board_doc("R", Template::CurrentState, 0.0));
        assert!(!content.rest_if_unused(Duration::from_secs(60)));
        assert!(content.rest_if_unused(Duration::ZERO));
        assert!(!content.is_live());
        let live = content.live(|| panic!("decodes without the store"));
        assert_eq!(stages(live), 5);
    }

    #[test]
    fn a_resting_encoding_that_does_not_decode_is_replaced_by_the_stores_copy() {
        let mut content = Content::Resting(vec![0xff, 0x00, 0x13]);
        let live = content.live(|| Some(new_board_doc("R", Template::CurrentState, 0.0)));
        assert_eq!(stages(live), 5);
    }

    /// The document a client gets from `frame` (a sync step 2), as JSON.
    fn received(frame: &[u8]) -> String {
        let doc = Doc::new();
        let step2 = &protocol::decode_frame(frame).expect("a frame")[0];
        let yrs::sync::Message::Sync(yrs::sync::SyncMessage::SyncStep2(update)) = step2 else {
            panic!("not a sync step 2: {step2:?}");
        };
        doc.transact_mut()
            .apply_update(Update::decode_v1(update).expect("an update"))
            .expect("applies");
        let view = BoardDoc::new(&doc);
        format!("{:?}", view.stages(&doc.transact()))
    }

    #[test]
    fn the_whole_state_frame_is_kept_until_the_document_changes() {
        let mut live = Live::new(new_board_doc("R", Template::CurrentState, 0.0));
        let first = live.whole_state_frame();
        let again = live.whole_state_frame();
        assert_eq!(first.as_ptr(), again.as_ptr(), "kept, not encoded again");

        let stage = "added-stage";
        live.view
            .insert_stage(&mut live.doc.transact_mut(), 0, stage, "Added");
        let after_insert = live.whole_state_frame();
        assert_ne!(first, after_insert);
        assert!(received(&after_insert).contains("Added"));

        // A delete leaves the state vector as it was: the frame must still be renewed.
        assert!(live.view.remove_stage(&mut live.doc.transact_mut(), stage));
        let after_delete = live.whole_state_frame();
        assert!(!received(&after_delete).contains("Added"));
    }
}
