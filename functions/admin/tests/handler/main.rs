//! The admin function driven by API Gateway HTTP API (v2) event fixtures. The bearer admin
//! key of the fixtures is `ak_fixture_admin`; the IAM fixture carries the authorizer's
//! context as API Gateway passes it.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use chrono::{Duration, TimeZone, Utc};
use nudge_fn_admin::{handle, AdminAuth, AdminDeps};
use nudge_shared::adapters::embedded::EmbeddedStore;
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::domain::{
    CampaignId, DedupKey, EmailAddress, Event, EventKind, EventName, MessageId, MessageJob, PersonId, Secret, TriggerSnapshot,
};
use nudge_shared::ports::{EventLog, ProfileReader, SendLedger, SourceDirectory, SuppressionList};
use nudge_shared::templates::TemplateLibrary;
use nudge_shared::VirtualClock;
use serde_json::{json, Value};
use std::sync::Arc;

fn fixture(bytes: &[u8]) -> ApiGatewayV2httpRequest {
    serde_json::from_slice(bytes).expect("fixture parses as an API Gateway v2 request")
}

fn clock() -> VirtualClock {
    VirtualClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 10).unwrap())
}

type Deps = AdminDeps<EmbeddedStore, EmbeddedStore, EmbeddedStore, VirtualClock>;

fn deps_with(auth: AdminAuth) -> Deps {
    let clock = clock();
    let store = EmbeddedStore::in_memory(Arc::new(clock.clone())).unwrap();
    AdminDeps {
        sources: store.clone(),
        people: store.clone(),
        templates: TemplateLibrary::new(store.clone()),
        campaigns: CampaignLibrary::new(store),
        clock,
        auth,
        company: "Acme".into(),
        postal_address: "1 Main St".into(),
    }
}

fn deps() -> Deps {
    deps_with(AdminAuth::Key(Secret::new("ak_fixture_admin").hash()))
}

fn body(response: &ApiGatewayV2httpResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).expect("responses are JSON"),
        other => panic!("expected a text body, got {other:?}"),
    }
}

