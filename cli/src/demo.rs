//! `nudge demo`: simulated people sign up, identify themselves and use the product over a
//! few days of virtual time. Every call goes through the same HTTP route and ingest
//! function as `nudge serve`, and the pipeline runs on the virtual clock, with a share of
//! stream batches and queue messages delivered twice. At the end the outbox holds the real
//! `.eml` files, and the summary counts what was sent, to how many, and why not.

use crate::http::forward_to_ingest;
use crate::runner::{LocalMailer, LocalPipeline, PumpReport, Redelivery, Sending, SharedClock};
use anyhow::Context;
use axum::body::Body;
use axum::extract::{Request, State};
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use nudge_shared::adapters::embedded::{EmbeddedStore, OutboxMailer};
use nudge_shared::campaigns::{CampaignDocument, CampaignLibrary};
use nudge_shared::domain::{CampaignId, CampaignSet, Channel, EmailAddress, Secret, SendState, Source, SourceId, TemplateName};
use nudge_shared::mime::SenderIdentity;
use nudge_shared::ports::SourceDirectory;
use nudge_shared::ports::TimerStore;
use nudge_shared::template::{BodyFormat, TemplateDocument};
use nudge_shared::templates::TemplateLibrary;
use nudge_shared::unsubscribe::{UnsubscribeLinks, UnsubscribeSecret};
use nudge_shared::VirtualClock;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct DemoOptions {
    pub out: PathBuf,
    pub people: usize,
    pub days: u32,
    pub seed: u64,
    pub redeliver_percent: u8,
}

/// How far the virtual clock moves between pipeline runs.
const TICK: i64 = 10; // minutes

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Zoë",
    "Linus",
    "Margaret",
    "José",
    "Barbara",
    "Ken",
    "Radia",
    "Dennis",
    "Frances",
    "Edsger",
    "Hedy",
    "Tim",
    "Katherine",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Kay",
    "Torvalds",
    "Hamilton",
    "Valim",
    "Liskov",
    "Thompson",
    "Perlman",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
];
const PLANS: &[&str] = &["free", "pro", "team"];
const TIMEZONES: &[&str] = &[
    "Europe/Paris",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/London",
    "America/Los_Angeles",
];
/// Blog topics people follow, and the demo's new post is tagged with.
const TOPICS: &[&str] = &["analytics", "rust", "email", "growth"];
const PRODUCTS: &[&str] = &["Standing desk", "Desk lamp", "Monitor arm", "Ergonomic chair", "Cable tray"];

/// SplitMix64: small, fast, and the same sequence for the same seed on every machine.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self, p: u8) -> bool {
        self.below(100) < u64::from(p)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

struct SeededRedelivery {
    random: Random,
    percent: u8,
}

impl Redelivery for SeededRedelivery {
    fn redeliver(&mut self) -> bool {
        self.random.percent(self.percent)
    }
}

/// One tracking call a simulated client makes.
struct Call {
    at: DateTime<Utc>,
    /// Which of `SOURCES` sends it.
    source: usize,
    path: &'static str,
    body: serde_json::Value,
}

impl Call {
    fn events(&self) -> usize {
        self.body["batch"].as_array().map_or(1, Vec::len)
    }
}

/// The demo company's tracking sources: (id, name, channel).
const SOURCES: [(&str, &str, &str); 3] = [
    ("website", "Website", "web"),
    ("mobile-app", "Mobile app", "app"),
    ("support-chat", "Support chat", "chat"),
];
const WEB: usize = 0;
const APP: usize = 1;
const CHAT: usize = 2;

/// What the simulated people are like, so the summary can say why mail was skipped.
#[derive(Default, Serialize)]
struct Population {
    people: usize,
    without_email: usize,
    with_mistyped_email: usize,
    client_retries: usize,
}

