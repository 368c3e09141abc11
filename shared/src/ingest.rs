//! Turning tracking calls (Segment's HTTP Tracking API: track, identify, page, screen,
//! group, alias, batch) into `Event`s and storing them. Parsing names the exact field that
//! is wrong (`batch[3].event`); a batch is parsed whole before anything is stored, so a
//! rejected batch stores nothing; storing is durable before we say yes.

use crate::domain::{Event, EventKind, EventName, GroupId, MessageId, PersonId, SourceStamp};
use crate::error::{InvalidField, PortError};
use crate::ports::{EventLog, Recorded};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Segment's limit for one message.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Segment's limit for one batch request.
pub const MAX_BATCH_BYTES: usize = 500 * 1024;

/// The single-message calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    Track,
    Identify,
    Page,
    Screen,
    Group,
    Alias,
}

impl CallType {
    /// From a batch item's `type`.
    pub fn from_type(name: &str) -> Option<Self> {
        Some(match name {
            "track" => Self::Track,
            "identify" => Self::Identify,
            "page" => Self::Page,
            "screen" => Self::Screen,
            "group" => Self::Group,
            "alias" => Self::Alias,
            _ => return None,
        })
    }

    fn kind(self) -> EventKind {
        match self {
            Self::Track => EventKind::Track,
            Self::Identify => EventKind::Identify,
            Self::Page => EventKind::Page,
            Self::Screen => EventKind::Screen,
            Self::Group => EventKind::Group,
            Self::Alias => EventKind::Alias,
        }
    }
}

/// What a request carries: one call, or a batch of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Single(CallType),
    Batch,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("invalid {0}")]
    Invalid(#[from] InvalidField),
    #[error("{field} is larger than {limit} bytes")]
    TooLarge { field: String, limit: usize },
    #[error(transparent)]
    Store(#[from] PortError),
}

/// A parsed request: its events, in order, and the write key its body named, if any
/// (browsers sending beacons cannot set headers, so Segment accepts `writeKey` in the body).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub events: Vec<Event>,
    pub write_key: Option<String>,
}

/// Checks limits and parses a request body. Nothing is stored.
pub fn parse_request(request: Request, body: &[u8], received_at: DateTime<Utc>) -> Result<Parsed, IngestError> {
    let limit = match request {
        Request::Single(_) => MAX_MESSAGE_BYTES,
        Request::Batch => MAX_BATCH_BYTES,
    };
    if body.len() > limit {
        return Err(IngestError::TooLarge {
            field: "body".into(),
            limit,
        });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| InvalidField::new("body", format!("is not valid JSON ({e})")))?;
    let Value::Object(fields) = value else {
        return Err(InvalidField::new("body", "must be a JSON object").into());
    };
    let write_key = text_field(&fields, "writeKey", "writeKey")?;
    let events = match request {
        Request::Single(call) => vec![parse_message(
            call,
            &fields,
            &Envelope {
                received_at,
                ..Envelope::default()
            },
            "",
        )?],
        Request::Batch => parse_batch(&fields, received_at)?,
    };
    Ok(Parsed { events, write_key })
}

/// What a batch gives all of its messages.
#[derive(Default)]
struct Envelope {
    received_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    context: Map<String, Value>,
}

fn parse_batch(fields: &Map<String, Value>, received_at: DateTime<Utc>) -> Result<Vec<Event>, IngestError> {
    let items = match fields.get("batch") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => return Err(InvalidField::new("batch", "must not be empty").into()),
        None | Some(Value::Null) => return Err(InvalidField::new("batch", "is required").into()),
        Some(_) => return Err(InvalidField::new("batch", "must be an array").into()),
    };
    let envelope = Envelope {
        received_at,
        sent_at: time_field(fields, "sentAt", "sentAt")?,
        context: object_field(fields, "context", "context")?,
    };
    let mut events = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = format!("batch[{index}]");
        let Value::Object(message) = item else {
            return Err(InvalidField::new(at, "must be a JSON object").into());
        };
        let size = serde_json::to_vec(item).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
        if size > MAX_MESSAGE_BYTES {
            return Err(IngestError::TooLarge {
                field: at,
                limit: MAX_MESSAGE_BYTES,
            });
        }
        let call = match message.get("type") {
            Some(Value::String(name)) => CallType::from_type(name).ok_or_else(|| {
                InvalidField::new(
                    format!("{at}.type"),
                    format!("{name:?} is not one of track, identify, page, screen, group, alias"),
                )
            })?,
            _ => return Err(InvalidField::new(format!("{at}.type"), "is required (track, identify, page, screen, group or alias)").into()),
        };
        events.push(parse_message(call, message, &envelope, &format!("{at}."))?);
    }
    Ok(events)
}

