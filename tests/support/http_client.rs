//! A plain HTTP/1.1 client for talking to moto and `cargo lambda watch` on loopback.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use shared::lambda_http::http::{self, Method, Request};

pub struct HttpAnswer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

pub async fn request(method: Method, url: &str, headers: &[(&str, &str)], body: &str) -> HttpAnswer {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut builder = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    // Bounded: a request the local emulator drops must fail the test, not hang it.
    let res = tokio::time::timeout(std::time::Duration::from_secs(60), client.request(req))
        .await
        .unwrap_or_else(|_| panic!("{url}: no answer in 60 s"))
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    HttpAnswer { status, headers, body }
}
