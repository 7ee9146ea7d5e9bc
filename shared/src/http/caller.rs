//! The merchant a request's token names. API Gateway's JWT authorizer has verified the token
//! before the function runs and passes its claims in the request context.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::problem::Problem;
use crate::domain::Identifier;
use crate::usecases::Caller;

/// Claims that may carry the merchant id: a plain `merchant_id`, or a Cognito user-pool
/// custom attribute.
const MERCHANT_CLAIMS: [&str; 2] = ["merchant_id", "custom:merchant_id"];

pub fn caller(req: &Request) -> Result<Caller, Problem> {
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()),
        _ => None,
    };
    let Some(raw) = claims.and_then(|jwt| MERCHANT_CLAIMS.iter().find_map(|name| jwt.claims.get(*name))) else {
        return Ok(Caller::Unscoped);
    };
    Identifier::parse("merchant_id", raw).map(Caller::Merchant).map_err(|_| {
        Problem::new(403, "invalid_merchant_claim", "the token's merchant_id claim is not a valid merchant id")
    })
}
