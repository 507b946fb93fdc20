//! The set of loaded rooms: load on first use (once, however many clients arrive together),
//! unload a while after the last client leaves, with a final snapshot.

use super::live::{Joined, Room};
use super::private::RoomKind;
use super::{triggers, CloseReason};
use crate::store::{Store, StoreError};
use journeyboard_shared::Role;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use uuid::Uuid;

type Slot = Arc<OnceCell<Arc<Room>>>;

/// Loaded rooms by board id.
pub struct Rooms {
    store: Arc<dyn Store>,
    idle_unload: Duration,
    /// Largest encoded document a room may grow to (`limits::MAX_DOC_BYTES`).
    max_doc_bytes: usize,
    // A std Mutex: only map lookups happen under it, never an await.
    slots: Mutex<HashMap<Uuid, Slot>>,
    /// Set at shutdown: pending unload timers end at once instead of holding rooms (and so
    /// the store) alive.
    closing: tokio::sync::watch::Sender<bool>,
    /// Whether the task that lets unused rooms rest runs (started with the first load).
    resting: std::sync::atomic::AtomicBool,
}

/// How a room that has to be loaded starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Decoded: it is loaded for a client.
    Live,
    /// As its encoding: it is loaded to be read.
    Resting,
}

impl Rooms {
    /// An empty registry; rooms unload `idle_unload` after their last peer leaves.
    pub fn new(store: Arc<dyn Store>, idle_unload: Duration) -> Arc<Self> {
        Self::with_doc_limit(store, idle_unload, crate::limits::MAX_DOC_BYTES)
    }

    /// An empty registry whose rooms refuse to grow past `max_doc_bytes`.
    pub fn with_doc_limit(
        store: Arc<dyn Store>,
        idle_unload: Duration,
        max_doc_bytes: usize,
    ) -> Arc<Self> {
        Arc::new(Rooms {
            store,
            idle_unload,
            max_doc_bytes,
            slots: Mutex::new(HashMap::new()),
            closing: tokio::sync::watch::channel(false).0,
            resting: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The loaded room of a board, loading it from the store first if needed, for a read (a
    /// summary, an export, a snapshot): a room this loads starts at rest (see `content.rs`),
    /// so a board list of many boards costs their encodings, not their live documents. The
    /// caller must know the board exists.
    pub async fn get(self: &Arc<Self>, id: Uuid) -> Result<Arc<Room>, StoreError> {
        self.load(id, RoomKind::Board, Start::Resting).await
    }

    /// The loaded room `id` of either kind, loading it first if needed, live.
    pub async fn get_as(
        self: &Arc<Self>,
        id: Uuid,
        kind: RoomKind,
    ) -> Result<Arc<Room>, StoreError> {
        self.load(id, kind, Start::Live).await
    }

    /// The loaded room `id`, loading it first if needed and starting as `start` says. A board
    /// room gets its trigger worker when it loads.
    async fn load(
        self: &Arc<Self>,
        id: Uuid,
        kind: RoomKind,
        start: Start,
    ) -> Result<Arc<Room>, StoreError> {
        if *self.closing.borrow() {
            // A trigger still running at shutdown must not load rooms nobody will save.
            return Err(StoreError::Backend("shutting down".into()));
        }
        let slot = self.slots().entry(id).or_default().clone();
        let mut fresh = false;
        let room = slot
            .get_or_try_init(|| async {
                fresh = true;
                let store = Arc::clone(&self.store);
                let max = self.max_doc_bytes;
                let load = move || {
                    let room = Room::load_as(id, kind, store)?;
                    if start == Start::Resting {
                        room.rest_if_unused(Duration::ZERO);
                    }
                    Ok(room)
                };
                tokio::task::spawn_blocking(load)
                    .await
                    .map_err(|e| StoreError::Backend(format!("load task failed: {e}")))?
                    .map(|room| Arc::new(room.with_max_doc_bytes(max)))
            })
            .await;
        match room {
            Ok(room) => {
                let room = Arc::clone(room);
                if fresh {
                    self.start_resting();
                    if room.kind() == &RoomKind::Board {
                        triggers::start(self, &room);
                    }
                    // Loaded for a summary or a join that may never come: unload if unused.
                    self.schedule_unload(Arc::clone(&room));
                }
                Ok(room)
            }
            Err(e) => {
                self.remove_slot_if(id, &slot);
                Err(e)
            }
        }
    }

    /// Joins a board's room, loading it if needed.
    pub async fn join(
        self: &Arc<Self>,
        id: Uuid,
        role: Role,
    ) -> Result<(Arc<Room>, Joined), StoreError> {
        self.join_as(id, RoomKind::Board, role, String::new()).await
    }

    /// Joins room `id` of `kind` as a peer whose public id is `me`, loading it if needed.
    pub async fn join_as(
        self: &Arc<Self>,
        id: Uuid,
        kind: RoomKind,
        role: Role,
        me: String,
    ) -> Result<(Arc<Room>, Joined), StoreError> {
        loop {
            let room = self.get_as(id, kind.clone()).await?;
            if let Some(joined) = room.join_as(role, me.clone()) {
                return Ok((room, joined));
            }
            // The room unloaded between lookup and join; the next get loads it afresh.
            tokio::task::yield_now().await;
        }
    }

    /// Leaves a room; the last one out starts the idle timer.
    pub fn leave(self: &Arc<Self>, room: &Arc<Room>, conn: super::ConnId) {
        if room.leave(conn) {
            self.schedule_unload(Arc::clone(room));
        }
    }

    /// The store rooms load from.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    /// The room of a board if it is loaded now.
    pub fn loaded(&self, id: Uuid) -> Option<Arc<Room>> {
        self.slots().get(&id).and_then(|slot| slot.get().cloned())
    }

    /// How many rooms are loaded.
    pub fn loaded_count(&self) -> usize {
        self.slots()
            .values()
            .filter(|slot| slot.initialized())
            .count()
    }

    /// Writes the updates every loaded room still holds for the store (blocking), so that a
    /// backup has everything relayed before it began.
    pub fn write_pending_logs(&self) {
        for room in self.loaded_rooms() {
            room.write_pending_log();
        }
    }

    /// Every room loaded now.
    fn loaded_rooms(&self) -> Vec<Arc<Room>> {
        self.slots()
            .values()
            .filter_map(|slot| slot.get().cloned())
            .collect()
    }

    /// Closes, with `reason`, every connection of board `board` (its room and its private
    /// rooms) that joined with one of `roles`. Returns how many.
    pub fn close_peers(&self, board: Uuid, roles: &[Role], reason: CloseReason) -> usize {
        let rooms: Vec<Arc<Room>> = self
            .loaded_rooms()
            .into_iter()
            .filter(|room| match room.kind() {
                RoomKind::Board => room.id() == board,
                RoomKind::Private { board: of, .. } => *of == board,
            })
            .collect();
        rooms
            .iter()
            .map(|room| room.close_peers_with(roles, reason))
            .sum()
    }

    /// Starts, once, the task that lets loaded rooms' unused documents rest (see
    /// `content.rs`). It holds the registry weakly and ends at shutdown.
    fn start_resting(self: &Arc<Self>) {
        if self
            .resting
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let rooms = Arc::downgrade(self);
        let mut closing = self.closing.subscribe();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(super::REST_CHECK_EVERY);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = closing.changed() => return,
                }
                let Some(rooms) = rooms.upgrade() else { return };
                let loaded = rooms.loaded_rooms();
                drop(rooms);
                // Encoding thousands of documents takes a while: off the runtime's threads,
                // so that no relay waits for it (each room is locked only for its own).
                let rest = move || {
                    loaded
                        .iter()
                        .filter(|room| room.rest_if_unused(super::REST_AFTER))
                        .count()
                };
                let Ok(rested) = tokio::task::spawn_blocking(rest).await else {
                    continue;
                };
                if rested > 0 {
                    tracing::debug!(rested, "rooms resting");
                }
            }
        });
    }

