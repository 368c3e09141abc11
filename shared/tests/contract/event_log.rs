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
    assert_eq!(after_track.event_count("signed_up"), 1);
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
    assert_eq!(person.event_count("signed_up"), 1);
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
    assert_eq!(person.event_count("order_completed"), 1);
}

pub async fn an_unknown_person_has_no_profile(backend: impl Backend) {
    assert_eq!(backend.store().person(&PersonId::parse("nobody").unwrap()).await.unwrap(), None);
}

pub async fn every_call_type_and_field_round_trips(backend: impl Backend) {
    use nudge_shared::ingest::{parse_request, Request};
    let body = json!({
        "sentAt": "2026-03-02T09:00:05Z",
        "context": {"library": {"name": "analytics.js"}},
        "batch": [
            {"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"email": "ada@example.com", "age": 36, "vip": true}, "messageId": "r-1", "timestamp": "2026-03-02T09:00:00Z"},
            {"type": "track", "userId": "u1", "event": "order_completed", "messageId": "r-2", "properties": {"total": 19.99, "items": [{"sku": "A", "qty": 2}]}, "integrations": {"All": false}},
            {"type": "page", "anonymousId": "a1", "name": "Pricing", "messageId": "r-3", "properties": {"path": "/pricing", "referrer": ""}},
            {"type": "screen", "userId": "u1", "messageId": "r-4"},
            {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"plan": "team"}, "messageId": "r-5"},
            {"type": "alias", "userId": "u1", "previousId": "a1", "messageId": "r-6"},
        ]
    });
    let parsed = parse_request(Request::Batch, body.to_string().as_bytes(), crate::fixtures::start()).unwrap();
    for event in &parsed.events {
        let recorded = backend
            .store()
            .record(event)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", event.message_id));
        assert!(matches!(recorded, Recorded::New(_)), "{}", event.message_id);
    }
    // What the evaluator reads back from the change feed is what ingest wrote, field for field.
    let mut fed = Vec::new();
    for _ in 0..20 {
        let changes = nudge_shared::ports::ChangeFeed::poll(backend.feed(), 100).await.unwrap();
        if let Some(last) = changes.last() {
            nudge_shared::ports::ChangeFeed::commit(backend.feed(), &last.position)
                .await
                .unwrap();
        }
        fed.extend(changes.into_iter().filter_map(|c| match c.change {
            nudge_shared::domain::Changed::Event(event) => Some(event),
            _ => None,
        }));
        if fed.len() >= parsed.events.len() {
            break;
        }
    }
    let mut expected = parsed.events.clone();
    // The page view came from the visitor `a1`, whom the identify before it linked to `u1`.
    expected[2].person_id = PersonId::parse("u1").unwrap();
    assert_eq!(fed, expected);
    let user = backend.store().person(&PersonId::parse("u1").unwrap()).await.unwrap().unwrap();
    assert_eq!(user.traits["age"], 36);
    assert_eq!(user.behavior.recent.len(), 6);
    assert_eq!(user.behavior.pages["Pricing"].count, 1);
}

fn anonymous(
    kind: nudge_shared::domain::EventKind,
    anonymous_id: &str,
    name: &str,
    message_id: &str,
    minutes: i64,
) -> nudge_shared::domain::Event {
    let mut event = track(anonymous_id, name, message_id, minutes);
    event.kind = kind;
    event.user_id = None;
    event.anonymous_id = Some(PersonId::parse(anonymous_id).unwrap());
    event
}

