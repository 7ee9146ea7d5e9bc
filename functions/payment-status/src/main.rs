//! `payment-status` Lambda: wiring only. `shared::bootstrap::serve` builds and warms the services
//! once at cold start and sends every request to `shared::http::payment_status` (one payment, or a
//! user's history).

use shared::bootstrap::{serve, Warmup};
use shared::config::Keys;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Reads payments only, with their phones masked: it loads no key. (A capture it cannot
    // finish without the card key is left to the sweeper.)
    serve(Warmup { keys: Keys::NONE, ..Warmup::default() }, shared::http::payment_status).await
}
