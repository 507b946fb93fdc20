//! The guard on a server document, with peers in sync with it.
use super::*;
use journeyboard_shared::model::{NewNote, Phase, Template};
use journeyboard_shared::schema::{key, new_board_doc};
use yrs::updates::decoder::Decode;
use yrs::{GetString, Text};

/// A server document with a guard, and a peer in sync with it.
struct World {
    server: Doc,
    view: BoardDoc,
    guard: Guard,
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
    let applied = w
        .guard
        .apply(
            &w.server,
            &w.view,
            Role::Participant,
            "me",
            decode(&good).unwrap(),
            &mut None,
        )
        .unwrap();
    assert!(matches!(applied, Applied::Accepted(_)), "{applied:?}");
    assert_eq!(json(&w.server), json(&sender));
    violations
}

#[test]
fn an_update_over_the_size_limit_is_reverted_whether_or_not_the_board_was_near_it() {
    // Near the limit the answer is the document's diff from before the update; otherwise
    // (an update that grew more than it weighed) the update merged with its revert.
    for near in [true, false] {
        let size = SizeLimit {
            near,
            fits: &|_, _| false,
        };
        let (violations, ..) = refuse_sized(world(), size, |v, t| {
            v.set_note_text(t, "hers", "a longer text than before");
        });
        assert_eq!(
            violations,
            vec![Violation::DocumentTooLarge],
            "near: {near}"
        );
    }
}

#[test]
fn facilitator_only_settings_are_reverted() {
    assert_refused(|v, t| v.set_phase(t, Phase::Iteration));
    assert_refused(|v, t| v.set_setting(t, key::TIMER_DEADLINE, 5.0));
    assert_refused(|v, t| v.set_setting(t, key::VOTE_DOTS, 50.0));
    assert_refused(|v, t| v.set_setting(t, key::LOCKED, true));
    assert_refused(|v, t| v.set_setting_list(t, key::LOCKED_LANES, &["x".into()]));
    assert_refused(|v, t| {
        v.board.remove(t, key::VOTE_DOTS);
    });
    assert_refused(|v, t| {
        v.board.remove(t, key::TITLE);
        v.board.remove(t, key::PHASE);
    });
}

#[test]
fn structure_changes_are_reverted() {
    assert_refused(|v, t| v.insert_stage(t, 0, "pre", "Pre"));
    assert_refused(|v, t| {
        v.rename_stage(t, "purchase", "Buy");
    });
    assert_refused(|v, t| {
        v.remove_stage(t, "purchase");
    });
    assert_refused(|v, t| {
        v.move_stage(t, "advocacy", 0);
    });
    assert_refused(|v, t| {
        v.move_lane(t, "emotions", 0);
        v.rename_lane(t, "actions", "Doing");
    });
    assert_refused(|v, t| {
        let len = v.lanes.len(t);
        v.lanes.remove_range(t, 0, len);
    });
}

#[test]
fn deleting_someone_elses_note_is_reverted_with_its_text() {
    let v = assert_refused(|v, t| {
        v.delete_note(t, "hers");
    });
    assert_eq!(
        v,
        vec![Violation::OthersNote {
            note: "hers".into()
        }]
    );
    // After the revert the note's text is a live Y.Text again, editable by anyone.
    let w = world();
    let sender = peer_of(&w.server);
    let mut w = w;
    let del = {
        let view = BoardDoc::new(&sender);
        let mut txn = sender.transact_mut();
        view.delete_note(&mut txn, "hers");
        txn.encode_update_v1()
    };
    let Applied::Refused { delta, .. } = w
        .guard
        .apply(
            &w.server,
            &w.view,
            Role::Participant,
            "me",
            decode(&del).unwrap(),
            &mut None,
        )
        .unwrap()
    else {
        panic!("not refused")
    };
    apply(&sender, &delta);
    let edit = {
        let view = BoardDoc::new(&sender);
        let mut txn = sender.transact_mut();
        let text = view.note_text(&txn, "hers").unwrap();
        text.insert(&mut txn, 0, "still ");
        txn.encode_update_v1()
    };
    let applied = w
        .guard
        .apply(
            &w.server,
            &w.view,
            Role::Participant,
            "me",
            decode(&edit).unwrap(),
            &mut None,
        )
        .unwrap();
    assert!(matches!(applied, Applied::Accepted(_)));
    let text = w
        .view
        .note_text(&w.server.transact(), "hers")
        .unwrap()
        .get_string(&w.server.transact());
    assert_eq!(text, "still text of hers");
}

