//! The two adapter sets, each set up fresh for one test.

use nudge_shared::adapters::aws::{self, DynamoStore, DynamoStreamFeed, SesMailer, SqsQueue};
use nudge_shared::adapters::embedded::{EmbeddedStore, OutboxMailer};
use nudge_shared::domain::EmailAddress;
use nudge_shared::ports::{
    AccountReader, CampaignStatistics, Catalog, ChangeFeed, DeferralLog, DocumentStore, Eraser, EventLog, JobQueue, JobSource, JourneyLog,
    Mailer, MessageArchive, PeopleDirectory, PersonHistory, PreferenceStore, ProfileReader, SendLedger, SourceDirectory, SuppressionList,
    TimerStore,
};
use nudge_shared::VirtualClock;
use std::sync::Arc;

pub trait Backend {
    type Store: EventLog
        + ProfileReader
        + SendLedger
        + TimerStore
        + SourceDirectory
        + PersonHistory
        + Eraser
        + SuppressionList
        + AccountReader
        + Catalog
        + DocumentStore
        + PreferenceStore
        + MessageArchive
        + JourneyLog
        + CampaignStatistics
        + PeopleDirectory
        + DeferralLog
        + Clone
        + 'static;
    type Feed: ChangeFeed;
    type Queue: JobQueue + JobSource + Clone + 'static;
    type Mailer: Mailer + Clone + 'static;

    fn store(&self) -> &Self::Store;
    fn feed(&self) -> &Self::Feed;
    fn queue(&self) -> &Self::Queue;
    fn mailer(&self) -> &Self::Mailer;
    /// An address the backend accepts mail from.
    fn sender(&self) -> EmailAddress;
    /// An address no other test writes to.
    fn recipient(&self) -> EmailAddress;
    /// The raw messages the mailer delivered to `recipient`.
    async fn delivered(&self) -> Vec<String>;
}

pub struct Embedded {
    store: EmbeddedStore,
    mailer: OutboxMailer,
    _outbox: tempfile::TempDir,
}

impl Embedded {
    pub async fn new() -> Self {
        let clock = VirtualClock::starting_at(crate::fixtures::start());
        let outbox = tempfile::tempdir().unwrap();
        Self {
            store: EmbeddedStore::in_memory(Arc::new(clock)).unwrap(),
            mailer: OutboxMailer::new(outbox.path()).unwrap(),
            _outbox: outbox,
        }
    }
}

impl Backend for Embedded {
    type Store = EmbeddedStore;
    type Feed = EmbeddedStore;
    type Queue = EmbeddedStore;
    type Mailer = OutboxMailer;

    fn store(&self) -> &EmbeddedStore {
        &self.store
    }
    fn feed(&self) -> &EmbeddedStore {
        &self.store
    }
    fn queue(&self) -> &EmbeddedStore {
        &self.store
    }
    fn mailer(&self) -> &OutboxMailer {
        &self.mailer
    }
    fn sender(&self) -> EmailAddress {
        EmailAddress::parse("hello@acme.test").unwrap()
    }
    fn recipient(&self) -> EmailAddress {
        EmailAddress::parse("ada@example.com").unwrap()
    }
    async fn delivered(&self) -> Vec<String> {
        std::fs::read_dir(self.mailer.directory())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .map(|path| std::fs::read_to_string(path).unwrap())
            .collect()
    }
}

pub struct Aws {
    store: DynamoStore,
    feed: DynamoStreamFeed,
    queue: SqsQueue,
    mailer: SesMailer,
    recipient: EmailAddress,
}

impl Aws {
    pub async fn new() -> Self {
        let config = aws::sdk_config_for_endpoint(&nudge_tests::endpoint()).await;
        let table = nudge_tests::unique_name("contract");
        let stream_arn = aws::create_table(&aws_sdk_dynamodb::Client::new(&config), &table).await.unwrap();
        let queues = aws::create_queue_with_dead_letter_queue(&aws_sdk_sqs::Client::new(&config), &nudge_tests::unique_name("jobs"), 5)
            .await
            .unwrap();
        aws::create_sender_identity(&aws_sdk_sesv2::Client::new(&config), "hello@acme.test")
            .await
            .unwrap();
        Self {
            store: DynamoStore::from_config(&config, table),
            feed: DynamoStreamFeed::from_config(&config, stream_arn),
            queue: SqsQueue::from_config(&config, queues.queue),
            mailer: SesMailer::from_config(&config, None),
            recipient: EmailAddress::parse(&format!("{}@example.com", nudge_tests::unique_name("r"))).unwrap(),
        }
    }
}

impl Backend for Aws {
    type Store = DynamoStore;
    type Feed = DynamoStreamFeed;
    type Queue = SqsQueue;
    type Mailer = SesMailer;

    fn store(&self) -> &DynamoStore {
        &self.store
    }
    fn feed(&self) -> &DynamoStreamFeed {
        &self.feed
    }
    fn queue(&self) -> &SqsQueue {
        &self.queue
    }
    fn mailer(&self) -> &SesMailer {
        &self.mailer
    }
    fn sender(&self) -> EmailAddress {
        EmailAddress::parse("hello@acme.test").unwrap()
    }
    fn recipient(&self) -> EmailAddress {
        self.recipient.clone()
    }
    async fn delivered(&self) -> Vec<String> {
        nudge_tests::ses_sent_emails()
            .await
            .into_iter()
            .filter(|email| email.destinations.iter().any(|d| d == self.recipient.as_str()))
            .map(|email| email.raw)
            .collect()
    }
}
