//! One handler per function. Each: method check → caller → body → (Idempotency-Key) → use
//! case → reply.

use std::future::Future;

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::caller::caller;
use super::dto::{FirstPaymentBody, RepeatPaymentBody, ResendBody, VerifyBody};
use super::idempotency::run_once;
use super::problem::{from_use_case, Problem};
use super::reply::Reply;
use super::request::{
    claim_deadline, idempotency_key, json_body, payment_action, query_param, status_route, StatusRoute,
};
use super::views::{history_view, payment_view};
use crate::domain::{page_size, HistoryCursor, Identifier, Payment, PaymentId};
use crate::usecases::{self, Attempt, Caller, Services, UseCaseError};

/// `POST /payments`
pub async fn first_payment(svc: &Services, req: Request) -> Response<Body> {
    serve(
        svc,
        &req,
        "first-payment".into(),
        false,
        |body: FirstPaymentBody, caller, attempt| async move {
            let cmd = body.validate(svc.clock.now())?;
            caller.require(&cmd.merchant_id)?;
            usecases::first_payment(svc, cmd, attempt.as_ref()).await
        },
        201,
    )
    .await
}

/// `POST /payments/repeat`
pub async fn repeat_payment(svc: &Services, req: Request) -> Response<Body> {
    serve(
        svc,
        &req,
        "repeat-payment".into(),
        false,
        |body: RepeatPaymentBody, caller, attempt| async move {
            let cmd = body.validate()?;
            caller.require(&cmd.merchant_id)?;
            usecases::repeat_payment(svc, cmd, attempt.as_ref()).await
        },
        201,
    )
    .await
}

/// `POST /payments/{payment_id}/verify` and `POST /payments/{payment_id}/resend`
pub async fn verify_code(svc: &Services, req: Request) -> Response<Body> {
    if req.method() != Method::POST {
        return Problem::new(405, "method_not_allowed", "use POST").into_reply().into_response();
    }
    let Some((raw_id, action)) = payment_action(&req) else {
        return Problem::new(404, "route_not_found", "use /payments/{payment_id}/verify or /resend")
            .into_reply()
            .into_response();
    };
    // An id of the wrong shape cannot exist; answer as for any unknown payment.
    let id = PaymentId::parse(&raw_id);
    let scope = format!("{action}:{raw_id}");
    match (action.as_str(), id) {
        (_, None) if action == "verify" || action == "resend" => {
            Problem::new(404, "payment_not_found", "no payment with this id").into_reply().into_response()
        }
        ("verify", Some(id)) => {
            serve(
                svc,
                &req,
                scope,
                false,
                |body: VerifyBody, caller, attempt| async move {
                    usecases::verify_code(svc, &caller, &id, &body.validate()?, attempt.as_ref()).await
                },
                200,
            )
            .await
        }
        ("resend", Some(id)) => {
            serve(
                svc,
                &req,
                scope,
                true,
                |_: ResendBody, caller, attempt| async move {
                    usecases::resend_code(svc, &caller, &id, attempt.as_ref()).await
                },
                200,
            )
            .await
        }
        _ => Problem::new(404, "route_not_found", "use /payments/{payment_id}/verify or /resend")
            .into_reply()
            .into_response(),
    }
}

