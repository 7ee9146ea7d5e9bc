//! Functions run on a schedule rather than by a request.

use serde_json::{json, Value};

use crate::usecases::{sweep, Services};
use crate::CodeServices;

/// Payments read per page of the due index (per shard).
const SWEEP_PAGE: u8 = 25;
/// Webhook deliveries tried again per run (each up to 10 s; the rest wait a minute).
const WEBHOOK_RETRIES_PER_RUN: u8 = 3;
/// Pages per run: a run stays well inside its timeout; what is left waits a minute.
const SWEEP_MAX_PAGES: usize = 20;

/// The sweeper's invocation (an EventBridge scheduled event; its content is not needed): one
/// sweep; the report is the result. A failure to read the index fails the invocation, so
/// Lambda's error metric (and the alarm on it) sees it.
pub async fn sweeper(svc: &'static Services, _event: Value) -> Result<Value, lambda_http::Error> {
    let report = sweep(svc, SWEEP_PAGE, SWEEP_MAX_PAGES).await.map_err(|e| lambda_http::Error::from(e.to_string()))?;
    // The webhook deliveries due for another attempt.
    let retried = crate::usecases::retry_deliveries(svc, WEBHOOK_RETRIES_PER_RUN)
        .await
        .map_err(|e| lambda_http::Error::from(e.to_string()))?;
    Ok(json!({
        "examined": report.examined,
        "expired": report.expired,
        "voided": report.voided,
        "captured": report.captured,
        "failed": report.failed,
        "sessions_expired": report.sessions_expired,
        "webhooks_retried": retried,
    }))
}

/// The webhook-events function's invocation: a batch of the table's stream records (from the
/// event source mapping, or the local poller), each change's events recorded once. A record
/// that could not be recorded is named in `batchItemFailures` (the mapping retries from it,
/// bisecting); a batch that is not a stream batch fails the invocation.
pub async fn webhook_events(svc: &'static CodeServices, event: Value) -> Result<Value, lambda_http::Error> {
    let batch: crate::adapters::dynamodb::stream::StreamBatch =
        serde_json::from_value(event).map_err(|e| lambda_http::Error::from(format!("not a stream batch: {e}")))?;
    Ok(crate::webhook_events::record_batch(svc, &batch).await.answer())
}
