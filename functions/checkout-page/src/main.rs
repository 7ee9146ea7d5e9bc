//! `checkout-page` Lambda: wiring only. Services are built once at cold start; every request goes
//! to `shared::http::checkout_page` (the shopper's page; it calls the other functions' routes).

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let services = shared::bootstrap::services_from_env().await?;
    let services = &services;
    run(service_fn(move |req: Request| async move { Ok::<_, Error>(shared::http::checkout_page(services, req).await) }))
        .await
}
