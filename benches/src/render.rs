//! `make bench` (render): personalized emails per second on one core, for a realistic
//! Liquid + MJML template (examples/templates/cart-reminder.mjml: ~20 variables and a loop
//! over the cart's items), compiled once and rendered for a different person each time.
//! The same template and data go through liquidjs (the engine Dittofeed uses) and mjml on
//! Node.js, when `benches/liquidjs/node_modules` is installed (`make bench` does it).

use anyhow::Context;
use chrono::{TimeZone, Utc};
use nudge_shared::domain::{
    Account, CampaignId, DedupKey, EmailAddress, Event, EventKind, EventName, GroupId, MessageId, Person, PersonId, TemplateName,
    TriggerSnapshot,
};
use nudge_shared::mime::{build_message, Envelope, ListUnsubscribe, SenderIdentity};
use nudge_shared::template::{BodyFormat, Links, RenderContext, Template, TemplateDocument};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

const ITERATIONS: usize = 2_000;
const TEMPLATE: &str = "examples/templates/cart-reminder.mjml";

struct Data {
    people: Vec<Person>,
    trigger: TriggerSnapshot,
    account: Account,
    links: Links,
    campaign: CampaignId,
}

fn data() -> Data {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 23, 30, 0).unwrap();
    let people = (0..100)
        .map(|i| {
            let mut person = Person::new(PersonId::parse(&format!("user-{i}")).unwrap(), at);
            person.traits = json!({"first_name": format!("Person {i}"), "email": format!("p{i}@example.com"), "plan": if i % 2 == 0 { "pro" } else { "free" }, "timezone": "Europe/Paris"})
                .as_object()
                .cloned()
                .unwrap();
            for n in 0..(i % 4) {
                let mut order = Event::new(EventKind::Track, MessageId::parse(&format!("o{i}-{n}")).unwrap(), person.id.clone(), at);
                order.name = Some(EventName::parse("order_completed").unwrap());
                person.apply(&order);
            }
            person
        })
        .collect();
    let items: Vec<Value> = (0..3)
        .map(|i| json!({"name": format!("Item {i}"), "variant": "Oak", "quantity": i + 1, "price": 19.99 * (i + 1) as f64, "image_url": format!("https://cdn.acme.test/{i}.png")}))
        .collect();
    let trigger = TriggerSnapshot {
        message_id: MessageId::parse("m1").unwrap(),
        name: Some(EventName::parse("cart_abandoned").unwrap()),
        properties: json!({"cart_id": "c/42", "currency": "EUR", "total": 119.94, "items": items})
            .as_object()
            .cloned()
            .unwrap(),
        timestamp: at,
    };
    let mut account = Account::new(GroupId::parse("g1").unwrap(), at);
    account.traits = json!({"owner_name": "Grace at Acme", "owner_email": "grace@acme.test"})
        .as_object()
        .cloned()
        .unwrap();
    Data {
        people,
        trigger,
        account,
        links: Links {
            unsubscribe_url: Some("https://api.acme.test/u/dXNlcgp0aXBz.abcdefghijklmnop".into()),
            preferences_url: Some("https://api.acme.test/u/dXNlcgp0aXBz.abcdefghijklmnop".into()),
            view_in_browser_url: None,
        },
        campaign: CampaignId::parse("cart").unwrap(),
    }
}

impl Data {
    fn context(&self, i: usize) -> RenderContext<'_> {
        RenderContext {
            person: &self.people[i % self.people.len()],
            trigger: &self.trigger,
            campaign_id: &self.campaign,
            campaign_name: "Cart reminder",
            account: Some(&self.account),
            content: None,
            company: "Acme",
            postal_address: "1 Main St, Springfield",
            links: &self.links,
            now: self.trigger.timestamp,
        }
    }
}

/// Runs `work` ITERATIONS times after a warm-up; returns (per second, mean output bytes).
fn measure(mut work: impl FnMut(usize) -> usize) -> (f64, usize) {
    for i in 0..200 {
        work(i);
    }
    let start = Instant::now();
    let bytes: usize = (0..ITERATIONS).map(&mut work).sum();
    (ITERATIONS as f64 / start.elapsed().as_secs_f64(), bytes / ITERATIONS)
}

