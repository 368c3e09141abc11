//! The embedded default: everything in one SQLite file (WAL mode) and mail as `.eml` files
//! in an outbox directory, or over SMTP.

mod outbox;
mod smtp;
mod sqlite;

pub use outbox::OutboxMailer;
pub use smtp::SmtpMailer;
pub use sqlite::{EmbeddedStore, QueueStats};
