//! What a template can see, for one person and one message.

use crate::domain::{Account, CampaignId, CatalogItem, Person, TriggerSnapshot};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The per-message links a template can place (`{{ unsubscribe_url }}`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// One-click unsubscribe from this message's topic (marketing mail only).
    pub unsubscribe_url: Option<String>,
    /// The person's preference center.
    pub preferences_url: Option<String>,
    /// This message, as a web page.
    pub view_in_browser_url: Option<String>,
}

pub struct RenderContext<'a> {
    pub person: &'a Person,
    /// The event that started this message.
    pub trigger: &'a TriggerSnapshot,
    pub campaign_id: &'a CampaignId,
    pub campaign_name: &'a str,
    /// The person's account (Segment group), when they belong to one.
    pub account: Option<&'a Account>,
    /// The catalog item a content-triggered message is about.
    pub content: Option<&'a CatalogItem>,
    /// The sender's display name: `{{ company }}`.
    pub company: &'a str,
    /// The sender's postal address (CAN-SPAM): `{{ postal_address }}`.
    pub postal_address: &'a str,
    pub links: &'a Links,
    /// When the message is rendered: `{{ now }}` and `"now" | date`.
    pub now: DateTime<Utc>,
}

impl RenderContext<'_> {
    pub(super) fn globals(&self) -> liquid::Object {
        liquid::to_object(&self.to_json()).expect("a JSON object converts to a Liquid object")
    }

    /// Every variable a template can see, as JSON (what `nudge preview` and other engines get).
    pub fn to_json(&self) -> Value {
        let mut person = self.person.traits.clone();
        person.insert("id".into(), json!(self.person.id));
        let mut behavior = serde_json::to_value(&self.person.behavior).expect("behavior serializes");
        behavior["first_seen"] = json!(self.person.first_seen);
        behavior["last_seen"] = json!(self.person.last_seen);
        person.insert("behavior".into(), behavior);
        let mut globals = json!({
            "person": Value::Object(person),
            "event": {
                "name": self.trigger.name,
                "properties": self.trigger.properties,
                "timestamp": self.trigger.timestamp.to_rfc3339(),
            },
            "recent_events": self.person.behavior.recent,
            "campaign": { "id": self.campaign_id, "name": self.campaign_name },
            "company": self.company,
            "now": self.now.to_rfc3339(),
        });
        let mut set = |key: &str, value: Value| {
            globals[key] = value;
        };
        if let Some(account) = self.account {
            let mut traits = account.traits.clone();
            traits.insert("id".into(), json!(account.id));
            set("account", Value::Object(traits));
        }
        if let Some(content) = self.content {
            let mut fields = content.fields.clone();
            fields.insert("id".into(), json!(content.id));
            fields.insert("collection".into(), json!(content.collection));
            set("content", Value::Object(fields));
        }
        if !self.postal_address.is_empty() {
            set("postal_address", json!(self.postal_address));
        }
        for (key, link) in [
            ("unsubscribe_url", &self.links.unsubscribe_url),
            ("preferences_url", &self.links.preferences_url),
            ("view_in_browser_url", &self.links.view_in_browser_url),
        ] {
            if let Some(url) = link {
                set(key, json!(url));
            }
        }
        globals
    }
}
