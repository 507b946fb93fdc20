//! The stages and lanes a new board starts with, per map type, taken from DOMAIN.md.
//! Ids are stable slugs so that boards made from one template line up (a future-state map made
//! from a current-state one keeps the same stage ids).

use crate::model::{LaneKind, Template};

/// A stage of a template: (id, title).
pub type StageSeed = (&'static str, &'static str);
/// A lane of a template: (id, title, kind).
pub type LaneSeed = (&'static str, &'static str, LaneKind);

/// The default journey (DOMAIN.md, "Stages").
const JOURNEY_STAGES: &[StageSeed] = &[
    ("awareness", "Awareness"),
    ("consideration", "Consideration"),
    ("purchase", "Purchase"),
    ("retention", "Retention"),
    ("advocacy", "Advocacy"),
];

/// A day in the life follows the customer's whole day, with or without the brand.
const DAY_STAGES: &[StageSeed] = &[
    ("morning", "Morning"),
    ("midday", "Midday"),
    ("afternoon", "Afternoon"),
    ("evening", "Evening"),
    ("night", "Night"),
];

/// The customer-facing lanes, in the order the articles give them.
const CUSTOMER_LANES: &[LaneSeed] = &[
    ("actions", "Actions", LaneKind::Actions),
    ("motivations", "Motivations", LaneKind::Motivations),
    ("thoughts", "Thoughts / questions", LaneKind::Thoughts),
    ("emotions", "Emotions", LaneKind::Emotions),
    ("touchpoints", "Touchpoints", LaneKind::Touchpoints),
    (
        "pain-points",
        "Pain points / barriers",
        LaneKind::PainPoints,
    ),
    ("love-points", "Love points", LaneKind::LovePoints),
    (
        "expectations",
        "Expectations vs experience",
        LaneKind::Expectations,
    ),
    ("opportunities", "Opportunities", LaneKind::Opportunities),
];

/// The service blueprint's backstage lanes.
const BACKSTAGE_LANES: &[LaneSeed] = &[
    ("processes", "Internal processes", LaneKind::Processes),
    ("roles", "Roles and owners", LaneKind::Roles),
    ("objectives", "Objectives", LaneKind::Objectives),
    ("kpis", "KPIs", LaneKind::Kpis),
    ("technology", "Technology systems", LaneKind::Technology),
    ("policies", "Policies", LaneKind::Policies),
];

/// The stages a board of this map type starts with.
pub fn stages(template: Template) -> &'static [StageSeed] {
    match template {
        Template::DayInTheLife => DAY_STAGES,
        _ => JOURNEY_STAGES,
    }
}

/// The lanes a board of this map type starts with.
pub fn lanes(template: Template) -> Vec<LaneSeed> {
    let mut lanes = CUSTOMER_LANES.to_vec();
    if template == Template::ServiceBlueprint {
        lanes.extend_from_slice(BACKSTAGE_LANES);
    }
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blueprint_adds_backstage_lanes_after_the_customer_ones() {
        let current = lanes(Template::CurrentState);
        let blueprint = lanes(Template::ServiceBlueprint);
        assert_eq!(current.len(), 9);
        assert_eq!(blueprint.len(), 15);
        assert_eq!(&blueprint[..9], &current[..]);
        assert!(blueprint[9..]
            .iter()
            .all(|(_, _, kind)| kind.is_backstage()));
    }

    #[test]
    fn day_in_the_life_walks_through_a_day() {
        assert_eq!(stages(Template::DayInTheLife)[0].1, "Morning");
        assert_eq!(stages(Template::FutureState)[2].1, "Purchase");
    }
}
