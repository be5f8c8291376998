//! The one S3 client of the process, from the standard AWS chain: region (`AWS_REGION`, the
//! profile, else `us-east-1`), credentials (environment, profile, web identity, container, IMDS)
//! and endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`). With a custom endpoint (MinIO,
//! moto, …) requests use path-style addressing.

use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use tokio::sync::OnceCell;

/// The AWS configuration of the process (region, credentials, endpoint, timeouts), loaded once.
async fn shared_config() -> aws_config::SdkConfig {
    static CONFIG: OnceCell<aws_config::SdkConfig> = OnceCell::const_new();
    CONFIG
        .get_or_init(|| async {
            let region = RegionProviderChain::default_provider().or_else(Region::new("us-east-1"));
            aws_config::defaults(BehaviorVersion::latest())
                .region(region)
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(3))
                        .operation_attempt_timeout(Duration::from_secs(5))
                        .operation_timeout(Duration::from_secs(12))
                        .build(),
                )
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(2)
                        .with_initial_backoff(Duration::from_millis(100)),
                )
                .load()
                .await
        })
        .await
        .clone()
}

/// The shared client (built once, cheap to clone).
pub async fn s3_client() -> aws_sdk_s3::Client {
    static CLIENT: OnceCell<aws_sdk_s3::Client> = OnceCell::const_new();
    CLIENT
        .get_or_init(|| async {
            let shared = shared_config().await;
            let custom_endpoint = shared.endpoint_url().is_some()
                || ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
                    .iter()
                    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
            let config = aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(custom_endpoint)
                .build();
            aws_sdk_s3::Client::from_conf(config)
        })
        .await
        .clone()
}

/// The SQS client (`rasterzen seed --queue`), from the same configuration
/// (`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SQS` for a custom endpoint).
pub async fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&shared_config().await)
}

/// An SDK error on one line, with its causes (the SDK's `Display` alone says only "service error").
pub fn error_text<E: std::error::Error + 'static>(e: &E) -> String {
    let text = format!("{}", aws_sdk_s3::error::DisplayErrorContext(e));
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits `s3://BUCKET/PREFIX` into bucket and prefix (without leading or trailing `/`).
pub fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((bucket.to_string(), prefix.trim_matches('/').to_string()))
}
