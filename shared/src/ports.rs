//! The ports: what Nudge needs from the outside world, split by capability so each
//! function depends only on what it uses (and its IAM policy grants only that).
//! Every method returns `impl Future + Send` so handlers stay `Send` across awaits.

use crate::domain::{DedupKey, Event, MessageJob, Person, PersonId, SecretHash, SendRecord, SendState, Source, Timer};
use crate::error::PortError;
use chrono::{DateTime, Duration, Utc};
use std::future::Future;

/// What `EventLog::record` did with an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Stored, and the profile updated to this.
    New(Person),
    /// An event with this message id was stored before: nothing changed.
    Duplicate,
}

/// Durable storage of accepted events, applied to profiles (and, for `group`, to the
/// account) in the same atomic write.
pub trait EventLog: Send + Sync {
    fn record(&self, event: &Event) -> impl Future<Output = Result<Recorded, PortError>> + Send;
}

/// Tracking sources by the hash of their write key.
pub trait SourceDirectory: Send + Sync {
    fn source_for_key(&self, key: &SecretHash) -> impl Future<Output = Result<Option<Source>, PortError>> + Send;
    /// Registers `source` under `key`; registering the same key again replaces its source.
    fn add_source(&self, source: &Source, key: &SecretHash) -> impl Future<Output = Result<(), PortError>> + Send;
}

pub trait ProfileReader: Send + Sync {
    fn person(&self, id: &PersonId) -> impl Future<Output = Result<Option<Person>, PortError>> + Send;
}

pub trait AccountReader: Send + Sync {
    fn account(&self, id: &crate::domain::GroupId) -> impl Future<Output = Result<Option<crate::domain::Account>, PortError>> + Send;
}

/// The account (Segment group) a person's templates and conditions see: their first one.
pub async fn account_of<A: AccountReader>(accounts: &A, person: &Person) -> Result<Option<crate::domain::Account>, PortError> {
    match person.accounts.iter().next() {
        Some(id) => accounts.account(id).await,
        None => Ok(None),
    }
}

/// Reading a person's stored events, for operators and previews.
pub trait PersonHistory: Send + Sync {
    /// Up to `limit` of the person's events (their own and those of ids merged into them),
    /// newest first.
    fn events_of(&self, person: &PersonId, limit: usize) -> impl Future<Output = Result<Vec<Event>, PortError>> + Send;
}

/// What erasing a person removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub profile: bool,
    pub events: usize,
    pub sends: usize,
    pub timers: usize,
    /// Whether an email address was put on the suppression list (as a hash).
    pub suppressed: bool,
}

/// The right to be forgotten: a person's profile, events, send history and pending timers
/// go; their email address stays only as a hash on the suppression list, so a later
/// import of the same address is still not mailed.
pub trait Eraser: Send + Sync {
    fn erase(&self, person: &PersonId) -> impl Future<Output = Result<Erased, PortError>> + Send;
}

/// Addresses that must never be mailed again (erased people; later: bounces, complaints).
pub trait SuppressionList: Send + Sync {
    fn is_suppressed(&self, address: &crate::domain::EmailAddress) -> impl Future<Output = Result<bool, PortError>> + Send;
}

/// One change as the change feed reports it. `position` orders changes within the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub position: String,
    pub change: crate::domain::Changed,
}

/// Whether an upsert added an item or updated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Added,
    Updated,
}

/// The content catalog. Adding an item (not updating one) puts a `content_added` change on
/// the change feed.
pub trait Catalog: Send + Sync {
    fn upsert(&self, item: &crate::domain::CatalogItem) -> impl Future<Output = Result<Upserted, PortError>> + Send;
    fn item(
        &self,
        collection: &crate::domain::Collection,
        id: &crate::domain::ItemId,
    ) -> impl Future<Output = Result<Option<crate::domain::CatalogItem>, PortError>> + Send;
}

