//! Webhook events as the merchant receives them (issue 24): `{"id", "object": "event", "type",
//! "created_at", "data": {"object"}}`, the object as the API shows it (a payment, a refund, a
//! checkout session), and `GET /events`, `GET /events/{id}` (payment-status).

use serde_json::{json, Value};

use super::handlers::settle;
use super::problem::Problem;
use super::reply::Reply;
use super::request::query_param;
use super::views::{payment_view, refund_view, rfc3339, session_view, Urls};
use crate::domain::{EventId, Payment, Refund};
use crate::ports::{EventCursor, EventQuery, StoredEvent};
use crate::usecases::{self, Caller, Ports, SessionView, UseCaseError};
use payments_core::webhooks::{Emitted, EventType};

/// An event's payload stays under this (Standard Webhooks' advice; ours are a few KB).
pub const MAX_EVENT_BYTES: usize = 20 * 1024;

/// What an event is about.
pub enum Subject<'a> {
    Payment(&'a Payment),
    Refund(&'a Payment, &'a Refund),
    Session(&'a SessionView),
    Endpoint(&'a payments_core::webhooks::Endpoint),
}

/// The event's payload, as kept and delivered. `at` is when the change happened.
pub fn event_body(event: &Emitted, at: i64, subject: &Subject<'_>) -> String {
    let object = match subject {
        Subject::Payment(p) => payment_view(p, at, &Urls::Merchant),
        Subject::Refund(p, r) => refund_view(p, r),
        Subject::Session(view) => session_view(view, at),
        Subject::Endpoint(e) => super::webhook_endpoints::endpoint_view(e, at),
    };
    json!({
        "id": event.id.as_str(),
        "object": "event",
        "type": event.kind.as_str(),
        "created_at": rfc3339(at),
        "data": { "object": object },
    })
    .to_string()
}

/// An event as `GET /events` shows it: its payload.
fn event_view(event: &StoredEvent) -> Value {
    serde_json::from_str(&event.body)
        .unwrap_or_else(|_| json!({ "id": event.id.as_str(), "type": event.kind.as_str() }))
}

/// `GET /events/{event_id}`: one of the caller's events.
pub(super) async fn event(svc: &Ports, caller: &Caller, raw: &str) -> Reply {
    let outcome = async {
        let id = EventId::parse(raw).ok_or(UseCaseError::EventNotFound)?;
        let event = usecases::event(svc, caller, &id).await?;
        Ok(Reply::json(200, &event_view(&event)))
    };
    settle(svc, outcome, &Urls::Merchant).await
}

/// The bad query parameter of `GET /events`, named.
fn bad_param(param: &'static str, detail: &str) -> Problem {
    Problem::bad_request(detail, param)
}

fn events_query(req: &lambda_http::Request) -> Result<EventQuery, Problem> {
    let limit = match query_param(req, "limit") {
        None => 20,
        Some(raw) => raw
            .parse::<u8>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| bad_param("limit", "limit is a whole number from 1 to 100"))?,
    };
    let kind = match query_param(req, "type") {
        None => None,
        Some(raw) => Some(EventType::parse(&raw).ok_or_else(|| bad_param("type", "type is not an event type"))?),
    };
    let time = |name: &'static str| -> Result<Option<i64>, Problem> {
        query_param(req, name)
            .map(|raw| {
                time::OffsetDateTime::parse(&raw, &time::format_description::well_known::Rfc3339)
                    .map(|t| t.unix_timestamp())
                    .or_else(|_| raw.parse::<i64>())
                    .map_err(|_| bad_param(name, "a time is RFC 3339 or Unix seconds"))
            })
            .transpose()
    };
    let before = match query_param(req, "cursor") {
        None => None,
        Some(raw) => Some(EventCursor::parse(&raw).ok_or_else(|| bad_param("cursor", "cursor is not one we gave"))?),
    };
    Ok(EventQuery { kind, from: time("created_from")?, to: time("created_to")?, before, limit })
}

/// `GET /events?type=&created_from=&created_to=&limit=&cursor=`: the caller's events, newest
/// first (kept 30 days).
pub(super) async fn events(svc: &Ports, caller: &Caller, req: &lambda_http::Request) -> Reply {
    let query = match events_query(req) {
        Ok(q) => q,
        Err(p) => return p.into_reply(),
    };
    let outcome = async {
        let page = usecases::events(svc, caller, &query).await?;
        let data: Vec<Value> = page.events.iter().map(event_view).collect();
        Ok(Reply::json(
            200,
            &json!({ "object": "list", "data": data, "next_cursor": page.next.as_ref().map(EventCursor::encode) }),
        ))
    };
    settle(svc, outcome, &Urls::Merchant).await
}
