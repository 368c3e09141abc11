//! Building the RFC 5322 message: multipart/alternative (text + HTML), RFC 2047-encoded
//! names and subject, a Message-ID derived from the dedup key, and Nudge's own headers.
//! Everything that reaches a header has been parsed or folded first: no header injection.

use crate::domain::{CampaignId, DedupKey, EmailAddress};
use crate::template::RenderedMessage;
use chrono::{DateTime, Utc};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use std::error::Error;
use std::time::SystemTime;

/// Who mail comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderIdentity {
    pub address: EmailAddress,
    /// The display name, and `{{ company }}` in templates.
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the message: {0}")]
pub struct MimeError(String);

/// The parts of one message that are not its content.
pub struct Envelope<'a> {
    pub from: &'a SenderIdentity,
    pub to: &'a EmailAddress,
    pub to_name: Option<&'a str>,
    pub dedup_key: &'a DedupKey,
    pub campaign: &'a CampaignId,
    pub date: DateTime<Utc>,
    /// Marketing mail: where `List-Unsubscribe` points (RFC 2369 / RFC 8058 one-click).
    pub list_unsubscribe: Option<ListUnsubscribe>,
    /// The object of an object-keyed journey (a cart id), as `X-Nudge-Object`.
    pub object: Option<&'a str>,
}

/// Data as a header value: letters, digits and `-._:` as they are, anything else `%XX`.
fn header_safe(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._:".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The targets of `List-Unsubscribe`: an https URL that takes the one-click POST, and
/// optionally a mailto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUnsubscribe {
    pub url: String,
    pub mailto: Option<String>,
}

impl ListUnsubscribe {
    fn header_value(&self) -> Result<String, MimeError> {
        let mut value = format!("<{}>", self.url);
        if let Some(mailto) = &self.mailto {
            value.push_str(&format!(", <{mailto}>"));
        }
        // URLs come from configuration and signed tokens; still, nothing may end the header.
        if value.chars().any(char::is_control) {
            return Err(MimeError("List-Unsubscribe value contains control characters".into()));
        }
        Ok(value)
    }
}

pub fn build_message(envelope: &Envelope<'_>, content: &RenderedMessage) -> Result<Vec<u8>, MimeError> {
    let mailbox = |name: Option<&str>, address: &EmailAddress| -> Result<Mailbox, MimeError> {
        let address = address.as_str().parse().map_err(|e| MimeError(format!("address: {e}")))?;
        // Names come from data: strip anything that could end a header line.
        let name = name
            .map(|n| n.chars().filter(|c| !c.is_control()).collect::<String>())
            .filter(|n| !n.trim().is_empty());
        Ok(Mailbox::new(name, address))
    };
    let domain = envelope.from.address.as_str().rsplit('@').next().unwrap_or("nudge.invalid");
    let from_name = content.from_name.as_deref().unwrap_or(&envelope.from.name);
    let mut message = lettre::Message::builder()
        .from(mailbox(Some(from_name), &envelope.from.address)?)
        .to(mailbox(envelope.to_name, envelope.to)?)
        .subject(content.subject.clone())
        .date(SystemTime::from(envelope.date))
        .message_id(Some(format!("<{}@{}>", envelope.dedup_key, domain)))
        .header(NudgeCampaign(envelope.campaign.to_string()))
        .header(NudgeDedupKey(envelope.dedup_key.to_string()));
    if let Some(object) = envelope.object {
        message = message.header(NudgeObject(header_safe(object)));
    }
    if let Some(reply_to) = &content.reply_to {
        message = message.reply_to(mailbox(None, reply_to)?);
    }
    if let Some(list_unsubscribe) = &envelope.list_unsubscribe {
        message = message
            .header(ListUnsubscribeHeader(list_unsubscribe.header_value()?))
            .header(ListUnsubscribePost("List-Unsubscribe=One-Click".into()));
    }
    let message = message
        .multipart(MultiPart::alternative_plain_html(content.text.clone(), content.html.clone()))
        .map_err(|e| MimeError(e.to_string()))?;
    Ok(message.formatted())
}

