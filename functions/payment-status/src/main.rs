//! `payment-status` Lambda: wiring only. Services are built once at cold start; every request goes
//! to `shared::http::payment_status` (one payment, or a user's history).

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let services = shared::bootstrap::services_from_env().await?;
    let services = &services;
    run(service_fn(
        move |req: Request| async move { Ok::<_, Error>(shared::http::payment_status(services, req).await) },
    ))
    .await
}
