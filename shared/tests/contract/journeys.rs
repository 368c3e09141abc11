//! Journeys through the real evaluator, scheduler and sender on a virtual clock, with each
//! backend's store, queue and mailer: goals, object-keyed journeys, branches, audience,
//! re-entry, and redelivery everywhere.

use crate::backends::Backend;
use crate::fixtures::{identify, start, track};
use chrono::Duration;
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::deliver::Deliverer;
use nudge_shared::domain::{Campaign, CampaignSet, PersonId, SendState};
use nudge_shared::evaluate::{Evaluator, NotEntered, Plan};
use nudge_shared::guardrails::{Guardrails, QuietHours};
use nudge_shared::mime::SenderIdentity;
use nudge_shared::ports::{CampaignStatistics, DeferralLog, Entered, Entry, EventLog, JobSource, JourneyLog, SendLedger};
use nudge_shared::schedule::Scheduler;
use nudge_shared::templates::TemplateLibrary;
use nudge_shared::unsubscribe::{UnsubscribeLinks, UnsubscribeSecret};
use nudge_shared::VirtualClock;
use serde_json::json;

struct World<'b, B: Backend> {
    backend: &'b B,
    campaigns: CampaignSet,
    clock: VirtualClock,
    guardrails: Guardrails,
}

impl<'b, B: Backend> World<'b, B> {
    fn new(backend: &'b B, campaigns: &[&str]) -> Self {
        let campaigns = campaigns
            .iter()
            .map(|yaml| serde_yaml_ng::from_str::<Campaign>(yaml).unwrap())
            .collect();
        Self {
            backend,
            campaigns: CampaignSet::new(campaigns),
            clock: VirtualClock::starting_at(start()),
            guardrails: Guardrails::default(),
        }
    }

    async fn person(&self, id: &str, traits: serde_json::Value) {
        let mut traits = traits;
        traits["email"] = json!(self.backend.recipient().as_str());
        self.backend
            .store()
            .record(&identify(id, &format!("identify-{id}"), traits))
            .await
            .unwrap();
    }

    /// Records a track event `minutes` after the start and evaluates it (twice: streams
    /// deliver at least once).
    async fn event(&self, person: &str, name: &str, minutes: i64, properties: serde_json::Value) -> Plan {
        let mut event = track(person, name, &format!("{person}-{name}-{minutes}"), minutes);
        event.properties = properties.as_object().cloned().unwrap_or_default();
        self.backend.store().record(&event).await.unwrap();
        self.clock.advance_to(event.timestamp.max(nudge_shared::Clock::now(&self.clock)));
        let evaluator = Evaluator {
            campaigns: CampaignLibrary::fixed(self.campaigns.clone()),
            people: self.backend.store().clone(),
            journeys: self.backend.store().clone(),
            queue: self.backend.queue().clone(),
            timers: self.backend.store().clone(),
        };
        let now = nudge_shared::Clock::now(&self.clock);
        let plan = evaluator.evaluate(&event, now).await.unwrap();
        assert_eq!(
            evaluator.evaluate(&event, now).await.unwrap().send_later.len(),
            plan.send_later.len()
        );
        self.deliver().await;
        plan
    }

    /// Moves the clock, fires due timers, sends what is queued.
    async fn advance_to(&self, minutes: i64) {
        self.clock.advance_to(start() + Duration::minutes(minutes));
        let scheduler = Scheduler {
            timers: self.backend.store().clone(),
            queue: self.backend.queue().clone(),
            clock: self.clock.clone(),
            batch_size: 50,
        };
        scheduler.tick().await.unwrap();
        self.deliver().await;
    }

    /// Hands every queued job to the sender, each one twice (SQS redelivers).
    async fn deliver(&self) {
        let deliverer = Deliverer {
            campaigns: CampaignLibrary::fixed(self.campaigns.clone()),
            profiles: self.backend.store().clone(),
            ledger: self.backend.store().clone(),
            templates: TemplateLibrary::new(self.backend.store().clone()),
            mailer: self.backend.mailer().clone(),
            clock: self.clock.clone(),
            identity: SenderIdentity {
                address: self.backend.sender(),
                name: "Acme".into(),
            },
            postal_address: "1 Main St".into(),
            unsubscribe: UnsubscribeLinks {
                base_url: "https://nudge.test".into(),
                secret: UnsubscribeSecret::parse("journey-secret-journey-secret-journey").unwrap(),
                mailto: None,
            },
            guardrails: self.guardrails.clone(),
            claim_lease: Duration::minutes(10),
        };
        for _ in 0..10 {
            let messages = self.backend.queue().receive(10, Duration::seconds(30)).await.unwrap();
            if messages.is_empty() {
                return;
            }
            for message in messages {
                let job = serde_json::from_str(&message.body).unwrap();
                deliverer.deliver(&job).await.unwrap();
                deliverer.deliver(&job).await.unwrap();
                self.backend.queue().acknowledge(&message.receipt).await.unwrap();
            }
        }
    }

