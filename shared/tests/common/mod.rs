#![allow(dead_code)]
//! Helpers for the in-memory tests: a stack with a hand-moved clock.

use std::sync::Arc;

use payments_testkit::memory::MemoryStack;
use payments_testkit::ManualClock;
use shared::secrets::Keyring;

pub const CODE_KEYS: &str = "t1:ZGV2LW9ubHktY29kZS1oYXNoLWtleS1ub3QtcHJvZCE=";
pub const CARD_KEYS: &str = "t1:ZGV2LW9ubHktY2FyZC1lbmNyeXB0aW9uLWtleS0hISE=";

/// (The velocity limits on card attempts, production's here, are lifted by the tests that pay
/// with one card many times to reach another limit: [`unlimited_attempts`].)
pub fn memory_stack() -> (MemoryStack, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let stack = MemoryStack::new(
        clock.clone(),
        &Keyring::parse("CODE_HASH_KEYS", CODE_KEYS).unwrap(),
        &Keyring::parse("CARD_ENCRYPTION_KEYS", CARD_KEYS).unwrap(),
    )
    .unwrap();
    (stack, clock)
}

/// The six-digit code in the latest SMS to `phone`.
pub fn latest_code(stack: &MemoryStack, phone: &str) -> String {
    let sent = stack.sms.sent();
    let (_, text) = sent.iter().rev().find(|(to, _)| to == phone).expect("an SMS to this phone");
    text[..6].to_owned()
}

/// `req` as API Gateway's JWT authorizer passes it on: the token's claims name `merchant`.
pub fn as_merchant(req: shared::lambda_http::Request, merchant: &str) -> shared::lambda_http::Request {
    use shared::lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
    };
    use shared::lambda_http::request::RequestContext;
    use shared::lambda_http::RequestExt;
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = std::collections::HashMap::from([("merchant_id".to_owned(), merchant.to_owned())]);
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    req.with_request_context(RequestContext::ApiGatewayV2(context))
}

/// A memory stack whose card attempts no velocity limit counts.
pub fn unlimited_attempts() -> (MemoryStack, Arc<ManualClock>) {
    let (mut stack, clock) = memory_stack();
    stack.services.attempt_limits = shared::ports::AttemptLimits::unlimited();
    (stack, clock)
}
