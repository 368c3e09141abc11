//! `nudge why PERSON`: what Nudge sent a person, what it decided not to send, and why.

use anyhow::Context;
use nudge_shared::domain::{PersonId, SendState};
use nudge_shared::ports::{DeferralLog, PreferenceStore, ProfileReader, SendLedger};
use std::path::Path;

pub async fn why(person: &str, data: &Path) -> anyhow::Result<()> {
    let database = data.join("nudge.db");
    anyhow::ensure!(database.exists(), "{}: no database here (is --data right?)", database.display());
    let store = crate::templates::open_local(data)?;
    let id = PersonId::parse(person).map_err(|e| anyhow::anyhow!("{person:?}: {}", e.reason))?;
    let profile = store.person(&id).await?.with_context(|| format!("no person {id}"))?;
    println!(
        "{id}: first seen {}, last seen {}",
        profile.first_seen.format("%Y-%m-%d %H:%M UTC"),
        profile.last_seen.format("%Y-%m-%d %H:%M UTC")
    );
    let preferences = store.preferences(&id).await?;
    if let Some(at) = preferences.unsubscribed_all {
        println!("unsubscribed from all marketing email on {}", at.format("%Y-%m-%d"));
    }
    for (topic, at) in &preferences.unsubscribed_topics {
        println!("unsubscribed from {topic} on {}", at.format("%Y-%m-%d"));
    }
    let mut sends = store.sends_to(&id).await?;
    sends.sort_by_key(|record| record.state.at());
    if sends.is_empty() {
        println!("no messages: no campaign has reached this person yet");
    }
    for deferral in store.deferrals_of(&id).await? {
        println!(
            "{}  {:<24} put off   {} until {}",
            deferral.at.format("%Y-%m-%d %H:%M"),
            deferral.campaign_id.as_str(),
            deferral.reason,
            deferral.until.format("%Y-%m-%d %H:%M UTC")
        );
    }
    for record in sends {
        let line = match &record.state {
            SendState::Sent {
                subject,
                template,
                template_version,
                ..
            } => format!(
                "sent      {subject:?} (template {} v{template_version})",
                template.as_ref().map(|t| t.as_str()).unwrap_or("?")
            ),
            SendState::Skipped { reason, .. } => format!("skipped   {reason}"),
            SendState::Failed { detail, .. } => format!("failed    {detail}"),
            SendState::Claimed { .. } => "sending   (claimed, not settled yet)".to_string(),
        };
        println!(
            "{}  {:<24} {line}",
            record.state.at().format("%Y-%m-%d %H:%M"),
            record.campaign_id.as_str()
        );
    }
    Ok(())
}
