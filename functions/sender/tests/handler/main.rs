//! The sender function driven by SQS event fixtures: one welcome job for `user-1`.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{Duration, TimeZone, Utc};
use nudge_fn_sender::{handle, SenderDeps};
use nudge_shared::adapters::embedded::{EmbeddedStore, OutboxMailer};
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::domain::{
    builtin_campaigns, EmailAddress, Event, EventKind, MessageId, PersonId, Preferences, SendState, SkipReason, TemplateName, Topic,
};
use nudge_shared::mime::SenderIdentity;
use nudge_shared::ports::{EventLog, MailError, Mailer, MessageArchive, OutgoingEmail, PreferenceStore, SendLedger, TemplateStore};
use nudge_shared::template::{BodyFormat, TemplateDocument};
use nudge_shared::templates::TemplateLibrary;
use nudge_shared::unsubscribe::{UnsubscribeLinks, UnsubscribeSecret, UnsubscribeToken, ViewToken};
use nudge_shared::{Clock, VirtualClock};
use std::sync::Arc;

fn welcome_job() -> SqsEvent {
    serde_json::from_slice(include_bytes!("../../fixtures/sqs-welcome-job.json")).expect("fixture parses as an SQS event")
}

fn tips_job() -> SqsEvent {
    serde_json::from_slice(include_bytes!("../../fixtures/sqs-tips-job.json")).expect("fixture parses as an SQS event")
}

fn secret() -> UnsubscribeSecret {
    UnsubscribeSecret::parse("sender-test-secret-sender-test-secret").unwrap()
}

fn clock() -> VirtualClock {
    VirtualClock::starting_at(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 5).unwrap())
}

struct World {
    store: EmbeddedStore,
    outbox: tempfile::TempDir,
}

impl World {
    async fn with_person(traits: serde_json::Value) -> Self {
        let store = EmbeddedStore::in_memory(Arc::new(clock())).unwrap();
        let mut identify = Event::new(
            EventKind::Identify,
            MessageId::parse("msg-identify-1").unwrap(),
            PersonId::parse("user-1").unwrap(),
            clock().now(),
        );
        identify.traits = traits.as_object().cloned().unwrap();
        store.record(&identify).await.unwrap();
        Self {
            store,
            outbox: tempfile::tempdir().unwrap(),
        }
    }

    fn deps<M: Mailer>(&self, mailer: M) -> SenderDeps<EmbeddedStore, EmbeddedStore, EmbeddedStore, M, VirtualClock> {
        SenderDeps {
            campaigns: CampaignLibrary::fixed(builtin_campaigns()),
            profiles: self.store.clone(),
            ledger: self.store.clone(),
            templates: TemplateLibrary::new(self.store.clone()),
            mailer,
            clock: clock(),
            identity: SenderIdentity {
                address: EmailAddress::parse("hello@acme.test").unwrap(),
                name: "Acme".into(),
            },
            postal_address: "1 Main St, Springfield".into(),
            unsubscribe: UnsubscribeLinks {
                base_url: "https://api.acme.test".into(),
                secret: secret(),
                mailto: Some(EmailAddress::parse("unsubscribe@acme.test").unwrap()),
            },
            guardrails: nudge_shared::guardrails::Guardrails::default(),
            claim_lease: Duration::minutes(10),
        }
    }

    fn outbox(&self) -> OutboxMailer {
        OutboxMailer::new(self.outbox.path()).unwrap()
    }

    fn sent_files(&self) -> Vec<String> {
        std::fs::read_dir(self.outbox.path())
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }

    async fn ledger_state(&self) -> SendState {
        let sends = self.store.sends_to(&PersonId::parse("user-1").unwrap()).await.unwrap();
        assert_eq!(sends.len(), 1);
        sends[0].state.clone()
    }
}

fn failures(response: &SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

#[tokio::test]
async fn a_welcome_job_becomes_one_email_and_a_sent_record() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com", "first_name": "Ada"})).await;
    let response = handle(&world.deps(world.outbox()), welcome_job()).await;
    assert!(failures(&response).is_empty());
    let files = world.sent_files();
    assert_eq!(files.len(), 1);
    assert!(files[0].contains("To: ada@example.com"), "{}", files[0]);
    assert!(files[0].contains("Subject: Welcome to Acme, Ada!"));
    assert!(files[0].contains("pro"), "the trigger's properties reach the template");
    assert!(matches!(world.ledger_state().await, SendState::Sent { ref subject, .. } if subject == "Welcome to Acme, Ada!"));
}

