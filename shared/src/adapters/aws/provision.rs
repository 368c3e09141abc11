//! Creating the table and queues the way `template.yaml` declares them, for tests and local
//! runs against an AWS-protocol emulator. (On AWS, CloudFormation creates them.)

use super::sdk_error;
use crate::error::PortError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_sqs::types::QueueAttributeName;

/// Creates the single table (`pk`/`sk`, on-demand, stream with both images); returns the
/// stream ARN.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<String, PortError> {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("complete key")
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("complete attribute")
    };
    let output = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("complete"),
        )
        .send()
        .await
        .map_err(|e| sdk_error("DynamoDB", e))?;
    output
        .table_description
        .and_then(|t| t.latest_stream_arn)
        .ok_or_else(|| PortError::unavailable("DynamoDB", "the new table reports no stream"))
}

pub struct QueueUrls {
    pub queue: String,
    pub dead_letter_queue: String,
}

/// Creates `name` with a dead-letter queue `name-dlq` that takes messages after
/// `max_receives` failed deliveries.
pub async fn create_queue_with_dead_letter_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    max_receives: u32,
) -> Result<QueueUrls, PortError> {
    let dead_letter_queue = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .map_err(|e| sdk_error("SQS", e))?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dead_letter_queue)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error("SQS", e))?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| PortError::unavailable("SQS", "the dead-letter queue has no ARN"))?;
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}).to_string();
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .map_err(|e| sdk_error("SQS", e))?
        .queue_url
        .unwrap_or_default();
    Ok(QueueUrls { queue, dead_letter_queue })
}

/// Registers `address` as an SES identity. On AWS a person verifies the sending domain once;
/// the emulator verifies at once.
pub async fn create_sender_identity(client: &aws_sdk_sesv2::Client, address: &str) -> Result<(), PortError> {
    client
        .create_email_identity()
        .email_identity(address)
        .send()
        .await
        .map_err(|e| sdk_error("SES", e))?;
    Ok(())
}
