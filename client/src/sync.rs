//! The board's live document in the browser: a yrs doc kept in sync with the server over the
//! standard y-websocket protocol (like the JS `WebsocketProvider`), presence, reconnection with
//! back-off, undo of one's own changes, and a copy of the doc in localStorage so edits made
//! offline survive a reload.
//!
//! Origins tell local edits from remote ones: updates from the server are applied with
//! origin [`REMOTE`] (not sent back, not undoable); a restored local copy with [`RESTORE`];
//! everything else is the user's own and is sent and tracked by the undo manager.

use crate::storage;
use journeyboard_shared::schema::BoardDoc;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};
use yrs::sync::{Awareness, Message, MessageReader, SyncMessage};
use yrs::undo::Options as UndoOptions;
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{
    Doc, OffsetKind, Options, Origin, ReadTxn, StateVector, Transact, UndoManager,
    Update as YUpdate,
};

/// A socket event handler, kept alive as long as its socket.
type EventHandler = Closure<dyn FnMut(web_sys::Event)>;

/// Origin of updates received from the server.
pub const REMOTE: &str = "remote";
/// Origin of the copy restored from localStorage.
pub const RESTORE: &str = "restore";

/// Reconnect back-off: 250 ms doubling to 5 s. A refused or dropped connection is retried
/// soon, but a server that is down is not hammered.
const BACKOFF_FIRST_MS: u32 = 250;
const BACKOFF_MAX_MS: u32 = 5_000;
/// How often our presence is re-announced: JS peers drop a state not renewed within 30 s.
const PRESENCE_RENEW_MS: u32 = 15_000;
/// Close code of a revoked link (the server's policy-violation close).
const POLICY_VIOLATION: u16 = 1008;
/// Saving the local copy is debounced: a burst of typing is saved once.
const SAVE_DEBOUNCE_MS: u32 = 400;

/// What the connection indicator shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    Connected,
    Offline,
    /// The server closed with 1008: this link no longer opens the board (the facilitator
    /// made new links). No more reconnecting.
    Revoked,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Connected => "connected",
            ConnState::Offline | ConnState::Revoked => "offline",
        }
    }
}

/// Hooks the UI gives the session; called outside any yrs transaction.
pub struct Hooks {
    pub doc_changed: Box<dyn Fn(&Session)>,
    pub presence_changed: Box<dyn Fn(&Session)>,
    pub conn_changed: Box<dyn Fn(ConnState)>,
}

/// One board's live session.
pub struct Session {
    board_id: String,
    /// localStorage key of this doc's offline copy.
    storage_key: String,
    ws_url: String,
    pub doc: Doc,
    pub view: BoardDoc,
    awareness: RefCell<Awareness>,
    undo: RefCell<UndoManager>,
    ws: RefCell<Option<WebSocket>>,
    /// The socket's event handlers, kept alive while it is open.
    handlers: RefCell<Vec<EventHandler>>,
    failures: Cell<u32>,
    /// Set when the link was revoked: never reconnect.
    stopped: Cell<bool>,
    refresh_scheduled: Cell<bool>,
    save_scheduled: Cell<bool>,
    hooks: Hooks,
}

impl Session {
    /// Creates the session for the board's shared doc (`private` false) or for this person's
    /// private doc (their unrevealed notes and votes): restores the local copy, wires the
    /// observers, and connects.
    pub fn start(board_id: &str, token: &str, private: bool, hooks: Hooks) -> Rc<Session> {
        let doc = Doc::with_options(Options {
            // Text positions in UTF-16 code units, as the browser's textarea counts them.
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let view = BoardDoc::new(&doc);
        let mut undo = UndoManager::with_options(UndoOptions {
            capture_timeout_millis: 500,
            tracked_origins: HashSet::new(),
            capture_transaction: None,
            timestamp: Arc::new(|| js_sys::Date::now() as u64),
            init_undo_stack: Vec::new(),
            init_redo_stack: Vec::new(),
        });
        undo.expand_scope(&doc, &view.notes);
        undo.expand_scope(&doc, &view.stages);
        undo.expand_scope(&doc, &view.lanes);
        undo.expand_scope(&doc, &view.board);
        let location = web_sys::window().expect("window").location();
        let scheme = if location.protocol().ok().as_deref() == Some("https:") {
            "wss"
        } else {
            "ws"
        };
        let host = location.host().unwrap_or_default();
        let session = Rc::new(Session {
            board_id: board_id.to_string(),
            storage_key: if private {
                format!("{board_id}.private")
            } else {
                board_id.to_string()
            },
            ws_url: format!(
                "{scheme}://{host}/ws/{board_id}{}?t={}&u={}",
                if private { "/private" } else { "" },
                js_sys::encode_uri_component(token),
                js_sys::encode_uri_component(&storage::user_secret())
            ),
            awareness: RefCell::new(Awareness::with_clock(doc.clone(), || {
                js_sys::Date::now() as u64
            })),
            doc,
            view,
            undo: RefCell::new(undo),
            ws: RefCell::new(None),
            handlers: RefCell::new(Vec::new()),
            failures: Cell::new(0),
            stopped: Cell::new(false),
            refresh_scheduled: Cell::new(false),
            save_scheduled: Cell::new(false),
            hooks,
        });
        session.restore_local_copy();
        session.observe();
        session.connect();
        session.renew_presence_forever();
        session.reconnect_when_back_online();
        session
    }

    fn observe(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let remote = Origin::from(REMOTE);
        let restore = Origin::from(RESTORE);
        self.doc
            .observe_update_v1("journeyboard-sync", move |txn, event| {
                let Some(session) = weak.upgrade() else {
                    return;
                };
                let origin = txn.origin();
                if origin != Some(&remote) && origin != Some(&restore) {
                    session.send(Message::Sync(SyncMessage::Update(event.update.clone())));
                }
                session.schedule_refresh();
                session.schedule_save();
            })
            .expect("observe doc updates");
    }

    /// Runs the UI hook after the current transaction, once per burst of changes.
    fn schedule_refresh(self: &Rc<Self>) {
        if self.refresh_scheduled.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(session) = weak.upgrade() {
                session.refresh_scheduled.set(false);
                (session.hooks.doc_changed)(&session);
            }
        });
    }

