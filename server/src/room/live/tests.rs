//! Rooms as bytes in, bytes out: two in-memory peers, no sockets.
use super::super::outbox::tests::FakeSocket;
use super::receive::PENDING_DROPPED;
use super::relay::{BURST_AFTER, PRESENCE_BATCH};
use super::*;
use crate::limits::MAX_PENDING_BYTES;
use crate::room::PEER_QUEUE_FRAMES;
use crate::store::{BoardMeta, MemoryStore};
use journeyboard_shared::schema::new_board_doc;
use journeyboard_shared::Template;
use std::time::Duration;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::Text as _;
use yrs::{Doc, StateVector};

fn room() -> Arc<Room> {
    let store = Arc::new(MemoryStore::default());
    let id = uuid::Uuid::new_v4();
    let doc = new_board_doc("Unit", Template::CurrentState, 0.0);
    let snapshot = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let meta = BoardMeta {
        title: "Unit".into(),
        template: "current-state".into(),
        created_at: 0,
        facilitator_hash: String::new(),
        participant_hash: String::new(),
        viewer_hash: String::new(),
    };
    store.create_board(id, &meta, &snapshot).unwrap();
    Arc::new(Room::load(id, store).unwrap())
}

fn drain(joined: &mut Joined) -> Vec<Message> {
    let mut out = Vec::new();
    while let Ok(Outgoing::Frame(frame)) = joined.outgoing.try_recv() {
        out.extend(protocol::decode_frame(&frame).unwrap());
    }
    out
}

fn stage_update() -> Vec<u8> {
    let doc = Doc::with_client_id(7);
    let view = BoardDoc::new(&doc);
    let mut txn = doc.transact_mut();
    view.insert_stage(&mut txn, 0, "pre", "Pre-awareness");
    txn.encode_update_v1()
}

/// An update from a fresh client `client` that inserts a stage: each is new to the room.
fn stage_from_client(client: u64) -> Vec<u8> {
    let doc = Doc::with_client_id(client);
    let view = BoardDoc::new(&doc);
    let mut txn = doc.transact_mut();
    view.insert_stage(&mut txn, 0, &format!("s{client}"), "S");
    txn.encode_update_v1()
}

fn update_frame(update: Vec<u8>) -> Vec<u8> {
    Message::Sync(SyncMessage::Update(update)).encode_v1()
}

#[tokio::test]
async fn a_new_peer_gets_the_servers_sync_step_1_first() {
    let room = room();
    let mut a = room.join(Role::Participant).unwrap();
    let first = drain(&mut a);
    assert!(matches!(first[0], Message::Sync(SyncMessage::SyncStep1(_))));
}

#[tokio::test]
async fn an_update_is_stored_and_relayed_to_others_only() {
    let room = room();
    let mut a = room.join(Role::Facilitator).unwrap();
    let mut b = room.join(Role::Participant).unwrap();
    drain(&mut a);
    drain(&mut b);
    room.receive(a.conn, &update_frame(stage_update())).unwrap();
    assert!(drain(&mut a).is_empty(), "not echoed to its sender");
    assert!(matches!(
        drain(&mut b)[..],
        [Message::Sync(SyncMessage::Update(_))]
    ));
    assert_eq!(room.summary().stages, 6);
    assert!(room.store.load_doc(room.id).unwrap().updates.is_empty());
    room.write_pending_log(); // as its timer does, `LOG_WRITE_DELAY` later
    assert_eq!(room.store.load_doc(room.id).unwrap().updates.len(), 1);

    // The same update again changes nothing: nothing stored, nothing relayed.
    room.receive(a.conn, &update_frame(stage_update())).unwrap();
    assert!(drain(&mut b).is_empty());
    assert_eq!(room.store.load_doc(room.id).unwrap().updates.len(), 1);
}

