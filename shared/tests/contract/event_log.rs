use crate::backends::Backend;
use crate::fixtures::{identify, track};
use nudge_shared::domain::PersonId;
use nudge_shared::ports::{EventLog, ProfileReader, Recorded};
use serde_json::json;

pub async fn records_a_new_event_and_builds_the_profile(backend: impl Backend) {
    let store = backend.store();
    let Recorded::New(after_identify) = store
        .record(&identify("u1", "m1", json!({"email": "ada@example.com", "first_name": "Ada"})))
        .await
        .unwrap()
    else {
        panic!("a new event is recorded as new");
    };
    assert_eq!(after_identify.traits["first_name"], "Ada");
    let Recorded::New(after_track) = store.record(&track("u1", "signed_up", "m2", 5)).await.unwrap() else {
        panic!("a new event is recorded as new");
    };
    assert_eq!(after_track.event_counts["signed_up"], 1);
    let stored = store
        .person(&PersonId::parse("u1").unwrap())
        .await
        .unwrap()
        .expect("the profile exists");
    assert_eq!(stored, after_track, "what is read back is what was written");
    assert_eq!(stored.traits["email"], "ada@example.com");
}

pub async fn the_same_message_id_twice_is_stored_once(backend: impl Backend) {
    let store = backend.store();
    let event = track("u1", "signed_up", "m1", 0);
    assert!(matches!(store.record(&event).await.unwrap(), Recorded::New(_)));
    assert_eq!(store.record(&event).await.unwrap(), Recorded::Duplicate);
    // A retry whose body differs (a client re-sent with a new timestamp) is still the same event.
    assert_eq!(store.record(&track("u1", "signed_up", "m1", 3)).await.unwrap(), Recorded::Duplicate);
    let person = store.person(&PersonId::parse("u1").unwrap()).await.unwrap().unwrap();
    assert_eq!(person.event_counts["signed_up"], 1);
}

pub async fn concurrent_duplicates_store_one_event(backend: impl Backend) {
    let store = backend.store();
    let event = track("u1", "order_completed", "m-concurrent", 0);
    let (a, b, c) = tokio::join!(store.record(&event), store.record(&event), store.record(&event));
    let new = [a.unwrap(), b.unwrap(), c.unwrap()]
        .iter()
        .filter(|r| matches!(r, Recorded::New(_)))
        .count();
    assert_eq!(new, 1, "exactly one of the concurrent writes stores the event");
    let person = store.person(&PersonId::parse("u1").unwrap()).await.unwrap().unwrap();
    assert_eq!(person.event_counts["order_completed"], 1);
}

pub async fn an_unknown_person_has_no_profile(backend: impl Backend) {
    assert_eq!(backend.store().person(&PersonId::parse("nobody").unwrap()).await.unwrap(), None);
}