/// `user+1` (the fixtures' percent-encoded id) with an email and a track event, and one send.
async fn a_customer(deps: &Deps) {
    let id = PersonId::parse("user+1").unwrap();
    let mut identify = Event::new(
        EventKind::Identify,
        MessageId::parse("m1").unwrap(),
        id.clone(),
        nudge_shared::Clock::now(&clock()),
    );
    identify.traits = json!({"email": "ada@example.com"}).as_object().cloned().unwrap();
    deps.people.record(&identify).await.unwrap();
    let mut track = Event::new(
        EventKind::Track,
        MessageId::parse("m2").unwrap(),
        id.clone(),
        nudge_shared::Clock::now(&clock()) + Duration::minutes(1),
    );
    track.name = Some(EventName::parse("signed_up").unwrap());
    deps.people.record(&track).await.unwrap();
    let campaign = CampaignId::parse("welcome").unwrap();
    let job = MessageJob {
        dedup_key: DedupKey::for_send(&campaign, "send-1", &id, &track.message_id),
        campaign_id: campaign,
        step: "send-1".into(),
        person_id: id,
        object: None,
        content: None,
        trigger: TriggerSnapshot::from(&track),
        created_at: nudge_shared::Clock::now(&clock()),
    };
    deps.people
        .claim(&job, nudge_shared::Clock::now(&clock()), Duration::minutes(10))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_creates_a_source_and_gets_its_key_once() {
    let deps = deps();
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/create-source-bearer.json"))).await;
    assert_eq!(response.status_code, 201, "{:?}", body(&response));
    let created = body(&response);
    assert_eq!(created["source"]["id"], "mobile-app");
    assert_eq!(created["source"]["channel"], "app");
    let key = created["writeKey"].as_str().unwrap();
    assert!(key.starts_with("wk_"));
    let source = deps
        .sources
        .source_for_key(&Secret::new(key).hash())
        .await
        .unwrap()
        .expect("the key works");
    assert_eq!(source.channel.as_str(), "app");
}

#[tokio::test]
async fn admin_routes_refuse_write_keys_and_wrong_admin_keys() {
    let deps = deps();
    let mut with_write_key = fixture(include_bytes!("../../fixtures/create-source-bearer.json"));
    with_write_key
        .headers
        .insert("authorization", "Basic d2tfZml4dHVyZV93ZWJzaXRlOg==".parse().unwrap());
    assert_eq!(handle(&deps, with_write_key).await.status_code, 401);
    let mut wrong = fixture(include_bytes!("../../fixtures/create-source-bearer.json"));
    wrong.headers.insert("authorization", "Bearer ak_guess".parse().unwrap());
    let response = handle(&deps, wrong).await;
    assert_eq!(response.status_code, 401);
    assert_eq!(body(&response)["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_bad_source_names_the_field() {
    let mut request = fixture(include_bytes!("../../fixtures/create-source-bearer.json"));
    request.body = Some(json!({"name": "x", "channel": ""}).to_string());
    let response = handle(&deps(), request).await;
    assert_eq!(
        (response.status_code, body(&response)["error"]["field"].clone()),
        (400, json!("channel"))
    );
    let mut request = fixture(include_bytes!("../../fixtures/create-source-bearer.json"));
    request.body = Some(json!({"channel": "web"}).to_string());
    assert_eq!(body(&handle(&deps(), request).await)["error"]["field"], "name");
}

#[tokio::test]
async fn behind_the_iam_authorizer_a_signed_request_is_allowed_and_an_unsigned_one_is_not() {
    let deps = deps_with(AdminAuth::Iam);
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/create-source-iam.json"))).await;
    assert_eq!(response.status_code, 201);
    assert_eq!(body(&response)["source"]["channel"], "call_center");
    let unsigned = handle(&deps, fixture(include_bytes!("../../fixtures/create-source-bearer.json"))).await;
    assert_eq!(unsigned.status_code, 401);
}

#[tokio::test]
async fn an_operator_looks_a_person_up() {
    let deps = deps();
    a_customer(&deps).await;
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/get-person.json"))).await;
    assert_eq!(response.status_code, 200, "{:?}", body(&response));
    let shown = body(&response);
    assert_eq!(shown["person"]["id"], "user+1", "the path's percent-encoding is decoded");
    assert_eq!(shown["person"]["traits"]["email"], "ada@example.com");
    assert_eq!(shown["person"]["behavior"]["events"]["signed_up"]["count"], 1);
    let events: Vec<_> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message_id"].clone())
        .collect();
    assert_eq!(events, [json!("m2"), json!("m1")], "newest first");
    assert_eq!(shown["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unknown_person_is_a_404() {
    let response = handle(&deps(), fixture(include_bytes!("../../fixtures/get-person.json"))).await;
    assert_eq!(response.status_code, 404);
    assert_eq!(
        handle(&deps(), fixture(include_bytes!("../../fixtures/delete-person.json")))
            .await
            .status_code,
        404
    );
}

#[tokio::test]
async fn erasing_a_person_removes_them_and_suppresses_their_address() {
    let deps = deps();
    a_customer(&deps).await;
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/delete-person.json"))).await;
    assert_eq!(response.status_code, 200, "{:?}", body(&response));
    assert_eq!(
        body(&response)["erased"],
        json!({"profile": true, "events": 2, "sends": 1, "timers": 0, "suppressed": true})
    );
    assert_eq!(deps.people.person(&PersonId::parse("user+1").unwrap()).await.unwrap(), None);
    assert!(deps.people.sends_to(&PersonId::parse("user+1").unwrap()).await.unwrap().is_empty());
    assert!(deps
        .people
        .is_suppressed(&EmailAddress::parse("ada@example.com").unwrap())
        .await
        .unwrap());
    assert_eq!(
        handle(&deps, fixture(include_bytes!("../../fixtures/get-person.json")))
            .await
            .status_code,
        404
    );
}

#[tokio::test]
async fn a_new_catalog_item_is_added_once_and_then_updated() {
    use nudge_shared::domain::Changed;
    use nudge_shared::ports::ChangeFeed;
    let deps = deps();
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/put-catalog-item.json"))).await;
    assert_eq!(response.status_code, 201, "{:?}", body(&response));
    assert_eq!(body(&response)["added"], true);
    assert_eq!(
        body(&response)["item"]["fields"]["author"],
        "Ada",
        "fields beyond the known ones are kept"
    );
    let again = handle(&deps, fixture(include_bytes!("../../fixtures/put-catalog-item.json"))).await;
    assert_eq!((again.status_code, body(&again)["added"].clone()), (200, json!(false)));

    let changes = deps.people.poll(10).await.unwrap();
    assert_eq!(changes.len(), 1, "one content_added for the new item, none for the update");
    assert!(matches!(&changes[0].change, Changed::ContentAdded(item) if item.id.as_str() == "launch-week"));

    let mut get = fixture(include_bytes!("../../fixtures/put-catalog-item.json"));
    get.request_context.http.method = aws_lambda_events::http::Method::GET;
    let shown = handle(&deps, get).await;
    assert_eq!(shown.status_code, 200);
    assert_eq!(body(&shown)["item"]["fields"]["title"], "Launch week recap");
}

#[tokio::test]
async fn a_bad_catalog_item_names_the_field() {
    for (fields, field) in [
        (json!({"title": 7}), "title"),
        (json!({"tags": "rust"}), "tags"),
        (json!({"published_at": "last week"}), "published_at"),
        (json!(["not", "an", "object"]), "body"),
    ] {
        let mut request = fixture(include_bytes!("../../fixtures/put-catalog-item.json"));
        request.body = Some(fields.to_string());
        let response = handle(&deps(), request).await;
        assert_eq!(
            (response.status_code, body(&response)["error"]["field"].clone()),
            (400, json!(field))
        );
    }
    let mut unsigned = fixture(include_bytes!("../../fixtures/put-catalog-item.json"));
    unsigned.headers.remove("authorization");
    assert_eq!(
        handle(&deps(), unsigned).await.status_code,
        401,
        "a write key cannot change the catalog"
    );
}

fn with_body(mut request: ApiGatewayV2httpRequest, body: Value) -> ApiGatewayV2httpRequest {
    request.body = Some(body.to_string());
    request
}

const CART_TEMPLATE: &str = "---\nsubject: \"{{ person.first_name | default: 'Hi' }}, your cart\"\npreheader: \"{{ event.properties.total | money }}\"\n---\n<mjml><mj-body><mj-section><mj-column><mj-text>{% for item in event.properties.items %}{{ item.name }} {% endfor %}for {{ person.email }}</mj-text></mj-column></mj-section></mj-body></mjml>\n";

#[tokio::test]
async fn a_saved_template_gets_versions_and_is_listed_and_shown() {
    let deps = deps();
    let put = || {
        with_body(
            fixture(include_bytes!("../../fixtures/put-template.json")),
            json!({"format": "mjml", "source": CART_TEMPLATE}),
        )
    };
    let first = handle(&deps, put()).await;
    assert_eq!(
        (first.status_code, body(&first)["version"].clone()),
        (201, json!(1)),
        "{:?}",
        body(&first)
    );
    let again = handle(&deps, put()).await;
    assert_eq!(
        (again.status_code, body(&again)["changed"].clone()),
        (200, json!(false)),
        "same text, same version"
    );
    let edited = handle(
        &deps,
        with_body(
            fixture(include_bytes!("../../fixtures/put-template.json")),
            json!({"format": "mjml", "source": CART_TEMPLATE.replace("your cart", "your basket")}),
        ),
    )
    .await;
    assert_eq!(body(&edited)["version"], json!(2));
    let mut list = fixture(include_bytes!("../../fixtures/get-person.json"));
    list.raw_path = Some("/v1/admin/templates".into());
    let listed = body(&handle(&deps, list.clone()).await);
    let names: Vec<(String, u64)> = listed["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["version"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        names,
        vec![("cart-reminder".into(), 2), ("getting-started".into(), 0), ("welcome".into(), 0)]
    );
    list.raw_path = Some("/v1/admin/templates/cart-reminder".into());
    let shown = body(&handle(&deps, list).await);
    assert!(shown["template"]["source"].as_str().unwrap().contains("your basket"));
}

#[tokio::test]
async fn a_template_that_does_not_compile_is_refused_with_line_and_column() {
    let deps = deps();
    let broken = CART_TEMPLATE.replace("{% endfor %}", "");
    let response = handle(
        &deps,
        with_body(
            fixture(include_bytes!("../../fixtures/put-template.json")),
            json!({"format": "mjml", "source": broken}),
        ),
    )
    .await;
    assert_eq!(response.status_code, 400);
    let error = &body(&response)["error"];
    assert_eq!(
        (error["code"].as_str(), error["field"].as_str()),
        (Some("invalid_template"), Some("source"))
    );
    assert!(error["line"].as_u64().unwrap() >= 5, "{error}");
    let missing_format = handle(
        &deps,
        with_body(
            fixture(include_bytes!("../../fixtures/put-template.json")),
            json!({"source": CART_TEMPLATE}),
        ),
    )
    .await;
    assert_eq!(missing_format.status_code, 400);
    assert_eq!(body(&missing_format)["error"]["field"], json!("body"));
}

#[tokio::test]
async fn preview_renders_a_draft_or_a_stored_template_for_a_real_person() {
    let deps = deps();
    a_customer(&deps).await;
    let event = json!({"name": "cart_abandoned", "properties": {"total": 42.5, "items": [{"name": "Desk"}, {"name": "Lamp"}]}});
    let response = handle(
        &deps,
        with_body(
            fixture(include_bytes!("../../fixtures/post-preview.json")),
            json!({"source": CART_TEMPLATE, "format": "mjml", "person_id": "user+1", "event": event}),
        ),
    )
    .await;
    assert_eq!(response.status_code, 200, "{:?}", body(&response));
    let message = &body(&response)["message"];
    assert_eq!(message["subject"], json!("Hi, your cart"));
    assert_eq!(message["preheader"], json!("$42.50"));
    assert!(
        message["text"].as_str().unwrap().contains("Desk Lamp for ada@example.com"),
        "{message}"
    );
    assert!(message["html"].as_str().unwrap().contains("<!doctype html>"));

    let stored = handle(
        &deps,
        with_body(
            fixture(include_bytes!("../../fixtures/post-preview.json")),
            json!({"template": "welcome", "person_id": "user+1"}),
        ),
    )
    .await;
    assert_eq!(body(&stored)["template"], json!({"name": "welcome", "version": 0}));
    assert_eq!(body(&stored)["message"]["subject"], json!("Welcome to Acme, friend!"));
}

#[tokio::test]
async fn preview_says_which_value_is_missing_and_who_is_unknown() {
    let deps = deps();
    a_customer(&deps).await;
    let strict = "---\nsubject: Hi {{ person.first_name }}\n---\n<p>x</p>";
    let response = handle(
        &deps,
        with_body(
            fixture(include_bytes!("../../fixtures/post-preview.json")),
            json!({"source": strict, "format": "html", "person_id": "user+1"}),
        ),
    )
    .await;
    assert_eq!(response.status_code, 422);
    let error = &body(&response)["error"];
    assert_eq!(error["field"], json!("subject"));
    assert!(
        error["message"].as_str().unwrap().contains("`person.first_name` is undefined"),
        "{error}"
    );
    let nobody = handle(
        &deps,
        with_body(
            fixture(include_bytes!("../../fixtures/post-preview.json")),
            json!({"template": "welcome", "person_id": "nobody"}),
        ),
    )
    .await;
    assert_eq!(nobody.status_code, 404);
}

#[tokio::test]
async fn a_persons_messages_say_what_was_skipped_and_why() {
    let deps = deps();
    a_customer(&deps).await;
    // Settle the customer's claimed send as skipped by the frequency cap.
    let id = PersonId::parse("user+1").unwrap();
    let mut record = deps.people.sends_to(&id).await.unwrap().remove(0);
    record.state = nudge_shared::domain::SendState::Skipped {
        at: nudge_shared::Clock::now(&clock()),
        reason: nudge_shared::domain::SkipReason::FrequencyCapped {
            limit: 2,
            window: "24h".into(),
        },
    };
    deps.people.settle(&record).await.unwrap();
    let mut request = fixture(include_bytes!("../../fixtures/get-person.json"));
    request.raw_path = Some("/v1/admin/people/user%2B1/messages".into());
    let response = handle(&deps, request.clone()).await;
    assert_eq!(response.status_code, 200, "{:?}", body(&response));
    let messages = &body(&response)["messages"];
    assert_eq!(messages[0]["state"], "skipped");
    assert_eq!(messages[0]["campaign"], "welcome");
    assert_eq!(messages[0]["why"], "frequency cap: 2 marketing emails per 24h reached");
    request.raw_path = Some("/v1/admin/people/nobody/messages".into());
    assert_eq!(handle(&deps, request).await.status_code, 404);
}

#[tokio::test]
async fn campaigns_are_saved_with_versions_refused_with_their_line_and_listed_with_stats() {
    let deps = deps();
    let yaml = "id: winback\nname: Win back\ntrigger: { event: churned }\nsteps:\n  - wait: 7d\n  - send: { template: welcome }\n";
    let put = |id: &str, source: &str| {
        let mut request = fixture(include_bytes!("../../fixtures/put-template.json"));
        request.raw_path = Some(format!("/v1/admin/campaigns/{id}"));
        request.body = Some(json!({ "source": source }).to_string());
        request
    };
    let saved = handle(&deps, put("winback", yaml)).await;
    assert_eq!(
        (saved.status_code, body(&saved)["version"].clone()),
        (201, json!(1)),
        "{:?}",
        body(&saved)
    );
    let broken = handle(&deps, put("winback", &yaml.replace("wait: 7d", "wait: a week"))).await;
    assert_eq!(broken.status_code, 400);
    let error = &body(&broken)["error"];
    assert_eq!(
        (error["code"].as_str(), error["line"].as_u64()),
        (Some("invalid_campaign"), Some(5)),
        "{error}"
    );
    let renamed = handle(&deps, put("other", yaml)).await;
    assert_eq!(
        (renamed.status_code, body(&renamed)["error"]["field"].clone()),
        (400, json!("source"))
    );

    let mut list = fixture(include_bytes!("../../fixtures/get-person.json"));
    list.raw_path = Some("/v1/admin/campaigns".into());
    let listed = body(&handle(&deps, list).await);
    let ids: Vec<&str> = listed["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["winback", "welcome", "getting-started"]);
    assert_eq!(listed["campaigns"][0]["version"], 1);
    assert_eq!(listed["campaigns"][0]["stats"]["entered"], 0);
}
