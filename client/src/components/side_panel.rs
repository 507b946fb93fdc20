//! The panel beside the grid: the warm-up area, persona cards, and results (votes ranking,
//! action items, resources). It opens on the tab of the current phase; every tab stays
//! reachable (phases gate tools, not data).

use super::board_page::BoardCtx;
use super::icebreaker::WarmUp;
use super::personas::Personas;
use super::results::Results;
use super::snapshots::Snapshots;
use journeyboard_shared::Phase;
use leptos::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tab {
    WarmUp,
    Personas,
    Results,
    Snapshots,
}

impl Tab {
    fn for_phase(phase: Phase) -> Tab {
        match phase {
            Phase::Icebreaker => Tab::WarmUp,
            Phase::Iteration => Tab::Results,
            _ => Tab::Personas,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::WarmUp => "Warm-up",
            Tab::Personas => "Personas",
            Tab::Results => "Results",
            Tab::Snapshots => "Snapshots",
        }
    }

    fn testid(self) -> &'static str {
        match self {
            Tab::WarmUp => "tab-warmup",
            Tab::Personas => "tab-personas",
            Tab::Results => "tab-results",
            Tab::Snapshots => "tab-snapshots",
        }
    }
}

#[component]
pub fn SidePanel() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let phase = Memo::new(move |_| {
        ctx.state
            .phase
            .get()
            .parse::<Phase>()
            .unwrap_or(Phase::Icebreaker)
    });
    let tab = RwSignal::new(Tab::for_phase(phase.get_untracked()));
    let open = RwSignal::new(true);
    // Follow the phase: a phase change opens its tab (the person may switch again).
    Effect::new(move |previous: Option<Phase>| {
        let now = phase.get();
        if previous.is_some_and(|p| p != now) {
            tab.set(Tab::for_phase(now));
            open.set(true);
        }
        now
    });
    view! {
        <aside class="side-panel" class:collapsed=move || !open.get() aria-label="Workshop panel">
            <div class="tabs" role="tablist">
                {[Tab::WarmUp, Tab::Personas, Tab::Results, Tab::Snapshots].into_iter().map(|t| view! {
                    <button type="button" role="tab" data-testid=t.testid()
                        aria-selected=move || (open.get() && tab.get() == t).to_string()
                        on:click=move |_| { tab.set(t); open.set(true); }>{t.label()}</button>
                }).collect_view()}
                <button type="button" class="collapse" aria-label=move || if open.get() { "Hide the panel" } else { "Show the panel" }
                    on:click=move |_| open.update(|o| *o = !*o)>{move || if open.get() { "⟩" } else { "⟨" }}</button>
            </div>
            <Show when=move || open.get()>
                <div class="tab-body" role="tabpanel">
                    {move || match tab.get() {
                        Tab::WarmUp => view! { <WarmUp/> }.into_any(),
                        Tab::Personas => view! { <Personas/> }.into_any(),
                        Tab::Results => view! { <Results/> }.into_any(),
                        Tab::Snapshots => view! { <Snapshots/> }.into_any(),
                    }}
                </div>
            </Show>
        </aside>
    }
}
