//! One handler per function. Each: route → caller (by the route's kind) → body →
//! (Idempotency-Key) → use case → reply. A route is described by an [`Endpoint`] value.

use std::future::Future;

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::auth;
use super::dto::{
    DetailsBody, EmptyBody, FirstPaymentBody, RepeatPaymentBody, SessionCardBody, SessionRepeatBody, VerifyBody,
};
use super::problem::{from_use_case, Problem};
use super::reply::Reply;
use super::request::{
    claim_deadline, idempotency_key, json_body, query_param, route, CodeAction, EndpointAction, Route,
};
use super::routes::{BodyRule, CallerKind, KeyPolicy, Replay};
use super::views::{history_view, payment_view, Urls};
use crate::domain::{page_size, CheckoutSession, HistoryCursor, Identifier, Payment, PaymentId};
use crate::usecases::{
    self, run_once, Attempt, Caller, CodeServices, KeptAnswer, KeyRefusal, Keyed, KeyedRequest, KeyedResult, Ports,
    RenderAnswer, Services, UseCaseError,
};

/// Who may call a route: the merchant's server, or the browser holding the named session's
/// client secret.
pub enum Access {
    Merchant,
    /// The raw session id from the path.
    Shopper(String),
    /// The acquirer: never a caller of these handlers (its one route's handler checks each
    /// notification's signature itself), so refused here.
    Acquirer,
}

/// Who may call `route`, from its kind in the table: fails closed (a shopper's route without a
/// session id authenticates nobody).
fn access(route: &Route) -> Access {
    match route.spec().caller {
        CallerKind::Merchant => Access::Merchant,
        CallerKind::Shopper => Access::Shopper(route.session().unwrap_or_default().to_owned()),
        CallerKind::Acquirer => Access::Acquirer,
    }
}

/// What a request runs with once its caller is known.
#[derive(Clone)]
pub struct Ctx {
    pub caller: Caller,
    /// The session a shopper's request is for.
    pub session: Option<CheckoutSession>,
    /// Which routes the answer's links name.
    pub urls: Urls,
    pub now: i64,
    /// The route's success status.
    pub ok_status: u16,
}

impl Ctx {
    pub fn session(&self) -> Result<&CheckoutSession, UseCaseError> {
        self.session.as_ref().ok_or(UseCaseError::InvalidClientSecret)
    }
}

pub(super) fn not_found(hint: &str) -> Response<Body> {
    Problem::new(404, "route_not_found", format!("no such route; {hint}")).into_reply().into_response()
}

/// Who is asking, from the route's kind: fails closed.
pub(super) async fn caller_of(svc: &CodeServices, req: &Request, route: &Route) -> Result<Ctx, Problem> {
    let ctx = identify(svc, req, &access(route), route.spec().ok_status).await?;
    tracing::Span::current().record("caller", ctx.caller.audit_name());
    Ok(ctx)
}

async fn identify(svc: &CodeServices, req: &Request, access: &Access, ok_status: u16) -> Result<Ctx, Problem> {
    let now = svc.clock.now();
    match access {
        Access::Merchant => {
            Ok(Ctx { caller: auth::merchant(svc, req)?, session: None, urls: Urls::Merchant, now, ok_status })
        }
        Access::Shopper(raw) => {
            let (caller, session) = auth::shopper(svc, req, raw).await?;
            let urls = Urls::Session(session.id.clone());
            Ok(Ctx { caller, session: Some(session), urls, now, ok_status })
        }
        Access::Acquirer => {
            Err(Problem::new(401, "unauthorized", "this route takes the acquirer's signed notifications"))
        }
    }
}

