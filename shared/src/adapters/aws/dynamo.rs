//! DynamoDB: events, profiles, the send ledger and timers in one table (layout in `item`).
//! Recording an event is one transaction (dedup marker + event + profile), so an event is
//! either stored with its profile update or not at all, and a repeated `messageId` is a no-op.

use super::item::{
    self, AccountItem, ArchiveItem, CatalogItemRow, DeferralItem, DocumentIndexItem, DocumentItem, EntryItem, EventItem, IdentityItem,
    PersonItem, PreferencesItem, SendItem, SourceItem, TimerItem, TimerRefItem,
};
use super::sdk_error;
use crate::domain::{
    Account, CampaignId, CatalogItem, Collection, DedupKey, EmailAddress, Event, EventKind, GroupId, ItemId, MessageJob, Person, PersonId,
    Preferences, SecretHash, SendRecord, SendState, Source, Timer,
};
use crate::error::PortError;
use crate::ports::{
    AccountReader, CampaignStatistics, CampaignStats, Catalog, Claim, Deferral, DeferralLog, DocumentKind, DocumentStore, Entered, Entry,
    Erased, Eraser, EventLog, JourneyLog, MessageArchive, PeopleDirectory, PeoplePage, PersonHistory, PreferenceStore, ProfileReader,
    Recorded, SavedVersion, SendLedger, SourceDirectory, SuppressionList, TimerStore, Upserted, VersionedDocument,
};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, DeleteRequest, Put, ReturnValue, TransactWriteItem, Update, WriteRequest};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// How often a profile update is retried after losing a race with a concurrent writer.
const MAX_PROFILE_ATTEMPTS: usize = 8;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long raw events are kept (DynamoDB's TTL on `expires_at` removes them).
    event_retention: Option<Duration>,
}

fn to_item<T: Serialize>(value: &T) -> Item {
    serde_dynamo::to_item(value).expect("item structs always convert to DynamoDB items")
}

fn from_item<T: DeserializeOwned>(what: &'static str, item: Item) -> Result<T, PortError> {
    serde_dynamo::from_item(item).map_err(|e| PortError::corrupt(what, e))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            event_retention: None,
        }
    }

    /// Raw events written from now on expire `retention` after they happened. Profiles
    /// (with their computed behavior) stay.
    pub fn with_event_retention(mut self, retention: Duration) -> Self {
        self.event_retention = Some(retention);
        self
    }

    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", e))?;
        Ok(output.item)
    }

    /// One put of a transaction, if `condition` (when given) holds. `version`, when given, is bound to
    /// `:version` (and `#version`) for the condition to compare against.
    fn put(&self, item: Item, condition: Option<&str>, version: Option<u64>) -> Result<TransactWriteItem, PortError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string));
        if let Some(version) = version {
            put = put
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":version", n(version as i64));
        }
        let put = put.build().map_err(|e| PortError::unavailable("DynamoDB", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Query all items of one partition whose sort key starts with `prefix`.
    /// (An empty `prefix` reads the whole partition.)
    async fn query_prefix(&self, pk: String, prefix: &str) -> Result<Vec<Item>, PortError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(pk.clone()));
            query = if prefix.is_empty() {
                query.key_condition_expression("pk = :pk")
            } else {
                query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix))
            };
            let output = query
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB", e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    async fn read_person(&self, id: &PersonId) -> Result<Option<Person>, PortError> {
        match self.get(item::person_pk(id), item::PROFILE_SK).await? {
            Some(found) => Ok(Some(from_item::<PersonItem>("profile", found)?.person)),
            None => Ok(None),
        }
    }
}