#[tokio::test]
async fn a_resting_room_keeps_its_document_peers_and_rules() {
    let room = room();
    let mut a = room.join(Role::Facilitator).unwrap();
    let mut b = room.join(Role::Participant).unwrap();
    room.receive(a.conn, &update_frame(stage_update())).unwrap();
    drain(&mut a);
    drain(&mut b);
    let before = room.encode_state();
    assert!(!room.rest_if_unused(Duration::from_secs(60)), "just used");
    assert!(!room.rest_if_unused(Duration::ZERO), "not in the store yet");
    room.write_pending_log();
    assert!(room.rest_if_unused(Duration::ZERO));
    assert!(!room.is_live());
    assert_eq!(
        room.encode_state(),
        before,
        "resting keeps the state, undecoded"
    );
    assert!(!room.is_live(), "encoding a resting room does not wake it");

    // A newcomer's sync wakes it and gets everything.
    let mut c = room.join(Role::Viewer).unwrap();
    assert!(room.is_live());
    drain(&mut c);
    let step1 = Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
    room.receive(c.conn, &step1).unwrap();
    let [Message::Sync(SyncMessage::SyncStep2(state))] = &drain(&mut c)[..] else {
        panic!("no sync step 2");
    };
    let copy = Doc::new();
    copy.transact_mut()
        .apply_update(YUpdate::decode_v1(state).unwrap())
        .unwrap();
    assert_eq!(BoardDoc::new(&copy).stages(&copy.transact()).len(), 6);

    // After another rest, updates flow and the role rules still hold.
    assert!(room.rest_if_unused(Duration::ZERO));
    let phase = {
        let doc = Doc::new();
        doc.transact_mut()
            .apply_update(YUpdate::decode_v1(&before).unwrap())
            .unwrap();
        let view = BoardDoc::new(&doc);
        let mut txn = doc.transact_mut();
        view.set_phase(&mut txn, journeyboard_shared::Phase::Iteration);
        txn.encode_update_v1()
    };
    room.receive(b.conn, &update_frame(phase)).unwrap();
    assert_eq!(room.summary().phase, "icebreaker");
    assert!(
        matches!(drain(&mut b)[..], [Message::Sync(SyncMessage::Update(_))]),
        "the sender gets the revert"
    );
    room.write_pending_log();
    assert!(room.rest_if_unused(Duration::ZERO));
    room.receive(a.conn, &update_frame(stage_update())).unwrap();
    room.write_pending_log();
    let stored = room.store.load_doc(room.id).unwrap();
    assert_eq!(
        stored.updates.len(),
        2,
        "the stage and the refused phase with its revert"
    );
}