/// `POST /payments` (merchant) and `POST /checkout/{session_id}/payments` (shopper)
pub async fn first_payment(svc: &Services, req: Request) -> Response<Body> {
    match route(&req) {
        Some(r @ Route::CreatePayment) => {
            post_payment(svc, &req, &r, |body: FirstPaymentBody, ctx, attempt| async move {
                let cmd = body.validate(ctx.now)?;
                ctx.caller.require(&cmd.merchant_id)?;
                Ok(usecases::first_payment(svc, cmd, attempt.as_ref()).await)
            })
            .await
        }
        Some(r @ Route::SessionPay(_)) => {
            post_payment(svc, &req, &r, |body: SessionCardBody, ctx, attempt| async move {
                let how = body.validate(ctx.now, &ctx.caller)?;
                Ok(usecases::pay_in_session(svc, ctx.session()?.clone(), how, attempt.as_ref()).await)
            })
            .await
        }
        _ => not_found("use POST /payments or POST /checkout/{session_id}/payments"),
    }
}

/// `POST /payments/repeat` (merchant) and `POST /checkout/{session_id}/payments/repeat` (shopper)
pub async fn repeat_payment(svc: &Services, req: Request) -> Response<Body> {
    match route(&req) {
        Some(r @ Route::RepeatPayment) => {
            post_payment(svc, &req, &r, |body: RepeatPaymentBody, ctx, attempt| async move {
                let cmd = body.validate()?;
                ctx.caller.require(&cmd.merchant_id)?;
                Ok(usecases::repeat_payment(svc, cmd, attempt.as_ref()).await)
            })
            .await
        }
        Some(r @ Route::SessionRepeat(_)) => {
            post_payment(svc, &req, &r, |body: SessionRepeatBody, ctx, attempt| async move {
                let how = body.validate(&ctx.caller)?;
                Ok(usecases::pay_in_session(svc, ctx.session()?.clone(), how, attempt.as_ref()).await)
            })
            .await
        }
        _ => not_found("use POST /payments/repeat or POST /checkout/{session_id}/payments/repeat"),
    }
}

/// `POST /payments/{payment_id}/verify|resend` (merchant) and
/// `POST /checkout/{session_id}/payments/{payment_id}/verify|resend` (shopper: its session's
/// latest payment only)
pub async fn verify_code(svc: &Services, req: Request) -> Response<Body> {
    match route(&req) {
        Some(r @ (Route::PaymentCode { .. } | Route::SessionCode { .. })) => code_action(svc, &req, &r).await,
        _ => not_found("use /payments/{payment_id}/verify or /resend"),
    }
}

async fn code_action(svc: &Services, req: &Request, route: &Route) -> Response<Body> {
    // An id of the wrong shape cannot exist: answered as any unknown payment.
    let id = route.payment().and_then(PaymentId::parse);
    // The shopper's session must hold this payment, and must not have ended.
    let scoped = |ctx: &Ctx, id: Option<PaymentId>| -> Result<PaymentId, UseCaseError> {
        let id = id.ok_or(UseCaseError::PaymentNotFound)?;
        if let Some(session) = &ctx.session {
            if session.payment_id.as_ref() != Some(&id) {
                return Err(UseCaseError::PaymentNotFound);
            }
            if session.is_over(ctx.now) {
                return Err(UseCaseError::SessionExpired);
            }
        }
        Ok(id)
    };
    match route.code_action() {
        None => not_found("use /payments/{payment_id}/verify or /resend"),
        Some(CodeAction::Verify) => {
            post_payment(svc, req, route, |body: VerifyBody, ctx, attempt| {
                let id = id.clone();
                async move {
                    let id = scoped(&ctx, id)?;
                    let code = body.validate()?;
                    Ok(usecases::verify_code(svc, &ctx.caller, &id, &code, attempt.as_ref()).await)
                }
            })
            .await
        }
        Some(CodeAction::Details) => {
            post(svc, req, route, |body: DetailsBody, ctx, _| {
                let id = id.clone();
                async move {
                    let id = scoped(&ctx, id)?;
                    let details = body.validate()?;
                    let p = usecases::complete_action(svc, &ctx.caller, &id, &details).await?;
                    Ok(payment_reply(&p, ctx))
                }
            })
            .await
        }
        Some(CodeAction::Resend) => {
            post(svc, req, route, |_: EmptyBody, ctx, _| {
                let id = id.clone();
                async move {
                    let id = scoped(&ctx, id)?;
                    let p = usecases::resend_code(svc, &ctx.caller, &id).await?;
                    Ok(payment_reply(&p, ctx))
                }
            })
            .await
        }
    }
}

