//! SDK configuration: the standard chain (environment, role), honouring `AWS_ENDPOINT_URL`.

use aws_config::{BehaviorVersion, SdkConfig};

pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A configuration for a local AWS-protocol server at `endpoint`, with dummy credentials.
pub async fn sdk_config_for_endpoint(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}
