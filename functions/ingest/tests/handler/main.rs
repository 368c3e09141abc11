//! The ingest function driven by API Gateway HTTP API (v2) event fixtures. The fixtures'
//! write key is `wk_fixture_website` (source `website`, channel `web`).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use chrono::{TimeZone, Utc};
use nudge_fn_ingest::{handle, IngestDeps};
use nudge_shared::adapters::embedded::EmbeddedStore;
use nudge_shared::domain::{Channel, Event, GroupId, PersonId, Secret, Source, SourceId};
use nudge_shared::ingest::MAX_MESSAGE_BYTES;
use nudge_shared::ports::{EventLog, ProfileReader, Recorded, SourceDirectory};
use nudge_shared::{PortError, VirtualClock};
use serde_json::{json, Value};
use std::sync::Arc;

fn fixture(bytes: &[u8]) -> ApiGatewayV2httpRequest {
    serde_json::from_slice(bytes).expect("fixture parses as an API Gateway v2 request")
}

fn clock() -> VirtualClock {
    VirtualClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 10).unwrap())
}

async fn deps() -> IngestDeps<EmbeddedStore, EmbeddedStore, VirtualClock> {
    let clock = clock();
    let store = EmbeddedStore::in_memory(Arc::new(clock.clone())).unwrap();
    let website = Source {
        id: SourceId::parse("website").unwrap(),
        name: "Website".into(),
        channel: Channel::parse("web").unwrap(),
        created_at: Utc::now(),
    };
    store.add_source(&website, &Secret::new("wk_fixture_website").hash()).await.unwrap();
    IngestDeps {
        log: store.clone(),
        sources: store,
        clock,
    }
}

fn body(response: &ApiGatewayV2httpResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).expect("responses are JSON"),
        other => panic!("expected a text body, got {other:?}"),
    }
}

async fn person(deps: &IngestDeps<EmbeddedStore, EmbeddedStore, VirtualClock>, id: &str) -> Option<nudge_shared::domain::Person> {
    deps.log.person(&PersonId::parse(id).unwrap()).await.unwrap()
}

#[tokio::test]
async fn track_is_stored_with_its_source_channel_and_answered_with_success() {
    let deps = deps().await;
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/track-signed-up.json"))).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(response.headers["content-type"], "application/json");
    assert_eq!(response.headers["access-control-allow-origin"], "*");
    assert_eq!(body(&response), json!({"success": true, "duplicate": false}));
    let person = person(&deps, "user-1").await.expect("the profile exists");
    assert_eq!(person.event_count("signed_up"), 1);
    assert!(
        person.behavior.channels.contains_key("web"),
        "the source's channel is stamped on the event"
    );
}

#[tokio::test]
async fn a_retried_track_is_acknowledged_but_stored_once() {
    let deps = deps().await;
    handle(&deps, fixture(include_bytes!("../../fixtures/track-signed-up.json"))).await;
    let again = handle(&deps, fixture(include_bytes!("../../fixtures/track-signed-up.json"))).await;
    assert_eq!(again.status_code, 200);
    assert_eq!(body(&again)["duplicate"], true);
    assert_eq!(person(&deps, "user-1").await.unwrap().event_count("signed_up"), 1);
}

#[tokio::test]
async fn concurrent_duplicate_posts_store_one_event() {
    let deps = deps().await;
    let request = || fixture(include_bytes!("../../fixtures/track-signed-up.json"));
    let responses = futures_join(&deps, [request(), request(), request(), request()]).await;
    assert!(responses.iter().all(|r| r.status_code == 200));
    assert_eq!(responses.iter().filter(|r| body(r)["duplicate"] == false).count(), 1);
    assert_eq!(person(&deps, "user-1").await.unwrap().event_count("signed_up"), 1);
}

async fn futures_join(
    deps: &IngestDeps<EmbeddedStore, EmbeddedStore, VirtualClock>,
    requests: [ApiGatewayV2httpRequest; 4],
) -> Vec<ApiGatewayV2httpResponse> {
    let [a, b, c, d] = requests;
    let (a, b, c, d) = tokio::join!(handle(deps, a), handle(deps, b), handle(deps, c), handle(deps, d));
    vec![a, b, c, d]
}

