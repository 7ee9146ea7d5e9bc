//! The payment lifecycle against moto: the sweeper, invoked as the scheduled function is, ends
//! what nobody finished; the per-payer lock-out holds under concurrent wrong codes.

use futures::future::join_all;
use integration_tests::*;
use shared::domain::PAYMENT_TTL_SECS;

fn payment_item(
    items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>],
    id: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    items
        .iter()
        .find(|i| {
            i["entity"].as_s().unwrap() == "payment" && i["payment_id"].as_s().ok().map(String::as_str) == Some(id)
        })
        .cloned()
        .unwrap_or_else(|| panic!("no payment {id}"))
}

#[tokio::test]
async fn the_sweeper_expires_a_payment_left_alone_and_voids_its_authorisation() {
    let stack = Stack::new().await;
    let services: &'static shared::Services = Box::leak(Box::new(stack.services.clone()));
    let sweep = || shared::jobs::sweeper(services, serde_json::json!({"source": "aws.scheduler", "detail": {}}));
    // One payment left alone (funds held), one completed.
    let (left, done) = (random_phone(), random_phone());
    let alone = stack.first_payment(&first_payment_body(&random_id("u"), &left, "4242424242424242")).await;
    let alone = alone.body["payment_id"].as_str().unwrap().to_owned();
    let paid = stack.first_payment(&first_payment_body(&random_id("u"), &done, "4242424242424242")).await;
    let paid = paid.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&paid, &stack.code_sent_to(&done)).await.status, 200);
    let items = stack.scan().await;
    assert!(payment_item(&items, &alone).contains_key("gsi2pk"), "an open payment is in the due index");
    assert!(!payment_item(&items, &paid).contains_key("gsi2pk"), "a captured one is not");

    let report = sweep().await.unwrap();
    assert_eq!(report["expired"], 0, "nothing is due before its expiry: {report}");

    stack.clock.advance(PAYMENT_TTL_SECS);
    let report = sweep().await.unwrap();
    assert_eq!((report["expired"].as_u64(), report["failed"].as_u64()), (Some(1), Some(0)), "{report}");
    let items = stack.scan().await;
    let item = payment_item(&items, &alone);
    assert_eq!(item["status"].as_s().unwrap(), "expired");
    assert_eq!(item["hold_state"].as_s().unwrap(), "voided", "its authorisation is released");
    assert!(!item.contains_key("sealed_card"), "no card ciphertext outlives the payment");
    assert!(!item.contains_key("gsi2pk"), "nothing left to do: out of the due index");
    assert_eq!(payment_item(&items, &paid)["status"].as_s().unwrap(), "succeeded");
    assert_eq!(sweep().await.unwrap()["examined"], 0, "a second run finds nothing");
    stack.delete_table().await;
}

#[tokio::test]
async fn concurrent_wrong_codes_across_a_payers_payments_lock_them_out_at_the_fifth() {
    let stack = Stack::new().await;
    let (user, phone) = (random_id("u"), random_phone());
    let mut ids = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..3 {
        let created = stack.first_payment(&first_payment_body(&user, &phone, "4242424242424242")).await;
        ids.push(created.body["payment_id"].as_str().unwrap().to_owned());
        codes.push(stack.code_sent_to(&phone));
    }
    // Three wrong codes at each of the three payments, all at once: nine failures are tried,
    // each counted in the same transaction as its attempt.
    let tries = ids.iter().zip(&codes).flat_map(|(id, code)| (0..3).map(move |_| (id.clone(), wrong_code(code))));
    let stack = &stack;
    let answers = join_all(tries.map(|(id, wrong)| async move { stack.verify(&id, &wrong).await })).await;
    let count = |code: &str| answers.iter().filter(|a| a.body["code"] == code).count();
    let codes_seen: Vec<_> = answers.iter().map(|a| (a.status, a.body["code"].clone())).collect();
    assert!(answers.iter().all(|a| a.status < 500), "{codes_seen:?}");
    assert_eq!(count("incorrect_code"), 4, "four counted failures, then the lock: {codes_seen:?}");
    assert!(count("too_many_failures") >= 1, "{codes_seen:?}");
    assert_eq!(count("incorrect_code") + count("too_many_failures") + count("request_conflict"), 9, "{codes_seen:?}");
    // Locked: the right code is not even checked, and no new payment opens, for an hour.
    let right = stack.verify(&ids[2], &codes[2]).await;
    assert_eq!((right.status, right.body["code"].as_str()), (429, Some("too_many_failures")), "{}", right.body);
    assert_eq!(right.headers["retry-after"], "3600");
    let again = stack.first_payment(&first_payment_body(&user, &random_phone(), "4242424242424242")).await;
    assert_eq!((again.status, again.body["code"].as_str()), (429, Some("too_many_failures")));
    // Every pending payment of the payer ended, its funds released.
    let items = stack.scan().await;
    for id in &ids {
        let item = payment_item(&items, id);
        assert_eq!(item["status"].as_s().unwrap(), "failed", "{item:?}");
        assert_eq!(item["hold_state"].as_s().unwrap(), "voided", "{item:?}");
    }
    stack.delete_table().await;
}

#[tokio::test]
async fn the_status_function_holds_no_key_and_reads_payments_with_their_phones_masked() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let created = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    // Stack::get is the status function as deployed: no code key, no card key. Its handler
    // runs on `Ports`, which hold none (no field to hold one) and load none at cold start.
    assert_eq!(<shared::Ports as shared::bootstrap::Capabilities>::KEYS, shared::config::Keys::NONE);
    let status = stack.get(&format!("/payments/{id}"), None).await;
    assert_eq!(status.status, 200, "{}", status.body);
    let masked = format!("+86*******{}", &phone[phone.len() - 4..]);
    assert_eq!(status.body["next_action"]["sent_to"], masked.as_str());
    let id = shared::domain::PaymentId::parse(&id).unwrap();
    let read = stack.keyless.payments.get(&id).await.unwrap().unwrap();
    assert_eq!((read.phone.number(), read.phone.masked()), (None, masked.as_str()), "the number stays sealed");
    // A function with the card key reads the number: the payment can still send codes.
    let full = stack.services.payments.get(&id).await.unwrap().unwrap();
    assert_eq!(full.phone.number().map(|p| p.expose()), Some(phone.as_str()));
    stack.delete_table().await;
}
