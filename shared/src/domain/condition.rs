//! Conditions campaigns are made of: tests on event properties (`where`), on traits,
//! account traits and computed behavior (`audience`, `branch`). Written in campaign files,
//! checked when the file is read (serde `try_from`, so a mistake is reported with its line),
//! evaluated here, purely.

use super::event::Event;
use super::ids::{Channel, EventName};
use super::{Account, Person};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// A length of time as campaign files write it: `90s`, `30m`, `12h`, `3d`, `2w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span(Duration);

impl Span {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let unit_at = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(unit_at);
        let number: i64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration (write 90s, 30m, 12h, 3d or 2w)"))?;
        let span = match unit.trim() {
            "s" => Duration::seconds(number),
            "m" => Duration::minutes(number),
            "h" => Duration::hours(number),
            "d" => Duration::days(number),
            "w" => Duration::weeks(number),
            _ => return Err(format!("{text:?} is not a duration (write 90s, 30m, 12h, 3d or 2w)")),
        };
        if span <= Duration::zero() {
            return Err(format!("{text:?} must be longer than zero"));
        }
        Ok(Self(span))
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value)
    }
}

impl From<Span> for String {
    fn from(span: Span) -> String {
        span.to_string()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.num_seconds();
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
            if seconds % size == 0 {
                return write!(f, "{}{unit}", seconds / size);
            }
        }
        write!(f, "{seconds}s")
    }
}

