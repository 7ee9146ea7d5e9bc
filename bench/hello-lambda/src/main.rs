//! The smallest lambda_http function: what a cold start costs before any of our own work.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async { Ok::<_, Error>(Response::new(Body::Text("hello".into()))) })).await
}
