use crate::backends::Backend;
use crate::fixtures::track;
use nudge_shared::domain::{Changed, Event};
use nudge_shared::ports::{Change, ChangeFeed, EventLog};

fn event(change: &Change) -> &Event {
    match &change.change {
        Changed::Event(event) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

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
    let names: Vec<_> = first.iter().map(|c| event(c).name.as_ref().unwrap().to_string()).collect();
    assert_eq!(names, ["signed_up", "logged_in", "order_completed"]);
    assert_eq!(
        *event(&first[1]),
        track("u1", "logged_in", "m1", 1),
        "the event arrives whole, properties included"
    );

    let again = feed.poll(100).await.unwrap();
    assert_eq!(again.first().map(event), Some(event(&first[0])), "uncommitted changes come back");

    feed.commit(&first[0].position).await.unwrap();
    let rest = feed.poll(100).await.unwrap();
    assert_eq!(
        rest.first().map(event),
        Some(event(&first[1])),
        "a commit moves past what it covers"
    );

    feed.commit(&first[2].position).await.unwrap();
    assert!(feed.poll(100).await.unwrap().is_empty(), "nothing is left after the last commit");
}

pub async fn a_duplicate_event_is_not_fed_twice(backend: impl Backend) {
    let signed_up = track("u1", "signed_up", "m-dup", 0);
    backend.store().record(&signed_up).await.unwrap();
    backend.store().record(&signed_up).await.unwrap();
    backend.store().record(&track("u1", "logged_in", "m-next", 1)).await.unwrap();
    let changes = poll_until(backend.feed(), 2).await;
    let ids: Vec<_> = changes.iter().map(|c| event(c).message_id.to_string()).collect();
    assert_eq!(ids, ["m-dup", "m-next"]);
}

pub async fn an_added_catalog_item_is_fed_once_and_an_update_is_not(backend: impl Backend) {
    use nudge_shared::domain::{CatalogItem, Collection, ItemId};
    use nudge_shared::ports::{Catalog, Upserted};
    let post = CatalogItem {
        collection: Collection::parse("posts").unwrap(),
        id: ItemId::parse("hello-world").unwrap(),
        fields: serde_json::json!({"title": "Hello, world", "tags": ["rust", "email"], "url": "https://example.com/hello"})
            .as_object()
            .cloned()
            .unwrap(),
        updated_at: crate::fixtures::start(),
    };
    assert_eq!(backend.store().upsert(&post).await.unwrap(), Upserted::Added);
    let edited = CatalogItem {
        fields: serde_json::json!({"title": "Hello again"}).as_object().cloned().unwrap(),
        ..post.clone()
    };
    assert_eq!(backend.store().upsert(&edited).await.unwrap(), Upserted::Updated);
    assert_eq!(backend.store().item(&post.collection, &post.id).await.unwrap(), Some(edited));
    backend.store().record(&track("u1", "logged_in", "m-after", 1)).await.unwrap();
    let changes = poll_until(backend.feed(), 2).await;
    assert_eq!(
        changes.len(),
        2,
        "one content_added (the update is not one) and the event: {changes:?}"
    );
    match &changes[0].change {
        Changed::ContentAdded(item) => assert_eq!(item.id.as_str(), "hello-world"),
        other => panic!("expected content_added, got {other:?}"),
    }
}
