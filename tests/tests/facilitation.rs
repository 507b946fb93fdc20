//! Roles enforced by the server, with raw protocol clients: every facilitator-only write by a
//! participant is refused (a bystander never sees it, the writer converges back, the store
//! does not keep it), a viewer's is dropped, a facilitator's works; locks stop participants.

use journeyboard_shared::identity::public_id;
use journeyboard_shared::schema::{key, BoardDoc};
use journeyboard_shared::{NewNote, Phase};
use journeyboard_tests::{create_board, CreatedBoard, TestServer, YClient, PATIENCE};
use std::collections::BTreeMap;
use std::time::Duration;
use yrs::{Any, Map, MapRef, Text, TransactionMut};

type Change = fn(&BoardDoc, &mut TransactionMut);

/// A board with a facilitator, a participant who tries things, another participant watching
/// and a viewer, each a person with a secret.
struct Workshop {
    server: TestServer,
    board: CreatedBoard,
    facilitator: YClient,
    participant: YClient,
    bystander: YClient,
    viewer: YClient,
    marker: u64,
}

const FACILITATOR: &str = "secret-of-fay";
const PARTICIPANT: &str = "secret-of-pat";
const BYSTANDER: &str = "secret-of-bea";

fn note(id: &str, lane: &str, author_secret: &str) -> NewNote {
    NewNote {
        id: id.into(),
        text: format!("text of {id}"),
        stage: "purchase".into(),
        lane: lane.into(),
        author: id.into(),
        author_id: if author_secret.is_empty() {
            String::new()
        } else {
            public_id(author_secret)
        },
        created_at: 1.0,
        ..NewNote::default()
    }
}

impl Workshop {
    async fn start(server: TestServer) -> Workshop {
        let board = create_board(server.addr, "Roles", "current-state").await;
        let url = |token: &str, secret: &str| server.ws_url_as(&board.id, token, secret);
        let facilitator = YClient::connect(&url(&board.facilitator_token, FACILITATOR)).await;
        let participant = YClient::connect(&url(&board.participant_token, PARTICIPANT)).await;
        let bystander = YClient::connect(&url(&board.participant_token, BYSTANDER)).await;
        let viewer = YClient::connect(&url(&board.viewer_token, "secret-of-vic")).await;
        for c in [&facilitator, &participant, &bystander, &viewer] {
            c.wait_until("seeded board", PATIENCE, |c| {
                c.read(|v, t| v.stages(t).len() == 5)
            })
            .await;
        }
        Workshop {
            server,
            board,
            facilitator,
            participant,
            bystander,
            viewer,
            marker: 0,
        }
    }

    /// Everyone has what the bystander has.
    async fn settle(&self) {
        let expected = self.bystander.state_json();
        for (name, c) in [
            ("facilitator", &self.facilitator),
            ("participant", &self.participant),
            ("viewer", &self.viewer),
        ] {
            c.wait_until(&format!("{name} settles"), PATIENCE, |c| {
                c.state_json() == expected
            })
            .await;
        }
    }

    /// A facilitator's change reaches everyone.
    async fn facilitator_does(
        &self,
        what: &str,
        change: impl FnOnce(&BoardDoc, &mut TransactionMut),
    ) {
        let before = self.bystander.state_json();
        self.facilitator.edit(change);
        let expected = self.facilitator.state_json();
        assert_ne!(
            expected, before,
            "{what}: the facilitator's change changes something"
        );
        self.bystander
            .wait_until(
                &format!("{what}: the bystander sees the facilitator's change"),
                PATIENCE,
                |c| c.state_json() == expected,
            )
            .await;
        self.settle().await;
    }

    /// `writer`'s change is refused: after the writer's next marker, the bystander and the
    /// facilitator still have what they had, and the writer has converged back to it.
    async fn refused(&mut self, what: &str, change: impl FnOnce(&BoardDoc, &mut TransactionMut)) {
        let before = self.bystander.state_json();
        self.participant.edit(change);
        assert_ne!(
            self.participant.state_json(),
            before,
            "{what}: the attempt changes the participant's own copy"
        );
        self.marker += 1;
        self.participant.send_marker(self.marker);
        self.bystander.wait_marker(self.marker).await;
        self.facilitator.wait_marker(self.marker).await;
        assert_eq!(
            self.bystander.state_json(),
            before,
            "{what}: the bystander never sees it"
        );
        assert_eq!(
            self.facilitator.state_json(),
            before,
            "{what}: nor the facilitator"
        );
        self.participant
            .wait_until(
                &format!("{what}: the participant converges back"),
                PATIENCE,
                |c| c.state_json() == before,
            )
            .await;
    }

