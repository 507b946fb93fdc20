//! A board page: checks the link, asks for a name, then runs the live board (session, state,
//! toolbar, grid) and the keyboard shortcuts.

use super::grid::Grid;
use super::join::JoinDialog;
use super::phase_bar::PhaseBar;
use super::side_panel::SidePanel;
use super::toolbar::Toolbar;
use crate::api;
use crate::state::BoardState;
use crate::storage::{self, Identity};
use crate::sync::{ConnState, Hooks, Session};
use journeyboard_shared::schema::BoardDoc;
use journeyboard_shared::{NewNote, NoteArea, NoteColor, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::rc::Rc;

/// Everything a board's components share.
#[derive(Clone, Copy)]
pub struct BoardCtx {
    pub state: BoardState,
    pub session: StoredValue<Rc<Session>, LocalStorage>,
    pub role: Role,
    pub me: StoredValue<Identity>,
    /// Our public id (see `journeyboard_shared::identity`), written into our notes.
    pub me_id: StoredValue<String>,
    pub conn: RwSignal<ConnState>,
    /// A note whose text field should take focus once rendered (a note just added).
    pub focus_note: RwSignal<Option<String>>,
    /// My private doc (unrevealed icebreaker notes, my votes); none for viewers.
    pub private: StoredValue<Option<Rc<Session>>, LocalStorage>,
    /// Server clock minus ours, in ms.
    pub clock_offset: f64,
    /// Whether my view follows the facilitator's walkthrough.
    pub following: RwSignal<bool>,
    pub board_id: StoredValue<String>,
    /// The link's token, for HTTP calls (exports, snapshots).
    pub token: StoredValue<String>,
}

impl BoardCtx {
    /// Now, on the server's clock (ms since the epoch).
    pub fn now(&self) -> f64 {
        js_sys::Date::now() + self.clock_offset
    }

    /// A change to my private doc.
    pub fn edit_private(&self, change: impl FnOnce(&BoardDoc, &mut yrs::TransactionMut)) {
        self.private.with_value(|p| {
            if let Some(p) = p {
                p.edit(change);
            }
        });
    }

    /// A facilitator setting (the server refuses it from anyone else).
    pub fn set_setting(&self, field: &'static str, value: impl Into<yrs::Any>) {
        if self.can_edit_structure() {
            let value = value.into();
            self.edit(|view, txn| view.set_setting(txn, field, value));
        }
    }

    pub fn me_id(&self) -> String {
        self.me_id.get_value()
    }

    /// Whether I may change the board now (reactive: a lock takes effect at once).
    pub fn can_write(&self) -> bool {
        self.role.can_write()
            && (self.role == Role::Facilitator || !self.state.settings.with(|s| s.locked))
    }

    /// Whether a lane is locked for me.
    pub fn lane_locked(&self, lane: &str) -> bool {
        self.role != Role::Facilitator
            && self
                .state
                .settings
                .with(|s| s.locked_lanes.iter().any(|l| l == lane))
    }

    pub fn can_edit_structure(&self) -> bool {
        self.role.can_edit_structure()
    }

    /// A local change (sent, undoable).
    pub fn edit(&self, change: impl FnOnce(&BoardDoc, &mut yrs::TransactionMut)) {
        if self.can_write() {
            self.session.with_value(|s| s.edit(change));
        }
    }

    /// Adds an empty note to a cell and asks for its text field to take focus.
    pub fn add_note(&self, stage: &str, lane: &str) {
        self.add_note_in(stage, lane, NoteArea::Grid);
    }

    /// Adds an empty icebreaker note: private (in my private doc) while private mode is on.
    pub fn add_icebreaker_note(&self) {
        if self.state.settings.with_untracked(|s| s.private_mode) {
            let note = self.new_note("", "", NoteArea::Icebreaker);
            let id = note.id.clone();
            self.edit_private(|view, txn| view.add_note(txn, &note));
            self.focus_note.set(Some(id));
        } else {
            self.add_note_in("", "", NoteArea::Icebreaker);
        }
    }

    fn new_note(&self, stage: &str, lane: &str, area: NoteArea) -> NewNote {
        NewNote {
            id: uuid::Uuid::new_v4().to_string(),
            text: String::new(),
            stage: stage.to_string(),
            lane: lane.to_string(),
            color: NoteColor::Yellow,
            author: self.me.with_value(|me| me.name.clone()),
            created_at: js_sys::Date::now(),
            author_id: self.me_id(),
            area,
        }
    }

    fn add_note_in(&self, stage: &str, lane: &str, area: NoteArea) {
        if !self.can_write() {
            return;
        }
        let note = self.new_note(stage, lane, area);
        let id = note.id.clone();
        self.session.with_value(|s| {
            s.undo_boundary();
            s.edit(|view, txn| view.add_note(txn, &note));
            s.undo_boundary();
        });
        self.focus_note.set(Some(id));
    }

    /// Tells everyone which note we have selected (outlined in our colour on their screens).
    pub fn select(&self, note: Option<&str>) {
        let presence = self.me.with_value(|me| {
            serde_json::json!({
                "user": { "name": me.name, "color": me.color },
                "selected": note,
            })
        });
        self.session
            .with_value(|s| s.set_presence_raw(presence.to_string()));
        self.session.with_value(|s| self.state.refresh_people(s));
    }

    pub fn undo(&self) {
        if self.can_write() {
            self.session.with_value(|s| s.undo());
        }
    }

    pub fn redo(&self) {
        if self.can_write() {
            self.session.with_value(|s| s.redo());
        }
    }
}

#[component]
pub fn BoardPage(id: String, token: String) -> impl IntoView {
    let summary = RwSignal::new(None::<Result<api::Summary, api::ApiError>>);
    let identity = RwSignal::new(storage::load_identity());
    if token.is_empty() {
        summary.set(Some(Err(api::ApiError {
            status: 401,
            message: "This link has no access token. Ask the facilitator for the full link.".into(),
        })));
    } else {
        let (id, token) = (id.clone(), token.clone());
        spawn_local(async move {
            let answer = match api::board_summary(&id, &token).await {
                Ok(fresh) => {
                    storage::save_summary(&id, &fresh);
                    Ok(fresh)
                }
                // Unreachable server: open the board from what this browser knows of it.
                Err(e) if e.status == 0 => storage::load_summary(&id).ok_or(e),
                Err(e) => Err(e),
            };
            summary.set(Some(answer));
        });
    }
    move || {
        match summary.get() {
        None => view! { <main class="message"><p role="status">"Opening the board…"</p></main> }.into_any(),
        Some(Err(e)) => {
            let message = match e.status {
                404 => "This board does not exist (or the link is incomplete).".to_string(),
                401 | 403 => "This link does not open this board. Ask the facilitator for a new link.".to_string(),
                _ => e.message,
            };
            view! {
                <main class="message" data-testid="board-error">
                    <h1>"Cannot open the board"</h1>
                    <p role="alert">{message}</p>
                    <p><a href="/">"Go to Journeyboard's home page"</a></p>
                </main>
            }
            .into_any()
        }
        Some(Ok(summary)) => match identity.get() {
            None => view! {
                <JoinDialog board_title=summary.title.clone() on_done=move |i| identity.set(Some(i))/>
            }
            .into_any(),
            Some(me) => {
                let role = summary.role.parse().unwrap_or(Role::Viewer);
                let clock_offset = if summary.server_time > 0.0 { summary.server_time - js_sys::Date::now() } else { 0.0 };
                view! { <LiveBoard id=id.clone() token=token.clone() role me clock_offset/> }.into_any()
            }
        },
    }
    }
}

/// The board once we know who we are: starts the session and provides the context.
#[component]
fn LiveBoard(
    id: String,
    token: String,
    role: Role,
    me: Identity,
    clock_offset: f64,
) -> impl IntoView {
    let state = BoardState::new();
    let conn = RwSignal::new(ConnState::Connecting);
    let private = role.can_write().then(|| {
        let private = Session::start(
            &id,
            &token,
            true,
            Hooks {
                doc_changed: Box::new(move |s| state.refresh_private(s)),
                presence_changed: Box::new(|_| {}),
                conn_changed: Box::new(|_| {}),
            },
        );
        state.refresh_private(&private);
        private
    });
    let session = Session::start(
        &id,
        &token,
        false,
        Hooks {
            doc_changed: Box::new(move |s| state.refresh(s)),
            presence_changed: Box::new(move |s| state.refresh_people(s)),
            conn_changed: Box::new(move |c| conn.set(c)),
        },
    );
    state.refresh(&session);
    let ctx = BoardCtx {
        state,
        session: StoredValue::new_local(session),
        role,
        me: StoredValue::new(me),
        me_id: StoredValue::new(journeyboard_shared::identity::public_id(
            &storage::user_secret(),
        )),
        conn,
        focus_note: RwSignal::new(None),
        private: StoredValue::new_local(private),
        clock_offset,
        following: RwSignal::new(true),
        board_id: StoredValue::new(id.clone()),
        token: StoredValue::new(token.clone()),
    };
    ctx.select(None);
    provide_context(ctx);

    // Undo and redo of one's own changes, also inside a note's text field (where the
    // browser's own undo would fight the shared document).
    let shortcuts = window_event_listener(leptos::ev::keydown, move |ev| {
        let key = ev.key().to_lowercase();
        if !(ev.ctrl_key() || ev.meta_key()) {
            return;
        }
        let redo = (key == "z" && ev.shift_key()) || key == "y";
        if key == "z" || redo {
            ev.prevent_default();
            if redo {
                ctx.redo();
            } else {
                ctx.undo();
            }
        }
    });
    on_cleanup(move || shortcuts.remove());

    view! {
        <div class="board-page">
            <Toolbar/>
            <PhaseBar/>
            <Show when=move || role == Role::Viewer>
                <p class="banner" role="note">"You are viewing this board: you see every change live, but cannot edit."</p>
            </Show>
            <Show when=move || role == Role::Participant && state.settings.with(|s| s.locked)>
                <p class="banner banner-locked" role="note" data-testid="locked-banner">"The facilitator has locked the board: you can look, not change."</p>
            </Show>
            <div class="board-main">
                <Grid/>
                <SidePanel/>
            </div>
        </div>
    }
}
