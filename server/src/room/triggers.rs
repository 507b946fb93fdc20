//! What the server does on its own when a facilitator changes a board's settings, or when the
//! time box ends (docs/SCHEMA.md, "Private notes", "Voting", "Time box"):
//!
//! - `private_mode` true -> false: reveal. Every note of every private room of the board moves
//!   into the board's `notes` and out of the private room.
//! - `timer_deadline` passes while `private_mode` and `timer_reveal` are true: `private_mode`
//!   is set to false and the notes are revealed as above. The deadline stays, so clients keep
//!   showing the time box as ended.
//! - `voting_open` false -> true: the board's `votes` totals are cleared.
//! - `voting_open` true -> false: the private rooms' dots are counted (within `vote_dots` per
//!   person, on notes of `vote_lanes`) and removed, and the totals written to the board's
//!   `votes`.
//!
//! Each loaded board room has one worker task: it receives the room's transitions in order,
//! sleeps until the deadline (re-armed whenever the deadline changes; a deadline already past
//! when the board loads fires at once) and ends when the room unloads. Its changes are server
//! transactions, stored and relayed like any update.

use super::live::{Room, ServerChangeError};
use super::private::{self, RoomKind};
use super::registry::Rooms;
use journeyboard_shared::schema::{key, BoardDoc};
use journeyboard_shared::Phase;
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use yrs::{Map, ReadTxn};

/// Something the worker must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Reveal,
    VotingOpened,
    VotingClosed,
    /// The time box's deadline changed (ms since the epoch), or was cleared.
    Deadline(Option<f64>),
    /// The facilitator moved the workshop to another phase: a snapshot is saved.
    PhaseChanged {
        from: String,
        to: String,
    },
}

/// The settings whose changes set off triggers.
#[derive(Debug, Clone, PartialEq)]
pub struct Switches {
    phase: String,
    private_mode: bool,
    voting_open: bool,
    timer_deadline: Option<f64>,
}

impl Switches {
    pub fn read<T: ReadTxn>(view: &BoardDoc, txn: &T) -> Switches {
        let s = view.settings(txn);
        Switches {
            phase: view.phase(txn),
            private_mode: s.private_mode,
            voting_open: s.voting_open,
            timer_deadline: s.timer_deadline,
        }
    }

    /// The triggers set off by going from `self` to `after`.
    pub fn transitions(&self, after: &Switches) -> Vec<Trigger> {
        let mut triggers = Vec::new();
        if self.timer_deadline != after.timer_deadline {
            triggers.push(Trigger::Deadline(after.timer_deadline));
        }
        if self.phase != after.phase {
            triggers.push(Trigger::PhaseChanged {
                from: self.phase.clone(),
                to: after.phase.clone(),
            });
        }
        if self.private_mode && !after.private_mode {
            triggers.push(Trigger::Reveal);
        }
        match (self.voting_open, after.voting_open) {
            (false, true) => triggers.push(Trigger::VotingOpened),
            (true, false) => triggers.push(Trigger::VotingClosed),
            _ => {}
        }
        triggers
    }
}

/// Milliseconds since the Unix epoch, as the document's times are.
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

/// Starts the worker of a freshly loaded board room.
pub fn start(rooms: &Arc<Rooms>, room: &Arc<Room>) {
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let mut armed = room.read(|view, txn| view.settings(txn).timer_deadline);
    room.set_triggers(sender);
    let worker = Worker {
        rooms: Arc::downgrade(rooms),
        room: Arc::downgrade(room),
        board: room.id(),
    };
    tokio::spawn(async move {
        loop {
            // Long waits are taken in steps (the deadline is re-checked after each).
            let wait = armed.map(|deadline| (deadline - now_ms()).clamp(0.0, MAX_SLEEP_MS));
            let sleep = wait.map(|ms| tokio::time::sleep(Duration::from_millis(ms as u64)));
            tokio::select! {
                trigger = receiver.recv() => match trigger {
                    None => break,
                    Some(Trigger::Deadline(deadline)) => armed = deadline,
                    Some(trigger) => worker.run(trigger).await,
                },
                _ = async { sleep.expect("armed").await }, if sleep.is_some() => {
                    if let Some(deadline) = armed.filter(|d| *d <= now_ms()) {
                        armed = None;
                        worker.time_box_ended(deadline).await;
                    }
                }
            }
        }
        tracing::debug!(board = %worker.board, "trigger worker ended");
    });
}

/// The longest single sleep of a worker: one hour.
const MAX_SLEEP_MS: f64 = 3_600_000.0;

struct Worker {
    rooms: Weak<Rooms>,
    room: Weak<Room>,
    board: uuid::Uuid,
}

