//! Running an operation on the open database, and opening it again after a failure: sled
//! refuses every operation after a failed write until it is opened again (see
//! `sled_store.rs`). Every [`Store`](super::Store) method of [`SledStore`] goes through
//! [`SledStore::using`] or, for writes, [`SledStore::writing`]; talks to sled only.

use super::{Open, SledStore, REOPEN_EVERY};
use crate::lock;
use crate::store::StoreError;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long opening the store again waits for the failed database to close.
pub(super) const CLOSE_WAIT: Duration = Duration::from_secs(5);

impl SledStore {
    /// Runs `op` on the open database, reopening it first if it failed a while ago; a
    /// backend error marks the store as failing.
    pub(super) fn using<T>(
        &self,
        op: impl FnOnce(&Open) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = self.current().and_then(|open| op(&open));
        if let Err(StoreError::Backend(_)) = &result {
            lock(&self.failing_since).get_or_insert_with(Instant::now);
        }
        result
    }

    /// Like [`SledStore::using`], for writes: while the store is failing and not yet due to be
    /// opened again, a write fails at once without reaching sled. sled refuses writes after a
    /// failure anyway, and a large value it fails to write (over 128 KiB, written to a file of
    /// its own) leaves its log buffer unfinished, so that its next flush never returns.
    pub(super) fn writing<T>(
        &self,
        op: impl FnOnce(&Open) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if matches!(*lock(&self.failing_since), Some(at) if at.elapsed() < REOPEN_EVERY) {
            return Err(StoreError::Backend(
                "the store is failing (a write failed less than a second ago)".into(),
            ));
        }
        self.using(op)
    }

    /// The open database: the current one, or, if the store has been failing for
    /// [`REOPEN_EVERY`], a freshly opened one (sled's own error state never clears).
    pub(super) fn current(&self) -> Result<Arc<Open>, StoreError> {
        let retry = matches!(*lock(&self.failing_since), Some(at) if at.elapsed() >= REOPEN_EVERY);
        if retry {
            self.reopen();
        }
        self.open
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| StoreError::Backend("the store could not be opened again".into()))
    }

    /// Drops the failed database and opens it again.
    fn reopen(&self) {
        let mut open = self.open.write().unwrap_or_else(|e| e.into_inner());
        let mut failing = lock(&self.failing_since);
        if !matches!(*failing, Some(at) if at.elapsed() >= REOPEN_EVERY) {
            return; // another thread just did
        }
        // The old database must be gone before sled can lock its files again. It is dropped on
        // a thread of its own: sled flushes on drop, and after some write failures that flush
        // never returns. While it is stuck it holds sled's process-wide concurrency lock, which
        // every database's writes take: one opened now (possible when the data directory was
        // deleted and so holds no file lock) would hang every caller. So the store keeps
        // failing until the old one has closed, which may take a restart.
        let mut closing = lock(&self.closing);
        let wait = match open.take() {
            Some(old) => {
                let (done, dropped) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    drop(old);
                    let _ = done.send(());
                });
                *closing = Some(dropped);
                CLOSE_WAIT
            }
            None => Duration::ZERO, // a later try: only look whether it has closed since
        };
        if let Some(dropped) = closing.as_ref() {
            if let Err(RecvTimeoutError::Timeout) = dropped.recv_timeout(wait) {
                *failing = Some(Instant::now());
                if !wait.is_zero() {
                    tracing::error!(
                        "the failed store did not close within {CLOSE_WAIT:?}, so it cannot be \
                         opened again until it does: restart the server"
                    );
                }
                return;
            }
            *closing = None;
        }
        drop(closing);
        match Open::new(&self.dir) {
            Ok(reopened) => {
                *open = Some(Arc::new(reopened));
                *failing = None;
                let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                tracing::warn!(generation, "the store failed and was opened again");
            }
            Err(e) => {
                *failing = Some(Instant::now());
                tracing::error!("the store could not be opened again: {e}");
            }
        }
    }
}
