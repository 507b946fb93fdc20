//! Persona cards: who the map follows. A board has one main persona (chosen by the
//! facilitator) and may hold more; the persona phase's prompts are the research questions.

use super::board_page::BoardCtx;
use journeyboard_shared::schema::key;
use journeyboard_shared::Persona;
use leptos::prelude::*;

/// The card's fields: (document key, label, multi-line).
const FIELDS: &[(&str, &str, bool)] = &[
    (key::ROLE, "Role / segment", false),
    (key::DEMOGRAPHICS, "Demographics", true),
    (key::WAY_OF_LIFE, "Way of life, tastes, needs", true),
    (key::GOALS, "Goals", true),
    (key::MOTIVATIONS, "Motivations", true),
    (key::FRUSTRATIONS, "Frustrations", true),
    (key::QUOTE, "In their words (a quote)", true),
    (key::RESEARCH, "What the research said", true),
];

#[component]
pub fn Personas() -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let add = move |_| {
        let persona = Persona {
            id: uuid::Uuid::new_v4().to_string(),
            name: "New persona".into(),
            avatar: "🙂".into(),
            ..Persona::default()
        };
        let first = state.personas.with_untracked(Vec::is_empty);
        ctx.edit(|view, txn| view.put_persona(txn, &persona));
        if first && ctx.can_edit_structure() {
            ctx.set_setting(key::MAIN_PERSONA, persona.id.as_str());
        }
    };
    let ordered = move || {
        let main = state.settings.with(|s| s.main_persona.clone());
        let mut personas = state.personas.get();
        personas.sort_by_key(|p| Some(&p.id) != main.as_ref());
        personas
    };
    view! {
        <section class="personas" data-testid="personas" aria-label="Personas">
            <p class="hint">"One map follows one persona. Start with the most common customer; fill the card from data and the research questions."</p>
            <For each=ordered key=|p| p.id.clone() let:persona>
                <PersonaCard id=persona.id/>
            </For>
            <Show when=move || ctx.can_write()>
                <button type="button" data-testid="add-persona" on:click=add>"+ Persona"</button>
            </Show>
        </section>
    }
}

#[component]
fn PersonaCard(id: String) -> impl IntoView {
    let ctx = expect_context::<BoardCtx>();
    let state = ctx.state;
    let lookup = id.clone();
    let persona = Memo::new(move |_| {
        state.personas.with(|all| {
            all.iter()
                .find(|p| p.id == lookup)
                .cloned()
                .unwrap_or_default()
        })
    });
    let main_id = id.clone();
    let is_main = move || {
        state
            .settings
            .with(|s| s.main_persona.as_deref() == Some(main_id.as_str()))
    };
    let field_value = move |field: &str| {
        persona.with(|p| match field {
            key::NAME => p.name.clone(),
            key::AVATAR => p.avatar.clone(),
            key::ROLE => p.role.clone(),
            key::DEMOGRAPHICS => p.demographics.clone(),
            key::WAY_OF_LIFE => p.way_of_life.clone(),
            key::GOALS => p.goals.clone(),
            key::MOTIVATIONS => p.motivations.clone(),
            key::FRUSTRATIONS => p.frustrations.clone(),
            key::RESEARCH => p.research.clone(),
            _ => p.quote.clone(),
        })
    };
    let readonly = move || !ctx.can_write();
    let set_id = id.clone();
    let set = move |field: &'static str, value: String| {
        ctx.edit(|view, txn| {
            view.set_persona_field(txn, &set_id, field, &value);
        });
    };
    let make_main_id = id.clone();
    let remove_id = id.clone();
    view! {
        <article class="persona card" class:main=is_main.clone() data-testid="persona" data-id=id.clone()>
            <header class="persona-head">
                <input class="persona-avatar" type="text" maxlength="4" aria-label="Photo (emoji or initials)"
                    readonly=readonly prop:value=move || field_value(key::AVATAR)
                    on:change={ let set = set.clone(); move |ev| set(key::AVATAR, event_target_value(&ev)) }/>
                <input class="persona-name" type="text" maxlength="80" aria-label="Persona name" data-testid="persona-name"
                    readonly=readonly prop:value=move || field_value(key::NAME)
                    on:change={ let set = set.clone(); move |ev| set(key::NAME, event_target_value(&ev)) }/>
                {
                    let is_main = is_main.clone();
                    move || if is_main() {
                        view! { <span class="badge" data-testid="main-persona">"Main persona"</span> }.into_any()
                    } else if ctx.can_edit_structure() {
                        let id = make_main_id.clone();
                        view! { <button type="button" class="link" on:click=move |_| ctx.set_setting(key::MAIN_PERSONA, id.as_str())>"Make main"</button> }.into_any()
                    } else {
                        ().into_any()
                    }
                }
            </header>
            {FIELDS.iter().map(|(field, label, multiline)| {
                let field: &'static str = field;
                let set = set.clone();
                let input_id = format!("persona-{}-{field}", id);
                view! {
                    <label for=input_id.clone()>{*label}</label>
                    {if *multiline {
                        view! {
                            <textarea id=input_id rows="2" readonly=readonly prop:value=move || field_value(field)
                                on:change=move |ev| set(field, event_target_value(&ev))></textarea>
                        }.into_any()
                    } else {
                        view! {
                            <input id=input_id type="text" readonly=readonly prop:value=move || field_value(field)
                                on:change=move |ev| set(field, event_target_value(&ev))/>
                        }.into_any()
                    }}
                }
            }).collect_view()}
            <Show when=move || ctx.can_write()>
                <button type="button" class="danger" aria-label="Remove this persona"
                    on:click={ let id = remove_id.clone(); move |_| ctx.edit(|view, txn| { view.remove_persona(txn, &id); }) }>"Remove"</button>
            </Show>
        </article>
    }
}
