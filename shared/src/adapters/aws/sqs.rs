//! SQS as the job queue: the evaluator and scheduler send, the sender's Lambda trigger
//! receives (this adapter's `JobSource` side serves tests and local runs).

use super::sdk_error;
use crate::domain::MessageJob;
use crate::error::PortError;
use crate::ports::{JobQueue, JobSource, QueuedMessage};
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;
use chrono::Duration;

/// SQS takes at most 10 messages per batch call.
const SQS_BATCH_LIMIT: usize = 10;

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(Client::new(config), queue_url)
    }
}

impl JobQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[MessageJob]) -> Result<(), PortError> {
        for chunk in jobs.chunks(SQS_BATCH_LIMIT) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(index, job)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .message_body(job.to_json())
                        .build()
                        .map_err(|e| PortError::unavailable("SQS", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_error("SQS", e))?;
            // A batch call succeeds as a whole even when entries fail: any failure fails the
            // enqueue, and the caller's retry re-sends the batch (the ledger absorbs repeats).
            if let Some(failed) = output.failed.first() {
                return Err(PortError::unavailable(
                    "SQS",
                    format!("entry {} not sent: {}", failed.id, failed.message.clone().unwrap_or_default()),
                ));
            }
        }
        Ok(())
    }
}

impl JobSource for SqsQueue {
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<QueuedMessage>, PortError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, SQS_BATCH_LIMIT) as i32)
            .visibility_timeout(visibility.num_seconds().clamp(0, 43_200) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| sdk_error("SQS", e))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let receive_count = message
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1);
                QueuedMessage {
                    receipt: message.receipt_handle.unwrap_or_default(),
                    message_id: message.message_id.unwrap_or_default(),
                    body: message.body.unwrap_or_default(),
                    receive_count,
                }
            })
            .collect())
    }

    async fn acknowledge(&self, receipt: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sdk_error("SQS", e))?;
        Ok(())
    }
}