#[test]
fn the_kept_guarded_state_follows_every_kind_of_change() {
    let mut w = world();
    let participant = peer_of(&w.server);
    let facilitator = peer_of(&w.server);
    let send = |w: &mut World,
                from: &Doc,
                role: Role,
                change: &dyn Fn(&BoardDoc, &mut TransactionMut)| {
        let update = {
            let view = BoardDoc::new(from);
            let mut txn = from.transact_mut();
            change(&view, &mut txn);
            txn.encode_update_v1()
        };
        let applied = match role {
            Role::Facilitator => apply_unguarded(&w.server, decode(&update).unwrap(), &mut None),
            _ => w.guard.apply(
                &w.server,
                &w.view,
                role,
                "me",
                decode(&update).unwrap(),
                &mut None,
            ),
        }
        .unwrap();
        if let Applied::Accepted(delta) | Applied::Refused { delta, .. } = applied {
            for peer in [&participant, &facilitator] {
                apply(peer, &delta);
            }
        }
        assert!(w.guard.state_is_current(&w.server, &w.view));
    };
    let p = Role::Participant;
    let f = Role::Facilitator;
    send(&mut w, &participant, p, &|v, t| {
        v.add_note(t, &note("a", "actions", "me"));
    });
    send(&mut w, &facilitator, f, &|v, t| {
        v.add_note(t, &note("b", "emotions", "her"));
    });
    send(&mut w, &facilitator, f, &|v, t| {
        v.set_setting_list(t, key::LOCKED_LANES, &["actions".into()])
    });
    send(&mut w, &participant, p, &|v, t| {
        v.set_note_text(t, "a", "locked");
    });
    send(&mut w, &participant, p, &|v, t| {
        v.set_note_text(t, "b", "open lane");
    });
    send(&mut w, &facilitator, f, &|v, t| {
        v.move_note(t, "b", "purchase", "actions");
    });
    send(&mut w, &facilitator, f, &|v, t| {
        v.set_setting_list(t, key::LOCKED_LANES, &[])
    });
    send(&mut w, &participant, p, &|v, t| {
        v.set_emotion(t, "me", "purchase", Some(2))
    });
    send(&mut w, &participant, p, &|v, t| {
        v.set_emotion(t, "her", "purchase", None)
    });
    send(&mut w, &facilitator, f, &|v, t| {
        v.set_emotion(t, "her", "purchase", None)
    });
    send(&mut w, &participant, p, &|v, t| {
        v.delete_note(t, "b");
    });
    send(&mut w, &facilitator, f, &|v, t| {
        v.delete_note(t, "b");
    });
    send(&mut w, &participant, p, &|v, t| {
        v.delete_note(t, "a");
    });
    send(&mut w, &facilitator, f, &|v, t| {
        v.rename_stage(t, "purchase", "Buy");
    });
}

#[test]
fn a_refused_update_is_reverted_whole_with_its_allowed_parts() {
    assert_refused(|v, t| {
        v.set_note_text(t, "mine", "allowed on its own");
        v.add_note(t, &note("new", "actions", "me"));
        v.set_phase(t, Phase::Walkthrough);
    });
}

#[test]
fn votes_emotions_and_authorship_are_guarded() {
    assert_refused(|v, t| {
        let totals = [("hers".to_string(), 9u32)].into_iter().collect();
        v.set_vote_totals(t, &totals);
    });
    assert_refused(|v, t| v.set_emotion(t, "her", "purchase", Some(-2)));
    assert_refused(|v, t| v.set_emotion(t, "her", "purchase", None));
    assert_refused(|v, t| {
        v.add_note(t, &note("fake", "actions", "her"));
    });
    assert_refused(|v, t| {
        let m = v.notes.get(t, "mine").unwrap().cast::<MapRef>().unwrap();
        m.insert(t, key::AUTHOR_ID, "her");
    });
    assert_refused(|v, t| {
        let m = v.notes.get(t, "hers").unwrap().cast::<MapRef>().unwrap();
        m.remove(t, key::AUTHOR_ID);
    });
}

