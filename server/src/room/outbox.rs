//! A peer's outgoing frames. The room writes a relayed frame straight to the peer's socket
//! when the socket takes it at once (the usual case: the kernel has room); only when it does
//! not, or frames already wait, is the frame queued and the peer's connection task woken to
//! write the queue. A relay to twenty peers is then twenty writes, not twenty task wake-ups
//! (BENCHMARKS.md, "What was changed"). Without a socket (before the connection attaches
//! one, and in the room's tests) everything is queued.

use super::{Outgoing, PEER_QUEUE_FRAMES};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// A socket the room may write a whole message to without waiting.
pub trait DirectWrite: Send + Sync {
    /// Writes `message` as one binary WebSocket message, as much of it as the socket takes
    /// now.
    fn try_write(&self, message: &Bytes) -> Written;
}

/// How much of a message a socket took.
pub enum Written {
    All,
    /// Part of it: these framed bytes must be written next, before anything else.
    Part(Bytes),
    /// Nothing (the socket is full, or failed: its connection finds out when it writes).
    Nothing,
}

/// The room's end: it queues or writes frames for the peer.
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The connection's end: it writes what was queued.
pub struct OutboxReceiver {
    shared: Arc<Shared>,
}

/// Nothing is queued (or the room let go of the peer and everything was taken).
#[derive(Debug)]
pub struct Empty;

struct Shared {
    state: Mutex<State>,
    wake: Notify,
}

struct State {
    queue: VecDeque<Outgoing>,
    socket: Option<Arc<dyn DirectWrite>>,
    /// The connection took frames off the queue and has not finished writing them: the room
    /// must queue, or its frame would overtake them.
    writing: bool,
    /// The room let go of the peer (stalled, or removed).
    released: bool,
    /// The connection ended: nothing more will be written.
    gone: bool,
}

/// A new peer's outbox and its receiving end.
pub fn outbox() -> (Outbox, OutboxReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            socket: None,
            writing: false,
            released: false,
            gone: false,
        }),
        wake: Notify::new(),
    });
    (
        Outbox {
            shared: Arc::clone(&shared),
        },
        OutboxReceiver { shared },
    )
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        crate::lock(&self.state)
    }
}

impl Outbox {
    /// Sends or queues `item`. Fails if the peer has [`PEER_QUEUE_FRAMES`] waiting (it has
    /// stalled) or its connection ended: the room then drops the peer.
    pub fn try_send(&self, item: Outgoing) -> Result<(), Empty> {
        self.send(item, true)
    }

    /// Queues `item` for the connection's task, which writes what gathered with one system
    /// call: for a burst of frames (see `live::broadcast`). Fails as [`Outbox::try_send`].
    pub fn try_queue(&self, item: Outgoing) -> Result<(), Empty> {
        self.send(item, false)
    }

    fn send(&self, item: Outgoing, may_write: bool) -> Result<(), Empty> {
        let mut st = self.shared.state();
        if st.gone || st.queue.len() >= PEER_QUEUE_FRAMES {
            return Err(Empty);
        }
        if let (Outgoing::Frame(frame), Some(socket), true) = (&item, &st.socket, may_write) {
            if st.queue.is_empty() && !st.writing {
                match socket.try_write(frame) {
                    Written::All => return Ok(()),
                    Written::Part(rest) => {
                        st.queue.push_back(Outgoing::Raw(rest));
                        drop(st);
                        self.shared.wake.notify_one();
                        return Ok(());
                    }
                    Written::Nothing => {}
                }
            }
        }
        st.queue.push_back(item);
        drop(st);
        self.shared.wake.notify_one();
        Ok(())
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.shared.state().released = true;
        self.shared.wake.notify_one();
    }
}

impl OutboxReceiver {
    /// From now on the room writes frames straight to `socket` when it can.
    pub fn attach(&self, socket: Arc<dyn DirectWrite>) {
        self.shared.state().socket = Some(socket);
    }

    /// The next queued item, waiting for one; `None` once the room let go of the peer and
    /// the queue is empty. The caller is writing until [`OutboxReceiver::try_recv`] finds
    /// the queue empty.
    pub async fn recv(&self) -> Option<Outgoing> {
        loop {
            {
                let mut st = self.shared.state();
                if let Some(item) = st.queue.pop_front() {
                    st.writing = true;
                    return Some(item);
                }
                if st.released {
                    return None;
                }
            }
            // A wake-up sent between the check above and here is kept (`Notify` stores
            // one), so none is lost.
            self.shared.wake.notified().await;
        }
    }

    /// The next queued item if there is one. An empty queue ends the caller's writing: the
    /// room may write to the socket again.
    pub fn try_recv(&self) -> Result<Outgoing, Empty> {
        let mut st = self.shared.state();
        match st.queue.pop_front() {
            Some(item) => {
                st.writing = true;
                Ok(item)
            }
            None => {
                st.writing = false;
                Err(Empty)
            }
        }
    }

    /// The next queued item if there is one, while the caller goes on writing (see
    /// [`OutboxReceiver::try_recv`] for the end of its writing).
    pub fn try_take(&self) -> Option<Outgoing> {
        self.shared.state().queue.pop_front()
    }

    /// Stops the room's writing to the socket (the connection is closing) and returns what
    /// was queued.
    pub fn detach(&self) -> Vec<Outgoing> {
        let mut st = self.shared.state();
        st.socket = None;
        st.writing = true;
        st.queue.drain(..).collect()
    }

