//! A room taking a peer's frame: sync requests answered, document updates applied (through
//! the guard where the role rules or the size limit say, see `guard.rs`), stored and relayed,
//! presence relayed; and the errors that end the peer's connection. Talks to the guard, the
//! store's log (`saving.rs`), the peers (`relay.rs`) and the trigger worker (`triggers.rs`).

use super::relay::{broadcast, send_to};
use super::{Room, RoomState};
use crate::limits::MAX_PENDING_BYTES;
use crate::room::content::Live;
use crate::room::guard::{self, Applied, SizeLimit};
use crate::room::private::RoomKind;
use crate::room::protocol;
use crate::room::triggers::Switches;
use crate::room::{CloseReason, ConnId, COMPACT_AFTER_UPDATES};
use crate::store::StoreError;
use journeyboard_shared::rules::Violation;
use journeyboard_shared::Role;
use std::sync::Arc;
use yrs::sync::{Message, SyncMessage};
use yrs::{ReadTxn, StateVector, Transact};

/// What the sender of dropped pending updates is told (a y-protocol "permission denied").
pub(super) const PENDING_DROPPED: &str =
    "dropped updates waiting for history the server never received (over the limit)";

/// Why a peer's frame was refused; each maps to the close code the peer gets.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Malformed(#[from] protocol::FrameError),
    #[error("update rejected: {0}")]
    BadUpdate(String),
    #[error("store failed: {0}")]
    Store(#[from] StoreError),
    #[error("connection is no longer part of the room")]
    UnknownPeer,
}

impl ReceiveError {
    /// The close code and reason a peer gets for this error.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            ReceiveError::Malformed(protocol::FrameError::TooManyMessages) => {
                CloseReason::TOO_MANY_MESSAGES
            }
            ReceiveError::Malformed(_) => CloseReason::MALFORMED,
            ReceiveError::BadUpdate(_) => CloseReason::BAD_UPDATE,
            ReceiveError::Store(_) => CloseReason::STORAGE,
            ReceiveError::UnknownPeer => CloseReason::TOO_SLOW,
        }
    }
}

