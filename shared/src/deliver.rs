//! The sender: one message job in, at most one email out. The send is claimed in the
//! ledger before the mailer is called, so redelivered jobs find it settled.

use crate::campaigns::CampaignLibrary;
use crate::domain::{
    Account, Campaign, EmailAddress, Facts, MessageClass, MessageJob, Person, Route, SendRecord, SendState, SendStep, SkipReason, Step,
    TemplateName, Timer,
};
use crate::error::PortError;
use crate::evaluate::EVENTS_FOR_CONDITIONS;
use crate::guardrails::Guardrails;
use crate::mime::{build_message, Envelope, ListUnsubscribe, SenderIdentity};
use crate::ports::{
    AccountReader, Catalog, Claim, Deferral, DeferralLog, DocumentStore, MailError, Mailer, MessageArchive, OutgoingEmail, PersonHistory,
    PreferenceStore, ProfileReader, SendLedger, SuppressionList, TimerStore,
};
use crate::template::{Links, RenderContext};
use crate::templates::{LibraryError, TemplateLibrary};
use crate::unsubscribe::{UnsubscribeLinks, UnsubscribeToken, ViewToken};
use crate::Clock;
use chrono::{DateTime, Duration, Utc};
use tracing::{info, warn};

/// What became of a job that was handled (not retried).
#[derive(Debug, Clone, PartialEq)]
pub enum Delivered {
    /// This delivery settled the send: sent, skipped (with the reason) or failed for good.
    Settled(SendState),
    /// A previous delivery of the same job settled it already.
    AlreadySettled(SendState),
    /// Quiet hours where the person is: the same job comes back at this time.
    Deferred(DateTime<Utc>),
}

/// A claimed send's outcome: settled, or put off until quiet hours end.
enum Outcome {
    Settle(SendState),
    Defer(DateTime<Utc>),
}

/// A delivery that must be tried again later (the queue will redeliver it).
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("another sender holds this send; retry after its lease")]
    HeldElsewhere,
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Mail(MailError),
}

/// What the sender reads about people: profiles, their accounts and their events (for the
/// goal and branches of a journey), and the catalog (the item a content-triggered send is about).
pub trait People: ProfileReader + AccountReader + PersonHistory + Catalog {}
impl<T: ProfileReader + AccountReader + PersonHistory + Catalog> People for T {}

/// What decides whether a message may go, and records that it went: the send ledger, the
/// suppression list, subscription preferences, and the archive behind "view in browser".
/// Timers hold a send put off by quiet hours.
pub trait SendRecords: SendLedger + SuppressionList + PreferenceStore + MessageArchive + TimerStore + DeferralLog {}
impl<T: SendLedger + SuppressionList + PreferenceStore + MessageArchive + TimerStore + DeferralLog> SendRecords for T {}

/// How long a sent message can be viewed in the browser.
pub const ARCHIVE_FOR: Duration = Duration::days(90);

pub struct Deliverer<P, L, T, M, C> {
    pub campaigns: CampaignLibrary<T>,
    /// Profiles and accounts.
    pub profiles: P,
    /// The send ledger, the suppression list and subscription preferences.
    pub ledger: L,
    pub templates: TemplateLibrary<T>,
    pub mailer: M,
    pub clock: C,
    pub identity: SenderIdentity,
    /// The sender's postal address, for `{{ postal_address }}` in marketing footers.
    pub postal_address: String,
    pub unsubscribe: UnsubscribeLinks,
    /// The frequency cap and quiet hours every marketing send is held to.
    pub guardrails: Guardrails,
    /// How long a claim protects a send whose sender may have died. Longer than any one
    /// delivery takes; shorter than the queue's retry horizon.
    pub claim_lease: Duration,
}

impl<P: People, L: SendRecords, T: DocumentStore, M: Mailer, C: Clock> Deliverer<P, L, T, M, C> {
    pub async fn deliver(&self, job: &MessageJob) -> Result<Delivered, DeliverError> {
        match self.ledger.claim(job, self.clock.now(), self.claim_lease).await? {
            Claim::Acquired => {}
            Claim::Settled(state) => return Ok(Delivered::AlreadySettled(state)),
            Claim::HeldElsewhere => return Err(DeliverError::HeldElsewhere),
        }
        let state = match self.deliver_claimed(job).await {
            Ok(Outcome::Settle(state)) => state,
            Ok(Outcome::Defer(due)) => {
                // The same job, so the same dedup key: put off, never sent twice.
                self.ledger.schedule(&Timer { due, job: job.clone() }).await?;
                self.ledger
                    .record_deferral(&Deferral {
                        dedup_key: job.dedup_key.clone(),
                        person_id: job.person_id.clone(),
                        campaign_id: job.campaign_id.clone(),
                        at: self.clock.now(),
                        until: due,
                        reason: "quiet hours".into(),
                    })
                    .await?;
                self.ledger.release(job).await?;
                info!(campaign = %job.campaign_id, person = %job.person_id, %due, "quiet hours: put off");
                return Ok(Delivered::Deferred(due));
            }
            Err(error) => {
                // Worth retrying: give the claim back so the redelivery can take it.
                self.ledger.release(job).await?;
                return Err(error);
            }
        };
        if matches!(
            state,
            SendState::Skipped {
                reason: SkipReason::UnknownPerson,
                ..
            }
        ) {
            // Nobody to write about (never known, or erased since the job was queued): a
            // record would put the id back in the store. Give the claim back and stop.
            self.ledger.release(job).await?;
            return Ok(Delivered::Settled(state));
        }
        let record = SendRecord {
            dedup_key: job.dedup_key.clone(),
            person_id: job.person_id.clone(),
            campaign_id: job.campaign_id.clone(),
            state: state.clone(),
        };
        self.ledger.settle(&record).await?;
        Ok(Delivered::Settled(state))
    }

