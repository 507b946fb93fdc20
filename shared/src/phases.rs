//! What each workshop phase is for and what the facilitator asks in it (DOMAIN.md, "The
//! workshop phases"), shown in the phase bar.

use crate::model::Phase;

/// The research questions the articles suggest asking customers (persona phase prompts).
pub const RESEARCH_QUESTIONS: &[&str] = &[
    "How did you hear about us? What drew you to our website?",
    "What comes to mind when you think of our brand?",
    "How do you use our product, and how often?",
    "What goals do you want to reach with us?",
    "Have you bought from us? If so, what made you decide?",
    "Did you ever mean to buy and then not? What stopped you?",
    "On a scale of 1 to 10, how easy is our site to use?",
    "What could we do to improve your experience, or to make buying and using simpler?",
];

impl Phase {
    /// The phase's goal, in a sentence.
    pub fn goal(self) -> &'static str {
        match self {
            Phase::Icebreaker => "Warm up, and agree on the session's goals and the KPIs to watch.",
            Phase::Persona => "Decide who the target customer is, and build empathy from data.",
            Phase::Touchpoints => {
                "List every place the customer meets the brand: used today, and intended."
            }
            Phase::Walkthrough => {
                "Walk the journey stage by stage as the customer would; score emotions, note barriers."
            }
            Phase::Iteration => {
                "Vote on what matters most, then decide actions, owners and resources."
            }
        }
    }

    /// Questions that keep the phase moving.
    pub fn prompts(self) -> &'static [&'static str] {
        match self {
            Phase::Icebreaker => &[
                "What problem brings us here (churn, buying patterns, a launch)?",
                "Which measurable goals and KPIs tell us we succeeded?",
                "Warm-up: describe your last great (or awful) customer experience in one note.",
            ],
            Phase::Persona => RESEARCH_QUESTIONS,
            Phase::Touchpoints => &[
                "Where does the customer meet us at each stage: website, app, e-mail, phone, in person, social, ads, reviews?",
                "Which touchpoints do they use today, and which do we intend them to use?",
                "Fewer touchpoints than expected? Is something too complex, or driving them out?",
            ],
            Phase::Walkthrough => &[
                "What does the customer do, think and feel at this stage?",
                "What stops them from moving to the next stage?",
                "Does the map answer the questions we asked before mapping (how to make buying easier, how many bounce)?",
            ],
            Phase::Iteration => &[
                "Which pain points and opportunities matter most? Place your dots.",
                "What will we change, who owns it, and by when?",
                "Which resources do we have, and which do we need? When do we review the map again?",
            ],
        }
    }

    /// The next phase, if any.
    pub fn next(self) -> Option<Phase> {
        let i = Phase::ALL.iter().position(|p| *p == self)?;
        Phase::ALL.get(i + 1).copied()
    }

    /// The previous phase, if any.
    pub fn previous(self) -> Option<Phase> {
        let i = Phase::ALL.iter().position(|p| *p == self)?;
        i.checked_sub(1).map(|i| Phase::ALL[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_run_in_order_and_the_persona_phase_asks_the_research_questions() {
        assert_eq!(Phase::Icebreaker.next(), Some(Phase::Persona));
        assert_eq!(Phase::Iteration.next(), None);
        assert_eq!(Phase::Persona.previous(), Some(Phase::Icebreaker));
        assert_eq!(Phase::Icebreaker.previous(), None);
        assert_eq!(Phase::Persona.prompts().len(), 8);
        assert!(Phase::ALL.iter().all(|p| !p.goal().is_empty()));
    }
}
