//! `checkout-page` Lambda: wiring only. `shared::bootstrap::serve` builds and warms the services
//! once at cold start and sends every request to `shared::http::checkout_page` (the shopper's page;
//! it calls the other functions' routes).

use shared::bootstrap::{serve, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // The public page: its handler runs on `CodeServices`, so it loads the code key only (no
    // card key: it cannot open a card or a phone number). Saved cards are read as the page
    // shows them (brand, last four digits).
    serve(Warmup::default(), shared::http::checkout_page).await
}