fn simulate_people(options: &DemoOptions, start: DateTime<Utc>, random: &mut Random) -> (Vec<Call>, Population) {
    let window = Duration::days(i64::from(options.days));
    let mut calls = Vec::new();
    let mut population = Population {
        people: options.people,
        ..Default::default()
    };
    for n in 1..=options.people {
        let user_id = format!("user-{n:05}");
        let first = random.pick(FIRST_NAMES);
        let last = random.pick(LAST_NAMES);
        let plan = random.pick(PLANS);
        // Sign-ups over the first half, so that later steps (3-day nudges) play out too.
        let signups = (window / 2).max(Duration::days(1)).min(window);
        let signup = start + Duration::seconds(random.below(signups.num_seconds() as u64) as i64);
        let local = ascii_local_part(first, last);
        // Most give a good address; some sign up by phone, some mistype.
        let email = match random.below(100) {
            0..=5 => {
                population.without_email += 1;
                None
            }
            6..=9 => {
                population.with_mistyped_email += 1;
                // Forgot the "@".
                Some(format!("{local}{n}.example.com"))
            }
            _ => Some(format!("{local}{n}@example.com")),
        };
        let timezone = random.pick(TIMEZONES);
        let interests: Vec<&str> = TOPICS.iter().copied().filter(|_| random.percent(30)).collect();
        let mut traits = json!({"first_name": first, "last_name": last, "name": format!("{first} {last}"), "plan": plan, "timezone": timezone, "interests": interests});
        if let Some(email) = email {
            traits["email"] = json!(email);
        }
        let web = |at, path, body| Call {
            at,
            source: WEB,
            path,
            body,
        };
        calls.push(web(signup - Duration::seconds(30), "/v1/page", json!({"userId": user_id, "name": "Sign up", "messageId": format!("{user_id}-page-signup"), "timestamp": signup - Duration::seconds(30), "properties": {"path": "/signup"}})));
        calls.push(web(
            signup,
            "/v1/identify",
            json!({"userId": user_id, "traits": traits, "messageId": format!("{user_id}-identify"), "timestamp": signup}),
        ));
        let signed_up = json!({
            "userId": user_id, "event": "signed_up", "messageId": format!("{user_id}-signup"),
            "properties": {"plan": plan}, "timestamp": signup + Duration::seconds(2),
        });
        // A client that timed out and sent the same call again: same messageId.
        if random.percent(5) {
            population.client_retries += 1;
            calls.push(web(signup + Duration::seconds(40), "/v1/track", signed_up.clone()));
        }
        calls.push(web(signup + Duration::seconds(2), "/v1/track", signed_up));
        // The mobile app batches what it saw: a login and the screen it opened on.
        for visit in 0..random.below(4) {
            let at = signup + Duration::minutes(30 + random.below(60 * 24 * 2) as i64);
            if at < start + window {
                let batch = json!({"sentAt": at + Duration::seconds(20), "batch": [
                    {"type": "track", "userId": user_id, "event": "logged_in", "messageId": format!("{user_id}-login-{visit}"), "timestamp": at},
                    {"type": "screen", "userId": user_id, "name": "Home", "messageId": format!("{user_id}-home-{visit}"), "timestamp": at + Duration::seconds(1)},
                ]});
                calls.push(Call {
                    at: at + Duration::seconds(20),
                    source: APP,
                    path: "/v1/batch",
                    body: batch,
                });
            }
        }
        // Most finish onboarding, some within three days (no nudge), some after it.
        if random.percent(60) {
            let at = signup + Duration::minutes(20 + random.below(60 * 24 * 5) as i64);
            if at < start + window {
                calls.push(web(at, "/v1/track", json!({"userId": user_id, "event": "completed_onboarding", "messageId": format!("{user_id}-onboarded"), "timestamp": at})));
            }
        }
        // Some leave a cart (a few two at once); many buy it, some before the reminder's hour.
        for cart in 1..=(if random.percent(30) { 1 + u64::from(random.percent(25)) } else { 0 }) {
            let at = signup + Duration::minutes(60 + random.below(60 * 24 * 3) as i64);
            let cart_id = format!("{user_id}-cart-{cart}");
            let price = 20 + random.below(180);
            let quantity = 1 + random.below(3);
            let item = random.pick(PRODUCTS);
            if at < start + window {
                calls.push(web(at, "/v1/track", json!({
                    "userId": user_id, "event": "cart_abandoned", "messageId": format!("{cart_id}-abandoned"), "timestamp": at,
                    "properties": {"cart_id": cart_id, "currency": "EUR", "total": price * quantity,
                                   "items": [{"name": item, "price": price, "quantity": quantity, "image_url": format!("https://cdn.acme.example/{}.png", item.to_lowercase().replace(' ', "-"))}]}
                })));
            }
            if random.percent(45) {
                let bought = at + Duration::minutes(10 + random.below(180) as i64);
                if bought < start + window {
                    calls.push(web(bought, "/v1/track", json!({"userId": user_id, "event": "order_completed", "messageId": format!("{cart_id}-order"), "timestamp": bought, "properties": {"cart_id": cart_id}})));
                }
            }
        }
        // Some ask for help in the chat widget.
        if random.percent(10) {
            let at = signup + Duration::minutes(5 + random.below(60 * 24) as i64);
            if at < start + window {
                let body = json!({"userId": user_id, "event": "chat_started", "messageId": format!("{user_id}-chat"), "timestamp": at, "properties": {"topic": "billing"}});
                calls.push(Call {
                    at,
                    source: CHAT,
                    path: "/v1/track",
                    body,
                });
            }
        }
    }
    calls.sort_by_key(|call| call.at);
    (calls, population)
}

