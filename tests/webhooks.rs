//! Webhook events (issue 24), against moto: every change of a payment and checkout session
//! reaches the table's stream, and the webhook-events function records the events it emits,
//! once each, whatever is seen twice; the merchant reads its own with `GET /events`.

use integration_tests::*;
use serde_json::{json, Value};

fn types_of(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_paid_checkout_records_its_events_once_and_the_merchant_reads_them() {
    let stack = Stack::streaming().await;
    let phone = random_phone();
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let paid = stack.pay_in_session(&sid, &secret, &phone).await;
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let done = stack.verify_in_session(&sid, &secret, &pid, &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);

    // The event source mapping's batch: every change so far (the session's creation, the
    // payment's, its code, its success, the session's completion...).
    let batch = stack.read_stream().await;
    assert!(batch["Records"].as_array().unwrap().len() >= 3, "{batch}");
    let report =
        shared::webhook_events::record_batch(&stack.keyless, &serde_json::from_value(batch.clone()).unwrap()).await;
    assert_eq!((report.recorded, report.seen_before, report.failed.len()), (2, 0, 0), "{report:?}");
    // The same batch again (a retried invocation): nothing new.
    let again = shared::webhook_events::record_batch(&stack.keyless, &serde_json::from_value(batch).unwrap()).await;
    assert_eq!((again.recorded, again.seen_before), (0, 2), "{again:?}");
    // Nothing new on the stream since: an empty batch.
    assert_eq!(stack.drain_stream().await.recorded, 0);

    let page = stack.get("/events", None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mut kinds = types_of(&page.body);
    kinds.sort();
    assert_eq!(kinds, ["checkout.session.completed", "payment.succeeded"]);
    for event in page.body["data"].as_array().unwrap() {
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["object"], "event");
        let object = &event["data"]["object"];
        let text = event.to_string();
        assert!(text.len() < 20 * 1024 && !text.contains(&phone[3..]) && !text.contains("4242424242424242"), "{text}");
        match event["type"].as_str().unwrap() {
            "payment.succeeded" => {
                let seen = (object["payment_id"].as_str(), object["status"].as_str());
                assert_eq!(seen, (Some(pid.as_str()), Some("succeeded")));
            }
            _ => assert_eq!(
                (object["id"].as_str(), object["status"].as_str(), object["payment_id"].as_str()),
                (Some(sid.as_str()), Some("complete"), Some(pid.as_str()))
            ),
        }
        // One by id, as listed.
        let id = event["id"].as_str().unwrap();
        let one = stack.get(&format!("/events/{id}"), None).await;
        assert_eq!((one.status, &one.body), (200, event));
        // Another merchant's event is not found.
        let other = stack.get(&format!("/events/{id}"), Some("shop-2")).await;
        assert_eq!(code_of(&other), (404, Some("event_not_found")));
    }
    // By type; another merchant sees none of them.
    let completed = stack.get("/events?type=checkout.session.completed", None).await;
    assert_eq!(types_of(&completed.body), ["checkout.session.completed"]);
    assert_eq!(types_of(&stack.get("/events", Some("shop-2")).await.body), Vec::<String>::new());
    let bad = stack.get("/events?type=payment.exploded", None).await;
    assert_eq!((bad.status, bad.body["param"].as_str()), (400, Some("type")));
}

#[tokio::test]
async fn refunds_failures_and_a_merchant_ending_a_session_emit_their_events_newest_first_in_pages() {
    let stack = Stack::streaming().await;
    // A declined card: payment.failed.
    let declined = stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), "4000000000000002")).await;
    assert_eq!(declined.status, 402, "{}", declined.body);
    // A payment, then a refund of part of it: payment.succeeded, refund.succeeded.
    let phone = random_phone();
    let p = stack.first_payment(&first_payment_body(&random_id("u"), &phone, &random_card())).await;
    let id = p.body["payment_id"].as_str().unwrap().to_owned();
    stack.verify(&id, &stack.code_sent_to(&phone)).await;
    let refund = stack
        .call(Function::PaymentOperations, &format!("/payments/{id}/refunds"), &json!({"amount": 500}), None)
        .await;
    assert_eq!(refund.status, 201, "{}", refund.body);
    // A session the merchant ends unpaid: checkout.session.expired.
    let (sid, _) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let ended = stack
        .call_as("shop-1", Function::CheckoutPage, &format!("/checkout/sessions/{sid}/expire"), &json!({}), None)
        .await;
    assert_eq!(ended.status, 200, "{}", ended.body);

    let report = stack.drain_stream().await;
    assert_eq!((report.recorded, report.failed.len()), (4, 0), "{report:?}");
    let all = stack.get("/events", None).await.body;
    let mut kinds = types_of(&all);
    kinds.sort();
    assert_eq!(kinds, ["checkout.session.expired", "payment.failed", "payment.succeeded", "refund.succeeded"]);
    let refunded = all["data"].as_array().unwrap().iter().find(|e| e["type"] == "refund.succeeded").unwrap();
    assert_eq!(
        (&refunded["data"]["object"]["id"], &refunded["data"]["object"]["amount"]),
        (&refund.body["id"], &json!(500))
    );
    // Newest first, in pages of one that add up to the whole list.
    let times: Vec<&str> = all["data"].as_array().unwrap().iter().map(|e| e["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/events?limit=1".to_owned(),
            Some(c) => format!("/events?limit=1&cursor={c}"),
        };
        let page = stack.get(&path, None).await.body;
        paged.extend(page["data"].as_array().unwrap().iter().map(|e| e["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let listed: Vec<Value> = all["data"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
    assert_eq!(paged, listed);
}