/// The fields of the spec this parser reads; anything else is kept in `Event::extra`.
const KNOWN_FIELDS: &[&str] = &[
    "type",
    "userId",
    "anonymousId",
    "event",
    "name",
    "properties",
    "traits",
    "context",
    "messageId",
    "timestamp",
    "sentAt",
    "originalTimestamp",
    "receivedAt",
    "groupId",
    "previousId",
    "writeKey",
];

fn parse_message(call: CallType, fields: &Map<String, Value>, envelope: &Envelope, at: &str) -> Result<Event, InvalidField> {
    let field = |name: &str| format!("{at}{name}");
    let user_id = text_field(fields, "userId", &field("userId"))?
        .map(|id| parse_as(PersonId::parse, &id, &field("userId")))
        .transpose()?;
    let anonymous_id = text_field(fields, "anonymousId", &field("anonymousId"))?
        .map(|id| parse_as(PersonId::parse, &id, &field("anonymousId")))
        .transpose()?;
    let person_id = match (&user_id, &anonymous_id, call) {
        (Some(id), _, _) => id.clone(),
        (None, _, CallType::Alias) => return Err(InvalidField::new(field("userId"), "is required for alias")),
        (None, Some(id), _) => id.clone(),
        (None, None, _) => return Err(InvalidField::new(field("userId"), "userId or anonymousId is required")),
    };
    let message_id = match text_field(fields, "messageId", &field("messageId"))? {
        Some(id) => parse_as(MessageId::parse, &id, &field("messageId"))?,
        None => MessageId::parse(&format!("nudge-{}", uuid::Uuid::new_v4())).expect("generated ids are valid"),
    };
    let explicit = time_field(fields, "timestamp", &field("timestamp"))?;
    let original_timestamp = time_field(fields, "originalTimestamp", &field("originalTimestamp"))?;
    let sent_at = time_field(fields, "sentAt", &field("sentAt"))?.or(envelope.sent_at);
    let mut event = Event::new(call.kind(), message_id, person_id, envelope.received_at);
    event.timestamp = corrected_timestamp(explicit.or(original_timestamp), sent_at, envelope.received_at);
    event.user_id = user_id;
    event.anonymous_id = anonymous_id;
    event.sent_at = sent_at;
    event.original_timestamp = original_timestamp;
    event.properties = object_field(fields, "properties", &field("properties"))?;
    event.traits = object_field(fields, "traits", &field("traits"))?;
    event.context = envelope.context.clone();
    event.context.extend(object_field(fields, "context", &field("context"))?);
    event.extra = fields
        .iter()
        .filter(|(k, _)| !KNOWN_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match call {
        CallType::Track => {
            let name =
                text_field(fields, "event", &field("event"))?.ok_or_else(|| InvalidField::new(field("event"), "is required for track"))?;
            event.name = Some(parse_as(EventName::parse, &name, &field("event"))?);
        }
        CallType::Page | CallType::Screen => {
            event.name = text_field(fields, "name", &field("name"))?
                .map(|n| parse_as(EventName::parse, &n, &field("name")))
                .transpose()?;
        }
        CallType::Group => {
            let group = text_field(fields, "groupId", &field("groupId"))?
                .ok_or_else(|| InvalidField::new(field("groupId"), "is required for group"))?;
            event.group_id = Some(parse_as(GroupId::parse, &group, &field("groupId"))?);
        }
        CallType::Alias => {
            let previous = text_field(fields, "previousId", &field("previousId"))?
                .ok_or_else(|| InvalidField::new(field("previousId"), "is required for alias"))?;
            event.previous_id = Some(parse_as(PersonId::parse, &previous, &field("previousId"))?);
        }
        CallType::Identify => {}
    }
    Ok(event)
}

/// Segment's clock-skew correction: a device's clock may be off, but the time between the
/// event and the send is right, so `timestamp = receivedAt - (sentAt - originalTimestamp)`.
/// Without `sentAt` the given time stands; without any time, the event happened on receipt.
pub fn corrected_timestamp(original: Option<DateTime<Utc>>, sent_at: Option<DateTime<Utc>>, received_at: DateTime<Utc>) -> DateTime<Utc> {
    match (original, sent_at) {
        (Some(original), Some(sent_at)) => received_at - (sent_at - original),
        (Some(original), None) => original,
        (None, _) => received_at,
    }
}

/// Stamps each event with the source it came through and records them in order. A
/// failure part-way leaves the earlier events stored: the client's retry carries the same
/// `messageId`s, so they are not stored twice.
pub async fn record_all<L: EventLog>(log: &L, events: &mut [Event], source: Option<&SourceStamp>) -> Result<Vec<Recorded>, PortError> {
    let mut outcomes = Vec::with_capacity(events.len());
    for event in events.iter_mut() {
        event.source = source.cloned();
        outcomes.push(log.record(event).await?);
    }
    Ok(outcomes)
}

fn parse_as<T>(parse: fn(&str) -> Result<T, InvalidField>, text: &str, field: &str) -> Result<T, InvalidField> {
    parse(text).map_err(|e| e.within(field))
}

/// Segment's libraries send ids as strings, some callers as numbers: take both.
fn text_field(fields: &Map<String, Value>, name: &str, path: &str) -> Result<Option<String>, InvalidField> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => Err(InvalidField::new(path, "must be a string")),
    }
}

