//! The content catalog: blog posts, products, courses. New content joining it is a
//! trigger (`content_added`) for campaigns that tell interested people about it.

use super::ids::{Collection, ItemId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogItem {
    pub collection: Collection,
    pub id: ItemId,
    /// The item's fields as given: `title`, `url`, `tags`, `published_at`, ...
    #[serde(default)]
    pub fields: Map<String, Value>,
    pub updated_at: DateTime<Utc>,
}

/// What a change on the feed is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Changed {
    /// A person's event was accepted.
    Event(super::event::Event),
    /// An item joined the catalog (an update of an existing one is not a change here).
    ContentAdded(CatalogItem),
}