fn locked_world(lock: impl FnOnce(&BoardDoc, &mut TransactionMut)) -> World {
    let w = world();
    lock(&w.view, &mut w.server.transact_mut());
    w
}

#[test]
fn locks_revert_nested_text_edits_moves_and_new_notes() {
    let lane = |v: &BoardDoc, t: &mut TransactionMut| {
        v.set_setting_list(t, key::LOCKED_LANES, &["emotions".into()])
    };
    assert_refused_in(locked_world(lane), |v, t| {
        let text = v.note_text(t, "hers").unwrap();
        text.insert(t, 3, "XYZ");
        text.remove_range(t, 0, 2);
    });
    assert_refused_in(locked_world(lane), |v, t| {
        v.move_note(t, "hers", "purchase", "actions");
    });
    assert_refused_in(locked_world(lane), |v, t| {
        v.move_note(t, "mine", "purchase", "emotions");
    });
    assert_refused_in(locked_world(lane), |v, t| {
        v.add_note(t, &note("new", "emotions", "me"));
    });
    let board = |v: &BoardDoc, t: &mut TransactionMut| v.set_setting(t, key::LOCKED, true);
    assert_refused_in(locked_world(board), |v, t| {
        v.set_note_text(t, "mine", "changed");
    });
    assert_refused_in(locked_world(board), |v, t| {
        v.delete_note(t, "mine");
    });
    assert_refused_in(locked_world(board), |v, t| {
        v.set_emotion(t, "me", "purchase", Some(2));
    });
}

#[test]
fn allowed_updates_are_accepted_and_leave_no_undo_state() {
    let mut w = world();
    let sender = peer_of(&w.server);
    let update = {
        let view = BoardDoc::new(&sender);
        let mut txn = sender.transact_mut();
        view.set_note_text(&mut txn, "hers", "edited");
        view.delete_note(&mut txn, "mine");
        view.set_emotion(&mut txn, "me", "purchase", Some(-1));
        txn.encode_update_v1()
    };
    let applied = w
        .guard
        .apply(
            &w.server,
            &w.view,
            Role::Participant,
            "me",
            decode(&update).unwrap(),
            &mut None,
        )
        .unwrap();
    assert!(matches!(applied, Applied::Accepted(_)), "{applied:?}");
    assert_eq!(json(&w.server), json(&sender));
    assert!(!w.guard.undo.can_undo());
    // The same again changes nothing.
    let again = w
        .guard
        .apply(
            &w.server,
            &w.view,
            Role::Participant,
            "me",
            decode(&update).unwrap(),
            &mut None,
        )
        .unwrap();
    assert!(matches!(again, Applied::Unchanged));
}

