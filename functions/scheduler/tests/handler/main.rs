//! The scheduler function driven by an EventBridge Scheduler event fixture.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Duration, TimeZone, Utc};
use nudge_fn_scheduler::{handle, SchedulerDeps};
use nudge_shared::adapters::embedded::EmbeddedStore;
use nudge_shared::domain::{CampaignId, DedupKey, MessageId, MessageJob, PersonId, Timer, TriggerSnapshot};
use nudge_shared::ports::{JobSource, TimerStore};
use nudge_shared::VirtualClock;
use std::sync::Arc;

fn tick() -> EventBridgeEvent {
    serde_json::from_slice(include_bytes!("../../fixtures/scheduled-event.json")).expect("fixture parses as an EventBridge event")
}

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 3, hour, minute, 0).unwrap()
}

fn timer(person: &str, due: DateTime<Utc>) -> Timer {
    let person = PersonId::parse(person).unwrap();
    let trigger = MessageId::parse("m1").unwrap();
    let campaign = CampaignId::parse("getting-started").unwrap();
    Timer {
        due,
        job: MessageJob {
            dedup_key: DedupKey::for_send(&campaign, "send-1", &person, &trigger),
            campaign_id: campaign,
            step: "send-1".into(),
            person_id: person,
            object: None,
            content: None,
            trigger: TriggerSnapshot {
                message_id: trigger,
                name: None,
                properties: Default::default(),
                timestamp: due - Duration::days(1),
            },
            created_at: due - Duration::days(1),
        },
    }
}

#[tokio::test]
async fn due_timers_become_jobs_and_later_ones_wait() {
    let clock = VirtualClock::starting_at(at(9, 1));
    let store = EmbeddedStore::in_memory(Arc::new(clock.clone())).unwrap();
    store.schedule(&timer("due", at(9, 0))).await.unwrap();
    store.schedule(&timer("later", at(10, 0))).await.unwrap();
    let deps = SchedulerDeps {
        timers: store.clone(),
        queue: store.clone(),
        clock: clock.clone(),
        batch_size: 100,
    };

    let report = handle(&deps, tick()).await.unwrap();
    assert_eq!(report.timers_fired, 1);
    let jobs = store.receive(10, Duration::seconds(30)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].body.contains("\"person_id\":\"due\""));

    assert_eq!(
        handle(&deps, tick()).await.unwrap().timers_fired,
        0,
        "a fired timer does not fire again"
    );
    clock.advance_to(at(10, 0));
    assert_eq!(handle(&deps, tick()).await.unwrap().timers_fired, 1);
}

#[tokio::test]
async fn more_due_timers_than_one_batch_all_fire_in_one_tick() {
    let clock = VirtualClock::starting_at(at(9, 1));
    let store = EmbeddedStore::in_memory(Arc::new(clock.clone())).unwrap();
    for n in 0..25 {
        store.schedule(&timer(&format!("p{n}"), at(9, 0))).await.unwrap();
    }
    let deps = SchedulerDeps {
        timers: store.clone(),
        queue: store.clone(),
        clock,
        batch_size: 10,
    };
    assert_eq!(handle(&deps, tick()).await.unwrap().timers_fired, 25);
    assert_eq!(store.pending_timers().unwrap(), 0);
}
