//! The campaigns in force: the built-in ones, replaced or joined by campaign files applied
//! to the store (`nudge campaigns apply`), re-read at most once a minute per process.

use crate::domain::{builtin_campaigns, Campaign, CampaignId, CampaignSet};
use crate::error::PortError;
use crate::ports::{DocumentKind, DocumentStore, SavedVersion, VersionedDocument};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// How long a process trusts the campaigns it read: an applied change is in force everywhere
/// within this time.
pub const REFRESH_EVERY: Duration = Duration::seconds(60);

/// A campaign file as written: what is stored and versioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignDocument {
    pub id: CampaignId,
    /// The YAML text.
    pub source: String,
}

/// A campaign file that does not read, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {detail}")]
pub struct CampaignError {
    pub line: usize,
    pub column: usize,
    pub detail: String,
}

/// Reads a campaign file: every mistake names its field and line.
pub fn parse_campaign(source: &str) -> Result<Campaign, CampaignError> {
    serde_yaml_ng::from_str(source).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        let detail = e.to_string();
        let detail = detail.split(" at line ").next().unwrap_or(&detail).to_string();
        CampaignError { line, column, detail }
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Invalid(#[from] CampaignError),
    #[error("the file says `id: {found}`; its name says {expected}")]
    IdMismatch { expected: CampaignId, found: CampaignId },
    #[error(transparent)]
    Port(#[from] PortError),
}

pub struct CampaignLibrary<S> {
    /// `None`: a fixed set (tests, and processes without a store of campaigns).
    store: Option<S>,
    builtins: CampaignSet,
    cache: Mutex<Option<(DateTime<Utc>, Arc<CampaignSet>)>>,
}

impl<S: DocumentStore> CampaignLibrary<S> {
    /// The built-in campaigns, and those applied to `store` (by id, over the built-ins).
    pub fn new(store: S) -> Self {
        Self {
            store: Some(store),
            builtins: builtin_campaigns(),
            cache: Mutex::new(None),
        }
    }

    /// Exactly `campaigns`, never read from a store.
    pub fn fixed(campaigns: CampaignSet) -> Self {
        Self {
            store: None,
            builtins: campaigns,
            cache: Mutex::new(None),
        }
    }

    /// The campaigns in force at `now`.
    pub async fn current(&self, now: DateTime<Utc>) -> Result<Arc<CampaignSet>, PortError> {
        let Some(store) = &self.store else {
            return Ok(Arc::new(self.builtins.clone()));
        };
        if let Some((read_at, set)) = self.cache.lock().expect("campaign cache lock").as_ref() {
            if now - *read_at < REFRESH_EVERY && now >= *read_at {
                return Ok(Arc::clone(set));
            }
        }
        let mut campaigns: Vec<Campaign> = Vec::new();
        for stored in store.current_documents(DocumentKind::Campaign).await? {
            campaigns.push(campaign_of(&stored)?);
        }
        for builtin in self.builtins.iter() {
            if !campaigns.iter().any(|c| c.id == builtin.id) {
                campaigns.push(builtin.clone());
            }
        }
        let set = Arc::new(CampaignSet::new(campaigns));
        *self.cache.lock().expect("campaign cache lock") = Some((now, Arc::clone(&set)));
        Ok(set)
    }

    /// Checks `document` and saves it as a new version (unless unchanged).
    pub async fn apply(&self, document: &CampaignDocument, at: DateTime<Utc>) -> Result<SavedVersion, ApplyError> {
        let campaign = parse_campaign(&document.source)?;
        if campaign.id != document.id {
            return Err(ApplyError::IdMismatch {
                expected: document.id.clone(),
                found: campaign.id,
            });
        }
        let store = self.store.as_ref().ok_or(PortError::Unavailable {
            what: "campaign store",
            detail: "this process has a fixed set of campaigns".into(),
        })?;
        let body = serde_json::to_value(document).expect("a campaign document serializes");
        let saved = store.save_document(DocumentKind::Campaign, document.id.as_str(), &body, at).await?;
        *self.cache.lock().expect("campaign cache lock") = None;
        Ok(saved)
    }

    /// The stored campaign documents with their versions.
    pub async fn stored(&self) -> Result<Vec<VersionedDocument>, PortError> {
        match &self.store {
            Some(store) => store.current_documents(DocumentKind::Campaign).await,
            None => Ok(Vec::new()),
        }
    }
}

fn campaign_of(stored: &VersionedDocument) -> Result<Campaign, PortError> {
    let document: CampaignDocument = serde_json::from_value(stored.body.clone()).map_err(|e| PortError::corrupt("campaign", e))?;
    parse_campaign(&document.source).map_err(|e| PortError::corrupt("campaign", e))
}
