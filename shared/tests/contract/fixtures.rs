//! Events and jobs the contract tests use.

use chrono::{DateTime, Duration, TimeZone, Utc};
use nudge_shared::domain::{
    CampaignId, Channel, DedupKey, Event, EventKind, EventName, MessageId, MessageJob, PersonId, SourceId, SourceStamp, TriggerSnapshot,
};
use serde_json::{json, Map, Value};

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

pub fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

pub fn track(person: &str, name: &str, message_id: &str, minutes: i64) -> Event {
    let mut event = Event::new(
        EventKind::Track,
        MessageId::parse(message_id).unwrap(),
        PersonId::parse(person).unwrap(),
        start() + Duration::minutes(minutes),
    );
    event.name = Some(EventName::parse(name).unwrap());
    event.user_id = Some(event.person_id.clone());
    event.properties = object(json!({"plan": "pro", "seats": 3, "ratio": 0.5, "tags": ["a", "b"], "nested": {"ok": true, "none": null}}));
    event.context = object(json!({"library": {"name": "analytics-python", "version": "2.3.3"}, "ip": "203.0.113.7"}));
    event.extra = object(json!({"integrations": {"All": true}}));
    event.source = Some(SourceStamp {
        source_id: SourceId::parse("web-app").unwrap(),
        channel: Channel::parse("web").unwrap(),
    });
    event
}

pub fn identify(person: &str, message_id: &str, traits: Value) -> Event {
    let mut event = Event::new(
        EventKind::Identify,
        MessageId::parse(message_id).unwrap(),
        PersonId::parse(person).unwrap(),
        start(),
    );
    event.traits = object(traits);
    event
}

pub fn job(person: &str, trigger: &str) -> MessageJob {
    let event = track(person, "signed_up", trigger, 0);
    let campaign = CampaignId::parse("welcome").unwrap();
    MessageJob {
        dedup_key: DedupKey::for_send(&campaign, "send-1", &event.person_id, &event.message_id),
        campaign_id: campaign,
        step: "send-1".into(),
        person_id: event.person_id.clone(),
        object: None,
        content: None,
        trigger: TriggerSnapshot::from(&event),
        created_at: start(),
    }
}
