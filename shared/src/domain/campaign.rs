//! Campaigns: when a person qualifies (the trigger) and what they then get (one message,
//! optionally after a delay). Later steps (waits, branches, goals) extend `Campaign`.

use super::event::Event;
use super::ids::{CampaignId, EventName};
pub use crate::render::MessageTemplate;
use chrono::Duration;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A `track` of this event name.
    Event(EventName),
}

/// Transactional mail (receipts, password resets) is sent even to people who unsubscribed
/// from marketing; marketing mail is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageClass {
    Transactional,
    Marketing,
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: CampaignId,
    pub name: String,
    pub trigger: Trigger,
    /// How long after the trigger the message goes out (zero: at once).
    pub delay: Duration,
    pub class: MessageClass,
    pub template: MessageTemplate,
}

impl Campaign {
    /// The one step a campaign has today; part of every dedup key, so it must stay stable.
    pub const SEND_STEP: &'static str = "send";

    pub fn is_triggered_by(&self, event: &Event) -> bool {
        match &self.trigger {
            Trigger::Event(name) => event.is_track_of(name),
        }
    }
}

/// The campaigns in force, looked up by id when a job comes back for sending.
#[derive(Debug, Clone, Default)]
pub struct CampaignSet {
    campaigns: Vec<Campaign>,
}

impl CampaignSet {
    pub fn new(campaigns: Vec<Campaign>) -> Self {
        Self { campaigns }
    }

    pub fn get(&self, id: &CampaignId) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| &c.id == id)
    }

    pub fn triggered_by<'a>(&'a self, event: &'a Event) -> impl Iterator<Item = &'a Campaign> + 'a {
        self.campaigns.iter().filter(move |c| c.is_triggered_by(event))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.iter()
    }
}

/// The campaigns every deployment starts with: a welcome on `signed_up`, and getting-started
/// tips a day later. Campaign files replace these once campaigns are configurable.
pub fn builtin_campaigns() -> CampaignSet {
    let welcome = Campaign {
        id: CampaignId::parse("welcome").expect("valid id"),
        name: "Welcome".into(),
        trigger: Trigger::Event(EventName::parse("signed_up").expect("valid name")),
        delay: Duration::zero(),
        class: MessageClass::Transactional,
        template: MessageTemplate::parse(
            "Welcome to {{ company }}, {% if person.first_name %}{{ person.first_name }}{% else %}friend{% endif %}!",
            include_str!("../../templates/welcome.html.liquid"),
            include_str!("../../templates/welcome.txt.liquid"),
        )
        .expect("built-in welcome template parses"),
    };
    let tips = Campaign {
        id: CampaignId::parse("getting-started").expect("valid id"),
        name: "Getting started tips (1 day after signup)".into(),
        trigger: Trigger::Event(EventName::parse("signed_up").expect("valid name")),
        delay: Duration::days(1),
        class: MessageClass::Marketing,
        template: MessageTemplate::parse(
            "{% if person.first_name %}{{ person.first_name }}{% else %}Hi{% endif %}, three things to try in {{ company }}",
            include_str!("../../templates/getting-started.html.liquid"),
            include_str!("../../templates/getting-started.txt.liquid"),
        )
        .expect("built-in getting-started template parses"),
    };
    CampaignSet::new(vec![welcome, tips])
}
