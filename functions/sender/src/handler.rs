//! The sender function: a batch of SQS messages (one message job each) in, at most one
//! email per job out, and the jobs worth retrying reported as batch item failures.
//! `nudge serve` and `nudge demo` drive this same function from the embedded queue.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use nudge_shared::deliver::{DeliverError, Delivered, Deliverer, People, SendRecords};
use nudge_shared::domain::{MessageJob, SendState};
use nudge_shared::ports::{DocumentStore, Mailer};
use nudge_shared::Clock;
use tracing::{error, info, warn};

pub type SenderDeps<P, L, T, M, C> = Deliverer<P, L, T, M, C>;

pub async fn handle<P: People, L: SendRecords, T: DocumentStore, M: Mailer, C: Clock>(
    deps: &SenderDeps<P, L, T, M, C>,
    batch: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &batch.records {
        if let Err(error) = deliver_one(deps, message).await {
            let id = message.message_id.clone().unwrap_or_default();
            warn!(message_id = %id, %error, "job will be retried");
            response.add_failure(id);
        }
    }
    response
}

#[derive(Debug, thiserror::Error)]
enum JobFailure {
    /// Not a job this version understands. Reported as failed so that, after the queue's
    /// retries, it lands in the dead-letter queue for a person to look at: never dropped.
    #[error("message body is not a message job: {0}")]
    Malformed(serde_json::Error),
    #[error(transparent)]
    Deliver(#[from] DeliverError),
}

async fn deliver_one<P: People, L: SendRecords, T: DocumentStore, M: Mailer, C: Clock>(
    deps: &SenderDeps<P, L, T, M, C>,
    message: &SqsMessage,
) -> Result<(), JobFailure> {
    let job: MessageJob = serde_json::from_str(message.body.as_deref().unwrap_or_default()).map_err(|e| {
        error!(error = %e, "malformed job");
        JobFailure::Malformed(e)
    })?;
    let outcome = deps.deliver(&job).await?;
    let outcome_label = match &outcome {
        Delivered::Settled(SendState::Sent { .. }) => "sent".to_string(),
        Delivered::Settled(SendState::Skipped { reason, .. }) => format!("skipped: {reason}"),
        Delivered::Settled(SendState::Failed { detail, .. }) => format!("failed: {detail}"),
        Delivered::Settled(SendState::Claimed { .. }) | Delivered::AlreadySettled(_) => "already settled".to_string(),
        Delivered::Deferred(due) => format!("put off by quiet hours until {due}"),
    };
    info!(campaign = %job.campaign_id, person = %job.person_id, dedup_key = %job.dedup_key, outcome = %outcome_label, "job done");
    Ok(())
}