pub async fn an_identify_with_an_anonymous_id_merges_the_visitors_history(backend: impl Backend) {
    use nudge_shared::domain::EventKind;
    let store = backend.store();
    store
        .record(&anonymous(EventKind::Page, "anon-1", "Pricing", "v-1", 0))
        .await
        .unwrap();
    store
        .record(&anonymous(EventKind::Track, "anon-1", "trial_started", "v-2", 1))
        .await
        .unwrap();
    let mut signup = identify("u1", "v-3", json!({"email": "ada@example.com"}));
    signup.user_id = Some(PersonId::parse("u1").unwrap());
    signup.anonymous_id = Some(PersonId::parse("anon-1").unwrap());
    let Recorded::New(customer) = store.record(&signup).await.unwrap() else {
        panic!("new")
    };
    assert_eq!(
        customer.behavior.pages["Pricing"].count, 1,
        "the visit before signup counts for the customer"
    );
    assert_eq!(customer.event_count("trial_started"), 1);
    assert!(customer.merged_ids.contains(&PersonId::parse("anon-1").unwrap()));
    assert_eq!(
        store.person(&PersonId::parse("anon-1").unwrap()).await.unwrap(),
        None,
        "the visitor's profile is gone"
    );

    let Recorded::New(later) = store.record(&anonymous(EventKind::Page, "anon-1", "Docs", "v-4", 5)).await.unwrap() else {
        panic!("new")
    };
    assert_eq!(
        later.id.as_str(),
        "u1",
        "later anonymous calls from the same visitor count for the customer"
    );
    assert_eq!(
        store.person(&PersonId::parse("u1").unwrap()).await.unwrap().unwrap().behavior.pages["Docs"].count,
        1
    );
}

pub async fn an_alias_links_a_previous_id_and_what_it_had_merged(backend: impl Backend) {
    use nudge_shared::domain::EventKind;
    let store = backend.store();
    store.record(&anonymous(EventKind::Page, "anon-9", "Home", "w-1", 0)).await.unwrap();
    let mut first = identify("old-id", "w-2", json!({"plan": "free"}));
    first.user_id = Some(PersonId::parse("old-id").unwrap());
    first.anonymous_id = Some(PersonId::parse("anon-9").unwrap());
    store.record(&first).await.unwrap();
    let mut alias = identify("new-id", "w-3", json!({}));
    alias.kind = EventKind::Alias;
    alias.traits.clear();
    alias.user_id = Some(PersonId::parse("new-id").unwrap());
    alias.previous_id = Some(PersonId::parse("old-id").unwrap());
    let Recorded::New(merged) = store.record(&alias).await.unwrap() else {
        panic!("new")
    };
    assert_eq!(merged.traits["plan"], "free");
    assert_eq!(merged.behavior.pages["Home"].count, 1);
    assert_eq!(store.person(&PersonId::parse("old-id").unwrap()).await.unwrap(), None);
    let Recorded::New(later) = store
        .record(&anonymous(EventKind::Page, "anon-9", "Pricing", "w-4", 3))
        .await
        .unwrap()
    else {
        panic!("new")
    };
    assert_eq!(later.id.as_str(), "new-id", "an id merged into the previous id follows it");
}

pub async fn a_group_call_sets_the_accounts_traits(backend: impl Backend) {
    use nudge_shared::domain::{EventKind, GroupId};
    use nudge_shared::ports::AccountReader;
    let store = backend.store();
    let group = |person: &str, message_id: &str, minutes: i64, traits: serde_json::Value| {
        let mut event = track(person, "x", message_id, minutes);
        event.kind = EventKind::Group;
        event.name = None;
        event.group_id = Some(GroupId::parse("acme").unwrap());
        event.traits = traits.as_object().cloned().unwrap();
        event
    };
    store
        .record(&group("u1", "g-1", 10, json!({"plan": "team", "seats": 5})))
        .await
        .unwrap();
    store.record(&group("u2", "g-2", 20, json!({"plan": "enterprise"}))).await.unwrap();
    store.record(&group("u3", "g-3", 0, json!({"plan": "free"}))).await.unwrap();
    let account = store
        .account(&GroupId::parse("acme").unwrap())
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(
        account.traits["plan"], "enterprise",
        "the newest group call wins, not the last to arrive"
    );
    assert_eq!(account.traits["seats"], 5);
    for person in ["u1", "u2", "u3"] {
        let member = store.person(&PersonId::parse(person).unwrap()).await.unwrap().unwrap();
        assert!(member.accounts.contains(&GroupId::parse("acme").unwrap()), "{person}");
    }
    assert_eq!(store.account(&GroupId::parse("nobody").unwrap()).await.unwrap(), None);
}
