//! The table's DynamoDB stream as a `ChangeFeed`. In Lambda, the event source mapping
//! reads the stream; this adapter is for tests and local runs against a real stream.
//! Its position is kept in memory: a new instance starts again from the oldest record.

use super::item::event_from_image;
use super::sdk_error;
use crate::error::PortError;
use crate::ports::{Change, ChangeFeed};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use aws_sdk_dynamodbstreams::Client;
use std::collections::VecDeque;
use tokio::sync::Mutex;

pub struct DynamoStreamFeed {
    client: Client,
    stream_arn: String,
    state: Mutex<FeedState>,
}

#[derive(Default)]
struct FeedState {
    /// Shard id → the iterator to read next (`None` once the shard is closed and drained).
    iterators: Vec<(String, Option<String>)>,
    /// Records read but not yet committed, in stream order: (position, change or nothing).
    pending: VecDeque<(String, Option<Change>)>,
}

impl DynamoStreamFeed {
    pub fn new(client: Client, stream_arn: impl Into<String>) -> Self {
        Self { client, stream_arn: stream_arn.into(), state: Mutex::new(FeedState::default()) }
    }

    async fn discover_shards(&self, state: &mut FeedState) -> Result<(), PortError> {
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
            if state.iterators.iter().any(|(known, _)| known == &shard_id) {
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
            state.iterators.push((shard_id, iterator));
        }
        Ok(())
    }

    async fn read_more(&self, state: &mut FeedState, max: usize) -> Result<(), PortError> {
        self.discover_shards(state).await?;
        for (shard_id, iterator) in state.iterators.iter_mut() {
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
            for record in output.records.unwrap_or_default() {
                let event_name = record.event_name.as_ref().map(|n| n.as_str().to_string()).unwrap_or_default();
                let Some(stream_record) = record.dynamodb else { continue };
                let position = format!("{shard_id}/{}", stream_record.sequence_number.unwrap_or_default());
                let image: serde_dynamo::Item = stream_record.new_image.unwrap_or_default().into();
                let change = event_from_image(&event_name, image)?.map(|event| Change { position: position.clone(), event });
                state.pending.push_back((position, change));
            }
            if !state.pending.is_empty() {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl ChangeFeed for DynamoStreamFeed {
    async fn poll(&self, max: usize) -> Result<Vec<Change>, PortError> {
        let mut state = self.state.lock().await;
        // Records that carry no event (profiles, sends, timers) need no processing: pass
        // over them so they never hold the feed back.
        let drop_leading_non_events = |state: &mut FeedState| {
            while matches!(state.pending.front(), Some((_, None))) {
                state.pending.pop_front();
            }
        };
        drop_leading_non_events(&mut state);
        if state.pending.is_empty() {
            self.read_more(&mut state, max).await?;
            drop_leading_non_events(&mut state);
        }
        Ok(state.pending.iter().filter_map(|(_, change)| change.clone()).take(max).collect())
    }

    async fn commit(&self, position: &str) -> Result<(), PortError> {
        let mut state = self.state.lock().await;
        if let Some(index) = state.pending.iter().position(|(p, _)| p == position) {
            state.pending.drain(..=index);
        }
        Ok(())
    }
}
