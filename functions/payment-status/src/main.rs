//! `payment-status` Lambda: wiring only. `shared::bootstrap::serve` builds and warms the services
//! once at cold start and sends every request to `shared::http::payment_status` (one payment, or a
//! user's history).

use shared::bootstrap::{serve, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Reads payments only, with their phones masked: its handler asks for `Ports`, so it loads
    // no key (and can call no use case that needs one). It never calls the acquirer.
    serve(Warmup::default(), shared::http::payment_status).await
}
