//! Events and jobs the contract tests use.

use chrono::{DateTime, Duration, TimeZone, Utc};
use nudge_shared::domain::{CampaignId, DedupKey, Event, EventKind, EventName, MessageId, MessageJob, PersonId, TriggerSnapshot};
use serde_json::{json, Map, Value};

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

pub fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

pub fn track(person: &str, name: &str, message_id: &str, minutes: i64) -> Event {
    Event {
        message_id: MessageId::parse(message_id).unwrap(),
        person_id: PersonId::parse(person).unwrap(),
        kind: EventKind::Track,
        name: Some(EventName::parse(name).unwrap()),
        properties: object(json!({"plan": "pro", "seats": 3, "ratio": 0.5, "tags": ["a", "b"], "nested": {"ok": true, "none": null}})),
        traits: Map::new(),
        timestamp: start() + Duration::minutes(minutes),
        received_at: start() + Duration::minutes(minutes),
    }
}

pub fn identify(person: &str, message_id: &str, traits: Value) -> Event {
    Event {
        message_id: MessageId::parse(message_id).unwrap(),
        person_id: PersonId::parse(person).unwrap(),
        kind: EventKind::Identify,
        name: None,
        properties: Map::new(),
        traits: object(traits),
        timestamp: start(),
        received_at: start(),
    }
}

pub fn job(person: &str, trigger: &str) -> MessageJob {
    let event = track(person, "signed_up", trigger, 0);
    let campaign = CampaignId::parse("welcome").unwrap();
    MessageJob {
        dedup_key: DedupKey::for_send(&campaign, "send", &event.person_id, &event.message_id),
        campaign_id: campaign,
        step: "send".into(),
        person_id: event.person_id.clone(),
        trigger: TriggerSnapshot::from(&event),
        created_at: start(),
    }
}
