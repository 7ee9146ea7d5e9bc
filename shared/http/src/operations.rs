//! The merchant's operations (the payment-operations function: capture, cancel, forgetting a
//! saved card; the code key only, for Idempotency-Keys' fingerprints) and the list of a
//! customer's saved cards (`GET /users/{user_id}/payment-methods`, served by payment-status,
//! which loads no key).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use tracing::Instrument;

use super::auth;
use super::dto::{CancelBody, CaptureBody, RefundBody};
use super::handlers::{payment_reply, post, request_span, settle};
use super::problem::Problem;
use super::reply::Reply;
use super::request::{route, Route};
use super::views::{brand_name, refund_view, rfc3339, Urls};
use crate::domain::{Identifier, MethodId, PaymentId, RefundId};
use crate::ports::SavedCard;
use crate::usecases::{self, Attempt, Caller, CodeServices, MoneyError, Ports, UseCaseError};

/// `GET /payments/{payment_id}/refunds` (payment-status): the caller's payment's refunds,
/// oldest first.
pub(super) async fn refunds(svc: &Ports, caller: &Caller, raw_payment: &str) -> Reply {
    let outcome = async {
        let id = PaymentId::parse(raw_payment).ok_or(UseCaseError::PaymentNotFound)?;
        // The payment holds its refunds, oldest first.
        let p = usecases::payment_status(svc, caller, &id).await?;
        let data: Vec<Value> = p.refunds.iter().map(|r| refund_view(&p, r)).collect();
        Ok(Reply::json(200, &json!({ "object": "list", "payment_id": p.id.as_str(), "data": data })))
    };
    settle(svc, outcome, &Urls::Merchant).await
}

/// `GET /refunds/{refund_id}` (payment-status): one of the caller's refunds.
pub(super) async fn refund(svc: &Ports, caller: &Caller, raw_refund: &str) -> Reply {
    let outcome = async {
        let id = RefundId::parse(raw_refund).ok_or(MoneyError::RefundNotFound)?;
        let (p, r) = usecases::get_refund(svc, caller, &id).await?;
        Ok(Reply::json(200, &refund_view(&p, &r)))
    };
    settle(svc, outcome, &Urls::Merchant).await
}

/// The saved cards' list (payment-status): the caller merchant's customer's cards.
pub(super) async fn list(svc: &Ports, caller: &Caller, raw_user: &str) -> Reply {
    let outcome = async {
        let user = Identifier::parse("user_id", raw_user)?;
        let cards = usecases::payment_methods(svc, caller, &user).await?;
        let data: Vec<Value> = cards.iter().map(card_view).collect();
        Ok(Reply::json(200, &json!({ "object": "list", "user_id": user.as_str(), "data": data })))
    };
    settle(svc, outcome, &Urls::Merchant).await
}

/// A saved card as the merchant sees it: never its number, nor the phone it is bound to.
fn card_view(card: &SavedCard) -> Value {
    json!({
        "id": card.id.as_str(),
        "object": "payment_method",
        "brand": card.brand.as_str(),
        "brand_name": brand_name(card.brand),
        "last4": card.last4,
        "exp_month": card.expiry.month,
        "exp_year": card.expiry.year,
        "created_at": rfc3339(card.created_at),
        "last_used_at": card.last_used_at.map(rfc3339),
    })
}

