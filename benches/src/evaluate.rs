//! `make bench` (evaluate): events evaluated per second on one core with 100 active
//! campaigns, on the embedded store: the decisions alone (which campaigns an event
//! triggers, audience conditions, the journey's schedule), and the whole evaluator (reading
//! the person, recording entries, writing timers and jobs, durable in SQLite).

use chrono::{Duration, TimeZone, Utc};
use nudge_shared::adapters::embedded::EmbeddedStore;
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::domain::{Campaign, CampaignSet, Event, EventKind, EventName, Facts, MessageId, PersonId};
use nudge_shared::evaluate::{audience_failure, entry_for, plan_entry, Evaluator, Plan};
use nudge_shared::ports::EventLog;
use nudge_shared::VirtualClock;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const CAMPAIGNS: usize = 100;
/// Distinct trigger events: each event name starts five campaigns.
const EVENT_NAMES: usize = 20;
const PEOPLE: usize = 1_000;
const EVENTS: usize = 20_000;

fn campaigns() -> CampaignSet {
    CampaignSet::new(
        (0..CAMPAIGNS)
            .map(|i| {
                let yaml = format!(
                    "id: campaign-{i}\nname: Campaign {i}\ntrigger:\n  event: event_{}\n  where:\n    plan: {{ in: [pro, team] }}\naudience:\n  - {{ trait: email, exists: true }}\n  - {{ did: logged_in, at_least: 1 }}\nreentry: {}\nsteps:\n  - wait: {}h\n  - branch:\n      if: {{ did: goal_{i}, since: trigger }}\n      then: exit\n  - send: {{ template: welcome }}\n  - wait: 2d\n  - send: {{ template: getting-started, topic: tips }}\n",
                    i % EVENT_NAMES,
                    if i % 2 == 0 { "always" } else { "once" },
                    1 + i % 48
                );
                serde_yaml_ng::from_str::<Campaign>(&yaml).expect("bench campaigns are valid")
            })
            .collect(),
    )
}

fn event(n: usize) -> Event {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + Duration::seconds(n as i64);
    let mut event = Event::new(
        EventKind::Track,
        MessageId::parse(&format!("m-{n}")).unwrap(),
        PersonId::parse(&format!("user-{}", n % PEOPLE)).unwrap(),
        at,
    );
    event.name = Some(EventName::parse(&format!("event_{}", n % (EVENT_NAMES * 2))).unwrap());
    event.properties = json!({"plan": if n % 3 == 0 { "free" } else { "pro" }})
        .as_object()
        .cloned()
        .unwrap();
    event
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let campaigns = campaigns();
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    let clock = VirtualClock::starting_at(start);
    let dir = tempfile::tempdir()?;
    let store = EmbeddedStore::open(&dir.path().join("nudge.db"), Arc::new(clock.clone()))?;
    for p in 0..PEOPLE {
        let id = PersonId::parse(&format!("user-{p}"))?;
        let mut identify = Event::new(EventKind::Identify, MessageId::parse(&format!("id-{p}"))?, id.clone(), start);
        identify.traits = json!({"email": format!("u{p}@example.com"), "timezone": "Europe/Paris"})
            .as_object()
            .cloned()
            .unwrap();
        store.record(&identify).await?;
        let mut login = Event::new(EventKind::Track, MessageId::parse(&format!("login-{p}"))?, id, start);
        login.name = Some(EventName::parse("logged_in")?);
        store.record(&login).await?;
    }
    let person = nudge_shared::ports::ProfileReader::person(&store, &PersonId::parse("user-1")?)
        .await?
        .expect("recorded");

    // Decisions alone: pure, per event.
    let events: Vec<Event> = (0..EVENTS).map(event).collect();
    let began = Instant::now();
    let mut planned = 0;
    for e in &events {
        let mut plan = Plan::default();
        for campaign in campaigns.triggered_by(e) {
            let facts = Facts {
                person: &person,
                account: None,
                events: &[],
                trigger_at: e.timestamp,
                now: e.timestamp,
            };
            if audience_failure(campaign, &facts).is_none() {
                let (entry, _) = entry_for(campaign, e);
                plan_entry(campaign, e, &person, &entry.instance, e.timestamp, &mut plan);
            }
        }
        planned += plan.send_now.len() + plan.send_later.len();
    }
    let pure = EVENTS as f64 / began.elapsed().as_secs_f64();

    // The whole evaluator on the embedded store.
    let evaluator = Evaluator {
        campaigns: CampaignLibrary::fixed(campaigns.clone()),
        people: store.clone(),
        journeys: store.clone(),
        queue: store.clone(),
        timers: store.clone(),
    };
    let whole_events = 2_000;
    let began = Instant::now();
    let mut scheduled = 0;
    for e in events.iter().take(whole_events) {
        let plan = evaluator.evaluate(e, e.timestamp).await?;
        scheduled += plan.send_now.len() + plan.send_later.len();
    }
    let whole = whole_events as f64 / began.elapsed().as_secs_f64();

    println!("# Evaluation (one core)\n");
    println!(
        "{CAMPAIGNS} active campaigns ({EVENT_NAMES} trigger events, property filters, two audience conditions, waits, a branch, two sends); {PEOPLE} people; half the events trigger nothing.\n"
    );
    println!("| stage | events/s | sends planned |");
    println!("|---|---:|---:|");
    println!("| decisions (trigger, audience, schedule), pure | {pure:.0} | {planned} over {EVENTS} events |");
    println!(
        "| whole evaluator, embedded store (reads, entries, timers, jobs; SQLite file, synchronous=FULL) | {whole:.0} | {scheduled} over {whole_events} events |"
    );
    Ok(())
}
