//! What marketing email a person still wants: everything, nothing, or all but some topics.
//! Transactional mail ignores this (but never the suppression list).

use super::ids::Topic;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    /// When the person unsubscribed from all marketing email, if they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribed_all: Option<DateTime<Utc>>,
    /// Topics the person left, and when.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unsubscribed_topics: BTreeMap<Topic, DateTime<Utc>>,
}

impl Preferences {
    /// Whether marketing email on `topic` (or with no topic) may be sent.
    pub fn allows(&self, topic: Option<&Topic>) -> bool {
        self.unsubscribed_all.is_none() && topic.is_none_or(|t| !self.unsubscribed_topics.contains_key(t))
    }

    /// One click on a message's unsubscribe link: leave its topic, or everything if it has none.
    pub fn unsubscribe(&mut self, topic: Option<&Topic>, at: DateTime<Utc>) {
        match topic {
            Some(topic) => {
                self.unsubscribed_topics.entry(topic.clone()).or_insert(at);
            }
            None => {
                self.unsubscribed_all.get_or_insert(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_all() {
        let tips = Topic::parse("tips").unwrap();
        let news = Topic::parse("news").unwrap();
        let mut p = Preferences::default();
        assert!(p.allows(Some(&tips)) && p.allows(None));
        p.unsubscribe(Some(&tips), Utc::now());
        assert!(!p.allows(Some(&tips)) && p.allows(Some(&news)) && p.allows(None));
        p.unsubscribe(None, Utc::now());
        assert!(!p.allows(Some(&news)) && !p.allows(None));
    }
}
