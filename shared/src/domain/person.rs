//! A person's profile: the traits we were told (each with the time it was last set) and the
//! behavior computed from their events, kept current on every write so one read answers
//! "how often, how recently, through which channel".

use super::event::{Event, EventKind};
use super::ids::{EmailAddress, GroupId, PersonId};
use crate::error::InvalidField;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How many of the latest events a profile keeps.
pub const RECENT_EVENTS: usize = 20;
/// The key for pages and screens sent without a name. (Not `""`: DynamoDB and its
/// emulators do not agree on empty map keys.)
pub const UNNAMED: &str = "(unnamed)";
/// How many days of daily activity a profile keeps (enough for a quarter's baseline).
pub const DAILY_WINDOW_DAYS: i64 = 120;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    #[serde(default)]
    pub traits: Map<String, Value>,
    /// When each trait was last set: an identify that arrives late cannot overwrite a newer value.
    #[serde(default)]
    pub trait_times: BTreeMap<String, DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    #[serde(default)]
    pub behavior: Behavior,
    /// Accounts (Segment groups) the person belongs to.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub accounts: BTreeSet<GroupId>,
    /// Other ids (anonymous visitors, previous ids) whose history was merged into this person.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub merged_ids: BTreeSet<PersonId>,
    /// Bumped on every change; stores use it for optimistic concurrency.
    #[serde(default)]
    pub version: u64,
}

/// Counts and times for one kind of thing a person does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub count: u64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

/// One of the latest events, as much as a template or an operator needs to see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentEvent {
    pub message_id: String,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Behavior {
    /// Track events, by event name.
    #[serde(default)]
    pub events: BTreeMap<String, Activity>,
    /// Page views, by page name (`UNNAMED` for pages sent without one).
    #[serde(default)]
    pub pages: BTreeMap<String, Activity>,
    /// Screen views, by screen name (`UNNAMED` for screens sent without one).
    #[serde(default)]
    pub screens: BTreeMap<String, Activity>,
    /// Last activity per channel (`web`, `app`, `chat`, `call_center`, ...).
    #[serde(default)]
    pub channels: BTreeMap<String, DateTime<Utc>>,
    /// Events per UTC day, for the last `DAILY_WINDOW_DAYS` days of activity.
    #[serde(default)]
    pub daily: BTreeMap<NaiveDate, u32>,
    /// The latest `RECENT_EVENTS` events, newest first.
    #[serde(default)]
    pub recent: Vec<RecentEvent>,
}

impl Behavior {
    fn record(&mut self, event: &Event) {
        let at = event.timestamp;
        let name = event.name.as_ref().map(|n| n.as_str().to_string());
        let by_name = match event.kind {
            EventKind::Track => Some(&mut self.events),
            EventKind::Page => Some(&mut self.pages),
            EventKind::Screen => Some(&mut self.screens),
            _ => None,
        };
        if let Some(map) = by_name {
            map.entry(name.clone().unwrap_or_else(|| UNNAMED.to_string()))
                .and_modify(|activity| {
                    activity.count += 1;
                    activity.first_at = activity.first_at.min(at);
                    activity.last_at = activity.last_at.max(at);
                })
                .or_insert(Activity {
                    count: 1,
                    first_at: at,
                    last_at: at,
                });
        }
        if let Some(channel) = event.channel() {
            let last = self.channels.entry(channel.to_string()).or_insert(at);
            *last = (*last).max(at);
        }
        let day = at.date_naive();
        let newest = self.daily.keys().next_back().copied().unwrap_or(day).max(day);
        let oldest_kept = newest - Duration::days(DAILY_WINDOW_DAYS - 1);
        if day >= oldest_kept {
            *self.daily.entry(day).or_default() += 1;
        }
        self.daily.retain(|d, _| *d >= oldest_kept);
        let recent = RecentEvent {
            message_id: event.message_id.to_string(),
            kind: event.kind,
            name,
            channel: event.channel().map(|c| c.to_string()),
            timestamp: at,
        };
        let position = self.recent.partition_point(|r| r.timestamp >= at);
        self.recent.insert(position, recent);
        self.recent.truncate(RECENT_EVENTS);
    }

