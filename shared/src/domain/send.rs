//! The send ledger's record of one (campaign, step, person, trigger): claimed, sent,
//! skipped with a reason, or failed. It is both the exactly-once guard and the history.

use super::ids::{CampaignId, DedupKey, PersonId, TemplateName, Topic};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a message was not sent. Every such decision is recorded, never silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// We have never been told about this person.
    UnknownPerson,
    /// No `email` trait.
    NoEmailAddress,
    /// An `email` trait that does not parse as an address.
    InvalidEmailAddress { detail: String },
    /// The campaign the job names is no longer configured.
    UnknownCampaign,
    /// The address is on the suppression list.
    Suppressed,
    /// The person did not meet the campaign's audience conditions when the trigger happened.
    AudienceMismatch { detail: String },
    /// The goal event happened before this step: the person converted.
    GoalReached,
    /// A branch before this step sent the person out of the journey.
    BranchExit { step: usize },
    /// The campaign was edited and this send is no longer in it.
    StepRemoved,
    /// The person had as much marketing mail as the frequency cap allows in the window.
    FrequencyCapped { limit: u32, window: String },
    /// Marketing mail to a person who unsubscribed from its topic (or from everything).
    Unsubscribed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<Topic>,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownPerson => f.write_str("unknown person"),
            Self::NoEmailAddress => f.write_str("no email address"),
            Self::InvalidEmailAddress { detail } => write!(f, "invalid email address ({detail})"),
            Self::UnknownCampaign => f.write_str("campaign no longer exists"),
            Self::Suppressed => f.write_str("address is suppressed"),
            Self::AudienceMismatch { detail } => write!(f, "not in the audience ({detail})"),
            Self::GoalReached => f.write_str("goal reached before this step"),
            Self::BranchExit { step } => write!(f, "left the journey at the branch in step {}", step + 1),
            Self::StepRemoved => f.write_str("this send is no longer in the campaign"),
            Self::FrequencyCapped { limit, window } => write!(f, "frequency cap: {limit} marketing emails per {window} reached"),
            Self::Unsubscribed { topic: Some(topic) } => write!(f, "unsubscribed from {topic}"),
            Self::Unsubscribed { topic: None } => f.write_str("unsubscribed from marketing email"),
        }
    }
}

impl SkipReason {
    /// A short, stable label for counting skips by reason.
    pub fn label(&self) -> &'static str {
        match self {
            Self::UnknownPerson => "unknown_person",
            Self::NoEmailAddress => "no_email_address",
            Self::InvalidEmailAddress { .. } => "invalid_email_address",
            Self::UnknownCampaign => "unknown_campaign",
            Self::Suppressed => "suppressed",
            Self::AudienceMismatch { .. } => "audience_mismatch",
            Self::GoalReached => "goal_reached",
            Self::BranchExit { .. } => "branch_exit",
            Self::StepRemoved => "step_removed",
            Self::FrequencyCapped { .. } => "frequency_capped",
            Self::Unsubscribed { .. } => "unsubscribed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SendState {
    /// A sender took this send at `at`; if it never finishes, the claim lapses after a lease.
    Claimed { at: DateTime<Utc> },
    Sent {
        at: DateTime<Utc>,
        provider_message_id: String,
        subject: String,
        /// The template that rendered it, and its version (0: the built-in).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<TemplateName>,
        #[serde(default)]
        template_version: u32,
        /// Marketing mail counts toward the frequency cap; transactional does not.
        #[serde(default)]
        marketing: bool,
    },
    Skipped {
        at: DateTime<Utc>,
        #[serde(flatten)]
        reason: SkipReason,
    },
    /// Sending was attempted and refused for good (a template error, a rejected message).
    Failed { at: DateTime<Utc>, detail: String },
}

impl SendState {
    /// When this state was reached: claimed, sent, skipped or failed.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Claimed { at } | Self::Sent { at, .. } | Self::Skipped { at, .. } | Self::Failed { at, .. } => *at,
        }
    }

    /// `claimed`, `sent`, `skipped` or `failed`: the name stores index and condition on.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Claimed { .. } => "claimed",
            Self::Sent { .. } => "sent",
            Self::Skipped { .. } => "skipped",
            Self::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendRecord {
    pub dedup_key: DedupKey,
    pub person_id: PersonId,
    pub campaign_id: CampaignId,
    #[serde(flatten)]
    pub state: SendState,
}
