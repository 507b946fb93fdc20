//! The role rules and the size limit on a guarded update: a refused one is reverted for the
//! sender, a bystander and a reload alike, an allowed one is accepted, and the guard's kept
//! state follows both. Uses the world in `tests.rs`.
use super::*;
use journeyboard_shared::model::Phase;
use yrs::{Array, GetString, Map, MapRef, Text};

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
    let Applied::Refused { delta, .. } = w.participant_sends(&del, &mut None) else {
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
    let applied = w.participant_sends(&edit, &mut None);
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
    let applied = w.participant_sends(&update, &mut None);
    assert!(matches!(applied, Applied::Accepted(_)), "{applied:?}");
    assert_eq!(json(&w.server), json(&sender));
    assert!(!w.guard.undo.can_undo());
    // The same again changes nothing.
    let again = w.participant_sends(&update, &mut None);
    assert!(matches!(again, Applied::Unchanged));
}
