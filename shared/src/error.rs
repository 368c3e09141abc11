//! Errors shared by every port and the validation error every parser returns.
//! Whether a failure is worth retrying is decided here, once, by the variant.

use std::fmt;

/// A value from outside that failed to parse. `field` is the path a user would write
/// (`userId`, `traits.email`, `batch[3].event`), so an HTTP 400 or a CLI message can name it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    pub field: String,
    pub reason: String,
}

impl InvalidField {
    pub fn new(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// The same error seen from one level up: `email` inside `traits` becomes `traits.email`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_string()
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

/// What a port (store, feed, queue, ledger, mailer) can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The backend could not be reached or refused for now (throttling, timeouts, locks):
    /// the same call may succeed later.
    #[error("{what} is unavailable: {detail}")]
    Unavailable { what: &'static str, detail: String },
    /// A write lost a race it is safe to lose only by retrying from a fresh read.
    #[error("{what} changed concurrently")]
    Conflict { what: &'static str },
    /// Data in the backend is not what this version of Nudge wrote: retrying cannot help.
    #[error("{what} holds data Nudge cannot read: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

impl PortError {
    pub fn unavailable(what: &'static str, detail: impl fmt::Display) -> Self {
        Self::Unavailable {
            what,
            detail: detail.to_string(),
        }
    }

    pub fn corrupt(what: &'static str, detail: impl fmt::Display) -> Self {
        Self::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }

    /// Whether the operation that failed may succeed if tried again unchanged.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Corrupt { .. })
    }
}
