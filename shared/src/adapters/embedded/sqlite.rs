//! One SQLite database implements every storage port: events + profiles, the change feed,
//! the job queue (with visibility timeouts and a dead-letter table), the send ledger and
//! timers. Each port method is one transaction; `synchronous=FULL` makes a commit durable.

use crate::domain::{
    Account, CampaignId, CatalogItem, Changed, Collection, DedupKey, EmailAddress, Event, EventKind, GroupId, ItemId, MessageJob, Person,
    PersonId, Preferences, SecretHash, SendRecord, SendState, Source, Timer,
};
use crate::error::PortError;
use crate::ports::{
    AccountReader, CampaignStatistics, CampaignStats, Catalog, Change, ChangeFeed, Claim, Deferral, DeferralLog, DocumentKind,
    DocumentStore, Entered, Entry, Erased, Eraser, EventLog, JobQueue, JobSource, JourneyLog, MessageArchive, PeopleDirectory, PeoplePage,
    PersonHistory, PreferenceStore, ProfileReader, QueuedMessage, Recorded, SavedVersion, SendLedger, SourceDirectory, SuppressionList,
    TimerStore, Upserted, VersionedDocument,
};
use crate::Clock;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    message_id TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL,
    timestamp  TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_person ON events (person_id, timestamp);