/// New events and content, in order, at least once. On AWS this is the table's DynamoDB stream (which
/// Lambda polls itself; the adapter serves tests and local runs); embedded, a SQLite table.
pub trait ChangeFeed: Send + Sync {
    /// Up to `max` changes after the last committed position. Until `commit`, the same
    /// changes come back again.
    fn poll(&self, max: usize) -> impl Future<Output = Result<Vec<Change>, PortError>> + Send;
    /// Marks everything up to and including `position` as processed.
    fn commit(&self, position: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Where the evaluator and scheduler put work for the sender.
pub trait JobQueue: Send + Sync {
    fn enqueue(&self, jobs: &[MessageJob]) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A message taken from the queue: `body` is the job as enqueued, `receipt` acknowledges it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMessage {
    pub receipt: String,
    pub message_id: String,
    pub body: String,
    /// How many times this message has been handed out, this time included.
    pub receive_count: u32,
}

/// The consuming side of the queue (Lambda's SQS trigger does this on AWS).
pub trait JobSource: Send + Sync {
    /// Up to `max` messages; each stays invisible to other receivers for `visibility`,
    /// then comes back unless acknowledged.
    fn receive(&self, max: usize, visibility: Duration) -> impl Future<Output = Result<Vec<QueuedMessage>, PortError>> + Send;
    fn acknowledge(&self, receipt: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The result of trying to claim a send.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This sender owns the send now and must settle it.
    Acquired,
    /// Settled before (sent, skipped or failed): do nothing.
    Settled(SendState),
    /// Another sender holds a live claim: try again after its lease.
    HeldElsewhere,
}

/// The exactly-once guard and history of sends: a conditional write claims a send before the
/// mailer is called.
pub trait SendLedger: Send + Sync {
    /// Claims `job`'s send at `now`. A claim older than `lease` that was never settled is
    /// taken over: its sender died between claiming and settling.
    fn claim(&self, job: &MessageJob, now: DateTime<Utc>, lease: Duration) -> impl Future<Output = Result<Claim, PortError>> + Send;
    /// Records the final state of a claimed send.
    fn settle(&self, record: &SendRecord) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Gives a claim back after a failure worth retrying.
    fn release(&self, job: &MessageJob) -> impl Future<Output = Result<(), PortError>> + Send;
    fn sends_to(&self, person: &PersonId) -> impl Future<Output = Result<Vec<SendRecord>, PortError>> + Send;
}

/// Jobs held until a due time. Scheduling the same job twice keeps one timer.
pub trait TimerStore: Send + Sync {
    fn schedule(&self, timer: &Timer) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Up to `max` timers due at or before `now`, earliest first.
    fn due(&self, now: DateTime<Utc>, max: usize) -> impl Future<Output = Result<Vec<Timer>, PortError>> + Send;
    fn remove(&self, timer: &Timer) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A complete RFC 5322 message and its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingEmail {
    pub dedup_key: DedupKey,
    pub from: crate::domain::EmailAddress,
    pub to: crate::domain::EmailAddress,
    pub raw: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Try again later: throttled, connection lost, provider unavailable.
    #[error("mail provider unavailable: {0}")]
    Transient(String),
    /// The provider refused this message for good.
    #[error("mail provider rejected the message: {0}")]
    Rejected(String),
}

pub trait Mailer: Send + Sync {
    /// Hands the message over; returns the provider's id for it.
    fn send(&self, email: &OutgoingEmail) -> impl Future<Output = Result<String, MailError>> + Send;
}

/// What saving a versioned document (a template, a campaign) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SavedVersion {
    pub version: u32,
    /// False when the content was the same as the current version's: nothing was written.
    pub changed: bool,
}

pub type SavedTemplate = SavedVersion;

/// The kinds of versioned documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Template,
    Campaign,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Template => "template",
            Self::Campaign => "campaign",
        }
    }
}

/// One version of a document, its content as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VersionedDocument {
    pub name: String,
    pub version: u32,
    pub body: serde_json::Value,
    pub saved_at: DateTime<Utc>,
}

impl VersionedDocument {
    /// What saving `body` over `current` (the newest stored version) makes: `None` when the
    /// content is the same (no new version), else the next version.
    pub fn next(current: Option<&VersionedDocument>, name: &str, body: &serde_json::Value, at: DateTime<Utc>) -> Option<Self> {
        if current.is_some_and(|c| &c.body == body) {
            return None;
        }
        Some(Self {
            name: name.to_string(),
            version: current.map_or(1, |c| c.version + 1),
            body: body.clone(),
            saved_at: at,
        })
    }
}

/// Documents kept in versions (templates, campaigns). Saving changed content makes the
/// next version; every version is kept; two racing saves cannot share a number.
pub trait DocumentStore: Send + Sync {
    fn save_document(
        &self,
        kind: DocumentKind,
        name: &str,
        body: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<SavedVersion, PortError>> + Send;
    /// The newest version of `name`.
    fn current_document(&self, kind: DocumentKind, name: &str)
        -> impl Future<Output = Result<Option<VersionedDocument>, PortError>> + Send;
    /// The newest version of every document of `kind`, by name.
    fn current_documents(&self, kind: DocumentKind) -> impl Future<Output = Result<Vec<VersionedDocument>, PortError>> + Send;
}

/// Versioned templates, on any `DocumentStore`; a send's record says which version rendered it.
pub trait TemplateStore: Send + Sync {
    fn save_template(
        &self,
        document: &crate::template::TemplateDocument,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<SavedTemplate, PortError>> + Send;
    /// The newest version of `name`.
    fn current_template(
        &self,
        name: &crate::domain::TemplateName,
    ) -> impl Future<Output = Result<Option<crate::template::StoredTemplate>, PortError>> + Send;
    /// The newest version of every template, by name.
    fn templates(&self) -> impl Future<Output = Result<Vec<crate::template::StoredTemplate>, PortError>> + Send;
}

fn stored_template(document: VersionedDocument) -> Result<crate::template::StoredTemplate, PortError> {
    Ok(crate::template::StoredTemplate {
        version: document.version,
        document: serde_json::from_value(document.body).map_err(|e| PortError::corrupt("template", e))?,
        saved_at: document.saved_at,
    })
}

impl<S: DocumentStore> TemplateStore for S {
    async fn save_template(&self, document: &crate::template::TemplateDocument, at: DateTime<Utc>) -> Result<SavedTemplate, PortError> {
        let body = serde_json::to_value(document).expect("a template serializes");
        self.save_document(DocumentKind::Template, document.name.as_str(), &body, at).await
    }

