//! Functions run on a schedule rather than by a request.

use serde_json::{json, Value};

use crate::usecases::{sweep, Services};

/// Payments read per page of the due index (per shard).
const SWEEP_PAGE: u8 = 25;
/// Pages per run: a run stays well inside its timeout; what is left waits a minute.
const SWEEP_MAX_PAGES: usize = 20;

/// The sweeper's invocation (an EventBridge scheduled event; its content is not needed): one
/// sweep; the report is the result. A failure to read the index fails the invocation, so
/// Lambda's error metric (and the alarm on it) sees it.
pub async fn sweeper(svc: &'static Services, _event: Value) -> Result<Value, lambda_http::Error> {
    let report = sweep(svc, SWEEP_PAGE, SWEEP_MAX_PAGES).await.map_err(|e| lambda_http::Error::from(e.to_string()))?;
    Ok(json!({
        "examined": report.examined,
        "expired": report.expired,
        "voided": report.voided,
        "captured": report.captured,
        "failed": report.failed,
    }))
}