    fn schedule_unload(self: &Arc<Self>, room: Arc<Room>) {
        let rooms = Arc::clone(self);
        let mut closing = self.closing.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(rooms.idle_unload) => rooms.unload_if_idle(room).await,
                _ = closing.changed() => {}
            }
        });
    }

    async fn unload_if_idle(self: &Arc<Self>, room: Arc<Room>) {
        // Saved first, while still loaded: if the store fails (a full disk), the room's
        // document may be the only copy of its last edits, so it stays and tries again later.
        if room.number_of_peers() == 0 && room.has_unsnapshotted_changes() {
            let saving = Arc::clone(&room);
            let saved = tokio::task::spawn_blocking(move || saving.compact())
                .await
                .unwrap_or(false);
            if !saved {
                tracing::warn!(board = %room.id(), "an idle room stays loaded: it could not be saved");
                self.schedule_unload(room);
                return;
            }
        }
        {
            let mut slots = self.slots();
            let is_current = slots
                .get(&room.id())
                .and_then(|slot| slot.get())
                .is_some_and(|current| Arc::ptr_eq(current, &room));
            // Close under the registry lock so no join can find this room afterwards.
            if !is_current || !room.close_if_idle() {
                return;
            }
            slots.remove(&room.id());
        }
        tracing::debug!(board = %room.id(), "unloading idle room");
        // Whatever arrived since the save above.
        if room.has_unsnapshotted_changes() {
            let _ = tokio::task::spawn_blocking(move || room.compact()).await;
        }
    }

    fn remove_slot_if(&self, id: Uuid, slot: &Slot) {
        let mut slots = self.slots();
        if slots.get(&id).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(&id);
        }
    }

    /// Shutdown: closes every connection, snapshots every room, flushes the store.
    pub async fn shutdown(&self) {
        self.closing.send_replace(true);
        let rooms: Vec<Arc<Room>> = self
            .slots()
            .drain()
            .filter_map(|(_, s)| s.get().cloned())
            .collect();
        let store = Arc::clone(&self.store);
        let _ = tokio::task::spawn_blocking(move || {
            for room in rooms {
                room.close_all(CloseReason::GOING_AWAY);
                if room.has_unsnapshotted_changes() {
                    room.compact();
                }
            }
            if let Err(e) = store.flush() {
                tracing::error!("final flush failed: {e}");
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use journeyboard_shared::schema::new_board_doc;
    use journeyboard_shared::Template;
    use yrs::{ReadTxn, StateVector, Transact};

    #[tokio::test]
    async fn a_board_loaded_to_be_read_rests_until_a_client_joins() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let board = Uuid::new_v4();
        let doc = new_board_doc("Listed", Template::CurrentState, 0.0);
        let state = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        store
            .create_board(board, &crate::store::contract::meta(), &state)
            .unwrap();
        let rooms = Rooms::new(store, Duration::from_secs(60));

        let room = rooms.get(board).await.unwrap();
        assert!(!room.is_live(), "loaded for a read: at rest");
        let summary = room.summary();
        assert_eq!((summary.title.as_str(), summary.stages), ("Listed", 5));
        assert!(!room.is_live(), "reading it does not wake it");

        let (joined, _peer) = rooms.join(board, Role::Participant).await.unwrap();
        assert!(Arc::ptr_eq(&room, &joined), "the same room");
        assert!(room.is_live(), "a client wakes it");
    }
}
