//! The preference center driven by API Gateway HTTP API (v2) event fixtures. The fixtures'
//! path holds `TOKEN`, replaced by a token signed with the test secret (or a forged one).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use chrono::{TimeZone, Utc};
use nudge_fn_preferences::{handle, PreferencesDeps};
use nudge_shared::adapters::embedded::EmbeddedStore;
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::domain::{Campaign, CampaignSet, DedupKey, Event, EventKind, MessageId, PersonId, Preferences, Topic};
use nudge_shared::ports::{EventLog, MessageArchive, PreferenceStore};
use nudge_shared::unsubscribe::{UnsubscribeSecret, UnsubscribeToken, ViewToken};
use nudge_shared::{Clock, VirtualClock};
use std::sync::Arc;

const SECRET: &str = "test-secret-test-secret-test-secret";

fn clock() -> VirtualClock {
    VirtualClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 10).unwrap())
}

fn topic(name: &str) -> Topic {
    Topic::parse(name).unwrap()
}

async fn deps() -> PreferencesDeps<EmbeddedStore, VirtualClock> {
    let store = EmbeddedStore::in_memory(Arc::new(clock())).unwrap();
    let mut identify = Event::new(EventKind::Identify, MessageId::parse("m1").unwrap(), ada(), clock().now());
    identify.traits = serde_json::json!({"email": "ada@example.com"}).as_object().cloned().unwrap();
    store.record(&identify).await.unwrap();
    PreferencesDeps {
        store,
        secret: UnsubscribeSecret::parse(SECRET).unwrap(),
        campaigns: CampaignLibrary::fixed(CampaignSet::new(
            ["newsletter", "product_tips"]
                .iter()
                .map(|t| {
                    serde_yaml_ng::from_str::<Campaign>(&format!(
                        "{{ id: c-{t}, name: {t}, trigger: {{ event: x }}, steps: [ {{ send: {{ template: welcome, topic: {t} }} }} ] }}"
                    ))
                    .unwrap()
                })
                .collect(),
        )),
        company: "Acme <Tools>".into(),
        clock: clock(),
    }
}

fn ada() -> PersonId {
    PersonId::parse("ada").unwrap()
}

fn token(person: &str, topic_name: Option<&str>) -> String {
    UnsubscribeToken {
        person: PersonId::parse(person).unwrap(),
        topic: topic_name.map(topic),
    }
    .sign(&UnsubscribeSecret::parse(SECRET).unwrap())
}

fn request(fixture: &[u8], token: &str) -> ApiGatewayV2httpRequest {
    let mut request: ApiGatewayV2httpRequest = serde_json::from_slice(fixture).expect("fixture parses");
    request.raw_path = request.raw_path.map(|p| p.replace("TOKEN", token));
    request
}