    /// A viewer's change is dropped: after its marker, nobody has it.
    async fn dropped(&mut self, what: &str, change: impl FnOnce(&BoardDoc, &mut TransactionMut)) {
        let before = self.bystander.state_json();
        self.viewer.edit(change);
        self.marker += 1;
        self.viewer.send_marker(self.marker);
        self.bystander.wait_marker(self.marker).await;
        assert_eq!(
            self.bystander.state_json(),
            before,
            "{what}: a viewer's write is dropped"
        );
        // The viewer's copy keeps its own edit (it is never told otherwise); reconnecting
        // would not help it either: its update stays refused. Give it a fresh copy.
        let url = self
            .server
            .ws_url_as(&self.board.id, &self.board.viewer_token, "secret-of-vic");
        self.viewer = YClient::connect(&url).await;
        self.viewer
            .wait_until("the fresh viewer syncs", PATIENCE, |c| {
                c.state_json() == before
            })
            .await;
    }

    /// The whole check for one facilitator-only change: refused for the participant, dropped
    /// for the viewer, done by the facilitator.
    async fn facilitator_only(&mut self, what: &str, change: Change) {
        self.refused(what, change).await;
        self.dropped(what, change).await;
        self.facilitator_does(what, change).await;
    }
}

fn stage_ids(c: &YClient) -> Vec<String> {
    c.read(|v, t| v.stages(t).into_iter().map(|s| s.id).collect())
}

