//! Page-object steps for the board: join, add and edit notes, move them, read what the page
//! shows. Each step works through the UI as a person would (clicks, typing, keyboard), except
//! drag and drop, which WebDriver cannot perform with HTML5 drag events: that one dispatches
//! the browser's own `DragEvent`s with a real `DataTransfer`.

use crate::{BoardPage, PAGE_PATIENCE};
use anyhow::{anyhow, Context, Result};
use fantoccini::Locator;
use serde_json::Value;
use std::time::Duration;

/// How long a live change may take to show in another session before a test fails. Generous:
/// latency is measured by the benchmark, not here.
pub const LIVE_PATIENCE: Duration = Duration::from_secs(10);

/// WebDriver key codes.
pub mod keys {
    pub const ENTER: &str = "\u{E007}";
    pub const ALT: &str = "\u{E00A}";
    pub const CONTROL: &str = "\u{E009}";
    pub const SHIFT: &str = "\u{E008}";
    pub const RELEASE: &str = "\u{E000}";
    pub const LEFT: &str = "\u{E012}";
    pub const UP: &str = "\u{E013}";
    pub const RIGHT: &str = "\u{E014}";
    pub const DOWN: &str = "\u{E015}";
}

impl BoardPage {
    /// Opens a board link, picks `name` in the join dialog if asked, and waits until the
    /// board is connected.
    pub async fn join(&self, url: &str, name: &str) -> Result<()> {
        self.open(url).await?;
        self.wait_until("the join dialog or the board", PAGE_PATIENCE, async |p| {
            Ok(!p.all_by_testid("join-dialog").await?.is_empty()
                || !p.all_by_testid("board").await?.is_empty())
        })
        .await?;
        if let Some(dialog) = self.all_by_testid("join-dialog").await?.into_iter().next() {
            let input = self.by_testid("join-name").await?;
            input.clear().await.ok();
            input.send_keys(name).await?;
            dialog
                .find(Locator::Css("[data-testid=join-submit]"))
                .await?
                .click()
                .await?;
        }
        self.wait_for_testid("board", PAGE_PATIENCE).await?;
        self.wait_for_connection("connected").await
    }

    /// Waits until the connection indicator says `state`.
    pub async fn wait_for_connection(&self, state: &str) -> Result<()> {
        self.wait_until(&format!("connection {state}"), PAGE_PATIENCE, async |p| {
            Ok(p.by_testid("connection-status")
                .await?
                .attr("data-state")
                .await?
                .as_deref()
                == Some(state))
        })
        .await
    }

    /// The ids of the notes in the grid, in document order.
    pub async fn note_ids(&self) -> Result<Vec<String>> {
        let value = self
            .script("return [...document.querySelectorAll('[data-testid=cell] [data-testid=note]')].map(n => n.dataset.id)")
            .await?;
        Ok(serde_json::from_value(value)?)
    }

    /// A note's text as its field shows it, and the cell (stage id, lane id) it is in.
    pub async fn note(&self, id: &str) -> Result<Option<(String, String, String)>> {
        let js = format!(
            "const n = document.querySelector('[data-testid=note][data-id=\"{id}\"]');
             if (!n) return null;
             const c = n.closest('[data-testid=cell]');
             return [n.querySelector('[data-testid=note-text]').value, c ? c.dataset.stage : '', c ? c.dataset.lane : ''];"
        );
        match self.script(&js).await? {
            Value::Null => Ok(None),
            value => {
                let [text, stage, lane]: [String; 3] = serde_json::from_value(value)?;
                Ok(Some((text, stage, lane)))
            }
        }
    }

    /// Waits until note `id` shows `text` in cell (`stage`, `lane`).
    pub async fn wait_for_note(&self, id: &str, text: &str, stage: &str, lane: &str) -> Result<()> {
        let expected = Some((text.to_string(), stage.to_string(), lane.to_string()));
        self.wait_until(
            &format!("note {id} = {expected:?}"),
            LIVE_PATIENCE,
            async |p| Ok(p.note(id).await? == expected),
        )
        .await
    }

    /// Waits until note `id` is gone from the page.
    pub async fn wait_for_no_note(&self, id: &str) -> Result<()> {
        self.wait_until(&format!("note {id} gone"), LIVE_PATIENCE, async |p| {
            Ok(p.note(id).await?.is_none())
        })
        .await
    }

    fn cell_selector(stage: &str, lane: &str) -> String {
        format!("[data-testid=cell][data-stage=\"{stage}\"][data-lane=\"{lane}\"]")
    }

