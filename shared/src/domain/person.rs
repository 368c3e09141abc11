//! A person's profile: the traits we were told and the behavior we computed from their events.

use super::event::{Event, EventKind};
use super::ids::{EmailAddress, PersonId};
use crate::error::InvalidField;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    #[serde(default)]
    pub traits: Map<String, Value>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Track events seen, by event name.
    #[serde(default)]
    pub event_counts: BTreeMap<String, u64>,
    /// Bumped on every change; stores use it for optimistic concurrency.
    #[serde(default)]
    pub version: u64,
}

impl Person {
    pub fn new(id: PersonId, first_seen: DateTime<Utc>) -> Self {
        Self {
            id,
            traits: Map::new(),
            first_seen,
            last_seen: first_seen,
            event_counts: BTreeMap::new(),
            version: 0,
        }
    }

    /// The profile after `event`: traits merged (a `null` trait removes it), counts and
    /// first/last seen updated. Events may arrive out of order; seen times only widen.
    pub fn apply(&mut self, event: &Event) {
        self.first_seen = self.first_seen.min(event.timestamp);
        self.last_seen = self.last_seen.max(event.timestamp);
        for (key, value) in &event.traits {
            if value.is_null() {
                self.traits.remove(key);
            } else {
                self.traits.insert(key.clone(), value.clone());
            }
        }
        if let (EventKind::Track, Some(name)) = (event.kind, &event.name) {
            *self.event_counts.entry(name.as_str().to_string()).or_default() += 1;
        }
        self.version += 1;
    }

    /// The address to write to, from the `email` trait. `None` when there is none;
    /// an error when there is one that is not an address.
    pub fn email(&self) -> Option<Result<EmailAddress, InvalidField>> {
        match self.traits.get("email")? {
            Value::String(text) => Some(EmailAddress::parse(text).map_err(|e| e.within("traits.email"))),
            Value::Null => None,
            _ => Some(Err(InvalidField::new("traits.email", "must be a string"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventName, MessageId};
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn event(kind: EventKind, name: Option<&str>, traits: Value, ts: &str) -> Event {
        Event {
            message_id: MessageId::parse("m").unwrap(),
            person_id: PersonId::parse("u1").unwrap(),
            kind,
            name: name.map(|n| EventName::parse(n).unwrap()),
            properties: Map::new(),
            traits: traits.as_object().cloned().unwrap_or_default(),
            timestamp: at(ts),
            received_at: at(ts),
        }
    }

    #[test]
    fn identify_merges_traits_and_null_removes_one() {
        let mut person = Person::new(PersonId::parse("u1").unwrap(), at("2026-01-02T00:00:00Z"));
        person.apply(&event(
            EventKind::Identify,
            None,
            json!({"email": "a@example.com", "plan": "pro"}),
            "2026-01-02T00:00:00Z",
        ));
        person.apply(&event(
            EventKind::Identify,
            None,
            json!({"plan": null, "name": "Ada"}),
            "2026-01-03T00:00:00Z",
        ));
        assert_eq!(
            Value::Object(person.traits.clone()),
            json!({"email": "a@example.com", "name": "Ada"})
        );
        assert_eq!(person.version, 2);
    }

    #[test]
    fn track_counts_by_name_and_late_events_widen_seen_times() {
        let mut person = Person::new(PersonId::parse("u1").unwrap(), at("2026-01-02T00:00:00Z"));
        person.apply(&event(EventKind::Track, Some("login"), json!({}), "2026-01-05T00:00:00Z"));
        person.apply(&event(EventKind::Track, Some("login"), json!({}), "2026-01-01T00:00:00Z"));
        assert_eq!(person.event_counts["login"], 2);
        assert_eq!(person.first_seen, at("2026-01-01T00:00:00Z"));
        assert_eq!(person.last_seen, at("2026-01-05T00:00:00Z"));
    }

    #[test]
    fn email_trait_must_be_an_address() {
        let mut person = Person::new(PersonId::parse("u1").unwrap(), at("2026-01-02T00:00:00Z"));
        assert!(person.email().is_none());
        person.traits.insert("email".into(), json!("not-an-address"));
        assert_eq!(person.email().unwrap().unwrap_err().field, "traits.email");
        person.traits.insert("email".into(), json!(42));
        assert!(person.email().unwrap().is_err());
    }
}
