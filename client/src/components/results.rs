//! The iteration phase's results: dot voting (settings and my remaining dots), the ranked
//! pain points and opportunities, action items with owners and dates, and the have / need
//! resources list.

use super::board_page::BoardCtx;
use journeyboard_shared::schema::key;
use journeyboard_shared::{ActionItem, LaneKind, ResourceKind};
use leptos::prelude::*;

#[component]
pub fn Results() -> impl IntoView {
    view! {
        <section class="results" aria-label="Results">
            <Voting/>
            <Ranking/>
            <ActionItems/>
            <Resources/>
        </section>
    }
}

#[component]
fn Voting() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let settings = state.settings;
    let open = move || settings.with(|s| s.voting_open);
    let used = move || state.my_votes.with(|v| v.values().sum::<u32>());
    let remaining = move || settings.with(|s| s.vote_dots).saturating_sub(used());
    view! {
        <h2>"Dot voting"</h2>
        <p data-testid="voting-status" data-open=move || open().to_string()>
            {move || if open() {
                format!("Voting is open: you have {} of {} dots left. Click ● on a note to place a dot.", remaining(), settings.with(|s| s.vote_dots))
            } else if state.votes.with(|v| v.is_empty()) {
                "Voting has not started.".to_string()
            } else {
                "Voting is closed: the results are below.".to_string()
            }}
        </p>
        <Show when=move || ctx.can_edit_structure()>
            <div class="facilitator-tools">
                <label>"Dots per person "
                    <input type="number" min="1" max="50" data-testid="vote-dots" aria-label="Dots per person"
                        prop:value=move || settings.with(|s| s.vote_dots).to_string()
                        on:change=move |ev| {
                            if let Ok(n) = event_target_value(&ev).parse::<u32>() {
                                ctx.set_setting(key::VOTE_DOTS, n.clamp(1, 50) as f64)
                            }
                        }/>
                </label>
                <fieldset class="vote-lanes">
                    <legend>"Lanes that can be voted (none ticked: all)"</legend>
                    <For each=move || state.lanes.get() key=|l| l.id.clone() let:lane>
                        <VoteLaneToggle id=lane.id.clone() title=lane.title.clone()/>
                    </For>
                </fieldset>
                {move || if open() {
                    view! { <button type="button" data-testid="close-voting" on:click=move |_| ctx.set_setting(key::VOTING_OPEN, false)>"Close voting and show results"</button> }.into_any()
                } else {
                    view! { <button type="button" data-testid="open-voting" on:click=move |_| ctx.set_setting(key::VOTING_OPEN, true)>"Open voting"</button> }.into_any()
                }}
            </div>
        </Show>
    }
}

#[component]
fn VoteLaneToggle(id: String, title: String) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let check_id = id.clone();
    view! {
        <label class="toggle">
            <input type="checkbox" prop:checked=move || ctx.state.settings.with(|s| s.vote_lanes.contains(&check_id))
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    let mut lanes = ctx.state.settings.with_untracked(|s| s.vote_lanes.clone());
                    lanes.retain(|l| *l != id);
                    if on {
                        lanes.push(id.clone());
                    }
                    ctx.edit(|view, txn| view.set_setting_list(txn, key::VOTE_LANES, &lanes));
                }/>
            {title}
        </label>
    }
}

/// The top-voted pain points and opportunities.
#[component]
fn Ranking() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let ranked = Memo::new(move |_| {
        let lanes = state.lanes.get();
        let kind_of = |lane: &str| {
            lanes
                .iter()
                .find(|l| l.id == lane)
                .map(|l| l.kind.clone())
                .unwrap_or_default()
        };
        let totals = state.votes.get();
        let notes = state.notes.get();
        let mut ranked: Vec<(u32, String, String, String)> = totals
            .iter()
            .filter_map(|(id, votes)| {
                let note = notes.get(id)?.get();
                let kind = kind_of(&note.lane);
                let wanted = kind == LaneKind::PainPoints.as_str()
                    || kind == LaneKind::Opportunities.as_str();
                (wanted && *votes > 0).then(|| (*votes, note.text.clone(), kind, id.clone()))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        ranked
    });
    view! {
        <h2>"Top pain points and opportunities"</h2>
        <ol class="ranking" data-testid="ranking">
            <For each=move || ranked.get() key=|r| (r.3.clone(), r.0) let:row>
                <li data-testid="ranked-item" data-votes=row.0>
                    <span class="votes">{format!("{} ●", row.0)}</span>
                    <span class="kind">{if row.2 == "pain-points" { "Pain point" } else { "Opportunity" }}</span>
                    {row.1.clone()}
                </li>
            </For>
        </ol>
        <Show when=move || ranked.with(Vec::is_empty)>
            <p class="hint">"Close voting to rank the notes."</p>
        </Show>
    }
}

#[component]
fn ActionItems() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let add = move |_| {
        let item = ActionItem {
            id: uuid::Uuid::new_v4().to_string(),
            ..ActionItem::default()
        };
        ctx.edit(|view, txn| view.put_action_item(txn, &item));
    };
    view! {
        <h2>"Action items"</h2>
        <ul class="action-items" data-testid="action-items">
            <For each=move || state.actions.get() key=|a| a.id.clone() let:item>
                <ActionRow id=item.id/>
            </For>
        </ul>
        <Show when=move || ctx.can_write()>
            <button type="button" data-testid="add-action" on:click=add>"+ Action item"</button>
        </Show>
    }
}

