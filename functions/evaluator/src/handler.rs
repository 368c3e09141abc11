//! The evaluator function: a batch of DynamoDB stream records in, the campaigns each new
//! event triggers applied (jobs enqueued, timers set), partial batch failures out.
//! `nudge serve` and `nudge demo` feed `process` from the embedded change feed.

use aws_lambda_events::dynamodb::Event as StreamBatch;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use nudge_shared::adapters::aws::item::change_from_stream_record;
use nudge_shared::domain::Changed;
use nudge_shared::evaluate::{Evaluator, NotEntered};
use nudge_shared::ports::{
    AccountReader, DocumentStore, JobQueue, JourneyLog, PeopleDirectory, PersonHistory, ProfileReader, SendLedger, TimerStore,
};
use nudge_shared::{Clock, PortError};
use tracing::{error, info};

pub struct EvaluatorDeps<P, J, Q, T, C> {
    pub evaluator: Evaluator<P, J, Q, T>,
    pub clock: C,
}

/// What the evaluator reads: profiles, accounts and history (audience conditions), and
/// everyone (content-triggered campaigns).
pub trait People: ProfileReader + AccountReader + PersonHistory + PeopleDirectory {}
impl<S: ProfileReader + AccountReader + PersonHistory + PeopleDirectory> People for S {}

pub async fn handle<P: People, J: JourneyLog + DocumentStore + SendLedger, Q: JobQueue, T: TimerStore, C: Clock>(
    deps: &EvaluatorDeps<P, J, Q, T, C>,
    batch: StreamBatch,
) -> DynamoDbEventResponse {
    let changes = batch.records.iter().map(|record| {
        let position = record.change.sequence_number.clone().unwrap_or_default();
        (position, change_from_stream_record(record))
    });
    let mut response = DynamoDbEventResponse::default();
    if let Some(failed_at) = process(deps, changes).await {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(failed_at);
        response.batch_item_failures.push(failure);
    }
    response
}

/// Evaluates changes in order and stops at the first failure, returning its position: a
/// stream is retried from the first failed record, so nothing after it may count as done.
/// Records that carry no change (profile updates, send records, ...) pass through.
pub async fn process<P: People, J: JourneyLog + DocumentStore + SendLedger, Q: JobQueue, T: TimerStore, C: Clock>(
    deps: &EvaluatorDeps<P, J, Q, T, C>,
    changes: impl IntoIterator<Item = (String, Result<Option<Changed>, PortError>)>,
) -> Option<String> {
    for (position, change) in changes {
        let result = match change {
            Ok(Some(Changed::ContentAdded(item))) => deps.evaluator.evaluate_content(&item, deps.clock.now()).await.map(|plan| {
                info!(collection = %item.collection, item = %item.id, now = plan.send_now.len(), later = plan.send_later.len(), "content added");
            }),
            Ok(Some(Changed::Event(event))) => deps.evaluator.evaluate(&event, deps.clock.now()).await.map(|plan| {
                for (campaign, why) in &plan.not_entered {
                    match why {
                        NotEntered::Audience(condition) => info!(%campaign, person = %event.person_id, %condition, "not in the audience"),
                        NotEntered::AlreadyEntered(since) => info!(%campaign, person = %event.person_id, %since, "entered before"),
                    }
                }
                info!(message_id = %event.message_id, person = %event.person_id, now = plan.send_now.len(), later = plan.send_later.len(), "evaluated");
            }),
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            error!(%position, %error, retryable = error.is_retryable(), "evaluation failed");
            return Some(position);
        }
    }
    None
}
