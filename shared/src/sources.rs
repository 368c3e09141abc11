//! Authenticating tracking calls: a write key (HTTP Basic username, or `writeKey` in the
//! body) names a source; lookups are cached briefly, since every call asks.

use crate::domain::{Secret, SecretHash, Source};
use crate::error::PortError;
use crate::ports::SourceDirectory;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A `SourceDirectory` that remembers answers (found or not) for `ttl`. A revoked key keeps
/// working on a warm Lambda for at most that long.
pub struct CachedSources<S> {
    inner: S,
    ttl: Duration,
    cache: Mutex<HashMap<SecretHash, (Instant, Option<Source>)>>,
}

/// Entries beyond this are dropped wholesale: a flood of random keys cannot grow memory.
const MAX_CACHED: usize = 10_000;

impl<S: SourceDirectory> CachedSources<S> {
    pub fn new(inner: S, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn cached(&self, key: &SecretHash) -> Option<Option<Source>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, source)| source.clone())
    }
}

impl<S: SourceDirectory> SourceDirectory for CachedSources<S> {
    async fn source_for_key(&self, key: &SecretHash) -> Result<Option<Source>, PortError> {
        if let Some(answer) = self.cached(key) {
            return Ok(answer);
        }
        let answer = self.inner.source_for_key(key).await?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key.clone(), (Instant::now(), answer.clone()));
        Ok(answer)
    }

    async fn add_source(&self, source: &Source, key: &SecretHash) -> Result<(), PortError> {
        self.inner.add_source(source, key).await?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        Ok(())
    }
}

/// The write key in an `Authorization: Basic …` header: Segment sends it as the username
/// with an empty password. `None` when the header is absent or not Basic.
pub fn write_key_from_basic_auth(header: &str) -> Option<Secret> {
    use base64::Engine;
    let encoded = header
        .trim()
        .strip_prefix("Basic ")
        .or_else(|| header.trim().strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let key = text.split(':').next().unwrap_or_default();
    (!key.is_empty()).then(|| Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_key_is_the_basic_auth_username() {
        assert_eq!(write_key_from_basic_auth("Basic d2tfMTIzOg==").unwrap().expose(), "wk_123"); // "wk_123:"
        assert_eq!(write_key_from_basic_auth("Basic d2tfMTIz").unwrap().expose(), "wk_123"); // no colon
        assert!(write_key_from_basic_auth("Bearer abc").is_none());
        assert!(write_key_from_basic_auth("Basic !!!").is_none());
        assert!(write_key_from_basic_auth("Basic Og==").is_none(), "an empty username is no key");
    }
}
