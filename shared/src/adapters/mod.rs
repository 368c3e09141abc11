//! The adapters behind the ports: `embedded` (one machine, SQLite) and `aws` (DynamoDB +
//! Streams, SQS, SES v2). Both pass the same contract suite (`shared/tests/contract`).

#[cfg(feature = "aws-items")]
pub mod aws;
#[cfg(feature = "embedded")]
pub mod embedded;
