//! The merchant's money operations (issue 23, items 1-3), through the real handlers against
//! moto, the acquirer's books kept by the ledger acquirer: manual capture, full and partial
//! (the rest released), cancel in each allowed state and refused in the others, and the
//! sweeper's cancel of a hold nobody captured in time.

use integration_tests::*;
use payments_testkit::Funds;
use serde_json::{json, Value};

/// A manual-capture first payment of 1999, verified: its id (status `requires_capture`).
async fn held_payment(stack: &Stack, user: &str) -> String {
    let phone = random_phone();
    let mut body = first_payment_body(user, &phone, &random_card());
    body["capture_method"] = json!("manual");
    let p = stack.first_payment(&body).await;
    assert_eq!(p.status, 201, "{}", p.body);
    let id = p.body["payment_id"].as_str().unwrap().to_owned();
    let held = stack.verify(&id, &stack.code_sent_to(&phone)).await;
    assert_eq!(held.status, 200, "{}", held.body);
    assert_eq!(held.body["status"], "requires_capture", "{}", held.body);
    id
}

async fn op(stack: &Stack, id: &str, what: &str, body: Value) -> Answer {
    stack.call(Function::PaymentOperations, &format!("/payments/{id}/{what}"), &body, None).await
}

#[tokio::test]
async fn a_manual_capture_holds_until_the_merchant_captures_part_and_the_rest_is_released() {
    let (stack, ledger) = stack_with_ledger().await;
    let user = random_id("u");
    let id = held_payment(&stack, &user).await;
    let held = stack.get(&format!("/payments/{id}"), None).await;
    let p = &held.body;
    assert_eq!((p["capture_method"].as_str(), p["amount_authorized"].as_u64()), (Some("manual"), Some(1999)), "{p}");
    assert!(p["amount_captured"].is_null() && p["capture_before"].as_str().is_some(), "{p}");
    assert_eq!(p["next_action"]["type"], "capture_or_cancel", "{p}");
    assert_eq!(ledger.ledger()[&id], Funds::Held);
    // Its card was saved with the hold: a repeat payment can use it already.
    let cards = stack.get(&format!("/users/{user}/payment-methods"), None).await;
    assert_eq!(cards.body["data"].as_array().map(Vec::len), Some(1), "{}", cards.body);

    // More than authorised: refused, nothing captured.
    let too_much = op(&stack, &id, "capture", json!({"amount": 2000})).await;
    assert_eq!(code_of(&too_much), (422, Some("amount_too_large")), "{}", too_much.body);
    assert_eq!(too_much.body["amount_authorized"], 1999);
    assert_eq!(ledger.capture_calls(&id), 0);

    let captured = op(&stack, &id, "capture", json!({"amount": 1200})).await;
    assert_eq!(captured.status, 200, "{}", captured.body);
    let c = &captured.body;
    assert_eq!((c["status"].as_str(), c["amount_captured"].as_u64()), (Some("succeeded"), Some(1200)), "{c}");
    assert_eq!(c["amount_authorized"], 1999);
    assert_eq!((ledger.captured(&id), ledger.capture_calls(&id)), (1200, 1), "captured once, the rest released");
    assert_eq!(ledger.ledger()[&id], Funds::Captured);
    // Once captured, neither again nor a cancel.
    assert_eq!(code_of(&op(&stack, &id, "capture", json!({})).await), (409, Some("payment_not_capturable")));
    assert_eq!(code_of(&op(&stack, &id, "cancel", json!({})).await), (409, Some("payment_not_cancelable")));
    assert_eq!(ledger.capture_calls(&id), 1);
}

#[tokio::test]
async fn a_full_capture_by_default_and_another_merchants_ids_are_not_found() {
    let (stack, ledger) = stack_with_ledger().await;
    let id = held_payment(&stack, &random_id("u")).await;
    let theirs = stack
        .call(Function::PaymentOperations, &format!("/payments/{id}/capture"), &json!({"merchant_id": "shop-2"}), None)
        .await;
    assert_eq!(theirs.status, 400, "a body naming a merchant is not a capture's: {}", theirs.body);
    let req = from_merchant(post_request(&format!("/payments/{id}/capture"), &json!({}), None), "shop-2");
    let theirs = stack.send(Function::PaymentOperations, req).await;
    assert_eq!(code_of(&theirs), (404, Some("payment_not_found")), "{}", theirs.body);
    let req = from_merchant(post_request(&format!("/payments/{id}/cancel"), &json!({}), None), "shop-2");
    assert_eq!(code_of(&stack.send(Function::PaymentOperations, req).await), (404, Some("payment_not_found")));
    let captured = op(&stack, &id, "capture", json!({})).await;
    assert_eq!(captured.body["amount_captured"], 1999, "{}", captured.body);
    assert_eq!(ledger.captured(&id), 1999);
}