pub(super) fn payment_reply(p: &Payment, ctx: Ctx) -> Reply {
    tracing::Span::current().record("payment_id", p.id.as_str());
    payment_answer(p, ctx.ok_status, ctx.now, &ctx.urls)
}

fn payment_answer(p: &Payment, status: u16, now: i64, urls: &Urls) -> Reply {
    Reply::json(status, &payment_view(p, now, urls))
}

/// What [`payment_reply`] answers with a payment (or [`post_payment`] with a refusal), as its
/// Idempotency-Key keeps it.
fn answer_of(ctx: &Ctx) -> RenderAnswer {
    let (now, urls, status) = (ctx.now, ctx.urls.clone(), ctx.ok_status);
    Box::new(move |answer: Result<&Payment, UseCaseError>| match answer {
        Ok(p) => payment_answer(p, status, now, &urls).stored(),
        Err(e) => from_use_case(e, now, &urls).into_reply().stored(),
    })
}

/// A POST on `route` (its value in the table says the rest): method, caller, body,
/// Idempotency-Key, then `run`, whose answer is its reply.
pub(super) async fn post<B, F, Fut>(svc: &CodeServices, req: &Request, route: &Route, run: F) -> Response<Body>
where
    B: DeserializeOwned,
    F: Fn(B, Ctx, Option<Attempt>) -> Fut,
    Fut: Future<Output = Result<Reply, UseCaseError>>,
{
    let run = |body: B, ctx: Ctx, attempt: Option<Attempt>| {
        let urls = ctx.urls.clone();
        let outcome = run(body, ctx, attempt);
        async move { Keyed::untouched(settle(svc, outcome, &urls).await) }
    };
    post_keyed(svc, req, route, run).await
}

/// A POST whose answer is the payment its use case writes (the route's key policy is
/// `WithPayment`): `run` validates, then answers what the use case did, with what it did to
/// the request's new Idempotency-Key.
pub(super) async fn post_payment<B, F, Fut>(svc: &CodeServices, req: &Request, route: &Route, run: F) -> Response<Body>
where
    B: DeserializeOwned,
    F: Fn(B, Ctx, Option<Attempt>) -> Fut,
    Fut: Future<Output = Result<KeyedResult<Payment>, UseCaseError>>,
{
    let run = |body: B, ctx: Ctx, attempt: Option<Attempt>| {
        let outcome = run(body, ctx.clone(), attempt);
        async move {
            let keyed = outcome.await.unwrap_or_else(|e| Err(e).into());
            keyed.map(|result| match result {
                Ok(p) => payment_reply(&p, ctx),
                Err(e) => from_use_case(e, svc.clock.now(), &ctx.urls).into_reply(),
            })
        }
    };
    post_keyed(svc, req, route, run).await
}

/// What [`post`] and [`post_payment`] share: `run` answers with what it did to the key.
async fn post_keyed<B, F, Fut>(svc: &CodeServices, req: &Request, route: &Route, run: F) -> Response<Body>
where
    B: DeserializeOwned,
    F: Fn(B, Ctx, Option<Attempt>) -> Fut,
    Fut: Future<Output = Keyed<Reply>>,
{
    let spec = route.spec();
    let span = request_span(req, spec.name, route.payment());
    // Boxed: a route's future holds its use case's, and several routes per function would
    // otherwise make one large future per request (too large for a debug test thread's stack).
    Box::pin(
        async move {
            let reply = if req.method() != spec.method {
                Problem::new(405, "method_not_allowed", format!("use {}", spec.method)).into_reply()
            } else {
                match caller_of(svc, req, route).await {
                    Err(p) => p.into_reply(),
                    Ok(ctx) => match (json_body::<B>(req, spec.body == BodyRule::JsonOrEmpty), idempotency_key(req)) {
                        (Err(p), _) | (_, Err(p)) => p.into_reply(),
                        (Ok((body, _)), Ok(None)) => unkeyed(run(body, ctx, None).await),
                        (Ok((_, value)), Ok(Some(key))) => keyed(svc, req, route, &ctx, &key, &value, &run).await,
                    },
                }
            };
            tracing::info!(status = reply.status, replayed = reply.replayed, "answered");
            reply.into_response()
        }
        .instrument(span),
    )
    .await
}

