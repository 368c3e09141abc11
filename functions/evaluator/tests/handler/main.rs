//! The evaluator function driven by a DynamoDB stream batch fixture: a profile update, a
//! `logged_in` (triggers nothing) and a `signed_up` (welcome now, tips in a day).

use aws_lambda_events::dynamodb::Event as StreamBatch;
use chrono::{Duration, TimeZone, Utc};
use nudge_fn_evaluator::{handle, EvaluatorDeps};
use nudge_shared::adapters::embedded::EmbeddedStore;
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::domain::{builtin_campaigns, Event, EventKind, MessageId, MessageJob, PersonId};
use nudge_shared::evaluate::Evaluator;
use nudge_shared::ports::{EventLog, JobQueue, JobSource, TimerStore};
use nudge_shared::{PortError, VirtualClock};
use std::sync::Arc;

fn batch() -> StreamBatch {
    serde_json::from_slice(include_bytes!("../../fixtures/stream-batch.json")).expect("fixture parses as a DynamoDB stream event")
}

fn clock() -> VirtualClock {
    VirtualClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 2).unwrap())
}

type Deps<Q> = EvaluatorDeps<EmbeddedStore, EmbeddedStore, Q, EmbeddedStore, VirtualClock>;

fn deps<Q: JobQueue>(queue: Q, store: &EmbeddedStore) -> Deps<Q> {
    EvaluatorDeps {
        evaluator: Evaluator {
            campaigns: CampaignLibrary::fixed(builtin_campaigns()),
            people: store.clone(),
            journeys: store.clone(),
            queue,
            timers: store.clone(),
        },
        clock: clock(),
    }
}

/// A store where `user-1` (the fixture's person) exists, as ingest leaves it.
async fn store() -> EmbeddedStore {
    let store = EmbeddedStore::in_memory(Arc::new(clock())).unwrap();
    let identify = Event::new(
        EventKind::Identify,
        MessageId::parse("msg-identify-1").unwrap(),
        PersonId::parse("user-1").unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap(),
    );
    store.record(&identify).await.unwrap();
    store
}

#[tokio::test]
async fn signed_up_enqueues_the_welcome_and_sets_a_timer_for_the_tips() {
    let store = store().await;
    let response = handle(&deps(store.clone(), &store), batch()).await;
    assert!(response.batch_item_failures.is_empty());

    let messages = store.receive(10, Duration::seconds(30)).await.unwrap();
    assert_eq!(messages.len(), 1, "one job: the welcome");
    let job: MessageJob = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(job.campaign_id.as_str(), "welcome");
    assert_eq!(job.person_id.as_str(), "user-1");
    assert_eq!(job.trigger.properties["plan"], "pro");

    let timers = store.due(Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap(), 10).await.unwrap();
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].job.campaign_id.as_str(), "getting-started");
    assert_eq!(
        timers[0].due,
        Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap(),
        "a day after the event happened"
    );
}

#[tokio::test]
async fn a_redelivered_batch_plans_the_same_sends() {
    let store = store().await;
    handle(&deps(store.clone(), &store), batch()).await;
    handle(&deps(store.clone(), &store), batch()).await;
    let messages = store.receive(10, Duration::seconds(30)).await.unwrap();
    let keys: Vec<MessageJob> = messages.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    assert_eq!(keys.len(), 2, "the queue may hold the job twice");
    assert_eq!(
        keys[0].dedup_key, keys[1].dedup_key,
        "but both carry one dedup key, so one email goes out"
    );
    assert_eq!(store.pending_timers().unwrap(), 1, "the timer is set once");
}

/// A queue that is down.
struct UnavailableQueue;

impl JobQueue for UnavailableQueue {
    async fn enqueue(&self, _jobs: &[MessageJob]) -> Result<(), PortError> {
        Err(PortError::unavailable("SQS", "throttled"))
    }
}

#[tokio::test]
async fn a_failure_reports_the_first_failed_record_so_the_stream_retries_from_there() {
    let store = store().await;
    let response = handle(&deps(UnavailableQueue, &store), batch()).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failed, ["333"], "the profile update and logged_in went through; signed_up failed");
}

#[tokio::test]
async fn an_unreadable_event_image_is_reported_not_skipped() {
    let store = store().await;
    let mut batch = batch();
    batch.records[1].change.new_image =
        serde_json::from_value(serde_json::json!({"type": {"S": "event"}, "event": {"S": "garbage"}})).unwrap();
    let response = handle(&deps(store.clone(), &store), batch).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failed, ["222"]);
}