impl EventLog for DynamoStore {
    async fn record(&self, event: &Event) -> Result<Recorded, PortError> {
        for _ in 0..MAX_PROFILE_ATTEMPTS {
            let mut event = event.clone();
            if event.user_id.is_none() {
                if let Some(known) = self.linked_person(&event.person_id).await? {
                    event.person_id = known;
                }
            }
            let current = self.read_person(&event.person_id).await?;
            // Written only over the profile we read: a concurrent writer makes us read again.
            let (profile_condition, read_version) = match &current {
                Some(person) => ("#version = :version", Some(person.version)),
                None => ("attribute_not_exists(pk)", None),
            };
            let mut person = current.unwrap_or_else(|| Person::new(event.person_id.clone(), event.timestamp));
            let mut marker = Item::new();
            marker.insert("pk".into(), s(item::dedup_pk(&event.message_id)));
            marker.insert("sk".into(), s(item::DEDUP_SK));
            marker.insert("type".into(), s(item::TYPE_DEDUP));
            let mut writes = vec![self.put(marker, Some("attribute_not_exists(pk)"), None)?];
            if let Some(other) = event.linked_id().filter(|other| **other != person.id).cloned() {
                if self.linked_person(&other).await?.is_none() {
                    writes.extend(self.link(&other, &mut person).await?);
                }
            }
            person.apply(&event);
            if let Some(group) = event.group_id.as_ref().filter(|_| event.kind == EventKind::Group) {
                writes.push(self.account_write(group, &event).await?);
            }
            writes.push(self.put(
                to_item(&EventItem::new(&event, self.event_retention)),
                Some("attribute_not_exists(pk)"),
                None,
            )?);
            writes.push(self.put(to_item(&PersonItem::new(&person)), Some(profile_condition), read_version)?);
            match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
                Ok(_) => return Ok(Recorded::New(person)),
                Err(error) if error.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) => {
                    // Either the message id was seen before, or a profile or link moved under us.
                    if self.get(item::dedup_pk(&event.message_id), item::DEDUP_SK).await?.is_some() {
                        return Ok(Recorded::Duplicate);
                    }
                }
                Err(error) => return Err(sdk_error("DynamoDB", error)),
            }
        }
        Err(PortError::Conflict { what: "profile" })
    }
}

impl DynamoStore {
    /// The person an anonymous (or previous) id was linked to, if it was.
    async fn linked_person(&self, id: &PersonId) -> Result<Option<PersonId>, PortError> {
        match self.get(item::identity_pk(id), item::IDENTITY_SK).await? {
            Some(found) => Ok(Some(from_item::<IdentityItem>("identity", found)?.person_id)),
            None => Ok(None),
        }
    }

    /// The writes that link `other` to `person`: the link itself, and when `other` has a
    /// profile, its removal and the re-pointing of the ids it had absorbed. `person` takes
    /// in `other`'s history.
    async fn link(&self, other: &PersonId, person: &mut Person) -> Result<Vec<TransactWriteItem>, PortError> {
        let mut writes = vec![self.put(
            to_item(&IdentityItem::new(other, &person.id)),
            Some("attribute_not_exists(pk)"),
            None,
        )?];
        match self.read_person(other).await? {
            Some(absorbed) => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .key("pk", s(item::person_pk(other)))
                    .key("sk", s(item::PROFILE_SK))
                    .condition_expression("#version = :version")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", n(absorbed.version as i64))
                    .build()
                    .map_err(|e| PortError::unavailable("DynamoDB", e))?;
                writes.push(TransactWriteItem::builder().delete(delete).build());
                for id in &absorbed.merged_ids {
                    writes.push(self.put(to_item(&IdentityItem::new(id, &person.id)), None, None)?);
                }
                person.absorb(absorbed);
            }
            None => {
                person.merged_ids.insert(other.clone());
            }
        }
        Ok(writes)
    }
}

impl ProfileReader for DynamoStore {
    async fn person(&self, id: &PersonId) -> Result<Option<Person>, PortError> {
        self.read_person(id).await
    }
}

