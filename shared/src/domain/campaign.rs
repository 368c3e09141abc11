//! Campaigns: who enters (a trigger event, audience conditions, a re-entry policy), and
//! the steps they go through (waits, branches, sends, exit), until the steps end or the
//! goal event happens. Written as YAML files (`campaigns/*.yaml`); see docs/campaigns.md.
//!
//! ```yaml
//! id: onboarding-nudge
//! name: Nudge people who have not finished onboarding
//! trigger: { event: signed_up }
//! goal: { event: completed_onboarding }
//! steps:
//!   - wait: 3d
//!   - send: { template: onboarding-nudge, topic: product_tips }
//! ```

use super::catalog::CatalogItem;
use super::condition::{Condition, EventMatch, Span};
use super::event::Event;
use super::ids::{CampaignId, Collection, TemplateName, Topic};
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Transactional mail (receipts, password resets) is sent even to people who unsubscribed
/// from marketing; marketing mail is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MessageClass {
    Transactional,
    #[default]
    Marketing,
}

/// How often one person may enter a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawReentry", into = "RawReentry")]
pub enum Reentry {
    /// Once ever (per object, for object-keyed campaigns).
    Once,
    /// Again once this long has passed since the last entry.
    Every(Span),
    /// On every trigger.
    Always,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawReentry {
    Word(String),
    Every { every: Span },
}

impl TryFrom<RawReentry> for Reentry {
    type Error = String;
    fn try_from(raw: RawReentry) -> Result<Self, String> {
        match raw {
            RawReentry::Word(word) if word == "once" => Ok(Self::Once),
            RawReentry::Word(word) if word == "always" => Ok(Self::Always),
            RawReentry::Word(word) => Err(format!("reentry {word:?}: write once, always, or {{ every: 30d }}")),
            RawReentry::Every { every } => Ok(Self::Every(every)),
        }
    }
}

impl From<Reentry> for RawReentry {
    fn from(reentry: Reentry) -> Self {
        match reentry {
            Reentry::Once => Self::Word("once".into()),
            Reentry::Always => Self::Word("always".into()),
            Reentry::Every(every) => Self::Every { every },
        }
    }
}

/// A time of day in the person's timezone, `"09:30"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalTime(NaiveTime);

impl TryFrom<String> for LocalTime {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        NaiveTime::parse_from_str(text.trim(), "%H:%M")
            .map(Self)
            .map_err(|_| format!("{text:?} is not a time of day (write 09:30)"))
    }
}

impl From<LocalTime> for String {
    fn from(time: LocalTime) -> String {
        time.0.format("%H:%M").to_string()
    }
}

/// A pause: for a while, or until a time of day (on some weekdays) where the person is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Wait {
    For(Span),
    Until {
        until: LocalTime,
        /// `[mon, tue, …]`; empty: any day.
        #[serde(default, skip_serializing_if = "Vec::is_empty", with = "weekdays")]
        days: Vec<Weekday>,
    },
}

mod weekdays {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(days: &[Weekday], serializer: S) -> Result<S::Ok, S::Error> {
        let names: Vec<String> = days.iter().map(|d| d.to_string().to_lowercase()).collect();
        names.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Weekday>, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        names
            .iter()
            .map(|name| {
                name.parse::<Weekday>()
                    .map_err(|_| serde::de::Error::custom(format!("{name:?} is not a weekday (mon, tue, …)")))
            })
            .collect()
    }
}

impl Wait {
    /// When a wait that starts at `from` ends, for a person in `tz`.
    pub fn ends(&self, from: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        match self {
            Self::For(span) => from + span.duration(),
            Self::Until { until, days } => {
                let local = from.with_timezone(&tz);
                (0..=7)
                    .filter_map(|offset| {
                        let date = local.date_naive() + Duration::days(offset);
                        let at = tz.from_local_datetime(&date.and_time(until.0)).earliest()?;
                        let on_day = days.is_empty() || days.contains(&date.weekday());
                        (on_day && at > local).then(|| at.with_timezone(&Utc))
                    })
                    .next()
                    .unwrap_or(from)
            }
        }
    }
}

/// Where a branch sends the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    #[default]
    Continue,
    Exit,
}

/// A decision at this point of the journey: `if` (all of the conditions) then / else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    #[serde(rename = "if", with = "one_or_many")]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub then: Route,
    #[serde(default, rename = "else")]
    pub otherwise: Route,
}

mod one_or_many {
    use super::Condition;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Condition>),
        One(Condition),
    }

    pub fn serialize<S: Serializer>(conditions: &[Condition], serializer: S) -> Result<S::Ok, S::Error> {
        conditions.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Condition>, D::Error> {
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::Many(many) => many,
            OneOrMany::One(one) => vec![one],
        })
    }
}

