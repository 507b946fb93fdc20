//! A test Yjs client: a yrs document and awareness synced with the server over the standard
//! y-websocket protocol, as the JS `WebsocketProvider` does it (sync step 1 on connect, answer
//! the server's step 1 with a step 2, send each local change as an update).
//!
//! It keeps its document across `disconnect` / `reconnect`, so a test can edit offline and
//! watch the edits merge when it comes back.

use futures_util::{SinkExt, StreamExt};
use journeyboard_shared::schema::BoardDoc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::{Awareness, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Transact, TransactionMut, Update as YUpdate};

/// What a connection attempt was answered with, when not upgraded.
#[derive(Debug)]
pub enum ConnectError {
    /// The server answered the upgrade request with this HTTP status.
    Status(u16),
    Other(String),
}

/// Live connection parts; replaced on reconnect.
struct Link {
    outgoing: mpsc::UnboundedSender<WsMessage>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// A Yjs peer for tests.
pub struct YClient {
    url: String,
    pub doc: Doc,
    awareness: Arc<Mutex<Awareness>>,
    /// The close code the server sent, if it closed the connection.
    close_code: Arc<Mutex<Option<u16>>>,
    /// Reasons of the "permission denied" messages the server sent.
    denials: Arc<Mutex<Vec<String>>>,
    /// The `Origin` header sent with the upgrade, if any.
    origin: Option<String>,
    changed: Arc<Notify>,
    link: Option<Link>,
}

impl YClient {
    /// Connects with a fresh document; panics if the server refuses.
    pub async fn connect(url: &str) -> YClient {
        Self::try_connect(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e:?}"))
    }

    /// Connects with a fresh document, returning how the server refused if it did.
    pub async fn try_connect(url: &str) -> Result<YClient, ConnectError> {
        Self::try_connect_from(url, None).await
    }

    /// Connects as a page of `origin` would (with that `Origin` header).
    pub async fn try_connect_from(
        url: &str,
        origin: Option<&str>,
    ) -> Result<YClient, ConnectError> {
        let doc = Doc::new();
        let mut client = YClient {
            url: url.to_string(),
            awareness: Arc::new(Mutex::new(Awareness::new(doc.clone()))),
            doc,
            close_code: Arc::new(Mutex::new(None)),
            denials: Arc::new(Mutex::new(Vec::new())),
            origin: origin.map(str::to_string),
            changed: Arc::new(Notify::new()),
            link: None,
        };
        client.open().await?;
        Ok(client)
    }

