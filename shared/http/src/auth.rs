//! Who a request comes from: decided here, once per caller kind, and failing closed.
//! - Merchant routes: the merchant named by the JWT that API Gateway's authorizer verified
//!   (`merchant_id` or `custom:merchant_id` claim); locally, where `cargo lambda watch` passes
//!   no authorizer context, the `X-Local-Merchant-Id` header, only under
//!   `LOCAL_AUTH=merchant-header`. Nothing else: no claim, no caller (401).
//! - Shopper routes: one checkout session's client secret, `Authorization: Bearer <secret>`.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::problem::Problem;
use crate::config::LocalAuth;
use crate::domain::{CheckoutSession, ClientSecret, Identifier, Locale, SessionId, SourceIp};
use crate::usecases::{self, Caller, CodeServices, Ports, SessionScope, UseCaseError};

/// Claims that may carry the merchant id: a plain `merchant_id`, or a Cognito user-pool
/// custom attribute.
const MERCHANT_CLAIMS: [&str; 2] = ["merchant_id", "custom:merchant_id"];
pub const LOCAL_MERCHANT_HEADER: &str = "x-local-merchant-id";

fn unauthorized() -> Problem {
    Problem::new(401, "unauthorized", "this route needs a merchant's access token carrying a merchant_id claim")
}

/// The merchant a merchant route acts for.
pub fn merchant(svc: &Ports, req: &Request) -> Result<Caller, Problem> {
    let authorizer = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.authorizer.as_ref(),
        _ => None,
    };
    let raw = match authorizer {
        // Claims win: with an authorizer context, nothing else is looked at.
        Some(authorizer) => authorizer
            .jwt
            .as_ref()
            .and_then(|jwt| MERCHANT_CLAIMS.iter().find_map(|name| jwt.claims.get(*name)))
            .map(String::as_str),
        None if svc.settings.local_auth == LocalAuth::MerchantHeader => {
            req.headers().get(LOCAL_MERCHANT_HEADER).map(|v| v.to_str().unwrap_or("\u{0}"))
        }
        None => None,
    };
    let raw = raw.ok_or_else(unauthorized)?;
    Identifier::parse("merchant_id", raw).map(Caller::Merchant).map_err(|_| {
        Problem::new(403, "invalid_merchant_claim", "the token's merchant_id claim is not a valid merchant id")
    })
}

/// The presented client secret, if the header has the shape of one.
fn bearer(req: &Request) -> Option<ClientSecret> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    ClientSecret::parse(token.trim())
}

/// The session a shopper route names, if the request holds its secret. A missing or wrong
/// secret and an unknown (or malformed) session id get one and the same answer.
pub async fn shopper(
    svc: &CodeServices,
    req: &Request,
    raw_session: &str,
) -> Result<(Caller, CheckoutSession), Problem> {
    let now = svc.clock.now();
    let refused =
        || super::problem::from_use_case(UseCaseError::InvalidClientSecret, now, &super::views::Urls::Merchant);
    let Some(id) = SessionId::parse(raw_session) else {
        return Err(refused());
    };
    let session = usecases::authenticate(svc, &id, bearer(req).as_ref())
        .await
        .map_err(|e| super::problem::from_use_case(e, now, &super::views::Urls::Merchant))?;
    Ok((Caller::Shopper(SessionScope::of(&session, source_ip(req), browser_locale(req))), session))
}

/// The language the browser asks for, if it is one we speak (the page sends its own).
pub fn browser_locale(req: &Request) -> Option<Locale> {
    req.headers().get("accept-language").and_then(|v| v.to_str().ok()).and_then(Locale::from_accept_language)
}

/// The address the request came from, as API Gateway saw it (`requestContext.http.sourceIp`):
/// never a header the client writes.
fn source_ip(req: &Request) -> Option<SourceIp> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref().and_then(SourceIp::parse),
        _ => None,
    }
}
