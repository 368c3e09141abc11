//! The evaluator: for each new event, which campaigns it starts a journey in, and the jobs
//! (now) or timers (later) for each of the journey's sends. Deciding is pure (`plan_entry`);
//! `Evaluator` reads the person, applies the re-entry policy through the `JourneyLog`, and
//! schedules through ports. Branches and the goal are checked when each send comes due
//! (`deliver`), since they depend on what the person does in between.

use crate::campaigns::CampaignLibrary;
use crate::domain::{
    Campaign, CatalogItem, Condition, ContentRef, DedupKey, Event, EventKind, Facts, MessageId, MessageJob, Person, Reentry, SendRecord,
    SendState, SkipReason, Timer, TriggerSnapshot,
};
use crate::error::PortError;
use crate::ports::{
    AccountReader, Claim, DocumentStore, Entered, Entry, JobQueue, JourneyLog, PeopleDirectory, PersonHistory, ProfileReader, SendLedger,
    TimerStore,
};
use chrono::{DateTime, Duration, Utc};

/// How many of a person's latest events behavior conditions look through.
pub const EVENTS_FOR_CONDITIONS: usize = 500;

/// What one event leads to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub send_now: Vec<MessageJob>,
    pub send_later: Vec<Timer>,
    /// Campaigns the event would have started, and why it did not.
    pub not_entered: Vec<(crate::domain::CampaignId, NotEntered)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NotEntered {
    /// An audience condition did not hold (the first one that failed).
    Audience(String),
    /// The re-entry policy: the person entered before, at this time.
    AlreadyEntered(DateTime<Utc>),
}

/// The journey instance `event` starts in `campaign`: the object id of an object-keyed
/// campaign, else the trigger's message id. And the entry's scope under the policy.
pub fn entry_for(campaign: &Campaign, event: &Event) -> (Entry, Option<Duration>) {
    let object = campaign.object_of(event);
    let instance = object.clone().unwrap_or_else(|| event.message_id.to_string());
    let (scope, gap) = match campaign.reentry {
        Reentry::Once => (object.unwrap_or_default(), None),
        Reentry::Every(span) => (object.unwrap_or_default(), Some(span.duration())),
        Reentry::Always => (instance.clone(), None),
    };
    let entry = Entry {
        campaign: campaign.id.clone(),
        person: event.person_id.clone(),
        scope,
        instance,
        at: event.timestamp,
    };
    (entry, gap)
}

/// Pure: the first audience condition `facts` fail, if any.
pub fn audience_failure(campaign: &Campaign, facts: &Facts<'_>) -> Option<String> {
    campaign
        .audience
        .iter()
        .find(|c| !c.holds(facts))
        .map(|c| serde_json::to_string(c).unwrap_or_default())
}

/// Send `send_id` of `campaign` for the journey `instance` that `event` started.
fn job_for(campaign: &Campaign, send_id: String, event: &Event, instance: &str, now: DateTime<Utc>) -> MessageJob {
    MessageJob {
        dedup_key: DedupKey::for_step(&campaign.id, &send_id, &event.person_id, instance),
        campaign_id: campaign.id.clone(),
        step: send_id,
        person_id: event.person_id.clone(),
        object: campaign.object_of(event),
        content: None,
        trigger: TriggerSnapshot::from(event),
        created_at: now,
    }
}

/// Pure: a journey's sends, from the trigger, as jobs (due now) and timers (due later).
/// The same event planned twice gives the same dedup keys, so redelivery is harmless.
pub fn plan_entry(campaign: &Campaign, event: &Event, person: &Person, instance: &str, now: DateTime<Utc>, plan: &mut Plan) {
    let timeline = campaign.timeline(event.timestamp, person.timezone());
    for (step, send_id, _) in campaign.sends() {
        let job = job_for(campaign, send_id, event, instance, now);
        // Measured from when the trigger happened, but never in the past: a late event is
        // not a reason for a burst of overdue mail.
        let due = timeline[step].max(now);
        if due > now {
            plan.send_later.push(Timer { due, job });
        } else {
            plan.send_now.push(job);
        }
    }
}

pub struct Evaluator<P, J, Q, T> {
    pub campaigns: CampaignLibrary<J>,
    // The journeys store also keeps the send ledger: a person kept out by the audience is
    // recorded there, with the reason, under the campaign's first send.
    /// Profiles, accounts and event history, for audience conditions and timezones.
    pub people: P,
    pub journeys: J,
    pub queue: Q,
    pub timers: T,
}

