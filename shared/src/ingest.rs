//! Turning a tracking call (Segment's `track` / `identify` JSON) into an `Event` and storing it.
//! Parsing names the exact field that is wrong; storing is durable before we say yes.

use crate::domain::{Event, EventKind, EventName, MessageId, PersonId};
use crate::error::{InvalidField, PortError};
use crate::ports::{EventLog, Recorded};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The tracking calls the API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    Track,
    Identify,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("invalid {0}")]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Store(#[from] PortError),
}

/// Parses one call's JSON body. A call without `messageId` gets one, as Segment does; a
/// call without `timestamp` happened when we received it.
pub fn parse_call(call: CallType, body: &[u8], received_at: DateTime<Utc>) -> Result<Event, InvalidField> {
    let value: Value = serde_json::from_slice(body).map_err(|e| InvalidField::new("body", format!("is not valid JSON ({e})")))?;
    let Value::Object(fields) = value else {
        return Err(InvalidField::new("body", "must be a JSON object"));
    };
    let person_id = match (text_field(&fields, "userId")?, text_field(&fields, "anonymousId")?) {
        (Some(id), _) => parse_as(PersonId::parse, &id, "userId")?,
        (None, Some(id)) => parse_as(PersonId::parse, &id, "anonymousId")?,
        (None, None) => return Err(InvalidField::new("userId", "userId or anonymousId is required")),
    };
    let message_id = match text_field(&fields, "messageId")? {
        Some(id) => parse_as(MessageId::parse, &id, "messageId")?,
        None => MessageId::parse(&format!("nudge-{}", uuid::Uuid::new_v4())).expect("generated ids are valid"),
    };
    let timestamp = match fields.get("timestamp") {
        None | Some(Value::Null) => received_at,
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map_err(|e| InvalidField::new("timestamp", format!("is not an ISO-8601 date-time ({e})")))?
            .with_timezone(&Utc),
        Some(_) => return Err(InvalidField::new("timestamp", "must be an ISO-8601 string")),
    };
    let (kind, name) = match call {
        CallType::Track => {
            let name = text_field(&fields, "event")?.ok_or_else(|| InvalidField::new("event", "is required for track"))?;
            (EventKind::Track, Some(parse_as(EventName::parse, &name, "event")?))
        }
        CallType::Identify => (EventKind::Identify, None),
    };
    Ok(Event {
        message_id,
        person_id,
        kind,
        name,
        properties: object_field(&fields, "properties")?,
        traits: object_field(&fields, "traits")?,
        timestamp,
        received_at,
    })
}

/// Parses and durably records one call.
pub async fn accept<L: EventLog>(
    log: &L,
    call: CallType,
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<(Event, Recorded), IngestError> {
    let event = parse_call(call, body, received_at)?;
    let recorded = log.record(&event).await?;
    Ok((event, recorded))
}

fn parse_as<T>(parse: fn(&str) -> Result<T, InvalidField>, text: &str, field: &str) -> Result<T, InvalidField> {
    parse(text).map_err(|e| e.within(field))
}

/// Segment's libraries send ids as strings, some callers as numbers: take both.
fn text_field(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, InvalidField> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => Err(InvalidField::new(name, "must be a string")),
    }
}

fn object_field(fields: &Map<String, Value>, name: &str) -> Result<Map<String, Value>, InvalidField> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(object)) => Ok(object.clone()),
        Some(_) => Err(InvalidField::new(name, "must be a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    fn field_of(call: CallType, body: &str) -> String {
        parse_call(call, body.as_bytes(), now()).unwrap_err().field
    }

    #[test]
    fn track_parses_segment_fields() {
        let body = r#"{"userId":"u1","event":"signed_up","messageId":"m1","timestamp":"2026-04-30T10:00:00Z","properties":{"plan":"pro"},"context":{}}"#;
        let event = parse_call(CallType::Track, body.as_bytes(), now()).unwrap();
        assert_eq!(event.person_id.as_str(), "u1");
        assert_eq!(event.name.unwrap().as_str(), "signed_up");
        assert_eq!(event.message_id.as_str(), "m1");
        assert_eq!(event.timestamp, Utc.with_ymd_and_hms(2026, 4, 30, 10, 0, 0).unwrap());
        assert_eq!(event.properties["plan"], "pro");
        assert_eq!(event.received_at, now());
    }

    #[test]
    fn identify_takes_traits_and_anonymous_id_and_fills_defaults() {
        let event = parse_call(
            CallType::Identify,
            br#"{"anonymousId":"a1","traits":{"email":"a@example.com"}}"#,
            now(),
        )
        .unwrap();
        assert_eq!(event.person_id.as_str(), "a1");
        assert_eq!(event.kind, EventKind::Identify);
        assert_eq!(event.timestamp, now());
        assert!(event.message_id.as_str().starts_with("nudge-"));
    }

    #[test]
    fn each_bad_input_names_its_field() {
        assert_eq!(field_of(CallType::Track, "nope"), "body");
        assert_eq!(field_of(CallType::Track, "[1]"), "body");
        assert_eq!(field_of(CallType::Track, r#"{"event":"x"}"#), "userId");
        assert_eq!(field_of(CallType::Track, r#"{"userId":"u"}"#), "event");
        assert_eq!(field_of(CallType::Track, r#"{"userId":"u","event":""}"#), "event");
        assert_eq!(field_of(CallType::Track, r#"{"userId":{},"event":"x"}"#), "userId");
        assert_eq!(
            field_of(CallType::Track, r#"{"userId":"u","event":"x","timestamp":"yesterday"}"#),
            "timestamp"
        );
        assert_eq!(
            field_of(CallType::Track, r#"{"userId":"u","event":"x","properties":[]}"#),
            "properties"
        );
        assert_eq!(field_of(CallType::Identify, r#"{"userId":"u","traits":"x"}"#), "traits");
        assert_eq!(field_of(CallType::Identify, r#"{"userId":"u","messageId":true}"#), "messageId");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_call(CallType::Track, &bytes, now());
        }

        #[test]
        fn arbitrary_json_objects_never_panic_the_parser(
            user in proptest::option::of("\\PC{0,20}"),
            event in proptest::option::of("\\PC{0,20}"),
            ts in proptest::option::of("\\PC{0,30}"),
        ) {
            let body = serde_json::json!({"userId": user, "event": event, "timestamp": ts}).to_string();
            let _ = parse_call(CallType::Track, body.as_bytes(), now());
        }
    }
}