impl SendLedger for DynamoStore {
    async fn claim(&self, job: &MessageJob, now: DateTime<Utc>, lease: Duration) -> Result<Claim, PortError> {
        let record = SendRecord {
            dedup_key: job.dedup_key.clone(),
            person_id: job.person_id.clone(),
            campaign_id: job.campaign_id.clone(),
            state: SendState::Claimed { at: now },
        };
        let claim = SendItem {
            pk: item::person_pk(&job.person_id),
            sk: item::send_sk(&job.dedup_key),
            item_type: item::TYPE_SEND.into(),
            state: record.state.label().into(),
            claimed_at: now.timestamp_millis(),
            record,
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&claim)))
            // New, or a claim whose sender outlived its lease without settling.
            .condition_expression("attribute_not_exists(pk) OR (#state = :claimed AND claimed_at <= :lapsed)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":lapsed", n((now - lease).timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                let existing = self.get(item::person_pk(&job.person_id), &item::send_sk(&job.dedup_key)).await?;
                match existing.map(|found| from_item::<SendItem>("send ledger", found)).transpose()? {
                    Some(SendItem {
                        record:
                            SendRecord {
                                state: SendState::Claimed { .. },
                                ..
                            },
                        ..
                    }) => Ok(Claim::HeldElsewhere),
                    Some(settled) => Ok(Claim::Settled(settled.record.state)),
                    // Released between our write and our read: let the retry claim it.
                    None => Ok(Claim::HeldElsewhere),
                }
            }
            Err(error) => Err(sdk_error("DynamoDB", error)),
        }
    }

    async fn settle(&self, record: &SendRecord) -> Result<(), PortError> {
        let existing = self
            .get(item::person_pk(&record.person_id), &item::send_sk(&record.dedup_key))
            .await?;
        let claimed_at = match existing {
            Some(found) => from_item::<SendItem>("send ledger", found)?.claimed_at,
            None => 0,
        };
        let settled = SendItem {
            pk: item::person_pk(&record.person_id),
            sk: item::send_sk(&record.dedup_key),
            item_type: item::TYPE_SEND.into(),
            state: record.state.label().into(),
            claimed_at,
            record: record.clone(),
        };
        let mut writes = vec![self.put(to_item(&settled), None, None)?];
        writes.extend(self.count(&record.campaign_id, item::stats_counter(&record.state))?);
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", e))?;
        Ok(())
    }

    async fn release(&self, job: &MessageJob) -> Result<(), PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(item::person_pk(&job.person_id)))
            .key("sk", s(item::send_sk(&job.dedup_key)))
            .condition_expression("#state = :claimed")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s("claimed"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(error) => Err(sdk_error("DynamoDB", error)),
        }
    }

    async fn sends_to(&self, person: &PersonId) -> Result<Vec<SendRecord>, PortError> {
        let items = self.query_prefix(item::person_pk(person), "S#").await?;
        let mut sends: Vec<SendItem> = items
            .into_iter()
            .map(|found| from_item("send ledger", found))
            .collect::<Result<_, _>>()?;
        sends.sort_by_key(|send| send.claimed_at);
        Ok(sends.into_iter().map(|send| send.record).collect())
    }
}

const CURSOR_PK: &str = "TIMERS";
const CURSOR_SK: &str = "CURSOR";

/// Buckets are only skipped for good once they are this far in the past, so a timer written
/// by a slightly slow or skewed evaluator still lands at or after the cursor.
fn cursor_margin() -> Duration {
    Duration::minutes(5)
}

impl DynamoStore {
    /// The earliest minute that may still hold timers; `None` when no timer was ever scheduled.
    /// Every schedule moves the cursor back to its own minute if needed, so no timer is
    /// ever behind it.
    async fn timer_cursor(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        let Some(found) = self.get(CURSOR_PK.into(), CURSOR_SK).await? else {
            return Ok(None);
        };
        let millis = match found.get("minute") {
            Some(AttributeValue::N(text)) => text.parse::<i64>().ok(),
            _ => None,
        };
        millis
            .and_then(DateTime::from_timestamp_millis)
            .map(Some)
            .ok_or_else(|| PortError::corrupt("timer cursor", "no minute"))
    }

    /// Moves the cursor to `minute` if `condition` holds for the stored one.
    async fn move_timer_cursor(&self, minute: DateTime<Utc>, condition: &str) -> Result<(), PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(CURSOR_PK))
            .item("sk", s(CURSOR_SK))
            .item("type", s(item::TYPE_CURSOR))
            .item("minute", n(minute.timestamp_millis()))
            .condition_expression(condition)
            .expression_attribute_names("#minute", "minute")
            .expression_attribute_values(":minute", n(minute.timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(error) => Err(sdk_error("DynamoDB", error)),
        }
    }
}

fn minute_floor(at: DateTime<Utc>) -> DateTime<Utc> {
    let millis = at.timestamp_millis();
    DateTime::from_timestamp_millis(millis - millis.rem_euclid(60_000)).expect("in range")
}

