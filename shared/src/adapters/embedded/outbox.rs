//! Mail as files: each message becomes `<outbox>/<dedup key>.eml`, a complete RFC 5322
//! message any mail client opens. Written to a temporary name and renamed, so a reader
//! never sees half a message; the same send writes the same file, never a second one.

use crate::ports::{MailError, Mailer, OutgoingEmail};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct OutboxMailer {
    directory: PathBuf,
}

impl OutboxMailer {
    /// Creates the directory if it does not exist.
    pub fn new(directory: impl Into<PathBuf>) -> std::io::Result<Self> {
        let directory = directory.into();
        std::fs::create_dir_all(&directory)?;
        Ok(Self { directory })
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    pub fn path_for(&self, email: &OutgoingEmail) -> PathBuf {
        self.directory.join(format!("{}.eml", email.dedup_key))
    }
}

impl Mailer for OutboxMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError> {
        let path = self.path_for(email);
        let partial = path.with_extension("eml.tmp");
        let write = || -> std::io::Result<()> {
            std::fs::write(&partial, &email.raw)?;
            std::fs::File::open(&partial)?.sync_all()?;
            std::fs::rename(&partial, &path)
        };
        write().map_err(|e| MailError::Transient(format!("cannot write {}: {e}", path.display())))?;
        Ok(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
    }
}
