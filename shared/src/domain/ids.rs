//! Newtypes for every identifier that comes from outside: each one parses, never just wraps.

use crate::error::InvalidField;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Ids are user-supplied text that ends up in storage keys, file names and logs:
/// non-empty, bounded, and free of control characters.
fn parse_id(value: &str, max_len: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.len() > max_len {
        return Err(format!("must be at most {max_len} bytes long"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_string())
}

/// A name that appears in URLs, keys and file names: ASCII letters, digits, `-` and `_`.
fn parse_slug(value: &str, max: usize) -> Result<String, String> {
    let id = parse_id(value, max)?;
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("may contain only letters, digits, '-' and '_'".into());
    }
    Ok(id)
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, max = $max:expr) => {
        text_id!($(#[$doc])* $name, max = $max, check = parse_id);
    };
    ($(#[$doc:meta])* $name:ident, max = $max:expr, check = $check:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses `value`; the error's field is empty, for the caller to name.
            pub fn parse(value: &str) -> Result<Self, InvalidField> {
                $check(value, $max).map(Self).map_err(|reason| InvalidField::new("", reason))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidField;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// Who an event is about: Segment's `userId` (or, before signup, `anonymousId`).
    PersonId, max = 255
);
text_id!(
    /// What happened: `signed_up`, `order_completed`.
    EventName, max = 200
);
text_id!(
    /// The sender's id for one event (Segment's `messageId`): the same id twice is one event.
    MessageId, max = 255
);
text_id!(
    /// An account (Segment's `groupId`), for B2B: the company a person belongs to.
    GroupId, max = 255
);
text_id!(
    /// A tracking source: one write key, one channel.
    SourceId, max = 100
);
text_id!(
    /// Where behavior comes from: `web`, `app`, `chat`, `call_center`, ...
    Channel, max = 50
);
text_id!(
    /// A catalog collection: `posts`, `products`, `courses`.
    Collection, max = 100
);
text_id!(
    /// An item's id within its catalog collection.
    ItemId, max = 255
);
text_id!(
    /// A template's name: its file name without the extension (`welcome.mjml` is `welcome`).
    TemplateName, max = 100, check = parse_slug
);
text_id!(
    /// A subscription topic (`product_updates`, `newsletter`): what a person can unsubscribe from.
    Topic, max = 100, check = parse_slug
);
text_id!(
    /// A campaign's stable id, used in send records and dedup keys: change it and history forgets.
    CampaignId, max = 100
);

/// One email per (campaign, step, person, trigger): the key every send is claimed under.
/// A hash, so it is fixed-length and safe in any key or file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DedupKey(String);

impl DedupKey {
    pub fn for_send(campaign: &CampaignId, step: &str, person: &PersonId, trigger: &MessageId) -> Self {
        Self::for_step(campaign, step, person, trigger.as_str())
    }

    /// One send per (campaign, step, person, journey instance): the instance is the trigger's
    /// message id, or the object id of an object-keyed journey.
    pub fn for_step(campaign: &CampaignId, step: &str, person: &PersonId, instance: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [campaign.as_str(), step, person.as_str(), instance] {
            // Length-prefixed so ("ab","c") and ("a","bc") differ.
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        Self(hex::encode(&hash.finalize()[..16]))
    }

    /// A key as `for_send` makes them: 32 lowercase hex digits.
    pub fn parse(value: &str) -> Result<Self, InvalidField> {
        if value.len() == 32 && value.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
            Ok(Self(value.to_string()))
        } else {
            Err(InvalidField::new("", "is not a send key (32 hex digits)"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mailbox address that parsed as one (RFC 5321 `local@domain`): the only kind of address
/// a message is ever built for. Stored as written, with the domain lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(value: &str) -> Result<Self, InvalidField> {
        let trimmed = value.trim();
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidField::new("", "must not contain control characters"));
        }
        let address = lettre::Address::from_str(trimmed).map_err(|e| InvalidField::new("", format!("is not an email address ({e})")))?;
        Ok(Self(format!("{}@{}", address.user(), address.domain().to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the suppression list keeps: the SHA-256 of the address, lower-cased. Matching
    /// needs no more; the address itself is gone.
    pub fn suppression_hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.to_ascii_lowercase().as_bytes()))
    }

    /// A form safe for logs: the domain and a short hash of the whole address.
    pub fn redacted(&self) -> String {
        let domain = self.0.rsplit('@').next().unwrap_or_default();
        let digest = Sha256::digest(self.0.to_ascii_lowercase().as_bytes());
        format!("{}…@{domain}", hex::encode(&digest[..4]))
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidField;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> String {
        value.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_trimmed_and_refuse_empty_or_control_characters() {
        assert_eq!(PersonId::parse("  u1 ").unwrap().as_str(), "u1");
        assert!(PersonId::parse("   ").is_err());
        assert!(EventName::parse("sign\nup").is_err());
        assert!(CampaignId::parse(&"x".repeat(101)).is_err());
    }

    #[test]
    fn email_addresses_parse_and_lowercase_the_domain_only() {
        assert_eq!(EmailAddress::parse(" Ada@Example.COM ").unwrap().as_str(), "Ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example.com\r\nBcc: x@y.z",
            "a b@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn redacted_addresses_do_not_contain_the_local_part() {
        let address = EmailAddress::parse("ada.lovelace@example.com").unwrap();
        assert!(!address.redacted().contains("ada"));
        assert!(address.redacted().ends_with("@example.com"));
    }

    #[test]
    fn dedup_keys_differ_when_any_part_differs() {
        let c = CampaignId::parse("welcome").unwrap();
        let p = PersonId::parse("u1").unwrap();
        let m = MessageId::parse("m1").unwrap();
        let key = DedupKey::for_send(&c, "send", &p, &m);
        assert_eq!(key, DedupKey::for_send(&c, "send", &p, &m));
        assert_ne!(key, DedupKey::for_send(&c, "send2", &p, &m));
        assert_ne!(key, DedupKey::for_send(&c, "send", &PersonId::parse("u2").unwrap(), &m));
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics_and_never_keeps_control_characters(text in "\\PC*|.*") {
            if let Ok(id) = PersonId::parse(&text) {
                prop_assert!(!id.as_str().chars().any(char::is_control));
            }
            if let Ok(address) = EmailAddress::parse(&text) {
                prop_assert!(!address.as_str().chars().any(|c| c.is_control() || c == ' '));
            }
        }
    }
}
