//! The AWS requests each kind of API request makes, against moto with the real adapters,
//! next to the fewest it could make. `make bench` prints them (benches/round_trips.rs) and
//! tests/round_trips.rs keeps them from growing unnoticed.

use std::future::Future;

use serde_json::json;

use crate::calls::tally;
use crate::{first_payment_body, random_id, random_phone, repeat_payment_body, wrong_code, Answer, Function, Stack};

/// A kind of API request and the fewest DynamoDB round trips it could make, with why.
#[derive(Clone, Copy)]
pub struct Kind {
    pub name: &'static str,
    /// It sends a code: then exactly one SNS publish is right, otherwise none.
    pub sends_code: bool,
    pub minimum_dynamodb: usize,
    pub minimum_why: &'static str,
}

const ONE_WRITE: &str = "one write: the payment, its Idempotency-Key and the SMS counters in one transaction";
const READ_THEN_WRITE: &str = "read what the answer depends on, then one conditional write";
const CARD_THEN_WRITE: &str = "read the saved card (its phone gets the code), then one write";

const fn kind(name: &'static str, sends_code: bool, minimum_dynamodb: usize, minimum_why: &'static str) -> Kind {
    Kind { name, sends_code, minimum_dynamodb, minimum_why }
}
const FIRST: Kind = kind("first payment", true, 1, ONE_WRITE);
const WRONG_CODE: Kind =
    kind("verify, wrong code", false, 2, "read the payment, then one conditional write of the attempt");
const RESEND: Kind = kind("resend code", true, 2, READ_THEN_WRITE);
const RIGHT_CODE: Kind = kind("verify, right code", false, 2, READ_THEN_WRITE);
const FIRST_KEYED: Kind = kind("first payment, Idempotency-Key", true, 1, ONE_WRITE);
const REPLAY: Kind = kind("first payment, replayed key", false, 1, "read the key's stored answer");
const VERIFY_KEYED: Kind = kind("verify, Idempotency-Key", false, 2, READ_THEN_WRITE);
const REPEAT: Kind = kind("repeat payment", true, 2, CARD_THEN_WRITE);
const REPEAT_KEYED: Kind = kind("repeat payment, Idempotency-Key", true, 2, CARD_THEN_WRITE);
const REPEAT_REPLAY: Kind = kind("repeat payment, replayed key", false, 1, "read the key's stored answer");
const STATUS: Kind = kind("payment status", false, 1, "one GetItem");
const HISTORY: Kind = kind("payment history", false, 1, "one Query");
const SESSION: Kind = kind("create checkout session", false, 1, "one conditional put of the session");
const STATE: Kind =
    kind("session state (shopper)", false, 2, "read the session, then its payment and the saved cards at once");
const SESSION_PAY: Kind = kind("session payment (shopper)", true, 2, "read the session, then one write");
const SESSION_VERIFY: Kind = kind("session verify, right code (shopper)", false, 3, "read the session, then as verify");
const SESSION_READ: Kind = kind("read checkout session (merchant)", false, 2, "the session, then its payment");
const RIGHT_CODE_MANUAL: Kind = kind(
    "verify, right code (manual capture)",
    false,
    2,
    "read the payment, then one write: the hold confirmed, the order claimed, the card saved",
);
const CAPTURE: Kind = kind(
    "capture (manual)",
    false,
    2,
    "one conditional write claiming the capture (no read: its condition is the rule), the capture recorded after the acquirer",
);
const REFUND: Kind = kind(
    "refund",
    false,
    2,
    "one conditional write adding the refund (no read: its condition is the rule), its answer after the acquirer's",
);
const REFUND_KEYED: Kind =
    kind("refund, Idempotency-Key", false, 4, "the key claimed, the refund's two writes, the answer kept");
const REFUND_REST: Kind = kind("refund of what is left", false, 3, "read what is left, then the refund's two writes");
const CANCEL: Kind = kind(
    "cancel (manual)",
    false,
    2,
    "one conditional write storing it canceled (no read), its void recorded with its order given back",
);

pub struct RoundTrip {
    pub kind: Kind,
    pub status: u16,
    /// `service:Operation` of every AWS request, in order.
    pub calls: Vec<String>,
}

impl RoundTrip {
    pub fn dynamodb(&self) -> usize {
        tally(&self.calls).0
    }

    pub fn sns(&self) -> usize {
        tally(&self.calls).1
    }
}

/// The requests of a journey, each with the AWS requests it made.
struct Journey<'a> {
    stack: &'a Stack,
    trips: Vec<RoundTrip>,
}

impl Journey<'_> {
    async fn step(&mut self, kind: Kind, request: impl Future<Output = Answer>) -> Answer {
        let mark = self.stack.calls.mark();
        let answer = request.await;
        self.trips.push(RoundTrip { kind, status: answer.status, calls: self.stack.calls.since(mark) });
        answer
    }
}

fn payment_id(answer: &Answer) -> String {
    answer.body["payment_id"].as_str().unwrap_or_default().to_owned()
}

