//! The local pipeline: the four Lambda handlers wired to the embedded adapters and driven
//! in process: the change feed feeds the evaluator, the queue feeds the sender, the
//! scheduler ticks. `nudge serve` pumps it in the background; `nudge demo` pumps it on a
//! virtual clock.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::Duration;
use nudge_fn_admin::{AdminAuth, AdminDeps};
use nudge_fn_evaluator::EvaluatorDeps;
use nudge_fn_ingest::IngestDeps;
use nudge_fn_preferences::PreferencesDeps;
use nudge_fn_scheduler::SchedulerDeps;
use nudge_fn_sender::SenderDeps;
use nudge_shared::adapters::embedded::{EmbeddedStore, OutboxMailer, SmtpMailer};
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::domain::SecretHash;
use nudge_shared::evaluate::Evaluator;
use nudge_shared::guardrails::Guardrails;
use nudge_shared::mime::SenderIdentity;
use nudge_shared::ports::{ChangeFeed, JobSource, MailError, Mailer, OutgoingEmail};
use nudge_shared::templates::TemplateLibrary;
use nudge_shared::unsubscribe::UnsubscribeLinks;
use nudge_shared::{Clock, PortError};
use std::collections::HashSet;
use std::sync::Arc;

/// Changes and jobs handled per round, like a Lambda batch.
const BATCH_SIZE: usize = 10;
/// The queue's visibility timeout, as in `template.yaml`.
pub const VISIBILITY_TIMEOUT: i64 = 300;

pub type SharedClock = Arc<dyn Clock>;

/// Where mail goes on the embedded default.
#[derive(Clone)]
pub enum LocalMailer {
    Outbox(OutboxMailer),
    Smtp(SmtpMailer),
}

impl Mailer for LocalMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError> {
        match self {
            Self::Outbox(outbox) => outbox.send(email).await,
            Self::Smtp(smtp) => smtp.send(email).await,
        }
    }
}

/// Decides, batch by batch, whether to simulate an at-least-once redelivery: the batch is
/// processed but not acknowledged, so it comes back. The demo uses this to show that
/// duplicates from Streams or SQS never become duplicate email.
pub trait Redelivery: Send {
    fn redeliver(&mut self) -> bool;
}

/// Never redeliver: what `nudge serve` uses.
pub struct NoRedelivery;