#[tokio::test]
async fn a_redelivered_job_sends_nothing_more() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com"})).await;
    let deps = world.deps(world.outbox());
    handle(&deps, welcome_job()).await;
    let again = handle(&deps, welcome_job()).await;
    assert!(failures(&again).is_empty(), "a settled job is acknowledged, not retried");
    assert_eq!(world.sent_files().len(), 1);
}

#[tokio::test]
async fn a_person_without_email_is_skipped_with_the_reason_recorded() {
    let world = World::with_person(serde_json::json!({"first_name": "Ada"})).await;
    let response = handle(&world.deps(world.outbox()), welcome_job()).await;
    assert!(failures(&response).is_empty());
    assert!(world.sent_files().is_empty());
    assert!(matches!(
        world.ledger_state().await,
        SendState::Skipped {
            reason: SkipReason::NoEmailAddress,
            ..
        }
    ));
}

#[tokio::test]
async fn a_malformed_message_is_reported_failed_and_the_rest_of_the_batch_goes_on() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com"})).await;
    let batch: SqsEvent = serde_json::from_slice(include_bytes!("../../fixtures/sqs-malformed-and-good.json")).unwrap();
    let response = handle(&world.deps(world.outbox()), batch).await;
    assert_eq!(
        failures(&response),
        ["2e1424d4-f796-459a-8184-9c92662be6da"],
        "kept for the dead-letter queue, not dropped"
    );
    assert_eq!(world.sent_files().len(), 1);
}

/// A provider that is throttling.
struct ThrottledMailer;

impl Mailer for ThrottledMailer {
    async fn send(&self, _email: &OutgoingEmail) -> Result<String, MailError> {
        Err(MailError::Transient("Throttling: Maximum sending rate exceeded".into()))
    }
}

#[tokio::test]
async fn a_throttled_send_is_retried_and_succeeds_later() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com"})).await;
    let response = handle(&world.deps(ThrottledMailer), welcome_job()).await;
    assert_eq!(failures(&response), ["059f36b4-87a3-44ab-83d2-661975830a7d"]);
    assert!(
        world.store.sends_to(&PersonId::parse("user-1").unwrap()).await.unwrap().is_empty(),
        "the claim was given back"
    );
    let retry = handle(&world.deps(world.outbox()), welcome_job()).await;
    assert!(failures(&retry).is_empty());
    assert_eq!(world.sent_files().len(), 1);
}

#[tokio::test]
async fn a_job_for_an_erased_person_is_acknowledged_and_leaves_no_record() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com"})).await;
    nudge_shared::ports::Eraser::erase(&world.store, &PersonId::parse("user-1").unwrap())
        .await
        .unwrap();
    let response = handle(&world.deps(world.outbox()), welcome_job()).await;
    assert!(failures(&response).is_empty(), "nothing to retry");
    assert!(world.sent_files().is_empty());
    assert!(
        world.store.sends_to(&PersonId::parse("user-1").unwrap()).await.unwrap().is_empty(),
        "the erased id is not written back"
    );
}

fn user() -> PersonId {
    PersonId::parse("user-1").unwrap()
}

#[tokio::test]
async fn marketing_mail_carries_a_signed_one_click_unsubscribe_for_its_topic() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com", "first_name": "Ada"})).await;
    let response = handle(&world.deps(world.outbox()), tips_job()).await;
    assert!(failures(&response).is_empty());
    let files = world.sent_files();
    assert_eq!(files.len(), 1);
    // Long headers are folded onto continuation lines; unfold them to read.
    let raw = &files[0].replace("\r\n ", " ").replace("\r\n\t", " ");
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{raw}");
    let header = raw.lines().find(|l| l.starts_with("List-Unsubscribe: ")).expect("List-Unsubscribe");
    let url = header.split('<').nth(1).unwrap().trim_end_matches([',', ' ', '>']);
    assert!(header.contains("<mailto:unsubscribe@acme.test?subject=unsubscribe%20"), "{header}");
    let token = url.strip_prefix("https://api.acme.test/u/").expect("the public URL");
    assert_eq!(
        UnsubscribeToken::verify(token, &secret()).unwrap(),
        UnsubscribeToken {
            person: user(),
            topic: Some(Topic::parse("product_tips").unwrap())
        }
    );
    assert!(raw.contains("1 Main St, Springfield"), "the postal address footer");
}

