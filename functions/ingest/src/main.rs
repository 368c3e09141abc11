//! Lambda entry point for ingest: wiring only. The work is in `handler.rs`.

// The SDK clients make deep futures; the default limit is not enough to lay them out.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, LambdaEvent};
use nudge_fn_ingest::{handle, IngestDeps};
use nudge_shared::adapters::aws::{load_sdk_config, DynamoStore};
use nudge_shared::config::{optional_days, required_env, ConfigError};
use nudge_shared::sources::CachedSources;
use nudge_shared::SystemClock;
use std::sync::Arc;

struct Config {
    table_name: String,
    /// How long raw events are kept (`EVENT_RETENTION_DAYS`); for ever when unset.
    event_retention: Option<chrono::Duration>,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required_env("TABLE_NAME")?,
            event_retention: optional_days("EVENT_RETENTION_DAYS")?,
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
    let mut store = DynamoStore::from_config(&sdk, config.table_name);
    if let Some(retention) = config.event_retention {
        store = store.with_event_retention(retention);
    }
    let deps = Arc::new(IngestDeps {
        log: store.clone(),
        // Every call looks its write key up: remember answers for a minute.
        sources: CachedSources::new(store, std::time::Duration::from_secs(60)),
        clock: SystemClock,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        let deps = Arc::clone(&deps);
        async move { Ok::<_, lambda_runtime::Error>(handle(&deps, event.payload).await) }
    }))
    .await
}