/// One email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// Stable name of this send, part of its dedup key: keep it when editing the campaign.
    /// Default: `send-<n>`, the send's position among the campaign's sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub template: TemplateName,
    #[serde(default)]
    pub class: MessageClass,
    /// Marketing mail's subscription topic: what its unsubscribe link leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Topic>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    Wait(Wait),
    Branch(Branch),
    Send(SendStep),
    Exit,
}

/// What starts a journey: an event (with tests on its properties), or new content in a
/// catalog collection, for the people interested in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Trigger {
    Event(EventMatch),
    ContentAdded {
        content_added: ContentTrigger,
    },
    /// `segment: [conditions]`: the person enters when, after any of their events, all the
    /// conditions hold (they joined the segment), once (or once per `every`).
    Segment {
        segment: Vec<Condition>,
    },
}

/// `content_added: { collection: posts, match: { item: tags, person: interests } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentTrigger {
    pub collection: Collection,
    /// Who is interested; absent: everyone in the audience.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub interest: Option<Interest>,
}

/// Interest: the item's `item` field (a value or a list) shares a value with the person's
/// `person` trait, or (`viewed: pages`) with the names of pages they viewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interest {
    pub item: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewed: Option<Viewed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Viewed {
    Pages,
}

impl ContentTrigger {
    /// Whether `person` is interested in `item`.
    pub fn interests(&self, item: &CatalogItem, person: &super::Person) -> bool {
        let Some(interest) = &self.interest else {
            return true;
        };
        let values = |value: Option<&serde_json::Value>| -> Vec<String> {
            match value {
                Some(serde_json::Value::Array(items)) => items.iter().filter_map(text_of).collect(),
                Some(other) => text_of(other).into_iter().collect(),
                None => Vec::new(),
            }
        };
        let wanted = values(super::condition::lookup(&item.fields, &interest.item));
        let mut theirs = values(interest.person.as_deref().and_then(|t| super::condition::lookup(&person.traits, t)));
        if interest.viewed == Some(Viewed::Pages) {
            theirs.extend(person.behavior.pages.keys().map(|k| k.to_lowercase()));
        }
        wanted.iter().any(|w| theirs.contains(w))
    }
}

