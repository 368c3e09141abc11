//! The DynamoDB table's item layout, in one place. One table holds everything, keyed by
//! `pk` / `sk` (see docs/dynamodb.md):
//!
//! | item         | pk                 | sk                          | type     |
//! |--------------|--------------------|-----------------------------|----------|
//! | event        | `P#<person>`       | `E#<timestamp>#<messageId>` | `event`  |
//! | profile      | `P#<person>`       | `PROFILE`                   | `person` |
//! | send record  | `P#<person>`       | `S#<dedup key>`             | `send`   |
//! | dedup marker | `M#<messageId>`    | `M`                         | `dedup`  |
//! | timer        | `T#<due minute>`   | `<due ms>#<dedup key>`      | `timer`  |
//! | timer cursor | `TIMERS`           | `CURSOR`                    | `cursor` |
//! | source       | `K#<key sha256>`   | `K`                         | `source` |
//! | identity     | `A#<other id>`     | `A`                         | `identity` |
//! | timer ref    | `P#<person>`       | `T#<dedup key>`             | `timer_ref` |
//! | suppression  | `X#<address sha256>` | `X`                       | `suppression` |
//! | account      | `G#<groupId>`      | `ACCOUNT`                   | `account` |
//! | catalog item | `C#<collection>`   | `<itemId>`                  | `content` |
//! | document version | `DOC#<kind>#<name>` | `V#<version, 10 digits>` | `document` (templates, campaigns) |
//! | document index | `DOCS#<kind>`    | `<name>`                    | `document_index` |
//! | preferences  | `P#<person>`       | `PREFERENCES`               | `preferences` |
//! | archived message | `P#<person>`   | `H#<dedup key>`             | `archive` |
//! | campaign entry | `P#<person>`     | `N#<campaign>#<scope>`      | `entry` |
//! | campaign stats | `STATS#<campaign>` | `STATS`                   | `stats` (counters) |
//! | deferral     | `P#<person>`       | `D#<dedup key>`             | `deferral` |
//!
//! The stream's event source mapping filters on `INSERT` of `type = event` or `content`,
//! so the evaluator sees only new events and new catalog items.

use crate::domain::{
    Account, CatalogItem, Changed, Collection, DedupKey, EmailAddress, Event, GroupId, MessageId, Person, PersonId, SecretHash, SendRecord,
    Source, Timer,
};
use crate::domain::{CampaignId, Preferences};
use crate::error::PortError;
use crate::ports::{DocumentKind, VersionedDocument};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const TYPE_EVENT: &str = "event";
pub const TYPE_PERSON: &str = "person";
pub const TYPE_SEND: &str = "send";
pub const TYPE_DEDUP: &str = "dedup";
pub const TYPE_TIMER: &str = "timer";
pub const TYPE_CURSOR: &str = "cursor";
pub const TYPE_SOURCE: &str = "source";
pub const TYPE_IDENTITY: &str = "identity";
pub const TYPE_TIMER_REF: &str = "timer_ref";
pub const TYPE_SUPPRESSION: &str = "suppression";
pub const TYPE_ACCOUNT: &str = "account";
pub const TYPE_CONTENT: &str = "content";
pub const TYPE_DOCUMENT: &str = "document";
pub const TYPE_DOCUMENT_INDEX: &str = "document_index";
pub const TYPE_PREFERENCES: &str = "preferences";
pub const TYPE_ARCHIVE: &str = "archive";
pub const TYPE_ENTRY: &str = "entry";

pub fn person_pk(id: &PersonId) -> String {
    format!("P#{id}")
}

pub fn event_sk(event: &Event) -> String {
    format!("E#{}#{}", event.timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ"), event.message_id)
}

pub const PROFILE_SK: &str = "PROFILE";

pub fn send_sk(key: &DedupKey) -> String {
    format!("S#{key}")
}

pub fn dedup_pk(id: &MessageId) -> String {
    format!("M#{id}")
}

pub const DEDUP_SK: &str = "M";

/// Timers are grouped by the minute they fall due, so the scheduler reads one partition
/// per minute instead of scanning.
pub fn timer_bucket(due: DateTime<Utc>) -> String {
    format!("T#{}", due.format("%Y-%m-%dT%H:%M"))
}

pub fn timer_sk(timer: &Timer) -> String {
    format!("{:015}#{}", timer.due.timestamp_millis().max(0), timer.job.dedup_key)
}

pub fn identity_pk(other: &PersonId) -> String {
    format!("A#{other}")
}

pub const IDENTITY_SK: &str = "A";

/// An anonymous or previous id, linked to the person it turned out to be.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdentityItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub person_id: PersonId,
}

