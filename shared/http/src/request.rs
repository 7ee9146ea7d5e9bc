//! Reading a request: size, content type, JSON, typed body, path id, Idempotency-Key.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::Problem;

pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses the body into `T`, returning it with the JSON value it came from (for the
/// idempotency fingerprint). An empty body reads as `{}` where `allow_empty`.
pub fn json_body<T: DeserializeOwned>(req: &Request, allow_empty: bool) -> Result<(T, Value), Problem> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Problem::new(413, "payload_too_large", format!("the body must be at most {MAX_BODY_BYTES} bytes")));
    }
    let value = if bytes.iter().all(u8::is_ascii_whitespace) && allow_empty {
        Value::Object(Default::default())
    } else {
        let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !is_json(content_type) {
            return Err(Problem::new(415, "unsupported_media_type", "send the body as application/json"));
        }
        serde_json::from_slice::<Value>(bytes)
            .map_err(|e| Problem::new(400, "invalid_json", format!("the body is not valid JSON: {e}")))?
    };
    if !value.is_object() {
        return Err(Problem::bad_request("the body must be a JSON object", ""));
    }
    let typed = serde_path_to_error::deserialize::<_, T>(&value).map_err(|e| {
        let inner = e.inner().to_string();
        // An unknown field's path ends in the key as sent: a key with a digit (none of ours
        // has one; a card number sent as a key has) is not echoed, its parent is named instead.
        let segments: Vec<String> = e.path().iter().map(ToString::to_string).collect();
        let path = match segments.split_last() {
            Some((key, parent)) if inner.starts_with("unknown field") && key.contains(|c: char| c.is_ascii_digit()) => {
                if parent.is_empty() {
                    ".".to_owned()
                } else {
                    parent.join(".")
                }
            }
            _ => e.path().to_string(),
        };
        let param = param_of(&path, &inner);
        Problem::bad_request(value_free(&inner), &param)
    })?;
    Ok((typed, value))
}

/// Serde's message without the value it quotes (``invalid type: integer `4242…`, expected a
/// string``): a card number or CVC sent as a number, or as a key, would come back in the
/// answer, which merchants log. What was expected stays (it comes from our types); a missing
/// field names only our own field.
fn value_free(message: &str) -> String {
    if message.starts_with("missing field `") {
        return message.to_owned();
    }
    let kind = ["invalid type", "invalid length", "unknown field", "unknown variant", "duplicate field"]
        .into_iter()
        .find(|kind| message.starts_with(kind))
        .unwrap_or("invalid value");
    match message.split_once(", expected ") {
        Some((_, expected)) => format!("{kind}: expected {expected}"),
        None => kind.to_owned(),
    }
}

/// The dotted path of the offending field. For a missing field serde reports the parent's
/// path and names the field in backticks.
fn param_of(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let named = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    match (named, parent) {
        (Some(field), "") => field.to_owned(),
        (Some(field), parent) => format!("{parent}.{field}"),
        (None, parent) => parent.to_owned(),
    }
}

/// The optional `Idempotency-Key`: 1–255 visible ASCII characters.
pub fn idempotency_key(req: &Request) -> Result<Option<String>, Problem> {
    let Some(raw) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = raw.to_str().unwrap_or("");
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Problem::bad_request("Idempotency-Key must be 1-255 visible ASCII characters", "Idempotency-Key"));
    }
    Ok(Some(key.to_owned()))
}

/// How long an idempotency claim may live: until this invocation's deadline (plus a second of
/// slack), so a timed-out Lambda never leaves a key stuck.
pub fn claim_deadline(req: &Request, now: i64) -> i64 {
    const WITHOUT_CONTEXT_SECS: i64 = 30;
    req.lambda_context_ref()
        .map(|c| i64::try_from(c.deadline / 1000).unwrap_or(i64::MAX))
        .filter(|d| *d > now)
        .map_or(now + WITHOUT_CONTEXT_SECS, |d| d.min(now + 15 * 60) + 1)
}

/// A code action on a pending payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeAction {
    Verify,
    Resend,
    /// What the page gave back after the acquirer's action (3-D Secure).
    Details,
}

/// What a request on one webhook endpoint does (its method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointAction {
    Get,
    Update,
    Delete,
}

