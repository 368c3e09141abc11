//! Templates: Liquid for subject, HTML and text, compiled once when a campaign is loaded
//! and rendered per person. A template that needs a value the person lacks fails that one
//! message with a reason, instead of sending "Hi ,".

use crate::domain::{Person, TriggerSnapshot};
use serde_json::{json, Value};
use std::fmt;
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("{part} template does not parse: {detail}")]
    Syntax { part: &'static str, detail: String },
    #[error("{part} template failed to render: {detail}")]
    Render { part: &'static str, detail: String },
}

fn parser() -> &'static liquid::Parser {
    static PARSER: OnceLock<liquid::Parser> = OnceLock::new();
    PARSER.get_or_init(|| {
        liquid::ParserBuilder::with_stdlib()
            .build()
            .expect("the standard Liquid library builds")
    })
}

#[derive(Clone)]
struct Compiled {
    part: &'static str,
    template: Arc<liquid::Template>,
}

impl Compiled {
    fn parse(part: &'static str, source: &str) -> Result<Self, TemplateError> {
        let template = parser().parse(source).map_err(|e| TemplateError::Syntax {
            part,
            detail: e.to_string(),
        })?;
        Ok(Self {
            part,
            template: Arc::new(template),
        })
    }

    fn render(&self, globals: &liquid::Object) -> Result<String, TemplateError> {
        self.template.render(globals).map_err(|e| TemplateError::Render {
            part: self.part,
            detail: e.to_string(),
        })
    }
}

/// A message's subject, HTML body and text body.
#[derive(Clone)]
pub struct MessageTemplate {
    subject: Compiled,
    html: Compiled,
    text: Compiled,
}

impl fmt::Debug for MessageTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageTemplate { .. }")
    }
}

impl MessageTemplate {
    pub fn parse(subject: &str, html: &str, text: &str) -> Result<Self, TemplateError> {
        Ok(Self {
            subject: Compiled::parse("subject", subject)?,
            html: Compiled::parse("html", html)?,
            text: Compiled::parse("text", text)?,
        })
    }

    pub fn render(&self, context: &RenderContext<'_>) -> Result<RenderedMessage, TemplateError> {
        let globals = context.globals();
        let subject = self.subject.render(&globals)?;
        // A subject is one header line: whatever the data held, it does not break the header.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(RenderedMessage {
            subject,
            html: self.html.render(&globals)?,
            text: self.text.render(&globals)?,
        })
    }
}

/// What a template can see.
pub struct RenderContext<'a> {
    pub person: &'a Person,
    pub event: &'a TriggerSnapshot,
    pub campaign_name: &'a str,
    pub company: &'a str,
}

impl RenderContext<'_> {
    fn globals(&self) -> liquid::Object {
        let mut person = self.person.traits.clone();
        person.insert("id".into(), json!(self.person.id));
        let mut behavior = serde_json::to_value(&self.person.behavior).expect("behavior serializes");
        behavior["first_seen"] = json!(self.person.first_seen);
        behavior["last_seen"] = json!(self.person.last_seen);
        person.insert("behavior".into(), behavior);
        let globals = json!({
            "person": Value::Object(person),
            "event": {
                "name": self.event.name,
                "properties": self.event.properties,
                "timestamp": self.event.timestamp.to_rfc3339(),
            },
            "campaign": { "name": self.campaign_name },
            "company": self.company,
        });
        liquid::to_object(&globals).expect("a JSON object converts to a Liquid object")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MessageId, PersonId};
    use chrono::{TimeZone, Utc};
    use serde_json::Map;

    fn person(traits: Value) -> Person {
        let mut p = Person::new(PersonId::parse("u1").unwrap(), Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap());
        p.traits = traits.as_object().cloned().unwrap();
        p
    }

    fn trigger() -> TriggerSnapshot {
        TriggerSnapshot {
            message_id: MessageId::parse("m1").unwrap(),
            name: None,
            properties: Map::from_iter([("plan".to_string(), json!("pro"))]),
            timestamp: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        }
    }

    fn render(template: &MessageTemplate, traits: Value) -> Result<RenderedMessage, TemplateError> {
        let person = person(traits);
        let event = trigger();
        template.render(&RenderContext {
            person: &person,
            event: &event,
            campaign_name: "c",
            company: "Acme",
        })
    }

    #[test]
    fn renders_person_event_and_company() {
        let t = MessageTemplate::parse(
            "Hi {{ person.first_name }}",
            "<p>{{ event.properties.plan }} at {{ company }}</p>",
            "{{ person.id }}",
        )
        .unwrap();
        let out = render(&t, json!({"first_name": "Ada"})).unwrap();
        assert_eq!(out.subject, "Hi Ada");
        assert_eq!(out.html, "<p>pro at Acme</p>");
        assert_eq!(out.text, "u1");
    }

    #[test]
    fn an_if_block_covers_a_missing_trait() {
        let t = MessageTemplate::parse(
            "Hi {% if person.first_name %}{{ person.first_name }}{% else %}friend{% endif %}",
            "",
            "",
        )
        .unwrap();
        assert_eq!(render(&t, json!({})).unwrap().subject, "Hi friend");
    }

    #[test]
    fn a_missing_trait_without_default_fails_instead_of_rendering_blank() {
        let t = MessageTemplate::parse("Hi {{ person.first_name }}", "", "").unwrap();
        assert!(matches!(render(&t, json!({})), Err(TemplateError::Render { part: "subject", .. })));
    }

    #[test]
    fn syntax_errors_are_reported_at_parse_time_with_the_part() {
        let err = MessageTemplate::parse("ok", "{% if %}", "").unwrap_err();
        assert!(matches!(err, TemplateError::Syntax { part: "html", .. }));
    }

    #[test]
    fn subject_line_breaks_from_data_are_folded_to_spaces() {
        let t = MessageTemplate::parse("Hi {{ person.first_name }}", "", "").unwrap();
        assert_eq!(
            render(&t, json!({"first_name": "Ada\r\nBcc: evil@example.com"})).unwrap().subject,
            "Hi Ada Bcc: evil@example.com"
        );
    }

    #[test]
    fn built_in_campaign_templates_render_for_a_bare_profile() {
        for campaign in crate::domain::builtin_campaigns().iter() {
            let out = render(&campaign.template, json!({})).unwrap();
            assert!(
                !out.subject.is_empty() && !out.html.is_empty() && !out.text.is_empty(),
                "{}",
                campaign.id
            );
        }
    }
}