impl TimerStore for DynamoStore {
    async fn schedule(&self, timer: &Timer) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&TimerItem::new(timer))))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", e))?;
        // Under the person too, so erasing them finds their timers without a scan.
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&TimerRefItem::new(timer))))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", e))?;
        self.move_timer_cursor(minute_floor(timer.due), "attribute_not_exists(pk) OR #minute > :minute")
            .await
    }

    async fn due(&self, now: DateTime<Utc>, max: usize) -> Result<Vec<Timer>, PortError> {
        let Some(cursor) = self.timer_cursor().await? else {
            return Ok(Vec::new());
        };
        let last = minute_floor(now);
        let upper = format!("{:015}$", now.timestamp_millis());
        let mut minute = minute_floor(cursor);
        let mut first_busy: Option<DateTime<Utc>> = None;
        let mut due = Vec::new();
        while minute <= last && due.len() < max {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk < :upper")
                .expression_attribute_values(":pk", s(item::timer_bucket(minute)))
                .expression_attribute_values(":upper", s(upper.clone()))
                .consistent_read(true)
                .limit((max - due.len()) as i32)
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB", e))?;
            let items = output.items.unwrap_or_default();
            if !items.is_empty() && first_busy.is_none() {
                first_busy = Some(minute);
            }
            for found in items {
                due.push(from_item::<TimerItem>("timer", found)?.timer);
            }
            minute += Duration::minutes(1);
        }
        // Skip, from now on, the leading buckets found empty (up to the safety margin).
        let drained_until = first_busy.unwrap_or(minute).min(minute_floor(now - cursor_margin()));
        if drained_until > cursor {
            self.move_timer_cursor(drained_until, "#minute < :minute").await?;
        }
        due.sort_by(|a, b| (a.due, &a.job.dedup_key).cmp(&(b.due, &b.job.dedup_key)));
        Ok(due)
    }

    async fn remove(&self, timer: &Timer) -> Result<(), PortError> {
        let reference = TimerRefItem::new(timer);
        self.delete_keys(vec![
            (item::timer_bucket(timer.due), item::timer_sk(timer)),
            (reference.pk, reference.sk),
        ])
        .await
    }
}

impl SourceDirectory for DynamoStore {
    async fn source_for_key(&self, key: &SecretHash) -> Result<Option<Source>, PortError> {
        match self.get(item::source_pk(key), item::SOURCE_SK).await? {
            Some(found) => Ok(Some(from_item::<SourceItem>("source", found)?.source)),
            None => Ok(None),
        }
    }

    async fn add_source(&self, source: &Source, key: &SecretHash) -> Result<(), PortError> {
        let source = SourceItem {
            pk: item::source_pk(key),
            sk: item::SOURCE_SK.into(),
            item_type: item::TYPE_SOURCE.into(),
            source: source.clone(),
        };
        self.put_plain(to_item(&source)).await
    }
}

impl DocumentStore for DynamoStore {
    async fn save_document(
        &self,
        kind: DocumentKind,
        name: &str,
        body: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<SavedVersion, PortError> {
        let current = self.current_document(kind, name).await?;
        let Some(next) = VersionedDocument::next(current.as_ref(), name, body, at) else {
            let version = current.map_or(0, |c| c.version);
            return Ok(SavedVersion { version, changed: false });
        };
        let index = DocumentIndexItem {
            pk: item::document_index_pk(kind),
            sk: name.to_string(),
            item_type: item::TYPE_DOCUMENT_INDEX.into(),
            version: next.version,
        };
        // The version must be new: two saves racing for the same number cannot both win.
        let writes = vec![
            self.put(to_item(&DocumentItem::new(kind, &next)), Some("attribute_not_exists(pk)"), None)?,
            self.put(to_item(&index), None, None)?,
        ];
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(SavedVersion {
                version: next.version,
                changed: true,
            }),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) => {
                Err(PortError::Conflict { what: "document" })
            }
            Err(error) => Err(sdk_error("DynamoDB", error)),
        }
    }

    async fn current_document(&self, kind: DocumentKind, name: &str) -> Result<Option<VersionedDocument>, PortError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(item::document_pk(kind, name)))
            .expression_attribute_values(":prefix", s(item::DOCUMENT_VERSION_PREFIX))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", e))?;
        match output.items.unwrap_or_default().into_iter().next() {
            Some(found) => Ok(Some(from_item::<DocumentItem>("document", found)?.document)),
            None => Ok(None),
        }
    }

    async fn current_documents(&self, kind: DocumentKind) -> Result<Vec<VersionedDocument>, PortError> {
        let mut all = Vec::new();
        for found in self.query_prefix(item::document_index_pk(kind), "").await? {
            let index: DocumentIndexItem = from_item("document index", found)?;
            if let Some(found) = self
                .get(item::document_pk(kind, &index.sk), &item::document_sk(index.version))
                .await?
            {
                all.push(from_item::<DocumentItem>("document", found)?.document);
            }
        }
        Ok(all)
    }
}

