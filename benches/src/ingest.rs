//! `make bench`, ingest: how fast the embedded backend takes events, and how many DynamoDB
//! requests 1,000 events cost on the AWS adapters (against the emulator `make bench`
//! starts: request counts, not latencies, are what carry over to AWS). Both go through the
//! real ingest function, as the API would call it. Prints a Markdown report.

// The SDK clients make deep futures; the default limit is not enough to lay them out.
#![recursion_limit = "256"]

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chrono::Utc;
use nudge_fn_ingest::{handle, IngestDeps};
use nudge_shared::adapters::aws::{self, DynamoStore};
use nudge_shared::adapters::embedded::EmbeddedStore;
use nudge_shared::domain::{Channel, Secret, Source, SourceId};
use nudge_shared::ports::{EventLog, SourceDirectory};
use nudge_shared::{Clock, SystemClock};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const WRITE_KEY: &str = "wk_bench";
const PEOPLE: usize = 100;
/// Fewer on the emulator: its development server stops accepting connections after a
/// thousand or so in quick succession. Counts are per event, so they scale.
const AWS_PEOPLE: usize = 20;
const EVENTS_PER_PERSON: usize = 10;
const BATCH: usize = 100;

/// The calls of the workload: each person identifies, then tracks nine events.
fn workload(run: &str, people: usize) -> Vec<Value> {
    let mut calls = Vec::new();
    for person in 0..people {
        let user = format!("{run}-user-{person}");
        calls.push(json!({"type": "identify", "userId": user, "messageId": format!("{user}-0"), "traits": {"email": format!("{user}@example.com"), "plan": "pro"}}));
        for n in 1..EVENTS_PER_PERSON {
            calls.push(json!({"type": "track", "userId": user, "event": if n % 3 == 0 { "order_completed" } else { "page_viewed" }, "messageId": format!("{user}-{n}"), "properties": {"n": n, "path": "/pricing"}}));
        }
    }
    calls
}

fn request(path: &str, body: &Value) -> ApiGatewayV2httpRequest {
    serde_json::from_value(json!({
        "version": "2.0", "rawPath": path, "headers": {"authorization": "Basic d2tfYmVuY2g6", "content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": path}, "timeEpoch": 0},
        "body": body.to_string(), "isBase64Encoded": false,
    }))
    .expect("a valid request")
}

/// Sends the workload as single calls, or as batches; returns events per second.
async fn drive<L: EventLog, S: SourceDirectory, C: Clock>(
    deps: &IngestDeps<L, S, C>,
    calls: &[Value],
    batched: bool,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    if batched {
        for chunk in calls.chunks(BATCH) {
            let response = handle(deps, request("/v1/batch", &json!({ "batch": chunk }))).await;
            anyhow::ensure!(
                response.status_code == 200,
                "batch answered {}: {:?}",
                response.status_code,
                response.body
            );
        }
    } else {
        for call in calls {
            let path = format!("/v1/{}", call["type"].as_str().unwrap_or("track"));
            let response = handle(deps, request(&path, call)).await;
            anyhow::ensure!(
                response.status_code == 200,
                "{path} answered {}: {:?}",
                response.status_code,
                response.body
            );
        }
    }
    Ok(calls.len() as f64 / started.elapsed().as_secs_f64())
}

fn bench_source() -> Source {
    Source {
        id: SourceId::parse("bench").unwrap(),
        name: "Bench".into(),
        channel: Channel::parse("web").unwrap(),
        created_at: Utc::now(),
    }
}

/// Counts DynamoDB requests by operation (the `X-Amz-Target` header), retries included.
#[derive(Debug, Clone, Default)]
struct RequestCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

impl RequestCounter {
    fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let calls = workload("embedded", PEOPLE);
    println!("# Ingest benchmark\n");
    println!(
        "Workload: {PEOPLE} people, each 1 identify + {} tracks ({} events), through the ingest function.\n",
        EVENTS_PER_PERSON - 1,
        calls.len()
    );

    println!("## Embedded backend (SQLite, WAL, synchronous=FULL: every event durable before its 200)\n");
    println!("| calls | events/s |\n|---|---|");
    for batched in [false, true] {
        let dir = tempfile::tempdir()?;
        let store = EmbeddedStore::open(&dir.path().join("nudge.db"), Arc::new(SystemClock))?;
        store.add_source(&bench_source(), &Secret::new(WRITE_KEY).hash()).await?;
        let deps = IngestDeps {
            log: store.clone(),
            sources: store,
            clock: SystemClock,
        };
        let rate = drive(&deps, &calls, batched).await?;
        println!(
            "| {} | {rate:.0} |",
            if batched {
                format!("/v1/batch of {BATCH}")
            } else {
                "one per request".into()
            }
        );
    }

    let Ok(endpoint) = std::env::var("NUDGE_TEST_AWS_ENDPOINT") else {
        println!("\n(AWS adapters skipped: NUDGE_TEST_AWS_ENDPOINT is not set; `make bench` starts the emulator.)");
        return Ok(());
    };
    println!("\n## AWS adapters: DynamoDB requests per 1,000 events\n");
    println!(
        "Measured over {} events on the emulator; request counts, not latencies, carry over to AWS.\n",
        AWS_PEOPLE * EVENTS_PER_PERSON
    );
    let sdk = aws::sdk_config_for_endpoint(&endpoint).await;
    let counter = RequestCounter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(counter.clone()).build());
    println!("| calls | requests / 1,000 events | by operation |\n|---|---|---|");
    for batched in [false, true] {
        let table = format!("bench-{}", Utc::now().timestamp_nanos_opt().unwrap_or_default());
        aws::create_table(&client, &table).await?;
        let store = DynamoStore::new(client.clone(), table);
        store.add_source(&bench_source(), &Secret::new(WRITE_KEY).hash()).await?;
        let deps = IngestDeps {
            log: store.clone(),
            sources: nudge_shared::sources::CachedSources::new(store, std::time::Duration::from_secs(60)),
            clock: SystemClock,
        };
        counter.take();
        let calls = workload(if batched { "batched" } else { "single" }, AWS_PEOPLE);
        drive(&deps, &calls, batched).await?;
        let counts = counter.take();
        let total: usize = counts.values().sum();
        let per_thousand = total as f64 * 1000.0 / calls.len() as f64;
        let by_operation: Vec<String> = counts
            .iter()
            .map(|(op, n)| format!("{op} {:.0}", *n as f64 * 1000.0 / calls.len() as f64))
            .collect();
        println!(
            "| {} | {per_thousand:.0} | {} |",
            if batched {
                format!("/v1/batch of {BATCH}")
            } else {
                "one per request".into()
            },
            by_operation.join(", ")
        );
    }
    Ok(())
}
