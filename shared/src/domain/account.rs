//! Accounts (Segment groups): the companies people belong to, with the traits `group`
//! calls set. B2B campaigns and team alerts read them.

use super::event::Event;
use super::ids::GroupId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: GroupId,
    #[serde(default)]
    pub traits: Map<String, Value>,
    #[serde(default)]
    pub trait_times: BTreeMap<String, DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

impl Account {
    pub fn new(id: GroupId, first_seen: DateTime<Utc>) -> Self {
        Self {
            id,
            traits: Map::new(),
            trait_times: BTreeMap::new(),
            first_seen,
            last_seen: first_seen,
            version: 0,
        }
    }

    /// The account after a `group` call: traits merge key by key, newest value winning.
    pub fn apply(&mut self, event: &Event) {
        self.first_seen = self.first_seen.min(event.timestamp);
        self.last_seen = self.last_seen.max(event.timestamp);
        super::person::merge_traits(&mut self.traits, &mut self.trait_times, &event.traits, event.timestamp);
        self.version += 1;
    }
}