    fn absorb(&mut self, other: Behavior) {
        for (mine, theirs) in [
            (&mut self.events, other.events),
            (&mut self.pages, other.pages),
            (&mut self.screens, other.screens),
        ] {
            for (name, activity) in theirs {
                mine.entry(name)
                    .and_modify(|a| {
                        a.count += activity.count;
                        a.first_at = a.first_at.min(activity.first_at);
                        a.last_at = a.last_at.max(activity.last_at);
                    })
                    .or_insert(activity);
            }
        }
        for (channel, at) in other.channels {
            let last = self.channels.entry(channel).or_insert(at);
            *last = (*last).max(at);
        }
        for (day, count) in other.daily {
            *self.daily.entry(day).or_default() += count;
        }
        if let Some(newest) = self.daily.keys().next_back().copied() {
            self.daily.retain(|d, _| *d > newest - Duration::days(DAILY_WINDOW_DAYS));
        }
        self.recent.extend(other.recent);
        self.recent.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
        self.recent.truncate(RECENT_EVENTS);
    }

    /// Events on the days from `from` to `to`, inclusive.
    pub fn events_between(&self, from: NaiveDate, to: NaiveDate) -> u64 {
        self.daily.range(from..=to).map(|(_, n)| u64::from(*n)).sum()
    }
}

impl Person {
    pub fn new(id: PersonId, first_seen: DateTime<Utc>) -> Self {
        Self {
            id,
            traits: Map::new(),
            trait_times: BTreeMap::new(),
            first_seen,
            last_seen: first_seen,
            behavior: Behavior::default(),
            accounts: BTreeSet::new(),
            merged_ids: BTreeSet::new(),
            version: 0,
        }
    }

    /// The profile after `event`. Traits merge key by key, newest value winning (a `null`
    /// removes one); seen times only widen, so events may arrive in any order.
    pub fn apply(&mut self, event: &Event) {
        self.first_seen = self.first_seen.min(event.timestamp);
        self.last_seen = self.last_seen.max(event.timestamp);
        if matches!(event.kind, EventKind::Identify) {
            merge_traits(&mut self.traits, &mut self.trait_times, &event.traits, event.timestamp);
        }
        if let Some(group) = &event.group_id {
            self.accounts.insert(group.clone());
        }
        self.behavior.record(event);
        self.version += 1;
    }

    /// Takes in the history of `other`, found to be the same person: traits (newest value
    /// per trait wins), seen times, behavior, accounts. The visitor's website behavior
    /// before signup counts for the customer after.
    pub fn absorb(&mut self, other: Person) {
        for (key, value) in other.traits {
            let theirs = other.trait_times.get(&key).copied();
            let ours = self.trait_times.get(&key).copied();
            if !self.traits.contains_key(&key) || theirs > ours {
                self.traits.insert(key.clone(), value);
                if let Some(at) = theirs {
                    self.trait_times.insert(key, at);
                }
            }
        }
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.behavior.absorb(other.behavior);
        self.accounts.extend(other.accounts);
        self.merged_ids.extend(other.merged_ids);
        self.merged_ids.insert(other.id);
        self.version += 1;
    }

    /// The address to write to, from the `email` trait. `None` when there is none;
    /// an error when there is one that is not an address.
    /// The person's timezone (the `timezone` trait, an IANA name such as `Europe/Paris`), or UTC.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.traits
            .get("timezone")
            .and_then(|v| v.as_str())
            .and_then(|name| name.parse().ok())
            .unwrap_or(chrono_tz::Tz::UTC)
    }

    pub fn email(&self) -> Option<Result<EmailAddress, InvalidField>> {
        match self.traits.get("email")? {
            Value::String(text) => Some(EmailAddress::parse(text).map_err(|e| e.within("traits.email"))),
            Value::Null => None,
            _ => Some(Err(InvalidField::new("traits.email", "must be a string"))),
        }
    }

    /// How many times the person did `event` (a track event name).
    pub fn event_count(&self, event: &str) -> u64 {
        self.behavior.events.get(event).map_or(0, |a| a.count)
    }
}

