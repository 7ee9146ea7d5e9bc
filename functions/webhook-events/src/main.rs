//! `webhook-events` Lambda: wiring only. Fed by the table's stream (an event source mapping;
//! locally, `scripts/stream-poller`): each payment's and checkout session's change becomes the
//! webhook events it emits, recorded once (`shared::webhooks`). No key: it reads phones masked.

use shared::bootstrap::{run_job, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_job(Warmup::default(), shared::jobs::webhook_events).await
}
