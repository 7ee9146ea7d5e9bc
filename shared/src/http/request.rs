//! Reading a request: size, content type, JSON, typed body, path id, Idempotency-Key.

use lambda_http::http::header::CONTENT_TYPE;
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
        let param = param_of(&e.path().to_string(), &inner);
        Problem::bad_request(inner, &param)
    })?;
    Ok((typed, value))
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

/// What `POST /payments/{payment_id}/<action>` asks for. API Gateway fills pathParameters;
/// `cargo lambda watch` does not, so the raw path is read too.
pub fn payment_action(req: &Request) -> Option<(String, String)> {
    let from_params = req.path_parameters_ref().and_then(|p| p.first("payment_id")).map(str::to_owned);
    let raw = req.raw_http_path();
    let path = if raw.is_empty() { req.uri().path() } else { raw };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let [.., "payments", id, action] = segments.as_slice() else {
        return None;
    };
    let id = from_params.unwrap_or_else(|| (*id).to_owned());
    Some((id, (*action).to_owned()))
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

/// What a `GET` to the status function asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusRoute {
    /// `/payments/{payment_id}`
    Payment(String),
    /// `/users/{user_id}/payments`
    History(String),
}

/// Reads the route from API Gateway's pathParameters, or from the raw path (`cargo lambda watch`
/// sets none and prefixes `/lambda-url/<function>`).
pub fn status_route(req: &Request) -> Option<StatusRoute> {
    let params = req.path_parameters_ref();
    if let Some(user) = params.and_then(|p| p.first("user_id")) {
        return Some(StatusRoute::History(user.to_owned()));
    }
    if let Some(id) = params.and_then(|p| p.first("payment_id")) {
        return Some(StatusRoute::Payment(id.to_owned()));
    }
    let raw = req.raw_http_path();
    let path = if raw.is_empty() { req.uri().path() } else { raw };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., "users", user, "payments"] => Some(StatusRoute::History((*user).to_owned())),
        [.., "payments", id] => Some(StatusRoute::Payment((*id).to_owned())),
        _ => None,
    }
}

/// A query string parameter, as API Gateway parsed it or from the URI.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    if let Some(v) = req.query_string_parameters_ref().and_then(|q| q.first(name)) {
        return Some(v.to_owned());
    }
    let query = req.uri().query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
