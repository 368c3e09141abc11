//! The whole pipeline on the AWS adapters against the local emulator, through the real
//! handler functions: API Gateway request → ingest → DynamoDB → stream records → evaluator
//! → SQS → sender → SES, and the scheduler for the delayed campaign. The stream records and
//! queue messages are read from the emulator and handed to the handlers exactly as Lambda
//! would, then handed over again, as Lambda may.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::dynamodb::{Event as StreamBatch, EventRecord};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{Duration, TimeZone, Utc};
use nudge_fn_admin::{AdminAuth, AdminDeps};
use nudge_fn_evaluator::EvaluatorDeps;
use nudge_fn_ingest::IngestDeps;
use nudge_fn_preferences::PreferencesDeps;
use nudge_fn_scheduler::SchedulerDeps;
use nudge_fn_sender::SenderDeps;
use nudge_shared::adapters::aws::{self, DynamoStore, DynamoStreamFeed, SesMailer, SqsQueue};
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::domain::{builtin_campaigns, Channel, EmailAddress, PersonId, Secret, SendState, SkipReason, Source, SourceId, Topic};
use nudge_shared::evaluate::Evaluator;
use nudge_shared::mime::SenderIdentity;
use nudge_shared::ports::{JobSource, QueuedMessage, SendLedger, SourceDirectory};
use nudge_shared::templates::TemplateLibrary;
use nudge_shared::unsubscribe::{UnsubscribeLinks, UnsubscribeSecret, UnsubscribeToken};
use nudge_shared::VirtualClock;

struct Stack {
    dynamodb: aws_sdk_dynamodb::Client,
    store: DynamoStore,
    feed: DynamoStreamFeed,
    queue: SqsQueue,
    mailer: SesMailer,
    clock: VirtualClock,
}