fn text(response: &ApiGatewayV2httpResponse) -> String {
    match &response.body {
        Some(Body::Text(text)) => text.clone(),
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn content_type(response: &ApiGatewayV2httpResponse) -> &str {
    response
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn get_shows_the_preference_center_and_changes_nothing() {
    let deps = deps().await;
    let response = handle(
        &deps,
        request(include_bytes!("../../fixtures/get-page.json"), &token("ada", Some("product_tips"))),
    )
    .await;
    assert_eq!(response.status_code, 200);
    assert!(content_type(&response).starts_with("text/html"));
    assert_eq!(response.headers.get("cache-control").unwrap(), "no-store");
    let page = text(&response);
    assert!(page.contains("Unsubscribe from Product tips email?"), "{page}");
    assert!(page.contains("value=\"newsletter\" checked") && page.contains("value=\"product_tips\" checked"));
    assert!(page.contains("Acme &lt;Tools&gt;"), "the company name is escaped");
    assert_eq!(deps.store.preferences(&ada()).await.unwrap(), Preferences::default());
}

#[tokio::test]
async fn a_one_click_post_leaves_the_links_topic() {
    let deps = deps().await;
    let response = handle(
        &deps,
        request(
            include_bytes!("../../fixtures/post-one-click.json"),
            &token("ada", Some("product_tips")),
        ),
    )
    .await;
    assert_eq!(response.status_code, 200);
    let preferences = deps.store.preferences(&ada()).await.unwrap();
    assert!(!preferences.allows(Some(&topic("product_tips"))));
    assert!(preferences.allows(Some(&topic("newsletter"))), "other topics stay");
    assert!(text(&response).contains("You will no longer get Product tips email."));
    // A retried POST changes nothing more.
    handle(
        &deps,
        request(
            include_bytes!("../../fixtures/post-one-click.json"),
            &token("ada", Some("product_tips")),
        ),
    )
    .await;
    assert_eq!(deps.store.preferences(&ada()).await.unwrap(), preferences);
}

#[tokio::test]
async fn a_link_without_topic_unsubscribes_from_all_marketing() {
    let deps = deps().await;
    handle(
        &deps,
        request(include_bytes!("../../fixtures/post-one-click.json"), &token("ada", None)),
    )
    .await;
    let preferences = deps.store.preferences(&ada()).await.unwrap();
    assert_eq!(preferences.unsubscribed_all, Some(clock().now()));
    assert!(!preferences.allows(Some(&topic("newsletter"))) && !preferences.allows(None));
}

#[tokio::test]
async fn the_form_keeps_the_checked_topics_and_resubscribes() {
    let deps = deps().await;
    let mut everything_off = Preferences::default();
    everything_off.unsubscribe(None, clock().now());
    deps.store.save_preferences(&ada(), &everything_off).await.unwrap();
    let response = handle(
        &deps,
        request(
            include_bytes!("../../fixtures/post-form-save.json"),
            &token("ada", Some("product_tips")),
        ),
    )
    .await;
    assert_eq!(response.status_code, 200);
    let preferences = deps.store.preferences(&ada()).await.unwrap();
    assert!(preferences.allows(Some(&topic("newsletter"))), "checked: kept (and resubscribed)");
    assert!(!preferences.allows(Some(&topic("product_tips"))), "unchecked: left");
    assert!(text(&response).contains("value=\"newsletter\" checked"));
}

#[tokio::test]
async fn forged_or_altered_tokens_are_refused() {
    let deps = deps().await;
    let good = token("ada", Some("product_tips"));
    let (_, tag) = good.split_once('.').unwrap();
    use base64::Engine;
    let forged = format!(
        "{}.{tag}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("grace\nproduct_tips")
    );
    for bad in [forged, format!("{good}x"), "nonsense".to_string()] {
        let response = handle(&deps, request(include_bytes!("../../fixtures/post-one-click.json"), &bad)).await;
        assert_eq!(response.status_code, 400, "{bad}");
        let error: serde_json::Value = serde_json::from_str(&text(&response)).unwrap();
        assert_eq!(
            (error["error"]["code"].as_str(), error["error"]["field"].as_str()),
            (Some("invalid_token"), Some("token"))
        );
        let page = handle(&deps, request(include_bytes!("../../fixtures/get-page.json"), &bad)).await;
        assert_eq!(page.status_code, 400);
        assert!(content_type(&page).starts_with("text/html"));
    }
    assert_eq!(deps.store.preferences(&ada()).await.unwrap(), Preferences::default());
    assert_eq!(
        deps.store.preferences(&PersonId::parse("grace").unwrap()).await.unwrap(),
        Preferences::default()
    );
}

#[tokio::test]
async fn an_unknown_or_erased_person_gets_a_page_and_nothing_is_written() {
    let deps = deps().await;
    let response = handle(
        &deps,
        request(include_bytes!("../../fixtures/post-one-click.json"), &token("ghost", None)),
    )
    .await;
    assert_eq!(response.status_code, 200);
    assert!(text(&response).contains("not on our list"));
    assert_eq!(
        deps.store.preferences(&PersonId::parse("ghost").unwrap()).await.unwrap(),
        Preferences::default()
    );
}

fn view_token(person: &str) -> String {
    ViewToken {
        person: PersonId::parse(person).unwrap(),
        dedup_key: key(),
    }
    .sign(&UnsubscribeSecret::parse(SECRET).unwrap())
}

fn key() -> DedupKey {
    DedupKey::parse("0123456789abcdef0123456789abcdef").unwrap()
}

#[tokio::test]
async fn a_view_link_shows_the_archived_message_in_a_sandbox_until_it_expires() {
    let deps = deps().await;
    let html = "<html><body><p>Your cart, Ada</p><script>alert(1)</script></body></html>";
    deps.store
        .archive(&ada(), &key(), html, clock().now() + chrono::Duration::days(90))
        .await
        .unwrap();
    let response = handle(&deps, request(include_bytes!("../../fixtures/get-view.json"), &view_token("ada"))).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(text(&response), html);
    assert_eq!(response.headers.get("content-security-policy").unwrap(), "sandbox");

    // Another person's id under the same send key: nothing (and a forged token is refused).
    let other = handle(&deps, request(include_bytes!("../../fixtures/get-view.json"), &view_token("grace"))).await;
    assert_eq!(other.status_code, 410);
    let unsubscribe_token = token("ada", None);
    let wrong_kind = handle(&deps, request(include_bytes!("../../fixtures/get-view.json"), &unsubscribe_token)).await;
    assert_eq!(wrong_kind.status_code, 400, "an unsubscribe token does not open messages");

    deps.store
        .archive(&ada(), &key(), html, clock().now() - chrono::Duration::seconds(1))
        .await
        .unwrap();
    let expired = handle(&deps, request(include_bytes!("../../fixtures/get-view.json"), &view_token("ada"))).await;
    assert_eq!(expired.status_code, 410);
    assert!(text(&expired).contains("no longer available"));
}