#[tokio::test]
async fn identify_sets_traits() {
    let deps = deps().await;
    assert_eq!(
        handle(&deps, fixture(include_bytes!("../../fixtures/identify.json")))
            .await
            .status_code,
        200
    );
    assert_eq!(person(&deps, "user-1").await.unwrap().traits["email"], "ada@example.com");
}

#[tokio::test]
async fn a_batch_of_mixed_calls_is_stored_in_order() {
    let deps = deps().await;
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/batch.json"))).await;
    assert_eq!(response.status_code, 200, "{:?}", body(&response));
    assert_eq!(body(&response), json!({"success": true, "accepted": 5, "duplicates": 0}));
    let user = person(&deps, "user-1").await.unwrap();
    assert_eq!(user.traits["email"], "ada@example.com");
    assert!(user.accounts.contains(&GroupId::parse("acme").unwrap()));
    assert_eq!(
        user.behavior.pages["Pricing"].count, 1,
        "the alias brought the visitor's page view along"
    );
    assert!(person(&deps, "anon-7").await.is_none());
    let again = handle(&deps, fixture(include_bytes!("../../fixtures/batch.json"))).await;
    assert_eq!(body(&again)["duplicates"], 5, "a retried batch stores nothing twice");
}

#[tokio::test]
async fn a_batch_with_one_bad_message_stores_nothing_and_names_the_message() {
    let deps = deps().await;
    let mut request = fixture(include_bytes!("../../fixtures/batch.json"));
    request.body = Some(
        json!({"batch": [{"type": "track", "userId": "user-1", "event": "ok"}, {"type": "track", "userId": "user-1", "properties": {}}]})
            .to_string(),
    );
    let response = handle(&deps, request).await;
    assert_eq!(response.status_code, 400);
    assert_eq!(body(&response)["error"]["field"], "batch[1].event");
    assert!(
        person(&deps, "user-1").await.is_none(),
        "the valid message before it was not stored either"
    );
}

#[tokio::test]
async fn a_browser_beacon_with_the_key_in_a_text_plain_body_is_accepted() {
    let deps = deps().await;
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/page-beacon.json"))).await;
    assert_eq!(response.status_code, 200, "{:?}", body(&response));
    assert_eq!(response.headers["access-control-allow-origin"], "*");
    assert_eq!(person(&deps, "anon-7").await.unwrap().behavior.pages["Home"].count, 1);
}