impl Stack {
    async fn deploy() -> Self {
        let config = aws::sdk_config_for_endpoint(&nudge_tests::endpoint()).await;
        let table = nudge_tests::unique_name("nudge");
        let stream_arn = aws::create_table(&aws_sdk_dynamodb_client(&config), &table).await.expect("table");
        let queues = aws::create_queue_with_dead_letter_queue(&aws_sdk_sqs_client(&config), &nudge_tests::unique_name("nudge-jobs"), 5)
            .await
            .expect("queues");
        aws::create_sender_identity(&aws_sdk_sesv2_client(&config), "hello@acme.test")
            .await
            .expect("identity");
        let dynamodb = aws_sdk_dynamodb_client(&config);
        let store = DynamoStore::from_config(&config, table).with_event_retention(Duration::days(30));
        // The source whose write key the ingest fixtures carry.
        let website = Source {
            id: SourceId::parse("website").unwrap(),
            name: "Website".into(),
            channel: Channel::parse("web").unwrap(),
            created_at: Utc::now(),
        };
        store
            .add_source(&website, &Secret::new("wk_fixture_website").hash())
            .await
            .expect("source");
        Self {
            dynamodb,
            store,
            feed: DynamoStreamFeed::from_config(&config, stream_arn),
            queue: SqsQueue::from_config(&config, queues.queue),
            mailer: SesMailer::from_config(&config, None),
            clock: VirtualClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 1).unwrap()),
        }
    }

    async fn post(&self, fixture: &[u8], body: serde_json::Value) -> i64 {
        let mut request: ApiGatewayV2httpRequest = serde_json::from_slice(fixture).unwrap();
        request.body = Some(body.to_string());
        let deps = IngestDeps {
            log: self.store.clone(),
            sources: self.store.clone(),
            clock: self.clock.clone(),
        };
        nudge_fn_ingest::handle(&deps, request).await.status_code
    }

    /// One item as DynamoDB holds it.
    async fn raw_item(&self, pk: &str, sk: &str) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        let key = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_string());
        let output = self
            .dynamodb
            .get_item()
            .table_name(self.store.table())
            .key("pk", key(pk))
            .key("sk", key(sk))
            .send()
            .await
            .unwrap();
        output.item.unwrap_or_else(|| panic!("no item {pk} / {sk}"))
    }

    /// Everything on the stream so far, as Lambda would batch it.
    async fn stream_batch(&self) -> StreamBatch {
        let mut records: Vec<EventRecord> = Vec::new();
        for _ in 0..10 {
            let batch = self.feed.read_batch(100).await.unwrap();
            if batch.is_empty() && !records.is_empty() {
                break;
            }
            records.extend(batch);
        }
        let mut event = StreamBatch::default();
        event.records = records;
        event
    }

    async fn evaluate(&self, batch: StreamBatch) -> usize {
        let deps = EvaluatorDeps {
            evaluator: Evaluator {
                campaigns: CampaignLibrary::fixed(builtin_campaigns()),
                people: self.store.clone(),
                journeys: self.store.clone(),
                queue: self.queue.clone(),
                timers: self.store.clone(),
            },
            clock: self.clock.clone(),
        };
        nudge_fn_evaluator::handle(&deps, batch).await.batch_item_failures.len()
    }

    async fn receive_jobs(&self) -> Vec<QueuedMessage> {
        let mut messages = Vec::new();
        for _ in 0..5 {
            let got = self.queue.receive(10, Duration::seconds(30)).await.unwrap();
            if got.is_empty() && !messages.is_empty() {
                break;
            }
            messages.extend(got);
        }
        messages
    }

    /// Hands `messages` to the sender as one SQS batch; deletes the ones it succeeded with,
    /// as Lambda's SQS integration does.
    async fn send(&self, messages: &[QueuedMessage]) -> usize {
        let mut batch = SqsEvent::default();
        for message in messages {
            let mut record = SqsMessage::default();
            record.message_id = Some(message.message_id.clone());
            record.receipt_handle = Some(message.receipt.clone());
            record.body = Some(message.body.clone());
            batch.records.push(record);
        }
        let deps = SenderDeps {
            campaigns: CampaignLibrary::fixed(builtin_campaigns()),
            profiles: self.store.clone(),
            ledger: self.store.clone(),
            templates: TemplateLibrary::new(self.store.clone()),
            mailer: self.mailer.clone(),
            clock: self.clock.clone(),
            identity: SenderIdentity {
                address: EmailAddress::parse("hello@acme.test").unwrap(),
                name: "Acme".into(),
            },
            postal_address: "1 Main St".into(),
            unsubscribe: UnsubscribeLinks {
                base_url: "https://api.acme.test".into(),
                secret: secret(),
                mailto: None,
            },
            guardrails: nudge_shared::guardrails::Guardrails::default(),
            claim_lease: Duration::minutes(10),
        };
        let response = nudge_fn_sender::handle(&deps, batch).await;
        for message in messages {
            if !response.batch_item_failures.iter().any(|f| f.item_identifier == message.message_id) {
                let _ = self.queue.acknowledge(&message.receipt).await;
            }
        }
        response.batch_item_failures.len()
    }

    /// Calls the admin function with one of its fixtures, for `person`.
    async fn admin(&self, fixture: &[u8], person: &str) -> (i64, serde_json::Value) {
        let mut request: ApiGatewayV2httpRequest = serde_json::from_slice(fixture).unwrap();
        request.raw_path = Some(format!("/v1/admin/people/{person}"));
        self.admin_request(request).await
    }

    async fn admin_request(&self, request: ApiGatewayV2httpRequest) -> (i64, serde_json::Value) {
        let deps = AdminDeps {
            sources: self.store.clone(),
            people: self.store.clone(),
            templates: TemplateLibrary::new(self.store.clone()),
            campaigns: CampaignLibrary::new(self.store.clone()),
            clock: self.clock.clone(),
            auth: AdminAuth::Key(Secret::new("ak_fixture_admin").hash()),
            company: "Acme".into(),
            postal_address: "1 Main St".into(),
        };
        let response = nudge_fn_admin::handle(&deps, request).await;
        let body = match response.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => serde_json::from_str(&text).unwrap(),
            _ => serde_json::Value::Null,
        };
        (response.status_code, body)
    }

    /// A click on an unsubscribe link (RFC 8058 one-click POST) for `person` and `topic`.
    async fn one_click_unsubscribe(&self, person: &str, topic: &str) -> i64 {
        let token = UnsubscribeToken {
            person: PersonId::parse(person).unwrap(),
            topic: Some(Topic::parse(topic).unwrap()),
        }
        .sign(&secret());
        let mut request: ApiGatewayV2httpRequest =
            serde_json::from_slice(include_bytes!("../../functions/preferences/fixtures/post-one-click.json")).unwrap();
        request.raw_path = Some(format!("/u/{token}"));
        let deps = PreferencesDeps {
            store: self.store.clone(),
            secret: secret(),
            campaigns: CampaignLibrary::fixed(builtin_campaigns()),
            company: "Acme".into(),
            clock: self.clock.clone(),
        };
        nudge_fn_preferences::handle(&deps, request).await.status_code
    }

    async fn tick(&self) -> usize {
        let deps = SchedulerDeps {
            timers: self.store.clone(),
            queue: self.queue.clone(),
            clock: self.clock.clone(),
            batch_size: 100,
        };
        let event: EventBridgeEvent =
            serde_json::from_slice(include_bytes!("../../functions/scheduler/fixtures/scheduled-event.json")).unwrap();
        nudge_fn_scheduler::handle(&deps, event).await.unwrap().timers_fired
    }
}