impl<P, J, Q, T> Evaluator<P, J, Q, T>
where
    P: ProfileReader + AccountReader + PersonHistory,
    J: JourneyLog + DocumentStore + SendLedger,
    Q: JobQueue,
    T: TimerStore,
{
    /// Applies the campaigns `event` triggers. Safe to repeat: an entry recorded before is
    /// `Again` and plans the same jobs and timers, which are keyed by dedup key.
    pub async fn evaluate(&self, event: &Event, now: DateTime<Utc>) -> Result<Plan, PortError> {
        let mut plan = Plan::default();
        let campaigns = self.campaigns.current(now).await?;
        // Event-triggered campaigns, and segment campaigns (any event may be the one after
        // which the person is in the segment).
        let triggered: Vec<&Campaign> = campaigns
            .iter()
            .filter(|c| c.is_triggered_by(event) || c.segment().is_some())
            .collect();
        if triggered.is_empty() {
            return Ok(plan);
        }
        // Erased since, or never identified: nobody to write to.
        let Some(person) = self.people.person(&event.person_id).await? else {
            return Ok(plan);
        };
        let account = crate::ports::account_of(&self.people, &person).await?;
        let needs_events = triggered
            .iter()
            .flat_map(|c| c.audience.iter().chain(c.segment().unwrap_or_default()))
            .any(Condition::needs_events);
        let events = if needs_events {
            self.people.events_of(&person.id, EVENTS_FOR_CONDITIONS).await?
        } else {
            Vec::new()
        };
        for campaign in triggered {
            let facts = Facts {
                person: &person,
                account: account.as_ref(),
                events: &events,
                trigger_at: event.timestamp,
                // As of the trigger: a redelivery days later decides as the first delivery did.
                now: event.timestamp,
            };
            if let Some(segment) = campaign.segment() {
                if !segment.iter().all(|c| c.holds(&facts)) {
                    continue;
                }
            }
            if let Some(failed) = audience_failure(campaign, &facts) {
                // Segment campaigns look at every event: a mismatch is not news each time.
                if campaign.segment().is_none() {
                    self.record_not_entered(campaign, event, &failed, now).await?;
                }
                plan.not_entered.push((campaign.id.clone(), NotEntered::Audience(failed)));
                continue;
            }
            let (entry, gap) = entry_for(campaign, event);
            match self.journeys.enter(&entry, gap).await? {
                Entered::New | Entered::Again => plan_entry(campaign, event, &person, &entry.instance, now, &mut plan),
                Entered::Blocked { since } => {
                    if campaign.segment().is_none() {
                        plan.not_entered.push((campaign.id.clone(), NotEntered::AlreadyEntered(since)));
                    }
                }
            }
        }
        for timer in &plan.send_later {
            self.timers.schedule(timer).await?;
        }
        if !plan.send_now.is_empty() {
            self.queue.enqueue(&plan.send_now).await?;
        }
        Ok(plan)
    }

    /// Applies the campaigns a new catalog item starts: one journey per interested person in
    /// the audience (the item is the journey's instance, so it reaches each person once).
    /// People are read a page at a time; on AWS, a scan of the table's profiles.
    pub async fn evaluate_content(&self, item: &CatalogItem, now: DateTime<Utc>) -> Result<Plan, PortError>
    where
        P: PeopleDirectory,
    {
        let mut plan = Plan::default();
        let campaigns = self.campaigns.current(now).await?;
        let triggered: Vec<_> = campaigns
            .iter()
            .filter_map(|c| c.content_trigger(&item.collection).map(|t| (c, t)))
            .collect();
        if triggered.is_empty() {
            return Ok(plan);
        }
        let instance = format!("{}/{}", item.collection, item.id);
        let needs_events = triggered.iter().flat_map(|(c, _)| &c.audience).any(Condition::needs_events);
        let mut cursor: Option<String> = None;
        loop {
            let (people, next) = self.people.people(cursor.as_deref()).await?;
            for person in &people {
                let interested: Vec<_> = triggered.iter().filter(|(_, t)| t.interests(item, person)).collect();
                if interested.is_empty() {
                    continue;
                }
                let events = if needs_events {
                    self.people.events_of(&person.id, EVENTS_FOR_CONDITIONS).await?
                } else {
                    Vec::new()
                };
                let account = crate::ports::account_of(&self.people, &person).await?;
                // The item's arrival as the journey's trigger: `{{ event.properties }}` are its fields.
                let mut trigger = Event::new(
                    EventKind::Track,
                    MessageId::parse(&format!("content:{instance}")).map_err(|e| PortError::corrupt("catalog item", e.reason))?,
                    person.id.clone(),
                    item.updated_at,
                );
                trigger.properties = item.fields.clone();
                for (campaign, _) in interested {
                    let facts = Facts {
                        person,
                        account: account.as_ref(),
                        events: &events,
                        trigger_at: item.updated_at,
                        now: item.updated_at,
                    };
                    if audience_failure(campaign, &facts).is_some() {
                        continue;
                    }
                    let (scope, gap) = match campaign.reentry {
                        Reentry::Every(span) => (String::new(), Some(span.duration())),
                        Reentry::Once | Reentry::Always => (instance.clone(), None),
                    };
                    let entry = Entry {
                        campaign: campaign.id.clone(),
                        person: person.id.clone(),
                        scope,
                        instance: instance.clone(),
                        at: item.updated_at,
                    };
                    if let Entered::Blocked { since } = self.journeys.enter(&entry, gap).await? {
                        plan.not_entered.push((campaign.id.clone(), NotEntered::AlreadyEntered(since)));
                        continue;
                    }
                    let planned = plan.send_now.len() + plan.send_later.len();
                    plan_entry(campaign, &trigger, person, &instance, now, &mut plan);
                    let content = ContentRef {
                        collection: item.collection.clone(),
                        id: item.id.clone(),
                    };
                    let later = plan.send_later.iter_mut().map(|t| &mut t.job);
                    for job in plan.send_now.iter_mut().chain(later).skip(planned) {
                        job.content = Some(content.clone());
                    }
                }
            }
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        for timer in &plan.send_later {
            self.timers.schedule(timer).await?;
        }
        for jobs in plan.send_now.chunks(100) {
            self.queue.enqueue(jobs).await?;
        }
        Ok(plan)
    }

    /// Records, under the campaign's first send, that the person was not in its audience:
    /// `nudge why` and the admin API show it. Once per trigger (the claim guards it).
    async fn record_not_entered(&self, campaign: &Campaign, event: &Event, failed: &str, now: DateTime<Utc>) -> Result<(), PortError> {
        let Some((_, send_id, _)) = campaign.sends().next() else {
            return Ok(());
        };
        let (entry, _) = entry_for(campaign, event);
        let job = job_for(campaign, send_id, event, &entry.instance, now);
        if self.journeys.claim(&job, now, Duration::minutes(10)).await? != Claim::Acquired {
            return Ok(());
        }
        let record = SendRecord {
            dedup_key: job.dedup_key,
            person_id: job.person_id,
            campaign_id: job.campaign_id,
            state: SendState::Skipped {
                at: now,
                reason: SkipReason::AudienceMismatch {
                    detail: failed.to_string(),
                },
            },
        };
        self.journeys.settle(&record).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{builtin_campaigns, EventKind, EventName, MessageId, PersonId};
    use chrono::TimeZone;

    fn signed_up(at: DateTime<Utc>) -> Event {
        let mut event = Event::new(
            EventKind::Track,
            MessageId::parse("m1").unwrap(),
            PersonId::parse("u1").unwrap(),
            at,
        );
        event.name = Some(EventName::parse("signed_up").unwrap());
        event
    }

    fn plan_all(event: &Event, now: DateTime<Utc>) -> Plan {
        let person = Person::new(event.person_id.clone(), event.timestamp);
        let mut plan = Plan::default();
        for campaign in builtin_campaigns().triggered_by(event) {
            let (entry, _) = entry_for(campaign, event);
            plan_entry(campaign, event, &person, &entry.instance, now, &mut plan);
        }
        plan
    }

    #[test]
    fn signed_up_sends_welcome_now_and_tips_a_day_later() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let plan = plan_all(&signed_up(now), now);
        assert_eq!(plan.send_now.len(), 1);
        assert_eq!(plan.send_now[0].campaign_id.as_str(), "welcome");
        assert_eq!(plan.send_later.len(), 1);
        assert_eq!(plan.send_later[0].due, now + Duration::days(1));
    }

    #[test]
    fn an_event_that_arrives_late_sends_at_once_rather_than_in_the_past() {
        let now = Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap();
        let plan = plan_all(&signed_up(now - Duration::days(3)), now);
        assert_eq!(plan.send_now.len(), 2);
        assert!(plan.send_later.is_empty());
    }

    #[test]
    fn planning_twice_gives_the_same_dedup_keys() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let first = plan_all(&signed_up(now), now);
        let again = plan_all(&signed_up(now), now + Duration::minutes(5));
        assert_eq!(first.send_now[0].dedup_key, again.send_now[0].dedup_key);
    }

    #[test]
    fn other_events_trigger_nothing() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let mut event = signed_up(now);
        event.name = Some(EventName::parse("logged_in").unwrap());
        assert_eq!(plan_all(&event, now), Plan::default());
        event.kind = EventKind::Identify;
        event.name = None;
        assert_eq!(plan_all(&event, now), Plan::default());
    }

    #[test]
    fn entries_are_scoped_by_policy_and_object() {
        let cart: Campaign = serde_yaml_ng::from_str(
            "{ id: cart, name: Cart, trigger: { event: cart_abandoned }, object_key: cart_id, reentry: always, steps: [ { send: { template: cart } } ] }",
        )
        .unwrap();
        let mut event = signed_up(Utc::now());
        event.name = Some(EventName::parse("cart_abandoned").unwrap());
        event.properties = serde_json::json!({"cart_id": "c-1"}).as_object().cloned().unwrap();
        let (entry, gap) = entry_for(&cart, &event);
        assert_eq!((entry.scope.as_str(), entry.instance.as_str(), gap), ("c-1", "c-1", None));
        let (welcome, _) = entry_for(builtin_campaigns().iter().next().unwrap(), &signed_up(Utc::now()));
        assert_eq!(
            (welcome.scope.as_str(), welcome.instance.as_str()),
            ("", "m1"),
            "once: one scope per person"
        );
    }
}