impl Room {
    /// Handles one binary frame from a peer: answers sync requests, applies, stores and relays
    /// updates, relays presence; returns how many messages the frame held. On error nothing
    /// from the frame's failing message on is applied (what came before it was, and was
    /// stored and relayed like any message); the caller closes the connection with
    /// [`ReceiveError::close_reason`].
    pub fn receive(self: &Arc<Self>, conn: ConnId, data: &[u8]) -> Result<usize, ReceiveError> {
        let messages = protocol::decode_frame(data)?;
        let count = messages.len();
        let mut st = self.lock();
        let role = st.peers.get(&conn).ok_or(ReceiveError::UnknownPeer)?.role;
        for message in messages {
            match message {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let live = st.content.live(|| self.reload());
                    let step2 = if sv.is_empty() {
                        live.whole_state_frame()
                    } else {
                        protocol::sync_step2(live.doc.transact().encode_diff_v1(&sv))
                    };
                    send_to(&mut st, conn, step2);
                }
                Message::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
                    if !role.can_write() {
                        // Refuse quietly: closing would make the client reconnect and resend
                        // in a loop. Nothing is applied, stored or relayed.
                        tracing::warn!(board = %self.id, conn, "dropped a document update from a viewer");
                        continue;
                    }
                    self.apply_update(&mut st, conn, &update)?;
                }
                Message::Awareness(mut update) => {
                    // A state that is not JSON would throw in every JS peer's `JSON.parse`:
                    // dropped and logged, not relayed (a close would only bring it back).
                    let before = update.clients.len();
                    update.clients.retain(|_, entry| {
                        serde_json::from_str::<serde::de::IgnoredAny>(&entry.json).is_ok()
                    });
                    if update.clients.len() < before {
                        tracing::warn!(board = %self.id, conn, "dropped presence that is not JSON");
                        if update.clients.is_empty() {
                            continue;
                        }
                    }
                    let peer = st.peers.get_mut(&conn).ok_or(ReceiveError::UnknownPeer)?;
                    for (client, entry) in &update.clients {
                        if entry.json.as_ref() == "null" {
                            peer.awareness_ids.remove(client);
                        } else {
                            peer.awareness_ids.insert(*client);
                        }
                    }
                    if let Err(e) = st.awareness.apply_update(update.clone()) {
                        return Err(ReceiveError::BadUpdate(e.to_string()));
                    }
                    self.relay_presence(&mut st, conn, update);
                }
                Message::AwarenessQuery => {
                    if let Ok(presence) = st.awareness.update() {
                        send_to(&mut st, conn, protocol::awareness(presence));
                    }
                }
                Message::Auth(_) | Message::Custom(..) => {
                    tracing::debug!(board = %self.id, conn, "ignored an auth or custom message");
                }
            }
        }
        let compact = st.unsnapshotted >= COMPACT_AFTER_UPDATES && !st.compacting;
        if compact {
            st.compacting = true;
        }
        drop(st);
        if compact {
            let room = Arc::clone(self);
            tokio::task::spawn_blocking(move || room.compact());
        }
        Ok(count)
    }

    /// Applies a peer's update; stores and relays only what it actually changed (a
    /// returning client's sync step 2 mostly repeats what the server has). A participant's
    /// update to a board is guarded: if it breaks a rule, the update and its revert are
    /// stored and relayed as one, to the sender too (see `guard.rs`). A facilitator's update
    /// may set off triggers (see `triggers.rs`).
    fn apply_update(
        &self,
        st: &mut RoomState,
        conn: ConnId,
        update: &[u8],
    ) -> Result<(), ReceiveError> {
        let decoded = guard::decode(update).map_err(|e| ReceiveError::BadUpdate(e.to_string()))?;
        self.recover_store(st)?;
        let peer = st.peers.get_mut(&conn).ok_or(ReceiveError::UnknownPeer)?;
        let (role, me, mut pending) = (peer.role, peer.me.clone(), peer.pending.take());
        let RoomState {
            content,
            approx_bytes,
            ..
        } = &mut *st;
        let Live {
            doc, view, guard, ..
        } = content.live(|| self.reload());
        let (doc, view) = (&*doc, &*view);
        let board = self.kind == RoomKind::Board;
        let switches =
            (board && role == Role::Facilitator).then(|| Switches::read(view, &doc.transact()));
        // Size: cheap while the estimate stays under the limit; near it, measured exactly
        // once the update is in (and reverted if over).
        let (max, approx) = (self.max_doc_bytes, *approx_bytes);
        let measured = std::cell::Cell::new(None);
        let fits = |doc: &yrs::Doc, growth: usize| {
            if approx.saturating_add(growth) <= max {
                return true;
            }
            let size = doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default())
                .len();
            measured.set(Some(size));
            size <= max
        };
        let guarded = board && role == Role::Participant;
        let near_limit = approx.saturating_add(update.len()) > max;
        let applied = if guarded || near_limit {
            guard.apply_checked(
                doc,
                view,
                guarded.then_some((role, me.as_str())),
                SizeLimit {
                    near: near_limit,
                    fits: &fits,
                },
                decoded,
                &mut pending,
            )
        } else {
            guard::apply_unguarded(doc, decoded, &mut pending)
        };
        if let Some(size) = measured.get() {
            *approx_bytes = size;
        }
        let after = switches.map(|before| (before, Switches::read(view, &doc.transact())));
        let mut dropped_pending = false;
        if let Some(peer) = st.peers.get_mut(&conn) {
            // What waits is part of the updates received since it began: their sizes bound it.
            peer.pending_bytes = match pending {
                Some(_) => peer.pending_bytes.saturating_add(update.len()),
                None => 0,
            };
            if peer.pending_bytes > MAX_PENDING_BYTES {
                // The history it waits for never came: it could never go in. Dropped, not
                // closed (a client would reconnect and send it all again); the sender is told.
                tracing::warn!(board = %self.id, conn, bytes = peer.pending_bytes, "dropped updates waiting for missing history");
                pending = None;
                peer.pending_bytes = 0;
                dropped_pending = true;
            }
            peer.pending = pending;
        }
        if dropped_pending {
            send_to(st, conn, protocol::permission_denied(PENDING_DROPPED));
        }
        let mut refusal = None;
        let (delta, except) = match applied.map_err(|e| ReceiveError::BadUpdate(e.0))? {
            Applied::Unchanged => return Ok(()),
            Applied::Broken { delta, error } => {
                // What went in before yrs refused the rest reaches the store and every peer
                // (with its revert, for a guarded update): no copy of the board differs.
                self.append(st, &delta);
                broadcast(st, None, protocol::sync_update(delta));
                return Err(ReceiveError::BadUpdate(error.0));
            }
            Applied::Accepted(delta) => (delta, Some(conn)),
            Applied::Refused { delta, violations } => {
                tracing::warn!(board = %self.id, conn, ?violations, "refused a participant's update");
                if let Some(why) = size_refusal(&violations) {
                    tracing::warn!(board = %self.id, conn, limit = self.max_doc_bytes, "{why}");
                    // The y-protocol's "permission denied": a y-websocket client logs it.
                    refusal = Some(protocol::permission_denied(why));
                }
                (delta, None)
            }
        };
        self.append(st, &delta);
        broadcast(st, except, protocol::sync_update(delta));
        if let Some(frame) = refusal {
            send_to(st, conn, frame);
        }
        if let (Some((before, after)), Some(triggers)) = (after, &st.triggers) {
            for trigger in before.transitions(&after) {
                let _ = triggers.send(trigger);
            }
        }
        Ok(())
    }
}

/// What to tell the sender of an update refused for its size, if it was.
fn size_refusal(violations: &[Violation]) -> Option<&'static str> {
    if violations.contains(&Violation::DocumentTooLarge) {
        Some("refused an update: the board would grow past its size limit")
    } else if violations.iter().any(Violation::is_about_size) {
        Some("refused an update: a note's text is over its length limit")
    } else {
        None
    }
}