#[component]
fn ActionRow(id: String) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let lookup = id.clone();
    let item = Memo::new(move |_| {
        state.actions.with(|all| {
            all.iter()
                .find(|a| a.id == lookup)
                .cloned()
                .unwrap_or_default()
        })
    });
    let readonly = move || !ctx.can_write();
    let set_id = id.clone();
    let set = move |field: &'static str, value: String| {
        ctx.edit(|view, txn| {
            view.set_action_field(txn, &set_id, field, &value);
        });
    };
    let (s1, s2, s3, s4) = (set.clone(), set.clone(), set.clone(), set.clone());
    let remove_id = id.clone();
    let note_options = move || {
        state.notes.with(|notes| {
            let mut options: Vec<(String, String)> = notes
                .iter()
                .map(|(id, n)| {
                    (
                        id.clone(),
                        n.with(|n| n.text.chars().take(40).collect::<String>()),
                    )
                })
                .filter(|(_, text)| !text.is_empty())
                .collect();
            options.sort_by(|a, b| a.1.cmp(&b.1));
            options
        })
    };
    view! {
        <li class="action-item" data-testid="action-item">
            <input type="text" aria-label="Action" placeholder="What will we do?" data-testid="action-text" readonly=readonly
                prop:value=move || item.with(|i| i.text.clone()) on:change=move |ev| s1(key::TEXT, event_target_value(&ev))/>
            <input type="text" aria-label="Owner" placeholder="Owner" data-testid="action-owner" readonly=readonly
                prop:value=move || item.with(|i| i.owner.clone()) on:change=move |ev| s2(key::OWNER, event_target_value(&ev))/>
            <input type="date" aria-label="Due date" data-testid="action-due" readonly=readonly
                prop:value=move || item.with(|i| i.due.clone()) on:change=move |ev| s3(key::DUE, event_target_value(&ev))/>
            <select aria-label="Linked note" disabled=readonly on:change=move |ev| s4(key::NOTE, event_target_value(&ev))>
                <option value="" selected=move || item.with(|i| i.note.is_empty())>"No linked note"</option>
                {move || note_options().into_iter().map(|(id, text)| {
                    let selected_id = id.clone();
                    view! { <option value=id selected=move || item.with(|i| i.note == selected_id)>{text}</option> }
                }).collect_view()}
            </select>
            <Show when=move || ctx.can_write()>
                <button type="button" class="danger" aria-label="Remove this action item"
                    on:click={ let id = remove_id.clone(); move |_| ctx.edit(|view, txn| { view.remove_action_item(txn, &id); }) }>"✕"</button>
            </Show>
        </li>
    }
}

#[component]
fn Resources() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let text = RwSignal::new(String::new());
    let kind = RwSignal::new(ResourceKind::Have);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = text.get_untracked().trim().to_string();
        if t.is_empty() {
            return;
        }
        let id = uuid::Uuid::new_v4().to_string();
        ctx.edit(|view, txn| view.put_resource(txn, &id, &t, kind.get_untracked()));
        text.set(String::new());
    };
    let list = move |k: ResourceKind| {
        let of_kind = move || {
            let mut items = state.resources.get();
            items.retain(|r| r.kind == k.as_str());
            items
        };
        view! {
            <ul class="resources" data-testid=format!("resources-{}", k.as_str())>
                <For each=of_kind key=|r| r.id.clone() let:r>
                    <li data-testid="resource">{r.text.clone()}
                        <Show when=move || ctx.can_write()>
                            <button type="button" class="note-delete" aria-label=format!("Remove {}", r.text)
                                on:click={ let id = r.id.clone(); move |_| ctx.edit(|view, txn| { view.remove_resource(txn, &id); }) }>"✕"</button>
                        </Show>
                    </li>
                </For>
            </ul>
        }
    };
    view! {
        <h2>"Resources"</h2>
        <div class="resource-columns">
            <div><h3>"We have"</h3>{list(ResourceKind::Have)}</div>
            <div><h3>"We need"</h3>{list(ResourceKind::Need)}</div>
        </div>
        <Show when=move || ctx.can_write()>
            <form class="resource-form" on:submit=add>
                <input type="text" aria-label="Resource" placeholder="A person, budget, tool…" data-testid="resource-text"
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                <select aria-label="Have or need" data-testid="resource-kind"
                    on:change=move |ev| kind.set(if event_target_value(&ev) == "need" { ResourceKind::Need } else { ResourceKind::Have })>
                    <option value="have">"We have"</option>
                    <option value="need">"We need"</option>
                </select>
                <button type="submit" data-testid="add-resource">"Add"</button>
            </form>
        </Show>
    }
}