fn secret() -> UnsubscribeSecret {
    UnsubscribeSecret::parse("e2e-secret-e2e-secret-e2e-secret-e2e").unwrap()
}

fn aws_sdk_dynamodb_client(config: &aws::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

fn aws_sdk_sqs_client(config: &aws::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

fn aws_sdk_sesv2_client(config: &aws::SdkConfig) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(config)
}

async fn emails_to(address: &str) -> Vec<String> {
    nudge_tests::ses_sent_emails()
        .await
        .into_iter()
        .filter(|e| e.destinations.iter().any(|d| d == address))
        .map(|e| e.raw)
        .collect()
}

#[tokio::test]
async fn signed_up_flows_from_the_api_to_ses_once_even_when_everything_is_delivered_twice() {
    let stack = Stack::deploy().await;
    let email = format!("{}@example.com", nudge_tests::unique_name("ada"));
    let identify = include_bytes!("../../functions/ingest/fixtures/identify.json");
    let track = include_bytes!("../../functions/ingest/fixtures/track-signed-up.json");

    // The API: identify, then signed_up, and a client retry of signed_up.
    let identify_body =
        serde_json::json!({"userId": "user-1", "messageId": "msg-identify-1", "traits": {"email": email, "first_name": "Ada"}});
    assert_eq!(stack.post(identify, identify_body).await, 200);
    let signed_up = serde_json::json!({"userId": "user-1", "event": "signed_up", "messageId": "msg-signup-1", "timestamp": "2026-03-02T09:00:00Z", "properties": {"plan": "pro"}});
    assert_eq!(stack.post(track, signed_up.clone()).await, 200);
    assert_eq!(stack.post(track, signed_up).await, 200);

    // The raw event expires 30 days after it happened (DynamoDB's TTL removes it).
    let stored = stack.raw_item("P#user-1", "E#2026-03-02T09:00:00.000Z#msg-signup-1").await;
    let expires_at = Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0).unwrap().timestamp().to_string();
    assert_eq!(
        stored.get("expires_at"),
        Some(&aws_sdk_dynamodb::types::AttributeValue::N(expires_at))
    );

    // The stream, to the evaluator, twice.
    let batch = stack.stream_batch().await;
    let event_inserts = batch
        .records
        .iter()
        .filter(|r| aws::item::change_from_stream_record(r).unwrap().is_some())
        .count();
    assert_eq!(
        event_inserts, 2,
        "identify and one signed_up reached the stream: the retry was deduplicated"
    );
    assert_eq!(stack.evaluate(batch.clone()).await, 0);
    assert_eq!(stack.evaluate(batch).await, 0);

    // The queue, to the sender, twice.
    let jobs = stack.receive_jobs().await;
    assert_eq!(jobs.len(), 2, "the redelivered batch enqueued the welcome job again");
    assert_eq!(stack.send(&jobs).await, 0);
    assert_eq!(stack.send(&jobs).await, 0);

    let delivered = emails_to(&email).await;
    assert_eq!(delivered.len(), 1, "one welcome email, however often it was asked for");
    assert!(delivered[0].contains("Subject: Welcome to Acme, Ada!"), "{}", delivered[0]);
    assert!(delivered[0].contains("X-Nudge-Campaign: welcome"));

    // A day later the scheduler fires the tips timer; the sender sends it.
    assert_eq!(stack.tick().await, 0, "nothing is due yet");
    stack.clock.advance(Duration::days(1));
    assert_eq!(stack.tick().await, 1);
    let jobs = stack.receive_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(stack.send(&jobs).await, 0);
    assert_eq!(stack.tick().await, 0, "a fired timer is gone");

    let delivered = emails_to(&email).await;
    assert_eq!(delivered.len(), 2);
    assert!(delivered.iter().any(|raw| raw.contains("X-Nudge-Campaign: getting-started")));

    let sends = stack.store.sends_to(&PersonId::parse("user-1").unwrap()).await.unwrap();
    assert_eq!(sends.len(), 2);
    assert!(sends.iter().all(|s| matches!(s.state, SendState::Sent { .. })), "{sends:?}");

    // An operator looks the person up, then erases them; their address stays suppressed.
    let (status, shown) = stack
        .admin(include_bytes!("../../functions/admin/fixtures/get-person.json"), "user-1")
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["messages"].as_array().unwrap().len(), 2);
    assert_eq!(shown["events"].as_array().unwrap().len(), 2);
    let (status, erased) = stack
        .admin(include_bytes!("../../functions/admin/fixtures/delete-person.json"), "user-1")
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["erased"]["suppressed"], true);
    let (status, _) = stack
        .admin(include_bytes!("../../functions/admin/fixtures/get-person.json"), "user-1")
        .await;
    assert_eq!(status, 404);

    // They sign up again with the same address: the welcome is skipped, not sent.
    let identify_again = serde_json::json!({"userId": "user-1", "messageId": "msg-identify-2", "traits": {"email": email}});
    assert_eq!(stack.post(identify, identify_again).await, 200);
    let signed_up_again = serde_json::json!({"userId": "user-1", "event": "signed_up", "messageId": "msg-signup-2"});
    assert_eq!(stack.post(track, signed_up_again).await, 200);
    assert_eq!(stack.evaluate(stack.stream_batch().await).await, 0);
    let jobs = stack.receive_jobs().await;
    assert_eq!(stack.send(&jobs).await, 0);
    assert_eq!(emails_to(&email).await.len(), 2, "nothing more was sent to the erased address");
    let sends = stack.store.sends_to(&PersonId::parse("user-1").unwrap()).await.unwrap();
    assert!(
        sends.iter().any(|s| matches!(
            s.state,
            SendState::Skipped {
                reason: SkipReason::Suppressed,
                ..
            }
        )),
        "{sends:?}"
    );
}

