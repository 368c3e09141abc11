//! One thing a person did (or had said about them), as accepted by ingest.

use super::ids::{EventName, MessageId, PersonId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The person did something (`name` says what).
    Track,
    /// We learned who the person is (`traits`).
    Identify,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub message_id: MessageId,
    pub person_id: PersonId,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<EventName>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub traits: Map<String, Value>,
    /// When it happened, by the sender's account.
    pub timestamp: DateTime<Utc>,
    /// When Nudge accepted it.
    pub received_at: DateTime<Utc>,
}

impl Event {
    pub fn is_track_of(&self, name: &EventName) -> bool {
        self.kind == EventKind::Track && self.name.as_ref() == Some(name)
    }
}