#[tokio::test]
async fn every_message_is_archived_for_its_view_in_browser_link() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com", "first_name": "Ada"})).await;
    let document = TemplateDocument {
        name: TemplateName::parse("welcome").unwrap(),
        format: BodyFormat::Html,
        source: "---\nsubject: Hi\n---\n<p>Hello {{ person.first_name }}</p><a href=\"{{ view_in_browser_url }}\">view</a>\n".into(),
    };
    world.store.save_template(&document, clock().now()).await.unwrap();
    handle(&world.deps(world.outbox()), welcome_job()).await;
    let raw = world.sent_files()[0].replace("=\r\n", "").replace("=3D", "=");
    let url = raw.split("href=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let token = url.strip_prefix("https://api.acme.test/m/").expect("a view link on the public URL");
    let view = ViewToken::verify(token, &secret()).unwrap();
    let archived = world
        .store
        .archived(&view.person, &view.dedup_key, clock().now())
        .await
        .unwrap()
        .unwrap();
    assert!(archived.contains("<p>Hello Ada</p>"), "{archived}");
}

#[tokio::test]
async fn transactional_mail_has_no_unsubscribe_header_and_ignores_marketing_unsubscribes() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com"})).await;
    let mut everything_off = Preferences::default();
    everything_off.unsubscribe(None, clock().now());
    world.store.save_preferences(&user(), &everything_off).await.unwrap();
    handle(&world.deps(world.outbox()), welcome_job()).await;
    let files = world.sent_files();
    assert_eq!(files.len(), 1, "the welcome is transactional");
    assert!(!files[0].contains("List-Unsubscribe"));
}

#[tokio::test]
async fn marketing_mail_to_someone_who_unsubscribed_from_its_topic_is_skipped_with_the_reason() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com"})).await;
    let mut preferences = Preferences::default();
    preferences.unsubscribe(Some(&Topic::parse("product_tips").unwrap()), clock().now());
    world.store.save_preferences(&user(), &preferences).await.unwrap();
    handle(&world.deps(world.outbox()), tips_job()).await;
    assert!(world.sent_files().is_empty());
    assert_eq!(
        world.ledger_state().await,
        SendState::Skipped {
            at: clock().now(),
            reason: SkipReason::Unsubscribed {
                topic: Some(Topic::parse("product_tips").unwrap())
            }
        }
    );
}

#[tokio::test]
async fn a_stored_template_version_renders_and_is_recorded() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com", "first_name": "Ada"})).await;
    let document = TemplateDocument {
        name: TemplateName::parse("welcome").unwrap(),
        format: BodyFormat::Html,
        source: "---\nsubject: \"Hello {{ person.first_name }}, v2\"\nreply_to: help@acme.test\n---\n<p>Hi</p>\n".into(),
    };
    world.store.save_template(&document, clock().now()).await.unwrap();
    world.store.save_template(&document, clock().now()).await.unwrap();
    let changed = TemplateDocument {
        source: document.source.replace("v2", "v3"),
        ..document
    };
    world.store.save_template(&changed, clock().now()).await.unwrap();
    handle(&world.deps(world.outbox()), welcome_job()).await;
    assert!(world.sent_files()[0].contains("Reply-To: help@acme.test"));
    match world.ledger_state().await {
        SendState::Sent {
            subject,
            template,
            template_version,
            ..
        } => assert_eq!(
            (subject.as_str(), template.unwrap().as_str(), template_version),
            ("Hello Ada, v3", "welcome", 2)
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_template_that_needs_a_missing_value_fails_that_message_with_the_reason() {
    let world = World::with_person(serde_json::json!({"email": "ada@example.com"})).await;
    let document = TemplateDocument {
        name: TemplateName::parse("welcome").unwrap(),
        format: BodyFormat::Html,
        source: "---\nsubject: \"Hi {{ person.first_name }}\"\n---\n<p>Hi</p>\n".into(),
    };
    world.store.save_template(&document, clock().now()).await.unwrap();
    let response = handle(&world.deps(world.outbox()), welcome_job()).await;
    assert!(failures(&response).is_empty(), "a render failure is final, not retried");
    assert!(world.sent_files().is_empty(), "never \"Hi ,\"");
    match world.ledger_state().await {
        SendState::Failed { detail, .. } => assert!(
            detail.contains("template welcome v1") && detail.contains("`person.first_name` is undefined"),
            "{detail}"
        ),
        other => panic!("{other:?}"),
    }
}
