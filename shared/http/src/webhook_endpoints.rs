//! A merchant's webhook endpoints over HTTP (issue 24). Created, changed, rotated and deleted by
//! payment-operations (the code key seals each signing secret); listed and read by
//! payment-status (no key: a secret is never shown again). The secret is in the answers that
//! make one (creation, rotation) and nowhere else; a replay under the same Idempotency-Key shows
//! the same secret, kept sealed with the kept answer.

use lambda_http::Request;
use serde_json::{json, Value};

use super::dto::{EndpointBody, EndpointPatchBody};
use super::handlers::{post, settle};
use super::reply::Reply;
use super::request::Route;
use super::views::{rfc3339, Urls};
use crate::config::LocalAuth;
use crate::domain::EndpointId;
use crate::usecases::{self, Caller, CodeServices, Ports, UseCaseError};
use payments_core::webhooks::endpoint::secret_context;
use payments_core::webhooks::{Endpoint, WebhookSecret};

/// An endpoint as its merchant sees it: never a secret.
pub(super) fn endpoint_view(e: &Endpoint, now: i64) -> Value {
    let rotating = e.live_secrets(now).filter_map(|s| s.expires_at).min();
    json!({
        "id": e.id.as_str(),
        "object": "webhook_endpoint",
        "url": e.url,
        "enabled_events": e.events.names(),
        "description": e.description,
        "status": if e.disabled.is_none() { "enabled" } else { "disabled" },
        "disabled_reason": e.disabled.map(|d| d.as_str()),
        "previous_secret_expires_at": rotating.map(rfc3339),
        "created_at": rfc3339(e.created_at),
    })
}

fn endpoint_id(raw: &str) -> Result<EndpointId, UseCaseError> {
    EndpointId::parse(raw).ok_or(UseCaseError::EndpointNotFound)
}

fn local(svc: &Ports) -> bool {
    svc.settings.local_auth == LocalAuth::MerchantHeader
}

/// The answer that shows a secret: the endpoint with `secret`; under a key, the kept answer
/// holds it sealed instead.
fn with_secret(
    svc: &CodeServices,
    status: u16,
    e: &Endpoint,
    secret: &WebhookSecret,
    keyed: bool,
) -> Result<Reply, UseCaseError> {
    let view = endpoint_view(e, svc.clock.now());
    let mut shown = view.clone();
    if let Some(fields) = shown.as_object_mut() {
        fields.insert("secret".into(), secret.expose().into());
    }
    let mut reply = Reply::json(status, &shown);
    if keyed {
        let sealed = svc
            .kept()
            .seal(&secret_context(&e.id), &secret.expose())
            .map_err(|err| UseCaseError::Unavailable(err.to_string()))?;
        let mut kept = view;
        if let Some(fields) = kept.as_object_mut() {
            fields.insert("sealed_secret".into(), sealed.into());
        }
        reply.kept_body = Some(kept.to_string());
    }
    Ok(reply)
}

/// A replayed answer that showed a secret: the sealed one opened and put back.
pub(super) fn restore_secret(svc: &CodeServices, mut reply: Reply) -> Reply {
    let Ok(mut kept) = serde_json::from_str::<Value>(&reply.body) else { return reply };
    let Some(fields) = kept.as_object_mut() else { return reply };
    let Some(Value::String(sealed)) = fields.remove("sealed_secret") else { return reply };
    let id = fields.get("id").and_then(Value::as_str).and_then(EndpointId::parse);
    match id.and_then(|id| svc.kept().open(&secret_context(&id), &sealed).ok()) {
        Some(secret) => {
            fields.insert("secret".into(), secret.into());
        }
        None => tracing::error!("kept webhook endpoint answer cannot be opened (key retired?)"),
    }
    reply.body = kept.to_string();
    reply
}