fn ascii_local_part(first: &str, last: &str) -> String {
    format!("{first}.{last}")
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'ë' => 'e',
            'é' => 'e',
            c if c.is_ascii_alphanumeric() || c == '.' || c == '-' => c,
            _ => '-',
        })
        .collect()
}

/// The example templates and campaigns (`examples/`), applied as a team would apply its
/// own: the demo runs them next to the built-in ones.
async fn apply_examples(store: &EmbeddedStore, at: DateTime<Utc>) -> anyhow::Result<CampaignSet> {
    let templates = TemplateLibrary::new(store.clone());
    for (name, source) in [
        ("cart-reminder", include_str!("../../examples/templates/cart-reminder.mjml")),
        ("onboarding-nudge", include_str!("../../examples/templates/onboarding-nudge.mjml")),
        ("new-post", include_str!("../../examples/templates/new-post.mjml")),
    ] {
        let document = TemplateDocument {
            name: TemplateName::parse(name)?,
            format: BodyFormat::Mjml,
            source: source.to_string(),
        };
        templates
            .apply(&document, at)
            .await
            .with_context(|| format!("examples/templates/{name}.mjml"))?;
    }
    let campaigns = CampaignLibrary::new(store.clone());
    for (id, source) in [
        ("onboarding-nudge", include_str!("../../examples/campaigns/onboarding-nudge.yaml")),
        ("cart-reminder", include_str!("../../examples/campaigns/cart-reminder.yaml")),
        ("new-post", include_str!("../../examples/campaigns/new-post.yaml")),
    ] {
        let document = CampaignDocument {
            id: CampaignId::parse(id)?,
            source: source.to_string(),
        };
        campaigns
            .apply(&document, at)
            .await
            .with_context(|| format!("examples/campaigns/{id}.yaml"))?;
    }
    let set = campaigns.current(at).await?;
    // Built-ins first, as the summary lists them.
    let mut ordered: Vec<_> = set.iter().cloned().collect();
    ordered.sort_by_key(|c| !["welcome", "getting-started"].contains(&c.id.as_str()));
    Ok(CampaignSet::new(ordered))
}

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).single().expect("a valid start");
    let end = start + Duration::days(i64::from(options.days));
    let clock = VirtualClock::starting_at(start);
    let shared_clock: SharedClock = Arc::new(clock.clone());
    let outbox_dir = options.out.join("outbox");
    prepare_output(&options.out, &outbox_dir)?;
    let database = options.out.join("nudge.db");
    let store = EmbeddedStore::open(&database, shared_clock.clone()).with_context(|| format!("cannot open {}", database.display()))?;
    let identity = SenderIdentity {
        address: EmailAddress::parse("hello@acme.example").expect("valid"),
        name: "Acme Analytics".into(),
    };
    let campaigns = apply_examples(&store, start).await?;
    let mailer = LocalMailer::Outbox(OutboxMailer::new(&outbox_dir).context("cannot create the outbox")?);
    let mut keys = Vec::new();
    for (id, name, channel) in SOURCES {
        let key = Secret::generate("wk_");
        let source = Source {
            id: SourceId::parse(id)?,
            name: name.into(),
            channel: Channel::parse(channel)?,
            created_at: start,
        };
        store.add_source(&source, &key.hash()).await?;
        keys.push(key);
    }
    let admin_key = Secret::generate("ak_");
    let sending = Sending {
        identity,
        postal_address: "Acme Analytics, 1 Demo Street, Springfield".into(),
        unsubscribe: UnsubscribeLinks {
            base_url: "http://127.0.0.1:8080".into(),
            secret: UnsubscribeSecret::parse(&UnsubscribeSecret::generate()).expect("a generated secret is long enough"),
            mailto: None,
        },
        // Two marketing emails a day, five a week; none between 21:00 and 08:00 where the person is.
        guardrails: nudge_shared::guardrails::Guardrails {
            quiet_hours: Some(nudge_shared::guardrails::QuietHours::parse("21:00-08:00").expect("valid")),
            ..Default::default()
        },
    };
    let pipeline = Arc::new(LocalPipeline::new(store.clone(), shared_clock, mailer, sending, admin_key.hash()));

    let mut random = Random(options.seed);
    let (calls, population) = simulate_people(&options, start, &mut random);
    let mut redelivery = SeededRedelivery {
        random: Random(options.seed ^ 0xDEAD_BEEF),
        percent: options.redeliver_percent,
    };
    let mut progress = Progress::new(options.people);
    let mut totals = PumpReport::default();
    let mut responses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut duplicates_reported = 0;
    let mut events_by_channel: BTreeMap<&str, usize> = BTreeMap::new();
    let mut next_call = calls.iter().peekable();
    let mut tick_end = start;
    // Halfway through, the blog publishes a post (through the admin catalog route).
    let mut post_due = Some(start + Duration::days(i64::from(options.days)) / 2);
    while tick_end < end {
        tick_end += Duration::minutes(TICK);
        if let Some(due) = post_due.filter(|due| *due <= tick_end) {
            clock.advance_to(due);
            publish_post(&pipeline, &admin_key).await?;
            post_due = None;
        }
        while let Some(call) = next_call.next_if(|call| call.at <= tick_end) {
            clock.advance_to(call.at);
            let (status, duplicate) = post(&pipeline, call, &keys[call.source]).await?;
            *events_by_channel.entry(SOURCES[call.source].2).or_default() += call.events();
            *responses.entry(status).or_default() += 1;
            duplicates_reported += usize::from(duplicate);
            if call.path == "/v1/track" && call.body["event"] == "signed_up" {
                progress.signed_up += usize::from(status == 200);
            }
        }
        clock.advance_to(tick_end);
        let round = pipeline.run_until_idle(&mut redelivery).await?;
        totals.add(round);
        progress.show(tick_end, &store)?;
    }
    progress.finish();

    let summary = Summary::collect(
        &options,
        &population,
        &store,
        &campaigns,
        totals,
        (responses, duplicates_reported, events_by_channel),
        start,
        end,
        &outbox_dir,
    )
    .await?;
    let text = summary.render();
    std::fs::write(options.out.join("summary.txt"), &text).context("cannot write summary.txt")?;
    std::fs::write(options.out.join("summary.json"), serde_json::to_string_pretty(&summary)?).context("cannot write summary.json")?;
    print!("{text}");
    anyhow::ensure!(
        summary.duplicate_emails == 0,
        "{} duplicate emails found in the outbox",
        summary.duplicate_emails
    );
    Ok(())
}