impl DynamoStore {
    /// Writes `item` whatever was there.
    async fn put_plain(&self, item: Item) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", e))?;
        Ok(())
    }

    /// One more on a campaign's `counter`, as a write of a transaction.
    fn count(&self, campaign: &CampaignId, counter: Option<String>) -> Result<Option<TransactWriteItem>, PortError> {
        let Some(counter) = counter else {
            return Ok(None);
        };
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(item::stats_pk(campaign)))
            .key("sk", s(item::STATS_SK))
            .update_expression("SET #type = :type ADD #counter :one")
            .expression_attribute_names("#type", "type")
            .expression_attribute_names("#counter", counter)
            .expression_attribute_values(":type", s("stats"))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|e| PortError::unavailable("DynamoDB", e))?;
        Ok(Some(TransactWriteItem::builder().update(update).build()))
    }
}

impl DeferralLog for DynamoStore {
    async fn record_deferral(&self, deferral: &Deferral) -> Result<(), PortError> {
        let row = DeferralItem {
            pk: item::person_pk(&deferral.person_id),
            sk: item::deferral_sk(&deferral.dedup_key),
            item_type: item::TYPE_DEFERRAL.into(),
            deferral: deferral.clone(),
        };
        self.put_plain(to_item(&row)).await
    }

    async fn deferrals_of(&self, person: &PersonId) -> Result<Vec<Deferral>, PortError> {
        self.query_prefix(item::person_pk(person), "D#")
            .await?
            .into_iter()
            .map(|found| from_item::<DeferralItem>("deferral", found).map(|d| d.deferral))
            .collect()
    }
}

impl PeopleDirectory for DynamoStore {
    async fn people(&self, cursor: Option<&str>) -> Result<PeoplePage, PortError> {
        let start = cursor
            .and_then(|c| c.split_once('\t'))
            .map(|(pk, sk)| Item::from([("pk".to_string(), s(pk.to_string())), ("sk".to_string(), s(sk.to_string()))]));
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#type = :person")
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":person", s(item::TYPE_PERSON))
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", e))?;
        let people = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|found| from_item::<PersonItem>("profile", found).map(|p| p.person))
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key
            .filter(|k| !k.is_empty())
            .and_then(|key| match (key.get("pk"), key.get("sk")) {
                (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some(format!("{pk}\t{sk}")),
                _ => None,
            });
        Ok((people, next))
    }
}

impl CampaignStatistics for DynamoStore {
    async fn campaign_stats(&self, campaign: &CampaignId) -> Result<CampaignStats, PortError> {
        let mut stats = CampaignStats::default();
        let Some(found) = self.get(item::stats_pk(campaign), item::STATS_SK).await? else {
            return Ok(stats);
        };
        for (name, value) in found {
            let AttributeValue::N(number) = value else { continue };
            let count: u64 = number.parse().map_err(|e| PortError::corrupt("campaign stats", e))?;
            match name.as_str() {
                "entered" => stats.entered = count,
                "sent" => stats.sent = count,
                "failed" => stats.failed = count,
                other => {
                    if let Some(reason) = other.strip_prefix("skipped_") {
                        stats.skipped.insert(reason.to_string(), count);
                    }
                }
            }
        }
        Ok(stats)
    }
}

