//! Refunds (issue 23, item 4), through the real handlers against moto, the acquirer's books kept
//! by the ledger acquirer: full, partial and several; over the total, after the window, past
//! ten and on a payment not captured, refused; failed (its amount refundable again) and
//! pending-then-resolved by the sweeper; an acquirer away and an answer lost, finished by the
//! sweeper and paid once; a retried Idempotency-Key; another merchant's ids; and concurrent
//! refunds that never pass the capture.

use std::sync::Arc;

use futures::future::join_all;
use integration_tests::*;
use payments_testkit::{Away, LedgerAcquirer};
use serde_json::{json, Value};
use shared::adapters::sandbox_acquirer::{REFUND_FAILS_CARD, REFUND_PENDING_CARD};
use shared::domain::{Identifier, Payment, PaymentId};
use shared::ports::{AttemptLimits, RefundOutcome};

use crate::races::unlimited_sms;

/// A first payment of 1999 with `card`, paid (captured): its id.
async fn captured_payment(stack: &Stack, card: &str) -> String {
    let phone = random_phone();
    let p = stack.first_payment(&first_payment_body(&random_id("u"), &phone, card)).await;
    assert_eq!(p.status, 201, "{}", p.body);
    let id = p.body["payment_id"].as_str().unwrap().to_owned();
    let paid = stack.verify(&id, &stack.code_sent_to(&phone)).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
    id
}

async fn refund(stack: &Stack, id: &str, body: Value) -> Answer {
    stack.call(Function::PaymentOperations, &format!("/payments/{id}/refunds"), &body, None).await
}

