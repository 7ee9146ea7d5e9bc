//! Answers `GET /?bytes=N` with N bytes of text (at most 1 MiB), nothing else: whatever fails
//! above it is the emulator's.

use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|req: Request| async move {
        let bytes = req
            .query_string_parameters_ref()
            .and_then(|q| q.first("bytes"))
            .and_then(|b| b.parse::<usize>().ok())
            .unwrap_or(0)
            .min(1 << 20);
        Ok::<_, Error>(Response::builder().header("content-type", "text/plain").body(Body::Text("x".repeat(bytes)))?)
    }))
    .await
}