fn text_of(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.to_lowercase()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCampaign", into = "RawCampaign")]
pub struct Campaign {
    pub id: CampaignId,
    pub name: String,
    pub trigger: Trigger,
    /// Who may enter, checked when the trigger happens.
    pub audience: Vec<Condition>,
    /// The event that ends the journey early: the person converted.
    pub goal: Option<EventMatch>,
    /// A trigger property naming the object a journey is about (`cart_id`): one journey
    /// per object, ended by a goal event carrying the same value.
    pub object_key: Option<String>,
    pub reentry: Reentry,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCampaign {
    id: CampaignId,
    name: String,
    trigger: Trigger,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    audience: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    goal: Option<EventMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    object_key: Option<String>,
    #[serde(default = "default_reentry")]
    reentry: Reentry,
    /// `- send: {…}` rather than YAML's `- !send {…}` tags, in YAML and JSON alike.
    #[serde(with = "serde_yaml_ng::with::singleton_map_recursive")]
    steps: Vec<Step>,
}

fn default_reentry() -> Reentry {
    Reentry::Once
}

impl TryFrom<RawCampaign> for Campaign {
    type Error = String;
    fn try_from(raw: RawCampaign) -> Result<Self, String> {
        let campaign = Self {
            id: raw.id,
            name: raw.name,
            trigger: raw.trigger,
            audience: raw.audience,
            goal: raw.goal,
            object_key: raw.object_key,
            reentry: raw.reentry,
            steps: raw.steps,
        };
        let sends: Vec<String> = campaign.sends().map(|(_, id, _)| id).collect();
        if sends.is_empty() {
            return Err("steps: a campaign needs at least one send".into());
        }
        if let Some(duplicate) = sends.iter().enumerate().find_map(|(i, id)| sends[..i].contains(id).then_some(id)) {
            return Err(format!("steps: two sends have the id {duplicate:?}"));
        }
        for (_, id, _) in campaign.sends() {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(format!("steps: send id {id:?} may contain only letters, digits, '-' and '_'"));
            }
        }
        if let (Some(goal), Trigger::Event(trigger)) = (&campaign.goal, &campaign.trigger) {
            if goal == trigger {
                return Err("goal: the goal cannot be the trigger itself".into());
            }
        }
        if matches!(campaign.trigger, Trigger::ContentAdded { .. }) && campaign.object_key.is_some() {
            return Err("object_key: content-triggered journeys are keyed by the item already".into());
        }
        if let Trigger::Segment { segment } = &campaign.trigger {
            if segment.is_empty() {
                return Err("trigger.segment: a segment needs at least one condition".into());
            }
            if campaign.reentry == Reentry::Always || campaign.object_key.is_some() {
                return Err("trigger.segment: a segment is joined once (reentry: once, or every N days), with no object_key".into());
            }
        }
        Ok(campaign)
    }
}

impl From<Campaign> for RawCampaign {
    fn from(c: Campaign) -> Self {
        Self {
            id: c.id,
            name: c.name,
            trigger: c.trigger,
            audience: c.audience,
            goal: c.goal,
            object_key: c.object_key,
            reentry: c.reentry,
            steps: c.steps,
        }
    }
}

impl Campaign {
    pub fn is_triggered_by(&self, event: &Event) -> bool {
        matches!(&self.trigger, Trigger::Event(trigger) if trigger.matches(event))
    }

    /// The segment's conditions, for a campaign started by joining one.
    pub fn segment(&self) -> Option<&[Condition]> {
        match &self.trigger {
            Trigger::Segment { segment } => Some(segment),
            _ => None,
        }
    }

    /// The content trigger, for a campaign started by new items in `collection`.
    pub fn content_trigger(&self, collection: &Collection) -> Option<&ContentTrigger> {
        match &self.trigger {
            Trigger::ContentAdded { content_added } if &content_added.collection == collection => Some(content_added),
            _ => None,
        }
    }

    /// The object a journey triggered by `event` is about (`cart_id`'s value), if keyed.
    pub fn object_of(&self, event: &Event) -> Option<String> {
        let key = self.object_key.as_deref()?;
        super::condition::lookup(&event.properties, key).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// The sends, in order: (step index, send id, step).
    pub fn sends(&self) -> impl Iterator<Item = (usize, String, &SendStep)> {
        self.steps
            .iter()
            .enumerate()
            .filter_map(|(i, step)| match step {
                Step::Send(send) => Some((i, send)),
                _ => None,
            })
            .enumerate()
            .map(|(n, (i, send))| (i, send.id.clone().unwrap_or_else(|| format!("send-{}", n + 1)), send))
    }

    /// The send step with this id.
    pub fn send(&self, id: &str) -> Option<(usize, &SendStep)> {
        self.sends().find(|(_, sid, _)| sid == id).map(|(i, _, s)| (i, s))
    }

    /// When each step is reached, for a journey that starts at `start`, for a person in
    /// `tz`: waits add up; other steps take no time.
    pub fn timeline(&self, start: DateTime<Utc>, tz: Tz) -> Vec<DateTime<Utc>> {
        let mut at = start;
        self.steps
            .iter()
            .map(|step| {
                let reached = at;
                if let Step::Wait(wait) = step {
                    at = wait.ends(at, tz);
                }
                reached
            })
            .collect()
    }

    /// Whether any send is marketing (for the preference center's topics).
    pub fn topics(&self) -> impl Iterator<Item = &Topic> {
        self.sends().filter_map(|(_, _, s)| s.topic.as_ref())
    }
}

/// The campaigns in force, looked up by id when a job comes back for sending.
#[derive(Debug, Clone, Default)]
pub struct CampaignSet {
    campaigns: Vec<Campaign>,
}

impl CampaignSet {
    pub fn new(campaigns: Vec<Campaign>) -> Self {
        Self { campaigns }
    }

    pub fn get(&self, id: &CampaignId) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| &c.id == id)
    }

    pub fn triggered_by<'a>(&'a self, event: &'a Event) -> impl Iterator<Item = &'a Campaign> + 'a {
        self.campaigns.iter().filter(move |c| c.is_triggered_by(event))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.iter()
    }

    /// The subscription topics of the campaigns in force, for the preference center.
    pub fn topics(&self) -> Vec<Topic> {
        let mut topics: Vec<Topic> = self.campaigns.iter().flat_map(|c| c.topics().cloned()).collect();
        topics.sort();
        topics.dedup();
        topics
    }
}

