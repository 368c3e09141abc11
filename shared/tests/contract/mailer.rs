use crate::backends::Backend;
use crate::fixtures::start;
use nudge_shared::domain::{CampaignId, DedupKey, MessageId, PersonId};
use nudge_shared::mime::{build_message, Envelope, ListUnsubscribe, SenderIdentity};
use nudge_shared::ports::{Mailer, OutgoingEmail};
use nudge_shared::template::RenderedMessage;

pub async fn a_raw_message_arrives_intact(backend: impl Backend) {
    let identity = SenderIdentity {
        address: backend.sender(),
        name: "Acme".into(),
    };
    let to = backend.recipient();
    let campaign = CampaignId::parse("welcome").unwrap();
    let dedup_key = DedupKey::for_send(&campaign, "send", &PersonId::parse("u1").unwrap(), &MessageId::parse("m1").unwrap());
    let envelope = Envelope {
        from: &identity,
        to: &to,
        to_name: Some("Ada"),
        dedup_key: &dedup_key,
        campaign: &campaign,
        date: start(),
        list_unsubscribe: Some(ListUnsubscribe {
            url: "https://nudge.test/u/abc.def".into(),
            mailto: None,
        }),
        object: None,
    };
    let content = RenderedMessage {
        subject: "Welcome, Ada".into(),
        preheader: None,
        from_name: None,
        reply_to: None,
        html: "<p>Hello</p>".into(),
        text: "Hello".into(),
    };
    let raw = build_message(&envelope, &content).unwrap();
    let email = OutgoingEmail {
        dedup_key,
        from: identity.address.clone(),
        to,
        raw: raw.clone(),
    };

    let provider_id = backend.mailer().send(&email).await.unwrap();
    assert!(!provider_id.is_empty());
    let delivered = backend.delivered().await;
    assert_eq!(delivered.len(), 1, "one message for one send");
    assert_eq!(
        delivered[0].replace("\r\n", "\n"),
        String::from_utf8(raw).unwrap().replace("\r\n", "\n"),
        "our headers and parts arrive as built"
    );
}
