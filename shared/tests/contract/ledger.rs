use crate::backends::Backend;
use crate::fixtures::{job, start};
use chrono::Duration;
use nudge_shared::domain::{PersonId, SendRecord, SendState, SkipReason};
use nudge_shared::ports::{Claim, SendLedger};

fn lease() -> Duration {
    Duration::minutes(10)
}

fn sent(job: &nudge_shared::domain::MessageJob) -> SendRecord {
    SendRecord {
        dedup_key: job.dedup_key.clone(),
        person_id: job.person_id.clone(),
        campaign_id: job.campaign_id.clone(),
        state: SendState::Sent {
            at: start(),
            provider_message_id: "p-1".into(),
            subject: "Welcome".into(),
            template: Some(nudge_shared::domain::TemplateName::parse("welcome").unwrap()),
            template_version: 3,
            marketing: false,
        },
    }
}

pub async fn only_one_claim_wins_until_settled(backend: impl Backend) {
    let ledger = backend.store();
    let job = job("u1", "m1");
    assert_eq!(ledger.claim(&job, start(), lease()).await.unwrap(), Claim::Acquired);
    assert_eq!(
        ledger.claim(&job, start() + Duration::minutes(1), lease()).await.unwrap(),
        Claim::HeldElsewhere
    );
    ledger.settle(&sent(&job)).await.unwrap();
    assert_eq!(
        ledger.claim(&job, start() + Duration::days(30), lease()).await.unwrap(),
        Claim::Settled(sent(&job).state),
        "a settled send is never claimed again"
    );
}

pub async fn a_lapsed_claim_is_taken_over(backend: impl Backend) {
    let ledger = backend.store();
    let job = job("u1", "m1");
    assert_eq!(ledger.claim(&job, start(), lease()).await.unwrap(), Claim::Acquired);
    assert_eq!(
        ledger.claim(&job, start() + Duration::minutes(11), lease()).await.unwrap(),
        Claim::Acquired
    );
    assert_eq!(
        ledger.claim(&job, start() + Duration::minutes(12), lease()).await.unwrap(),
        Claim::HeldElsewhere,
        "the new claim starts a new lease"
    );
}

pub async fn a_released_claim_can_be_claimed_again(backend: impl Backend) {
    let ledger = backend.store();
    let job = job("u1", "m1");
    assert_eq!(ledger.claim(&job, start(), lease()).await.unwrap(), Claim::Acquired);
    ledger.release(&job).await.unwrap();
    assert_eq!(ledger.claim(&job, start(), lease()).await.unwrap(), Claim::Acquired);
    ledger.settle(&sent(&job)).await.unwrap();
    ledger.release(&job).await.unwrap();
    assert!(
        matches!(ledger.claim(&job, start(), lease()).await.unwrap(), Claim::Settled(_)),
        "release never undoes a settled send"
    );
}

pub async fn concurrent_claims_have_one_winner(backend: impl Backend) {
    let ledger = backend.store();
    let job = job("u1", "m1");
    let (a, b, c) = tokio::join!(
        ledger.claim(&job, start(), lease()),
        ledger.claim(&job, start(), lease()),
        ledger.claim(&job, start(), lease())
    );
    let winners = [a.unwrap(), b.unwrap(), c.unwrap()]
        .iter()
        .filter(|c| **c == Claim::Acquired)
        .count();
    assert_eq!(winners, 1);
}

pub async fn sends_are_listed_per_person(backend: impl Backend) {
    let ledger = backend.store();
    let first = job("u1", "m1");
    let second = job("u1", "m2");
    let other = job("u2", "m3");
    for job in [&first, &second, &other] {
        ledger.claim(job, start(), lease()).await.unwrap();
    }
    ledger.settle(&sent(&first)).await.unwrap();
    let skipped = SendRecord {
        state: SendState::Skipped {
            at: start(),
            reason: SkipReason::NoEmailAddress,
        },
        ..sent(&second)
    };
    ledger.settle(&skipped).await.unwrap();
    let sends = ledger.sends_to(&PersonId::parse("u1").unwrap()).await.unwrap();
    assert_eq!(sends.len(), 2);
    assert!(sends.contains(&sent(&first)));
    assert!(sends.contains(&skipped));
}