/// `X-Nudge-Campaign` / `X-Nudge-Dedup-Key`: which campaign and which send a message is,
/// for support and for matching provider events back to the send ledger. Values are
/// validated ids (no control characters), so they cannot break the header.
macro_rules! nudge_header {
    ($type:ident, $name:literal) => {
        #[derive(Clone)]
        struct $type(String);

        impl Header for $type {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn Error + Send + Sync>> {
                Ok(Self(s.to_string()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

nudge_header!(NudgeCampaign, "X-Nudge-Campaign");
nudge_header!(NudgeDedupKey, "X-Nudge-Dedup-Key");
nudge_header!(NudgeObject, "X-Nudge-Object");
nudge_header!(ListUnsubscribeHeader, "List-Unsubscribe");
nudge_header!(ListUnsubscribePost, "List-Unsubscribe-Post");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MessageId, PersonId};
    use chrono::TimeZone;

    fn build(to_name: Option<&str>, subject: &str) -> String {
        build_with(to_name, subject, None, None)
    }

    fn build_with(to_name: Option<&str>, subject: &str, reply_to: Option<&str>, list_unsubscribe: Option<ListUnsubscribe>) -> String {
        let from = SenderIdentity {
            address: EmailAddress::parse("hello@acme.test").unwrap(),
            name: "Acme Café".into(),
        };
        let to = EmailAddress::parse("ada@example.com").unwrap();
        let campaign = CampaignId::parse("welcome").unwrap();
        let key = DedupKey::for_send(&campaign, "send", &PersonId::parse("u1").unwrap(), &MessageId::parse("m1").unwrap());
        let envelope = Envelope {
            from: &from,
            to: &to,
            to_name,
            dedup_key: &key,
            campaign: &campaign,
            date: Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap(),
            list_unsubscribe,
            object: Some("cart 7\r\nBcc: x"),
        };
        let content = RenderedMessage {
            subject: subject.into(),
            preheader: None,
            from_name: None,
            reply_to: reply_to.map(|a| EmailAddress::parse(a).unwrap()),
            html: "<p>Hi</p>".into(),
            text: "Hi".into(),
        };
        String::from_utf8(build_message(&envelope, &content).unwrap()).unwrap()
    }

    #[test]
    fn message_has_alternative_parts_and_nudge_headers() {
        let raw = build(Some("Ada"), "Welcome");
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(raw.contains("Content-Type: text/plain"));
        assert!(raw.contains("Content-Type: text/html"));
        assert!(raw.contains("X-Nudge-Campaign: welcome"));
        assert!(raw.contains("Subject: Welcome"));
        assert!(raw.contains("Date: Fri, 01 May 2026 12:00:00 +0000"));
        assert!(raw.contains("@acme.test>"), "Message-ID on the sender's domain");
    }

    #[test]
    fn marketing_mail_has_one_click_unsubscribe_headers_and_reply_to() {
        let list = ListUnsubscribe {
            url: "https://nudge.test/u/abc.def".into(),
            mailto: Some("mailto:unsubscribe@acme.test?subject=unsubscribe%20abc.def".into()),
        };
        // Long headers are folded onto continuation lines: unfold to read.
        let raw = build_with(None, "Hi", Some("help@acme.test"), Some(list)).replace("\r\n ", " ");
        assert!(
            raw.contains("List-Unsubscribe: <https://nudge.test/u/abc.def>, <mailto:unsubscribe@acme.test?subject=unsubscribe%20abc.def>"),
            "{raw}"
        );
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("Reply-To: help@acme.test"));
        assert!(!build(None, "Hi").contains("List-Unsubscribe"), "transactional mail has none");
        assert!(
            raw.contains("X-Nudge-Object: cart%207%0D%0ABcc:%20x"),
            "object ids from data are encoded: {raw}"
        );
    }

    #[test]
    fn non_ascii_names_are_encoded_words() {
        let raw = build(None, "Grüße");
        assert!(raw.contains("From: =?utf-8?"), "{raw}");
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
    }

    #[test]
    fn line_breaks_in_a_recipient_name_cannot_add_headers() {
        let raw = build(Some("Ada\r\nBcc: evil@example.com"), "Hi");
        assert!(!raw.lines().any(|l| l.starts_with("Bcc:")), "{raw}");
    }
}