#[tokio::test]
async fn every_facilitator_only_action_is_refused_to_participants_and_viewers() {
    let dir = journeyboard_tests::temp_dir("roles");
    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let mut w = Workshop::start(server).await;
    w.facilitator_does("a note of the facilitator", |v, t| {
        v.add_note(t, &note("fays-note", "actions", FACILITATOR))
    })
    .await;

    let actions: Vec<(&str, Change)> = vec![
        ("change phase", |v, t| v.set_phase(t, Phase::Persona)),
        ("start the timer", |v, t| {
            v.set_setting(t, key::TIMER_DEADLINE, 4_000_000_000_000.0)
        }),
        ("stop the timer", |v, t| {
            v.set_setting(t, key::TIMER_DEADLINE, Any::Null)
        }),
        ("set the time box", |v, t| {
            v.set_setting(t, key::TIMER_DURATION, 60_000.0)
        }),
        ("reveal at the end of the time box", |v, t| {
            v.set_setting(t, key::TIMER_REVEAL, true)
        }),
        ("turn private mode on", |v, t| {
            v.set_setting(t, key::PRIVATE_MODE, true)
        }),
        ("reveal private notes", |v, t| {
            v.set_setting(t, key::PRIVATE_MODE, false)
        }),
        ("step the walkthrough", |v, t| {
            v.set_setting(t, key::WALKTHROUGH_STAGE, "purchase")
        }),
        ("set the vote budget", |v, t| {
            v.set_setting(t, key::VOTE_DOTS, 9.0)
        }),
        ("set the votable lanes", |v, t| {
            v.set_setting_list(t, key::VOTE_LANES, &["pain-points".into()])
        }),
        ("open voting", |v, t| {
            v.set_setting(t, key::VOTING_OPEN, true)
        }),
        ("close voting", |v, t| {
            v.set_setting(t, key::VOTING_OPEN, false)
        }),
        ("write vote totals", |v, t| {
            let totals: BTreeMap<String, u32> = [("fays-note".to_string(), 7)].into();
            v.set_vote_totals(t, &totals)
        }),
        ("lock a lane", |v, t| {
            v.set_setting_list(t, key::LOCKED_LANES, &["emotions".into()])
        }),
        ("unlock the lane", |v, t| {
            v.set_setting_list(t, key::LOCKED_LANES, &[])
        }),
        ("rename the board", |v, t| v.set_title(t, "Renamed")),
        ("set the goals", |v, t| {
            v.set_setting(t, key::GOALS, "ship it")
        }),
        ("rename a stage", |v, t| {
            v.rename_stage(t, "purchase", "Checkout");
        }),
        ("add a stage", |v, t| {
            v.insert_stage(t, 0, "pre", "Pre-awareness")
        }),
        ("move a stage", |v, t| {
            v.move_stage(t, "advocacy", 0);
        }),
        ("remove a stage", |v, t| {
            v.remove_stage(t, "pre");
        }),
        ("rename a lane", |v, t| {
            v.rename_lane(t, "thoughts", "Questions");
        }),
        ("add a lane", |v, t| {
            v.insert_lane(t, 9, "extra", "Extra", "custom")
        }),
        ("move a lane", |v, t| {
            v.move_lane(t, "extra", 0);
        }),
        ("remove a lane", |v, t| {
            v.remove_lane(t, "extra");
        }),
        ("remove another person's note", |v, t| {
            v.delete_note(t, "fays-note");
        }),
        // Locking last: while locked, the participant's marker edits would be refused too.
        ("lock the board", |v, t| v.set_setting(t, key::LOCKED, true)),
        ("unlock the board", |v, t| {
            v.set_setting(t, key::LOCKED, false)
        }),
    ];
    for (what, change) in actions {
        w.facilitator_only(what, change).await;
    }
    let ids = stage_ids(&w.bystander);
    assert_eq!(ids[0], "advocacy", "the facilitator's stage moves happened");
    assert_eq!(w.bystander.read(|v, t| v.title(t)), "Renamed");
    assert!(w.bystander.read(|v, t| v.note(t, "fays-note")).is_none());

    // The store has exactly what everyone saw: none of the refused changes.
    let expected = w.bystander.state_json();
    let Workshop { server, board, .. } = w;
    server.stop().await;
    let server = TestServer::start_in(&dir, Duration::from_secs(30)).await;
    let after = YClient::connect(&server.ws_url(&board.id, &board.viewer_token)).await;
    after
        .wait_until("the restarted server has the same state", PATIENCE, |c| {
            c.state_json() == expected
        })
        .await;
}

#[tokio::test]
async fn participants_may_remove_only_their_own_notes_and_write_only_their_own_scores() {
    let mut w = Workshop::start(TestServer::start().await).await;
    w.facilitator_does("notes", |v, t| {
        v.add_note(t, &note("bea", "actions", BYSTANDER));
        v.add_note(t, &note("anonymous", "actions", ""));
    })
    .await;
    w.participant.edit(|v, t| {
        v.add_note(t, &note("pat", "actions", PARTICIPANT));
        v.set_emotion(t, &public_id(PARTICIPANT), "purchase", Some(2));
    });
    w.bystander
        .wait_until("pat's note and score", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "pat").is_some() && v.emotions(t).len() == 1)
        })
        .await;
    w.settle().await;
    w.refused("remove bea's note", |v, t| {
        v.delete_note(t, "bea");
    })
    .await;
    w.refused("write a note as bea", |v, t| {
        v.add_note(t, &note("forged", "actions", BYSTANDER))
    })
    .await;
    w.refused("take over bea's note", |v, t| {
        let m = v.notes.get(t, "bea").unwrap().cast::<MapRef>().unwrap();
        m.insert(t, key::AUTHOR_ID, public_id(PARTICIPANT));
    })
    .await;
    w.refused("score for bea", |v, t| {
        v.set_emotion(t, &public_id(BYSTANDER), "purchase", Some(-2))
    })
    .await;
    // Allowed: edit anyone's note, move it, remove one's own or an anonymous one.
    w.participant.edit(|v, t| {
        v.note_text(t, "bea").unwrap().push(t, " (edited)");
        v.move_note(t, "bea", "retention", "thoughts");
        v.delete_note(t, "pat");
        v.delete_note(t, "anonymous");
    });
    w.bystander
        .wait_until("the allowed edits arrive", PATIENCE, |c| {
            c.read(|v, t| {
                v.note(t, "pat").is_none()
                    && v.note(t, "anonymous").is_none()
                    && v.note(t, "bea")
                        .is_some_and(|n| n.text == "text of bea (edited)" && n.lane == "thoughts")
            })
        })
        .await;
    w.settle().await;
}

