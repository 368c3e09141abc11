//! Helpers for tests that run against the local AWS-protocol emulator (moto server) that
//! `make test` starts and announces in `NUDGE_TEST_AWS_ENDPOINT`. Without it these tests
//! fail, loudly: they never skip.
//! The end-to-end tests themselves live in `e2e/`.

use serde_json::Value;

pub const ENDPOINT_VARIABLE: &str = "NUDGE_TEST_AWS_ENDPOINT";

/// The emulator's URL.
pub fn endpoint() -> String {
    std::env::var(ENDPOINT_VARIABLE).unwrap_or_else(|_| {
        panic!("{ENDPOINT_VARIABLE} is not set: the AWS adapter tests need the local AWS emulator. Run them with `make test`, which starts it.")
    })
}

/// A name no other test uses, so tests share one emulator without resetting it.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// One message the emulator's SES accepted.
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub destinations: Vec<String>,
    pub raw: String,
}

/// Every raw message SES has accepted so far, read from the emulator's state dump.
pub async fn ses_sent_emails() -> Vec<SentEmail> {
    let url = format!("{}/moto-api/data.json", endpoint());
    // The dump walks every backend's state while other tests write to it: it sometimes
    // fails with a server error (changed during iteration). Ask again.
    let mut attempt = 0;
    let state: Value = loop {
        attempt += 1;
        let response = reqwest::get(&url).await.expect("the emulator answers");
        match response.json().await {
            Ok(state) => break state,
            Err(error) if attempt < 10 => {
                let _ = error;
                tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
            }
            Err(error) => panic!("the emulator's state is not JSON after {attempt} attempts: {error}"),
        }
    };
    let mut found = Vec::new();
    collect_raw_messages(&state["ses"], &mut found);
    found
}

/// The dump nests backends by account and region; raw messages are objects with
/// `raw_data` and `destinations`, wherever they sit.
fn collect_raw_messages(value: &Value, found: &mut Vec<SentEmail>) {
    match value {
        Value::Object(map) => {
            if let Some(raw) = map.get("raw_data").and_then(Value::as_str) {
                let destinations = match &map["destinations"] {
                    Value::Array(items) => items.iter().filter_map(|d| d.as_str().map(str::to_string)).collect(),
                    Value::Object(fields) => fields
                        .values()
                        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                        .filter_map(|d| d.as_str().map(str::to_string))
                        .collect(),
                    _ => Vec::new(),
                };
                found.push(SentEmail {
                    destinations,
                    raw: raw.to_string(),
                });
            } else {
                map.values().for_each(|v| collect_raw_messages(v, found));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_raw_messages(v, found)),
        _ => {}
    }
}