/// The campaigns every deployment starts with (`shared/campaigns/*.yaml`): a welcome on
/// `signed_up`, and getting-started tips a day later. Campaign files replace them by id.
pub fn builtin_campaigns() -> CampaignSet {
    let read = |source: &str| serde_yaml_ng::from_str::<Campaign>(source).expect("built-in campaigns are valid");
    CampaignSet::new(vec![
        read(include_str!("../../campaigns/welcome.yaml")),
        read(include_str!("../../campaigns/getting-started.yaml")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn campaign(yaml: &str) -> Result<Campaign, String> {
        serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())
    }

    const ONBOARDING: &str = "
id: onboarding-nudge
name: Onboarding nudge
trigger: { event: signed_up, where: { plan: { in: [pro, team] } } }
audience:
  - { trait: email, exists: true }
goal: { event: completed_onboarding }
steps:
  - wait: 3d
  - branch:
      if: { did: completed_onboarding, since: trigger }
      then: exit
  - wait: { until: '09:00', days: [mon, tue, wed, thu, fri] }
  - send: { template: onboarding-nudge, topic: product_tips }
";

    #[test]
    fn a_campaign_file_reads_into_steps() {
        let c = campaign(ONBOARDING).unwrap();
        assert_eq!(c.reentry, Reentry::Once, "once by default");
        assert_eq!(c.steps.len(), 4);
        assert!(matches!(&c.steps[1], Step::Branch(b) if b.then == Route::Exit && b.otherwise == Route::Continue));
        let sends: Vec<String> = c.sends().map(|(_, id, _)| id).collect();
        assert_eq!(sends, ["send-1"]);
        assert_eq!(c.send("send-1").unwrap().1.class, MessageClass::Marketing);
        let again: Campaign = serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&c).unwrap()).unwrap();
        assert_eq!(again, c, "writes back as it reads");
    }

    #[test]
    fn mistakes_name_the_field_and_line() {
        let err = campaign(&ONBOARDING.replace("then: exit", "then: leave")).unwrap_err();
        assert!(err.contains("steps[1].branch.then") && err.contains("line 12"), "{err}");
        let err = campaign(&ONBOARDING.replace("  - send: { template: onboarding-nudge, topic: product_tips }\n", "")).unwrap_err();
        assert!(err.contains("at least one send"), "{err}");
        let err = campaign(&ONBOARDING.replace("wait: 3d", "wait: 3 days")).unwrap_err();
        assert!(err.contains("steps[0]"), "{err}");
        let err = campaign(&ONBOARDING.replace("name:", "title:")).unwrap_err();
        assert!(err.contains("title"), "{err}");
    }

    #[test]
    fn the_timeline_adds_waits_in_the_persons_timezone() {
        let c = campaign(ONBOARDING).unwrap();
        // Friday 2026-03-06 22:00 UTC; in Paris 23:00. Plus 3 days: Monday 23:00 Paris,
        // then the next weekday 09:00 in Paris: Tuesday 08:00 UTC.
        let start = Utc.with_ymd_and_hms(2026, 3, 6, 22, 0, 0).unwrap();
        let times = c.timeline(start, "Europe/Paris".parse().unwrap());
        assert_eq!(times[0], start);
        assert_eq!(times[1], start + Duration::days(3));
        assert_eq!(times[3], Utc.with_ymd_and_hms(2026, 3, 10, 8, 0, 0).unwrap());
        let weekend = Wait::Until {
            until: LocalTime::try_from("09:00".to_string()).unwrap(),
            days: vec![Weekday::Mon],
        };
        let saturday = Utc.with_ymd_and_hms(2026, 3, 7, 12, 0, 0).unwrap();
        let monday = weekend.ends(saturday, Tz::UTC);
        assert_eq!((monday.weekday(), monday.hour()), (Weekday::Mon, 9));
    }

    #[test]
    fn content_triggers_match_interests_by_trait_or_pages_viewed() {
        let c = campaign(
            "{ id: new-post, name: New post, trigger: { content_added: { collection: posts, match: { item: tags, person: interests, viewed: pages } } }, steps: [ { send: { template: post } } ] }",
        )
        .unwrap();
        let posts = Collection::parse("posts").unwrap();
        let trigger = c.content_trigger(&posts).expect("a content trigger on posts");
        assert!(c.content_trigger(&Collection::parse("products").unwrap()).is_none());
        let item = CatalogItem {
            collection: posts,
            id: crate::domain::ItemId::parse("rust-tips").unwrap(),
            fields: serde_json::json!({"title": "Rust tips", "tags": ["Rust", "performance"]})
                .as_object()
                .cloned()
                .unwrap(),
            updated_at: Utc::now(),
        };
        let mut person = crate::domain::Person::new(crate::domain::PersonId::parse("u1").unwrap(), Utc::now());
        assert!(!trigger.interests(&item, &person));
        person.traits.insert("interests".into(), serde_json::json!(["rust"]));
        assert!(trigger.interests(&item, &person), "by trait, ignoring case");
        person.traits.clear();
        person.behavior.pages.insert(
            "Performance".into(),
            crate::domain::Activity {
                count: 1,
                first_at: Utc::now(),
                last_at: Utc::now(),
            },
        );
        assert!(trigger.interests(&item, &person), "by pages viewed");
        assert!(!c.is_triggered_by(&crate::domain::Event::new(
            crate::domain::EventKind::Track,
            crate::domain::MessageId::parse("m").unwrap(),
            crate::domain::PersonId::parse("u1").unwrap(),
            Utc::now()
        )));
    }

    #[test]
    fn built_in_campaigns_read() {
        let set = builtin_campaigns();
        assert_eq!(set.iter().count(), 2);
        assert_eq!(set.topics(), vec![Topic::parse("product_tips").unwrap()]);
    }
}