/// The reply of a request without a key (which no write could have seen).
fn unkeyed(keyed: Keyed<Reply>) -> Reply {
    match keyed {
        Keyed::Ran(reply, _) => reply,
        Keyed::Seen(_) => KeptAnswer::refused(KeyRefusal::InProgress),
    }
}

/// A POST under an Idempotency-Key: run at most once per key (see [`run_once`]), in the key
/// space of the caller, the route and what its path names.
async fn keyed<B, F, Fut>(
    svc: &CodeServices,
    req: &Request,
    route: &Route,
    ctx: &Ctx,
    key: &str,
    value: &serde_json::Value,
    run: &F,
) -> Reply
where
    B: DeserializeOwned,
    F: Fn(B, Ctx, Option<Attempt>) -> Fut,
    Fut: Future<Output = Keyed<Reply>>,
{
    let spec = route.spec();
    let lock_until = claim_deadline(req, svc.clock.now());
    let target = route.key_target().map(|t| format!(":{t}")).unwrap_or_default();
    // Each merchant, and each session, has its own key space.
    let scope = format!("{}/{}{target}", ctx.caller.key_scope(), spec.name);
    let render = match spec.key {
        KeyPolicy::WithPayment => Some(answer_of(ctx)),
        KeyPolicy::Claimed | KeyPolicy::Unused => None,
    };
    let empty_body = spec.body == BodyRule::JsonOrEmpty;
    let work = |attempt| async move {
        // Read again for a second run (the body parsed once already).
        match json_body::<B>(req, empty_body) {
            Ok((body, _)) => run(body, ctx.clone(), Some(attempt)).await,
            Err(p) => Keyed::untouched(p.into_reply()),
        }
    };
    let request = KeyedRequest { scope: &scope, key, body: value, lock_until };
    let reply = run_once(svc, request, render, work).await;
    match (spec.replay, reply.replayed) {
        (Replay::OpenSecret, true) => super::checkout::restore_secret(svc, reply),
        (Replay::OpenEndpointSecret, true) => super::webhook_endpoints::restore_secret(svc, reply),
        (Replay::OpenSecret | Replay::OpenEndpointSecret, false) | (Replay::AsKept, _) => reply,
    }
}

/// A GET on `route`: method, caller, then `run`.
pub(super) async fn get<F, Fut>(svc: &CodeServices, req: &Request, route: &Route, run: F) -> Response<Body>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<Reply, UseCaseError>>,
{
    let span = request_span(req, route.spec().name, None);
    Box::pin(
        async move {
            let reply = if req.method() != Method::GET {
                Problem::new(405, "method_not_allowed", "use GET").into_reply().allowing("GET")
            } else {
                match caller_of(svc, req, route).await {
                    Err(p) => p.into_reply(),
                    Ok(ctx) => {
                        let urls = ctx.urls.clone();
                        settle(svc, run(ctx), &urls).await
                    }
                }
            };
            tracing::info!(status = reply.status, "answered");
            reply.into_response()
        }
        .instrument(span),
    )
    .await
}

/// The reply of a use case's outcome.
pub(super) async fn settle(
    svc: &Ports,
    outcome: impl Future<Output = Result<Reply, UseCaseError>>,
    urls: &Urls,
) -> Reply {
    match outcome.await {
        Ok(reply) => reply,
        // A shopper's problems name its session's routes.
        Err(e) => from_use_case(e, svc.clock.now(), urls).into_reply(),
    }
}

