//! A client's own edits, in a document that holds only them: the notes it creates, the
//! keystrokes in its note (following the board schema, docs/SCHEMA.md) and its presence. The
//! connection loop (`client.rs`) and a populating client (`join.rs`) send what it returns.

use super::rand_u64;
use crate::wire::write_var;
use yrs::{ClientID, Doc, Map, MapPrelim, MapRef, ReadTxn, Text, TextPrelim, TextRef, Transact};

const STAGES: [&str; 5] = [
    "awareness",
    "consideration",
    "purchase",
    "retention",
    "advocacy",
];

/// The client's own edits: a document holding them and handles on its note.
pub(super) struct Local {
    pub(super) doc: Doc,
    pub(super) client: u64,
    pub(super) note: Option<(MapRef, TextRef)>,
    edits: u64,
    awareness_clock: u32,
}

impl Local {
    /// An empty document under a random client id.
    pub(super) fn new() -> Local {
        // 53 bits, as in Yjs: a client id must survive a JavaScript number (the Node
        // server and JS peers read it as one).
        let doc = Doc::with_client_id(rand_u64() & ((1 << 53) - 1));
        let client = doc.client_id().get();
        Local {
            doc,
            client,
            note: None,
            edits: 0,
            awareness_clock: 0,
        }
    }

    /// Adds `count` notes (and a typing note of its own if `own`); returns the update.
    pub(super) fn create_notes(&mut self, count: usize, own: bool) -> Vec<u8> {
        let notes = self.doc.get_or_insert_map("notes");
        let mut txn = self.doc.transact_mut();
        for i in 0..count {
            let id = uuid::Uuid::new_v4().to_string();
            let note = note_prelim(&id, i, self.client);
            let map = notes.insert(&mut txn, id.as_str(), note);
            let text: TextRef = map.insert(&mut txn, "text", TextPrelim::new(""));
            text.insert(
                &mut txn,
                0,
                &format!("Seed note {i}: what the customer feels here"),
            );
        }
        if own {
            let id = uuid::Uuid::new_v4().to_string();
            let map = notes.insert(&mut txn, id.as_str(), note_prelim(&id, 0, self.client));
            let text: TextRef = map.insert(&mut txn, "text", TextPrelim::new(""));
            self.note = Some((map, text));
        }
        txn.encode_update_v1()
    }

    /// One keystroke in its note (every tenth change moves the note instead). Returns the
    /// update and its key: (client, first clock), with the clock it ends at.
    pub(super) fn edit(&mut self) -> (Vec<u8>, (u64, u32), u32) {
        let (map, text) = self.note.clone().expect("a sending client has a note");
        let cid = ClientID::new(self.client);
        let mut txn = self.doc.transact_mut();
        let start = txn.state_vector().get(&cid);
        self.edits += 1;
        if self.edits.is_multiple_of(10) {
            let stage = STAGES[(self.edits / 10 % 5) as usize];
            map.insert(&mut txn, "stage", stage);
        } else {
            let len = text.len(&txn);
            text.insert(&mut txn, len, "x");
            if len >= 80 {
                text.remove_range(&mut txn, 0, 1);
            }
        }
        let end = txn.state_vector().get(&cid);
        (txn.encode_update_v1(), (self.client, start), end)
    }

    /// The client's presence as a whole awareness message, its clock one higher each time.
    pub(super) fn presence(&mut self) -> Vec<u8> {
        self.awareness_clock += 1;
        let json = format!(
            r##"{{"user":{{"name":"Bench {}","color":"#30bced"}},"selected":null}}"##,
            self.client % 10_000
        );
        let mut update = Vec::new();
        write_var(&mut update, 1);
        write_var(&mut update, self.client);
        write_var(&mut update, self.awareness_clock as u64);
        write_var(&mut update, json.len() as u64);
        update.extend_from_slice(json.as_bytes());
        let mut frame = vec![1];
        write_var(&mut frame, update.len() as u64);
        frame.extend_from_slice(&update);
        frame
    }
}

fn note_prelim(id: &str, i: usize, client: u64) -> MapPrelim {
    MapPrelim::from([
        ("id".to_string(), yrs::In::from(id)),
        ("stage".to_string(), yrs::In::from(STAGES[i % 5])),
        ("lane".to_string(), yrs::In::from("emotions")),
        ("color".to_string(), yrs::In::from("yellow")),
        (
            "author".to_string(),
            yrs::In::from(format!("bench-{}", client % 10_000)),
        ),
        ("created_at".to_string(), yrs::In::from(0.0)),
    ])
}