/// Every route of the API. Which caller a request is treated as follows from its route, never
/// from the credential it carries: `/checkout/{session_id}/…` routes are the shopper's
/// browser's, the others the merchant's server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /payments`
    CreatePayment,
    /// `POST /payments/repeat`
    RepeatPayment,
    /// `POST /payments/{payment_id}/verify|resend`
    PaymentCode { payment_id: String, action: CodeAction },
    /// `GET /payments/{payment_id}`
    GetPayment(String),
    /// `POST /payments/{payment_id}/capture`
    CapturePayment(String),
    /// `POST /payments/{payment_id}/cancel`
    CancelPayment(String),
    /// `POST /payments/{payment_id}/refunds`
    CreateRefund(String),
    /// `GET /payments/{payment_id}/refunds`
    ListRefunds(String),
    /// `GET /refunds/{refund_id}`
    GetRefund(String),
    /// `POST /webhook-endpoints`
    CreateEndpoint,
    /// `GET /webhook-endpoints`
    ListEndpoints,
    /// `GET|PATCH|DELETE /webhook-endpoints/{endpoint_id}`
    Endpoint { endpoint_id: String, action: EndpointAction },
    /// `POST /webhook-endpoints/{endpoint_id}/rotate-secret`
    RotateSecret(String),
    /// `GET /webhook-endpoints/{endpoint_id}/deliveries`
    EndpointDeliveries(String),
    /// `POST /events/{event_id}/redeliver`
    Redeliver(String),
    /// `GET /events`
    Events,
    /// `GET /events/{event_id}`
    GetEvent(String),
    /// `GET /users/{user_id}/payments`
    History(String),
    /// `GET /users/{user_id}/payment-methods`
    PaymentMethods(String),
    /// `DELETE /users/{user_id}/payment-methods/{payment_method_id}`
    PaymentMethod { user_id: String, method_id: String },
    /// `POST /checkout/sessions`
    CreateSession,
    /// `GET /checkout/sessions/{session_id}`
    GetSession(String),
    /// `POST /checkout/sessions/{session_id}/expire`
    ExpireSession(String),
    /// `GET /checkout/{session_id}`: the page
    CheckoutPage(String),
    /// `GET /checkout/{session_id}/state`
    SessionState(String),
    /// `POST /checkout/{session_id}/payments`
    SessionPay(String),
    /// `POST /checkout/{session_id}/payments/repeat`
    SessionRepeat(String),
    /// `POST /checkout/{session_id}/payments/{payment_id}/verify|resend`
    SessionCode { session_id: String, payment_id: String, action: CodeAction },
    /// `POST /acquirer/notifications`
    AcquirerNotifications,
}

impl Route {
    /// The route a path names; where two methods share a path (a payment's refunds), `method`
    /// tells them apart.
    fn from_segments(segments: &[&str], method: &Method) -> Option<Self> {
        let action = |a: &str| match a {
            "verify" => Some(CodeAction::Verify),
            "resend" => Some(CodeAction::Resend),
            "details" => Some(CodeAction::Details),
            _ => None,
        };
        let own = |s: &&str| (*s).to_owned();
        Some(match segments {
            ["payments"] => Self::CreatePayment,
            ["payments", "repeat"] => Self::RepeatPayment,
            ["payments", id] => Self::GetPayment(own(id)),
            ["payments", id, "capture"] => Self::CapturePayment(own(id)),
            ["payments", id, "cancel"] => Self::CancelPayment(own(id)),
            ["payments", id, "refunds"] if method == Method::POST => Self::CreateRefund(own(id)),
            ["payments", id, "refunds"] => Self::ListRefunds(own(id)),
            ["refunds", id] => Self::GetRefund(own(id)),
            ["webhook-endpoints"] if method == Method::POST => Self::CreateEndpoint,
            ["webhook-endpoints"] => Self::ListEndpoints,
            ["webhook-endpoints", id] => {
                let action = match *method {
                    Method::PATCH => EndpointAction::Update,
                    Method::DELETE => EndpointAction::Delete,
                    _ => EndpointAction::Get,
                };
                Self::Endpoint { endpoint_id: own(id), action }
            }
            ["webhook-endpoints", id, "rotate-secret"] => Self::RotateSecret(own(id)),
            ["webhook-endpoints", id, "deliveries"] => Self::EndpointDeliveries(own(id)),
            ["events", id, "redeliver"] => Self::Redeliver(own(id)),
            ["events"] => Self::Events,
            ["events", id] => Self::GetEvent(own(id)),
            ["payments", id, a] => Self::PaymentCode { payment_id: own(id), action: action(a)? },
            ["users", user, "payments"] => Self::History(own(user)),
            ["users", user, "payment-methods"] => Self::PaymentMethods(own(user)),
            ["users", user, "payment-methods", id] => Self::PaymentMethod { user_id: own(user), method_id: own(id) },
            ["checkout", "sessions"] => Self::CreateSession,
            ["checkout", "sessions", id] => Self::GetSession(own(id)),
            ["checkout", "sessions", id, "expire"] => Self::ExpireSession(own(id)),
            ["checkout", id] => Self::CheckoutPage(own(id)),
            ["checkout", id, "state"] => Self::SessionState(own(id)),
            ["checkout", id, "payments"] => Self::SessionPay(own(id)),
            ["checkout", id, "payments", "repeat"] => Self::SessionRepeat(own(id)),
            ["acquirer", "notifications"] => Self::AcquirerNotifications,
            ["checkout", sid, "payments", pid, a] => {
                Self::SessionCode { session_id: own(sid), payment_id: own(pid), action: action(a)? }
            }
            _ => return None,
        })
    }
}

