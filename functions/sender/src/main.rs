//! Lambda entry point for the sender: wiring only. The work is in `handler.rs`.

// The SDK clients make deep futures; the default limit is not enough to lay them out.
#![recursion_limit = "256"]

use chrono::Duration;
use lambda_runtime::{service_fn, LambdaEvent};
use nudge_fn_sender::{handle, SenderDeps};
use nudge_shared::adapters::aws::{load_sdk_config, DynamoStore, SesMailer};
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::config::{
    guardrails_from_env, optional_env, required_env, sender_identity_from_env, unsubscribe_links_from_env, ConfigError,
};
use nudge_shared::guardrails::Guardrails;
use nudge_shared::mime::SenderIdentity;
use nudge_shared::templates::TemplateLibrary;
use nudge_shared::unsubscribe::UnsubscribeLinks;
use nudge_shared::SystemClock;
use std::sync::Arc;

struct Config {
    table_name: String,
    configuration_set: Option<String>,
    identity: SenderIdentity,
    postal_address: String,
    unsubscribe: UnsubscribeLinks,
    guardrails: Guardrails,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required_env("TABLE_NAME")?,
            configuration_set: optional_env("CONFIGURATION_SET"),
            identity: sender_identity_from_env()?,
            postal_address: optional_env("POSTAL_ADDRESS").unwrap_or_default(),
            unsubscribe: unsubscribe_links_from_env()?,
            guardrails: guardrails_from_env()?,
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
    let deps: Arc<SenderDeps<_, _, _, _, _>> = Arc::new(SenderDeps {
        campaigns: CampaignLibrary::new(store.clone()),
        profiles: store.clone(),
        ledger: store.clone(),
        templates: TemplateLibrary::new(store),
        mailer: SesMailer::from_config(&sdk, config.configuration_set),
        clock: SystemClock,
        identity: config.identity,
        postal_address: config.postal_address,
        unsubscribe: config.unsubscribe,
        guardrails: config.guardrails,
        // The queue's visibility timeout is 5 minutes: a claim outlives one delivery attempt.
        claim_lease: Duration::minutes(10),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        let deps = Arc::clone(&deps);
        async move { Ok::<_, lambda_runtime::Error>(handle(&deps, event.payload).await) }
    }))
    .await
}