/// A test on one value. In files: `{ equals: "pro" }`, `{ in: [a, b] }`, `{ gte: 3 }`,
/// `{ contains: "x" }`, `{ exists: true }`, `{ not_equals: … }`, `{ gt | lt | lte: n }`;
/// a bare value means `equals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTest", into = "RawTest")]
pub enum Test {
    Equals(Value),
    NotEquals(Value),
    /// A string containing the text, or a list containing the value.
    Contains(Value),
    GreaterThan(f64),
    AtLeast(f64),
    LessThan(f64),
    AtMost(f64),
    Exists(bool),
    In(Vec<Value>),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTestOps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    equals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_equals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contains: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exists: Option<bool>,
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    one_of: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawTest {
    Ops(RawTestOps),
    Value(Value),
}

impl TryFrom<RawTest> for Test {
    type Error = String;
    fn try_from(raw: RawTest) -> Result<Self, String> {
        let ops = match raw {
            RawTest::Value(Value::Object(map)) => {
                let keys: Vec<&String> = map.keys().collect();
                return Err(format!(
                    "unknown test {keys:?}: use equals, not_equals, contains, gt, gte, lt, lte, exists or in"
                ));
            }
            RawTest::Value(value) => return Ok(Self::Equals(value)),
            RawTest::Ops(ops) => ops,
        };
        let mut tests = Vec::new();
        if let Some(v) = ops.equals {
            tests.push(Self::Equals(v));
        }
        if let Some(v) = ops.not_equals {
            tests.push(Self::NotEquals(v));
        }
        if let Some(v) = ops.contains {
            tests.push(Self::Contains(v));
        }
        if let Some(v) = ops.gt {
            tests.push(Self::GreaterThan(v));
        }
        if let Some(v) = ops.gte {
            tests.push(Self::AtLeast(v));
        }
        if let Some(v) = ops.lt {
            tests.push(Self::LessThan(v));
        }
        if let Some(v) = ops.lte {
            tests.push(Self::AtMost(v));
        }
        if let Some(v) = ops.exists {
            tests.push(Self::Exists(v));
        }
        if let Some(v) = ops.one_of {
            tests.push(Self::In(v));
        }
        match tests.len() {
            1 => Ok(tests.remove(0)),
            0 => Err("a test needs one of equals, not_equals, contains, gt, gte, lt, lte, exists, in".into()),
            _ => Err("one test per condition: write two conditions to test twice".into()),
        }
    }
}

impl From<Test> for RawTest {
    fn from(test: Test) -> Self {
        let mut ops = RawTestOps::default();
        match test {
            Test::Equals(v) => return RawTest::Value(v),
            Test::NotEquals(v) => ops.not_equals = Some(v),
            Test::Contains(v) => ops.contains = Some(v),
            Test::GreaterThan(v) => ops.gt = Some(v),
            Test::AtLeast(v) => ops.gte = Some(v),
            Test::LessThan(v) => ops.lt = Some(v),
            Test::AtMost(v) => ops.lte = Some(v),
            Test::Exists(v) => ops.exists = Some(v),
            Test::In(v) => ops.one_of = Some(v),
        }
        RawTest::Ops(ops)
    }
}

impl Test {
    /// Whether `value` (absent: `None`) passes. Numbers compare as numbers, also when
    /// sent as strings ("42"); a missing value passes only `exists: false` and `not_equals`.
    pub fn passes(&self, value: Option<&Value>) -> bool {
        let value = value.filter(|v| !v.is_null());
        let number = value.and_then(as_number);
        match self {
            Self::Exists(expected) => value.is_some() == *expected,
            Self::Equals(expected) => value.is_some_and(|v| same(v, expected)),
            Self::NotEquals(expected) => !value.is_some_and(|v| same(v, expected)),
            Self::In(options) => value.is_some_and(|v| options.iter().any(|o| same(v, o))),
            Self::Contains(needle) => match value {
                Some(Value::String(text)) => needle.as_str().is_some_and(|n| text.contains(n)),
                Some(Value::Array(items)) => items.iter().any(|item| same(item, needle)),
                _ => false,
            },
            Self::GreaterThan(n) => number.is_some_and(|v| v > *n),
            Self::AtLeast(n) => number.is_some_and(|v| v >= *n),
            Self::LessThan(n) => number.is_some_and(|v| v < *n),
            Self::AtMost(n) => number.is_some_and(|v| v <= *n),
        }
    }
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Equal as JSON, or as numbers ("42" and 42), or as strings ignoring ASCII case.
fn same(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
        return x == y;
    }
    matches!((a, b), (Value::String(x), Value::String(y)) if x.eq_ignore_ascii_case(y))
}

/// `path.to.value` in a JSON object (event properties, traits).
pub fn lookup<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = object.get(parts.next()?)?;
    for part in parts {
        value = match value {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Tests on an event's properties: `where: { plan: pro, total: { gte: 100 } }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PropertyFilters(pub BTreeMap<String, Test>);

impl PropertyFilters {
    pub fn match_properties(&self, properties: &Map<String, Value>) -> bool {
        self.0.iter().all(|(path, test)| test.passes(lookup(properties, path)))
    }
}

/// An event name and tests on its properties: a trigger, a goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    pub event: EventName,
    #[serde(default, rename = "where", skip_serializing_if = "is_empty")]
    pub filters: PropertyFilters,
}

fn is_empty(filters: &PropertyFilters) -> bool {
    filters.0.is_empty()
}

impl EventMatch {
    pub fn matches(&self, event: &Event) -> bool {
        event.is_track_of(&self.event) && self.filters.match_properties(&event.properties)
    }
}

/// When a behavior condition looks: a window before now, or since the journey began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    Ever,
    Within(Span),
    SinceTrigger,
}

/// A test on a person at a moment: `audience` (when they enter) and `branch` (at that step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCondition", into = "RawCondition")]
pub enum Condition {
    /// `trait: plan` + a test.
    Trait { name: String, test: Test },
    /// `account_trait: seats` + a test: the traits of the person's account.
    AccountTrait { name: String, test: Test },
    /// `did: logged_in`, `at_least: 3`, `within: 14d` or `since: trigger`.
    Did { event: EventName, at_least: u64, window: Window },
    /// `did_not: completed_onboarding`, `within: 3d` or `since: trigger`.
    DidNot { event: EventName, window: Window },
    /// `last_seen: { more_than: 7d }` or `{ less_than: 1d }`.
    LastSeen { more_than: Option<Span>, less_than: Option<Span> },
    /// `active_on: chat`, `within: 30d`: any activity on that channel in the window.
    ActiveOn { channel: Channel, within: Span },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    #[serde(default, rename = "trait", skip_serializing_if = "Option::is_none")]
    trait_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_trait: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    did: Option<EventName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    did_not: Option<EventName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at_least: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    within: Option<Span>,
    /// Only `trigger`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seen: Option<LastSeenRaw>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    active_on: Option<Channel>,
    /// The test, for `trait` and `account_trait` (as in `Test`).
    #[serde(flatten)]
    test: RawTestOps,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastSeenRaw {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    more_than: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    less_than: Option<Span>,
}

impl TryFrom<RawCondition> for Condition {
    type Error = String;
    fn try_from(raw: RawCondition) -> Result<Self, String> {
        let kinds = [
            raw.trait_name.is_some(),
            raw.account_trait.is_some(),
            raw.did.is_some(),
            raw.did_not.is_some(),
            raw.last_seen.is_some(),
            raw.active_on.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err("a condition is one of: trait, account_trait, did, did_not, last_seen, active_on".into());
        }
        let window = || -> Result<Window, String> {
            match (&raw.within, raw.since.as_deref()) {
                (Some(_), Some(_)) => Err("give `within` or `since`, not both".into()),
                (Some(span), None) => Ok(Window::Within(*span)),
                (None, Some("trigger")) => Ok(Window::SinceTrigger),
                (None, Some(other)) => Err(format!("since: {other:?}: only `since: trigger` is known")),
                (None, None) => Ok(Window::Ever),
            }
        };
        let test = || -> Result<Test, String> { Test::try_from(RawTest::Ops(raw.test.clone())) };
        let no_test = |what: &str| -> Result<(), String> {
            let ops = &raw.test;
            let any = ops.equals.is_some()
                || ops.not_equals.is_some()
                || ops.contains.is_some()
                || ops.gt.is_some()
                || ops.gte.is_some()
                || ops.lt.is_some()
                || ops.lte.is_some()
                || ops.exists.is_some()
                || ops.one_of.is_some();
            if any {
                return Err(format!("{what} takes no equals/gte/… test"));
            }
            Ok(())
        };
        if let Some(name) = raw.trait_name.clone() {
            return Ok(Self::Trait { name, test: test()? });
        }
        if let Some(name) = raw.account_trait.clone() {
            return Ok(Self::AccountTrait { name, test: test()? });
        }
        if let Some(event) = raw.did.clone() {
            no_test("did")?;
            return Ok(Self::Did {
                event,
                at_least: raw.at_least.unwrap_or(1).max(1),
                window: window()?,
            });
        }
        if let Some(event) = raw.did_not.clone() {
            no_test("did_not")?;
            if raw.at_least.is_some() {
                return Err("did_not takes no at_least".into());
            }
            return Ok(Self::DidNot { event, window: window()? });
        }
        if let Some(last_seen) = raw.last_seen.clone() {
            no_test("last_seen")?;
            if last_seen.more_than.is_none() && last_seen.less_than.is_none() {
                return Err("last_seen needs more_than or less_than".into());
            }
            return Ok(Self::LastSeen {
                more_than: last_seen.more_than,
                less_than: last_seen.less_than,
            });
        }
        let channel = raw.active_on.clone().expect("one kind is set");
        no_test("active_on")?;
        let within = raw.within.ok_or("active_on needs `within`")?;
        Ok(Self::ActiveOn { channel, within })
    }
}

impl From<Condition> for RawCondition {
    fn from(condition: Condition) -> Self {
        let mut raw = RawCondition::default();
        let set_window = |raw: &mut RawCondition, window: Window| match window {
            Window::Ever => {}
            Window::Within(span) => raw.within = Some(span),
            Window::SinceTrigger => raw.since = Some("trigger".into()),
        };
        let ops = |test: Test| match RawTest::from(test) {
            RawTest::Ops(ops) => ops,
            RawTest::Value(value) => RawTestOps {
                equals: Some(value),
                ..RawTestOps::default()
            },
        };
        match condition {
            Condition::Trait { name, test } => {
                raw.trait_name = Some(name);
                raw.test = ops(test);
            }
            Condition::AccountTrait { name, test } => {
                raw.account_trait = Some(name);
                raw.test = ops(test);
            }
            Condition::Did { event, at_least, window } => {
                raw.did = Some(event);
                raw.at_least = (at_least > 1).then_some(at_least);
                set_window(&mut raw, window);
            }
            Condition::DidNot { event, window } => {
                raw.did_not = Some(event);
                set_window(&mut raw, window);
            }
            Condition::LastSeen { more_than, less_than } => raw.last_seen = Some(LastSeenRaw { more_than, less_than }),
            Condition::ActiveOn { channel, within } => {
                raw.active_on = Some(channel);
                raw.within = Some(within);
            }
        }
        raw
    }
}

/// What a condition is evaluated against: the person at `now`, their account, and their
/// recent track events (newest first) for counting within windows.
pub struct Facts<'a> {
    pub person: &'a Person,
    pub account: Option<&'a Account>,
    pub events: &'a [Event],
    /// When the journey began (`since: trigger`).
    pub trigger_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

impl Condition {
    pub fn holds(&self, facts: &Facts<'_>) -> bool {
        match self {
            Self::Trait { name, test } => test.passes(lookup(&facts.person.traits, name)),
            Self::AccountTrait { name, test } => test.passes(facts.account.and_then(|a| lookup(&a.traits, name))),
            Self::Did { event, at_least, window } => count(facts, event, *window) >= *at_least,
            Self::DidNot { event, window } => count(facts, event, *window) == 0,
            Self::LastSeen { more_than, less_than } => {
                let since = facts.now - facts.person.last_seen;
                more_than.is_none_or(|m| since > m.duration()) && less_than.is_none_or(|l| since < l.duration())
            }
            Self::ActiveOn { channel, within } => facts
                .person
                .behavior
                .channels
                .get(channel.as_str())
                .is_some_and(|last| facts.now - *last <= within.duration()),
        }
    }