/// The payment-operations function: the merchant's operations on what it holds. A payment's
/// held funds captured (`POST /payments/{id}/capture`), a payment canceled (`POST
/// /payments/{id}/cancel`), each under an Idempotency-Key; a customer's saved card forgotten for
/// good (`DELETE`, no key needed: deleting twice deletes once, and the second answers `404`).
pub async fn payment_operations(svc: &CodeServices, req: Request) -> Response<Body> {
    match route(&req) {
        Some(ref r @ Route::CapturePayment(ref raw)) => {
            post(svc, &req, r, |body: CaptureBody, ctx, attempt| async move {
                let id = PaymentId::parse(raw).ok_or(UseCaseError::PaymentNotFound)?;
                let amount = body.validate()?;
                let recovering = Attempt::is_recovering(attempt.as_ref());
                let p = usecases::capture_payment(svc, &ctx.caller, &id, amount, recovering).await?;
                Ok(payment_reply(&p, ctx))
            })
            .await
        }
        Some(ref r @ Route::CancelPayment(ref raw)) => {
            post(svc, &req, r, |body: CancelBody, ctx, attempt| async move {
                let id = PaymentId::parse(raw).ok_or(UseCaseError::PaymentNotFound)?;
                let reason = body.validate()?;
                let recovering = Attempt::is_recovering(attempt.as_ref());
                let p = usecases::cancel_payment(svc, &ctx.caller, &id, reason, recovering).await?;
                Ok(payment_reply(&p, ctx))
            })
            .await
        }
        Some(ref r @ Route::CreateRefund(ref raw)) => {
            post(svc, &req, r, |body: RefundBody, ctx, attempt| async move {
                let id = PaymentId::parse(raw).ok_or(UseCaseError::PaymentNotFound)?;
                let ask = body.validate()?;
                let seed = attempt.as_ref().map(|a| a.seed.as_str());
                let (p, refund_id) = usecases::create_refund(svc, &ctx.caller, &id, &ask, seed).await?;
                tracing::Span::current().record("payment_id", p.id.as_str());
                let refund = p.refund(&refund_id).ok_or(MoneyError::RefundNotFound)?;
                Ok(Reply::json(ctx.ok_status, &refund_view(&p, refund)))
            })
            .await
        }
        Some(
            ref r @ (Route::CreateEndpoint | Route::RotateSecret(_) | Route::Endpoint { .. } | Route::Redeliver(_)),
        ) if r.spec().method == req.method() => match super::webhook_endpoints::operations(svc, &req, r).await {
            Some(response) => response,
            None => forget_route(svc, &req, Some(r.clone())).await,
        },
        route => forget_route(svc, &req, route).await,
    }
}

/// `DELETE /users/{user_id}/payment-methods/{id}` and `/webhook-endpoints/{id}` (anything else:
/// 404, or 405 on a path this function serves).
async fn forget_route(svc: &Ports, req: &Request, route: Option<Route>) -> Response<Body> {
    let route = route.filter(|r| {
        matches!(
            r,
            Route::PaymentMethod { .. }
                | Route::Endpoint { .. }
                | Route::CreateEndpoint
                | Route::ListEndpoints
                | Route::RotateSecret(_)
                | Route::Redeliver(_)
        )
    });
    let span = request_span(req, route.as_ref().map_or("payment-operations", |r| r.spec().name), None);
    async {
        let reply = match (&route, req.method()) {
            (Some(route @ (Route::PaymentMethod { .. } | Route::Endpoint { .. })), &Method::DELETE) => {
                match auth::merchant(svc, req) {
                Err(p) => p.into_reply(),
                Ok(caller) => {
                    tracing::Span::current().record("caller", caller.audit_name());
                    match route {
                        Route::PaymentMethod { user_id, method_id } => forget(svc, &caller, user_id, method_id).await,
                        Route::Endpoint { endpoint_id, .. } => {
                            super::webhook_endpoints::delete(svc, &caller, endpoint_id).await
                        }
                        _ => Problem::new(404, "route_not_found", "no such route").into_reply(),
                    }
                }
            }
            },
            (Some(route), _) => {
                // What this function serves on the route's path.
                let allowed = match route {
                    Route::Endpoint { .. } => "PATCH, DELETE",
                    Route::CreateEndpoint | Route::ListEndpoints | Route::RotateSecret(_) | Route::Redeliver(_) => "POST",
                    _ => "DELETE",
                };
                Problem::new(405, "method_not_allowed", format!("use {allowed}")).into_reply().allowing(allowed)
            }
            (None, _) => Problem::new(
                404,
                "route_not_found",
                "use POST /payments/{payment_id}/capture, /cancel or /refunds, POST /webhook-endpoints, PATCH or DELETE /webhook-endpoints/{id}, POST /webhook-endpoints/{id}/rotate-secret, POST /events/{id}/redeliver, or DELETE /users/{user_id}/payment-methods/{id}",
            )
            .into_reply(),
        };
        tracing::info!(status = reply.status, "answered");
        reply.into_response()
    }
    .instrument(span)
    .await
}

async fn forget(svc: &Ports, caller: &Caller, raw_user: &str, raw_method: &str) -> Reply {
    let outcome = async {
        let user = Identifier::parse("user_id", raw_user)?;
        let id = MethodId::parse(raw_method).ok_or(UseCaseError::MethodNotFound)?;
        usecases::forget_payment_method(svc, caller, &user, &id).await?;
        Ok(Reply::json(200, &json!({ "id": id.as_str(), "object": "payment_method", "deleted": true })))
    };
    settle(svc, outcome, &Urls::Merchant).await
}
