//! The guard on a server document, with peers in sync with it: the world the tests share,
//! and the tests by what they cover (`rules.rs` the role rules and the size limit,
//! `applying.rs` what goes in, what waits and what is relayed).
use super::*;
use journeyboard_shared::model::{NewNote, Template};
use journeyboard_shared::schema::{key, new_board_doc};
use yrs::updates::decoder::Decode;
use yrs::Any;

mod applying;
mod rules;

/// A server document with a guard, and a peer in sync with it.
struct World {
    server: Doc,
    view: BoardDoc,
    guard: Guard,
}

impl World {
    /// The participant "me" sends `update`; `pending` holds what waits for missing history.
    fn participant_sends(&mut self, update: &[u8], pending: &mut Option<Update>) -> Applied {
        self.guard
            .apply(
                &self.server,
                &self.view,
                Role::Participant,
                "me",
                decode(update).unwrap(),
                pending,
            )
            .unwrap()
    }
}

fn note(id: &str, lane: &str, author_id: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: format!("text of {id}"),
        stage: "purchase".into(),
        lane: lane.into(),
        author_id: author_id.into(),
        ..NewNote::default()
    }
}

fn world() -> World {
    let server = new_board_doc("G", Template::CurrentState, 0.0);
    let view = BoardDoc::new(&server);
    {
        let mut txn = server.transact_mut();
        view.add_note(&mut txn, &note("hers", "emotions", "her"));
        view.add_note(&mut txn, &note("mine", "actions", "me"));
        view.set_emotion(&mut txn, "her", "purchase", Some(1));
        view.set_setting(&mut txn, key::VOTE_DOTS, 3.0);
    }
    let guard = Guard::new(&server, &view);
    World {
        server,
        view,
        guard,
    }
}

fn peer_of(doc: &Doc) -> Doc {
    let peer = Doc::new();
    peer.transact_mut()
        .apply_update(Update::decode_v1(&full_state(doc)).unwrap())
        .unwrap();
    peer
}

fn json(doc: &Doc) -> String {
    let view = BoardDoc::new(doc);
    let any = view.to_any(&doc.transact());
    canonical(&any)
}

fn canonical(value: &Any) -> String {
    match value {
        Any::Map(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k:?}:{}", canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Any::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

fn apply(doc: &Doc, update: &[u8]) {
    doc.transact_mut()
        .apply_update(Update::decode_v1(update).unwrap())
        .unwrap();
}

/// A participant ("me") makes `change`; the server must refuse it, and the sender, a
/// bystander and a reload from (initial state + stored delta) all end where they began.
fn assert_refused_in(
    w: World,
    change: impl FnOnce(&BoardDoc, &mut TransactionMut),
) -> Vec<Violation> {
    refuse(w, change).0
}

/// Does what `assert_refused_in` says, and returns the world and the converged sender.
fn refuse(
    w: World,
    change: impl FnOnce(&BoardDoc, &mut TransactionMut),
) -> (Vec<Violation>, World, Doc) {
    refuse_sized(w, SizeLimit::NONE, change)
}

/// [`refuse`], with the document's size limit checked as `size` says.
fn refuse_sized(
    mut w: World,
    size: SizeLimit,
    change: impl FnOnce(&BoardDoc, &mut TransactionMut),
) -> (Vec<Violation>, World, Doc) {
    let sender = peer_of(&w.server);
    let bystander = peer_of(&w.server);
    let initial = full_state(&w.server);
    let expected = json(&w.server);
    let update = {
        let view = BoardDoc::new(&sender);
        let mut txn = sender.transact_mut();
        change(&view, &mut txn);
        txn.encode_update_v1()
    };
    assert_ne!(json(&sender), expected, "the change changes something");
    let applied = w
        .guard
        .apply_checked(
            &w.server,
            &w.view,
            Some((Role::Participant, "me")),
            size,
            decode(&update).unwrap(),
            &mut None,
        )
        .unwrap();
    let Applied::Refused { delta, violations } = applied else {
        panic!("not refused: {applied:?}");
    };
    assert_eq!(json(&w.server), expected, "server reverted");
    apply(&bystander, &delta);
    assert_eq!(json(&bystander), expected, "bystander never sees it");
    apply(&sender, &delta);
    assert_eq!(json(&sender), expected, "sender converges back");
    let reloaded = Doc::new();
    apply(&reloaded, &initial);
    apply(&reloaded, &delta);
    assert_eq!(json(&reloaded), expected, "a reload has the reverted state");
    assert!(!w.guard.undo.can_undo() && !w.guard.undo.can_redo());
    assert_eq!(w.guard.fallbacks, 0, "the undo manager reverted it alone");
    assert!(w.guard.state_is_current(&w.server, &w.view));
    (violations, w, sender)
}

/// Refused on the unlocked board, after which the converged sender's next good edit is
/// accepted.
fn assert_refused(change: impl FnOnce(&BoardDoc, &mut TransactionMut)) -> Vec<Violation> {
    let (violations, mut w, sender) = refuse(world(), change);
    let good = {
        let view = BoardDoc::new(&sender);
        let mut txn = sender.transact_mut();
        view.set_note_text(&mut txn, "hers", "fine");
        txn.encode_update_v1()
    };
    let applied = w.participant_sends(&good, &mut None);
    assert!(matches!(applied, Applied::Accepted(_)), "{applied:?}");
    assert_eq!(json(&w.server), json(&sender));
    violations
}

/// A hand-made v1 update from `client` that yrs refuses partway: a string set at
/// `root[key]`, then a string whose parent is that string (not a type).
pub fn broken_update(client: u64, root: &str, key: &str) -> Vec<u8> {
    fn var(out: &mut Vec<u8>, mut n: u64) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    fn string(out: &mut Vec<u8>, s: &str) {
        var(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
    const CONTENT_STRING: u8 = 4;
    const HAS_PARENT_SUB: u8 = 0x20;
    let mut out = Vec::new();
    var(&mut out, 1); // one client
    var(&mut out, 2); // two structs
    var(&mut out, client);
    var(&mut out, 0); // from clock 0
    out.push(HAS_PARENT_SUB | CONTENT_STRING);
    var(&mut out, 1); // the parent is a root, by name
    string(&mut out, root);
    string(&mut out, key);
    string(&mut out, "ab");
    out.push(CONTENT_STRING);
    var(&mut out, 0); // the parent is an item, by id: the string above
    var(&mut out, client);
    var(&mut out, 0);
    string(&mut out, "x");
    var(&mut out, 0); // no deletions
    out
}