#[tokio::test]
async fn a_template_saved_through_the_admin_api_renders_and_a_one_click_unsubscribe_stops_marketing() {
    let stack = Stack::deploy().await;
    let email = format!("{}@example.com", nudge_tests::unique_name("grace"));

    // An operator saves a new welcome through the admin API: version 1 in DynamoDB.
    let mut put: ApiGatewayV2httpRequest =
        serde_json::from_slice(include_bytes!("../../functions/admin/fixtures/put-template.json")).unwrap();
    put.raw_path = Some("/v1/admin/templates/welcome".into());
    let source = "---\nsubject: \"{{ person.first_name | default: 'Hi' }}, welcome aboard {{ company }}\"\n---\n<mjml><mj-body><mj-section><mj-column><mj-text>Plan: {{ event.properties.plan | default: 'free' }}</mj-text></mj-column></mj-section></mj-body></mjml>\n";
    put.body = Some(serde_json::json!({"format": "mjml", "source": source}).to_string());
    let (status, saved) = stack.admin_request(put).await;
    assert_eq!((status, saved["version"].clone()), (201, serde_json::json!(1)), "{saved}");

    let identify = include_bytes!("../../functions/ingest/fixtures/identify.json");
    let track = include_bytes!("../../functions/ingest/fixtures/track-signed-up.json");
    let identify_body =
        serde_json::json!({"userId": "user-2", "messageId": "msg-identify-g", "traits": {"email": email, "first_name": "Grace"}});
    assert_eq!(stack.post(identify, identify_body).await, 200);
    let signed_up =
        serde_json::json!({"userId": "user-2", "event": "signed_up", "messageId": "msg-signup-g", "properties": {"plan": "team"}});
    assert_eq!(stack.post(track, signed_up).await, 200);
    assert_eq!(stack.evaluate(stack.stream_batch().await).await, 0);
    assert_eq!(stack.send(&stack.receive_jobs().await).await, 0);

    let delivered = emails_to(&email).await;
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].contains("Subject: Grace, welcome aboard Acme"), "{}", delivered[0]);
    let sends = stack.store.sends_to(&PersonId::parse("user-2").unwrap()).await.unwrap();
    assert!(
        matches!(&sends[0].state, SendState::Sent { template_version: 1, template: Some(t), .. } if t.as_str() == "welcome"),
        "{sends:?}"
    );

    // She clicks "unsubscribe" on product tips; the tips due a day later are skipped.
    assert_eq!(stack.one_click_unsubscribe("user-2", "product_tips").await, 200);
    stack.clock.advance(Duration::days(1));
    assert_eq!(stack.tick().await, 1);
    assert_eq!(stack.send(&stack.receive_jobs().await).await, 0);
    assert_eq!(emails_to(&email).await.len(), 1, "no tips after the unsubscribe");
    let sends = stack.store.sends_to(&PersonId::parse("user-2").unwrap()).await.unwrap();
    assert!(
        sends.iter().any(|s| matches!(&s.state, SendState::Skipped { reason: SkipReason::Unsubscribed { topic: Some(t) }, .. } if t.as_str() == "product_tips")),
        "{sends:?}"
    );
}
