//! The evaluator: for each new event, which campaigns it triggers, and the jobs (now) or
//! timers (later) that follow. Planning is pure; `Evaluator` applies the plan through ports.

use crate::domain::{Campaign, CampaignSet, DedupKey, Event, MessageJob, Timer, TriggerSnapshot};
use crate::error::PortError;
use crate::ports::{JobQueue, TimerStore};
use chrono::{DateTime, Utc};

/// What one event leads to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub send_now: Vec<MessageJob>,
    pub send_later: Vec<Timer>,
}

/// Pure: the jobs and timers `event` triggers, as of `now`. Planning the same event twice
/// gives the same dedup keys, which is what makes stream redelivery harmless.
pub fn plan(campaigns: &CampaignSet, event: &Event, now: DateTime<Utc>) -> Plan {
    let mut plan = Plan::default();
    for campaign in campaigns.triggered_by(event) {
        let job = job_for(campaign, event, now);
        // Measured from when it happened, but never in the past: a late event is not a
        // reason to send a burst of overdue mail.
        let due = (event.timestamp + campaign.delay).max(now);
        if due > now {
            plan.send_later.push(Timer { due, job });
        } else {
            plan.send_now.push(job);
        }
    }
    plan
}

fn job_for(campaign: &Campaign, event: &Event, now: DateTime<Utc>) -> MessageJob {
    MessageJob {
        dedup_key: DedupKey::for_send(&campaign.id, Campaign::SEND_STEP, &event.person_id, &event.message_id),
        campaign_id: campaign.id.clone(),
        step: Campaign::SEND_STEP.to_string(),
        person_id: event.person_id.clone(),
        trigger: TriggerSnapshot::from(event),
        created_at: now,
    }
}

pub struct Evaluator<Q, T> {
    pub campaigns: CampaignSet,
    pub queue: Q,
    pub timers: T,
}

impl<Q: JobQueue, T: TimerStore> Evaluator<Q, T> {
    /// Applies the plan for one event. Safe to repeat: timers are keyed by dedup key and
    /// a job enqueued twice is sent once.
    pub async fn evaluate(&self, event: &Event, now: DateTime<Utc>) -> Result<Plan, PortError> {
        let plan = plan(&self.campaigns, event, now);
        for timer in &plan.send_later {
            self.timers.schedule(timer).await?;
        }
        if !plan.send_now.is_empty() {
            self.queue.enqueue(&plan.send_now).await?;
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{builtin_campaigns, EventKind, EventName, MessageId, PersonId};
    use chrono::{Duration, TimeZone};

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

    #[test]
    fn signed_up_sends_welcome_now_and_tips_a_day_later() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let plan = plan(&builtin_campaigns(), &signed_up(now), now);
        assert_eq!(plan.send_now.len(), 1);
        assert_eq!(plan.send_now[0].campaign_id.as_str(), "welcome");
        assert_eq!(plan.send_later.len(), 1);
        assert_eq!(plan.send_later[0].due, now + Duration::days(1));
    }

    #[test]
    fn an_event_that_arrives_late_sends_at_once_rather_than_in_the_past() {
        let now = Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap();
        let plan = plan(&builtin_campaigns(), &signed_up(now - Duration::days(3)), now);
        assert_eq!(plan.send_now.len(), 2);
        assert!(plan.send_later.is_empty());
    }

    #[test]
    fn planning_twice_gives_the_same_dedup_keys() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let first = plan(&builtin_campaigns(), &signed_up(now), now);
        let again = plan(&builtin_campaigns(), &signed_up(now), now + Duration::minutes(5));
        assert_eq!(first.send_now[0].dedup_key, again.send_now[0].dedup_key);
    }

    #[test]
    fn other_events_trigger_nothing() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let mut event = signed_up(now);
        event.name = Some(EventName::parse("logged_in").unwrap());
        assert_eq!(plan(&builtin_campaigns(), &event, now), Plan::default());
        event.kind = EventKind::Identify;
        event.name = None;
        assert_eq!(plan(&builtin_campaigns(), &event, now), Plan::default());
    }
}