async fn serve<B, F, Fut>(
    svc: &Services,
    req: &Request,
    scope: String,
    allow_empty: bool,
    run: F,
    ok_status: u16,
) -> Response<Body>
where
    B: DeserializeOwned,
    F: FnOnce(B, Caller, Option<Attempt>) -> Fut,
    Fut: Future<Output = Result<Payment, UseCaseError>>,
{
    let path_id = payment_action(req).filter(|_| scope.contains(':')).map(|(id, _)| id);
    let span = request_span(req, &scope, path_id.as_deref());
    async move {
        let reply = if req.method() != Method::POST {
            Problem::new(405, "method_not_allowed", "use POST").into_reply()
        } else {
            match (caller(req), json_body::<B>(req, allow_empty), idempotency_key(req)) {
                (Err(p), _, _) | (_, Err(p), _) | (_, _, Err(p)) => p.into_reply(),
                (Ok(caller), Ok((body, _)), Ok(None)) => answer(svc, run(body, caller, None), ok_status).await,
                (Ok(caller), Ok((body, value)), Ok(Some(key))) => {
                    let lock_until = claim_deadline(req, svc.clock.now());
                    // Each merchant has its own key space.
                    let scope = format!("{}/{scope}", caller.key_scope());
                    let work = |attempt| answer(svc, run(body, caller, Some(attempt)), ok_status);
                    run_once(svc, &scope, &key, &value, lock_until, work).await
                }
            }
        };
        tracing::info!(status = reply.status, replayed = reply.replayed, "answered");
        reply.into_response()
    }
    .instrument(span)
    .await
}

/// Every line of a request carries the Lambda request id, the route and, once known, the
/// payment id (the path holds it for verify, resend and status).
fn request_span(req: &Request, route: &str, payment_id: Option<&str>) -> tracing::Span {
    let request_id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
    let span = tracing::info_span!("request", %request_id, %route, payment_id = tracing::field::Empty);
    if let Some(id) = payment_id {
        span.record("payment_id", id);
    }
    span
}

/// `GET /payments/{payment_id}` and `GET /users/{user_id}/payments?limit=&cursor=`
pub async fn payment_status(svc: &Services, req: Request) -> Response<Body> {
    let route = status_route(&req);
    let path_id = match &route {
        Some(StatusRoute::Payment(id)) => Some(id.as_str()),
        _ => None,
    };
    let span = request_span(&req, "payment-status", path_id);
    async {
        let reply = match (req.method(), caller(&req), &route) {
            (m, _, _) if m != Method::GET => {
                Problem::new(405, "method_not_allowed", "use GET").into_reply().allowing("GET")
            }
            (_, Err(p), _) => p.into_reply(),
            (_, _, None) => {
                Problem::new(404, "route_not_found", "use /payments/{payment_id} or /users/{user_id}/payments")
                    .into_reply()
            }
            (_, Ok(caller), Some(StatusRoute::Payment(raw))) => match PaymentId::parse(raw) {
                None => Problem::new(404, "payment_not_found", "no payment with this id").into_reply(),
                Some(id) => answer(svc, usecases::payment_status(svc, &caller, &id), 200).await,
            },
            (_, Ok(caller), Some(StatusRoute::History(raw))) => history(svc, &caller, &req, raw).await,
        };
        tracing::info!(status = reply.status, "answered");
        reply.into_response()
    }
    .instrument(span)
    .await
}

async fn history(svc: &Services, caller: &Caller, req: &Request, raw_user: &str) -> Reply {
    let query = || -> Result<_, UseCaseError> {
        let user = Identifier::parse("user_id", raw_user)?;
        let limit = page_size(query_param(req, "limit").as_deref())?;
        let after = query_param(req, "cursor").map(|c| HistoryCursor::parse(&c)).transpose()?;
        Ok((user, limit, after))
    };
    let now = svc.clock.now();
    let page = match query() {
        Ok((user, limit, after)) => {
            usecases::payment_history(svc, caller, &user, limit, after.as_ref()).await.map(|page| (user, page))
        }
        Err(e) => Err(e),
    };
    match page {
        Ok((user, page)) => Reply::json(200, &history_view(&user, &page, now)),
        Err(e) => from_use_case(e, now).into_reply(),
    }
}

async fn answer(svc: &Services, outcome: impl Future<Output = Result<Payment, UseCaseError>>, ok_status: u16) -> Reply {
    let result = outcome.await;
    let now = svc.clock.now();
    match result {
        Ok(payment) => {
            tracing::Span::current().record("payment_id", payment.id.as_str());
            Reply::json(ok_status, &payment_view(&payment, now))
        }
        Err(e) => from_use_case(e, now).into_reply(),
    }
}