    /// The outcome of a claimed send, or an error worth retrying.
    async fn deliver_claimed(&self, job: &MessageJob) -> Result<Outcome, DeliverError> {
        let skipped = |reason| {
            Ok(Outcome::Settle(SendState::Skipped {
                at: self.clock.now(),
                reason,
            }))
        };
        let failed = |detail: String| {
            Ok(Outcome::Settle(SendState::Failed {
                at: self.clock.now(),
                detail,
            }))
        };
        let campaigns = self.campaigns.current(self.clock.now()).await?;
        let Some(campaign) = campaigns.get(&job.campaign_id) else {
            return skipped(SkipReason::UnknownCampaign);
        };
        let Some((step, send)) = campaign.send(&job.step) else {
            return skipped(SkipReason::StepRemoved);
        };
        let Some(person) = self.profiles.person(&job.person_id).await? else {
            return skipped(SkipReason::UnknownPerson);
        };
        let to = match person.email() {
            None => return skipped(SkipReason::NoEmailAddress),
            Some(Err(invalid)) => return skipped(SkipReason::InvalidEmailAddress { detail: invalid.reason }),
            Some(Ok(address)) => address,
        };
        // Checked on every send, whatever the campaign: an erased or suppressed address is never mailed.
        if self.ledger.is_suppressed(&to).await? {
            return skipped(SkipReason::Suppressed);
        }
        let account = crate::ports::account_of(&self.profiles, &person).await?;
        if let Some(reason) = self.journey_ended(campaign, step, &person, account.as_ref(), job).await? {
            return skipped(reason);
        }
        if send.class == MessageClass::Marketing {
            if let Some(outcome) = self.marketing_rules(send, &person).await? {
                return Ok(outcome);
            }
        }
        let composed = match self.compose(campaign, send, &person, account.as_ref(), &to, job).await? {
            Ok(composed) => composed,
            Err(detail) => return failed(detail),
        };
        let email = OutgoingEmail {
            dedup_key: job.dedup_key.clone(),
            from: self.identity.address.clone(),
            to: to.clone(),
            raw: composed.raw,
        };
        match self.mailer.send(&email).await {
            Ok(provider_message_id) => {
                info!(campaign = %campaign.id, person = %job.person_id, to = %to.redacted(), dedup_key = %job.dedup_key, "sent");
                Ok(Outcome::Settle(SendState::Sent {
                    at: self.clock.now(),
                    provider_message_id,
                    subject: composed.subject,
                    template: Some(composed.template),
                    template_version: composed.template_version,
                    marketing: send.class == MessageClass::Marketing,
                }))
            }
            Err(MailError::Rejected(detail)) => {
                warn!(campaign = %campaign.id, person = %job.person_id, %detail, "mail provider rejected the message");
                failed(detail)
            }
            Err(transient) => Err(DeliverError::Mail(transient)),
        }
    }

    /// What only marketing mail is held to, checked on every send: the person's topic
    /// unsubscribes (so an unsubscribe takes effect before the next one), quiet hours where
    /// they are (put off), and the frequency cap over all campaigns (skipped).
    async fn marketing_rules(&self, send: &SendStep, person: &Person) -> Result<Option<Outcome>, DeliverError> {
        let now = self.clock.now();
        let skipped = |reason| Ok(Some(Outcome::Settle(SendState::Skipped { at: now, reason })));
        if !self.ledger.preferences(&person.id).await?.allows(send.topic.as_ref()) {
            return skipped(SkipReason::Unsubscribed { topic: send.topic.clone() });
        }
        if let Some(due) = self.guardrails.quiet_hours.and_then(|q| q.next_allowed(now, person.timezone())) {
            return Ok(Some(Outcome::Defer(due)));
        }
        let sent: Vec<DateTime<Utc>> = self
            .ledger
            .sends_to(&person.id)
            .await?
            .into_iter()
            .filter_map(|record| match record.state {
                SendState::Sent { at, marketing: true, .. } => Some(at),
                _ => None,
            })
            .collect();
        if let Some((limit, window)) = self.guardrails.cap.exceeded(&sent, now) {
            return skipped(SkipReason::FrequencyCapped {
                limit,
                window: window.to_string(),
            });
        }
        Ok(None)
    }