fn time_field(fields: &Map<String, Value>, name: &str, path: &str) -> Result<Option<DateTime<Utc>>, InvalidField> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| InvalidField::new(path, format!("is not an ISO-8601 date-time ({e})"))),
        Some(_) => Err(InvalidField::new(path, "must be an ISO-8601 string")),
    }
}

fn object_field(fields: &Map<String, Value>, name: &str, path: &str) -> Result<Map<String, Value>, InvalidField> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(object)) => Ok(object.clone()),
        Some(_) => Err(InvalidField::new(path, "must be a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    fn single(call: CallType, body: Value) -> Result<Event, IngestError> {
        parse_request(Request::Single(call), body.to_string().as_bytes(), now()).map(|p| p.events.into_iter().next().unwrap())
    }

    fn invalid_field(result: Result<impl std::fmt::Debug, IngestError>) -> String {
        match result {
            Err(IngestError::Invalid(field)) => field.field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn track_parses_segment_fields_and_keeps_unknown_ones() {
        let event = single(
            CallType::Track,
            json!({"userId": "u1", "event": "signed_up", "messageId": "m1", "timestamp": "2026-04-30T10:00:00Z",
                   "properties": {"plan": "pro"}, "context": {"ip": "203.0.113.7"}, "integrations": {"All": true}, "version": 2}),
        )
        .unwrap();
        assert_eq!(event.person_id.as_str(), "u1");
        assert_eq!(event.user_id.as_ref().unwrap().as_str(), "u1");
        assert_eq!(event.name.unwrap().as_str(), "signed_up");
        assert_eq!(event.message_id.as_str(), "m1");
        assert_eq!(event.timestamp, Utc.with_ymd_and_hms(2026, 4, 30, 10, 0, 0).unwrap());
        assert_eq!(event.properties["plan"], "pro");
        assert_eq!(event.context["ip"], "203.0.113.7");
        assert_eq!(Value::Object(event.extra), json!({"integrations": {"All": true}, "version": 2}));
        assert_eq!(event.received_at, now());
    }

    #[test]
    fn every_call_type_parses_its_own_fields() {
        let identify = single(
            CallType::Identify,
            json!({"anonymousId": "a1", "traits": {"email": "a@example.com"}}),
        )
        .unwrap();
        assert_eq!(
            (identify.kind, identify.person_id.as_str(), identify.timestamp),
            (EventKind::Identify, "a1", now())
        );
        assert!(
            identify.message_id.as_str().starts_with("nudge-"),
            "a generated messageId, as Segment does"
        );
        let page = single(
            CallType::Page,
            json!({"anonymousId": "a1", "name": "Pricing", "properties": {"url": "https://x.test/pricing"}}),
        )
        .unwrap();
        assert_eq!((page.kind, page.name.unwrap().as_str()), (EventKind::Page, "Pricing"));
        let unnamed = single(CallType::Screen, json!({"userId": "u1"})).unwrap();
        assert_eq!((unnamed.kind, unnamed.name), (EventKind::Screen, None));
        let group = single(CallType::Group, json!({"userId": "u1", "groupId": 42, "traits": {"plan": "team"}})).unwrap();
        assert_eq!(group.group_id.unwrap().as_str(), "42");
        let alias = single(CallType::Alias, json!({"userId": "u1", "previousId": "a1"})).unwrap();
        assert_eq!((alias.person_id.as_str(), alias.previous_id.unwrap().as_str()), ("u1", "a1"));
    }

    #[test]
    fn each_bad_input_names_its_field() {
        let bad = |call, body: Value| invalid_field(single(call, body));
        assert_eq!(
            invalid_field(parse_request(Request::Single(CallType::Track), b"nope", now())),
            "body"
        );
        assert_eq!(
            invalid_field(parse_request(Request::Single(CallType::Track), b"[1]", now())),
            "body"
        );
        assert_eq!(bad(CallType::Track, json!({"event": "x"})), "userId");
        assert_eq!(bad(CallType::Track, json!({"userId": "u"})), "event");
        assert_eq!(bad(CallType::Track, json!({"userId": "u", "event": ""})), "event");
        assert_eq!(bad(CallType::Track, json!({"userId": {}, "event": "x"})), "userId");
        assert_eq!(
            bad(CallType::Track, json!({"userId": "u", "event": "x", "timestamp": "yesterday"})),
            "timestamp"
        );
        assert_eq!(bad(CallType::Track, json!({"userId": "u", "event": "x", "sentAt": 5})), "sentAt");
        assert_eq!(
            bad(CallType::Track, json!({"userId": "u", "event": "x", "properties": []})),
            "properties"
        );
        assert_eq!(
            bad(CallType::Track, json!({"userId": "u", "event": "x", "context": "web"})),
            "context"
        );
        assert_eq!(bad(CallType::Identify, json!({"userId": "u", "traits": "x"})), "traits");
        assert_eq!(bad(CallType::Identify, json!({"userId": "u", "messageId": true})), "messageId");
        assert_eq!(bad(CallType::Group, json!({"userId": "u"})), "groupId");
        assert_eq!(bad(CallType::Alias, json!({"userId": "u"})), "previousId");
        assert_eq!(bad(CallType::Alias, json!({"anonymousId": "a", "previousId": "p"})), "userId");
        assert_eq!(
            bad(CallType::Track, json!({"userId": "u", "event": "x", "writeKey": {}})),
            "writeKey"
        );
    }

    #[test]
    fn a_skewed_device_clock_is_corrected_with_sent_at() {
        // The device's clock is 2 hours fast: it says the event happened at 14:00:00 and was
        // sent 5 s later; we received it at 12:00:10 by ours.
        let received = now() + Duration::seconds(10);
        let body = json!({"userId": "u", "event": "x", "timestamp": "2026-05-01T14:00:00Z", "sentAt": "2026-05-01T14:00:05Z"});
        let parsed = parse_request(Request::Single(CallType::Track), body.to_string().as_bytes(), received).unwrap();
        assert_eq!(parsed.events[0].timestamp, now() + Duration::seconds(5));
    }

    #[test]
    fn a_batch_parses_mixed_types_and_shares_its_context_and_sent_at() {
        let body = json!({
            "writeKey": "wk_123",
            "sentAt": "2026-05-01T12:00:00Z",
            "context": {"library": {"name": "analytics-node"}},
            "batch": [
                {"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}, "timestamp": "2026-05-01T11:59:00Z"},
                {"type": "track", "userId": "u1", "event": "signed_up", "context": {"page": {"path": "/signup"}}},
                {"type": "page", "anonymousId": "a9", "name": "Home"},
            ]
        });
        let parsed = parse_request(Request::Batch, body.to_string().as_bytes(), now()).unwrap();
        assert_eq!(parsed.write_key.as_deref(), Some("wk_123"));
        let kinds: Vec<_> = parsed.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventKind::Identify, EventKind::Track, EventKind::Page]);
        assert_eq!(parsed.events[0].timestamp, Utc.with_ymd_and_hms(2026, 5, 1, 11, 59, 0).unwrap());
        assert_eq!(parsed.events[1].context["library"]["name"], "analytics-node");
        assert_eq!(parsed.events[1].context["page"]["path"], "/signup");
    }

    #[test]
    fn a_bad_batch_item_names_its_index_and_nothing_is_parsed() {
        let batch = |items: Value| parse_request(Request::Batch, json!({"batch": items}).to_string().as_bytes(), now());
        assert_eq!(
            invalid_field(batch(
                json!([{"type": "track", "userId": "u", "event": "ok"}, {"type": "track", "userId": "u"}])
            )),
            "batch[1].event"
        );
        assert_eq!(invalid_field(batch(json!([{"type": "nonsense", "userId": "u"}]))), "batch[0].type");
        assert_eq!(invalid_field(batch(json!([{"userId": "u"}]))), "batch[0].type");
        assert_eq!(invalid_field(batch(json!([7]))), "batch[0]");
        assert_eq!(invalid_field(batch(json!([]))), "batch");
        assert_eq!(invalid_field(parse_request(Request::Batch, b"{}", now())), "batch");
    }

    #[test]
    fn size_limits_are_segments() {
        let big = "x".repeat(MAX_MESSAGE_BYTES);
        let body = json!({"userId": "u", "event": "x", "properties": {"big": big}}).to_string();
        assert!(
            matches!(parse_request(Request::Single(CallType::Track), body.as_bytes(), now()), Err(IngestError::TooLarge { ref field, .. }) if field == "body")
        );
        let batch = json!({"batch": [{"type": "track", "userId": "u", "event": "x"}, {"type": "track", "userId": "u", "event": "x", "properties": {"big": big}}]});
        let result = parse_request(Request::Batch, batch.to_string().as_bytes(), now());
        assert!(
            matches!(result, Err(IngestError::TooLarge { ref field, limit: MAX_MESSAGE_BYTES }) if field == "batch[1]"),
            "{result:?}"
        );
        let huge = vec![b' '; MAX_BATCH_BYTES + 1];
        assert!(matches!(
            parse_request(Request::Batch, &huge, now()),
            Err(IngestError::TooLarge {
                limit: MAX_BATCH_BYTES,
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_request(Request::Single(CallType::Track), &bytes, now());
            let _ = parse_request(Request::Batch, &bytes, now());
        }

        #[test]
        fn arbitrary_json_never_panics_the_parser(value in json_value()) {
            let body = value.to_string();
            for request in [Request::Single(CallType::Track), Request::Single(CallType::Alias), Request::Batch] {
                let _ = parse_request(request, body.as_bytes(), now());
            }
            let batch = json!({"batch": [value]}).to_string();
            let _ = parse_request(Request::Batch, batch.as_bytes(), now());
        }
    }

    /// Random JSON that often looks like a tracking call: objects with the spec's field
    /// names and values of every type.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            "\\PC{0,12}".prop_map(Value::String),
            Just(json!("2026-05-01T12:00:00Z")),
            Just(json!("track")),
        ];
        let keys = prop_oneof![
            Just("userId".to_string()),
            Just("anonymousId".to_string()),
            Just("event".to_string()),
            Just("type".to_string()),
            Just("timestamp".to_string()),
            Just("sentAt".to_string()),
            Just("properties".to_string()),
            Just("batch".to_string()),
            Just("previousId".to_string()),
            "[a-z]{1,6}",
        ];
        leaf.prop_recursive(3, 32, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