#[tokio::test]
async fn a_viewers_update_is_dropped_but_its_presence_is_relayed() {
    let room = room();
    let mut viewer = room.join(Role::Viewer).unwrap();
    let mut other = room.join(Role::Participant).unwrap();
    drain(&mut viewer);
    drain(&mut other);
    room.receive(viewer.conn, &update_frame(stage_update()))
        .unwrap();
    assert_eq!(room.summary().stages, 5);
    assert!(drain(&mut other).is_empty());

    let mut awareness = Awareness::new(Doc::with_client_id(99));
    awareness.set_local_state_raw(r#"{"user":{"name":"V"}}"#);
    let frame = Message::Awareness(awareness.update().unwrap()).encode_v1();
    room.receive(viewer.conn, &frame).unwrap();
    assert!(matches!(drain(&mut other)[..], [Message::Awareness(_)]));

    // Leaving clears the viewer's presence for the others.
    room.leave(viewer.conn);
    match &drain(&mut other)[..] {
        [Message::Awareness(update)] => {
            assert_eq!(update.clients[&ClientID::new(99)].json.as_ref(), "null")
        }
        other => panic!("expected a presence removal, got {other:?}"),
    }
}

fn presence(client: u64, name: &str) -> Vec<u8> {
    let mut awareness = Awareness::new(Doc::with_client_id(client));
    awareness.set_local_state_raw(format!(r#"{{"user":{{"name":"{name}"}}}}"#));
    Message::Awareness(awareness.update().unwrap()).encode_v1()
}

#[tokio::test]
async fn presence_in_a_burst_goes_out_merged_and_without_those_who_left() {
    let room = room();
    let mut peers: Vec<Joined> = (0..4)
        .map(|_| room.join(Role::Participant).unwrap())
        .collect();
    for peer in &mut peers {
        drain(peer);
    }
    // The first goes out at once, to the others.
    room.receive(peers[0].conn, &presence(10, "A")).unwrap();
    assert!(matches!(drain(&mut peers[3])[..], [Message::Awareness(_)]));
    // Right after it, two more wait; one of them leaves before they go out.
    room.receive(peers[1].conn, &presence(11, "B")).unwrap();
    room.receive(peers[2].conn, &presence(12, "C")).unwrap();
    assert!(drain(&mut peers[3]).is_empty(), "batched");
    room.leave(peers[2].conn);
    let left = drain(&mut peers[3]);
    assert!(
        matches!(left[..], [Message::Awareness(_)]),
        "C's removal at once"
    );
    tokio::time::sleep(PRESENCE_BATCH * 3).await;
    match &drain(&mut peers[3])[..] {
        [Message::Awareness(update)] => {
            let clients: Vec<ClientID> = update.clients.keys().copied().collect();
            assert_eq!(
                clients,
                vec![ClientID::new(11)],
                "B's presence, and not C's, who left"
            );
        }
        other => panic!("expected one merged presence update, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stalled_peer_is_dropped_and_never_blocks_the_others() {
    let room = room();
    let writer = room.join(Role::Facilitator).unwrap();
    let stalled = room.join(Role::Participant).unwrap();
    let mut healthy = room.join(Role::Participant).unwrap();
    drain(&mut healthy);
    for i in 0..(PEER_QUEUE_FRAMES + 10) {
        let update = stage_from_client(1000 + i as u64);
        room.receive(writer.conn, &update_frame(update)).unwrap();
        drain(&mut healthy);
    }
    assert_eq!(room.number_of_peers(), 2, "the stalled peer was dropped");
    // Its queue ends: the socket task then closes it with 1013 and it resyncs.
    let mut frames = 0;
    while let Ok(Outgoing::Frame(_)) = stalled.outgoing.try_recv() {
        frames += 1;
    }
    assert!(frames <= PEER_QUEUE_FRAMES);
    assert!(stalled.outgoing.try_recv().is_err());
}

/// A facilitator relays `count` updates back to back to a reader whose socket takes
/// everything; returns the room, the reader and its socket.
fn relay_back_to_back(count: u64) -> (Arc<Room>, Joined, Arc<FakeSocket>) {
    let room = room();
    let writer = room.join(Role::Facilitator).unwrap();
    let mut reader = room.join(Role::Participant).unwrap();
    drain(&mut reader);
    let socket = FakeSocket::with_room(usize::MAX);
    reader.outgoing.attach(socket.clone());
    for i in 0..count {
        let update = stage_from_client(2000 + i);
        room.receive(writer.conn, &update_frame(update)).unwrap();
    }
    (room, reader, socket)
}

#[tokio::test]
async fn broadcasts_in_a_burst_are_queued_for_the_connection_to_write_together() {
    let (_room, reader, socket) = relay_back_to_back(50);
    assert!(!socket.taken().is_empty(), "the first went straight out");
    // The socket would have taken them all: whatever waits was queued as a burst.
    assert!(
        reader.outgoing.try_take().is_some(),
        "the rest wait for one write"
    );
}

#[tokio::test]
async fn two_broadcasts_close_together_are_still_written_at_once() {
    let (_room, reader, socket) = relay_back_to_back(u64::from(BURST_AFTER));
    assert!(
        reader.outgoing.try_take().is_none(),
        "nothing waits for the connection's task"
    );
    assert!(!socket.taken().is_empty());
}

#[tokio::test]
async fn malformed_frames_change_nothing() {
    let room = room();
    let a = room.join(Role::Participant).unwrap();
    assert!(matches!(
        room.receive(a.conn, &[0, 2, 50, 1]),
        Err(ReceiveError::Malformed(_))
    ));
    let bad_update = update_frame(vec![9, 9, 9, 9, 9]);
    assert!(matches!(
        room.receive(a.conn, &bad_update),
        Err(ReceiveError::BadUpdate(_))
    ));
    assert_eq!(room.summary().stages, 5);
    assert!(room.store.load_doc(room.id).unwrap().updates.is_empty());
}

#[tokio::test]
async fn what_went_in_of_an_update_refused_partway_is_stored_and_relayed_to_all() {
    let room = room();
    let a = room.join(Role::Facilitator).unwrap();
    let mut b = room.join(Role::Participant).unwrap();
    drain(&mut b);
    let broken = super::super::guard::tests::broken_update(99, "scratch", "partial");
    assert!(matches!(
        room.receive(a.conn, &update_frame(broken)),
        Err(ReceiveError::BadUpdate(_))
    ));
    let relayed = drain(&mut b);
    assert!(
        matches!(relayed.as_slice(), [Message::Sync(SyncMessage::Update(_))]),
        "{relayed:?}"
    );
    room.write_pending_log();
    let stored = room.store.load_doc(room.id).unwrap();
    assert_eq!(stored.updates.len(), 1, "stored like any update");
}

#[tokio::test]
async fn updates_waiting_for_history_that_never_comes_are_dropped_over_the_limit() {
    let room = room();
    let mut a = room.join(Role::Facilitator).unwrap();
    drain(&mut a);
    // Client 5's first change never reaches the server: every later one waits for it.
    let doc = Doc::with_client_id(5);
    let text = doc.get_or_insert_text("scratch");
    let change = |s: &str| {
        let mut txn = doc.transact_mut();
        let end = text.len(&txn);
        text.insert(&mut txn, end, s);
        txn.encode_update_v1()
    };
    change("never sent");
    let chunk = "x".repeat(1024 * 1024);
    let mut denied = false;
    for _ in 0..=MAX_PENDING_BYTES / chunk.len() {
        room.receive(a.conn, &update_frame(change(&chunk))).unwrap();
        denied = drain(&mut a)
            .iter()
            .any(|m| matches!(m, Message::Auth(Some(why)) if why.contains(PENDING_DROPPED)));
        if denied {
            break;
        }
    }
    assert!(denied, "the sender is told once over the limit");
    let st = room.lock();
    let peer = &st.peers[&a.conn];
    assert!(peer.pending.is_none() && peer.pending_bytes == 0, "dropped");
}

#[tokio::test]
async fn presence_that_is_not_json_is_dropped_not_relayed() {
    let room = room();
    let a = room.join(Role::Participant).unwrap();
    let mut b = room.join(Role::Participant).unwrap();
    drain(&mut b);
    let mut awareness = Awareness::new(Doc::with_client_id(21));
    awareness.set_local_state_raw("{not json");
    let bad = Message::Awareness(awareness.update().unwrap()).encode_v1();
    assert!(
        room.receive(a.conn, &bad).is_ok(),
        "not closed: it would come back"
    );
    assert!(drain(&mut b).is_empty(), "nothing relayed");
    room.receive(a.conn, &presence(22, "A")).unwrap();
    assert!(matches!(drain(&mut b).as_slice(), [Message::Awareness(_)]));
}