    /// The settled states of `person`'s sends, as labels: `sent`, or the skip reason.
    async fn outcomes(&self, person: &str) -> Vec<String> {
        let mut outcomes: Vec<String> = self
            .backend
            .store()
            .sends_to(&PersonId::parse(person).unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|record| match record.state {
                SendState::Sent { .. } => "sent".to_string(),
                SendState::Skipped { reason, .. } => reason.label().to_string(),
                other => other.label().to_string(),
            })
            .collect();
        outcomes.sort();
        outcomes
    }
}

const ONBOARDING: &str = "
id: onboarding-nudge
name: Nudge those who have not finished onboarding in 3 days
trigger: { event: signed_up }
goal: { event: completed_onboarding }
steps:
  - wait: 3d
  - send: { template: welcome, topic: product_tips }
";

pub async fn the_goal_just_before_the_deadline_cancels_the_nudge_and_just_after_does_not(backend: impl Backend) {
    let world = World::new(&backend, &[ONBOARDING]);
    for id in ["ada", "grace", "linus"] {
        world.person(id, json!({})).await;
        world.event(id, "signed_up", 0, json!({})).await;
    }
    let deadline = 3 * 24 * 60;
    world.event("ada", "completed_onboarding", deadline - 1, json!({})).await;
    world.advance_to(deadline).await;
    world.event("grace", "completed_onboarding", deadline + 1, json!({})).await;
    world.advance_to(deadline + 60).await;
    assert_eq!(
        world.outcomes("ada").await,
        ["goal_reached"],
        "converted a minute before: no nudge, recorded why"
    );
    assert_eq!(
        world.outcomes("grace").await,
        ["sent"],
        "converted a minute after: the nudge had gone"
    );
    assert_eq!(world.outcomes("linus").await, ["sent"]);
    assert_eq!(
        backend.delivered().await.len(),
        2,
        "one email each to grace and linus, though everything ran twice"
    );
}

const CART: &str = "
id: cart-reminder
name: Abandoned cart
trigger: { event: cart_abandoned }
object_key: cart_id
reentry: always
goal: { event: order_completed }
steps:
  - wait: 1h
  - send: { id: reminder, template: welcome, topic: carts }
";

pub async fn two_carts_at_once_are_two_journeys_each_ended_by_its_own_order(backend: impl Backend) {
    let world = World::new(&backend, &[CART]);
    world.person("ada", json!({})).await;
    world.event("ada", "cart_abandoned", 0, json!({"cart_id": "c-1"})).await;
    world.event("ada", "cart_abandoned", 5, json!({"cart_id": "c-2"})).await;
    // The same cart abandoned again: the same journey, not a second reminder.
    world.event("ada", "cart_abandoned", 10, json!({"cart_id": "c-2"})).await;
    world.event("ada", "order_completed", 30, json!({"cart_id": "c-1"})).await;
    world.advance_to(90).await;
    assert_eq!(
        world.outcomes("ada").await,
        ["goal_reached", "sent"],
        "c-1 was bought, c-2 reminded once"
    );
    assert_eq!(backend.delivered().await.len(), 1);
}

const BRANCHED: &str = "
id: pro-tips
name: Tips for pro accounts who have not logged in since signing up
trigger: { event: signed_up }
audience:
  - { trait: plan, equals: pro }
steps:
  - wait: 2d
  - branch:
      if: { did: logged_in, since: trigger }
      then: exit
  - send: { template: welcome, topic: product_tips }
";

