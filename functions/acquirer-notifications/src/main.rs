//! `acquirer-notifications` Lambda: wiring only. Adyen's signed notifications (issue 25), sent
//! to `shared::http::acquirer_notifications`; the only function that holds the notifications'
//! HMAC key.

use shared::bootstrap::{serve, Warmup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Its handler asks for `Services`: a capture it finishes may save the card (the card key).
    serve(Warmup::default(), shared::http::acquirer_notifications).await
}
