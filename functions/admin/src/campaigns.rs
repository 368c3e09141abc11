//! Campaign routes: list the campaigns in force with their stats, and save a campaign file
//! (a new version when it changed). A file that does not read is refused with its line.

use crate::{AdminDeps, AdminError};
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use nudge_shared::adapters::aws::apigw::body_bytes;
use nudge_shared::campaigns::{ApplyError, CampaignDocument};
use nudge_shared::domain::CampaignId;
use nudge_shared::ports::{CampaignStatistics, DocumentStore};
use nudge_shared::{Clock, InvalidField};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::info;

pub async fn list<S, P: CampaignStatistics, T: DocumentStore, C: Clock>(deps: &AdminDeps<S, P, T, C>) -> Result<Value, AdminError> {
    let stored = deps.campaigns.stored().await?;
    let mut campaigns = Vec::new();
    for campaign in deps.campaigns.current(deps.clock.now()).await?.iter() {
        let stats = deps.people.campaign_stats(&campaign.id).await?;
        let version = stored.iter().find(|d| d.name == campaign.id.as_str()).map_or(0, |d| d.version);
        campaigns.push(json!({
            "id": campaign.id,
            "name": campaign.name,
            "version": version,
            "stats": stats,
            "converted": stats.converted(),
        }));
    }
    Ok(json!({ "campaigns": campaigns }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveBody {
    /// The campaign file's YAML.
    source: String,
}

pub async fn save<S, P, T: DocumentStore, C: Clock>(
    deps: &AdminDeps<S, P, T, C>,
    id: CampaignId,
    request: &ApiGatewayV2httpRequest,
) -> Result<(i64, Value), AdminError> {
    let body: SaveBody = serde_json::from_slice(&body_bytes(request).map_err(AdminError::Invalid)?)
        .map_err(|e| AdminError::Invalid(InvalidField::new("body", format!("is not {{\"source\": \"<the YAML>\"}} ({e})"))))?;
    let document = CampaignDocument { id, source: body.source };
    let saved = deps.campaigns.apply(&document, deps.clock.now()).await.map_err(|e| match e {
        ApplyError::Invalid(error) => AdminError::Campaign(error),
        ApplyError::IdMismatch { expected, found } => AdminError::Invalid(InvalidField::new(
            "source",
            format!("says id {found}, but the route names {expected}"),
        )),
        ApplyError::Port(port) => AdminError::Store(port),
    })?;
    info!(campaign = %document.id, version = saved.version, changed = saved.changed, "campaign saved");
    let status = if saved.changed { 201 } else { 200 };
    Ok((
        status,
        json!({ "id": document.id, "version": saved.version, "changed": saved.changed }),
    ))
}