impl IdentityItem {
    pub fn new(other: &PersonId, person: &PersonId) -> Self {
        Self {
            pk: identity_pk(other),
            sk: IDENTITY_SK.into(),
            item_type: TYPE_IDENTITY.into(),
            person_id: person.clone(),
        }
    }
}

pub fn catalog_pk(collection: &Collection) -> String {
    format!("C#{collection}")
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CatalogItemRow {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub item: CatalogItem,
}

impl CatalogItemRow {
    pub fn new(item: &CatalogItem) -> Self {
        Self {
            pk: catalog_pk(&item.collection),
            sk: item.id.to_string(),
            item_type: TYPE_CONTENT.into(),
            item: item.clone(),
        }
    }
}

pub fn account_pk(id: &GroupId) -> String {
    format!("G#{id}")
}

pub const ACCOUNT_SK: &str = "ACCOUNT";

#[derive(Debug, Serialize, Deserialize)]
pub struct AccountItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub version: u64,
    pub account: Account,
}

impl AccountItem {
    pub fn new(account: &Account) -> Self {
        Self {
            pk: account_pk(&account.id),
            sk: ACCOUNT_SK.into(),
            item_type: TYPE_ACCOUNT.into(),
            version: account.version,
            account: account.clone(),
        }
    }
}

pub fn suppression_pk(address: &EmailAddress) -> String {
    format!("X#{}", address.suppression_hash())
}

pub const SUPPRESSION_SK: &str = "X";

/// Where a person's timer is, so erasing the person finds it without scanning buckets.
#[derive(Debug, Serialize, Deserialize)]
pub struct TimerRefItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub bucket: String,
    pub timer_sk: String,
}

impl TimerRefItem {
    pub fn new(timer: &Timer) -> Self {
        Self {
            pk: person_pk(&timer.job.person_id),
            sk: format!("T#{}", timer.job.dedup_key),
            item_type: TYPE_TIMER_REF.into(),
            bucket: timer_bucket(timer.due),
            timer_sk: timer_sk(timer),
        }
    }
}

pub fn source_pk(key: &SecretHash) -> String {
    format!("K#{}", key.as_str())
}

pub const SOURCE_SK: &str = "K";