impl Redelivery for NoRedelivery {
    fn redeliver(&mut self) -> bool {
        false
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpReport {
    pub changes_evaluated: usize,
    pub jobs_handled: usize,
    pub timers_fired: usize,
    pub changes_redelivered: usize,
    pub jobs_redelivered: usize,
}

impl PumpReport {
    fn is_idle(&self) -> bool {
        self.changes_evaluated == 0 && self.jobs_handled == 0 && self.timers_fired == 0
    }

    pub fn add(&mut self, other: PumpReport) {
        self.changes_evaluated += other.changes_evaluated;
        self.jobs_handled += other.jobs_handled;
        self.timers_fired += other.timers_fired;
        self.changes_redelivered += other.changes_redelivered;
        self.jobs_redelivered += other.jobs_redelivered;
    }
}

/// How mail goes out: who it is from, the postal address footers show, and where its
/// unsubscribe links point.
pub struct Sending {
    pub identity: SenderIdentity,
    pub postal_address: String,
    pub unsubscribe: UnsubscribeLinks,
    pub guardrails: Guardrails,
}

pub struct LocalPipeline {
    pub store: EmbeddedStore,
    pub clock: SharedClock,
    pub ingest: IngestDeps<EmbeddedStore, EmbeddedStore, SharedClock>,
    pub admin: AdminDeps<EmbeddedStore, EmbeddedStore, EmbeddedStore, SharedClock>,
    pub preferences: PreferencesDeps<EmbeddedStore, SharedClock>,
    evaluator: EvaluatorDeps<EmbeddedStore, EmbeddedStore, EmbeddedStore, EmbeddedStore, SharedClock>,
    sender: SenderDeps<EmbeddedStore, EmbeddedStore, EmbeddedStore, LocalMailer, SharedClock>,
    scheduler: SchedulerDeps<EmbeddedStore, EmbeddedStore, SharedClock>,
}

impl LocalPipeline {
    /// `admin_key`: the hash of the key the admin routes take as `Authorization: Bearer`.
    pub fn new(store: EmbeddedStore, clock: SharedClock, mailer: LocalMailer, sending: Sending, admin_key: SecretHash) -> Self {
        Self {
            ingest: IngestDeps {
                log: store.clone(),
                sources: store.clone(),
                clock: clock.clone(),
            },
            admin: AdminDeps {
                sources: store.clone(),
                people: store.clone(),
                templates: TemplateLibrary::new(store.clone()),
                campaigns: CampaignLibrary::new(store.clone()),
                clock: clock.clone(),
                auth: AdminAuth::Key(admin_key),
                company: sending.identity.name.clone(),
                postal_address: sending.postal_address.clone(),
            },
            preferences: PreferencesDeps {
                store: store.clone(),
                secret: sending.unsubscribe.secret.clone(),
                campaigns: CampaignLibrary::new(store.clone()),
                company: sending.identity.name.clone(),
                clock: clock.clone(),
            },
            evaluator: EvaluatorDeps {
                evaluator: Evaluator {
                    campaigns: CampaignLibrary::new(store.clone()),
                    people: store.clone(),
                    journeys: store.clone(),
                    queue: store.clone(),
                    timers: store.clone(),
                },
                clock: clock.clone(),
            },
            sender: SenderDeps {
                campaigns: CampaignLibrary::new(store.clone()),
                profiles: store.clone(),
                ledger: store.clone(),
                templates: TemplateLibrary::new(store.clone()),
                mailer,
                clock: clock.clone(),
                identity: sending.identity,
                postal_address: sending.postal_address,
                unsubscribe: sending.unsubscribe,
                guardrails: sending.guardrails,
                claim_lease: Duration::minutes(10),
            },
            scheduler: SchedulerDeps {
                timers: store.clone(),
                queue: store.clone(),
                clock: clock.clone(),
                batch_size: 100,
            },
            store,
            clock,
        }
    }

    /// Runs every stage until none has anything left to do now.
    pub async fn run_until_idle(&self, redelivery: &mut dyn Redelivery) -> Result<PumpReport, PortError> {
        let mut total = PumpReport::default();
        loop {
            let round = self.pump_once(redelivery).await?;
            total.add(round);
            if round.is_idle() {
                return Ok(total);
            }
        }
    }

    /// One round of each stage.
    pub async fn pump_once(&self, redelivery: &mut dyn Redelivery) -> Result<PumpReport, PortError> {
        let mut report = PumpReport {
            timers_fired: nudge_fn_scheduler::handle(&self.scheduler, tick_event()).await?.timers_fired,
            ..Default::default()
        };
        self.evaluate_changes(&mut report, redelivery).await?;
        self.send_jobs(&mut report, redelivery).await?;
        Ok(report)
    }

    async fn evaluate_changes(&self, report: &mut PumpReport, redelivery: &mut dyn Redelivery) -> Result<(), PortError> {
        let changes = self.store.poll(BATCH_SIZE).await?;
        let positions: Vec<String> = changes.iter().map(|c| c.position.clone()).collect();
        let Some(last) = positions.last().cloned() else { return Ok(()) };
        report.changes_evaluated = changes.len();
        let failed_at = nudge_fn_evaluator::process(&self.evaluator, changes.into_iter().map(|c| (c.position, Ok(Some(c.change))))).await;
        match failed_at {
            // Like Lambda on a stream: everything before the failed record is done, the
            // failed one and the rest come again.
            Some(failed) => {
                let index = positions.iter().position(|p| *p == failed).unwrap_or(0);
                if index > 0 {
                    self.store.commit(&positions[index - 1]).await?;
                }
            }
            None if redelivery.redeliver() => report.changes_redelivered = report.changes_evaluated,
            None => self.store.commit(&last).await?,
        }
        Ok(())
    }

    async fn send_jobs(&self, report: &mut PumpReport, redelivery: &mut dyn Redelivery) -> Result<(), PortError> {
        let messages = self.store.receive(BATCH_SIZE, Duration::seconds(VISIBILITY_TIMEOUT)).await?;
        if messages.is_empty() {
            return Ok(());
        }
        report.jobs_handled = messages.len();
        let mut batch = SqsEvent::default();
        for message in &messages {
            let mut record = SqsMessage::default();
            record.message_id = Some(message.message_id.clone());
            record.receipt_handle = Some(message.receipt.clone());
            record.body = Some(message.body.clone());
            batch.records.push(record);
        }
        let response = nudge_fn_sender::handle(&self.sender, batch).await;
        // Like Lambda on SQS: the failed ones stay and come back after the visibility timeout.
        let failed: HashSet<_> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
        for message in messages.iter().filter(|m| !failed.contains(&m.message_id)) {
            if redelivery.redeliver() {
                report.jobs_redelivered += 1;
            } else {
                self.store.acknowledge(&message.receipt).await?;
            }
        }
        Ok(())
    }
}

fn tick_event() -> aws_lambda_events::eventbridge::EventBridgeEvent {
    serde_json::from_value(serde_json::json!({
        "detail-type": "Scheduled Event",
        "source": "nudge.local",
        "detail": {}
    }))
    .expect("a scheduled event parses")
}
