//! Work in flight between the evaluator and the sender: a message job on the queue, or a
//! timer holding one until it is due.

use super::event::Event;
use super::ids::{CampaignId, Collection, DedupKey, EventName, ItemId, MessageId, PersonId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the sender needs to know about the event that triggered a message: enough to
/// render `{{ event.* }}` without reading the event back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerSnapshot {
    pub message_id: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<EventName>,
    #[serde(default)]
    pub properties: Map<String, Value>,
    pub timestamp: DateTime<Utc>,
}

impl From<&Event> for TriggerSnapshot {
    fn from(event: &Event) -> Self {
        Self {
            message_id: event.message_id.clone(),
            name: event.name.clone(),
            properties: event.properties.clone(),
            timestamp: event.timestamp,
        }
    }
}

/// "Send campaign C's step S to person P because of trigger T". Jobs may be enqueued and
/// delivered more than once; `dedup_key` makes the send happen once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageJob {
    pub dedup_key: DedupKey,
    pub campaign_id: CampaignId,
    /// The send step's id in the campaign.
    pub step: String,
    pub person_id: PersonId,
    /// The object an object-keyed journey is about (the trigger's `cart_id`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The catalog item a content-triggered message is about (`{{ content.* }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentRef>,
    pub trigger: TriggerSnapshot,
    pub created_at: DateTime<Utc>,
}

impl MessageJob {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a message job always serializes")
    }
}

/// A catalog item, by collection and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentRef {
    pub collection: Collection,
    pub id: ItemId,
}

/// A job held back until `due`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    pub due: DateTime<Utc>,
    pub job: MessageJob,
}