    /// Whether this condition reads the person's events (so the caller must load them).
    pub fn needs_events(&self) -> bool {
        matches!(
            self,
            Self::Did {
                window: Window::Within(_) | Window::SinceTrigger,
                ..
            } | Self::DidNot {
                window: Window::Within(_) | Window::SinceTrigger,
                ..
            }
        )
    }
}

/// How many `name` events fall in the window, up to `now` (events after `now` are in the
/// future of the moment being evaluated: a step due at 09:00 does not see 09:05).
fn count(facts: &Facts<'_>, name: &EventName, window: Window) -> u64 {
    let after = match window {
        // Computed behavior counts every occurrence ever, not only the recent events loaded.
        Window::Ever => {
            return facts.person.behavior.events.get(name.as_str()).map_or(0, |a| a.count);
        }
        Window::Within(span) => facts.now - span.duration(),
        Window::SinceTrigger => facts.trigger_at,
    };
    facts
        .events
        .iter()
        .filter(|e| e.is_track_of(name) && e.timestamp > after && e.timestamp <= facts.now)
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventKind, MessageId, PersonId};
    use chrono::TimeZone;
    use serde_json::json;

    fn parse<T: serde::de::DeserializeOwned>(yaml: &str) -> Result<T, String> {
        serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn spans_read_and_print() {
        assert_eq!(Span::parse("3d").unwrap().duration(), Duration::days(3));
        assert_eq!(Span::parse("90s").unwrap().to_string(), "90s");
        assert_eq!(Span::parse("36h").unwrap().to_string(), "36h");
        assert!(Span::parse("3 days").is_err() && Span::parse("0d").is_err() && Span::parse("d").is_err());
    }

    #[test]
    fn tests_compare_values_numbers_and_lists() {
        let t = |yaml: &str| parse::<Test>(yaml).unwrap();
        assert!(t("pro").passes(Some(&json!("Pro"))));
        assert!(t("{ in: [pro, team] }").passes(Some(&json!("team"))));
        assert!(t("{ gte: 100 }").passes(Some(&json!("120"))));
        assert!(!t("{ gt: 100 }").passes(Some(&json!(100))));
        assert!(t("{ contains: sale }").passes(Some(&json!("summer sale"))));
        assert!(t("{ contains: rust }").passes(Some(&json!(["go", "rust"]))));
        assert!(t("{ exists: false }").passes(None) && t("{ exists: false }").passes(Some(&Value::Null)));
        assert!(t("{ not_equals: free }").passes(None));
        assert!(!t("{ lt: 5 }").passes(None));
        assert!(parse::<Test>("{ gte: 1, lte: 5 }").unwrap_err().contains("one test per condition"));
        assert!(parse::<Test>("{ greater: 1 }").is_err());
    }

    #[test]
    fn conditions_read_with_clear_errors() {
        let c = parse::<Condition>("{ did: logged_in, at_least: 3, within: 14d }").unwrap();
        assert_eq!(
            c,
            Condition::Did {
                event: EventName::parse("logged_in").unwrap(),
                at_least: 3,
                window: Window::Within(Span::parse("14d").unwrap())
            }
        );
        let round_trip: Condition = serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&c).unwrap()).unwrap();
        assert_eq!(round_trip, c);
        assert!(parse::<Condition>("{ trait: plan, equals: pro }").is_ok());
        assert!(parse::<Condition>("{ trait: plan, did: x }")
            .unwrap_err()
            .contains("a condition is one of"));
        assert!(parse::<Condition>("{ did: x, since: yesterday }")
            .unwrap_err()
            .contains("since: trigger"));
        assert!(parse::<Condition>("{ did: x, equals: 3 }").unwrap_err().contains("takes no"));
        assert!(parse::<Condition>("{ last_seen: {} }").is_err());
        assert!(parse::<Condition>("{ trait: plan, equls: pro }").is_err());
    }

