//! Applying an update's bytes (`apply.rs`): an all-new update relayed as it came, pending
//! data kept with its connection until it can land (guarded), and an update yrs refuses
//! partway relayed as what went in. Uses the world in `tests.rs`.
use super::*;
use yrs::{Map, Text};

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
    let applied = w.participant_sends(&second, &mut pending);
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
    let applied = w.participant_sends(&first, &mut pending);
    assert!(matches!(applied, Applied::Refused { .. }), "{applied:?}");
    assert!(pending.is_none());
    assert!(!w.view.settings(&w.server.transact()).locked);
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