#[test]
fn a_new_update_is_relayed_as_it_came_and_a_partly_known_one_as_its_new_part() {
    let server = Doc::new();
    let peer = Doc::new();
    let text = peer.get_or_insert_text("t");
    let type_in = |at: u32, chunk: &str| {
        let mut txn = peer.transact_mut();
        text.insert(&mut txn, at, chunk);
        txn.encode_update_v1()
    };
    let (first, second) = (type_in(0, "ab"), type_in(2, "cd"));
    let accepted = |bytes: &[u8]| match apply_unguarded(&server, decode(bytes).unwrap(), &mut None)
    {
        Ok(Applied::Accepted(delta)) => delta,
        other => panic!("not accepted: {other:?}"),
    };
    assert_eq!(accepted(&first), first, "all new: relayed byte for byte");
    // The first half again with the second: only the second is new.
    let both = yrs::merge_updates_v1([&first, &second]).unwrap();
    let delta = accepted(&both);
    assert_ne!(delta, both);
    let new_part: Vec<_> = Update::decode_v1(&delta)
        .unwrap()
        .insertions(true)
        .iter()
        .flat_map(|(client, ranges)| {
            ranges
                .iter()
                .map(|r| (*client, r.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(new_part, vec![(peer.client_id(), 2..4)]);
    let unchanged = apply_unguarded(&server, decode(&both).unwrap(), &mut None).unwrap();
    assert!(matches!(unchanged, Applied::Unchanged), "{unchanged:?}");
    let relayed_to = Doc::new();
    apply(&relayed_to, &first);
    apply(&relayed_to, &delta);
    assert_eq!(full_state(&relayed_to), full_state(&server));
    assert_eq!(json(&relayed_to), json(&peer));
}

#[test]
fn pending_data_waits_with_its_connection_and_is_guarded_when_it_lands() {
    let mut w = world();
    let sender = peer_of(&w.server);
    let view = BoardDoc::new(&sender);
    let first = {
        let mut txn = sender.transact_mut();
        view.add_note(&mut txn, &note("n1", "actions", "me"));
        txn.encode_update_v1()
    };
    let second = {
        let mut txn = sender.transact_mut();
        view.set_setting(&mut txn, key::LOCKED, true);
        txn.encode_update_v1()
    };
    // The second arrives first: it cannot be integrated yet.
    let mut pending = None;
    let applied = w
        .guard
        .apply(
            &w.server,
            &w.view,
            Role::Participant,
            "me",
            decode(&second).unwrap(),
            &mut pending,
        )
        .unwrap();
    assert!(matches!(applied, Applied::Unchanged));
    assert!(pending.is_some());
    assert!(!w.server.transact().has_missing_updates());
    // A facilitator's update meanwhile does not carry it in.
    let mut none = None;
    let fac = peer_of(&w.server);
    let fac_update = {
        let v = BoardDoc::new(&fac);
        let mut txn = fac.transact_mut();
        v.set_setting(&mut txn, key::GOALS, "g");
        txn.encode_update_v1()
    };
    apply_unguarded(&w.server, decode(&fac_update).unwrap(), &mut none).unwrap();
    assert!(!w.view.settings(&w.server.transact()).locked);
    // The first arrives: both land, guarded, and the phase change is refused.
    let applied = w
        .guard
        .apply(
            &w.server,
            &w.view,
            Role::Participant,
            "me",
            decode(&first).unwrap(),
            &mut pending,
        )
        .unwrap();
    assert!(matches!(applied, Applied::Refused { .. }), "{applied:?}");
    assert!(pending.is_none());
    assert!(!w.view.settings(&w.server.transact()).locked);
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

/// Applies `update` as a facilitator (unguarded) or a participant, expecting it to fail
/// partway; checks that a copy of the server from before, given the delta, equals the
/// server after, and returns the server.
fn broken_apply(role: Role, update: &[u8]) -> Doc {
    let mut w = world();
    let copy = peer_of(&w.server);
    let mut pending = None;
    let received = decode(update).unwrap();
    let outcome = match role {
        Role::Facilitator => apply_unguarded(&w.server, received, &mut pending),
        _ => w
            .guard
            .apply(&w.server, &w.view, role, "me", received, &mut pending),
    };
    let Ok(Applied::Broken { delta, error }) = outcome else {
        panic!("expected a partly applied update, got {outcome:?}");
    };
    assert!(error.0.to_lowercase().contains("parent"), "{error}");
    apply(&copy, &delta);
    assert_eq!(
        full_state(&copy).len(),
        full_state(&w.server).len(),
        "the copy has all the server has"
    );
    assert_eq!(json(&copy), json(&w.server));
    w.server
}

#[test]
fn what_went_in_of_an_update_refused_partway_is_relayed_as_a_delta() {
    let server = broken_apply(Role::Facilitator, &broken_update(99, "scratch", "partial"));
    let scratch = server.get_or_insert_map("scratch");
    let kept = scratch.get(&server.transact(), "partial");
    assert_eq!(
        kept,
        Some(yrs::Out::Any(Any::from("ab"))),
        "its first block went in"
    );
}

#[test]
fn a_guarded_update_refused_partway_is_taken_back_and_the_revert_relayed() {
    let server = broken_apply(Role::Participant, &broken_update(99, "notes", "rogue"));
    let view = BoardDoc::new(&server);
    assert!(view.note(&server.transact(), "rogue").is_none());
    let notes = server.get_or_insert_map("notes");
    assert!(notes.get(&server.transact(), "rogue").is_none(), "reverted");
}
