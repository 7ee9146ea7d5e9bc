//! `payment-operations` Lambda: wiring only. The merchant's operations on what it holds (today:
//! forgetting a customer's saved card), sent to `shared::http::payment_operations`.

use shared::bootstrap::{serve, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Its handler asks for `Ports`: it loads no key (a saved card is deleted, never opened).
    serve(Warmup::default(), shared::http::payment_operations).await
}