    fn schedule_save(self: &Rc<Self>) {
        if self.save_scheduled.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        set_timeout(SAVE_DEBOUNCE_MS, move || {
            if let Some(session) = weak.upgrade() {
                session.save_scheduled.set(false);
                let state = session
                    .doc
                    .transact()
                    .encode_state_as_update_v1(&StateVector::default());
                storage::save_doc(&session.storage_key, &state);
            }
        });
    }

    fn restore_local_copy(&self) {
        let Some(bytes) = storage::load_doc(&self.storage_key) else {
            return;
        };
        if let Ok(update) = YUpdate::decode_v1(&bytes) {
            let _ = self.doc.transact_mut_with(RESTORE).apply_update(update);
        }
    }

    /// Opens the WebSocket and wires its handlers.
    fn connect(self: &Rc<Self>) {
        (self.hooks.conn_changed)(ConnState::Connecting);
        let ws = match WebSocket::new(&self.ws_url) {
            Ok(ws) => ws,
            Err(_) => {
                self.connection_lost();
                return;
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let mut handlers = Vec::new();
        let weak = Rc::downgrade(self);
        handlers.push(handler(&ws, "open", weak.clone(), |session, _| {
            session.on_open()
        }));
        handlers.push(handler(&ws, "message", weak.clone(), |session, event| {
            if let Some(event) = event.dyn_ref::<MessageEvent>() {
                let data = js_sys::Uint8Array::new(&event.data()).to_vec();
                session.on_frame(&data);
            }
        }));
        handlers.push(handler(&ws, "close", weak, |session, event| {
            let code = event.dyn_ref::<CloseEvent>().map_or(0, |e| e.code());
            web_sys::console::warn_1(&format!("journeyboard: connection closed ({code})").into());
            if code == POLICY_VIOLATION {
                session.revoked();
            } else {
                session.connection_lost();
            }
        }));
        *self.handlers.borrow_mut() = handlers;
        *self.ws.borrow_mut() = Some(ws);
    }

    fn on_open(self: &Rc<Self>) {
        self.failures.set(0);
        (self.hooks.conn_changed)(ConnState::Connected);
        let sv = self.doc.transact().state_vector();
        self.send(Message::Sync(SyncMessage::SyncStep1(sv)));
        let presence = self.awareness.borrow().update();
        if let Ok(presence) = presence {
            if !presence.clients.is_empty() {
                self.send(Message::Awareness(presence));
            }
        }
    }

    fn on_frame(self: &Rc<Self>, data: &[u8]) {
        let mut decoder = DecoderV1::from(data);
        let messages: Vec<Message> = MessageReader::new(&mut decoder)
            .filter_map(Result::ok)
            .collect();
        let mut presence_changed = false;
        for message in messages {
            match message {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = self.doc.transact().encode_diff_v1(&sv);
                    self.send(Message::Sync(SyncMessage::SyncStep2(diff)));
                }
                Message::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
                    if let Ok(update) = YUpdate::decode_v1(&update) {
                        let _ = self.doc.transact_mut_with(REMOTE).apply_update(update);
                    }
                }
                Message::Awareness(update) => {
                    let _ = self.awareness.borrow_mut().apply_update(update);
                    presence_changed = true;
                }
                Message::AwarenessQuery => {
                    let presence = self.awareness.borrow().update();
                    if let Ok(presence) = presence {
                        self.send(Message::Awareness(presence));
                    }
                }
                Message::Auth(_) | Message::Custom(..) => {}
            }
        }
        if presence_changed {
            (self.hooks.presence_changed)(self);
        }
    }