#[tokio::test]
async fn cancel_voids_a_hold_awaiting_its_code_or_its_capture_and_gives_the_order_back() {
    let (stack, ledger) = stack_with_ledger().await;
    // Awaiting its code (an automatic first payment, authorised).
    let phone = random_phone();
    let p = stack.first_payment(&first_payment_body(&random_id("u"), &phone, &random_card())).await;
    let pending = p.body["payment_id"].as_str().unwrap().to_owned();
    let canceled = op(&stack, &pending, "cancel", json!({"reason": "duplicate"})).await;
    assert_eq!(canceled.status, 200, "{}", canceled.body);
    assert_eq!(
        (canceled.body["status"].as_str(), canceled.body["cancellation_reason"].as_str()),
        (Some("canceled"), Some("duplicate"))
    );
    assert_eq!(ledger.ledger()[&pending], Funds::Voided);
    let late = stack.verify(&pending, &stack.code_sent_to(&phone)).await;
    assert_eq!(code_of(&late), (409, Some("payment_not_pending")), "its code no longer works: {}", late.body);

    // Awaiting its capture: the order it claimed is free again.
    let user = random_id("u");
    let id = held_payment(&stack, &user).await;
    let order = stack.get(&format!("/payments/{id}"), None).await.body["order_id"].as_str().unwrap().to_owned();
    let bad = op(&stack, &id, "cancel", json!({"reason": "because"})).await;
    assert_eq!(code_of(&bad), (422, Some("invalid_reason")));
    let canceled = op(&stack, &id, "cancel", json!({})).await;
    assert_eq!(canceled.body["cancellation_reason"], "requested_by_customer", "{}", canceled.body);
    assert_eq!(ledger.ledger()[&id], Funds::Voided);
    assert_eq!(code_of(&op(&stack, &id, "capture", json!({})).await), (409, Some("payment_not_capturable")));
    let phone = random_phone();
    let mut again = first_payment_body(&user, &phone, &random_card());
    again["order_id"] = json!(order);
    let again = stack.first_payment(&again).await;
    let paid = stack.verify(again.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    assert_eq!(paid.body["status"], "succeeded", "the order was given back: {}", paid.body);
    // Canceled twice: refused the second time.
    assert_eq!(code_of(&op(&stack, &id, "cancel", json!({})).await), (409, Some("payment_not_cancelable")));
}

#[tokio::test]
async fn a_hold_nobody_captures_is_canceled_by_the_sweeper_and_cannot_be_captured_late() {
    let (stack, ledger) = stack_with_ledger().await;
    let id = held_payment(&stack, &random_id("u")).await;
    stack.clock.advance(7 * 86_400 + 1);
    let late = op(&stack, &id, "capture", json!({})).await;
    assert_eq!(code_of(&late), (409, Some("payment_not_capturable")), "{}", late.body);
    shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    let swept = stack.get(&format!("/payments/{id}"), None).await;
    assert_eq!(
        (swept.body["status"].as_str(), swept.body["cancellation_reason"].as_str()),
        (Some("canceled"), Some("authorization_expired")),
        "{}",
        swept.body
    );
    assert_eq!(ledger.ledger()[&id], Funds::Voided);
    assert_eq!(ledger.capture_calls(&id), 0);
}

#[tokio::test]
async fn a_manual_repeat_payment_and_a_manual_session_hold_their_funds_for_the_merchant() {
    let (stack, ledger) = stack_with_ledger().await;
    let (user, phone) = (random_id("u"), random_phone());
    let p = stack.first_payment(&first_payment_body(&user, &phone, &random_card())).await;
    stack.verify(p.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    let mut body = repeat_payment_body(&user);
    body["capture_method"] = json!("manual");
    let r = stack.repeat_payment(&body).await;
    let rid = r.body["payment_id"].as_str().unwrap().to_owned();
    let held = stack.verify(&rid, &stack.code_sent_to(&phone)).await;
    assert_eq!(held.body["status"], "requires_capture", "{}", held.body);
    assert_eq!(ledger.ledger()[&rid], Funds::Held, "authorised after its code, not captured");
    let captured = op(&stack, &rid, "capture", json!({"amount": 300})).await;
    assert_eq!(
        (captured.body["status"].as_str(), captured.body["amount_captured"].as_u64()),
        (Some("succeeded"), Some(300))
    );

    // A session created for a manual capture: its payment holds, the session is complete.
    let body = json!({"user_id": random_id("u"), "order_id": random_id("o"), "amount": 2500, "currency": "CNY",
        "capture_method": "manual"});
    let s = stack.call_as("shop-1", Function::CheckoutPage, "/checkout/sessions", &body, None).await;
    assert_eq!((s.status, s.body["capture_method"].as_str()), (201, Some("manual")), "{}", s.body);
    let (sid, secret) =
        (s.body["id"].as_str().unwrap().to_owned(), s.body["client_secret"].as_str().unwrap().to_owned());
    let phone = random_phone();
    let paid = stack.pay_in_session(&sid, &secret, &phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let held = stack.verify_in_session(&sid, &secret, &pid, &stack.code_sent_to(&phone)).await;
    assert_eq!(held.body["status"], "requires_capture", "{}", held.body);
    assert!(held.body.get("user_id").is_none(), "the shopper's view: {}", held.body);
    let session = stack.get_session(&format!("/checkout/sessions/{sid}"), "shop-1").await;
    assert_eq!(
        (session.body["status"].as_str(), session.body["payment_status"].as_str()),
        (Some("complete"), Some("requires_capture"))
    );
    assert_eq!(ledger.ledger()[&pid], Funds::Held);
}

#[tokio::test]
async fn a_capture_racing_a_cancel_leaves_the_books_and_the_payment_agreeing() {
    // Every hold has an owner: of a capture and a cancel sent together, exactly one wins; the
    // funds end captured or voided, as the payment says, never both and never held.
    let (stack, ledger) = stack_with_ledger().await;
    for round in 0..10 {
        let id = held_payment(&stack, &random_id("u")).await;
        let (captured, canceled) =
            tokio::join!(op(&stack, &id, "capture", json!({})), op(&stack, &id, "cancel", json!({})));
        let won = [captured.status, canceled.status].iter().filter(|s| **s == 200).count();
        assert_eq!(won, 1, "round {round}: {} / {}", captured.body, canceled.body);
        let status = stack.get(&format!("/payments/{id}"), None).await.body["status"].as_str().unwrap().to_owned();
        let funds = ledger.ledger()[&id];
        match status.as_str() {
            "succeeded" => assert_eq!(funds, Funds::Captured, "round {round}"),
            "canceled" => assert_eq!(funds, Funds::Voided, "round {round}"),
            other => panic!("round {round}: {other}"),
        }
        assert!(ledger.capture_calls(&id) <= 1, "round {round}");
    }
}

#[tokio::test]
async fn a_canceled_holds_order_comes_back_with_its_void_even_when_the_sweeper_records_it() {
    // The acquirer cannot void now: the payment is canceled, its funds still held, so its order
    // is not free yet; the sweeper's void gives the order back.
    let (stack, ledger) = stack_with_ledger().await;
    let user = random_id("u");
    let id = held_payment(&stack, &user).await;
    let order = stack.get(&format!("/payments/{id}"), None).await.body["order_id"].as_str().unwrap().to_owned();
    ledger.set_away(payments_testkit::Away { voids: true, ..Default::default() });
    let canceled = op(&stack, &id, "cancel", json!({})).await;
    assert_eq!(canceled.body["status"], "canceled", "{}", canceled.body);
    assert_eq!(ledger.ledger()[&id], Funds::Held);
    let phone = random_phone();
    let mut again = first_payment_body(&user, &phone, &random_card());
    again["order_id"] = json!(order);
    let early = stack.first_payment(&again).await;
    assert_eq!(code_of(&early), (409, Some("order_already_paid")), "held funds keep the order: {}", early.body);

    ledger.set_away(payments_testkit::Away::default());
    let report = shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    assert_eq!(report.voided, 1, "{report:?}");
    assert_eq!(ledger.ledger()[&id], Funds::Voided);
    again["order_id"] = json!(order);
    let later = stack.first_payment(&again).await;
    assert_eq!(later.status, 201, "the order is free once voided: {}", later.body);
    let paid = stack.verify(later.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
}

#[tokio::test]
async fn a_canceled_payment_with_nothing_to_void_leaves_the_sweepers_index() {
    let (stack, _ledger) = stack_with_ledger().await;
    let (user, phone) = (random_id("u"), random_phone());
    let p = stack.first_payment(&first_payment_body(&user, &phone, &random_card())).await;
    stack.verify(p.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    // A repeat payment awaiting its code holds nothing yet.
    let r = stack.repeat_payment(&repeat_payment_body(&user)).await;
    let id = r.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(op(&stack, &id, "cancel", json!({})).await.body["status"], "canceled");
    shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    let again = shared::usecases::sweep(&stack.services, 25, 10).await.unwrap();
    assert_eq!(again.examined, 0, "{again:?}");
}