    /// Whether the journey ended before send step `step`: the goal event happened since the
    /// trigger (for the same object), or a branch before the step routed to exit (each
    /// evaluated as of the moment the journey reached it), or an `exit` step.
    async fn journey_ended(
        &self,
        campaign: &Campaign,
        step: usize,
        person: &Person,
        account: Option<&Account>,
        job: &MessageJob,
    ) -> Result<Option<SkipReason>, PortError> {
        let branches = campaign.steps[..step].iter().any(|s| matches!(s, Step::Branch(_) | Step::Exit));
        if campaign.goal.is_none() && !branches {
            return Ok(None);
        }
        let now = self.clock.now();
        let events = self.profiles.events_of(&person.id, EVENTS_FOR_CONDITIONS).await?;
        let started = job.trigger.timestamp;
        if let Some(goal) = &campaign.goal {
            let reached = events.iter().any(|e| {
                e.timestamp > started
                    && e.timestamp <= now
                    && goal.matches(e)
                    && (job.object.is_none()
                        || campaign
                            .object_key
                            .as_deref()
                            .and_then(|k| crate::domain::lookup(&e.properties, k))
                            .map(object_text)
                            == job.object)
            });
            if reached {
                return Ok(Some(SkipReason::GoalReached));
            }
        }

        let timeline = campaign.timeline(started, person.timezone());
        for (index, earlier) in campaign.steps[..step].iter().enumerate() {
            let route = match earlier {
                Step::Exit => Route::Exit,
                Step::Branch(branch) => {
                    let facts = Facts {
                        person,
                        account,
                        events: &events,
                        trigger_at: started,
                        now: timeline[index].min(now),
                    };
                    if branch.conditions.iter().all(|c| c.holds(&facts)) {
                        branch.then
                    } else {
                        branch.otherwise
                    }
                }
                _ => Route::Continue,
            };
            if route == Route::Exit {
                return Ok(Some(SkipReason::BranchExit { step: index }));
            }
        }
        Ok(None)
    }

    /// The MIME message for `person`: the campaign's template rendered with their data and
    /// links, and the envelope. `Ok(Err(detail))` is a final failure (no such template, a
    /// value the template needs and the person lacks); `Err` is worth retrying.
    async fn compose(
        &self,
        campaign: &Campaign,
        send: &SendStep,
        person: &Person,
        account: Option<&Account>,
        to: &EmailAddress,
        job: &MessageJob,
    ) -> Result<Result<Composed, String>, DeliverError> {
        let template = match self.templates.resolve(&send.template).await {
            Ok(template) => template,
            Err(LibraryError::Port(error)) => return Err(error.into()),
            Err(error) => return Ok(Err(error.to_string())),
        };

        let content = match &job.content {
            Some(item) => self.profiles.item(&item.collection, &item.id).await?,
            None => None,
        };
        let marketing = send.class == MessageClass::Marketing;
        let token = UnsubscribeToken {
            person: person.id.clone(),
            topic: if marketing { send.topic.clone() } else { None },
        };
        let links = Links {
            unsubscribe_url: marketing.then(|| self.unsubscribe.url(&token)),
            preferences_url: Some(self.unsubscribe.url(&token)),
            view_in_browser_url: Some(self.unsubscribe.view_url(&ViewToken {
                person: person.id.clone(),
                dedup_key: job.dedup_key.clone(),
            })),
        };
        let context = RenderContext {
            person,
            trigger: &job.trigger,
            campaign_id: &campaign.id,
            campaign_name: &campaign.name,
            account,
            content: content.as_ref(),
            company: &self.identity.name,
            postal_address: &self.postal_address,
            links: &links,
            now: self.clock.now(),
        };
        let content = match template.render(&context) {
            Ok(content) => content,
            Err(error) => return Ok(Err(format!("template {} v{}: {error}", template.name, template.version))),
        };
        // Before the send, so the link in the message works as soon as it arrives.
        self.ledger
            .archive(&person.id, &job.dedup_key, &content.html, self.clock.now() + ARCHIVE_FOR)
            .await?;
        let envelope = Envelope {
            from: &self.identity,
            to,
            to_name: person.traits.get("name").and_then(|v| v.as_str()),
            dedup_key: &job.dedup_key,
            campaign: &campaign.id,
            date: self.clock.now(),
            list_unsubscribe: marketing.then(|| ListUnsubscribe {
                url: self.unsubscribe.url(&token),
                mailto: self.unsubscribe.mailto(&token),
            }),
            object: job.object.as_deref(),
        };
        Ok(build_message(&envelope, &content)
            .map(|raw| Composed {
                raw,
                subject: content.subject,
                template: template.name.clone(),
                template_version: template.version,
            })
            .map_err(|e| e.to_string()))
    }
}

/// An object id as journeys carry it: strings as they are, other JSON as written.
fn object_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A message ready for the mailer, and what it was made from.
struct Composed {
    raw: Vec<u8>,
    subject: String,
    template: TemplateName,
    template_version: u32,
}