    fn person() -> Person {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let mut person = Person::new(PersonId::parse("u1").unwrap(), start);
        person.traits = json!({"plan": "pro", "address": {"country": "FR"}}).as_object().cloned().unwrap();
        person
    }

    fn login(minutes: i64) -> Event {
        let at = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap() + Duration::minutes(minutes);
        let mut e = Event::new(
            EventKind::Track,
            MessageId::parse(&format!("l{minutes}")).unwrap(),
            PersonId::parse("u1").unwrap(),
            at,
        );
        e.name = Some(EventName::parse("logged_in").unwrap());
        e
    }

    #[test]
    fn behavior_conditions_count_within_windows_up_to_now() {
        let person = person();
        let events: Vec<Event> = [-60 * 24 * 20, -60 * 24 * 2, -60, 30].into_iter().map(login).collect();
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let facts = Facts {
            person: &person,
            account: None,
            events: &events,
            trigger_at: now - Duration::hours(3),
            now,
        };
        let c = |yaml: &str| parse::<Condition>(yaml).unwrap().holds(&facts);
        assert!(
            c("{ did: logged_in, at_least: 2, within: 14d }"),
            "two in 14 days (the one in the future is not seen)"
        );
        assert!(!c("{ did: logged_in, at_least: 3, within: 14d }"));
        assert!(c("{ did: logged_in, since: trigger }"));
        assert!(c("{ did_not: completed_onboarding, since: trigger }"));
        assert!(c("{ trait: address.country, in: [FR, DE] }"));
        assert!(c("{ account_trait: seats, exists: false }"));
    }
}
