//! `repeat-payment` Lambda: wiring only. `shared::bootstrap::serve` builds and warms the services
//! once at cold start and sends every request to `shared::http::repeat_payment`.

use shared::bootstrap::{serve, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Sends a code to the saved card's stored phone.
    serve(Warmup { sns: true, phone_metadata: false }, shared::http::repeat_payment).await
}
