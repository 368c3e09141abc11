//! Nudge's domain: what people do (events), who they are (profiles), what we send them
//! (campaigns, message jobs, send records), the ports through which all of it touches the
//! outside world, and the adapters behind those ports.
//!
//! The pure logic (`domain`, `render`, `mime`) and the services that drive it (`ingest`,
//! `evaluate`, `deliver`, `schedule`) know nothing of AWS or SQLite: they see only `ports`.
//! `adapters::embedded` (SQLite, outbox, SMTP) and `adapters::aws` (DynamoDB + Streams,
//! SQS, SES v2) implement the ports, behind the `embedded` and `aws` features.

pub mod adapters;
pub mod campaigns;
pub mod clock;
pub mod config;
pub mod deliver;
pub mod domain;
pub mod error;
pub mod evaluate;
pub mod guardrails;
pub mod ingest;
pub mod mime;
pub mod ports;
pub mod schedule;
pub mod sources;
pub mod template;
pub mod templates;
pub mod unsubscribe;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use error::{InvalidField, PortError};
