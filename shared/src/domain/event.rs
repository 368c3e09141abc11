//! One thing a person did (or had said about them), as accepted by ingest: the Segment
//! call types, with every field the sender gave us (unknown ones included) and the source
//! it came through.

use super::ids::{Channel, EventName, GroupId, MessageId, PersonId, SourceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The person did something (`name` says what).
    Track,
    /// We learned who the person is (`traits`).
    Identify,
    /// A web page view (`name` optional).
    Page,
    /// A mobile screen view (`name` optional).
    Screen,
    /// The person belongs to an account (`group_id`, account `traits`).
    Group,
    /// `previous_id` and `person_id` are the same person.
    Alias,
}

/// Which write key (source) an event came through, and that source's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStamp {
    pub source_id: SourceId,
    pub channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub message_id: MessageId,
    /// Who the event is about: `userId` when given, else `anonymousId`.
    pub person_id: PersonId,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<EventName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<GroupId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub traits: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// Top-level fields Nudge does not interpret, kept as sent.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceStamp>,
    /// When it happened: the sender's time, corrected for the sender's clock skew.
    pub timestamp: DateTime<Utc>,
    /// When Nudge accepted it.
    pub received_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_timestamp: Option<DateTime<Utc>>,
}

impl Event {
    /// An event with only the fields every event has; the rest empty.
    pub fn new(kind: EventKind, message_id: MessageId, person_id: PersonId, timestamp: DateTime<Utc>) -> Self {
        Self {
            message_id,
            person_id,
            kind,
            name: None,
            user_id: None,
            anonymous_id: None,
            group_id: None,
            previous_id: None,
            properties: Map::new(),
            traits: Map::new(),
            context: Map::new(),
            extra: Map::new(),
            source: None,
            timestamp,
            received_at: timestamp,
            sent_at: None,
            original_timestamp: None,
        }
    }

    pub fn is_track_of(&self, name: &EventName) -> bool {
        self.kind == EventKind::Track && self.name.as_ref() == Some(name)
    }

    /// The other id this event says is the same person: the `anonymousId` of an identified
    /// call, or the `previousId` of an alias. Its history then belongs to `person_id`.
    pub fn linked_id(&self) -> Option<&PersonId> {
        let user = self.user_id.as_ref()?;
        let other = match self.kind {
            EventKind::Alias => self.previous_id.as_ref(),
            _ => self.anonymous_id.as_ref(),
        }?;
        (other != user).then_some(other)
    }

    pub fn channel(&self) -> Option<&Channel> {
        self.source.as_ref().map(|s| &s.channel)
    }
}
