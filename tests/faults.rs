//! Faults at every step of every flow: each AWS call of first payment, repeat payment, verify,
//! resend, a shopper's payment in a checkout session (by card, and with the saved card) and the
//! merchant's capture, cancel and refund fails in turn (and a refund's acquirer call never
//! returns) (throttled, 500, timed out, answer lost after landing, or the
//! invocation dying there). For each: the client gets a clear answer, the stored state stays
//! consistent, and a retry with the same Idempotency-Key converges to one outcome.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt};
use integration_tests::faults::{Fault, FaultPlan};
use std::sync::Arc;

use integration_tests::*;
use payments_testkit::{Away, Funds, LedgerAcquirer};
use serde_json::{json, Value};
use shared::domain::{CAPTURE_GRACE_SECS, REFUND_GRACE_SECS};
use shared::usecases::lifecycle::LEASE_SECS;

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
    /// The merchant captures part of a manual-capture payment's held funds (issue 23).
    Capture,
    /// The merchant cancels a manual-capture payment awaiting its capture.
    Cancel,
    /// The merchant refunds part of a captured payment.
    Refund,
}

/// A money operation's faults also include the acquirer's: its call (the capture, the void,
/// the refund) never returns: the invocation dies after the write that claimed the call, before
/// the acquirer booked anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    Aws(&'static [&'static str], Fault),
    AcquirerNeverAnswers,
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
/// A manual capture claimed: the payment's conditional update to `capturing` (before the
/// acquirer).
const CAPTURING: &[&str] = &["PAY#", "\"capturing\""];
/// The capture recorded (after the acquirer).
const RECORD_CAPTURE: &[&str] = &["PAY#", "\"succeeded\""];
/// A cancel's conditional write (the hold still held), before the void.
const STORE_CANCELED: &[&str] = &["UpdateItem", ":canceled"];
/// The void recorded (after the acquirer).
const RECORD_VOID: &[&str] = &["PAY#", "\"canceled\"", "\"voided\""];
/// A refund added to its payment (before the acquirer).
const ADD_REFUND: &[&str] = &["UpdateItem", "refundable = refundable -"];
/// A refund's answer stored (after the acquirer).
const SETTLE_REFUND: &[&str] = &["UpdateItem", ":pending"];

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
        // A capture is claimed by its conditional write, with no read before it.
        Flow::Capture => vec![
            ("claim key", CLAIM),
            ("claim capture (store capturing)", CAPTURING),
            ("record capture", RECORD_CAPTURE),
            ("complete key", COMPLETE),
        ],
        // A cancel is one conditional write, with no read before it; a hold's order is given
        // back with its void's record.
        Flow::Cancel => vec![
            ("claim key", CLAIM),
            ("store canceled", STORE_CANCELED),
            ("record void, order back", RECORD_VOID),
            ("complete key", COMPLETE),
        ],
        Flow::Refund => vec![
            ("claim key", CLAIM),
            ("add refund", ADD_REFUND),
            ("store refund's answer", SETTLE_REFUND),
            ("complete key", COMPLETE),
        ],
    }
}

fn is_write(matches: &[&str]) -> bool {
    !matches.contains(&"GetItem") && !matches.contains(&"Query") && !matches.contains(&"BatchGetItem")
}

const FLOWS: [Flow; 9] = [
    Flow::First,
    Flow::Repeat,
    Flow::Verify,
    Flow::Resend,
    Flow::SessionPay,
    Flow::SessionRepeat,
    Flow::Capture,
    Flow::Cancel,
    Flow::Refund,
];

