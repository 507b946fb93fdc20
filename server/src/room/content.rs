//! A room's document, live or resting. A live yrs document takes about twelve times the size
//! of its encoding (a 100-note board: about 400 KiB live, 33 KiB encoded), and most of a
//! workshop's boards sit still most of the time (a discussion, a break, a board left open).
//! So a room whose document nobody used for a while keeps only its encoded state, and decodes
//! it again on the next use (about a millisecond for 100 notes). Presence and connections
//! stay with the room either way.

use super::guard::Guard;
use journeyboard_shared::schema::BoardDoc;
use std::time::{Duration, Instant};
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

/// A decoded document, the view over its roots, and the guard watching it.
pub struct Live {
    pub doc: Doc,
    pub view: BoardDoc,
    pub guard: Guard,
}

impl Live {
    pub fn new(doc: Doc) -> Live {
        let view = BoardDoc::new(&doc);
        let guard = Guard::new(&doc, &view);
        Live { doc, view, guard }
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

    /// The live document, decoding it first if it rests. Counts as a use. Should the
    /// encoding not decode (a yrs bug: it is yrs' own encoding of a document it had decoded),
    /// the document comes from `reload` (the store, which has all of it: a room rests only
    /// when nothing is waiting to be stored).
    pub fn live(&mut self, reload: impl FnOnce() -> Option<Doc>) -> &mut Live {
        if let Content::Resting(state) = self {
            let doc = Doc::new();
            let decoded = Update::decode_v1(state)
                .map_err(|e| e.to_string())
                .and_then(|u| {
                    doc.transact_mut()
                        .apply_update(u)
                        .map_err(|e| e.to_string())
                });
            let doc = match decoded {
                Ok(()) => doc,
                Err(e) => {
                    tracing::error!("a resting document does not decode ({e}); loading it again");
                    reload().unwrap_or_else(|| {
                        tracing::error!("a resting document could not be loaded again either");
                        doc
                    })
                }
            };
            *self = Content::new(doc);
        }
        match self {
            Content::Live { live, used } => {
                *used = Instant::now();
                live
            }
            Content::Resting(_) => unreachable!("decoded just above"),
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
}
