use crate::backends::Backend;
use crate::fixtures::track;
use nudge_shared::ports::{Change, ChangeFeed, EventLog};

/// Polls until `count` changes are visible (a stream may hand them over in several reads).
async fn poll_until(feed: &impl ChangeFeed, count: usize) -> Vec<Change> {
    for _ in 0..20 {
        let changes = feed.poll(100).await.unwrap();
        if changes.len() >= count {
            return changes;
        }
    }
    panic!("the feed did not show {count} changes");
}

pub async fn recorded_events_come_in_order_until_committed(backend: impl Backend) {
    for (n, name) in ["signed_up", "logged_in", "order_completed"].iter().enumerate() {
        backend
            .store()
            .record(&track("u1", name, &format!("m{n}"), n as i64))
            .await
            .unwrap();
    }
    let feed = backend.feed();
    let first = poll_until(feed, 3).await;
    let names: Vec<_> = first.iter().map(|c| c.event.name.as_ref().unwrap().to_string()).collect();
    assert_eq!(names, ["signed_up", "logged_in", "order_completed"]);
    assert_eq!(
        first[1].event,
        track("u1", "logged_in", "m1", 1),
        "the event arrives whole, properties included"
    );

    let again = feed.poll(100).await.unwrap();
    assert_eq!(
        again.first().map(|c| &c.event),
        Some(&first[0].event),
        "uncommitted changes come back"
    );

    feed.commit(&first[0].position).await.unwrap();
    let rest = feed.poll(100).await.unwrap();
    assert_eq!(
        rest.first().map(|c| &c.event),
        Some(&first[1].event),
        "a commit moves past what it covers"
    );

    feed.commit(&first[2].position).await.unwrap();
    assert!(feed.poll(100).await.unwrap().is_empty(), "nothing is left after the last commit");
}

pub async fn a_duplicate_event_is_not_fed_twice(backend: impl Backend) {
    let event = track("u1", "signed_up", "m-dup", 0);
    backend.store().record(&event).await.unwrap();
    backend.store().record(&event).await.unwrap();
    backend.store().record(&track("u1", "logged_in", "m-next", 1)).await.unwrap();
    let changes = poll_until(backend.feed(), 2).await;
    let ids: Vec<_> = changes.iter().map(|c| c.event.message_id.to_string()).collect();
    assert_eq!(ids, ["m-dup", "m-next"]);
}
