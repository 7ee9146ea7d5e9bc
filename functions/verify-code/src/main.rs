//! `verify-code` Lambda: wiring only. Services are built once at cold start; every request goes to
//! `shared::http::verify_code`.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let services = shared::bootstrap::services_from_env().await?;
    let services = &services;
    run(service_fn(move |req: Request| async move { Ok::<_, Error>(shared::http::verify_code(services, req).await) }))
        .await
}