/// One shopper's whole journey, request by request: new card, wrong code, resend, right code;
/// keyed first payment and its replay; repeat payments; status and history. All from the
/// merchant's token, as in AWS.
pub async fn measure(stack: &Stack) -> Vec<RoundTrip> {
    let mut journey = Journey { stack, trips: Vec::new() };
    let user = random_id("u");
    let phone = random_phone();
    let first = first_payment_body(&user, &phone, "4242424242424242");
    let merchant = first["merchant_id"].as_str().unwrap_or_default().to_owned();
    let call = |function, path: String, body: serde_json::Value, key: Option<String>| {
        let merchant = merchant.clone();
        async move { stack.call_as(&merchant, function, &path, &body, key.as_deref()).await }
    };

    let created = journey.step(FIRST, call(Function::FirstPayment, "/payments".into(), first.clone(), None)).await;
    let verify_path = format!("/payments/{}/verify", payment_id(&created));
    let wrong = json!({ "code": wrong_code(&stack.code_sent_to(&phone)) });
    journey.step(WRONG_CODE, call(Function::VerifyCode, verify_path.clone(), wrong, None)).await;
    stack.clock.advance(30);
    let resend_path = format!("/payments/{}/resend", payment_id(&created));
    journey.step(RESEND, call(Function::VerifyCode, resend_path, json!({}), None)).await;
    let right = json!({ "code": stack.code_sent_to(&phone) });
    journey.step(RIGHT_CODE, call(Function::VerifyCode, verify_path, right, None)).await;

    let mut keyed = first;
    keyed["order_id"] = json!(random_id("o"));
    let key = Some(random_id("k"));
    let created =
        journey.step(FIRST_KEYED, call(Function::FirstPayment, "/payments".into(), keyed.clone(), key.clone())).await;
    journey.step(REPLAY, call(Function::FirstPayment, "/payments".into(), keyed, key)).await;
    let verify_path = format!("/payments/{}/verify", payment_id(&created));
    let right = json!({ "code": stack.code_sent_to(&phone) });
    journey.step(VERIFY_KEYED, call(Function::VerifyCode, verify_path, right, Some(random_id("k")))).await;

    let mut repeat = repeat_payment_body(&user);
    repeat["merchant_id"] = json!(merchant);
    journey.step(REPEAT, call(Function::RepeatPayment, "/payments/repeat".into(), repeat.clone(), None)).await;
    let key = Some(random_id("k"));
    let path = "/payments/repeat";
    journey.step(REPEAT_KEYED, call(Function::RepeatPayment, path.into(), repeat.clone(), key.clone())).await;
    journey.step(REPEAT_REPLAY, call(Function::RepeatPayment, path.into(), repeat, key)).await;
    let id = payment_id(&created);
    journey.step(STATUS, stack.get(&format!("/payments/{id}"), Some(&merchant))).await;
    journey.step(HISTORY, stack.get(&format!("/users/{user}/payments"), Some(&merchant))).await;

    session_journey(&mut journey, &merchant).await;
    money_journey(&mut journey, &merchant).await;
    journey.trips
}

/// Manual captures: one verified and captured in part, one verified and canceled.
async fn money_journey(journey: &mut Journey<'_>, merchant: &str) {
    let stack = journey.stack;
    let call = |function, path: String, body: serde_json::Value| async move {
        stack.call_as(merchant, function, &path, &body, None).await
    };
    for (kind, what, body) in [(CAPTURE, "capture", json!({"amount": 1000})), (CANCEL, "cancel", json!({}))] {
        let phone = random_phone();
        // Another card each: the journey's card is at its daily velocity limit by now.
        let mut manual = first_payment_body(&random_id("u"), &phone, &crate::random_card());
        manual["merchant_id"] = json!(merchant);
        manual["capture_method"] = json!("manual");
        let created = stack.call_as(merchant, Function::FirstPayment, "/payments", &manual, None).await;
        let id = payment_id(&created);
        let right = json!({ "code": stack.code_sent_to(&phone) });
        journey.step(RIGHT_CODE_MANUAL, call(Function::VerifyCode, format!("/payments/{id}/verify"), right)).await;
        journey.step(kind, call(Function::PaymentOperations, format!("/payments/{id}/{what}"), body)).await;
        if what == "capture" {
            let refunds = format!("/payments/{id}/refunds");
            journey.step(REFUND, call(Function::PaymentOperations, refunds.clone(), json!({"amount": 300}))).await;
            let (body, key) = (json!({"amount": 200}), random_id("k"));
            let keyed = stack.call_as(merchant, Function::PaymentOperations, &refunds, &body, Some(&key));
            journey.step(REFUND_KEYED, keyed).await;
            journey.step(REFUND_REST, call(Function::PaymentOperations, refunds, json!({}))).await;
        }
    }
}

/// A checkout session: the merchant creates it, the shopper's page reads it, pays in it,
/// enters the code; the merchant confirms.
async fn session_journey(journey: &mut Journey<'_>, merchant: &str) {
    let stack = journey.stack;
    let call = |function, path: String, body: serde_json::Value| async move {
        stack.call_as(merchant, function, &path, &body, None).await
    };
    let body = json!({"user_id": random_id("u"), "order_id": random_id("o"), "amount": 1999, "currency": "CNY"});
    let session = journey.step(SESSION, call(Function::CheckoutPage, "/checkout/sessions".into(), body)).await;
    let sid = session.body["id"].as_str().unwrap_or_default().to_owned();
    let secret = session.body["client_secret"].as_str().unwrap_or_default().to_owned();
    journey.step(STATE, stack.get_as_shopper(&format!("/checkout/{sid}/state"), Some(&secret))).await;
    let phone = random_phone();
    let paid = journey.step(SESSION_PAY, stack.pay_in_session(&sid, &secret, &phone)).await;
    let code = stack.code_sent_to(&phone);
    journey.step(SESSION_VERIFY, stack.verify_in_session(&sid, &secret, &payment_id(&paid), &code)).await;
    journey.step(SESSION_READ, stack.get_session(&format!("/checkout/sessions/{sid}"), merchant)).await;
}
