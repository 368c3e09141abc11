//! The nouns of Nudge. Values here are already validated: parse at the edge with the
//! newtypes' `parse`, and everything past that trusts them.

mod account;
mod campaign;
mod catalog;
mod condition;
mod event;
mod ids;
mod job;
mod person;
mod preferences;
mod send;
mod source;

pub use account::Account;
pub use campaign::{
    builtin_campaigns, Branch, Campaign, CampaignSet, ContentTrigger, Interest, LocalTime, MessageClass, Reentry, Route, SendStep, Step,
    Trigger, Viewed, Wait,
};
pub use catalog::{CatalogItem, Changed};
pub use condition::{lookup, Condition, EventMatch, Facts, PropertyFilters, Span, Test, Window};
pub use event::{Event, EventKind, SourceStamp};
pub use ids::{
    CampaignId, Channel, Collection, DedupKey, EmailAddress, EventName, GroupId, ItemId, MessageId, PersonId, SourceId, TemplateName, Topic,
};
pub use job::{ContentRef, MessageJob, Timer, TriggerSnapshot};
pub use person::{Activity, Person};
pub use preferences::Preferences;
pub use send::{SendRecord, SendState, SkipReason};
pub use source::{Secret, SecretHash, Source};