/// Merges `incoming` traits set at `at`: key by key, the newest value wins, and `null`
/// removes a trait. A value older than the one held is ignored.
pub(crate) fn merge_traits(
    traits: &mut Map<String, Value>,
    times: &mut BTreeMap<String, DateTime<Utc>>,
    incoming: &Map<String, Value>,
    at: DateTime<Utc>,
) {
    for (key, value) in incoming {
        if times.get(key).is_some_and(|set_at| *set_at > at) {
            continue;
        }
        times.insert(key.clone(), at);
        if value.is_null() {
            traits.remove(key);
        } else {
            traits.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, EventName, MessageId, SourceId, SourceStamp};
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn event(kind: EventKind, name: Option<&str>, traits: Value, ts: &str) -> Event {
        let mut event = Event::new(
            kind,
            MessageId::parse(&format!("m-{ts}")).unwrap(),
            PersonId::parse("u1").unwrap(),
            at(ts),
        );
        event.name = name.map(|n| EventName::parse(n).unwrap());
        event.traits = traits.as_object().cloned().unwrap_or_default();
        event
    }

    fn person() -> Person {
        Person::new(PersonId::parse("u1").unwrap(), at("2026-01-02T00:00:00Z"))
    }

    #[test]
    fn identify_merges_traits_and_null_removes_one() {
        let mut person = person();
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
    fn an_older_identify_arriving_late_does_not_overwrite_a_newer_trait() {
        let mut person = person();
        person.apply(&event(EventKind::Identify, None, json!({"plan": "team"}), "2026-01-05T00:00:00Z"));
        person.apply(&event(
            EventKind::Identify,
            None,
            json!({"plan": "free", "city": "Oslo"}),
            "2026-01-03T00:00:00Z",
        ));
        assert_eq!(person.traits["plan"], "team");
        assert_eq!(person.traits["city"], "Oslo", "traits the newer identify did not set still merge");
    }

    #[test]
    fn track_counts_by_name_and_late_events_widen_seen_times() {
        let mut person = person();
        person.apply(&event(EventKind::Track, Some("login"), json!({}), "2026-01-05T00:00:00Z"));
        person.apply(&event(EventKind::Track, Some("login"), json!({}), "2026-01-01T00:00:00Z"));
        assert_eq!(person.event_count("login"), 2);
        let login = &person.behavior.events["login"];
        assert_eq!(
            (login.first_at, login.last_at),
            (at("2026-01-01T00:00:00Z"), at("2026-01-05T00:00:00Z"))
        );
        assert_eq!(person.first_seen, at("2026-01-01T00:00:00Z"));
        assert_eq!(person.last_seen, at("2026-01-05T00:00:00Z"));
        assert_eq!(person.event_count("never"), 0);
    }

    #[test]
    fn pages_screens_channels_and_daily_activity_are_kept() {
        let mut person = person();
        let mut page = event(EventKind::Page, Some("Pricing"), json!({}), "2026-01-05T10:00:00Z");
        page.source = Some(SourceStamp {
            source_id: SourceId::parse("site").unwrap(),
            channel: Channel::parse("web").unwrap(),
        });
        person.apply(&page);
        let mut chat = event(EventKind::Track, Some("chat_started"), json!({}), "2026-01-05T11:00:00Z");
        chat.source = Some(SourceStamp {
            source_id: SourceId::parse("intercom").unwrap(),
            channel: Channel::parse("chat").unwrap(),
        });
        person.apply(&chat);
        person.apply(&event(EventKind::Screen, None, json!({}), "2026-01-06T09:00:00Z"));
        assert_eq!(person.behavior.pages["Pricing"].count, 1);
        assert_eq!(person.behavior.screens[UNNAMED].count, 1);
        assert_eq!(person.behavior.channels["web"], at("2026-01-05T10:00:00Z"));
        assert_eq!(person.behavior.channels["chat"], at("2026-01-05T11:00:00Z"));
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(person.behavior.daily[&day("2026-01-05")], 2);
        assert_eq!(person.behavior.events_between(day("2026-01-01"), day("2026-01-31")), 3);
    }

    #[test]
    fn recent_events_are_the_latest_newest_first_and_bounded() {
        let mut person = person();
        for day in 1..=25 {
            person.apply(&event(
                EventKind::Track,
                Some("x"),
                json!({}),
                &format!("2026-02-{day:02}T00:00:00Z"),
            ));
        }
        person.apply(&event(EventKind::Track, Some("late"), json!({}), "2026-02-10T12:00:00Z"));
        let recent = &person.behavior.recent;
        assert_eq!(recent.len(), RECENT_EVENTS);
        assert_eq!(recent[0].timestamp, at("2026-02-25T00:00:00Z"));
        assert!(recent.windows(2).all(|w| w[0].timestamp >= w[1].timestamp));
        assert!(
            recent.iter().any(|r| r.name.as_deref() == Some("late")),
            "a late event lands in its place"
        );
    }

    #[test]
    fn daily_activity_keeps_a_bounded_window() {
        let mut person = person();
        person.apply(&event(EventKind::Track, Some("x"), json!({}), "2025-01-01T00:00:00Z"));
        person.apply(&event(EventKind::Track, Some("x"), json!({}), "2026-01-01T00:00:00Z"));
        assert_eq!(person.behavior.daily.len(), 1, "a day outside the window is dropped");
        person.apply(&event(EventKind::Track, Some("x"), json!({}), "2025-06-01T00:00:00Z"));
        assert_eq!(person.behavior.daily.len(), 1, "an old event does not re-enter it");
    }

    #[test]
    fn group_links_an_account() {
        let mut person = person();
        let mut group = event(EventKind::Group, None, json!({}), "2026-01-05T00:00:00Z");
        group.group_id = Some(GroupId::parse("acme").unwrap());
        person.apply(&group);
        assert!(person.accounts.contains(&GroupId::parse("acme").unwrap()));
    }

    #[test]
    fn absorbing_an_anonymous_visitor_keeps_their_history_and_the_newest_traits() {
        let mut visitor = Person::new(PersonId::parse("anon-1").unwrap(), at("2026-01-01T00:00:00Z"));
        visitor.apply(&event(EventKind::Page, Some("Pricing"), json!({}), "2026-01-01T10:00:00Z"));
        visitor.apply(&event(EventKind::Track, Some("login"), json!({}), "2026-01-01T11:00:00Z"));
        visitor.apply(&event(
            EventKind::Identify,
            None,
            json!({"utm_source": "ads", "plan": "free"}),
            "2026-01-01T12:00:00Z",
        ));
        let mut customer = person();
        customer.apply(&event(EventKind::Identify, None, json!({"plan": "pro"}), "2026-01-02T00:00:00Z"));
        customer.apply(&event(EventKind::Track, Some("login"), json!({}), "2026-01-02T01:00:00Z"));
        customer.absorb(visitor);
        assert_eq!(customer.behavior.pages["Pricing"].count, 1, "the visit before signup counts");
        assert_eq!(customer.event_count("login"), 2);
        assert_eq!(customer.behavior.events["login"].first_at, at("2026-01-01T11:00:00Z"));
        assert_eq!(customer.traits["plan"], "pro", "the newer trait wins");
        assert_eq!(customer.traits["utm_source"], "ads", "traits only the visitor had come along");
        assert_eq!(customer.first_seen, at("2026-01-01T00:00:00Z"));
        assert_eq!(customer.behavior.recent.len(), 5);
        assert!(customer.behavior.recent.windows(2).all(|w| w[0].timestamp >= w[1].timestamp));
        assert!(customer.merged_ids.contains(&PersonId::parse("anon-1").unwrap()));
    }

    #[test]
    fn an_identified_call_with_an_anonymous_id_or_an_alias_links_the_other_id() {
        let mut identify = event(EventKind::Identify, None, json!({}), "2026-01-02T00:00:00Z");
        assert_eq!(identify.linked_id(), None, "no userId, nothing to link");
        identify.user_id = Some(PersonId::parse("u1").unwrap());
        identify.anonymous_id = Some(PersonId::parse("anon-1").unwrap());
        assert_eq!(identify.linked_id().unwrap().as_str(), "anon-1");
        let mut alias = event(EventKind::Alias, None, json!({}), "2026-01-02T00:00:00Z");
        alias.user_id = Some(PersonId::parse("u1").unwrap());
        alias.previous_id = Some(PersonId::parse("old-id").unwrap());
        assert_eq!(alias.linked_id().unwrap().as_str(), "old-id");
        alias.previous_id = Some(PersonId::parse("u1").unwrap());
        assert_eq!(alias.linked_id(), None, "an id is not linked to itself");
    }

    #[test]
    fn email_trait_must_be_an_address() {
        let mut person = person();
        assert!(person.email().is_none());
        person.traits.insert("email".into(), json!("not-an-address"));
        assert_eq!(person.email().unwrap().unwrap_err().field, "traits.email");
        person.traits.insert("email".into(), json!(42));
        assert!(person.email().unwrap().is_err());
    }
}
