//! Faults at every step of every flow: each AWS call of first payment, repeat payment, verify,
//! resend and a shopper's payment in a checkout session (by card, and with the saved card)
//! fails in turn (throttled, 500, timed out, answer lost after landing, or the
//! invocation dying there). For each: the client gets a clear answer, the stored state stays
//! consistent, and a retry with the same Idempotency-Key converges to one outcome.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt};
use integration_tests::faults::{Fault, FaultPlan};
use integration_tests::*;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    First,
    Repeat,
    Verify,
    Resend,
    /// The shopper's page pays a checkout session by card (`POST /checkout/{id}/payments`).
    SessionPay,
    /// The shopper's page pays a checkout session with the saved card
    /// (`POST /checkout/{id}/payments/repeat`): the write with the most riders (the payment,
    /// the session's move, the key's claim, the SMS counters and the admission's checks).
    SessionRepeat,
}

const CLAIM: &[&str] = &["PutItem", "IDEM#"];
const COMPLETE: &[&str] = &["UpdateItem", "IDEM#", "completed"];
/// A payment (new, or with a new code) written with its code's SMS counted, in one transaction.
const CHARGED: &[&str] = &["TransactWriteItems", "QUOTA#"];
const READ: &[&str] = &["GetItem", "PAY#"];
/// A payment and the request's key, in one read.
const READ_WITH_KEY: &[&str] = &["BatchGetItem", "PAY#"];
const FIND_CARD: &[&str] = &["Query", "PM#"];
const COMMIT: &[&str] = &["TransactWriteItems", "PAY#"];
const SMS: &[&str] = &["Action=Publish"];
const READ_SESSION: &[&str] = &["GetItem", "SESSION#"];
/// The order, the payer's guards, the decline caps and the request's key, in one read.
const ADMISSION: &[&str] = &["BatchGetItem", "ORDER#"];
/// A first payment stored authorised (funds held) after the acquirer's approval, before its SMS.
const AUTHORISED: &[&str] = &["PutItem", "sbx_auth_"];
/// The capture stored (with the saved card).
const CAPTURED: &[&str] = &["TransactWriteItems", "\"captured\""];
const INSERT_IN_SESSION: &[&str] = &["TransactWriteItems", "SESSION#"];

