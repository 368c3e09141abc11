//! The AWS adapters. `item` (the table's item layout) is all a stream-triggered function
//! needs and builds without the SDK; the rest talk to DynamoDB, Streams, SQS and SES v2,
//! at `AWS_ENDPOINT_URL` when set (the local emulator in tests).

pub mod apigw;
pub mod item;

#[cfg(feature = "aws")]
mod config;
#[cfg(feature = "aws")]
mod dynamo;
#[cfg(feature = "aws")]
mod provision;
#[cfg(feature = "aws")]
mod ses;
#[cfg(feature = "aws")]
mod sqs;
#[cfg(feature = "aws")]
mod streams;

#[cfg(feature = "aws")]
pub use aws_config::SdkConfig;
#[cfg(feature = "aws")]
pub use config::{load_sdk_config, sdk_config_for_endpoint};
#[cfg(feature = "aws")]
pub use dynamo::DynamoStore;
#[cfg(feature = "aws")]
pub use provision::{create_queue_with_dead_letter_queue, create_sender_identity, create_table, QueueUrls};
#[cfg(feature = "aws")]
pub use ses::SesMailer;
#[cfg(feature = "aws")]
pub use sqs::SqsQueue;
#[cfg(feature = "aws")]
pub use streams::DynamoStreamFeed;

#[cfg(feature = "aws")]
fn sdk_error(what: &'static str, error: impl std::error::Error + 'static) -> crate::PortError {
    crate::PortError::unavailable(what, aws_smithy_error_context(&error))
}

/// The SDK's errors print only their outermost layer; this prints the whole chain.
#[cfg(feature = "aws")]
fn aws_smithy_error_context(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