pub async fn the_audience_is_checked_on_entry_and_a_branch_when_it_is_reached(backend: impl Backend) {
    let world = World::new(&backend, &[BRANCHED]);
    world.person("free", json!({"plan": "free"})).await;
    world.person("active", json!({"plan": "pro"})).await;
    world.person("quiet", json!({"plan": "pro"})).await;
    let plan = world.event("free", "signed_up", 0, json!({})).await;
    assert!(
        matches!(&plan.not_entered[..], [(_, NotEntered::Audience(condition))] if condition.contains("plan")),
        "{plan:?}"
    );
    world.event("active", "signed_up", 0, json!({})).await;
    world.event("quiet", "signed_up", 0, json!({})).await;
    world.event("active", "logged_in", 60, json!({})).await;
    // Logging in after the branch was reached does not change what it decided.
    world.event("quiet", "logged_in", 2 * 24 * 60 + 30, json!({})).await;
    world.advance_to(2 * 24 * 60).await;
    world.advance_to(3 * 24 * 60).await;
    assert_eq!(world.outcomes("free").await, ["audience_mismatch"], "kept out, and recorded why");
    assert_eq!(world.outcomes("active").await, ["branch_exit"]);
    assert_eq!(world.outcomes("quiet").await, ["sent"]);
}

pub async fn entries_follow_the_reentry_policy(backend: impl Backend) {
    let store = backend.store();
    let entry = |scope: &str, instance: &str, days: i64| Entry {
        campaign: nudge_shared::domain::CampaignId::parse("digest").unwrap(),
        person: PersonId::parse("ada").unwrap(),
        scope: scope.into(),
        instance: instance.into(),
        at: start() + Duration::days(days),
    };
    // Once: one entry per scope; the same entry again is `Again` (a redelivered trigger).
    assert_eq!(store.enter(&entry("", "m1", 0), None).await.unwrap(), Entered::New);
    assert_eq!(store.enter(&entry("", "m1", 0), None).await.unwrap(), Entered::Again);
    assert_eq!(
        store.enter(&entry("", "m2", 1), None).await.unwrap(),
        Entered::Blocked { since: start() }
    );
    // Every 7 days: blocked within the gap, allowed after it.
    let week = Some(Duration::days(7));
    assert!(matches!(
        store.enter(&entry("", "m3", 6), week).await.unwrap(),
        Entered::Blocked { .. }
    ));
    assert_eq!(store.enter(&entry("", "m4", 7), week).await.unwrap(), Entered::New);
    assert_eq!(store.enter(&entry("", "m4", 7), week).await.unwrap(), Entered::Again);
    // Another scope (another object) is another journey.
    assert_eq!(store.enter(&entry("cart-9", "cart-9", 0), None).await.unwrap(), Entered::New);
}

fn immediate(id: &str, class: &str) -> String {
    format!("{{ id: {id}, name: {id}, trigger: {{ event: signed_up }}, steps: [ {{ send: {{ template: welcome, class: {class} }} }} ] }}")
}

pub async fn the_frequency_cap_holds_across_campaigns_and_spares_transactional_mail(backend: impl Backend) {
    let campaigns = [
        immediate("first", "marketing"),
        immediate("second", "marketing"),
        immediate("third", "marketing"),
        immediate("receipt", "transactional"),
    ];
    let world = World::new(&backend, &campaigns.iter().map(String::as_str).collect::<Vec<_>>());
    world.person("ada", json!({})).await;
    world.event("ada", "signed_up", 0, json!({})).await;
    assert_eq!(
        world.outcomes("ada").await,
        ["frequency_capped", "sent", "sent", "sent"],
        "two marketing emails a day, the receipt regardless"
    );
    let third = backend
        .store()
        .campaign_stats(&nudge_shared::domain::CampaignId::parse("third").unwrap())
        .await
        .unwrap();
    assert_eq!(third.skipped.get("frequency_capped"), Some(&1), "{third:?}");
    assert_eq!(backend.delivered().await.len(), 3);
}

pub async fn a_send_due_in_quiet_hours_waits_for_the_morning_where_the_person_is(backend: impl Backend) {
    let mut world = World::new(&backend, &[&immediate("evening-offer", "marketing")]);
    world.guardrails.quiet_hours = Some(QuietHours::parse("21:00-08:00").unwrap());
    world.person("ada", json!({"timezone": "Europe/Paris"})).await;
    // 09:00 UTC + 12h30 = 21:30 UTC, 22:30 in Paris: quiet until 08:00 Paris, 07:00 UTC.
    world.event("ada", "signed_up", 12 * 60 + 30, json!({})).await;
    assert_eq!(
        world.outcomes("ada").await,
        Vec::<String>::new(),
        "put off, not sent and not dropped"
    );
    let deferrals = backend.store().deferrals_of(&PersonId::parse("ada").unwrap()).await.unwrap();
    assert_eq!(deferrals.len(), 1, "and the deferral is on record");
    assert_eq!(
        (deferrals[0].reason.as_str(), deferrals[0].until),
        ("quiet hours", start() + Duration::hours(22))
    );
    world.advance_to(21 * 60 + 59).await;
    assert_eq!(world.outcomes("ada").await, Vec::<String>::new(), "still night in Paris");
    world.advance_to(22 * 60).await;
    assert_eq!(world.outcomes("ada").await, ["sent"]);
    assert_eq!(backend.delivered().await.len(), 1);
}