#[tokio::test]
async fn a_locked_board_refuses_every_participant_edit() {
    let mut w = Workshop::start(TestServer::start().await).await;
    w.participant
        .edit(|v, t| v.add_note(t, &note("pat", "actions", PARTICIPANT)));
    w.bystander
        .wait_until("pat's note", PATIENCE, |c| {
            c.read(|v, t| v.note_count(t) == 1)
        })
        .await;
    w.settle().await;
    w.facilitator_does("lock", |v, t| v.set_setting(t, key::LOCKED, true))
        .await;
    w.refused("add a note", |v, t| {
        v.add_note(t, &note("new", "actions", PARTICIPANT))
    })
    .await;
    w.refused("edit own note", |v, t| {
        v.set_note_text(t, "pat", "changed");
    })
    .await;
    w.refused("remove own note", |v, t| {
        v.delete_note(t, "pat");
    })
    .await;
    w.refused("score", |v, t| {
        v.set_emotion(t, &public_id(PARTICIPANT), "purchase", Some(1))
    })
    .await;
    // The facilitator still can, and once unlocked the participant can again.
    w.facilitator_does("edit while locked", |v, t| {
        v.set_note_text(t, "pat", "by the facilitator");
    })
    .await;
    w.facilitator_does("unlock", |v, t| v.set_setting(t, key::LOCKED, false))
        .await;
    w.participant
        .edit(|v, t| v.add_note(t, &note("after", "actions", PARTICIPANT)));
    w.bystander
        .wait_until("edits work again", PATIENCE, |c| {
            c.read(|v, t| v.note(t, "after").is_some())
        })
        .await;
}

#[tokio::test]
async fn a_locked_lane_refuses_changes_to_its_notes_but_not_to_other_lanes() {
    let mut w = Workshop::start(TestServer::start().await).await;
    w.participant.edit(|v, t| {
        v.add_note(t, &note("locked", "pain-points", PARTICIPANT));
        v.add_note(t, &note("free", "actions", PARTICIPANT));
    });
    w.bystander
        .wait_until("notes", PATIENCE, |c| c.read(|v, t| v.note_count(t) == 2))
        .await;
    w.settle().await;
    w.facilitator_does("lock a lane", |v, t| {
        v.set_setting_list(t, key::LOCKED_LANES, &["pain-points".into()])
    })
    .await;
    w.refused("edit a note in it", |v, t| {
        v.note_text(t, "locked").unwrap().insert(t, 0, "x");
    })
    .await;
    w.refused("recolour a note in it", |v, t| {
        v.set_note_color(t, "locked", journeyboard_shared::NoteColor::Pink);
    })
    .await;
    w.refused("move a note out of it", |v, t| {
        v.move_note(t, "locked", "purchase", "actions");
    })
    .await;
    w.refused("move a note into it", |v, t| {
        v.move_note(t, "free", "purchase", "pain-points");
    })
    .await;
    w.refused("add a note to it", |v, t| {
        v.add_note(t, &note("new", "pain-points", PARTICIPANT))
    })
    .await;
    w.refused("remove one's own note from it", |v, t| {
        v.delete_note(t, "locked");
    })
    .await;
    // Other lanes are fine.
    w.participant.edit(|v, t| {
        v.set_note_text(t, "free", "still editable");
        v.add_note(t, &note("another", "thoughts", PARTICIPANT));
    });
    w.bystander
        .wait_until("edits elsewhere arrive", PATIENCE, |c| {
            c.read(|v, t| {
                v.note(t, "another").is_some()
                    && v.note(t, "free")
                        .is_some_and(|n| n.text == "still editable")
            })
        })
        .await;
    w.facilitator_does("the facilitator edits in the locked lane", |v, t| {
        v.set_note_text(t, "locked", "facilitated");
    })
    .await;
}