/// The request's route. Behind API Gateway: its route key, with the path parameters put in;
/// under `cargo lambda watch` (no route key, no path parameters): the raw path, without the
/// `/lambda-url/<function>` prefix.
pub fn route(req: &Request) -> Option<Route> {
    let (route_key, stage) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.route_key.clone(), ctx.stage.clone()),
        _ => (None, None),
    };
    if let Some(key) = route_key.filter(|k| k != "$default" && !k.is_empty()) {
        let params = req.path_parameters_ref();
        let template = key.split_once(' ').map_or(key.as_str(), |(_, path)| path).to_owned();
        let segments: Vec<String> = template
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                Some(name) => params.and_then(|p| p.first(name)).unwrap_or("").to_owned(),
                None => s.to_owned(),
            })
            .collect();
        let refs: Vec<&str> = segments.iter().map(String::as_str).collect();
        return Route::from_segments(&refs, req.method());
    }
    let raw = req.raw_http_path();
    let path = if raw.is_empty() { req.uri().path() } else { raw };
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let ["lambda-url", _function, ..] = segments.as_slice() {
        segments.drain(..2);
    } else if let (Some(stage), Some(first)) = (stage.as_deref(), segments.first()) {
        if stage != "$default" && *first == stage {
            segments.remove(0);
        }
    }
    Route::from_segments(&segments, req.method())
}

/// The path prefix before the API's own routes: the stage behind a named API Gateway stage
/// (or `/lambda-url/<function>` where a raw path still has it), else nothing.
pub fn base_path(req: &Request) -> String {
    let raw = req.raw_http_path();
    let path = if raw.is_empty() { req.uri().path() } else { raw };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let ["lambda-url", function, ..] = segments.as_slice() {
        return format!("/lambda-url/{function}");
    }
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => match ctx.stage.as_deref() {
            Some(stage) if stage != "$default" && !stage.is_empty() => format!("/{stage}"),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// `scheme://host` the request came to: API Gateway says the scheme in `X-Forwarded-Proto`;
/// without it, a request to 127.0.0.1 is the local stack's plain HTTP.
pub fn origin(req: &Request) -> String {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let host = header("host").or_else(|| req.uri().host().map(str::to_owned)).unwrap_or_default();
    let local = host.starts_with("127.0.0.1") || host.starts_with("localhost");
    let scheme = header("x-forwarded-proto").unwrap_or_else(|| if local { "http" } else { "https" }.to_owned());
    format!("{scheme}://{host}")
}

/// A query string parameter, as API Gateway parsed it or from the URI.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    if let Some(v) = req.query_string_parameters_ref().and_then(|q| q.first(name)) {
        return Some(v.to_owned());
    }
    let query = req.uri().query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
