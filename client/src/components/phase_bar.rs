//! The phase bar: where the workshop is (phase, goal, prompts), the shared time box, and the
//! facilitator's controls for phases, the timer, private mode and the board lock.

use super::board_page::BoardCtx;
use super::emotions::WalkthroughBar;
use journeyboard_shared::schema::key;
use journeyboard_shared::Phase;
use leptos::prelude::*;

/// How often the countdown redraws.
const TICK_MS: u64 = 250;

#[component]
pub fn PhaseBar() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let phase = Memo::new(move |_| {
        state
            .phase
            .get()
            .parse::<Phase>()
            .unwrap_or(Phase::Icebreaker)
    });
    let prompts_open = RwSignal::new(false);
    // A new phase gets a fresh time box: the last phase's countdown (or "time's up") ends.
    // Leaving the walkthrough ends it too, or its stage stays highlighted for everyone.
    let go = move |to: Option<Phase>| {
        if let Some(to) = to {
            ctx.edit(|view, txn| {
                view.set_phase(txn, to);
                view.set_setting(txn, key::TIMER_DEADLINE, yrs::Any::Null);
                if to != Phase::Walkthrough {
                    view.set_setting(txn, key::WALKTHROUGH_STAGE, "");
                }
            });
        }
    };
    view! {
        <section class="phase-bar" data-testid="phase-bar" aria-label="Workshop phase">
            <ol class="phases">
                {Phase::ALL.iter().map(|p| {
                    let p = *p;
                    view! {
                        <li class:current=move || phase.get() == p
                            aria-current=move || (phase.get() == p).then_some("step")>
                            {move || if ctx.can_edit_structure() {
                                view! {
                                    <button type="button" class="phase-step" data-testid="phase-step" data-phase=p.as_str()
                                        on:click=move |_| go(Some(p))>{p.label()}</button>
                                }.into_any()
                            } else {
                                view! { <span class="phase-step">{p.label()}</span> }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ol>
            <div class="phase-info">
                <p class="phase-goal">
                    <strong data-testid="current-phase" data-phase=move || phase.get().as_str()>{move || phase.get().label()}</strong>
                    ": " {move || phase.get().goal()}
                </p>
                <button type="button" class="link" aria-expanded=move || prompts_open.get().to_string()
                    data-testid="prompts-toggle"
                    on:click=move |_| prompts_open.update(|o| *o = !*o)>
                    {move || if prompts_open.get() { "Hide prompts" } else { "Show prompts" }}
                </button>
                <Show when=move || ctx.can_edit_structure()>
                    <div class="phase-nav">
                        <button type="button" data-testid="phase-prev" aria-label="Previous phase"
                            disabled=move || phase.get().previous().is_none()
                            on:click=move |_| go(phase.get_untracked().previous())>"◀ Back"</button>
                        <button type="button" data-testid="phase-next" aria-label="Next phase"
                            disabled=move || phase.get().next().is_none()
                            on:click=move |_| go(phase.get_untracked().next())>"Next ▶"</button>
                    </div>
                </Show>
                <Timer/>
                <Show when=move || ctx.can_edit_structure()>
                    <label class="toggle">
                        <input type="checkbox" data-testid="lock-board"
                            prop:checked=move || state.settings.with(|s| s.locked)
                            on:change=move |ev| ctx.set_setting(key::LOCKED, event_target_checked(&ev))/>
                        "Lock board"
                    </label>
                </Show>
            </div>
            <Show when=move || prompts_open.get()>
                <ul class="prompts" data-testid="prompts">
                    {move || phase.get().prompts().iter().map(|q| view! { <li>{*q}</li> }).collect_view()}
                </ul>
            </Show>
            <WalkthroughBar/>
        </section>
    }
}

/// The shared time box: a countdown to `timer_deadline` on the server's clock.
#[component]
fn Timer() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let now = RwSignal::new(ctx.now());
    let tick = set_interval_with_handle(
        move || now.set(ctx.now()),
        std::time::Duration::from_millis(TICK_MS),
    )
    .ok();
    on_cleanup(move || {
        if let Some(handle) = tick {
            handle.clear();
        }
    });
    let minutes = RwSignal::new(5.0_f64);
    let remaining = move || {
        state
            .settings
            .with(|s| s.timer_deadline)
            .map(|deadline| (deadline - now.get()).max(0.0))
    };
    let finished = move || remaining() == Some(0.0);
    let shown = move || {
        let ms = remaining().unwrap_or_else(|| state.settings.with(|s| s.timer_duration));
        let secs = (ms / 1000.0).ceil() as i64;
        format!("{}:{:02}", secs / 60, secs % 60)
    };
    let start = move |_| {
        let duration = (minutes.get_untracked().clamp(0.1, 180.0) * 60_000.0).round();
        let deadline = ctx.now() + duration;
        ctx.edit(|view, txn| {
            view.set_setting(txn, key::TIMER_DURATION, duration);
            view.set_setting(txn, key::TIMER_DEADLINE, deadline);
        });
    };
    let stop = move |_| ctx.set_setting(key::TIMER_DEADLINE, yrs::Any::Null);
    view! {
        <div class="timer" class:finished=finished class:running=move || remaining().is_some_and(|r| r > 0.0)>
            <span class="timer-display" data-testid="timer" role="timer"
                data-state=move || match remaining() { None => "stopped", Some(r) if r > 0.0 => "running", _ => "finished" }
                aria-label=move || format!("Time box {}", shown())>{shown}</span>
            <span class="timer-done" role="alert">{move || finished().then_some("Time's up!")}</span>
            <Show when=move || ctx.can_edit_structure()>
                <label class="timer-minutes">
                    <span class="visually-hidden">"Minutes"</span>
                    <input type="number" min="0.5" max="180" step="0.5" data-testid="timer-minutes"
                        aria-label="Time box minutes"
                        value=minutes.get_untracked().to_string()
                        on:input=move |ev| {
                            if let Ok(m) = event_target_value(&ev).parse() {
                                minutes.set(m)
                            }
                        }/>
                    " min"
                </label>
                {move || if remaining().is_some() {
                    view! { <button type="button" data-testid="timer-stop" on:click=stop>"Stop"</button> }.into_any()
                } else {
                    view! { <button type="button" data-testid="timer-start" on:click=start>"Start time box"</button> }.into_any()
                }}
            </Show>
        </div>
    }
}
