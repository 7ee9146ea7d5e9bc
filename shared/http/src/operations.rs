//! The merchant's operations (the payment-operations function: capture, cancel, forgetting a
//! saved card; the code key only, for Idempotency-Keys' fingerprints) and the list of a
//! customer's saved cards (`GET /users/{user_id}/payment-methods`, served by payment-status,
//! which loads no key).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use tracing::Instrument;

use super::auth;
use super::dto::{CancelBody, CaptureBody};
use super::handlers::{payment_reply, post, request_span, settle};
use super::problem::Problem;
use super::reply::Reply;
use super::request::{route, Route};
use super::views::{brand_name, rfc3339, Urls};
use crate::domain::{Identifier, MethodId, PaymentId};
use crate::ports::SavedCard;
use crate::usecases::{self, Caller, CodeServices, Ports, UseCaseError};

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
            post(svc, &req, r, |body: CaptureBody, ctx, _| async move {
                let id = PaymentId::parse(raw).ok_or(UseCaseError::PaymentNotFound)?;
                let amount = body.validate()?;
                let p = usecases::capture_payment(svc, &ctx.caller, &id, amount).await?;
                Ok(payment_reply(&p, ctx))
            })
            .await
        }
        Some(ref r @ Route::CancelPayment(ref raw)) => {
            post(svc, &req, r, |body: CancelBody, ctx, _| async move {
                let id = PaymentId::parse(raw).ok_or(UseCaseError::PaymentNotFound)?;
                let reason = body.validate()?;
                let p = usecases::cancel_payment(svc, &ctx.caller, &id, reason).await?;
                Ok(payment_reply(&p, ctx))
            })
            .await
        }
        route => forget_route(svc, &req, route).await,
    }
}

/// `DELETE /users/{user_id}/payment-methods/{id}` (anything else: 404, or 405 on its path).
async fn forget_route(svc: &Ports, req: &Request, route: Option<Route>) -> Response<Body> {
    let route = route.filter(|r| matches!(r, Route::PaymentMethod { .. }));
    let span = request_span(req, route.as_ref().map_or("payment-operations", |r| r.spec().name), None);
    async {
        let reply = match (&route, req.method()) {
            (Some(Route::PaymentMethod { user_id, method_id }), &Method::DELETE) => match auth::merchant(svc, req) {
                Err(p) => p.into_reply(),
                Ok(caller) => {
                    tracing::Span::current().record("caller", caller.audit_name());
                    forget(svc, &caller, user_id, method_id).await
                }
            },
            (Some(_), _) => Problem::new(405, "method_not_allowed", "use DELETE").into_reply().allowing("DELETE"),
            (None, _) => Problem::new(
                404,
                "route_not_found",
                "use POST /payments/{payment_id}/capture or /cancel, or DELETE /users/{user_id}/payment-methods/{id}",
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