    /// Clicks the "+" of a cell, types `text` into the new note, and returns its id.
    pub async fn add_note(&self, stage: &str, lane: &str, text: &str) -> Result<String> {
        let before = self.note_ids().await?;
        let selector = Self::cell_selector(stage, lane);
        let cell = self
            .client
            .find(Locator::Css(&selector))
            .await
            .context("cell")?;
        // Centre it first: sticky headers must not cover the button.
        self.script(&format!(
            "document.querySelector('{}').scrollIntoView({{block: 'center', inline: 'center'}})",
            selector.replace('\'', "\\'")
        ))
        .await?;
        cell.find(Locator::Css("[data-testid=add-note]"))
            .await?
            .click()
            .await?;
        let mut id = None;
        self.wait_until("the new note", LIVE_PATIENCE, async |p| {
            id = p
                .note_ids()
                .await?
                .into_iter()
                .find(|n| !before.contains(n));
            Ok(id.is_some())
        })
        .await?;
        let id = id.ok_or_else(|| anyhow!("no new note"))?;
        // The new note's text field has the focus: type as a person would.
        self.wait_until("the new note's field to have focus", LIVE_PATIENCE, async |p| {
            Ok(p.script(&format!("return document.activeElement && document.activeElement.closest('[data-id=\"{id}\"]') !== null")).await? == Value::Bool(true))
        })
        .await?;
        self.client.active_element().await?.send_keys(text).await?;
        Ok(id)
    }

    /// Clicks into note `id`'s text, at its end, and types `text`.
    pub async fn type_into_note(&self, id: &str, text: &str) -> Result<()> {
        let field = self.note_field(id).await?;
        // Centre it first: sticky headers must not cover the point clicked.
        self.script(&format!(
            "document.querySelector('[data-testid=note][data-id=\"{id}\"]').scrollIntoView({{block: 'center', inline: 'center'}})"
        ))
        .await?;
        field.click().await?;
        self.script(&format!(
            "const t = document.querySelector('[data-testid=note][data-id=\"{id}\"] [data-testid=note-text]'); t.setSelectionRange(t.value.length, t.value.length);"
        ))
        .await?;
        field.send_keys(text).await?;
        Ok(())
    }

    async fn note_field(&self, id: &str) -> Result<fantoccini::elements::Element> {
        self.client
            .find(Locator::Css(&format!(
                "[data-testid=note][data-id=\"{id}\"] [data-testid=note-text]"
            )))
            .await
            .with_context(|| format!("note {id}"))
    }

    /// Focuses note `id` itself (not its text) and presses `keys` there.
    pub async fn press_on_note(&self, id: &str, keys: &str) -> Result<()> {
        self.script(&format!(
            "document.querySelector('[data-testid=note][data-id=\"{id}\"]').focus()"
        ))
        .await?;
        self.client.active_element().await?.send_keys(keys).await?;
        Ok(())
    }

    /// Drags note `id` onto cell (`stage`, `lane`) with the browser's drag events.
    pub async fn drag_note(&self, id: &str, stage: &str, lane: &str) -> Result<()> {
        let js = format!(
            "const note = document.querySelector('[data-testid=note][data-id=\"{id}\"]');
             const cell = document.querySelector('{}');
             const dt = new DataTransfer();
             note.dispatchEvent(new DragEvent('dragstart', {{bubbles: true, dataTransfer: dt}}));
             cell.dispatchEvent(new DragEvent('dragover', {{bubbles: true, cancelable: true, dataTransfer: dt}}));
             cell.dispatchEvent(new DragEvent('drop', {{bubbles: true, cancelable: true, dataTransfer: dt}}));
             note.dispatchEvent(new DragEvent('dragend', {{bubbles: true, dataTransfer: dt}}));",
            Self::cell_selector(stage, lane).replace('\'', "\\'")
        );
        self.script(&js).await?;
        Ok(())
    }

    /// Chooses a colour in note `id`'s colour menu.
    pub async fn set_note_color(&self, id: &str, color: &str) -> Result<()> {
        let select = self
            .client
            .find(Locator::Css(&format!(
                "[data-testid=note][data-id=\"{id}\"] [data-testid=note-color]"
            )))
            .await?;
        select.select_by_value(color).await?;
        Ok(())
    }

    /// The CSS classes of note `id`.
    pub async fn note_class(&self, id: &str) -> Result<String> {
        let value = self
            .script(&format!(
                "return document.querySelector('[data-testid=note][data-id=\"{id}\"]').className"
            ))
            .await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// Clicks note `id`'s delete button.
    pub async fn delete_note(&self, id: &str) -> Result<()> {
        self.client
            .find(Locator::Css(&format!(
                "[data-testid=note][data-id=\"{id}\"] [data-testid=note-delete]"
            )))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// The names in the presence bar.
    pub async fn presence(&self) -> Result<Vec<String>> {
        let value = self
            .script("return [...document.querySelectorAll('[data-testid=presence-user]')].map(p => p.textContent.trim())")
            .await?;
        Ok(serde_json::from_value(value)?)
    }

    /// Clicks the first element with this test id.
    pub async fn click(&self, testid: &str) -> Result<()> {
        self.by_testid(testid).await?.click().await?;
        Ok(())
    }

    /// The value of an attribute of the first element with this test id.
    pub async fn attr_of(&self, testid: &str, attr: &str) -> Result<Option<String>> {
        Ok(self.by_testid(testid).await?.attr(attr).await?)
    }
}