    async fn open(&mut self) -> Result<(), ConnectError> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| ConnectError::Other(e.to_string()))?;
        if let Some(origin) = &self.origin {
            request.headers_mut().insert(
                "origin",
                origin
                    .parse()
                    .map_err(|_| ConnectError::Other("bad origin".into()))?,
            );
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(response) => {
                    ConnectError::Status(response.status().as_u16())
                }
                other => ConnectError::Other(other.to_string()),
            })?;
        *self.close_code.lock().unwrap() = None;
        let (mut sink, mut stream) = ws.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<WsMessage>();
        let writer = tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        // Like the JS provider: our step 1 first, then our presence.
        let sv = self.doc.transact().state_vector();
        let _ = outgoing.send(binary(Message::Sync(SyncMessage::SyncStep1(sv))));
        let (awareness, close_code, changed, replies, denials) = (
            Arc::clone(&self.awareness),
            Arc::clone(&self.close_code),
            Arc::clone(&self.changed),
            outgoing.clone(),
            Arc::clone(&self.denials),
        );
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                match message {
                    WsMessage::Binary(data) => handle_frame(&awareness, &replies, &denials, &data),
                    WsMessage::Close(frame) => {
                        *close_code.lock().unwrap() =
                            Some(frame.map_or(1005, |f| u16::from(f.code)));
                        changed.notify_waiters();
                        break;
                    }
                    _ => {}
                }
                changed.notify_waiters();
            }
            changed.notify_waiters();
        });
        self.link = Some(Link {
            outgoing,
            reader,
            writer,
        });
        Ok(())
    }

    /// Makes a change to the board and sends it (if connected), as one update.
    pub fn edit(&self, change: impl FnOnce(&BoardDoc, &mut TransactionMut)) {
        let view = BoardDoc::new(&self.doc);
        let update = {
            let mut txn = self.doc.transact_mut();
            change(&view, &mut txn);
            txn.encode_update_v1()
        };
        self.send(Message::Sync(SyncMessage::Update(update)));
    }

    /// Sends one protocol message.
    pub fn send(&self, message: Message) {
        self.send_raw(WsMessage::Binary(message.encode_v1().into()));
    }

    /// Sends any WebSocket message (for bad-input tests).
    pub fn send_raw(&self, message: WsMessage) {
        if let Some(link) = &self.link {
            let _ = link.outgoing.send(message);
        }
    }

    /// Sets this client's presence (awareness state) and announces it.
    pub fn set_presence(&self, json: &str) {
        let update = {
            let mut awareness = self.awareness.lock().unwrap();
            awareness.set_local_state_raw(json);
            awareness.update().expect("awareness update")
        };
        self.send(Message::Awareness(update));
    }

    /// This client's awareness id (its document client id).
    pub fn client_id(&self) -> ClientID {
        self.doc.client_id()
    }

    /// Presence states this client currently knows, other than its own.
    pub fn peers_presence(&self) -> Vec<(ClientID, String)> {
        let awareness = self.awareness.lock().unwrap();
        let me = self.doc.client_id();
        awareness
            .iter()
            .filter(|(id, _)| *id != me)
            .filter_map(|(id, state)| state.data.as_ref().map(|d| (id, d.to_string())))
            .collect()
    }

    /// Announces marker `n` as this client's presence. The server handles a connection's
    /// frames in order and relays in order, so a peer that sees the marker has received
    /// whatever the server relayed for this client's earlier frames (see [`Self::wait_marker`]).
    pub fn send_marker(&self, n: u64) {
        self.set_presence(&format!(r#"{{"marker":{n}}}"#));
    }

    /// Waits until some peer's presence shows marker `n`.
    pub async fn wait_marker(&self, n: u64) {
        let needle = format!(r#""marker":{n}}}"#);
        self.wait_until(&format!("marker {n}"), crate::PATIENCE, |c| {
            c.peers_presence().iter().any(|(_, s)| s.contains(&needle))
        })
        .await;
    }

    /// Reads the board through the typed view.
    pub fn read<R>(&self, f: impl FnOnce(&BoardDoc, &yrs::Transaction) -> R) -> R {
        let view = BoardDoc::new(&self.doc);
        let txn = self.doc.transact();
        f(&view, &txn)
    }

    /// The whole document as canonical JSON (sorted keys), for convergence checks.
    pub fn state_json(&self) -> String {
        let any = self.read(|view, txn| view.to_any(txn));
        serde_json::to_value(&any)
            .expect("document as JSON")
            .to_string()
    }

    /// Waits until `condition` holds, re-checking on every frame; panics after `timeout`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&YClient) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if condition(self) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out waiting for: {what}");
            }
            // Also re-check every 50 ms, for conditions on other things than this client.
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    /// The close code the server sent, if it closed this connection.
    pub fn close_code(&self) -> Option<u16> {
        *self.close_code.lock().unwrap()
    }

    /// Whether the connection has ended (closed by either side or dropped).
    pub fn is_disconnected(&self) -> bool {
        self.link.as_ref().is_none_or(|l| l.reader.is_finished())
    }

    /// Waits for the server to close the connection and returns its close code.
    pub async fn wait_closed(&self) -> Option<u16> {
        self.wait_until("connection closed", crate::PATIENCE, |c| {
            c.is_disconnected()
        })
        .await;
        self.close_code()
    }

    /// Drops the connection without a close frame (as a crashed tab or lost network would).
    pub fn disconnect(&mut self) {
        if let Some(link) = self.link.take() {
            link.reader.abort();
            link.writer.abort();
        }
    }

    /// The reasons of the "permission denied" messages the server sent (refused updates).
    pub fn denials(&self) -> Vec<String> {
        self.denials.lock().unwrap().clone()
    }

    /// Connects with the same document to another URL (a restarted server's new port).
    pub async fn reconnect_to(&mut self, url: &str) -> Result<(), ConnectError> {
        self.disconnect();
        self.url = url.to_string();
        self.open().await
    }

    /// Connects again with the same document: offline edits flow to the server and the
    /// server's changes flow back.
    pub async fn reconnect(&mut self) {
        self.disconnect();
        self.open()
            .await
            .unwrap_or_else(|e| panic!("reconnect: {e:?}"));
    }
}

impl Drop for YClient {
    fn drop(&mut self) {
        self.disconnect();
    }
}

fn binary(message: Message) -> WsMessage {
    WsMessage::Binary(message.encode_v1().into())
}

/// Applies one frame from the server and answers a sync step 1.
fn handle_frame(
    awareness: &Arc<Mutex<Awareness>>,
    replies: &mpsc::UnboundedSender<WsMessage>,
    denials: &Mutex<Vec<String>>,
    data: &[u8],
) {
    let Ok(messages) = journeyboard_server::room::protocol::decode_frame(data) else {
        panic!("server sent a malformed frame: {data:?}");
    };
    let mut awareness = awareness.lock().unwrap();
    for message in messages {
        match message {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let diff = awareness.doc().transact().encode_diff_v1(&sv);
                let _ = replies.send(binary(Message::Sync(SyncMessage::SyncStep2(diff))));
            }
            Message::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
                let update = YUpdate::decode_v1(&update).expect("server update decodes");
                awareness
                    .doc()
                    .transact_mut()
                    .apply_update(update)
                    .expect("server update applies");
            }
            Message::Awareness(update) => {
                let _ = awareness.apply_update(update);
            }
            Message::Auth(Some(reason)) => denials.lock().unwrap().push(reason),
            _ => {}
        }
    }
}

/// The full state of a document as one update (for comparing with the server).
pub fn full_state(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}
