//! Lambda entry point for the evaluator: wiring only. The work is in `handler.rs`.

// The SDK clients make deep futures; the default limit is not enough to lay them out.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, LambdaEvent};
use nudge_fn_evaluator::{handle, EvaluatorDeps};
use nudge_shared::adapters::aws::{load_sdk_config, DynamoStore, SqsQueue};
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::config::{required_env, ConfigError};
use nudge_shared::evaluate::Evaluator;
use nudge_shared::SystemClock;
use std::sync::Arc;

struct Config {
    table_name: String,
    queue_url: String,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required_env("TABLE_NAME")?,
            queue_url: required_env("QUEUE_URL")?,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time()
        .init();
    let config = Config::from_env()?;
    let sdk = load_sdk_config().await;
    let store = DynamoStore::from_config(&sdk, config.table_name);
    let evaluator = Evaluator {
        campaigns: CampaignLibrary::new(store.clone()),
        people: store.clone(),
        journeys: store.clone(),
        queue: SqsQueue::from_config(&sdk, config.queue_url),
        timers: store,
    };
    let deps = Arc::new(EvaluatorDeps {
        evaluator,
        clock: SystemClock,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        let deps = Arc::clone(&deps);
        async move { Ok::<_, lambda_runtime::Error>(handle(&deps, event.payload).await) }
    }))
    .await
}