/// Clears what an earlier demo left in `out` (only the files the demo writes).
fn prepare_output(out: &Path, outbox: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(outbox).with_context(|| format!("cannot create {}", outbox.display()))?;
    for entry in std::fs::read_dir(outbox)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "eml" || e == "tmp") {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    for name in ["nudge.db", "nudge.db-wal", "nudge.db-shm", "summary.txt", "summary.json"] {
        let path = out.join(name);
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// Sends one call; returns the HTTP status and whether the API reported it a duplicate.
async fn post(pipeline: &Arc<LocalPipeline>, call: &Call, write_key: &Secret) -> anyhow::Result<(u16, bool)> {
    let request = Request::builder()
        .method("POST")
        .uri(call.path)
        .header("content-type", "application/json")
        .header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{}:", write_key.expose()))
            ),
        )
        .body(Body::from(call.body.to_string()))?;
    let response = forward_to_ingest(State(Arc::clone(pipeline)), request).await;
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
    if status >= 500 {
        anyhow::bail!(
            "the ingest function answered {status} for {}: {}",
            call.path,
            String::from_utf8_lossy(&body)
        );
    }
    let duplicate = serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v["duplicate"] == true);
    Ok((status, duplicate))
}

/// `PUT /v1/catalog/posts/…` as an operator would: a new item starts content campaigns.
async fn publish_post(pipeline: &Arc<LocalPipeline>, admin_key: &Secret) -> anyhow::Result<()> {
    let post = json!({
        "title": "Ten email metrics that matter", "url": "https://blog.acme.example/email-metrics",
        "summary": "What to measure, and what to ignore.", "tags": ["email", "analytics"],
        "published_at": "2026-01-07T09:00:00Z"
    });
    let request = Request::builder()
        .method("PUT")
        .uri("/v1/catalog/posts/email-metrics")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", admin_key.expose()))
        .body(Body::from(post.to_string()))?;
    let response = forward_to_ingest(State(Arc::clone(pipeline)), request).await;
    anyhow::ensure!(
        response.status().is_success(),
        "publishing the demo post answered {}",
        response.status()
    );
    Ok(())
}

