//! `payment-sweeper` Lambda: wiring only. Run every minute by an EventBridge schedule: it ends
//! what nobody finished (`shared::usecases::sweep`): payments past their expiry are expired and
//! their authorisations voided, ended payments still holding funds are voided, abandoned
//! captures are finished.

use shared::bootstrap::{run_job, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_job(Warmup::default(), shared::jobs::sweeper).await
}
