//! `verify-code` Lambda: wiring only. `shared::bootstrap::serve` builds and warms the services once
//! at cold start and sends every request to `shared::http::verify_code`.

use shared::bootstrap::{serve, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Resends codes.
    serve(Warmup { sns: true, phone_metadata: false }, shared::http::verify_code).await
}