fn main() -> anyhow::Result<()> {
    let source = std::fs::read_to_string(TEMPLATE).with_context(|| format!("run from the repository root: {TEMPLATE}"))?;
    let document = TemplateDocument {
        name: TemplateName::parse("cart-reminder")?,
        format: BodyFormat::Mjml,
        source,
    };
    let started = Instant::now();
    let template = Template::compile(&document, 1)?;
    let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
    let data = data();

    let liquid = measure(|i| template.render_body_source(&data.context(i)).expect("renders").len());
    let with_mjml = measure(|i| template.render_body_html(&data.context(i)).expect("renders").len());
    let message = measure(|i| template.render(&data.context(i)).expect("renders").html.len());
    let identity = SenderIdentity {
        address: EmailAddress::parse("hello@acme.test")?,
        name: "Acme".into(),
    };
    let to = EmailAddress::parse("p@example.com")?;
    let mime = measure(|i| {
        let context = data.context(i);
        let content = template.render(&context).expect("renders");
        let key = DedupKey::for_send(&data.campaign, "send", &context.person.id, &data.trigger.message_id);
        let envelope = Envelope {
            from: &identity,
            to: &to,
            to_name: None,
            dedup_key: &key,
            campaign: &data.campaign,
            date: data.trigger.timestamp,
            list_unsubscribe: Some(ListUnsubscribe {
                url: data.links.unsubscribe_url.clone().unwrap_or_default(),
                mailto: None,
            }),
            object: None,
        };
        build_message(&envelope, &content).expect("builds").len()
    });

    println!("# Template rendering (one core)\n");
    println!("Template: `{TEMPLATE}` (MJML, ~20 variables, a loop over 3 cart items), compiled once in {compile_ms:.1} ms; {ITERATIONS} renders per row, each for a different person.\n");
    println!("| engine | stage | renders/s | output bytes |");
    println!("|---|---|---:|---:|");
    println!("| Nudge (liquid-rust) | Liquid only | {:.0} | {} |", liquid.0, liquid.1);
    println!(
        "| Nudge (liquid-rust + mrml) | Liquid + MJML → HTML | {:.0} | {} |",
        with_mjml.0, with_mjml.1
    );
    println!(
        "| Nudge | whole message: subject, preheader, HTML, text part | {:.0} | {} |",
        message.0, message.1
    );
    println!(
        "| Nudge | whole message + MIME (what the sender hands SES) | {:.0} | {} |",
        mime.0, mime.1
    );

    match liquidjs(&document.source, &data) {
        Ok(js) => {
            let js_liquid = js["liquidjs"]["per_second"].as_f64().unwrap_or(0.0);
            let js_mjml = js["liquidjs_mjml"]["per_second"].as_f64().unwrap_or(0.0);
            println!(
                "| liquidjs {} | Liquid only | {:.0} | {} |",
                js["node"].as_str().unwrap_or(""),
                js_liquid,
                js["liquidjs"]["bytes"]
            );
            println!(
                "| liquidjs + mjml (Node.js) | Liquid + MJML → HTML | {:.0} | {} |",
                js_mjml, js["liquidjs_mjml"]["bytes"]
            );
            println!(
                "\nRatios (Nudge ÷ Node.js, same template, same data): Liquid only {:.1}×; Liquid + MJML {:.1}×.",
                liquid.0 / js_liquid,
                with_mjml.0 / js_mjml
            );
        }
        Err(error) => println!("\n(liquidjs not measured: {error:#})"),
    }
    Ok(())
}

/// Runs benches/liquidjs/bench.mjs on the same template and data.
fn liquidjs(source: &str, data: &Data) -> anyhow::Result<Value> {
    let dir = Path::new("benches/liquidjs");
    anyhow::ensure!(dir.join("node_modules").exists(), "run `npm ci --prefix benches/liquidjs` first");
    let work = tempfile::tempdir()?;
    let template = work.path().join("template.mjml");
    let context = work.path().join("context.json");
    std::fs::write(&template, source)?;
    std::fs::write(&context, data.context(0).to_json().to_string())?;
    let output = std::process::Command::new("node")
        .arg(dir.join("bench.mjs"))
        .arg(&template)
        .arg(&context)
        .arg(ITERATIONS.to_string())
        .output()
        .context("node runs")?;
    anyhow::ensure!(output.status.success(), "node failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(serde_json::from_slice(&output.stdout)?)
}
