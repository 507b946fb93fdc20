//! Plain data types of a board, as read out of (or written into) its Y.Doc, and the small enums
//! (map type, phase, role) whose string forms are part of the public document schema.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An error parsing one of the schema's string enums; it names what it could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?}; expected one of: {}",
            self.what,
            self.value,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for ParseError {}

/// Declares a string-valued enum whose names are part of the document schema, with `as_str`,
/// `ALL`, `FromStr`, `Display` and serde in one place so the names cannot drift apart.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in their canonical order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const NAMES: &'static [&'static str] = &[$($text),+];

            /// The name used in the document and the HTTP API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(ParseError { what: $what, value: other.to_string(), expected: Self::NAMES }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// The map type a board was created from (DOMAIN.md, "Map types").
    Template, "template", {
        CurrentState => "current-state",
        DayInTheLife => "day-in-the-life",
        FutureState => "future-state",
        ServiceBlueprint => "service-blueprint",
    }
);

impl Template {
    /// A human label for menus and exports.
    pub fn label(self) -> &'static str {
        match self {
            Template::CurrentState => "Current state (as is)",
            Template::DayInTheLife => "Day in the life",
            Template::FutureState => "Future state (to be)",
            Template::ServiceBlueprint => "Service blueprint",
        }
    }
}

string_enum!(
    /// The workshop phase the facilitator has the team in (DOMAIN.md, "The workshop phases").
    Phase, "phase", {
        Icebreaker => "icebreaker",
        Persona => "persona",
        Touchpoints => "touchpoints",
        Walkthrough => "walkthrough",
        Iteration => "iteration",
    }
);

impl Phase {
    /// A human label for the phase bar.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Icebreaker => "Icebreaker",
            Phase::Persona => "Persona",
            Phase::Touchpoints => "Touchpoints",
            Phase::Walkthrough => "Walkthrough",
            Phase::Iteration => "Iteration",
        }
    }
}

string_enum!(
    /// What a board link lets its holder do.
    Role, "role", {
        /// Leads the workshop: everything a participant can, plus structure and phases.
        Facilitator => "facilitator",
        /// Adds, edits and moves notes.
        Participant => "participant",
        /// Watches live; changes nothing.
        Viewer => "viewer",
    }
);

impl Role {
    /// Whether this role may send document updates at all.
    pub fn can_write(self) -> bool {
        !matches!(self, Role::Viewer)
    }

    /// Whether this role may add, rename, reorder and remove stages and lanes.
    pub fn can_edit_structure(self) -> bool {
        matches!(self, Role::Facilitator)
    }
}

string_enum!(
    /// What kind of information a lane (row) holds (DOMAIN.md, "Lanes").
    LaneKind, "lane kind", {
        Actions => "actions",
        Motivations => "motivations",
        Thoughts => "thoughts",
        Emotions => "emotions",
        Touchpoints => "touchpoints",
        PainPoints => "pain-points",
        LovePoints => "love-points",
        Expectations => "expectations",
        Opportunities => "opportunities",
        Processes => "processes",
        Roles => "roles",
        Objectives => "objectives",
        Kpis => "kpis",
        Technology => "technology",
        Policies => "policies",
        Custom => "custom",
    }
);

impl LaneKind {
    /// Backstage lanes belong to the service blueprint: what the customer does not see.
    pub fn is_backstage(self) -> bool {
        matches!(
            self,
            LaneKind::Processes
                | LaneKind::Roles
                | LaneKind::Objectives
                | LaneKind::Kpis
                | LaneKind::Technology
                | LaneKind::Policies
        )
    }
}

string_enum!(
    /// Sticky-note colours; the names are CSS classes in the client.
    NoteColor, "note colour", {
        Yellow => "yellow",
        Pink => "pink",
        Blue => "blue",
        Green => "green",
        Orange => "orange",
        Purple => "purple",
    }
);

/// A journey stage (a column of the grid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub title: String,
}

/// A lane (a row of the grid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    pub id: String,
    pub title: String,
    /// A [`LaneKind`] name; unknown kinds written by other clients are kept as they are.
    pub kind: String,
}

/// A sticky note, read out of the document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: String,
    pub text: String,
    pub stage: String,
    pub lane: String,
    pub color: String,
    pub author: String,
    /// The author's public id (see `identity`); empty for notes of anonymous clients.
    pub author_id: String,
    /// `grid` (in a cell) or `icebreaker` (the warm-up area outside the grid).
    pub area: String,
    /// Touchpoint channel ([`Channel`] name), for notes in a touchpoints lane; else empty.
    pub channel: String,
    /// `used` (today) or `intended`, for touchpoint notes; else empty.
    pub touchpoint: String,
    /// Milliseconds since the Unix epoch (a JS `Date.now()`).
    pub created_at: f64,
}