impl JourneyLog for DynamoStore {
    async fn enter(&self, entry: &Entry, gap: Option<Duration>) -> Result<Entered, PortError> {
        let sk = item::entry_sk(&entry.campaign, &entry.scope);
        for _ in 0..5 {
            let found = self.get(item::person_pk(&entry.person), &sk).await?;
            let found: Option<EntryItem> = found.map(|f| from_item("journey entry", f)).transpose()?;
            let (condition, times) = match &found {
                None => ("attribute_not_exists(pk)", 1),
                Some(old) if old.instance == entry.instance => return Ok(Entered::Again),
                Some(old) if gap.is_some_and(|gap| old.entered_at + gap <= entry.at) => ("instance = :old", old.times + 1),
                Some(old) => return Ok(Entered::Blocked { since: old.entered_at }),
            };
            let row = EntryItem {
                pk: item::person_pk(&entry.person),
                sk: sk.clone(),
                item_type: item::TYPE_ENTRY.into(),
                instance: entry.instance.clone(),
                entered_at: entry.at,
                times,
            };
            let mut put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(&row)))
                .condition_expression(condition);
            if let Some(old) = &found {
                put = put.expression_attribute_values(":old", s(old.instance.clone()));
            }
            let put = put.build().map_err(|e| PortError::unavailable("DynamoDB", e))?;
            let mut writes = vec![TransactWriteItem::builder().put(put).build()];
            writes.extend(self.count(&entry.campaign, Some("entered".into()))?);
            match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
                Ok(_) => return Ok(Entered::New),
                // Another delivery entered first: read again and decide on what it wrote.
                Err(error) if error.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) => continue,
                Err(error) => return Err(sdk_error("DynamoDB", error)),
            }
        }
        Err(PortError::Conflict { what: "journey entry" })
    }
}

impl MessageArchive for DynamoStore {
    async fn archive(&self, person: &PersonId, key: &DedupKey, html: &str, expires: DateTime<Utc>) -> Result<(), PortError> {
        self.put_plain(to_item(&ArchiveItem::new(person, key, html, expires))).await
    }

    async fn archived(&self, person: &PersonId, key: &DedupKey, now: DateTime<Utc>) -> Result<Option<String>, PortError> {
        let Some(found) = self.get(item::person_pk(person), &item::archive_sk(key)).await? else {
            return Ok(None);
        };
        let archived: ArchiveItem = from_item("archived message", found)?;
        // TTL deletes within days of expiry, not at once: an expired item is already gone.
        if archived.expires_at < now.timestamp() {
            return Ok(None);
        }
        archived.html().map(Some)
    }
}

impl PreferenceStore for DynamoStore {
    async fn preferences(&self, person: &PersonId) -> Result<Preferences, PortError> {
        match self.get(item::person_pk(person), item::PREFERENCES_SK).await? {
            Some(found) => Ok(from_item::<PreferencesItem>("preferences", found)?.preferences),
            None => Ok(Preferences::default()),
        }
    }

    async fn save_preferences(&self, person: &PersonId, preferences: &Preferences) -> Result<(), PortError> {
        let row = PreferencesItem {
            pk: item::person_pk(person),
            sk: item::PREFERENCES_SK.into(),
            item_type: item::TYPE_PREFERENCES.into(),
            preferences: preferences.clone(),
        };
        self.put_plain(to_item(&row)).await
    }
}

/// BatchWriteItem takes at most 25 requests.
const BATCH_WRITE_LIMIT: usize = 25;

impl DynamoStore {
    /// Deletes items by key, 25 to a BatchWriteItem, retrying what DynamoDB leaves unprocessed.
    async fn delete_keys(&self, keys: Vec<(String, String)>) -> Result<(), PortError> {
        for chunk in keys.chunks(BATCH_WRITE_LIMIT) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|(pk, sk)| {
                    let delete = DeleteRequest::builder()
                        .key("pk", s(pk.clone()))
                        .key("sk", s(sk.clone()))
                        .build()
                        .map_err(|e| PortError::unavailable("DynamoDB", e))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<_, PortError>>()?;
            for attempt in 0..8u32 {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| sdk_error("DynamoDB", e))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            if !requests.is_empty() {
                return Err(PortError::unavailable("DynamoDB", "deletes left unprocessed after retries"));
            }
        }
        Ok(())
    }

    /// The person and every id merged into them.
    async fn ids_of(&self, person: &PersonId) -> Result<(Option<Person>, Vec<PersonId>), PortError> {
        let found = self.read_person(person).await?;
        let mut ids = vec![person.clone()];
        if let Some(found) = &found {
            ids.extend(found.merged_ids.iter().cloned());
        }
        Ok((found, ids))
    }
}

