//! Tracking sources: each write key belongs to one source, and each source to one channel
//! (`web`, `app`, `chat`, `call_center`, ...) that is stamped on every event it sends.
//! Write keys are public by nature (they ship in web pages), so they only ever add data;
//! Nudge stores only their SHA-256.

use super::ids::{Channel, SourceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub id: SourceId,
    pub name: String,
    pub channel: Channel,
    pub created_at: DateTime<Utc>,
}

/// A secret as presented (a write key or an admin key). Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A new random key with a readable prefix (`wk_…` for write keys).
    pub fn generate(prefix: &str) -> Self {
        Self(format!(
            "{prefix}{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What is stored of a secret: its SHA-256, hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where the strings differ.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.len() == other.0.len() && self.0.bytes().zip(other.0.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_unique_prefixed_and_hash_stably() {
        let (a, b) = (Secret::generate("wk_"), Secret::generate("wk_"));
        assert!(a.expose().starts_with("wk_") && a.expose().len() > 60);
        assert_ne!(a, b);
        assert_eq!(a.hash(), Secret::new(a.expose()).hash());
        assert!(a.hash().matches(&Secret::new(a.expose()).hash()));
        assert!(!a.hash().matches(&b.hash()));
        assert_eq!(format!("{a:?}"), "Secret(…)", "never printed");
    }
}