/// A line of progress every simulated six hours (in place on a terminal).
struct Progress {
    people: usize,
    signed_up: usize,
    last_shown: Option<DateTime<Utc>>,
    terminal: bool,
}

impl Progress {
    fn new(people: usize) -> Self {
        Self {
            people,
            signed_up: 0,
            last_shown: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, now: DateTime<Utc>, store: &EmbeddedStore) -> anyhow::Result<()> {
        if self.last_shown.is_some_and(|shown| now - shown < Duration::hours(6)) {
            return Ok(());
        }
        self.last_shown = Some(now);
        let sent = store
            .all_sends()?
            .iter()
            .filter(|s| matches!(s.state, SendState::Sent { .. }))
            .count();
        let line = format!(
            "  {}  signed up {:>5}/{}  emails sent {:>5}",
            now.format("%a %d %b %H:%M"),
            self.signed_up,
            self.people,
            sent
        );
        let mut stderr = std::io::stderr();
        if self.terminal {
            write!(stderr, "\r{line}")?;
        } else {
            writeln!(stderr, "{line}")?;
        }
        stderr.flush()?;
        Ok(())
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

#[derive(Serialize)]
struct CampaignSummary {
    id: String,
    name: String,
    triggered: usize,
    sent: usize,
    skipped: BTreeMap<String, usize>,
    failed: usize,
    pending: usize,
}

#[derive(Serialize)]
struct Summary {
    people: usize,
    days: u32,
    virtual_start: DateTime<Utc>,
    virtual_end: DateTime<Utc>,
    population: Population,
    calls_by_status: BTreeMap<u16, usize>,
    /// Calls the API answered as already stored (same messageId).
    duplicate_calls: usize,
    /// Events sent, by the channel of the source that sent them.
    events_by_channel: BTreeMap<String, usize>,
    pipeline: PipelineCounts,
    campaigns: Vec<CampaignSummary>,
    outbox: PathBuf,
    outbox_files: usize,
    duplicate_emails: usize,
    examples: Vec<Example>,
    dead_letter_jobs: u64,
}

#[derive(Serialize)]
struct PipelineCounts {
    changes_evaluated: usize,
    jobs_handled: usize,
    timers_fired: usize,
    stream_batches_redelivered: usize,
    queue_messages_redelivered: usize,
}

#[derive(Serialize)]
struct Example {
    file: PathBuf,
    campaign: String,
    subject: String,
}

impl Summary {
    #[allow(clippy::too_many_arguments)]
    async fn collect(
        options: &DemoOptions,
        population: &Population,
        store: &EmbeddedStore,
        campaigns: &CampaignSet,
        totals: PumpReport,
        (responses, duplicate_calls, events_by_channel): (BTreeMap<u16, usize>, usize, BTreeMap<&str, usize>),
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        outbox: &Path,
    ) -> anyhow::Result<Self> {
        let sends = store.all_sends()?;
        let pending = store.due(DateTime::<Utc>::MAX_UTC, usize::MAX).await?;
        let mut examples = Vec::new();
        let campaign_summaries = campaigns
            .iter()
            .map(|campaign| {
                let mut summary = CampaignSummary {
                    id: campaign.id.to_string(),
                    name: campaign.name.clone(),
                    triggered: 0,
                    sent: 0,
                    skipped: BTreeMap::new(),
                    failed: 0,
                    pending: pending.iter().filter(|t| t.job.campaign_id == campaign.id).count(),
                };
                for send in sends.iter().filter(|s| s.campaign_id == campaign.id) {
                    match &send.state {
                        SendState::Sent { subject, .. } => {
                            summary.sent += 1;
                            if examples.iter().filter(|e: &&Example| e.campaign == summary.id).count() < 2 {
                                examples.push(Example {
                                    file: outbox.join(format!("{}.eml", send.dedup_key)),
                                    campaign: summary.id.clone(),
                                    subject: subject.clone(),
                                });
                            }
                        }
                        SendState::Skipped { reason, .. } => *summary.skipped.entry(reason.label().replace('_', " ")).or_default() += 1,
                        SendState::Failed { .. } => summary.failed += 1,
                        SendState::Claimed { .. } => {}
                    }
                }
                summary.triggered = summary.sent + summary.skipped.values().sum::<usize>() + summary.failed + summary.pending;
                summary
            })
            .collect();
        let (outbox_files, duplicate_emails) = count_outbox(outbox)?;
        Ok(Self {
            people: options.people,
            days: options.days,
            virtual_start: start,
            virtual_end: end,
            population: Population { ..*population },
            calls_by_status: responses,
            duplicate_calls,
            events_by_channel: events_by_channel.into_iter().map(|(c, n)| (c.to_string(), n)).collect(),
            pipeline: PipelineCounts {
                changes_evaluated: totals.changes_evaluated,
                jobs_handled: totals.jobs_handled,
                timers_fired: totals.timers_fired,
                stream_batches_redelivered: totals.changes_redelivered,
                queue_messages_redelivered: totals.jobs_redelivered,
            },
            campaigns: campaign_summaries,
            outbox: outbox.to_path_buf(),
            outbox_files,
            duplicate_emails,
            examples,
            dead_letter_jobs: store.queue_stats()?.dead,
        })
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let accepted = self.calls_by_status.get(&200).copied().unwrap_or_default();
        out += &format!(
            "\nNudge demo: {} simulated people over {} days of virtual time ({} to {})\n\n",
            self.people,
            self.days,
            self.virtual_start.format("%Y-%m-%d %H:%M"),
            self.virtual_end.format("%Y-%m-%d %H:%M UTC")
        );
        let channels: Vec<String> = self.events_by_channel.iter().map(|(channel, n)| format!("{channel} {n}")).collect();
        out += &format!(
            "Tracking calls accepted: {accepted}, carrying events by channel: {}\n",
            channels.join(", ")
        );
        out += &format!(
            "Client retries of a call: {}, recognised by messageId and stored once: {}\n",
            self.population.client_retries, self.duplicate_calls
        );
        for (status, count) in self.calls_by_status.iter().filter(|(s, _)| **s != 200) {
            out += &format!("Tracking calls refused with HTTP {status}: {count}\n");
        }
        out += &format!(
            "People without an email address: {}; with a mistyped one: {}\n\n",
            self.population.without_email, self.population.with_mistyped_email
        );
        let width = self.campaigns.iter().map(|c| c.name.chars().count()).max().unwrap_or(0).max(8);
        out += &format!(
            "{:<width$} {:>9} {:>6} {:>8} {:>8}\n",
            "Campaign", "Triggered", "Sent", "Skipped", "Pending"
        );
        for campaign in &self.campaigns {
            let skipped: usize = campaign.skipped.values().sum();
            out += &format!(
                "{:<width$} {:>9} {:>6} {:>8} {:>8}\n",
                campaign.name, campaign.triggered, campaign.sent, skipped, campaign.pending
            );
            for (reason, count) in &campaign.skipped {
                out += &format!("    skipped, {reason}: {count}\n");
            }
            if campaign.failed > 0 {
                out += &format!("    failed: {}\n", campaign.failed);
            }
            if campaign.pending > 0 {
                out += "    pending: timers not yet due when the demo ended\n";
            }
        }
        out += &format!(
            "\nAt-least-once delivery, simulated: {} stream batches and {} queue messages were delivered twice.\n",
            self.pipeline.stream_batches_redelivered, self.pipeline.queue_messages_redelivered
        );
        out += &format!(
            "Duplicate emails: {} (one per campaign and person, or per cart, checked over the outbox)\n",
            self.duplicate_emails
        );
        if self.dead_letter_jobs > 0 {
            out += &format!("Jobs in the dead-letter queue: {}\n", self.dead_letter_jobs);
        }
        out += &format!(
            "\nOutbox: {} ({} .eml files; open them in any mail client)\n",
            self.outbox.display(),
            self.outbox_files
        );
        for example in &self.examples {
            out += &format!("  {}  \"{}\"\n", example.file.display(), example.subject);
        }
        out
    }
}

/// Counts `.eml` files and, from their headers, messages that went to the same recipient
/// for the same campaign more than once.
fn count_outbox(outbox: &Path) -> anyhow::Result<(usize, usize)> {
    // One email per campaign and person, or per campaign, person and object for
    // object-keyed journeys (two carts, two reminders).
    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    let mut files = 0;
    for entry in std::fs::read_dir(outbox)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let header = |name: &str| {
            text.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        *seen
            .entry((header("To:"), header("X-Nudge-Campaign:"), header("X-Nudge-Object:")))
            .or_default() += 1;
    }
    Ok((files, seen.values().map(|n| n - 1).sum()))
}
