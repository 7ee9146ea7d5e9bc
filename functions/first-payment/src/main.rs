//! `first-payment` Lambda: wiring only. `shared::bootstrap::serve` builds and warms the services
//! once at cold start and sends every request to `shared::http::first_payment`.

use shared::bootstrap::{serve, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // A first payment validates the shopper's phone and sends a code.
    serve(Warmup { sns: true, phone_metadata: true }, shared::http::first_payment).await
}