/// What a new note needs; the id and timestamp come from the caller (the shared crate has no
/// clock, so it runs unchanged in the browser).
#[derive(Debug, Clone, PartialEq)]
pub struct NewNote {
    pub id: String,
    pub text: String,
    pub stage: String,
    pub lane: String,
    pub color: NoteColor,
    pub author: String,
    pub created_at: f64,
    pub author_id: String,
    pub area: NoteArea,
}

impl Default for NewNote {
    fn default() -> Self {
        NewNote {
            id: String::new(),
            text: String::new(),
            stage: String::new(),
            lane: String::new(),
            color: NoteColor::Yellow,
            author: String::new(),
            created_at: 0.0,
            author_id: String::new(),
            area: NoteArea::Grid,
        }
    }
}

string_enum!(
    /// Where a note lives.
    NoteArea, "note area", {
        /// In a cell of the journey grid.
        Grid => "grid",
        /// In the icebreaker's warm-up area, outside the grid.
        Icebreaker => "icebreaker",
    }
);

string_enum!(
    /// Where a customer meets the brand (DOMAIN.md, "Touchpoints").
    Channel, "channel", {
        Website => "website",
        App => "app",
        Email => "email",
        Phone => "phone",
        InPerson => "in-person",
        Social => "social",
        PaidAds => "paid-ads",
        Reviews => "reviews",
        Other => "other",
    }
);

impl Channel {
    pub fn label(self) -> &'static str {
        match self {
            Channel::Website => "Website",
            Channel::App => "App",
            Channel::Email => "E-mail",
            Channel::Phone => "Phone",
            Channel::InPerson => "In person",
            Channel::Social => "Social",
            Channel::PaidAds => "Paid ads",
            Channel::Reviews => "Review sites and mentions",
            Channel::Other => "Other",
        }
    }
}

string_enum!(
    /// Whether customers use a touchpoint today or the team intends them to.
    TouchpointStatus, "touchpoint status", {
        Used => "used",
        Intended => "intended",
    }
);

/// A persona card (DOMAIN.md, "Personas").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persona {
    pub id: String,
    pub name: String,
    /// An emoji or initials shown as the photo.
    pub avatar: String,
    pub role: String,
    pub demographics: String,
    pub way_of_life: String,
    pub goals: String,
    pub motivations: String,
    pub frustrations: String,
    pub quote: String,
    /// What the research (interviews, surveys, analytics) said about this persona. Exports
    /// made before the field existed lack it.
    #[serde(default)]
    pub research: String,
}

/// An action item decided in the iteration phase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItem {
    pub id: String,
    pub text: String,
    pub owner: String,
    /// A date, `YYYY-MM-DD`, or empty.
    pub due: String,
    /// The id of the note it answers, or empty.
    pub note: String,
}

string_enum!(
    /// A resource the team has, or needs.
    ResourceKind, "resource kind", {
        Have => "have",
        Need => "need",
    }
);

/// A resource of the iteration phase's have / need list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub text: String,
    /// `have` or `need`.
    pub kind: String,
}

/// The facilitator's settings for the workshop, kept in the `board` map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkshopSettings {
    pub goals: String,
    pub kpis: String,
    /// When the current time box ends (ms since the epoch), if one is running.
    pub timer_deadline: Option<f64>,
    /// The time box's length in ms (shown while stopped).
    pub timer_duration: f64,
    /// Reveal private notes when the time box ends.
    pub timer_reveal: bool,
    /// New icebreaker notes are private to their author until revealed.
    pub private_mode: bool,
    /// The stage the walkthrough is at, if it is running.
    pub walkthrough_stage: Option<String>,
    pub voting_open: bool,
    /// Dots each person may place.
    pub vote_dots: u32,
    /// Lanes whose notes can be voted on (empty: all).
    pub vote_lanes: Vec<String>,
    /// Nobody but facilitators may change anything.
    pub locked: bool,
    /// Lanes nobody but facilitators may change.
    pub locked_lanes: Vec<String>,
    /// The main persona's id, if chosen.
    pub main_persona: Option<String>,
}

/// A board at a glance, as `GET /api/boards/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardSummary {
    pub id: String,
    pub title: String,
    pub template: String,
    pub phase: String,
    pub stages: usize,
    pub lanes: usize,
    pub notes: usize,
    pub connected: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_enums_round_trip_and_reject_unknown_names() {
        for t in Template::ALL {
            assert_eq!(t.as_str().parse::<Template>().unwrap(), *t);
        }
        let err = "kanban".parse::<Template>().unwrap_err();
        assert!(err.to_string().contains("current-state"), "{err}");
    }

    #[test]
    fn roles_gate_writing_and_structure() {
        assert!(Role::Facilitator.can_write() && Role::Facilitator.can_edit_structure());
        assert!(Role::Participant.can_write() && !Role::Participant.can_edit_structure());
        assert!(!Role::Viewer.can_write() && !Role::Viewer.can_edit_structure());
    }

    #[test]
    fn backstage_lanes_are_the_blueprint_ones() {
        assert!(LaneKind::Processes.is_backstage());
        assert!(!LaneKind::PainPoints.is_backstage());
    }
}
