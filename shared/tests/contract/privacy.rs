use crate::backends::Backend;
use crate::fixtures::{identify, job, start, track};
use chrono::Duration;
use nudge_shared::domain::{EmailAddress, EventKind, PersonId, Timer};
use nudge_shared::ports::{Claim, Erased, Eraser, EventLog, PersonHistory, ProfileReader, SendLedger, SuppressionList, TimerStore};
use serde_json::json;

fn id(text: &str) -> PersonId {
    PersonId::parse(text).unwrap()
}

/// u1 with an email, a visitor merged in, three events of their own, a send and a timer.
async fn a_known_customer(backend: &impl Backend) {
    let store = backend.store();
    let mut visit = track("anon-1", "Pricing", "p-0", 0);
    visit.kind = EventKind::Page;
    visit.user_id = None;
    visit.anonymous_id = Some(id("anon-1"));
    store.record(&visit).await.unwrap();
    let mut signup = identify("u1", "p-1", json!({"email": "Ada@Example.com"}));
    signup.user_id = Some(id("u1"));
    signup.anonymous_id = Some(id("anon-1"));
    store.record(&signup).await.unwrap();
    store.record(&track("u1", "logged_in", "p-2", 10)).await.unwrap();
    store.record(&track("u1", "order_completed", "p-3", 20)).await.unwrap();
    let send = job("u1", "p-1");
    assert_eq!(store.claim(&send, start(), Duration::minutes(10)).await.unwrap(), Claim::Acquired);
    store
        .schedule(&Timer {
            due: start() + Duration::days(1),
            job: job("u1", "p-2"),
        })
        .await
        .unwrap();
}

pub async fn history_lists_a_persons_events_newest_first_with_merged_ids(backend: impl Backend) {
    a_known_customer(&backend).await;
    let events = backend.store().events_of(&id("u1"), 10).await.unwrap();
    let ids: Vec<_> = events.iter().map(|e| e.message_id.to_string()).collect();
    assert_eq!(ids, ["p-3", "p-2", "p-1", "p-0"], "the visitor's page view comes along");
    assert_eq!(backend.store().events_of(&id("u1"), 2).await.unwrap().len(), 2);
    assert!(backend.store().events_of(&id("nobody"), 10).await.unwrap().is_empty());
}

pub async fn erasing_a_person_removes_everything_and_suppresses_their_address(backend: impl Backend) {
    a_known_customer(&backend).await;
    let store = backend.store();
    let erased = store.erase(&id("u1")).await.unwrap();
    assert_eq!(
        erased,
        Erased {
            profile: true,
            events: 4,
            sends: 1,
            timers: 1,
            suppressed: true
        }
    );
    assert_eq!(store.person(&id("u1")).await.unwrap(), None);
    assert!(store.events_of(&id("u1"), 10).await.unwrap().is_empty());
    assert!(store.sends_to(&id("u1")).await.unwrap().is_empty());
    assert!(
        store.due(start() + Duration::days(2), 10).await.unwrap().is_empty(),
        "pending timers are gone"
    );
    assert!(
        store.is_suppressed(&EmailAddress::parse("ada@example.com").unwrap()).await.unwrap(),
        "matched whatever the case"
    );
    assert!(!store
        .is_suppressed(&EmailAddress::parse("grace@example.com").unwrap())
        .await
        .unwrap());
    assert_eq!(
        store.erase(&id("u1")).await.unwrap(),
        Erased::default(),
        "erasing again finds nothing"
    );

    // The visitor id is free again: a new anonymous call starts a new profile.
    let mut visit = track("anon-1", "Home", "p-9", 30);
    visit.kind = EventKind::Page;
    visit.user_id = None;
    visit.anonymous_id = Some(id("anon-1"));
    store.record(&visit).await.unwrap();
    assert!(store.person(&id("anon-1")).await.unwrap().is_some());
    assert_eq!(store.person(&id("u1")).await.unwrap(), None);
}
