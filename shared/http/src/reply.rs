use lambda_http::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::{Body, Response};

use crate::ports::StoredResponse;

pub const JSON: &str = "application/json";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An answer before it becomes an HTTP response; the part an idempotency key keeps is
/// status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub retry_after_secs: Option<i64>,
    pub replayed: bool,
    /// A passing condition (overload, rate limit, contention, 5xx): never kept under an
    /// idempotency key, so a retry runs again.
    pub transient: bool,
    /// What a 405 lists in `Allow`.
    pub allow: &'static str,
    /// What an idempotency record keeps instead of `body`, where the body holds a secret (kept
    /// sealed, restored on replay).
    pub kept_body: Option<String>,
}

impl Reply {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            body: value.to_string(),
            retry_after_secs: None,
            replayed: false,
            transient: status >= 500,
            allow: "POST",
            kept_body: None,
        }
    }

    /// For a resource that takes `methods` (a 405's `Allow`).
    pub fn allowing(mut self, methods: &'static str) -> Self {
        self.allow = methods;
        self
    }

    pub fn content_type(&self) -> &'static str {
        if self.status >= 400 {
            PROBLEM_JSON
        } else {
            JSON
        }
    }

    pub fn stored(&self) -> StoredResponse {
        StoredResponse { status: self.status, body: self.kept_body.clone().unwrap_or_else(|| self.body.clone()) }
    }

    pub fn replay(stored: StoredResponse) -> Self {
        Self {
            status: stored.status,
            body: stored.body,
            retry_after_secs: None,
            replayed: true,
            transient: false,
            allow: "POST",
            kept_body: None,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let content_type = self.content_type();
        let mut response = Response::new(Body::Text(self.body));
        *response.status_mut() = lambda_http::http::StatusCode::from_u16(self.status)
            .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert("cache-control", HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if self.status == 405 {
            // RFC 9110: a 405 lists what the resource does take.
            headers.insert("allow", HeaderValue::from_static(self.allow));
        }
        if self.replayed {
            headers.insert("idempotency-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}