    fn connection_lost(self: &Rc<Self>) {
        if let Some(ws) = self.ws.borrow_mut().take() {
            ws.set_onopen(None);
            let _ = ws.close();
        }
        self.handlers.borrow_mut().clear();
        // Everyone else's presence is unknown while we are away.
        {
            let mut awareness = self.awareness.borrow_mut();
            let me = awareness.client_id();
            let others: Vec<_> = awareness
                .iter()
                .map(|(id, _)| id)
                .filter(|id| *id != me)
                .collect();
            for id in others {
                awareness.remove_state(id);
            }
        }
        (self.hooks.presence_changed)(self);
        (self.hooks.conn_changed)(ConnState::Offline);
        let failures = self.failures.get();
        self.failures.set(failures + 1);
        let delay = BACKOFF_FIRST_MS
            .saturating_mul(1 << failures.min(5))
            .min(BACKOFF_MAX_MS);
        let weak = Rc::downgrade(self);
        set_timeout(delay, move || {
            if let Some(session) = weak.upgrade() {
                if session.ws.borrow().is_none() && !session.stopped.get() {
                    session.connect();
                }
            }
        });
    }

    /// The link was revoked: stop, keep the local copy, and say so.
    fn revoked(self: &Rc<Self>) {
        if let Some(ws) = self.ws.borrow_mut().take() {
            let _ = ws.close();
        }
        self.handlers.borrow_mut().clear();
        self.stopped.set(true);
        (self.hooks.conn_changed)(ConnState::Revoked);
    }

    fn reconnect_when_back_online(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let on_online = Closure::<dyn FnMut()>::new(move || {
            if let Some(session) = weak.upgrade() {
                if session.ws.borrow().is_none() && !session.stopped.get() {
                    session.failures.set(0);
                    session.connect();
                }
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window
                .add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        }
        on_online.forget();
    }

    fn renew_presence_forever(self: &Rc<Self>) {
        let weak: Weak<Session> = Rc::downgrade(self);
        fn tick(weak: Weak<Session>) {
            set_timeout(PRESENCE_RENEW_MS, move || {
                if let Some(session) = weak.upgrade() {
                    let json = session.awareness.borrow().local_state_raw();
                    if let Some(json) = json {
                        session.set_presence_raw(json.to_string());
                    }
                    tick(Rc::downgrade(&session));
                }
            });
        }
        tick(weak);
    }

    /// Sends a message if connected; offline changes reach the server through the sync
    /// handshake on reconnect.
    fn send(&self, message: Message) {
        if let Some(ws) = self.ws.borrow().as_ref() {
            if ws.ready_state() == WebSocket::OPEN {
                let _ = ws.send_with_u8_array(&message.encode_v1());
            }
        }
    }

    /// Announces our presence (a JSON object).
    pub fn set_presence_raw(&self, json: String) {
        let update = {
            let mut awareness = self.awareness.borrow_mut();
            awareness.set_local_state_raw(json);
            awareness.update_with_clients([awareness.client_id()])
        };
        if let Ok(update) = update {
            self.send(Message::Awareness(update));
        }
    }

    /// Everyone's presence (client id, JSON), ours included.
    pub fn presence(&self) -> Vec<(u64, String)> {
        let awareness = self.awareness.borrow();
        awareness
            .iter()
            .filter_map(|(id, state)| state.data.as_ref().map(|d| (id.get(), d.to_string())))
            .collect()
    }

    /// The board's id.
    pub fn board_id(&self) -> &str {
        &self.board_id
    }

    /// Our awareness client id.
    pub fn client_id(&self) -> u64 {
        self.doc.client_id().get()
    }

    /// Makes a local (undoable, sent) change.
    pub fn edit(&self, change: impl FnOnce(&BoardDoc, &mut yrs::TransactionMut)) {
        let mut txn = self.doc.transact_mut();
        change(&self.view, &mut txn);
    }

    /// Reads the document.
    pub fn read<R>(&self, f: impl FnOnce(&BoardDoc, &yrs::Transaction) -> R) -> R {
        let txn = self.doc.transact();
        f(&self.view, &txn)
    }

    /// Undoes our own last change (never anyone else's).
    pub fn undo(&self) -> bool {
        self.undo.borrow_mut().undo_blocking()
    }

    pub fn redo(&self) -> bool {
        self.undo.borrow_mut().redo_blocking()
    }

    /// Ends the current undo step, so the next change is undone separately.
    pub fn undo_boundary(&self) {
        self.undo.borrow_mut().reset();
    }
}

/// Adds an event listener on the socket that calls `f` with the session while it lives.
fn handler(
    ws: &WebSocket,
    event: &str,
    weak: Weak<Session>,
    f: impl Fn(&Rc<Session>, &web_sys::Event) + 'static,
) -> EventHandler {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        if let Some(session) = weak.upgrade() {
            f(&session, &e);
        }
    });
    let _ = ws.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    closure
}

/// Runs `f` once after `ms` milliseconds.
pub fn set_timeout(ms: u32, f: impl FnOnce() + 'static) {
    let closure = Closure::once_into_js(f);
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            closure.unchecked_ref(),
            ms as i32,
        );
    }
}
