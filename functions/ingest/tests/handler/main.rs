//! The ingest function driven by API Gateway HTTP API (v2) event fixtures.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use chrono::{TimeZone, Utc};
use nudge_fn_ingest::{handle, IngestDeps, MAX_BODY_BYTES};
use nudge_shared::adapters::embedded::EmbeddedStore;
use nudge_shared::domain::{Event, PersonId};
use nudge_shared::ports::{EventLog, ProfileReader, Recorded};
use nudge_shared::{PortError, VirtualClock};
use serde_json::Value;
use std::sync::Arc;

fn fixture(bytes: &[u8]) -> ApiGatewayV2httpRequest {
    serde_json::from_slice(bytes).expect("fixture parses as an API Gateway v2 request")
}

fn clock() -> VirtualClock {
    VirtualClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 1).unwrap())
}

fn deps() -> IngestDeps<EmbeddedStore, VirtualClock> {
    let clock = clock();
    IngestDeps {
        log: EmbeddedStore::in_memory(Arc::new(clock.clone())).unwrap(),
        clock,
    }
}

fn body(response: &ApiGatewayV2httpResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).expect("responses are JSON"),
        other => panic!("expected a text body, got {other:?}"),
    }
}

#[tokio::test]
async fn track_is_stored_and_answered_with_success() {
    let deps = deps();
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/track-signed-up.json"))).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(response.headers["content-type"], "application/json");
    assert_eq!(body(&response), serde_json::json!({"success": true, "duplicate": false}));
    let person = deps
        .log
        .person(&PersonId::parse("user-1").unwrap())
        .await
        .unwrap()
        .expect("the profile exists");
    assert_eq!(person.event_counts["signed_up"], 1);
}

#[tokio::test]
async fn a_retried_track_is_acknowledged_but_stored_once() {
    let deps = deps();
    handle(&deps, fixture(include_bytes!("../../fixtures/track-signed-up.json"))).await;
    let again = handle(&deps, fixture(include_bytes!("../../fixtures/track-signed-up.json"))).await;
    assert_eq!(again.status_code, 200);
    assert_eq!(body(&again)["duplicate"], true);
    let person = deps.log.person(&PersonId::parse("user-1").unwrap()).await.unwrap().unwrap();
    assert_eq!(person.event_counts["signed_up"], 1);
}

#[tokio::test]
async fn identify_sets_traits() {
    let deps = deps();
    assert_eq!(
        handle(&deps, fixture(include_bytes!("../../fixtures/identify.json")))
            .await
            .status_code,
        200
    );
    let person = deps.log.person(&PersonId::parse("user-1").unwrap()).await.unwrap().unwrap();
    assert_eq!(person.traits["email"], "ada@example.com");
}

#[tokio::test]
async fn a_base64_body_is_decoded() {
    let deps = deps();
    assert_eq!(
        handle(&deps, fixture(include_bytes!("../../fixtures/track-base64.json")))
            .await
            .status_code,
        200
    );
    assert!(deps.log.person(&PersonId::parse("user-1").unwrap()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_missing_event_name_is_a_400_naming_the_field() {
    let response = handle(&deps(), fixture(include_bytes!("../../fixtures/track-missing-event.json"))).await;
    assert_eq!(response.status_code, 400);
    let error = &body(&response)["error"];
    assert_eq!(error["code"], "invalid_request");
    assert_eq!(error["field"], "event");
    assert!(error["message"].as_str().unwrap().contains("event"));
}

#[tokio::test]
async fn wrong_method_and_unknown_route_are_405_and_404() {
    assert_eq!(
        handle(&deps(), fixture(include_bytes!("../../fixtures/track-get.json")))
            .await
            .status_code,
        405
    );
    let response = handle(&deps(), fixture(include_bytes!("../../fixtures/unknown-route.json"))).await;
    assert_eq!(response.status_code, 404);
    assert_eq!(body(&response)["error"]["code"], "not_found");
}

#[tokio::test]
async fn an_oversized_body_is_a_413_and_nothing_is_stored() {
    let deps = deps();
    let mut request = fixture(include_bytes!("../../fixtures/track-signed-up.json"));
    let padding = "x".repeat(MAX_BODY_BYTES);
    request.body = Some(format!(
        r#"{{"userId":"user-1","event":"signed_up","properties":{{"padding":"{padding}"}}}}"#
    ));
    assert_eq!(handle(&deps, request).await.status_code, 413);
    assert!(deps.log.person(&PersonId::parse("user-1").unwrap()).await.unwrap().is_none());
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
    let deps = IngestDeps {
        log: UnavailableLog,
        clock: clock(),
    };
    let response = handle(&deps, fixture(include_bytes!("../../fixtures/track-signed-up.json"))).await;
    assert_eq!(response.status_code, 503);
    assert_eq!(body(&response)["error"]["code"], "unavailable");
}