    /// Queues an item of the connection's own (a ping, a pong) behind what waits, so it
    /// never overtakes a frame the room sent. At most one of each kind waits: a client that
    /// sends pings and reads nothing must not grow the queue (a newer pong replaces the
    /// one waiting, as RFC 6455 allows).
    pub fn push(&self, item: Outgoing) {
        let mut st = self.shared.state();
        let same_kind =
            |queued: &Outgoing| std::mem::discriminant(queued) == std::mem::discriminant(&item);
        if matches!(item, Outgoing::Ping | Outgoing::Pong(_)) {
            st.queue.retain(|queued| !same_kind(queued));
        }
        st.queue.push_back(item);
        drop(st);
        self.shared.wake.notify_one();
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut st = self.shared.state();
        st.gone = true;
        st.socket = None;
        st.queue.clear();
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A socket that takes up to `room` bytes per write (none: it is full) and keeps them.
    #[derive(Default)]
    pub struct FakeSocket {
        taken: Mutex<Vec<u8>>,
        room: Mutex<usize>,
    }

    impl FakeSocket {
        pub fn with_room(room: usize) -> Arc<FakeSocket> {
            let socket = FakeSocket::default();
            *socket.room.lock().unwrap() = room;
            Arc::new(socket)
        }
        pub fn taken(&self) -> Vec<u8> {
            self.taken.lock().unwrap().clone()
        }
        fn set_room(&self, room: usize) {
            *self.room.lock().unwrap() = room;
        }
    }

    impl DirectWrite for FakeSocket {
        fn try_write(&self, message: &Bytes) -> Written {
            let room = *self.room.lock().unwrap();
            if room == 0 {
                return Written::Nothing;
            }
            let n = room.min(message.len());
            self.taken.lock().unwrap().extend_from_slice(&message[..n]);
            if n < message.len() {
                Written::Part(message.slice(n..))
            } else {
                Written::All
            }
        }
    }

    fn frame(bytes: &'static [u8]) -> Outgoing {
        Outgoing::Frame(Bytes::from_static(bytes))
    }

    /// What the connection would write next, as bytes (frames and the rest of a message).
    fn bytes_of(item: Outgoing) -> Vec<u8> {
        match item {
            Outgoing::Frame(b) | Outgoing::Raw(b) => b.to_vec(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn frames_go_straight_to_a_socket_that_takes_them() {
        let (outbox, receiver) = outbox();
        let socket = FakeSocket::with_room(usize::MAX);
        receiver.attach(socket.clone());
        outbox.try_send(frame(b"one")).unwrap();
        outbox.try_send(frame(b"two")).unwrap();
        assert_eq!(socket.taken(), b"onetwo");
        assert!(receiver.try_take().is_none(), "nothing queued");
    }

    #[tokio::test]
    async fn the_rest_of_a_partly_written_message_goes_first_and_nothing_overtakes_it() {
        let (outbox, receiver) = outbox();
        let socket = FakeSocket::with_room(2);
        receiver.attach(socket.clone());
        outbox.try_send(frame(b"abcdef")).unwrap();
        socket.set_room(usize::MAX);
        // The socket has room again, but the rest of "abcdef" waits: this must queue.
        outbox.try_send(frame(b"ghi")).unwrap();
        assert_eq!(socket.taken(), b"ab");

        let first = receiver.recv().await.unwrap();
        assert!(matches!(first, Outgoing::Raw(_)));
        assert_eq!(bytes_of(first), b"cdef");
        assert_eq!(bytes_of(receiver.try_take().unwrap()), b"ghi");
        // The queue is empty, but the connection has not written what it took: the room
        // must still queue.
        outbox.try_send(frame(b"jkl")).unwrap();
        assert_eq!(bytes_of(receiver.try_recv().unwrap()), b"jkl");
        assert!(
            receiver.try_recv().is_err(),
            "written out: the room may write again"
        );
        outbox.try_send(frame(b"mno")).unwrap();
        assert_eq!(socket.taken(), b"abmno");
    }

    #[tokio::test]
    async fn a_full_socket_queues_and_a_stalled_peer_is_refused() {
        let (outbox, receiver) = outbox();
        receiver.attach(FakeSocket::with_room(0));
        for _ in 0..PEER_QUEUE_FRAMES {
            outbox.try_send(frame(b"x")).unwrap();
        }
        assert!(
            outbox.try_send(frame(b"x")).is_err(),
            "over the bound: stalled"
        );
        // Dropped by the room: the connection writes what was queued, then ends.
        drop(outbox);
        let mut queued = 0;
        while receiver.recv().await.is_some() {
            queued += 1;
        }
        assert_eq!(queued, PEER_QUEUE_FRAMES);
    }

    #[tokio::test]
    async fn pings_and_pongs_do_not_pile_up() {
        let (_outbox, receiver) = outbox();
        for i in 0..100u8 {
            receiver.push(Outgoing::Pong(Bytes::from(vec![i])));
            receiver.push(Outgoing::Ping);
        }
        let mut queued = Vec::new();
        while let Some(item) = receiver.try_take() {
            queued.push(item);
        }
        assert_eq!(queued.len(), 2);
        assert!(matches!(&queued[0], Outgoing::Pong(p) if p[..] == [99]));
        assert!(matches!(queued[1], Outgoing::Ping));
    }

    #[tokio::test]
    async fn a_closing_connection_stops_the_rooms_writes() {
        let (outbox, receiver) = outbox();
        let socket = FakeSocket::with_room(usize::MAX);
        receiver.attach(socket.clone());
        outbox.try_send(frame(b"before")).unwrap();
        assert!(receiver.detach().is_empty());
        outbox.try_send(frame(b"after")).unwrap();
        assert_eq!(socket.taken(), b"before");
        drop(receiver);
        assert!(
            outbox.try_send(frame(b"gone")).is_err(),
            "the connection ended"
        );
    }
}