fn steps(flow: Flow) -> Vec<(&'static str, &'static [&'static str])> {
    match flow {
        // A new key on a route that opens a payment: claimed in the payment's transaction, its
        // answer kept in the authorised write (a first payment) or on its own (a repeat one). A
        // repeat payment reads no admission: its checks are conditions of its write.
        Flow::First => vec![
            ("read order, guards and key", ADMISSION),
            ("store payment, claim key, count SMS and attempt", CHARGED),
            ("store authorisation", AUTHORISED),
            ("send SMS", SMS),
            ("complete key", COMPLETE),
        ],
        Flow::Repeat => vec![
            ("find card", FIND_CARD),
            ("store payment, claim key, count SMS, check admission", CHARGED),
            ("send SMS", SMS),
            ("complete key", COMPLETE),
        ],
        // The payment read with the key; the attempt's write claims it; the capture's write
        // keeps the answer.
        Flow::Verify => {
            vec![
                ("read payment and key", READ_WITH_KEY),
                ("complete payment, claim key", COMMIT),
                ("store capture and answer", CAPTURED),
            ]
        }
        Flow::Resend => vec![
            ("claim key", CLAIM),
            ("read payment", READ),
            ("store code, count SMS", CHARGED),
            ("send SMS", SMS),
            ("complete key", COMPLETE),
        ],
        Flow::SessionPay => vec![
            ("read session (its secret)", READ_SESSION),
            ("read order, guards and key", ADMISSION),
            ("store payment with its session, claim key, count SMS and attempt", INSERT_IN_SESSION),
            ("store authorisation", AUTHORISED),
            ("send SMS", SMS),
            ("complete key", COMPLETE),
        ],
        Flow::SessionRepeat => vec![
            ("read session (its secret)", READ_SESSION),
            ("find card", FIND_CARD),
            ("store payment with its session, claim key, count SMS, check admission", INSERT_IN_SESSION),
            ("send SMS", SMS),
            ("complete key", COMPLETE),
        ],
    }
}

fn is_write(matches: &[&str]) -> bool {
    !matches.contains(&"GetItem") && !matches.contains(&"Query") && !matches.contains(&"BatchGetItem")
}

fn cases() -> Vec<(Flow, &'static str, &'static [&'static str], Fault)> {
    let mut cases = Vec::new();
    for flow in [Flow::First, Flow::Repeat, Flow::Verify, Flow::Resend, Flow::SessionPay, Flow::SessionRepeat] {
        for (step, matches) in steps(flow) {
            cases.push((flow, step, matches, Fault::Throttle));
            if is_write(matches) {
                cases.push((flow, step, matches, Fault::AnswerLost));
            } else {
                cases.push((flow, step, matches, Fault::ServerError));
            }
            let dies_there = [CHARGED, SMS, COMMIT, INSERT_IN_SESSION, AUTHORISED, CAPTURED];
            if dies_there.contains(&matches) {
                cases.push((flow, step, matches, Fault::Hang));
            }
        }
    }
    cases.push((Flow::First, "send SMS", SMS, Fault::Timeout));
    cases.push((Flow::Verify, "complete payment, claim key", COMMIT, Fault::Timeout));
    cases
}

const VISA: &str = "4242424242424242";

/// The request under test: the function, path and body, and for a shopper's request the
/// session's client secret.
struct Request {
    function: Function,
    path: String,
    body: Value,
    secret: Option<String>,
}

impl Request {
    async fn send(&self, stack: &Stack, key: &str) -> Answer {
        match &self.secret {
            Some(secret) => stack.call_as_shopper(self.function, &self.path, secret, &self.body, Some(key)).await,
            None => stack.call(self.function, &self.path, &self.body, Some(key)).await,
        }
    }
}

/// The request under test, after whatever it needs was set up without faults.
async fn prepare(stack: &Stack, flow: Flow, user: &str, phone: &str) -> Request {
    if flow == Flow::SessionPay {
        let (sid, secret) = stack.create_session("shop-1", user, &random_id("o"), 1999).await;
        let path = format!("/checkout/{sid}/payments");
        return Request {
            function: Function::FirstPayment,
            path,
            body: session_card_body(phone),
            secret: Some(secret),
        };
    }
    if flow == Flow::SessionRepeat {
        // The user's saved card (a first payment, verified), then the session.
        prepare_merchant(stack, Flow::Repeat, user, phone).await;
        let (sid, secret) = stack.create_session("shop-1", user, &random_id("o"), 1999).await;
        let path = format!("/checkout/{sid}/payments/repeat");
        return Request { function: Function::RepeatPayment, path, body: json!({}), secret: Some(secret) };
    }
    let (function, path, body) = prepare_merchant(stack, flow, user, phone).await;
    Request { function, path, body, secret: None }
}

/// A merchant's request under test.
async fn prepare_merchant(stack: &Stack, flow: Flow, user: &str, phone: &str) -> (Function, String, Value) {
    let pending = || async {
        let created = stack.first_payment(&first_payment_body(user, phone, VISA)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body["payment_id"].as_str().unwrap().to_owned()
    };
    match flow {
        Flow::First | Flow::SessionPay | Flow::SessionRepeat => {
            (Function::FirstPayment, "/payments".into(), first_payment_body(user, phone, VISA))
        }
        Flow::Repeat => {
            let id = pending().await;
            assert_eq!(stack.verify(&id, &stack.code_sent_to(phone)).await.status, 200);
            (Function::RepeatPayment, "/payments/repeat".into(), repeat_payment_body(user))
        }
        Flow::Verify => {
            let id = pending().await;
            (Function::VerifyCode, format!("/payments/{id}/verify"), json!({"code": stack.code_sent_to(phone)}))
        }
        Flow::Resend => {
            let id = pending().await;
            stack.clock.advance(30);
            (Function::VerifyCode, format!("/payments/{id}/resend"), json!({}))
        }
    }
}

fn s(item: &std::collections::HashMap<String, AttributeValue>, k: &str) -> String {
    match item.get(k) {
        Some(AttributeValue::S(v)) | Some(AttributeValue::N(v)) => v.clone(),
        _ => String::new(),
    }
}

/// What must hold after any fault: no saved card without a succeeded payment for it, no
/// pending payment whose code can neither be used nor resent, no key locked past a deadline.
async fn check_consistent(stack: &Stack) -> Result<(), String> {
    let now = stack.clock_now();
    let items = stack.scan().await;
    let of = |entity: &'static str| items.iter().filter(move |i| s(i, "entity") == entity);
    for method in of("payment_method") {
        let backed = of("payment").any(|p| {
            s(p, "status") == "succeeded"
                && s(p, "payment_method_id") == s(method, "payment_method_id")
                && s(p, "user_id") == s(method, "user_id")
        });
        if !backed {
            return Err(format!("saved card {} without a succeeded payment", s(method, "payment_method_id")));
        }
    }
    for p in of("payment").filter(|p| s(p, "status") == "requires_verification") {
        let usable = s(p, "code_expires_at").parse::<i64>().unwrap() > now;
        let resendable = s(p, "sends").parse::<u8>().unwrap() < 5;
        if !usable && !resendable {
            return Err(format!("pending payment {} can never complete", s(p, "payment_id")));
        }
    }
    for k in of("idempotency_key").filter(|k| s(k, "state") == "in_progress") {
        if s(k, "lock_until").parse::<i64>().unwrap() > now + 31 {
            return Err(format!("idempotency key locked past its deadline: {k:?}"));
        }
    }
    Ok(())
}

async fn run_case(flow: Flow, step: &str, matches: &[&str], fault: Fault) -> Result<String, String> {
    let plan = FaultPlan::default();
    let stack = Stack::with_faults(&plan).await;
    let (user, phone) = (random_id("u"), random_phone());
    let request = prepare(&stack, flow, &user, &phone).await;
    let key = random_id("key");
    let name = format!("{flow:?} / {step} / {fault:?}");

    plan.arm(matches, fault);
    let call = request.send(&stack, &key);
    let first = if fault == Fault::Hang {
        // The invocation dies (its Lambda times out) while the call hangs.
        tokio::select! {
            answer = call => Some(answer),
            () = plan.hung() => None,
        }
    } else {
        Some(call.await)
    };
    let hits = plan.hits();
    plan.disarm();
    if hits == 0 {
        return Err(format!("{name}: the fault never fired"));
    }
    let first_answer = match &first {
        None => "invocation died".to_owned(),
        Some(a) if a.status == 503 => {
            if a.body["code"] != "temporarily_unavailable" || a.headers.get("retry-after").is_none() {
                return Err(format!("{name}: 503 without code or Retry-After: {}", a.body));
            }
            "503 temporarily_unavailable + Retry-After".to_owned()
        }
        // The work was done; only recording the answer under the key failed.
        Some(a) if matches == COMPLETE && a.status < 300 => format!("{} (work done)", a.status),
        // The claim landed but its answer was lost: the SDK's retry finds it taken.
        Some(a) if matches == CLAIM && a.status == 409 && a.body["code"] == "request_in_progress" => {
            "409 request_in_progress".to_owned()
        }
        Some(a) => return Err(format!("{name}: unexpected first answer {} {}", a.status, a.body)),
    };
    check_consistent(&stack).await.map_err(|e| format!("{name}: after the fault: {e}"))?;

    // The client retries with the same key; past any claim the dead attempt left.
    stack.clock.advance(31);
    let retry = request.send(&stack, &key).await;
    if retry.status >= 300 {
        return Err(format!("{name}: retry answered {} {}", retry.status, retry.body));
    }
    let again = request.send(&stack, &key).await;
    if (again.status, &again.body) != (retry.status, &retry.body) {
        return Err(format!("{name}: a second retry differs: {} vs {}", again.body, retry.body));
    }
    // One outcome: the payment the retry answered completes, and it is the only live one.
    let id = retry.body["payment_id"].as_str().unwrap().to_owned();
    if flow == Flow::Verify {
        if retry.body["status"] != "succeeded" {
            return Err(format!("{name}: verify retry did not complete: {}", retry.body));
        }
    } else {
        let done = stack.verify(&id, &stack.code_sent_to(&phone)).await;
        if done.status != 200 {
            return Err(format!("{name}: the converged payment does not complete: {}", done.body));
        }
    }
    if matches!(flow, Flow::First | Flow::Repeat | Flow::SessionPay | Flow::SessionRepeat) {
        let order = stack.get(&format!("/payments/{id}"), None).await.body["order_id"].as_str().unwrap().to_owned();
        let live = stack
            .scan()
            .await
            .iter()
            .filter(|i| s(i, "entity") == "payment" && s(i, "order_id") == order)
            .filter(|i| s(i, "status") != "failed" && s(i, "status") != "canceled")
            .count();
        if live != 1 {
            return Err(format!("{name}: {live} live payments for one request"));
        }
    }
    check_consistent(&stack).await.map_err(|e| format!("{name}: after the retry: {e}"))?;
    Ok(format!("{name}: first answer {first_answer}; retry {} converged", retry.status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_step_of_every_flow_survives_faults() {
    let cases = cases();
    // At most 16 at a time: each case keeps production's 2-second SDK timeouts, and a burst of
    // every case's setup at once can keep the one emulator busy past them.
    let results: Vec<Result<String, String>> =
        stream::iter(cases.iter().map(|(flow, step, matches, fault)| run_case(*flow, step, matches, *fault)))
            .buffered(16)
            .collect()
            .await;
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    for line in results.iter().flatten() {
        println!("{line}");
    }
    let summary = format!(
        "faults: {} cases, {} converged, {} failed",
        results.len(),
        results.len() - failures.len(),
        failures.len()
    );
    println!("{summary}");
    record_figure("faults", &summary);
    assert!(failures.is_empty(), "{failures:#?}");
}