/// Every line of a request carries the Lambda request id, the route and, once known, the caller
/// and the payment id (the path holds it for verify, resend and status): the `answered` line
/// closing each request is its audit line.
pub(super) fn request_span(req: &Request, route: &str, payment_id: Option<&str>) -> tracing::Span {
    let request_id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        %request_id,
        %route,
        caller = tracing::field::Empty,
        payment_id = tracing::field::Empty
    );
    if let Some(id) = payment_id {
        span.record("payment_id", id);
    }
    span
}

/// `GET /payments/{payment_id}` and `GET /users/{user_id}/payments?limit=&cursor=` (merchant)
pub async fn payment_status(svc: &Ports, req: Request) -> Response<Body> {
    let route = route(&req).filter(|r| {
        matches!(
            r,
            Route::GetPayment(_)
                | Route::History(_)
                | Route::PaymentMethods(_)
                | Route::ListRefunds(_)
                | Route::GetRefund(_)
                | Route::Events
                | Route::GetEvent(_)
                | Route::ListEndpoints
                | Route::Endpoint { action: EndpointAction::Get, .. }
                | Route::EndpointDeliveries(_)
        )
    });
    let path_id = match &route {
        Some(Route::GetPayment(id) | Route::ListRefunds(id)) => Some(id.as_str()),
        _ => None,
    };
    let span = request_span(&req, route.as_ref().map_or("payment-status", |r| r.spec().name), path_id);
    async {
        let reply = match (req.method(), &route) {
            (m, _) if m != Method::GET => {
                Problem::new(405, "method_not_allowed", "use GET").into_reply().allowing("GET")
            }
            (_, None) => Problem::new(
                404,
                "route_not_found",
                "use /payments/{payment_id}, /payments/{payment_id}/refunds, /refunds/{refund_id}, /users/{user_id}/payments, /users/{user_id}/payment-methods, /webhook-endpoints, /webhook-endpoints/{id}, /webhook-endpoints/{id}/deliveries, /events or /events/{event_id}",
            )
            .into_reply(),
            (_, Some(route)) => match auth::merchant(svc, &req) {
                Err(p) => p.into_reply(),
                Ok(caller) => {
                    tracing::Span::current().record("caller", caller.audit_name());
                    status_reply(svc, &req, &caller, route).await
                }
            },
        };
        tracing::info!(status = reply.status, "answered");
        reply.into_response()
    }
    .instrument(span)
    .await
}

async fn status_reply(svc: &Ports, req: &Request, caller: &Caller, route: &Route) -> Reply {
    match route {
        Route::GetPayment(raw) => match PaymentId::parse(raw) {
            None => Problem::new(404, "payment_not_found", "no payment with this id").into_reply(),
            Some(id) => {
                let outcome = async {
                    let p = usecases::payment_status(svc, caller, &id).await?;
                    Ok(Reply::json(200, &payment_view(&p, svc.clock.now(), &Urls::Merchant)))
                };
                settle(svc, outcome, &Urls::Merchant).await
            }
        },
        Route::History(raw) => history(svc, caller, req, raw).await,
        Route::PaymentMethods(raw) => super::operations::list(svc, caller, raw).await,
        Route::ListRefunds(raw) => super::operations::refunds(svc, caller, raw).await,
        Route::GetRefund(raw) => super::operations::refund(svc, caller, raw).await,
        Route::ListEndpoints => super::webhook_endpoints::list(svc, caller).await,
        Route::EndpointDeliveries(raw) => super::webhook_endpoints::deliveries(svc, caller, req, raw).await,
        Route::Endpoint { endpoint_id, .. } => super::webhook_endpoints::one(svc, caller, endpoint_id).await,
        Route::Events => super::events::events(svc, caller, req).await,
        Route::GetEvent(raw) => super::events::event(svc, caller, raw).await,
        _ => Problem::new(404, "route_not_found", "use /payments/{payment_id}").into_reply(),
    }
}

async fn history(svc: &Ports, caller: &Caller, req: &Request, raw_user: &str) -> Reply {
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
        Err(e) => from_use_case(e, now, &Urls::Merchant).into_reply(),
    }
}