/// payment-operations' webhook endpoint routes; `None` for any other route.
pub(super) async fn operations(
    svc: &CodeServices,
    req: &Request,
    route: &Route,
) -> Option<lambda_http::Response<lambda_http::Body>> {
    Some(match route {
        Route::CreateEndpoint => {
            post(svc, req, route, |body: EndpointBody, ctx, attempt| async move {
                let ask = body.validate(local(svc))?;
                let (e, secret) = usecases::create_endpoint(svc, &ctx.caller, ask).await?;
                with_secret(svc, ctx.ok_status, &e, &secret, attempt.is_some())
            })
            .await
        }
        Route::RotateSecret(raw) => {
            post(svc, req, route, |_: Value, ctx, attempt| async move {
                let (e, secret) = usecases::rotate_secret(svc, &ctx.caller, &endpoint_id(raw)?).await?;
                with_secret(svc, ctx.ok_status, &e, &secret, attempt.is_some())
            })
            .await
        }
        Route::Endpoint { endpoint_id: raw, action: super::request::EndpointAction::Update } => {
            post(svc, req, route, |body: EndpointPatchBody, ctx, _| async move {
                let patch = body.validate(local(svc))?;
                let e = usecases::update_endpoint(svc, &ctx.caller, &endpoint_id(raw)?, &patch).await?;
                Ok(Reply::json(ctx.ok_status, &endpoint_view(&e, ctx.now)))
            })
            .await
        }
        Route::Redeliver(raw) => {
            post(svc, req, route, |_: Value, ctx, _| async move {
                let id = crate::domain::EventId::parse(raw).ok_or(UseCaseError::EventNotFound)?;
                let sent = usecases::redeliver(svc, &ctx.caller, &id).await?;
                Ok(Reply::json(ctx.ok_status, &json!({ "id": id.as_str(), "object": "event", "redelivered_to": sent })))
            })
            .await
        }
        _ => return None,
    })
}

/// `GET /webhook-endpoints/{id}/deliveries?limit=` (payment-status): its latest attempts, newest
/// first.
pub(super) async fn deliveries(svc: &Ports, caller: &Caller, req: &Request, raw: &str) -> Reply {
    let limit = match super::request::query_param(req, "limit") {
        None => 20,
        Some(l) => match l.parse::<u8>().ok().filter(|n| (1..=100).contains(n)) {
            Some(n) => n,
            None => {
                return super::problem::Problem::bad_request("limit is a whole number from 1 to 100", "limit")
                    .into_reply()
            }
        },
    };
    let outcome = async {
        let attempts = usecases::endpoint_attempts(svc, caller, &endpoint_id(raw)?, limit).await?;
        let data: Vec<Value> = attempts
            .iter()
            .map(|a| {
                json!({
                    "object": "webhook_attempt",
                    "event_id": a.event_id.as_str(),
                    "attempt": a.number,
                    "attempted_at": rfc3339(a.at),
                    "status": a.status,
                    "error": a.error,
                    "latency_ms": a.latency_ms,
                })
            })
            .collect();
        Ok(Reply::json(200, &json!({ "object": "list", "endpoint_id": raw, "data": data })))
    };
    settle(svc, outcome, &Urls::Merchant).await
}

/// `DELETE /webhook-endpoints/{id}` (payment-operations).
pub(super) async fn delete(svc: &Ports, caller: &Caller, raw: &str) -> Reply {
    let outcome = async {
        let id = endpoint_id(raw)?;
        usecases::delete_endpoint(svc, caller, &id).await?;
        Ok(Reply::json(200, &json!({ "id": id.as_str(), "object": "webhook_endpoint", "deleted": true })))
    };
    settle(svc, outcome, &Urls::Merchant).await
}

/// `GET /webhook-endpoints` (payment-status).
pub(super) async fn list(svc: &Ports, caller: &Caller) -> Reply {
    let outcome = async {
        let now = svc.clock.now();
        let all = usecases::list_endpoints(svc, caller).await?;
        let data: Vec<Value> = all.iter().map(|e| endpoint_view(e, now)).collect();
        Ok(Reply::json(200, &json!({ "object": "list", "data": data })))
    };
    settle(svc, outcome, &Urls::Merchant).await
}

/// `GET /webhook-endpoints/{id}` (payment-status).
pub(super) async fn one(svc: &Ports, caller: &Caller, raw: &str) -> Reply {
    let outcome = async {
        let e = usecases::get_endpoint(svc, caller, &endpoint_id(raw)?).await?;
        Ok(Reply::json(200, &endpoint_view(&e, svc.clock.now())))
    };
    settle(svc, outcome, &Urls::Merchant).await
}
