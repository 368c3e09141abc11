//! Lambda entry point for the admin routes: wiring only. The work is in `handler.rs`.

// The SDK clients make deep futures; the default limit is not enough to lay them out.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, LambdaEvent};
use nudge_fn_admin::{handle, AdminAuth, AdminDeps};
use nudge_shared::adapters::aws::{load_sdk_config, DynamoStore};
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::config::{optional_env, required_env, ConfigError};
use nudge_shared::templates::TemplateLibrary;
use nudge_shared::SystemClock;
use std::sync::Arc;

struct Config {
    table_name: String,
    company: String,
    postal_address: String,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required_env("TABLE_NAME")?,
            company: optional_env("SENDER_NAME").unwrap_or_else(|| "Nudge".into()),
            postal_address: optional_env("POSTAL_ADDRESS").unwrap_or_default(),
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
    // Every admin route sits behind API Gateway's IAM authorizer (template.yaml).
    let deps = Arc::new(AdminDeps {
        sources: store.clone(),
        people: store.clone(),
        templates: TemplateLibrary::new(store.clone()),
        campaigns: CampaignLibrary::new(store),
        clock: SystemClock,
        auth: AdminAuth::Iam,
        company: config.company,
        postal_address: config.postal_address,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        let deps = Arc::clone(&deps);
        async move { Ok::<_, lambda_runtime::Error>(handle(&deps, event.payload).await) }
    }))
    .await
}