#[derive(Debug, Serialize, Deserialize)]
pub struct SourceItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub source: Source,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EventItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub person_id: String,
    pub event: Event,
    /// When DynamoDB's TTL removes the raw event (epoch seconds); `None` keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl EventItem {
    /// The item for `event`, kept for `retention` after it happened (for ever without one).
    pub fn new(event: &Event, retention: Option<chrono::Duration>) -> Self {
        Self {
            pk: person_pk(&event.person_id),
            sk: event_sk(event),
            item_type: TYPE_EVENT.into(),
            person_id: event.person_id.to_string(),
            event: event.clone(),
            expires_at: retention.map(|keep| (event.timestamp + keep).timestamp()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PersonItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub version: u64,
    pub person: Person,
}

impl PersonItem {
    pub fn new(person: &Person) -> Self {
        Self {
            pk: person_pk(&person.id),
            sk: PROFILE_SK.into(),
            item_type: TYPE_PERSON.into(),
            version: person.version,
            person: person.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SendItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    /// `claimed`, `sent`, `skipped` or `failed`: what the claim condition reads.
    pub state: String,
    pub claimed_at: i64,
    pub record: SendRecord,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TimerItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub timer: Timer,
}

impl TimerItem {
    pub fn new(timer: &Timer) -> Self {
        Self {
            pk: timer_bucket(timer.due),
            sk: timer_sk(timer),
            item_type: TYPE_TIMER.into(),
            timer: timer.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    item_type: Option<String>,
}

/// The change a stream record carries, if it is the insert of an event or a catalog item.
/// Anything else on the stream (profile updates, send records, timers, removals) is `None`.
pub fn change_from_image(event_name: &str, new_image: serde_dynamo::Item) -> Result<Option<Changed>, PortError> {
    if event_name != "INSERT" {
        return Ok(None);
    }
    let kind: TypeOnly = serde_dynamo::from_item(new_image.clone()).map_err(|e| PortError::corrupt("stream record", e))?;
    match kind.item_type.as_deref() {
        Some(TYPE_EVENT) => {
            let row: EventItem = serde_dynamo::from_item(new_image).map_err(|e| PortError::corrupt("stream record", e))?;
            Ok(Some(Changed::Event(row.event)))
        }
        Some(TYPE_CONTENT) => {
            let row: CatalogItemRow = serde_dynamo::from_item(new_image).map_err(|e| PortError::corrupt("stream record", e))?;
            Ok(Some(Changed::ContentAdded(row.item)))
        }
        _ => Ok(None),
    }
}

/// The change in a Lambda DynamoDB stream record (see `change_from_image`).
pub fn change_from_stream_record(record: &aws_lambda_events::dynamodb::EventRecord) -> Result<Option<Changed>, PortError> {
    change_from_image(&record.event_name, record.change.new_image.clone())
}

pub fn document_pk(kind: DocumentKind, name: &str) -> String {
    format!("DOC#{}#{name}", kind.as_str())
}

pub const DOCUMENT_VERSION_PREFIX: &str = "V#";

pub fn document_sk(version: u32) -> String {
    format!("{DOCUMENT_VERSION_PREFIX}{version:010}")
}

/// One version of a template or campaign.
#[derive(Debug, Serialize, Deserialize)]
pub struct DocumentItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub document: VersionedDocument,
}

impl DocumentItem {
    pub fn new(kind: DocumentKind, document: &VersionedDocument) -> Self {
        Self {
            pk: document_pk(kind, &document.name),
            sk: document_sk(document.version),
            item_type: TYPE_DOCUMENT.into(),
            document: document.clone(),
        }
    }
}

/// One partition per kind listing every name and its newest version.
pub fn document_index_pk(kind: DocumentKind) -> String {
    format!("DOCS#{}", kind.as_str())
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DocumentIndexItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub version: u32,
}

pub const PREFERENCES_SK: &str = "PREFERENCES";

#[derive(Debug, Serialize, Deserialize)]
pub struct PreferencesItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub preferences: Preferences,
}

pub fn archive_sk(key: &DedupKey) -> String {
    format!("H#{key}")
}

/// A sent message's HTML, gzipped (a 16 KB email is about 4 KB stored), until `expires_at`
/// (the table's TTL attribute, epoch seconds).
#[derive(Debug, Serialize, Deserialize)]
pub struct ArchiveItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    /// base64 of the gzipped HTML.
    pub html_gz: String,
    pub expires_at: i64,
}

impl ArchiveItem {
    pub fn new(person: &PersonId, key: &DedupKey, html: &str, expires: DateTime<Utc>) -> Self {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(html.as_bytes()).expect("writing to memory cannot fail");
        let gz = encoder.finish().expect("writing to memory cannot fail");
        Self {
            pk: person_pk(person),
            sk: archive_sk(key),
            item_type: TYPE_ARCHIVE.into(),
            html_gz: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, gz),
            expires_at: expires.timestamp(),
        }
    }

    pub fn html(&self) -> Result<String, PortError> {
        use std::io::Read;
        let gz = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &self.html_gz)
            .map_err(|e| PortError::corrupt("archived message", e))?;
        let mut html = String::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_string(&mut html)
            .map_err(|e| PortError::corrupt("archived message", e))?;
        Ok(html)
    }
}

pub fn entry_sk(campaign: &CampaignId, scope: &str) -> String {
    format!("N#{campaign}#{scope}")
}

/// The newest entry of a person into a campaign within one scope (re-entry policies).
#[derive(Debug, Serialize, Deserialize)]
pub struct EntryItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub instance: String,
    pub entered_at: DateTime<Utc>,
    /// How many times the person entered in this scope.
    pub times: u64,
}

pub fn stats_pk(campaign: &CampaignId) -> String {
    format!("STATS#{campaign}")
}

pub const STATS_SK: &str = "STATS";

/// The counter a settled send adds one to: `sent`, `failed` or `skipped_<reason>`.
pub fn stats_counter(state: &crate::domain::SendState) -> Option<String> {
    use crate::domain::SendState;
    match state {
        SendState::Sent { .. } => Some("sent".into()),
        SendState::Failed { .. } => Some("failed".into()),
        SendState::Skipped { reason, .. } => Some(format!("skipped_{}", reason.label())),
        SendState::Claimed { .. } => None,
    }
}

pub fn deferral_sk(key: &DedupKey) -> String {
    format!("D#{key}")
}

pub const TYPE_DEFERRAL: &str = "deferral";

/// A send put off by quiet hours.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeferralItem {
    pub pk: String,
    pub sk: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub deferral: crate::ports::Deferral,
}