    async fn current_template(&self, name: &crate::domain::TemplateName) -> Result<Option<crate::template::StoredTemplate>, PortError> {
        self.current_document(DocumentKind::Template, name.as_str())
            .await?
            .map(stored_template)
            .transpose()
    }

    async fn templates(&self) -> Result<Vec<crate::template::StoredTemplate>, PortError> {
        self.current_documents(DocumentKind::Template)
            .await?
            .into_iter()
            .map(stored_template)
            .collect()
    }
}

/// Per-person subscription preferences (unsubscribes by topic, or from everything).
pub trait PreferenceStore: Send + Sync {
    fn preferences(&self, person: &PersonId) -> impl Future<Output = Result<crate::domain::Preferences, PortError>> + Send;
    fn save_preferences(
        &self,
        person: &PersonId,
        preferences: &crate::domain::Preferences,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Sent messages' HTML, for their "view in browser" links: kept for a while, erased with
/// the person.
pub trait MessageArchive: Send + Sync {
    /// Keeps `html` for the send `key` of `person` until `expires`; archiving the same send
    /// again replaces it.
    fn archive(
        &self,
        person: &PersonId,
        key: &DedupKey,
        html: &str,
        expires: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The archived HTML, unless it never was, has expired or was erased.
    fn archived(
        &self,
        person: &PersonId,
        key: &DedupKey,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
}

/// One entry into a campaign: `person` entered `campaign` because of `instance` (the
/// trigger's message id, or the object id of an object-keyed campaign) at `at`. Entries
/// share a `scope` when they exclude each other (a person's one entry into a once-only
/// campaign: scope ""; one per object: the object id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub campaign: crate::domain::CampaignId,
    pub person: PersonId,
    pub scope: String,
    pub instance: String,
    pub at: DateTime<Utc>,
}

/// What trying to enter did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entered {
    /// A new journey.
    New,
    /// This very entry was recorded before (the trigger was delivered again): carry on as then.
    Again,
    /// Another entry in the same scope forbids it (the re-entry policy), since `since`.
    Blocked { since: DateTime<Utc> },
}

/// Who entered which campaign, and when: the re-entry policy's memory. Erased with the person.
pub trait JourneyLog: Send + Sync {
    /// Records `entry` unless an entry in its scope exists; an existing one gives way if it
    /// is older than `gap` (re-entry every N days).
    fn enter(&self, entry: &Entry, gap: Option<Duration>) -> impl Future<Output = Result<Entered, PortError>> + Send;
}

/// How a campaign is doing: people who entered, and what became of its sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CampaignStats {
    pub entered: u64,
    pub sent: u64,
    pub failed: u64,
    /// Skipped sends by reason label (`goal_reached`, `frequency_capped`, …).
    pub skipped: std::collections::BTreeMap<String, u64>,
}

impl CampaignStats {
    /// Journeys that reached the goal before a send: conversions.
    pub fn converted(&self) -> u64 {
        self.skipped.get("goal_reached").copied().unwrap_or_default()
    }
}

/// Per-campaign counts. On DynamoDB, counters updated in the same transaction as the entry
/// or the settled send; embedded, counted from the tables.
pub trait CampaignStatistics: Send + Sync {
    fn campaign_stats(&self, campaign: &crate::domain::CampaignId) -> impl Future<Output = Result<CampaignStats, PortError>> + Send;
}

/// One page of everyone, and where the next page starts (`None`: that was the last).
pub type PeoplePage = (Vec<Person>, Option<String>);

/// Everyone Nudge knows, a page at a time: for content-triggered campaigns (and, later,
/// newsletters and segments).
pub trait PeopleDirectory: Send + Sync {
    fn people(&self, cursor: Option<&str>) -> impl Future<Output = Result<PeoplePage, PortError>> + Send;
}

/// A send put off (quiet hours), kept so that `nudge why` and the admin API can say so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deferral {
    pub dedup_key: DedupKey,
    pub person_id: PersonId,
    pub campaign_id: crate::domain::CampaignId,
    /// When it was put off, and until when.
    pub at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub reason: String,
}

/// The history of sends put off. Erased with the person.
pub trait DeferralLog: Send + Sync {
    /// Records `deferral` (the same send put off again replaces it).
    fn record_deferral(&self, deferral: &Deferral) -> impl Future<Output = Result<(), PortError>> + Send;
    fn deferrals_of(&self, person: &PersonId) -> impl Future<Output = Result<Vec<Deferral>, PortError>> + Send;
}
