//! `checkout-page` Lambda: wiring only. `shared::bootstrap::serve` builds and warms the services
//! once at cold start and sends every request to `shared::http::checkout_page` (the shopper's page;
//! it calls the other functions' routes).

use shared::bootstrap::{serve, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Reads saved cards only.
    serve(Warmup::default(), shared::http::checkout_page).await
}