/// Why a trigger's work stopped.
#[derive(Debug, thiserror::Error)]
enum TriggerError {
    #[error("the board was unloaded")]
    Gone,
    #[error(transparent)]
    Change(#[from] ServerChangeError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl Worker {
    async fn run(&self, trigger: Trigger) {
        let result = match &trigger {
            Trigger::Reveal => self.reveal().await,
            Trigger::VotingOpened => self.open_voting().await,
            Trigger::VotingClosed => self.close_voting().await,
            Trigger::Deadline(_) => Ok(()),
            Trigger::PhaseChanged { from, to } => self.snapshot_phase(from, to).await,
        };
        if let Err(e) = result {
            tracing::warn!(board = %self.board, ?trigger, "trigger did not complete: {e}");
        }
    }

    /// Saves a snapshot as the workshop enters another phase.
    async fn snapshot_phase(&self, from: &str, to: &str) -> Result<(), TriggerError> {
        let room = self.room()?;
        let store = self.rooms.upgrade().ok_or(TriggerError::Gone)?.store();
        let label = |phase: &str| {
            phase
                .parse::<Phase>()
                .map_or(phase.to_string(), |p| p.label().to_string())
        };
        let name = format!("{} → {}", label(from), label(to));
        tokio::task::spawn_blocking(move || {
            crate::snapshots::save(store.as_ref(), &room, &name, true)
        })
        .await
        .map_err(|e| crate::store::StoreError::Backend(format!("snapshot task failed: {e}")))??;
        Ok(())
    }

    fn room(&self) -> Result<Arc<Room>, TriggerError> {
        self.room.upgrade().ok_or(TriggerError::Gone)
    }

    /// The board's private rooms, loaded.
    async fn private_rooms(&self) -> Result<Vec<(String, Arc<Room>)>, TriggerError> {
        let rooms = self.rooms.upgrade().ok_or(TriggerError::Gone)?;
        let store = rooms.store();
        let board = self.board;
        let index = tokio::task::spawn_blocking(move || store.private_rooms(board))
            .await
            .map_err(|e| crate::store::StoreError::Backend(format!("index task failed: {e}")))??;
        let mut loaded = Vec::with_capacity(index.len());
        for (owner, id) in index {
            let kind = RoomKind::Private {
                board,
                owner: owner.clone(),
            };
            loaded.push((owner, rooms.get_as(id, kind).await?));
        }
        Ok(loaded)
    }

    /// Runs `change` on each private room, loading it again if it unloaded meanwhile.
    async fn each_private<F>(&self, mut change: F) -> Result<(), TriggerError>
    where
        F: FnMut(&str, &Room) -> Result<(), ServerChangeError>,
    {
        for (owner, mut room) in self.private_rooms().await? {
            let mut attempts = 0;
            loop {
                match change(&owner, &room) {
                    Err(ServerChangeError::Closed) if attempts < 3 => {
                        if self.room()?.is_closed() {
                            return Err(TriggerError::Gone);
                        }
                        attempts += 1;
                        let rooms = self.rooms.upgrade().ok_or(TriggerError::Gone)?;
                        room = rooms.get_as(room.id(), room.kind().clone()).await?;
                    }
                    other => {
                        other?;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Moves every private note of the board into the board.
    async fn reveal(&self) -> Result<(), TriggerError> {
        let board = self.room()?;
        let mut revealed = 0;
        self.each_private(|owner, private| {
            revealed += private.server_change(|pview, ptxn| {
                let notes = pview.notes(ptxn);
                if notes.is_empty() {
                    return Ok(0);
                }
                let written = board.server_change(|view, txn| {
                    private::insert_revealed(view, txn, owner, &notes)
                })?;
                for note in &notes {
                    pview.notes.remove(ptxn, &note.id);
                }
                Ok::<_, ServerChangeError>(written.len())
            })??;
            Ok(())
        })
        .await?;
        tracing::info!(board = %self.board, notes = revealed, "revealed private notes");
        Ok(())
    }

    /// Opening clears the published totals. (The dots of the last round left the private
    /// rooms when it was counted, so opening does not race with the first new dots.)
    async fn open_voting(&self) -> Result<(), TriggerError> {
        let board = self.room()?;
        board.server_change(|view, txn| view.set_vote_totals(txn, &BTreeMap::new()))?;
        Ok(())
    }

    /// Closing counts every private room's dots and removes them from it, in one transaction
    /// per room (a dot placed up to that moment counts; none is lost between reading and
    /// clearing), then publishes the totals.
    async fn close_voting(&self) -> Result<(), TriggerError> {
        let board = self.room()?;
        let (dots, votable) = board.read(|view, txn| {
            let settings = view.settings(txn);
            (
                settings.vote_dots,
                private::votable(view, txn, &settings.vote_lanes),
            )
        });
        let mut ballots = Vec::new();
        self.each_private(|_, private| {
            ballots.push(private.server_change(|pview, ptxn| {
                let ballot = private::ballot(&pview.vote_totals(ptxn), &votable, dots);
                if pview.votes.len(ptxn) > 0 {
                    pview.votes.clear(ptxn);
                }
                ballot
            })?);
            Ok(())
        })
        .await?;
        let totals = private::tally(ballots);
        board.server_change(|view, txn| view.set_vote_totals(txn, &totals))?;
        tracing::info!(board = %self.board, notes = totals.len(), "counted the votes");
        Ok(())
    }

    /// The time box that ends at `deadline` is over: reveal if the board asks for it.
    async fn time_box_ended(&self, deadline: f64) {
        let Ok(board) = self.room() else { return };
        let reveal = board.read(|view, txn| {
            let s = view.settings(txn);
            s.private_mode && s.timer_reveal && s.timer_deadline == Some(deadline)
        });
        if !reveal {
            return;
        }
        let result = board.server_change(|view, txn| {
            view.set_setting(txn, key::PRIVATE_MODE, false);
        });
        match result {
            Ok(()) => self.run(Trigger::Reveal).await,
            Err(e) => tracing::warn!(board = %self.board, "time box reveal failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{BoardMeta, MemoryStore, Store};
    use journeyboard_shared::schema::new_board_doc;
    use journeyboard_shared::{NewNote, Template};
    use yrs::{Doc, StateVector, Transact};

    fn state(doc: &Doc) -> Vec<u8> {
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    #[tokio::test]
    async fn a_deadline_that_passed_while_unloaded_reveals_when_the_board_loads() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let board = uuid::Uuid::new_v4();
        let doc = new_board_doc("T", Template::CurrentState, 0.0);
        {
            let view = BoardDoc::new(&doc);
            let mut txn = doc.transact_mut();
            view.set_setting(&mut txn, key::PRIVATE_MODE, true);
            view.set_setting(&mut txn, key::TIMER_REVEAL, true);
            view.set_setting(&mut txn, key::TIMER_DEADLINE, now_ms() - 60_000.0);
        }
        let meta = BoardMeta {
            title: "T".into(),
            template: "current-state".into(),
            created_at: 0,
            facilitator_hash: String::new(),
            participant_hash: String::new(),
            viewer_hash: String::new(),
        };
        store.create_board(board, &meta, &state(&doc)).unwrap();
        let room_id = private::private_room_id(board, "ana");
        store.add_private_room(board, "ana", room_id).unwrap();
        let private_doc = Doc::new();
        BoardDoc::new(&private_doc).add_note(
            &mut private_doc.transact_mut(),
            &NewNote {
                id: "p1".into(),
                text: "kept until the end".into(),
                author_id: "ana".into(),
                ..NewNote::default()
            },
        );
        store
            .append_update(room_id, 1, &state(&private_doc))
            .unwrap();

        let rooms = Rooms::new(Arc::clone(&store), Duration::from_secs(30));
        let room = rooms.get(board).await.unwrap();
        let revealed = |room: &Room| room.read(|v, t| v.note(t, "p1").is_some());
        for _ in 0..500 {
            if revealed(&room) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(revealed(&room), "revealed at load");
        assert!(!room.read(|v, t| v.settings(t).private_mode));
        let kind = RoomKind::Private {
            board,
            owner: "ana".into(),
        };
        let private = rooms.get_as(room_id, kind).await.unwrap();
        assert_eq!(private.read(|v, t| v.note_count(t)), 0);
        // Both changes are stored.
        room.write_pending_log();
        private.write_pending_log();
        let reloaded = Room::load(board, Arc::clone(&store)).unwrap();
        assert!(revealed(&reloaded));
        let reloaded = Room::load(room_id, store).unwrap();
        assert_eq!(reloaded.read(|v, t| v.note_count(t)), 0);
    }

    fn switches(private_mode: bool, voting_open: bool, deadline: Option<f64>) -> Switches {
        Switches {
            phase: "icebreaker".into(),
            private_mode,
            voting_open,
            timer_deadline: deadline,
        }
    }

    #[test]
    fn transitions_are_edges_not_levels() {
        let off = switches(false, false, None);
        assert!(off.transitions(&off).is_empty());
        assert_eq!(
            switches(true, false, None).transitions(&off),
            vec![Trigger::Reveal]
        );
        assert!(off.transitions(&switches(true, false, None)).is_empty());
        assert_eq!(
            off.transitions(&switches(false, true, Some(5.0))),
            vec![Trigger::Deadline(Some(5.0)), Trigger::VotingOpened]
        );
        assert_eq!(
            switches(false, true, Some(5.0)).transitions(&off),
            vec![Trigger::Deadline(None), Trigger::VotingClosed]
        );
    }
}
