use super::*;
use crate::domain::Event;
use crate::domain::{Account, CampaignId, EventKind, GroupId, MessageId, Person, PersonId, TriggerSnapshot};
use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value};

fn doc(format: BodyFormat, source: &str) -> TemplateDocument {
    TemplateDocument {
        name: TemplateName::parse("t").unwrap(),
        format,
        source: source.to_string(),
    }
}

fn html(source: &str) -> Result<Template, TemplateError> {
    Template::compile(&doc(BodyFormat::Html, source), 1)
}

fn person(traits: Value) -> Person {
    let mut p = Person::new(PersonId::parse("u1").unwrap(), Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap());
    p.traits = traits.as_object().cloned().unwrap();
    p
}

fn trigger(properties: Value) -> TriggerSnapshot {
    TriggerSnapshot {
        message_id: MessageId::parse("m1").unwrap(),
        name: None,
        properties: properties.as_object().cloned().unwrap_or_default(),
        timestamp: Utc.with_ymd_and_hms(2026, 3, 1, 23, 30, 0).unwrap(),
    }
}

struct Fixture {
    person: Person,
    trigger: TriggerSnapshot,
    account: Option<Account>,
    links: Links,
}

impl Fixture {
    fn new(traits: Value, properties: Value) -> Self {
        Self {
            person: person(traits),
            trigger: trigger(properties),
            account: None,
            links: Links {
                unsubscribe_url: Some("https://nudge.test/u/TOKEN?a=1&b=2".into()),
                preferences_url: Some("https://nudge.test/u/TOKEN".into()),
                view_in_browser_url: None,
            },
        }
    }

    fn render(&self, template: &Template) -> Result<RenderedMessage, TemplateError> {
        let campaign = CampaignId::parse("cart").unwrap();
        template.render(&RenderContext {
            person: &self.person,
            trigger: &self.trigger,
            campaign_id: &campaign,
            campaign_name: "Cart reminder",
            account: self.account.as_ref(),
            content: None,
            company: "Acme",
            postal_address: "1 Main St, Springfield",
            links: &self.links,
            now: Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap(),
        })
    }
}

fn render(source: &str, traits: Value) -> Result<RenderedMessage, TemplateError> {
    Fixture::new(traits, json!({})).render(&html(source)?)
}

#[test]
fn default_covers_missing_traits_keys_and_loop_items() {
    let out = render(
        "---\nsubject: \"Hi {{ person.first_name | default: 'friend' }}\"\n---\n{% for i in person.items %}[{{ i.name | default: 'item' }}]{% endfor %}{{ person.address.city | default: 'your city' }}",
        json!({"items": [{"name": "Pen"}, {}]}),
    )
    .unwrap();
    assert_eq!(out.subject, "Hi friend");
    assert!(out.html.contains("[Pen][item]your city"), "{}", out.html);
}

#[test]
fn an_undefined_value_without_default_fails_the_message_naming_it() {
    let err = render("---\nsubject: Hi\n---\n<p>Hi {{ person.first_name }}</p>", json!({})).unwrap_err();
    assert_eq!(
        err.to_string().split(" is undefined").next(),
        Some("body: `person.first_name`"),
        "{err}"
    );
    // Null counts as undefined: never "Hi ,".
    assert!(render("---\nsubject: Hi {{ person.first_name }}\n---\nx", json!({"first_name": null})).is_err());
    // A filter after the undefined value does not hide it.
    assert!(render("---\nsubject: Hi\n---\n{{ person.first_name | upcase }}", json!({})).is_err());
    // Inside a loop, too.
    assert!(render(
        "---\nsubject: Hi\n---\n{% for i in person.items %}{{ i.name }}{% endfor %}",
        json!({"items": [{}]})
    )
    .is_err());
}

#[test]
fn conditions_on_missing_values_are_simply_false() {
    let out = render(
        "---\nsubject: Hi\n---\n{% if person.plan == 'pro' %}pro{% elsif person.first_name %}named{% else %}neither{% endif %}",
        json!({}),
    )
    .unwrap();
    assert!(out.html.contains("neither"));
}

