//! The table's DynamoDB stream, read the way Lambda's event source mapping reads it. In
//! Lambda, the mapping does this and calls the evaluator; this adapter serves tests and
//! local runs: `read_batch` yields the very records Lambda would deliver, and the
//! `ChangeFeed` side decodes them with the evaluator's own decoder.
//! Positions are kept in memory: a new instance starts again from the oldest record.

use super::item::change_from_stream_record;
use super::sdk_error;
use crate::error::PortError;
use crate::ports::{Change, ChangeFeed};
use aws_lambda_events::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use serde_json::json;
use std::collections::VecDeque;
use tokio::sync::Mutex;

pub struct DynamoStreamFeed {
    client: Client,
    stream_arn: String,
    shards: Mutex<Vec<(String, Option<String>)>>,
    /// Records read but not yet committed (the `ChangeFeed` side only).
    pending: Mutex<VecDeque<EventRecord>>,
}

impl DynamoStreamFeed {
    pub fn new(client: Client, stream_arn: impl Into<String>) -> Self {
        Self {
            client,
            stream_arn: stream_arn.into(),
            shards: Mutex::new(Vec::new()),
            pending: Mutex::new(VecDeque::new()),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, stream_arn: impl Into<String>) -> Self {
        Self::new(Client::new(config), stream_arn)
    }

    /// The next records on the stream (up to `max`), shaped as Lambda delivers them to a
    /// stream-triggered function. Each call moves on: records are returned once.
    pub async fn read_batch(&self, max: usize) -> Result<Vec<EventRecord>, PortError> {
        let mut shards = self.shards.lock().await;
        self.discover_shards(&mut shards).await?;
        for (_, iterator) in shards.iter_mut() {
            let Some(current) = iterator.clone() else { continue };
            let output = self
                .client
                .get_records()
                .shard_iterator(current)
                .limit(max.clamp(1, 1000) as i32)
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB Streams", e))?;
            *iterator = output.next_shard_iterator;
            let records = output.records.unwrap_or_default();
            if !records.is_empty() {
                return records.into_iter().map(|r| self.to_lambda_record(r)).collect();
            }
        }
        Ok(Vec::new())
    }

    async fn discover_shards(&self, shards: &mut Vec<(String, Option<String>)>) -> Result<(), PortError> {
        let description = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB Streams", e))?
            .stream_description
            .ok_or_else(|| PortError::unavailable("DynamoDB Streams", "no stream description"))?;
        for shard in description.shards.unwrap_or_default() {
            let Some(shard_id) = shard.shard_id else { continue };
            if shards.iter().any(|(known, _)| known == &shard_id) {
                continue;
            }
            let iterator = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(&shard_id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB Streams", e))?
                .shard_iterator;
            shards.push((shard_id, iterator));
        }
        Ok(())
    }

    fn to_lambda_record(&self, record: Record) -> Result<EventRecord, PortError> {
        let change = record
            .dynamodb
            .unwrap_or_else(|| aws_sdk_dynamodbstreams::types::StreamRecord::builder().build());
        let image = |image: Option<std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
            serde_json::to_value(serde_dynamo::Item::from(image.unwrap_or_default())).unwrap_or_default()
        };
        let shaped = json!({
            "eventID": record.event_id.unwrap_or_default(),
            "eventName": record.event_name.map(|n| n.as_str().to_string()).unwrap_or_default(),
            "eventVersion": record.event_version,
            "eventSource": "aws:dynamodb",
            "awsRegion": record.aws_region.unwrap_or_default(),
            "eventSourceARN": self.stream_arn,
            "dynamodb": {
                // Whole seconds: Lambda's own records carry whole seconds here too.
                "ApproximateCreationDateTime": change.approximate_creation_date_time.map(|t| t.secs()).unwrap_or_default(),
                "Keys": image(change.keys),
                "NewImage": image(change.new_image),
                "OldImage": image(change.old_image),
                "SequenceNumber": change.sequence_number,
                "SizeBytes": change.size_bytes.unwrap_or_default(),
                "StreamViewType": change.stream_view_type.map(|v| v.as_str().to_string()),
            },
        });
        serde_json::from_value(shaped).map_err(|e| PortError::corrupt("stream record", e))
    }
}

impl ChangeFeed for DynamoStreamFeed {
    async fn poll(&self, max: usize) -> Result<Vec<Change>, PortError> {
        let mut pending = self.pending.lock().await;
        if pending.is_empty() {
            pending.extend(self.read_batch(max).await?);
        }
        let mut changes = Vec::new();
        for record in pending.iter().take(max) {
            if let Some(change) = change_from_stream_record(record)? {
                changes.push(Change {
                    position: record.change.sequence_number.clone().unwrap_or_default(),
                    change,
                });
            }
        }
        // Records that carry no event (profiles, sends, timers) need no processing; when a
        // batch holds nothing else, pass over it so it never holds the feed back.
        if changes.is_empty() {
            pending.clear();
        }
        Ok(changes)
    }

    async fn commit(&self, position: &str) -> Result<(), PortError> {
        let mut pending = self.pending.lock().await;
        if let Some(index) = pending.iter().position(|r| r.change.sequence_number.as_deref() == Some(position)) {
            pending.drain(..=index);
        }
        Ok(())
    }
}