fn cases() -> Vec<(Flow, &'static str, Where)> {
    let mut cases = Vec::new();
    for flow in FLOWS {
        for (step, matches) in steps(flow) {
            cases.push((flow, step, Where::Aws(matches, Fault::Throttle)));
            if is_write(matches) {
                cases.push((flow, step, Where::Aws(matches, Fault::AnswerLost)));
            } else {
                cases.push((flow, step, Where::Aws(matches, Fault::ServerError)));
            }
            // The invocation dies there: after a money operation's write that claims the
            // acquirer call (before the call), and at the write that records its answer (after).
            let dies_there = [
                CHARGED,
                SMS,
                COMMIT,
                INSERT_IN_SESSION,
                AUTHORISED,
                CAPTURED,
                CAPTURING,
                RECORD_CAPTURE,
                STORE_CANCELED,
                RECORD_VOID,
                SETTLE_REFUND,
            ];
            if dies_there.contains(&matches) {
                cases.push((flow, step, Where::Aws(matches, Fault::Hang)));
            }
        }
    }
    cases.push((Flow::First, "send SMS", Where::Aws(SMS, Fault::Timeout)));
    cases.push((Flow::Verify, "complete payment, claim key", Where::Aws(COMMIT, Fault::Timeout)));
    for flow in [Flow::Capture, Flow::Cancel, Flow::Refund] {
        cases.push((flow, "ask the acquirer", Where::AcquirerNeverAnswers));
    }
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
        Flow::Capture | Flow::Cancel => {
            let mut body = first_payment_body(user, phone, VISA);
            body["capture_method"] = json!("manual");
            let created = stack.first_payment(&body).await;
            let id = created.body["payment_id"].as_str().unwrap().to_owned();
            let held = stack.verify(&id, &stack.code_sent_to(phone)).await;
            assert_eq!(held.body["status"], "requires_capture", "{}", held.body);
            let (what, body) =
                if flow == Flow::Capture { ("capture", json!({"amount": 1200})) } else { ("cancel", json!({})) };
            (Function::PaymentOperations, format!("/payments/{id}/{what}"), body)
        }
        Flow::Refund => {
            let id = pending().await;
            assert_eq!(stack.verify(&id, &stack.code_sent_to(phone)).await.status, 200);
            (Function::PaymentOperations, format!("/payments/{id}/refunds"), json!({"amount": 500}))
        }
    }
}

/// A money operation converged: done once, as the payment says and as the acquirer's books say
/// (a capture captured once, a cancel voided, a refund paid once and none lost), once the
/// sweeper has finished what a dead attempt left.
async fn check_money(stack: &Stack, ledger: &LedgerAcquirer, flow: Flow, id: &str) -> Result<(), String> {
    stack.clock.advance(REFUND_GRACE_SECS.max(CAPTURE_GRACE_SECS) + LEASE_SECS);
    shared::usecases::sweep(&stack.services, 25, 10).await.map_err(|e| e.to_string())?;
    let p = stack.get(&format!("/payments/{id}"), None).await.body;
    let funds = ledger.ledger().get(id).copied();
    match flow {
        Flow::Capture => {
            let ok = p["status"] == "succeeded" && p["amount_captured"] == 1200;
            if !ok || funds != Some(Funds::Captured) || ledger.capture_calls(id) == 0 || ledger.captured(id) != 1200 {
                return Err(format!("capture: {p} / {funds:?} / {} calls", ledger.capture_calls(id)));
            }
        }
        Flow::Cancel => {
            if p["status"] != "canceled" || funds != Some(Funds::Voided) || ledger.capture_calls(id) != 0 {
                return Err(format!("cancel: {p} / {funds:?}"));
            }
        }
        Flow::Refund => {
            let refunds = p["refunds"].as_array().cloned().unwrap_or_default();
            let booked: Vec<_> = ledger.refunds().into_values().filter(|r| r.payment_id == id).collect();
            let one = refunds.len() == 1 && refunds[0]["status"] == "succeeded" && refunds[0]["amount"] == 500;
            if !one || booked.len() != 1 || ledger.refunded(id) != 500 {
                return Err(format!("refund: {p} / booked {booked:?}"));
            }
        }
        Flow::First | Flow::Repeat | Flow::Verify | Flow::Resend | Flow::SessionPay | Flow::SessionRepeat => {}
    }
    Ok(())
}