#[test]
fn lenient_templates_render_missing_values_empty() {
    let out = render(
        "---\nsubject: Hi {{ person.first_name }}\nlenient: true\n---\n<p>{{ person.x }}</p>",
        json!({}),
    )
    .unwrap();
    assert_eq!(out.subject, "Hi");
    assert!(out.html.contains("<p></p>"));
}

#[test]
fn html_output_is_escaped_unless_marked_raw() {
    let out = render(
        "---\nsubject: \"{{ person.name }}\"\n---\n<p>{{ person.name }}</p><div>{{ person.bio | raw }}</div><a href=\"{{ unsubscribe_url }}\">u</a>",
        json!({"name": "<script>alert(1)</script> & \"co\"", "bio": "<b>bold</b>"}),
    )
    .unwrap();
    assert!(
        out.html.contains("<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"co\"</p>"),
        "{}",
        out.html
    );
    assert!(out.html.contains("<div><b>bold</b></div>"));
    assert!(out.html.contains("href=\"https://nudge.test/u/TOKEN?a=1&amp;b=2\""));
    // The subject is text, not HTML: no entities in it.
    assert_eq!(out.subject, "<script>alert(1)</script> & \"co\"");
}

#[test]
fn syntax_errors_carry_the_file_line_and_column() {
    let err = html("---\nsubject: Hi\n---\n<p>one</p>\n<p>{% if %}</p>").unwrap_err();
    let TemplateError::Syntax { line, column, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((*line, *column), (5, 9), "{err}");
    let err = html("---\nsubject: Hi\npreheader: \"{{ x \"\n---\nbody").unwrap_err();
    assert!(matches!(err, TemplateError::Syntax { line: 3, .. }), "{err}");
    let err = html("---\nsubject: Hi\nsubjekt: typo\n---\nbody").unwrap_err();
    assert!(
        err.to_string().contains("subjekt") && matches!(err, TemplateError::Syntax { line: 3, .. }),
        "{err}"
    );
    assert!(matches!(html("<p>no front matter</p>"), Err(TemplateError::Syntax { line: 1, .. })));
    let err = html("---\nsubject: Hi\n---\n<p>\n  {% for x in person.items %}\n{{ x }}\n</p>\n").unwrap_err();
    assert!(
        matches!(err, TemplateError::Syntax { line: 5, column: 3, .. }),
        "an unclosed block points at its opening: {err}"
    );
    let err = Template::compile(&doc(BodyFormat::Mjml, "---\nsubject: Hi\n---\n<mjml><mj-body><mj-section>"), 1).unwrap_err();
    assert!(err.to_string().contains("MJML"), "{err}");
}

#[test]
fn header_fields_stay_one_line_and_reply_to_must_be_an_address() {
    let source =
        "---\nsubject: \"Hi {{ person.name }}\"\nfrom_name: \"{{ person.name }} at Acme\"\nreply_to: \"{{ person.manager }}\"\n---\nx";
    let out = render(source, json!({"name": "Ada\r\nBcc: x@evil.test", "manager": "m@acme.test"})).unwrap();
    assert_eq!(out.subject, "Hi Ada Bcc: x@evil.test");
    assert_eq!(out.from_name.as_deref(), Some("Ada Bcc: x@evil.test at Acme"));
    assert_eq!(out.reply_to.unwrap().as_str(), "m@acme.test");
    let err = render(source, json!({"name": "Ada", "manager": "not an address"})).unwrap_err();
    assert!(matches!(err, TemplateError::Render { part: "reply_to", .. }), "{err}");
}

#[test]
fn date_uses_the_persons_timezone_and_the_render_clock() {
    let source = "---\nsubject: s\n---\n{{ event.timestamp | date: '%Y-%m-%d %H:%M %Z' }}|{{ 'now' | date: '%H:%M' }}|{{ event.timestamp | date: '%H:%M', 'Asia/Tokyo' }}";
    let out = render(source, json!({"timezone": "America/New_York"})).unwrap();
    assert!(out.html.contains("2026-03-01 18:30 EST|07:00|08:30"), "{}", out.html);
    let out = render(source, json!({})).unwrap();
    assert!(out.html.contains("2026-03-01 23:30 UTC|12:00|08:30"), "{}", out.html);
}

#[test]
fn money_and_standard_filters() {
    let out = render(
        "---\nsubject: s\n---\n{{ 1234.5 | money }} {{ '9' | money: 'eur' }} {{ person.name | capitalize }} {{ 'a b&c' | url_encode }}",
        json!({"name": "ada"}),
    )
    .unwrap();
    assert!(out.html.contains("$1,234.50 €9.00 Ada a%20b%26c"), "{}", out.html);
}

#[test]
fn html_bodies_get_inlined_css_a_text_part_and_a_preheader() {
    let out = render(
        "---\nsubject: s\npreheader: Read this first\n---\n<html><head><style>.big { font-size: 20px }</style></head><body><p class=\"big\">Hello <a href=\"https://acme.test/x\">there</a></p></body></html>",
        json!({}),
    )
    .unwrap();
    assert!(out.html.contains("<p class=\"big\" style=\"font-size: 20px;\">"), "{}", out.html);
    assert!(out.html.contains("<body><div style=\"display:none;"), "{}", out.html);
    assert!(!out.text.contains("Read this first"), "the preheader is not part of the text body");
    assert!(
        out.text.contains("Hello") && out.text.contains("https://acme.test/x"),
        "{}",
        out.text
    );
}

fn cart_fixture() -> Fixture {
    let mut fixture = Fixture::new(
        json!({"first_name": "ada", "email": "ada@example.com", "plan": "pro", "timezone": "Europe/Paris"}),
        json!({
            "cart_id": "c/42",
            "currency": "EUR",
            "total": 1305.5,
            "items": [
                {"name": "Standing desk", "variant": "Oak", "quantity": 1, "price": 1200, "image_url": "https://cdn.acme.test/desk.png"},
                {"name": "Cable tray <b>", "quantity": 3, "price": 35.1666, "image_url": "https://cdn.acme.test/tray.png"}
            ]
        }),
    );
    let mut ordered = Event::new(
        EventKind::Track,
        MessageId::parse("o1").unwrap(),
        fixture.person.id.clone(),
        Utc.with_ymd_and_hms(2026, 2, 1, 9, 0, 0).unwrap(),
    );
    ordered.name = Some(crate::domain::EventName::parse("order_completed").unwrap());
    fixture.person.apply(&ordered);
    let mut account = Account::new(GroupId::parse("g1").unwrap(), Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
    account.traits = Map::from_iter([
        ("owner_name".to_string(), json!("Grace at Acme")),
        ("owner_email".to_string(), json!("grace@acme.test")),
    ]);
    fixture.account = Some(account);
    fixture
}

fn cart_template() -> Template {
    let document = TemplateDocument {
        name: TemplateName::parse("cart-reminder").unwrap(),
        format: BodyFormat::Mjml,
        source: include_str!("../../../examples/templates/cart-reminder.mjml").to_string(),
    };
    Template::compile(&document, 3).unwrap()
}

#[test]
fn a_customer_io_style_mjml_template_renders_for_a_real_profile() {
    let out = cart_fixture().render(&cart_template()).unwrap();
    assert_eq!(out.subject, "Ada, your cart at Acme is waiting");
    assert_eq!(out.preheader.as_deref(), Some("2 items, €1,305.50 in total"));
    assert_eq!(out.from_name.as_deref(), Some("Grace at Acme"));
    assert_eq!(out.reply_to.as_ref().map(|a| a.as_str()), Some("grace@acme.test"));
    assert!(
        out.html.contains("Monday, March 2 at 12:30 AM CET"),
        "in the person's timezone: {}",
        out.html
    );
    assert!(out.html.contains("Cable tray &lt;b&gt;"));
    assert!(out.html.contains("https://shop.acme.test/cart/c%2F42?utm_campaign=cart"));
    insta::assert_snapshot!("cart_reminder_text", out.text);
    insta::assert_snapshot!("cart_reminder_html", out.html);
}

#[test]
fn the_same_template_without_the_optional_data_still_renders() {
    let mut fixture = cart_fixture();
    fixture.account = None;
    fixture.person.traits.remove("first_name");
    let out = fixture.render(&cart_template()).unwrap();
    assert_eq!(out.subject, "Hey, your cart at Acme is waiting");
    assert_eq!(out.from_name.as_deref(), Some("Acme"));
    assert!(out.html.contains("Still thinking it over, friend?"));
}