impl PersonHistory for DynamoStore {
    async fn events_of(&self, person: &PersonId, limit: usize) -> Result<Vec<Event>, PortError> {
        let (_, ids) = self.ids_of(person).await?;
        let mut events = Vec::new();
        for id in ids {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(item::person_pk(&id)))
                .expression_attribute_values(":prefix", s("E#"))
                .scan_index_forward(false)
                .limit(limit.clamp(1, 1000) as i32)
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB", e))?;
            for found in output.items.unwrap_or_default() {
                events.push(from_item::<EventItem>("event", found)?.event);
            }
        }
        events.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
        events.truncate(limit);
        Ok(events)
    }
}

impl Eraser for DynamoStore {
    async fn erase(&self, person: &PersonId) -> Result<Erased, PortError> {
        let (found, ids) = self.ids_of(person).await?;
        let Some(found) = found else {
            return Ok(Erased::default());
        };
        let mut erased = Erased {
            profile: true,
            ..Erased::default()
        };
        if let Some(Ok(address)) = found.email() {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(item::suppression_pk(&address)))
                .item("sk", s(item::SUPPRESSION_SK))
                .item("type", s(item::TYPE_SUPPRESSION))
                .item("reason", s("erased"))
                .send()
                .await
                .map_err(|e| sdk_error("DynamoDB", e))?;
            erased.suppressed = true;
        }
        let mut keys = Vec::new();
        for id in &ids {
            if id != person {
                keys.push((item::identity_pk(id), item::IDENTITY_SK.to_string()));
            }
            for found in self.query_prefix(item::person_pk(id), "").await? {
                let sk = match found.get("sk") {
                    Some(AttributeValue::S(sk)) => sk.clone(),
                    _ => continue,
                };
                if sk.starts_with("E#") {
                    erased.events += 1;
                } else if sk.starts_with("S#") {
                    erased.sends += 1;
                } else if sk.starts_with("T#") {
                    let reference: TimerRefItem = from_item("timer reference", found)?;
                    keys.push((reference.bucket, reference.timer_sk));
                    erased.timers += 1;
                }
                keys.push((item::person_pk(id), sk));
            }
        }
        // The profile goes last: until it does, a retry of a failed erase finds it again.
        keys.retain(|(pk, sk)| !(pk == &item::person_pk(person) && sk == item::PROFILE_SK));
        self.delete_keys(keys).await?;
        self.delete_keys(vec![(item::person_pk(person), item::PROFILE_SK.to_string())])
            .await?;
        Ok(erased)
    }
}

impl SuppressionList for DynamoStore {
    async fn is_suppressed(&self, address: &EmailAddress) -> Result<bool, PortError> {
        Ok(self.get(item::suppression_pk(address), item::SUPPRESSION_SK).await?.is_some())
    }
}

impl DynamoStore {
    /// The write that applies a `group` call to its account, over the version read.
    async fn account_write(&self, group: &GroupId, event: &Event) -> Result<TransactWriteItem, PortError> {
        let current = self.account(group).await?;
        let (condition, read_version) = match &current {
            Some(account) => ("#version = :version", Some(account.version)),
            None => ("attribute_not_exists(pk)", None),
        };
        let mut account = current.unwrap_or_else(|| Account::new(group.clone(), event.timestamp));
        account.apply(event);
        self.put(to_item(&AccountItem::new(&account)), Some(condition), read_version)
    }
}

impl Catalog for DynamoStore {
    async fn upsert(&self, item: &CatalogItem) -> Result<Upserted, PortError> {
        let output = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&CatalogItemRow::new(item))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", e))?;
        // The insert itself is the `content_added` change: the stream carries it.
        Ok(if output.attributes.is_some_and(|old| !old.is_empty()) {
            Upserted::Updated
        } else {
            Upserted::Added
        })
    }

    async fn item(&self, collection: &Collection, id: &ItemId) -> Result<Option<CatalogItem>, PortError> {
        match self.get(item::catalog_pk(collection), id.as_str()).await? {
            Some(found) => Ok(Some(from_item::<CatalogItemRow>("catalog item", found)?.item)),
            None => Ok(None),
        }
    }
}

impl AccountReader for DynamoStore {
    async fn account(&self, id: &GroupId) -> Result<Option<Account>, PortError> {
        match self.get(item::account_pk(id), item::ACCOUNT_SK).await? {
            Some(found) => Ok(Some(from_item::<AccountItem>("account", found)?.account)),
            None => Ok(None),
        }
    }
}
