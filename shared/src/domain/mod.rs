//! The nouns of Nudge. Values here are already validated: parse at the edge with the
//! newtypes' `parse`, and everything past that trusts them.

mod campaign;
mod event;
mod ids;
mod job;
mod person;
mod send;

pub use campaign::{builtin_campaigns, Campaign, CampaignSet, MessageClass, MessageTemplate, Trigger};
pub use event::{Event, EventKind};
pub use ids::{CampaignId, DedupKey, EmailAddress, EventName, MessageId, PersonId};
pub use job::{MessageJob, Timer, TriggerSnapshot};
pub use person::Person;
pub use send::{SendRecord, SendState, SkipReason};
