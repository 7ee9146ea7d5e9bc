//! Cold start: configuration, AWS clients and adapters, built once per Lambda instance.

use std::sync::Arc;

use crate::adapters::clock::SystemClock;
use crate::adapters::dynamodb::{DynamoIdempotencyStore, DynamoPaymentStore, DynamoSmsQuota};
use crate::adapters::emf::EmfMetrics;
use crate::adapters::sandbox_acquirer::SandboxAcquirer;
use crate::adapters::sns::SnsCodeSender;
use crate::config::{Config, ConfigError};
use crate::secrets::{CardVault, CodeHasher};
use crate::usecases::Services;

/// Services over DynamoDB, SNS and the sandbox acquirer, with the given AWS configuration
/// (the SDK honours `AWS_ENDPOINT_URL`, which points local runs at moto).
pub fn aws_services(config: &Config, aws: &aws_config::SdkConfig) -> Result<Services, ConfigError> {
    let dynamo = aws_sdk_dynamodb::Client::new(aws);
    let sns = aws_sdk_sns::Client::new(aws);
    Ok(Services {
        payments: Arc::new(DynamoPaymentStore::new(dynamo.clone(), &config.table_name)),
        idempotency: Arc::new(DynamoIdempotencyStore::new(dynamo.clone(), &config.table_name)),
        quota: Arc::new(DynamoSmsQuota::new(dynamo, &config.table_name, config.sms_limits)),
        sms: Arc::new(SnsCodeSender::new(sns, config.sms_sender_id.clone())),
        acquirer: Arc::new(SandboxAcquirer),
        clock: Arc::new(SystemClock),
        metrics: Arc::new(EmfMetrics::new(&config.metrics_namespace, &config.function_name)),
        hasher: CodeHasher::new(&config.code_hash_keys)?,
        vault: CardVault::new(&config.card_keys),
    })
}

/// Everything a function needs, from the environment.
pub async fn services_from_env() -> Result<Services, ConfigError> {
    let aws = aws_config().await;
    let config = Config::load(&aws).await?;
    tracing::info!(table = %config.table_name, "cold start: services ready");
    aws_services(&config, &aws)
}

/// The SDK's defaults with this platform's timeouts: an attempt gets 2 s, an operation
/// (3 attempts with the standard retry's backoff) 6 s, inside the functions' 10 s timeout.
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_secs(2))
        .operation_timeout(std::time::Duration::from_secs(6))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts)
}

/// The AWS configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config_loader().load().await
}