#[tokio::test]
async fn partial_refunds_then_the_rest_and_never_more_than_was_captured() {
    let (stack, ledger) = stack_with_ledger().await;
    let id = captured_payment(&stack, &random_card()).await;

    let first = refund(
        &stack,
        &id,
        json!({"amount": 500, "reason": "requested_by_customer",
        "metadata": {"ticket": "T-1"}}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let r = &first.body;
    assert_eq!(
        (r["object"].as_str(), r["status"].as_str(), r["amount"].as_u64()),
        (Some("refund"), Some("succeeded"), Some(500))
    );
    assert_eq!((r["currency"].as_str(), r["payment_id"].as_str()), (Some("CNY"), Some(id.as_str())));
    assert_eq!((r["reason"].as_str(), r["metadata"]["ticket"].as_str()), (Some("requested_by_customer"), Some("T-1")));
    assert!(r["failure_reason"].is_null() && r["id"].as_str().unwrap().starts_with("re_"), "{r}");
    let refund_id = r["id"].as_str().unwrap().to_owned();
    stack.clock.advance(1);

    // More than is left: refused, with what is left.
    let over = refund(&stack, &id, json!({"amount": 1500})).await;
    assert_eq!(code_of(&over), (422, Some("amount_exceeds_refundable")), "{}", over.body);
    assert_eq!(over.body["amount_refundable"], 1499);
    assert_eq!(over.body["param"], "amount");

    // No amount: all that is left.
    let rest = refund(&stack, &id, json!({})).await;
    assert_eq!((rest.status, rest.body["amount"].as_u64()), (201, Some(1499)), "{}", rest.body);
    let none_left = refund(&stack, &id, json!({"amount": 1})).await;
    assert_eq!(code_of(&none_left), (422, Some("amount_exceeds_refundable")));
    assert_eq!(none_left.body["amount_refundable"], 0);
    let nothing = refund(&stack, &id, json!({})).await;
    assert_eq!(code_of(&nothing), (422, Some("amount_exceeds_refundable")), "no empty refund: {}", nothing.body);
    assert_eq!(ledger.refunded(&id), 1999, "the acquirer gave back exactly what was captured");

    // The payment, its refunds and one refund, as the merchant reads them.
    let p = stack.get(&format!("/payments/{id}"), None).await.body;
    assert_eq!((p["amount_refunded"].as_u64(), p["amount_refundable"].as_u64()), (Some(1999), Some(0)), "{p}");
    assert_eq!(p["status"], "succeeded", "a refunded payment stays succeeded");
    assert_eq!(p["refunds"].as_array().map(Vec::len), Some(2), "{p}");
    let list = stack.get(&format!("/payments/{id}/refunds"), None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let amounts: Vec<u64> =
        list.body["data"].as_array().unwrap().iter().map(|r| r["amount"].as_u64().unwrap()).collect();
    assert_eq!(amounts, vec![500, 1499], "oldest first");
    let one = stack.get(&format!("/refunds/{refund_id}"), None).await;
    assert_eq!((one.status, one.body["amount"].as_u64()), (200, Some(500)), "{}", one.body);
    let history = stack.get(&format!("/users/{}/payments", p["user_id"].as_str().unwrap()), None).await;
    assert_eq!(history.body["data"][0]["amount_refunded"], 1999, "history shows refunds: {}", history.body);

    // Another merchant's payment and refund do not exist for it.
    let theirs = from_merchant(post_request(&format!("/payments/{id}/refunds"), &json!({}), None), "shop-2");
    assert_eq!(code_of(&stack.send(Function::PaymentOperations, theirs).await), (404, Some("payment_not_found")));
    assert_eq!(
        code_of(&stack.get(&format!("/refunds/{refund_id}"), Some("shop-2")).await),
        (404, Some("refund_not_found"))
    );
    assert_eq!(
        code_of(&stack.get(&format!("/payments/{id}/refunds"), Some("shop-2")).await),
        (404, Some("payment_not_found"))
    );
    assert_eq!(code_of(&stack.get("/refunds/re_nope", None).await), (404, Some("refund_not_found")));
}

#[tokio::test]
async fn refunds_are_refused_before_the_capture_after_the_window_past_ten_and_for_bad_input() {
    let (stack, _ledger) = stack_with_ledger().await;
    // Awaiting its code: nothing captured yet.
    let phone = random_phone();
    let p = stack.first_payment(&first_payment_body(&random_id("u"), &phone, &random_card())).await;
    let pending = p.body["payment_id"].as_str().unwrap().to_owned();
    let early = refund(&stack, &pending, json!({})).await;
    assert_eq!(code_of(&early), (409, Some("payment_not_captured")), "{}", early.body);
    assert_eq!(code_of(&refund(&stack, &pending, json!({"amount": 100})).await), (409, Some("payment_not_captured")));
    assert_eq!(code_of(&refund(&stack, "pay_01jd8x9y2z3a4b5c6d7e8f9g0h", json!({"amount": 1})).await).0, 404);

    let id = captured_payment(&stack, &random_card()).await;
    for (body, code) in [
        (json!({"amount": 0}), "invalid_amount"),
        (json!({"amount": -5}), "invalid_amount"),
        (json!({"reason": "because"}), "invalid_reason"),
        (json!({"metadata": {"k": "v".repeat(501)}}), "invalid_metadata"),
        (
            json!({"metadata": (0..21).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            "invalid_metadata",
        ),
    ] {
        let a = refund(&stack, &id, body.clone()).await;
        assert_eq!(code_of(&a), (422, Some(code)), "{body}: {}", a.body);
    }
    // Ten refunds, then no more.
    for _ in 0..10 {
        assert_eq!(refund(&stack, &id, json!({"amount": 10})).await.status, 201);
    }
    assert_eq!(code_of(&refund(&stack, &id, json!({"amount": 10})).await), (422, Some("too_many_refunds")));

    // Past the refund window (180 days after the capture).
    let late = captured_payment(&stack, &random_card()).await;
    stack.clock.advance(180 * 86_400 + 1);
    let closed = refund(&stack, &late, json!({"amount": 100})).await;
    assert_eq!(code_of(&closed), (422, Some("refund_window_closed")), "{}", closed.body);
}

#[tokio::test]
async fn a_failed_refund_gives_its_amount_back_and_a_pending_one_is_resolved_by_the_sweeper() {
    let (stack, ledger) = stack_with_ledger().await;
    let failing = captured_payment(&stack, REFUND_FAILS_CARD).await;
    let failed = refund(&stack, &failing, json!({"amount": 1999})).await;
    assert_eq!(failed.status, 201, "{}", failed.body);
    assert_eq!(
        (failed.body["status"].as_str(), failed.body["failure_reason"].as_str()),
        (Some("failed"), Some("declined"))
    );
    let p = stack.get(&format!("/payments/{failing}"), None).await.body;
    assert_eq!((p["amount_refunded"].as_u64(), p["amount_refundable"].as_u64()), (Some(0), Some(1999)), "{p}");

    let pending = captured_payment(&stack, REFUND_PENDING_CARD).await;
    let r = refund(&stack, &pending, json!({"amount": 700})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (201, Some("pending")), "{}", r.body);
    let refund_id = r.body["id"].as_str().unwrap().to_owned();
    // A pending refund holds its amount.
    assert_eq!(refund(&stack, &pending, json!({})).await.body["amount"], 1299);
    // Not before its request's grace; then the sweeper's pass resolves it.
    shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    assert_eq!(stack.get(&format!("/refunds/{refund_id}"), None).await.body["status"], "pending");
    stack.clock.advance(shared::domain::REFUND_GRACE_SECS);
    let report = shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    assert!(report.refunds >= 1, "{report:?}");
    assert_eq!(stack.get(&format!("/refunds/{refund_id}"), None).await.body["status"], "succeeded");
    assert_eq!(ledger.refunds()[&refund_id].outcome, RefundOutcome::Succeeded);
    // Nothing is left for the sweeper: the payment is off its index.
    let again = shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    assert_eq!(again.examined, 0, "{again:?}");
}

#[tokio::test]
async fn a_refund_the_acquirer_did_not_answer_stays_pending_and_the_sweeper_pays_it_once() {
    let (stack, ledger) = stack_with_ledger().await;
    // Unreachable: nothing booked; the refund holds its amount, pending.
    let id = captured_payment(&stack, &random_card()).await;
    ledger.set_away(Away { refunds: true, ..Away::default() });
    let r = refund(&stack, &id, json!({"amount": 900})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (201, Some("pending")), "{}", r.body);
    let unreachable = r.body["id"].as_str().unwrap().to_owned();
    assert!(!ledger.refunds().contains_key(&unreachable));
    // Booked, its answer lost on the way back.
    ledger.set_away(Away { refund_answers: true, ..Away::default() });
    let lost = refund(&stack, &id, json!({"amount": 1000})).await;
    assert_eq!(lost.body["status"], "pending", "{}", lost.body);
    let lost = lost.body["id"].as_str().unwrap().to_owned();
    assert_eq!(ledger.refunds()[&lost].calls, 1);
    assert_eq!(code_of(&refund(&stack, &id, json!({"amount": 100})).await).1, Some("amount_exceeds_refundable"));

    ledger.set_away(Away::default());
    stack.clock.advance(shared::domain::REFUND_GRACE_SECS);
    shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    for refund_id in [&unreachable, &lost] {
        assert_eq!(stack.get(&format!("/refunds/{refund_id}"), None).await.body["status"], "succeeded");
    }
    let books = ledger.refunds();
    assert_eq!(books.len(), 2, "{books:?}");
    assert_eq!(ledger.refunded(&id), 1900, "each paid once");
}

#[tokio::test]
async fn a_refund_retried_with_its_idempotency_key_is_the_same_refund() {
    let (stack, ledger) = stack_with_ledger().await;
    let id = captured_payment(&stack, &random_card()).await;
    let path = format!("/payments/{id}/refunds");
    let body = json!({"amount": 300});
    let first = stack.call(Function::PaymentOperations, &path, &body, Some("refund-key-1")).await;
    let again = stack.call(Function::PaymentOperations, &path, &body, Some("refund-key-1")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!((again.status, &again.body["id"]), (201, &first.body["id"]));
    let other = stack.call(Function::PaymentOperations, &path, &json!({"amount": 301}), Some("refund-key-1")).await;
    assert_eq!(code_of(&other), (422, Some("idempotency_key_reused")), "{}", other.body);
    assert_eq!((ledger.refunds().len(), ledger.refunded(&id)), (1, 300));
}

fn rounds() -> usize {
    std::env::var("REFUND_RACE_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

/// Rounds per table: moto's writes slow as a table grows.
const ROUNDS_PER_TABLE: usize = 100;

#[tokio::test]
async fn concurrent_refunds_never_pass_the_capture() {
    // 20 refunds of a tenth of the capture each, sent together: exactly ten land, the rest are
    // refused, and the acquirer never gives back more than was captured. Each round refunds a
    // copy of one captured payment (a new id, stored as the capture left it: the refunds are
    // what is raced). On the second moto: every other test would queue behind this one.
    let mut rounds_done = 0;
    while rounds_done < rounds() {
        let mut stack = Stack::on_second_moto(unlimited_sms(), AttemptLimits::unlimited()).await;
        let ledger = Arc::new(LedgerAcquirer::prompt());
        stack.services.acquirer = ledger.clone();
        let id = captured_payment(&stack, &random_card()).await;
        let captured = stack.services.payments.get(&PaymentId::parse(&id).unwrap()).await.unwrap().unwrap();
        for _ in 0..ROUNDS_PER_TABLE.min(rounds() - rounds_done) {
            let copy = Payment {
                id: PaymentId::new(),
                order_id: Identifier::parse("order_id", &random_id("o")).unwrap(),
                ..captured.clone()
            };
            stack.services.payments.insert(&copy, &[]).await.unwrap();
            let id = copy.id.to_string();
            let tenth = 1999 / 10;
            let answers = join_all((0..20).map(|_| refund(&stack, &id, json!({"amount": tenth})))).await;
            let created = answers.iter().filter(|a| a.status == 201).count();
            let refused = answers
                .iter()
                .filter(|a| a.body["code"] == "amount_exceeds_refundable" || a.body["code"] == "too_many_refunds")
                .count();
            let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
            assert_eq!((created, refused), (10, 10), "round {rounds_done}: {statuses:?}");
            assert!(ledger.refunded(&id) <= 1999, "round {rounds_done}");
            let p = stack.get(&format!("/payments/{id}"), None).await.body;
            assert_eq!(p["amount_refunded"], tenth * 10, "round {rounds_done}: {p}");
            rounds_done += 1;
        }
    }
}
