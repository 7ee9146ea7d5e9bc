//! The AWS requests each kind of API request makes, against moto with the real adapters,
//! next to the fewest it could make. `make bench` prints them (benches/round_trips.rs) and
//! tests/round_trips.rs keeps them from growing unnoticed.

use serde_json::json;

use crate::calls::tally;
use crate::{first_payment_body, random_id, random_phone, repeat_payment_body, Answer, Function, Stack};

pub struct RoundTrip {
    pub request: &'static str,
    pub status: u16,
    /// `service:Operation` of every AWS request, in order.
    pub calls: Vec<String>,
    /// Whether the request sends a code (then exactly one SNS publish is right).
    pub sends_code: bool,
    /// The fewest DynamoDB round trips this request could make, and why.
    pub minimum_dynamodb: usize,
    pub minimum_why: &'static str,
}

impl RoundTrip {
    pub fn dynamodb(&self) -> usize {
        tally(&self.calls).0
    }

    pub fn sns(&self) -> usize {
        tally(&self.calls).1
    }
}

const ONE_WRITE: &str = "one write: the payment, its Idempotency-Key and the SMS counters in one transaction";
const READ_THEN_WRITE: &str = "read what the answer depends on, then one conditional write";

/// One shopper's whole journey, request by request: new card, wrong code, resend, right code;
/// keyed first payment and its replay; repeat payments; status and history.
pub async fn measure(stack: &Stack) -> Vec<RoundTrip> {
    let mut out = Vec::new();
    let user = random_id("u");
    let phone = random_phone();
    let first = first_payment_body(&user, &phone, "4242424242424242");
    let merchant = first["merchant_id"].as_str().unwrap_or_default().to_owned();
    let mut repeat = repeat_payment_body(&user);
    repeat["merchant_id"] = json!(merchant);

    let mut step = |request, sends_code, minimum_dynamodb, minimum_why, answer: Answer, mark: usize| {
        out.push(RoundTrip {
            request,
            status: answer.status,
            calls: stack.calls.since(mark),
            sends_code,
            minimum_dynamodb,
            minimum_why,
        });
        answer
    };
    macro_rules! call {
        ($name:expr, $sends:expr, $min:expr, $why:expr, $fut:expr) => {{
            let mark = stack.calls.mark();
            let answer = $fut.await;
            step($name, $sends, $min, $why, answer, mark)
        }};
    }
    let payment_id = |a: &Answer| a.body["payment_id"].as_str().unwrap_or_default().to_owned();

    let created = call!(
        "first payment",
        true,
        1,
        ONE_WRITE,
        stack.call_as(&merchant, Function::FirstPayment, "/payments", &first, None)
    );
    let id = payment_id(&created);
    let right = stack.code_sent_to(&phone);
    let verify_path = format!("/payments/{id}/verify");
    let wrong = json!({ "code": crate::wrong_code(&right) });
    call!(
        "verify, wrong code",
        false,
        2,
        "read the payment, then one conditional write of the attempt",
        stack.call_as(&merchant, Function::VerifyCode, &verify_path, &wrong, None)
    );
    stack.clock.advance(30);
    call!(
        "resend code",
        true,
        2,
        READ_THEN_WRITE,
        stack.call_as(&merchant, Function::VerifyCode, &format!("/payments/{id}/resend"), &json!({}), None)
    );
    let right = json!({ "code": stack.code_sent_to(&phone) });
    call!(
        "verify, right code",
        false,
        2,
        READ_THEN_WRITE,
        stack.call_as(&merchant, Function::VerifyCode, &verify_path, &right, None)
    );

    let mut keyed = first.clone();
    keyed["order_id"] = json!(random_id("o"));
    let key = random_id("k");
    let created = call!(
        "first payment, Idempotency-Key",
        true,
        1,
        ONE_WRITE,
        stack.call_as(&merchant, Function::FirstPayment, "/payments", &keyed, Some(&key))
    );
    call!(
        "first payment, replayed key",
        false,
        1,
        "read the key's stored answer",
        stack.call_as(&merchant, Function::FirstPayment, "/payments", &keyed, Some(&key))
    );
    let id = payment_id(&created);
    let right = json!({ "code": stack.code_sent_to(&phone) });
    call!(
        "verify, Idempotency-Key",
        false,
        2,
        READ_THEN_WRITE,
        stack.call_as(
            &merchant,
            Function::VerifyCode,
            &format!("/payments/{id}/verify"),
            &right,
            Some(&random_id("k"))
        )
    );

    call!(
        "repeat payment",
        true,
        2,
        "read the saved card (its phone gets the code), then one write",
        stack.call_as(&merchant, Function::RepeatPayment, "/payments/repeat", &repeat, None)
    );
    call!(
        "repeat payment, Idempotency-Key",
        true,
        2,
        "read the saved card (its phone gets the code), then one write",
        stack.call_as(&merchant, Function::RepeatPayment, "/payments/repeat", &repeat, Some(&random_id("k")))
    );
    call!("payment status", false, 1, "one GetItem", stack.get(&format!("/payments/{id}"), Some(&merchant)));
    call!("payment history", false, 1, "one Query", stack.get(&format!("/users/{user}/payments"), Some(&merchant)));
    out
}