CREATE TABLE IF NOT EXISTS people (
    person_id TEXT PRIMARY KEY,
    body      TEXT NOT NULL
);
-- One row per change: an event (message_id) or a catalog item added (collection, item_id).
CREATE TABLE IF NOT EXISTS changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    collection TEXT,
    item_id    TEXT
);
CREATE TABLE IF NOT EXISTS catalog (
    collection TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (collection, item_id)
);
CREATE TABLE IF NOT EXISTS feed_cursor (
    consumer TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    body          TEXT NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_visibility ON jobs (visible_at);
CREATE TABLE IF NOT EXISTS dead_jobs (
    seq           INTEGER PRIMARY KEY,
    body          TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    died_at       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sends (
    dedup_key  TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_by_person ON sends (person_id);
CREATE TABLE IF NOT EXISTS timers (
    dedup_key TEXT PRIMARY KEY,
    due       INTEGER NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due);
CREATE TABLE IF NOT EXISTS identities (
    other_id  TEXT PRIMARY KEY,
    person_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identities_by_person ON identities (person_id);
CREATE TABLE IF NOT EXISTS accounts (
    group_id TEXT PRIMARY KEY,
    body     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS suppressions (
    address_hash TEXT PRIMARY KEY,
    reason       TEXT NOT NULL,
    at           INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    key_hash TEXT PRIMARY KEY,
    body     TEXT NOT NULL
);
-- Every version of every template and campaign; the current one is the highest version.
CREATE TABLE IF NOT EXISTS documents (
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (kind, name, version)
);
CREATE TABLE IF NOT EXISTS archive (
    dedup_key  TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL,
    html       TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
-- The newest entry per (person, campaign, scope), for re-entry policies; `times` counts entries.
CREATE TABLE IF NOT EXISTS entries (
    person_id  TEXT NOT NULL,
    campaign   TEXT NOT NULL,
    scope      TEXT NOT NULL,
    instance   TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    times      INTEGER NOT NULL,
    PRIMARY KEY (person_id, campaign, scope)
);
CREATE TABLE IF NOT EXISTS deferrals (
    dedup_key TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS preferences (
    person_id TEXT PRIMARY KEY,
    body      TEXT NOT NULL
);
"#;

/// The only consumer of the embedded change feed is the evaluator.
const FEED_CONSUMER: &str = "evaluator";

/// Counts for the queue, for summaries and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub pending: u64,
    pub dead: u64,
}

/// Cheap to clone: clones share one connection.
#[derive(Clone)]
pub struct EmbeddedStore {
    connection: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
    /// After this many receives without acknowledgement a job moves to `dead_jobs`
    /// (SQS's `maxReceiveCount`).
    max_receives: u32,
}

fn unavailable(error: rusqlite::Error) -> PortError {
    PortError::unavailable("sqlite", error)
}

fn from_json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T, PortError> {
    serde_json::from_str(text).map_err(|e| PortError::corrupt(what, e))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain values always serialize")
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

impl EmbeddedStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, PortError> {
        let connection = Connection::open(path).map_err(unavailable)?;
        Self::init(connection, clock)
    }

    /// A private in-memory database, for tests.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Result<Self, PortError> {
        Self::init(Connection::open_in_memory().map_err(unavailable)?, clock)
    }

    fn init(connection: Connection, clock: Arc<dyn Clock>) -> Result<Self, PortError> {
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")
            .map_err(unavailable)?;
        connection.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            clock,
            max_receives: 5,
        })
    }

    pub fn with_max_receives(mut self, max_receives: u32) -> Self {
        self.max_receives = max_receives;
        self
    }

    /// Runs `work` in one immediate transaction, committed if it returns `Ok`.
    fn transaction<T>(&self, work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, PortError>) -> Result<T, PortError> {
        let mut connection = self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let value = work(&tx)?;
        tx.commit().map_err(unavailable)?;
        Ok(value)
    }

    pub fn queue_stats(&self) -> Result<QueueStats, PortError> {
        self.transaction(|tx| {
            let count = |sql: &str| tx.query_row(sql, [], |row| row.get::<_, i64>(0)).map_err(unavailable);
            Ok(QueueStats {
                pending: count("SELECT COUNT(*) FROM jobs")? as u64,
                dead: count("SELECT COUNT(*) FROM dead_jobs")? as u64,
            })
        })
    }

    /// Every send in the ledger, for reports.
    pub fn all_sends(&self) -> Result<Vec<SendRecord>, PortError> {
        self.transaction(|tx| {
            let mut statement = tx
                .prepare("SELECT body FROM sends ORDER BY claimed_at, dedup_key")
                .map_err(unavailable)?;
            let bodies = statement.query_map([], |row| row.get::<_, String>(0)).map_err(unavailable)?;
            bodies.map(|body| from_json("send ledger", &body.map_err(unavailable)?)).collect()
        })
    }

    /// Deletes raw events that happened before `before` (the embedded counterpart of
    /// DynamoDB's TTL). Profiles keep their computed behavior. Returns how many went.
    pub fn expire_events(&self, before: DateTime<Utc>) -> Result<usize, PortError> {
        self.transaction(|tx| {
            tx.execute(
                "DELETE FROM events WHERE timestamp < ?1",
                params![before.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)],
            )
            .map_err(unavailable)
        })
    }

    /// Removes archived messages past their expiry (DynamoDB's TTL does this on AWS).
    pub fn expire_archive(&self, now: DateTime<Utc>) -> Result<usize, PortError> {
        self.transaction(|tx| {
            tx.execute("DELETE FROM archive WHERE expires_at < ?1", params![time_text(now)])
                .map_err(unavailable)
        })
    }

    pub fn pending_timers(&self) -> Result<u64, PortError> {
        self.transaction(|tx| {
            tx.query_row("SELECT COUNT(*) FROM timers", [], |row| row.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(unavailable)
        })
    }
}

impl EventLog for EmbeddedStore {
    async fn record(&self, event: &Event) -> Result<Recorded, PortError> {
        self.transaction(|tx| {
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM events WHERE message_id = ?1",
                    params![event.message_id.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            if seen.is_some() {
                return Ok(Recorded::Duplicate);
            }
            let mut event = event.clone();
            if event.user_id.is_none() {
                if let Some(known) = linked_person(tx, &event.person_id)? {
                    event.person_id = known;
                }
            }
            let mut person = read_person(tx, &event.person_id)?.unwrap_or_else(|| Person::new(event.person_id.clone(), event.timestamp));
            if let Some(other) = event.linked_id().filter(|other| **other != person.id).cloned() {
                if linked_person(tx, &other)?.is_none() {
                    link(tx, &other, &mut person)?;
                }
            }
            person.apply(&event);
            if let Some(group) = event.group_id.as_ref().filter(|_| event.kind == EventKind::Group) {
                let body: Option<String> = tx
                    .query_row("SELECT body FROM accounts WHERE group_id = ?1", params![group.as_str()], |row| {
                        row.get(0)
                    })
                    .optional()
                    .map_err(unavailable)?;
                let mut account = match body {
                    Some(body) => from_json("account", &body)?,
                    None => Account::new(group.clone(), event.timestamp),
                };
                account.apply(&event);
                tx.execute(
                    "INSERT INTO accounts (group_id, body) VALUES (?1, ?2) ON CONFLICT (group_id) DO UPDATE SET body = excluded.body",
                    params![group.as_str(), to_json(&account)],
                )
                .map_err(unavailable)?;
            }
            tx.execute(
                "INSERT INTO events (message_id, person_id, timestamp, body) VALUES (?1, ?2, ?3, ?4)",
                params![
                    event.message_id.as_str(),
                    event.person_id.as_str(),
                    // Fixed width, so text order is time order (the retention sweep compares).
                    event.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    to_json(&event)
                ],
            )
            .map_err(unavailable)?;
            tx.execute(
                "INSERT INTO people (person_id, body) VALUES (?1, ?2) ON CONFLICT (person_id) DO UPDATE SET body = excluded.body",
                params![person.id.as_str(), to_json(&person)],
            )
            .map_err(unavailable)?;
            tx.execute("INSERT INTO changes (message_id) VALUES (?1)", params![event.message_id.as_str()])
                .map_err(unavailable)?;
            Ok(Recorded::New(person))
        })
    }
}

/// The person an anonymous (or previous) id was linked to, if it was.
fn linked_person(tx: &rusqlite::Transaction<'_>, id: &PersonId) -> Result<Option<PersonId>, PortError> {
    let linked: Option<String> = tx
        .query_row(
            "SELECT person_id FROM identities WHERE other_id = ?1",
            params![id.as_str()],
            |row| row.get(0),
        )
        .optional()
        .map_err(unavailable)?;
    linked
        .map(|id| PersonId::parse(&id).map_err(|e| PortError::corrupt("identities", e)))
        .transpose()
}

/// Links `other` to `person`: its profile (and the ids it had absorbed) become `person`'s.
fn link(tx: &rusqlite::Transaction<'_>, other: &PersonId, person: &mut Person) -> Result<(), PortError> {
    if let Some(absorbed) = read_person(tx, other)? {
        tx.execute("DELETE FROM people WHERE person_id = ?1", params![other.as_str()])
            .map_err(unavailable)?;
        tx.execute(
            "UPDATE identities SET person_id = ?1 WHERE person_id = ?2",
            params![person.id.as_str(), other.as_str()],
        )
        .map_err(unavailable)?;
        person.absorb(absorbed);
    } else {
        person.merged_ids.insert(other.clone());
    }
    tx.execute(
        "INSERT INTO identities (other_id, person_id) VALUES (?1, ?2)",
        params![other.as_str(), person.id.as_str()],
    )
    .map_err(unavailable)?;
    Ok(())
}

fn read_person(tx: &rusqlite::Transaction<'_>, id: &PersonId) -> Result<Option<Person>, PortError> {
    let body: Option<String> = tx
        .query_row("SELECT body FROM people WHERE person_id = ?1", params![id.as_str()], |row| {
            row.get(0)
        })
        .optional()
        .map_err(unavailable)?;
    body.map(|body| from_json("profile", &body)).transpose()
}

impl ProfileReader for EmbeddedStore {
    async fn person(&self, id: &PersonId) -> Result<Option<Person>, PortError> {
        self.transaction(|tx| read_person(tx, id))
    }
}

impl ChangeFeed for EmbeddedStore {
    async fn poll(&self, max: usize) -> Result<Vec<Change>, PortError> {
        self.transaction(|tx| {
            let after: i64 = tx
                .query_row("SELECT seq FROM feed_cursor WHERE consumer = ?1", params![FEED_CONSUMER], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(unavailable)?
                .unwrap_or(0);
            // Changes whose event was erased (or expired) since are passed over.
            let mut statement = tx
                .prepare(
                    "SELECT c.seq, e.body, k.body FROM changes c
                     LEFT JOIN events e ON e.message_id = c.message_id
                     LEFT JOIN catalog k ON k.collection = c.collection AND k.item_id = c.item_id
                     WHERE c.seq > ?1 AND (e.body IS NOT NULL OR k.body IS NOT NULL) ORDER BY c.seq LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = statement
                .query_map(params![after, max as i64], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                })
                .map_err(unavailable)?;
            rows.map(|row| {
                let (seq, event, content) = row.map_err(unavailable)?;
                let change = match (event, content) {
                    (Some(event), _) => Changed::Event(from_json("event", &event)?),
                    (None, Some(content)) => Changed::ContentAdded(from_json("catalog item", &content)?),
                    (None, None) => unreachable!("filtered out by the query"),
                };
                Ok(Change {
                    position: seq.to_string(),
                    change,
                })
            })
            .collect()
        })
    }

    async fn commit(&self, position: &str) -> Result<(), PortError> {
        let seq: i64 = position.parse().map_err(|_| PortError::corrupt("change feed position", position))?;
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO feed_cursor (consumer, seq) VALUES (?1, ?2) ON CONFLICT (consumer) DO UPDATE SET seq = max(seq, excluded.seq)",
                params![FEED_CONSUMER, seq],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }
}

impl JobQueue for EmbeddedStore {
    async fn enqueue(&self, jobs: &[MessageJob]) -> Result<(), PortError> {
        let now = millis(self.clock.now());
        self.transaction(|tx| {
            for job in jobs {
                tx.execute("INSERT INTO jobs (body, visible_at) VALUES (?1, ?2)", params![job.to_json(), now])
                    .map_err(unavailable)?;
            }
            Ok(())
        })
    }
}

impl JobSource for EmbeddedStore {
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<QueuedMessage>, PortError> {
        let now = millis(self.clock.now());
        let hidden_until = now + visibility.num_milliseconds();
        let max_receives = self.max_receives;
        self.transaction(|tx| {
            // Jobs received too often without success go to the dead-letter table first.
            tx.execute(
                "INSERT INTO dead_jobs (seq, body, receive_count, died_at) SELECT seq, body, receive_count, ?1 FROM jobs WHERE visible_at <= ?1 AND receive_count >= ?2",
                params![now, max_receives],
            )
            .map_err(unavailable)?;
            tx.execute("DELETE FROM jobs WHERE visible_at <= ?1 AND receive_count >= ?2", params![now, max_receives]).map_err(unavailable)?;
            let mut statement = tx.prepare("SELECT seq, body, receive_count FROM jobs WHERE visible_at <= ?1 ORDER BY seq LIMIT ?2").map_err(unavailable)?;
            let rows = statement
                .query_map(params![now, max as i64], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, u32>(2)?)))
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            let mut messages = Vec::with_capacity(rows.len());
            for (seq, body, count) in rows {
                let receipt = format!("{seq}:{}", uuid::Uuid::new_v4());
                tx.execute(
                    "UPDATE jobs SET visible_at = ?1, receive_count = receive_count + 1, receipt = ?2 WHERE seq = ?3",
                    params![hidden_until, receipt, seq],
                )
                .map_err(unavailable)?;
                messages.push(QueuedMessage { receipt, message_id: seq.to_string(), body, receive_count: count + 1 });
            }
            Ok(messages)
        })
    }

    async fn acknowledge(&self, receipt: &str) -> Result<(), PortError> {
        // Only the latest receipt deletes: a slow consumer whose message was redelivered
        // cannot acknowledge someone else's delivery.
        self.transaction(|tx| {
            tx.execute("DELETE FROM jobs WHERE receipt = ?1", params![receipt])
                .map_err(unavailable)?;
            Ok(())
        })
    }
}

impl SendLedger for EmbeddedStore {
    async fn claim(&self, job: &MessageJob, now: DateTime<Utc>, lease: Duration) -> Result<Claim, PortError> {
        let record = SendRecord {
            dedup_key: job.dedup_key.clone(),
            person_id: job.person_id.clone(),
            campaign_id: job.campaign_id.clone(),
            state: SendState::Claimed { at: now },
        };
        self.transaction(|tx| {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT body FROM sends WHERE dedup_key = ?1",
                    params![job.dedup_key.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            if let Some(body) = existing {
                let current: SendRecord = from_json("send ledger", &body)?;
                match current.state {
                    SendState::Claimed { at } if at + lease > now => return Ok(Claim::HeldElsewhere),
                    SendState::Claimed { .. } => {}
                    settled => return Ok(Claim::Settled(settled)),
                }
            }
            tx.execute(
                "INSERT INTO sends (dedup_key, person_id, state, claimed_at, body) VALUES (?1, ?2, 'claimed', ?3, ?4)
                 ON CONFLICT (dedup_key) DO UPDATE SET claimed_at = excluded.claimed_at, body = excluded.body",
                params![job.dedup_key.as_str(), job.person_id.as_str(), millis(now), to_json(&record)],
            )
            .map_err(unavailable)?;
            Ok(Claim::Acquired)
        })
    }

    async fn settle(&self, record: &SendRecord) -> Result<(), PortError> {
        self.transaction(|tx| {
            tx.execute(
                "UPDATE sends SET state = ?2, body = ?3 WHERE dedup_key = ?1",
                params![record.dedup_key.as_str(), record.state.label(), to_json(record)],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn release(&self, job: &MessageJob) -> Result<(), PortError> {
        self.transaction(|tx| {
            tx.execute(
                "DELETE FROM sends WHERE dedup_key = ?1 AND state = 'claimed'",
                params![job.dedup_key.as_str()],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn sends_to(&self, person: &PersonId) -> Result<Vec<SendRecord>, PortError> {
        self.transaction(|tx| {
            let mut statement = tx
                .prepare("SELECT body FROM sends WHERE person_id = ?1 ORDER BY claimed_at")
                .map_err(unavailable)?;
            let bodies = statement
                .query_map(params![person.as_str()], |row| row.get::<_, String>(0))
                .map_err(unavailable)?;
            bodies.map(|body| from_json("send ledger", &body.map_err(unavailable)?)).collect()
        })
    }
}

impl TimerStore for EmbeddedStore {
    async fn schedule(&self, timer: &Timer) -> Result<(), PortError> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO timers (dedup_key, due, body) VALUES (?1, ?2, ?3)",
                params![timer.job.dedup_key.as_str(), millis(timer.due), to_json(timer)],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn due(&self, now: DateTime<Utc>, max: usize) -> Result<Vec<Timer>, PortError> {
        self.transaction(|tx| {
            let mut statement = tx
                .prepare("SELECT body FROM timers WHERE due <= ?1 ORDER BY due, dedup_key LIMIT ?2")
                .map_err(unavailable)?;
            let bodies = statement
                .query_map(params![millis(now), max as i64], |row| row.get::<_, String>(0))
                .map_err(unavailable)?;
            bodies.map(|body| from_json("timer", &body.map_err(unavailable)?)).collect()
        })
    }

    async fn remove(&self, timer: &Timer) -> Result<(), PortError> {
        self.transaction(|tx| {
            tx.execute("DELETE FROM timers WHERE dedup_key = ?1", params![timer.job.dedup_key.as_str()])
                .map_err(unavailable)?;
            Ok(())
        })
    }
}

impl SourceDirectory for EmbeddedStore {
    async fn source_for_key(&self, key: &SecretHash) -> Result<Option<Source>, PortError> {
        self.transaction(|tx| {
            let body: Option<String> = tx
                .query_row("SELECT body FROM sources WHERE key_hash = ?1", params![key.as_str()], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(unavailable)?;
            body.map(|body| from_json("source", &body)).transpose()
        })
    }

    async fn add_source(&self, source: &Source, key: &SecretHash) -> Result<(), PortError> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO sources (key_hash, body) VALUES (?1, ?2) ON CONFLICT (key_hash) DO UPDATE SET body = excluded.body",
                params![key.as_str(), to_json(source)],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }
}

/// The person and every id merged into them, as stored strings.
fn ids_of(person: &Person) -> Vec<String> {
    std::iter::once(&person.id)
        .chain(&person.merged_ids)
        .map(|id| id.to_string())
        .collect()
}

impl PersonHistory for EmbeddedStore {
    async fn events_of(&self, person: &PersonId, limit: usize) -> Result<Vec<Event>, PortError> {
        self.transaction(|tx| {
            let ids = match read_person(tx, person)? {
                Some(found) => ids_of(&found),
                None => vec![person.to_string()],
            };
            let mut events = Vec::new();
            let mut statement = tx
                .prepare("SELECT body FROM events WHERE person_id = ?1 ORDER BY timestamp DESC LIMIT ?2")
                .map_err(unavailable)?;
            for id in ids {
                let bodies = statement
                    .query_map(params![id, limit as i64], |row| row.get::<_, String>(0))
                    .map_err(unavailable)?;
                for body in bodies {
                    events.push(from_json::<Event>("event", &body.map_err(unavailable)?)?);
                }
            }
            events.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
            events.truncate(limit);
            Ok(events)
        })
    }
}

impl Eraser for EmbeddedStore {
    async fn erase(&self, person: &PersonId) -> Result<Erased, PortError> {
        let now = millis(self.clock.now());
        self.transaction(|tx| {
            let Some(found) = read_person(tx, person)? else {
                return Ok(Erased::default());
            };
            let mut erased = Erased {
                profile: true,
                ..Erased::default()
            };
            if let Some(Ok(address)) = found.email() {
                tx.execute(
                    "INSERT OR IGNORE INTO suppressions (address_hash, reason, at) VALUES (?1, 'erased', ?2)",
                    params![address.suppression_hash(), now],
                )
                .map_err(unavailable)?;
                erased.suppressed = true;
            }
            for id in ids_of(&found) {
                erased.events += tx
                    .execute("DELETE FROM events WHERE person_id = ?1", params![id])
                    .map_err(unavailable)?;
                erased.sends += tx
                    .execute("DELETE FROM sends WHERE person_id = ?1", params![id])
                    .map_err(unavailable)?;
                erased.timers += tx
                    .execute("DELETE FROM timers WHERE json_extract(body, '$.job.person_id') = ?1", params![id])
                    .map_err(unavailable)?;
                tx.execute("DELETE FROM preferences WHERE person_id = ?1", params![id])
                    .map_err(unavailable)?;
                tx.execute("DELETE FROM archive WHERE person_id = ?1", params![id])
                    .map_err(unavailable)?;
                tx.execute("DELETE FROM entries WHERE person_id = ?1", params![id])
                    .map_err(unavailable)?;
                tx.execute("DELETE FROM deferrals WHERE person_id = ?1", params![id])
                    .map_err(unavailable)?;
            }
            tx.execute("DELETE FROM identities WHERE person_id = ?1", params![person.as_str()])
                .map_err(unavailable)?;
            tx.execute("DELETE FROM people WHERE person_id = ?1", params![person.as_str()])
                .map_err(unavailable)?;
            // Queued jobs for them find no profile and are skipped; their change-feed rows
            // no longer join an event.
            Ok(erased)
        })
    }
}

impl SuppressionList for EmbeddedStore {
    async fn is_suppressed(&self, address: &EmailAddress) -> Result<bool, PortError> {
        self.transaction(|tx| {
            let found: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM suppressions WHERE address_hash = ?1",
                    params![address.suppression_hash()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            Ok(found.is_some())
        })
    }
}

impl Catalog for EmbeddedStore {
    async fn upsert(&self, item: &CatalogItem) -> Result<Upserted, PortError> {
        self.transaction(|tx| {
            let existed = tx
                .query_row(
                    "SELECT 1 FROM catalog WHERE collection = ?1 AND item_id = ?2",
                    params![item.collection.as_str(), item.id.as_str()],
                    |row| row.get::<_, i64>(0),
                )
                .optional()
                .map_err(unavailable)?
                .is_some();
            tx.execute(
                "INSERT INTO catalog (collection, item_id, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (collection, item_id) DO UPDATE SET body = excluded.body",
                params![item.collection.as_str(), item.id.as_str(), to_json(item)],
            )
            .map_err(unavailable)?;
            if existed {
                return Ok(Upserted::Updated);
            }
            tx.execute(
                "INSERT INTO changes (collection, item_id) VALUES (?1, ?2)",
                params![item.collection.as_str(), item.id.as_str()],
            )
            .map_err(unavailable)?;
            Ok(Upserted::Added)
        })
    }

    async fn item(&self, collection: &Collection, id: &ItemId) -> Result<Option<CatalogItem>, PortError> {
        self.transaction(|tx| {
            let body: Option<String> = tx
                .query_row(
                    "SELECT body FROM catalog WHERE collection = ?1 AND item_id = ?2",
                    params![collection.as_str(), id.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            body.map(|body| from_json("catalog item", &body)).transpose()
        })
    }
}

impl AccountReader for EmbeddedStore {
    async fn account(&self, id: &GroupId) -> Result<Option<Account>, PortError> {
        self.transaction(|tx| {
            let body: Option<String> = tx
                .query_row("SELECT body FROM accounts WHERE group_id = ?1", params![id.as_str()], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(unavailable)?;
            body.map(|body| from_json("account", &body)).transpose()
        })
    }
}

impl DocumentStore for EmbeddedStore {
    async fn save_document(
        &self,
        kind: DocumentKind,
        name: &str,
        body: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<SavedVersion, PortError> {
        self.transaction(|tx| {
            let current = current_document(tx, kind, name)?;
            let Some(next) = VersionedDocument::next(current.as_ref(), name, body, at) else {
                let version = current.map_or(0, |c| c.version);
                return Ok(SavedVersion { version, changed: false });
            };
            tx.execute(
                "INSERT INTO documents (kind, name, version, body) VALUES (?1, ?2, ?3, ?4)",
                params![kind.as_str(), name, next.version, to_json(&next)],
            )
            .map_err(unavailable)?;
            Ok(SavedVersion {
                version: next.version,
                changed: true,
            })
        })
    }

    async fn current_document(&self, kind: DocumentKind, name: &str) -> Result<Option<VersionedDocument>, PortError> {
        self.transaction(|tx| current_document(tx, kind, name))
    }

    async fn current_documents(&self, kind: DocumentKind) -> Result<Vec<VersionedDocument>, PortError> {
        self.transaction(|tx| {
            let mut statement = tx
                .prepare(
                    "SELECT body FROM documents d WHERE kind = ?1
                     AND version = (SELECT MAX(version) FROM documents WHERE kind = d.kind AND name = d.name) ORDER BY name",
                )
                .map_err(unavailable)?;
            let bodies = statement
                .query_map(params![kind.as_str()], |row| row.get::<_, String>(0))
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            bodies.iter().map(|body| from_json("document", body)).collect()
        })
    }
}

fn current_document(tx: &rusqlite::Transaction<'_>, kind: DocumentKind, name: &str) -> Result<Option<VersionedDocument>, PortError> {
    let body: Option<String> = tx
        .query_row(
            "SELECT body FROM documents WHERE kind = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1",
            params![kind.as_str(), name],
            |row| row.get(0),
        )
        .optional()
        .map_err(unavailable)?;
    body.map(|body| from_json("document", &body)).transpose()
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// People per page of `PeopleDirectory::people`.
const PEOPLE_PAGE: i64 = 500;

impl DeferralLog for EmbeddedStore {
    async fn record_deferral(&self, deferral: &Deferral) -> Result<(), PortError> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO deferrals (dedup_key, person_id, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (dedup_key) DO UPDATE SET body = excluded.body",
                params![deferral.dedup_key.as_str(), deferral.person_id.as_str(), to_json(deferral)],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn deferrals_of(&self, person: &PersonId) -> Result<Vec<Deferral>, PortError> {
        self.transaction(|tx| {
            let mut statement = tx.prepare("SELECT body FROM deferrals WHERE person_id = ?1").map_err(unavailable)?;
            let bodies = statement
                .query_map(params![person.as_str()], |row| row.get::<_, String>(0))
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            bodies.iter().map(|body| from_json("deferral", body)).collect()
        })
    }
}

impl PeopleDirectory for EmbeddedStore {
    async fn people(&self, cursor: Option<&str>) -> Result<PeoplePage, PortError> {
        self.transaction(|tx| {
            let mut statement = tx
                .prepare("SELECT person_id, body FROM people WHERE person_id > ?1 ORDER BY person_id LIMIT ?2")
                .map_err(unavailable)?;
            let rows = statement
                .query_map(params![cursor.unwrap_or(""), PEOPLE_PAGE], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            let next = (rows.len() as i64 == PEOPLE_PAGE)
                .then(|| rows.last().map(|(id, _)| id.clone()))
                .flatten();
            let people = rows
                .iter()
                .map(|(_, body)| from_json("person", body))
                .collect::<Result<Vec<Person>, _>>()?;
            Ok((people, next))
        })
    }
}

impl CampaignStatistics for EmbeddedStore {
    async fn campaign_stats(&self, campaign: &CampaignId) -> Result<CampaignStats, PortError> {
        self.transaction(|tx| {
            let mut stats = CampaignStats {
                entered: tx
                    .query_row(
                        "SELECT COALESCE(SUM(times), 0) FROM entries WHERE campaign = ?1",
                        params![campaign.as_str()],
                        |row| row.get::<_, i64>(0),
                    )
                    .map_err(unavailable)? as u64,
                ..CampaignStats::default()
            };
            let mut statement = tx
                .prepare(
                    "SELECT state, json_extract(body, '$.reason'), COUNT(*) FROM sends
                     WHERE json_extract(body, '$.campaign_id') = ?1 GROUP BY 1, 2",
                )
                .map_err(unavailable)?;
            let rows = statement
                .query_map(params![campaign.as_str()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?, row.get::<_, i64>(2)?))
                })
                .map_err(unavailable)?;
            for row in rows {
                let (state, reason, count) = row.map_err(unavailable)?;
                match state.as_str() {
                    "sent" => stats.sent += count as u64,
                    "failed" => stats.failed += count as u64,
                    "skipped" => *stats.skipped.entry(reason.unwrap_or_default()).or_default() += count as u64,
                    _ => {}
                }
            }
            Ok(stats)
        })
    }
}

impl JourneyLog for EmbeddedStore {
    async fn enter(&self, entry: &Entry, gap: Option<Duration>) -> Result<Entered, PortError> {
        self.transaction(|tx| {
            let found: Option<(String, String)> = tx
                .query_row(
                    "SELECT instance, entered_at FROM entries WHERE person_id = ?1 AND campaign = ?2 AND scope = ?3",
                    params![entry.person.as_str(), entry.campaign.as_str(), entry.scope],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(unavailable)?;
            let Some((instance, entered_at)) = found else {
                tx.execute(
                    "INSERT INTO entries (person_id, campaign, scope, instance, entered_at, times) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                    params![entry.person.as_str(), entry.campaign.as_str(), entry.scope, entry.instance, time_text(entry.at)],
                )
                .map_err(unavailable)?;
                return Ok(Entered::New);
            };
            if instance == entry.instance {
                return Ok(Entered::Again);
            }
            let since = DateTime::parse_from_rfc3339(&entered_at)
                .map_err(|e| PortError::corrupt("journey entry", e))?
                .with_timezone(&Utc);
            if gap.is_some_and(|gap| since + gap <= entry.at) {
                tx.execute(
                    "UPDATE entries SET instance = ?4, entered_at = ?5, times = times + 1 WHERE person_id = ?1 AND campaign = ?2 AND scope = ?3",
                    params![entry.person.as_str(), entry.campaign.as_str(), entry.scope, entry.instance, time_text(entry.at)],
                )
                .map_err(unavailable)?;
                return Ok(Entered::New);
            }
            Ok(Entered::Blocked { since })
        })
    }
}

impl MessageArchive for EmbeddedStore {
    async fn archive(&self, person: &PersonId, key: &DedupKey, html: &str, expires: DateTime<Utc>) -> Result<(), PortError> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO archive (dedup_key, person_id, html, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (dedup_key) DO UPDATE SET html = excluded.html, expires_at = excluded.expires_at",
                params![key.as_str(), person.as_str(), html, time_text(expires)],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn archived(&self, person: &PersonId, key: &DedupKey, now: DateTime<Utc>) -> Result<Option<String>, PortError> {
        self.transaction(|tx| {
            tx.query_row(
                "SELECT html FROM archive WHERE dedup_key = ?1 AND person_id = ?2 AND expires_at >= ?3",
                params![key.as_str(), person.as_str(), time_text(now)],
                |row| row.get(0),
            )
            .optional()
            .map_err(unavailable)
        })
    }
}

impl PreferenceStore for EmbeddedStore {
    async fn preferences(&self, person: &PersonId) -> Result<Preferences, PortError> {
        self.transaction(|tx| {
            let body: Option<String> = tx
                .query_row(
                    "SELECT body FROM preferences WHERE person_id = ?1",
                    params![person.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            Ok(body.map(|body| from_json("preferences", &body)).transpose()?.unwrap_or_default())
        })
    }

    async fn save_preferences(&self, person: &PersonId, preferences: &Preferences) -> Result<(), PortError> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO preferences (person_id, body) VALUES (?1, ?2)
                 ON CONFLICT (person_id) DO UPDATE SET body = excluded.body",
                params![person.as_str(), to_json(preferences)],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageId;
    use crate::VirtualClock;
    use chrono::TimeZone;

    #[tokio::test]
    async fn the_retention_sweep_removes_old_raw_events_and_keeps_profiles() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let store = EmbeddedStore::in_memory(Arc::new(VirtualClock::starting_at(now))).unwrap();
        let person = PersonId::parse("u1").unwrap();
        for (id, days_ago) in [("old", 400), ("recent", 10)] {
            let event = Event::new(
                EventKind::Track,
                MessageId::parse(id).unwrap(),
                person.clone(),
                now - Duration::days(days_ago),
            );
            store.record(&event).await.unwrap();
        }
        assert_eq!(store.expire_events(now - Duration::days(365)).unwrap(), 1);
        let left: Vec<_> = store
            .events_of(&person, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message_id.to_string())
            .collect();
        assert_eq!(left, ["recent"]);
        assert_eq!(
            store.person(&person).await.unwrap().unwrap().behavior.recent.len(),
            2,
            "the profile keeps what it computed"
        );
    }
}
