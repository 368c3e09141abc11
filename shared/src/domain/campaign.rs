//! Campaigns: when a person qualifies (the trigger) and what they then get (one message,
//! optionally after a delay). Later steps (waits, branches, goals) extend `Campaign`.

use super::event::Event;
use super::ids::{CampaignId, EventName, TemplateName, Topic};
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
    /// Marketing mail's subscription topic: what its unsubscribe link leaves. `None`: the
    /// link unsubscribes from all marketing email.
    pub topic: Option<Topic>,
    /// The template the message is rendered from (its newest version at send time).
    pub template: TemplateName,
}

impl Campaign {
    /// The one step a campaign has today; part of every dedup key, so it must stay stable.
    pub const SEND_STEP: &'static str = "send";

    /// Marketing mail honours unsubscribes and carries `List-Unsubscribe`; transactional does not.
    pub fn is_marketing(&self) -> bool {
        self.class == MessageClass::Marketing
    }

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

    /// The subscription topics of the campaigns in force, for the preference center.
    pub fn topics(&self) -> Vec<Topic> {
        let mut topics: Vec<Topic> = self.campaigns.iter().filter_map(|c| c.topic.clone()).collect();
        topics.sort();
        topics.dedup();
        topics
    }
}

/// The campaigns every deployment starts with: a welcome on `signed_up`, and getting-started
/// tips a day later. Campaign files replace these once campaigns are configurable.
pub fn builtin_campaigns() -> CampaignSet {
    let signed_up = || Trigger::Event(EventName::parse("signed_up").expect("valid name"));
    let welcome = Campaign {
        id: CampaignId::parse("welcome").expect("valid id"),
        name: "Welcome".into(),
        trigger: signed_up(),
        delay: Duration::zero(),
        class: MessageClass::Transactional,
        topic: None,
        template: TemplateName::parse("welcome").expect("valid name"),
    };
    let tips = Campaign {
        id: CampaignId::parse("getting-started").expect("valid id"),
        name: "Getting started tips (1 day after signup)".into(),
        trigger: signed_up(),
        delay: Duration::days(1),
        class: MessageClass::Marketing,
        topic: Some(Topic::parse("product_tips").expect("valid topic")),
        template: TemplateName::parse("getting-started").expect("valid name"),
    };
    CampaignSet::new(vec![welcome, tips])
}