fn s(item: &std::collections::HashMap<String, AttributeValue>, k: &str) -> String {
    match item.get(k) {
        Some(AttributeValue::S(v)) | Some(AttributeValue::N(v)) => v.clone(),
        _ => String::new(),
    }
}

/// What must hold after any fault: no saved card without a succeeded (or held) payment for it, no
/// pending payment whose code can neither be used nor resent, no key locked past a deadline.
async fn check_consistent(stack: &Stack) -> Result<(), String> {
    let now = stack.clock_now();
    let items = stack.scan().await;
    let of = |entity: &'static str| items.iter().filter(move |i| s(i, "entity") == entity);
    for method in of("payment_method") {
        // A card is saved by the payment that succeeded, or by a manual-capture payment's right
        // code (its hold confirmed: it has a `capture_before`), whatever came of the hold since.
        let backed = of("payment").any(|p| {
            (s(p, "status") == "succeeded" || !s(p, "capture_before").is_empty())
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

async fn run_case(flow: Flow, step: &str, at: Where) -> Result<String, String> {
    let plan = FaultPlan::default();
    let mut stack = Stack::with_faults(&plan).await;
    let ledger = Arc::new(LedgerAcquirer::prompt());
    stack.services.acquirer = ledger.clone();
    let (user, phone) = (random_id("u"), random_phone());
    let request = prepare(&stack, flow, &user, &phone).await;
    let key = random_id("key");
    let (matches, fault): (&[&str], Option<Fault>) = match at {
        Where::Aws(matches, fault) => (matches, Some(fault)),
        Where::AcquirerNeverAnswers => (&[], None),
    };
    let name =
        format!("{flow:?} / {step} / {}", fault.map_or("the acquirer never answers".to_owned(), |f| format!("{f:?}")));

    let first = match fault {
        Some(fault) => {
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
            first
        }
        None => {
            ledger.set_away(Away { hangs: true, ..Away::default() });
            let first = tokio::select! {
                answer = request.send(&stack, &key) => Some(answer),
                () = tokio::time::sleep(std::time::Duration::from_secs(2)) => None,
            };
            ledger.set_away(Away::default());
            first
        }
    };
    let first_answer = match &first {
        None => "invocation died".to_owned(),
        Some(a) if a.status == 503 => {
            if a.body["code"] != "temporarily_unavailable" || a.headers.get("retry-after").is_none() {
                return Err(format!("{name}: 503 without code or Retry-After: {}", a.body));
            }
            "503 temporarily_unavailable + Retry-After".to_owned()
        }
        // A money operation that finished despite the fault (an answer it could not store is
        // left for the sweeper; the checks after the retry say whether it converged).
        Some(a) if matches!(flow, Flow::Capture | Flow::Cancel | Flow::Refund) && a.status < 300 => {
            format!("{} (done)", a.status)
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

    // The client retries with the same key; past any claim the dead attempt left. A `503` with
    // `Retry-After` (a dependency slow under load: production's 2-second SDK timeouts) is
    // retried as a client would, a few times.
    stack.clock.advance(31);
    let mut retry = request.send(&stack, &key).await;
    for _ in 0..3 {
        if retry.status != 503 || retry.headers.get("retry-after").is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        stack.clock.advance(31);
        retry = request.send(&stack, &key).await;
    }
    if retry.status >= 300 {
        return Err(format!("{name}: retry answered {} {}", retry.status, retry.body));
    }
    let again = request.send(&stack, &key).await;
    if (again.status, &again.body) != (retry.status, &retry.body) {
        return Err(format!("{name}: a second retry differs: {} vs {}", again.body, retry.body));
    }
    // One outcome: the payment the retry answered completes, and it is the only live one.
    let id = retry.body["payment_id"].as_str().unwrap().to_owned();
    if matches!(flow, Flow::Capture | Flow::Cancel | Flow::Refund) {
        check_money(&stack, &ledger, flow, &id).await.map_err(|e| format!("{name}: {e}"))?;
        check_consistent(&stack).await.map_err(|e| format!("{name}: after the retry: {e}"))?;
        return Ok(format!("{name}: first answer {first_answer}; retry {} converged", retry.status));
    }
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
    // At most 8 at a time: each case keeps production's 2-second SDK timeouts, and a burst of
    // cases' setups at once, beside the campaign on 2 cores, kept the emulator busy past them
    // (16 at a time failed a setup's verify with a 503 in one clean-clone run of 2026-12-03).
    let results: Vec<Result<String, String>> =
        stream::iter(cases.iter().map(|(flow, step, at)| run_case(*flow, step, *at))).buffered(8).collect().await;
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

/// A wrong code is one write: the payment's count of attempts, the payer's, and the request's
/// key claimed with its answer. Whatever becomes of that write's answer (lost after it landed,
/// throttled, timed out, or the invocation dying there), a retry with the same key answers what
/// the first try would have (`422`, four attempts left): the code is counted once, and the next
/// wrong code leaves three. (Before the key kept its answer in that write, a write that landed
/// with its answer lost gave the key back, and the retry counted the same code again: the
/// checkout page, retrying a 503 with its key, showed one attempt fewer than the shopper had.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_code_counts_once_whatever_becomes_of_its_answer() {
    let results = futures::future::join_all(
        [Fault::AnswerLost, Fault::Throttle, Fault::Timeout, Fault::Hang].map(wrong_code_case),
    )
    .await;
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    for line in results.iter().flatten() {
        println!("{line}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

async fn wrong_code_case(fault: Fault) -> Result<String, String> {
    let plan = FaultPlan::default();
    let stack = Stack::with_faults(&plan).await;
    let (user, phone) = (random_id("u"), random_phone());
    let created = stack.first_payment(&first_payment_body(&user, &phone, VISA)).await;
    let id = created.body["payment_id"].as_str().ok_or(format!("{fault:?}: no payment: {}", created.body))?.to_owned();
    let code = stack.code_sent_to(&phone);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let request = Request {
        function: Function::VerifyCode,
        path: format!("/payments/{id}/verify"),
        body: json!({ "code": wrong }),
        secret: None,
    };
    let key = random_id("key");
    plan.arm(COMMIT, fault);
    let first = tokio::select! {
        answer = request.send(&stack, &key) => Some(answer),
        () = plan.hung() => None,
    };
    let hits = plan.hits();
    plan.disarm();
    if hits == 0 {
        return Err(format!("{fault:?}: the fault never fired"));
    }
    let first = first.map_or("invocation died".to_owned(), |a| format!("{} {}", a.status, a.body["code"]));
    let four_left =
        |a: &Answer| a.status == 422 && a.body["code"] == "incorrect_code" && a.body["attempts_remaining"] == 4;
    stack.clock.advance(31);
    let retry = request.send(&stack, &key).await;
    let again = request.send(&stack, &key).await;
    if !four_left(&retry) || (again.status, &again.body) != (retry.status, &retry.body) {
        return Err(format!(
            "{fault:?}: first {first}; the retries answered {} {} then {} {}",
            retry.status, retry.body, again.status, again.body
        ));
    }
    let next = request.send(&stack, &random_id("key")).await;
    if next.status != 422 || next.body["attempts_remaining"] != 3 {
        return Err(format!("{fault:?}: the next wrong code answered {} {}", next.status, next.body));
    }
    let right = stack.verify(&id, &code).await;
    if right.status != 200 || right.body["status"] != "succeeded" {
        return Err(format!("{fault:?}: the right code then answered {} {}", right.status, right.body));
    }
    check_consistent(&stack).await.map_err(|e| format!("{fault:?}: {e}"))?;
    Ok(format!("wrong code / {fault:?}: first answer {first}; retry 422 with 4 attempts left, counted once"))
}