const NEW_POST: &str = "
id: new-post
name: New posts, to readers of their topics
trigger:
  content_added:
    collection: posts
    match: { item: tags, person: interests }
steps:
  - send: { template: new-post, topic: blog }
";

pub async fn new_content_goes_to_the_people_interested_in_it_once(backend: impl Backend) {
    use nudge_shared::domain::{CatalogItem, Collection, ItemId, TemplateName};
    use nudge_shared::ports::TemplateStore;
    use nudge_shared::template::{BodyFormat, TemplateDocument};
    let world = World::new(&backend, &[NEW_POST]);
    let template = TemplateDocument {
        name: TemplateName::parse("new-post").unwrap(),
        format: BodyFormat::Html,
        source: "---\nsubject: \"New: {{ content.title }}\"\n---\n<p><a href=\"{{ content.url }}\">{{ content.title }}</a></p>\n".into(),
    };
    backend.store().save_template(&template, start()).await.unwrap();
    world.person("ada", json!({"interests": ["rust", "databases"]})).await;
    world.person("grace", json!({"interests": ["go"]})).await;
    world.person("linus", json!({})).await;
    let item = CatalogItem {
        collection: Collection::parse("posts").unwrap(),
        id: ItemId::parse("rust-tips").unwrap(),
        fields: json!({"title": "Rust tips", "url": "https://blog.acme.test/rust-tips", "tags": ["Rust", "performance"]})
            .as_object()
            .cloned()
            .unwrap(),
        updated_at: start() + Duration::hours(1),
    };
    nudge_shared::ports::Catalog::upsert(backend.store(), &item).await.unwrap();
    let evaluator = Evaluator {
        campaigns: CampaignLibrary::fixed(world.campaigns.clone()),
        people: backend.store().clone(),
        journeys: backend.store().clone(),
        queue: backend.queue().clone(),
        timers: backend.store().clone(),
    };
    world.advance_to(60).await;
    let now = start() + Duration::hours(1);
    let plan = evaluator.evaluate_content(&item, now).await.unwrap();
    assert_eq!(plan.send_now.len(), 1, "only ada reads about rust");
    // The change feed delivers the item again: the same journey, no second email.
    evaluator.evaluate_content(&item, now).await.unwrap();
    world.deliver().await;
    assert_eq!(world.outcomes("ada").await, ["sent"]);
    assert!(world.outcomes("grace").await.is_empty() && world.outcomes("linus").await.is_empty());
    let delivered = backend.delivered().await;
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].contains("Subject: New: Rust tips"), "{}", delivered[0]);
}

const POWER_USERS: &str = "
id: power-users
name: Pro accounts who log in often (case-study candidates)
trigger:
  segment:
    - { trait: plan, equals: pro }
    - { did: logged_in, at_least: 3, within: 7d }
steps:
  - send: { template: welcome, class: transactional }
";

pub async fn joining_a_segment_starts_a_journey_once(backend: impl Backend) {
    let world = World::new(&backend, &[POWER_USERS]);
    world.person("ada", json!({"plan": "pro"})).await;
    world.person("grace", json!({"plan": "free"})).await;
    for person in ["ada", "grace"] {
        world.event(person, "logged_in", 10, json!({})).await;
        world.event(person, "logged_in", 20, json!({})).await;
    }
    assert_eq!(
        world.outcomes("ada").await,
        Vec::<String>::new(),
        "two logins: not in the segment yet"
    );
    for person in ["ada", "grace"] {
        world.event(person, "logged_in", 30, json!({})).await;
        world.event(person, "logged_in", 40, json!({})).await;
    }
    assert_eq!(world.outcomes("ada").await, ["sent"], "joined at the third login, and only once");
    assert_eq!(
        world.outcomes("grace").await,
        Vec::<String>::new(),
        "a free plan is not in the segment"
    );
    assert_eq!(backend.delivered().await.len(), 1);
}