#[tokio::test]
async fn a_cors_preflight_is_answered_without_a_key() {
    let response = handle(&deps().await, fixture(include_bytes!("../../fixtures/preflight.json"))).await;
    assert_eq!(response.status_code, 204);
    assert_eq!(response.headers["access-control-allow-origin"], "*");
    assert!(response.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    assert!(response.headers["access-control-allow-methods"].to_str().unwrap().contains("POST"));
}

#[tokio::test]
async fn a_missing_or_wrong_write_key_is_a_401_and_nothing_is_stored() {
    let deps = deps().await;
    let mut missing = fixture(include_bytes!("../../fixtures/track-signed-up.json"));
    missing.headers.remove("authorization");
    let response = handle(&deps, missing).await;
    assert_eq!(response.status_code, 401);
    assert_eq!(body(&response)["error"]["code"], "unauthorized");

    let mut wrong = fixture(include_bytes!("../../fixtures/track-signed-up.json"));
    wrong
        .headers
        .insert("authorization", "Basic d3JvbmdfdHJhY2tpbmdfa2V5Og==".parse().unwrap());
    assert_eq!(handle(&deps, wrong).await.status_code, 401);

    let mut wrong_in_body = fixture(include_bytes!("../../fixtures/page-beacon.json"));
    wrong_in_body.body = Some(json!({"writeKey": "wk_guess", "anonymousId": "anon-7"}).to_string());
    assert_eq!(handle(&deps, wrong_in_body).await.status_code, 401);
    assert!(person(&deps, "user-1").await.is_none());
    assert!(person(&deps, "anon-7").await.is_none());
}

#[tokio::test]
async fn a_base64_body_is_decoded() {
    let deps = deps().await;
    assert_eq!(
        handle(&deps, fixture(include_bytes!("../../fixtures/track-base64.json")))
            .await
            .status_code,
        200
    );
    assert!(person(&deps, "user-1").await.is_some());
}

#[tokio::test]
async fn a_missing_event_name_is_a_400_naming_the_field() {
    let response = handle(&deps().await, fixture(include_bytes!("../../fixtures/track-missing-event.json"))).await;
    assert_eq!(response.status_code, 400);
    let error = &body(&response)["error"];
    assert_eq!(error["code"], "invalid_request");
    assert_eq!(error["field"], "event");
    assert!(error["message"].as_str().unwrap().contains("event"));
}

#[tokio::test]
async fn wrong_method_and_unknown_route_are_405_and_404() {
    assert_eq!(
        handle(&deps().await, fixture(include_bytes!("../../fixtures/track-get.json")))
            .await
            .status_code,
        405
    );
    let response = handle(&deps().await, fixture(include_bytes!("../../fixtures/unknown-route.json"))).await;
    assert_eq!(response.status_code, 404);
    assert_eq!(body(&response)["error"]["code"], "not_found");
}

#[tokio::test]
async fn an_oversized_message_is_a_413_and_nothing_is_stored() {
    let deps = deps().await;
    let mut request = fixture(include_bytes!("../../fixtures/track-signed-up.json"));
    let padding = "x".repeat(MAX_MESSAGE_BYTES);
    request.body = Some(format!(
        r#"{{"userId":"user-1","event":"signed_up","properties":{{"padding":"{padding}"}}}}"#
    ));
    let response = handle(&deps, request).await;
    assert_eq!(response.status_code, 413);
    assert_eq!(body(&response)["error"]["field"], "body");
    assert!(person(&deps, "user-1").await.is_none());
}

/// A store that is down.
struct UnavailableLog;

impl EventLog for UnavailableLog {
    async fn record(&self, _event: &Event) -> Result<Recorded, PortError> {
        Err(PortError::unavailable("DynamoDB", "throttled"))
    }
}

#[tokio::test]
async fn a_store_outage_is_a_503_so_clients_retry() {
    let working = deps().await;
    let deps = IngestDeps {
        log: UnavailableLog,
        sources: working.sources,
        clock: clock(),
    };
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/track-signed-up.json"))).await;
    assert_eq!(response.status_code, 503);
    assert_eq!(body(&response)["error"]["code"], "unavailable");
}

#[tokio::test]
async fn admin_routes_are_not_served_by_ingest() {
    let mut request = fixture(include_bytes!("../../fixtures/track-signed-up.json"));
    request.raw_path = Some("/v1/admin/sources".into());
    assert_eq!(
        handle(&deps().await, request).await.status_code,
        404,
        "a write key never reaches admin code"
    );
}

fn gzipped(request: &mut ApiGatewayV2httpRequest, body: &[u8]) {
    use base64::Engine;
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).unwrap();
    request.body = Some(base64::engine::general_purpose::STANDARD.encode(encoder.finish().unwrap()));
    request.is_base64_encoded = true;
    request.headers.insert("content-encoding", "gzip".parse().unwrap());
}

#[tokio::test]
async fn a_gzipped_batch_is_inflated() {
    let deps = deps().await;
    let mut request = fixture(include_bytes!("../../fixtures/batch.json"));
    let plain = request.body.clone().unwrap();
    gzipped(&mut request, plain.as_bytes());
    let response = handle(&deps, request).await;
    assert_eq!(response.status_code, 200, "{:?}", body(&response));
    assert_eq!(body(&response)["accepted"], 5);
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_the_batch_limit() {
    let mut request = fixture(include_bytes!("../../fixtures/batch.json"));
    gzipped(&mut request, &vec![b' '; 20 * 1024 * 1024]);
    let response = handle(&deps().await, request).await;
    assert_eq!(response.status_code, 413);
}
