//! Races against moto (serialized, as DynamoDB is): conditional writes decide every winner.

use futures::future::join_all;
use integration_tests::*;

#[tokio::test]
async fn twenty_concurrent_right_codes_complete_the_payment_exactly_once() {
    let stack = Stack::new().await;
    for round in 0..3 {
        let phone = random_phone();
        let created = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await;
        let id = created.body["payment_id"].as_str().unwrap().to_owned();
        let code = stack.code_sent_to(&phone);
        let answers = join_all((0..20).map(|_| stack.verify(&id, &code))).await;
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "round {round}: {statuses:?}");
        for a in answers.iter().filter(|a| a.status != 200) {
            assert_eq!(
                (a.status, a.body["code"].as_str()),
                (409, Some("payment_not_pending")),
                "round {round}: {}",
                a.body
            );
        }
    }
}

#[tokio::test]
async fn concurrent_wrong_codes_spend_exactly_the_attempts_there_are() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let created = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    let wrong = wrong_code(&stack.code_sent_to(&phone));
    let answers = join_all((0..12).map(|_| stack.verify(&id, &wrong))).await;
    let count = |code: &str| answers.iter().filter(|a| a.body["code"] == code).count();
    assert_eq!(count("incorrect_code"), 4, "{:?}", answers.iter().map(|a| &a.body["code"]).collect::<Vec<_>>());
    assert_eq!(count("too_many_attempts"), 1);
    // The fifth wrong code also locked the payer out: later ones are refused unchecked.
    assert_eq!(count("payment_not_pending") + count("request_conflict") + count("too_many_failures"), 7);
    assert!(answers.iter().all(|a| a.status < 500));
}

#[tokio::test]
async fn concurrent_first_payments_with_one_idempotency_key_make_one_payment() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let body = first_payment_body(&random_id("u"), &phone, "4242424242424242");
    let answers =
        join_all((0..10).map(|_| stack.call(Function::FirstPayment, "/payments", &body, Some("double-tap")))).await;
    let created: Vec<_> = answers.iter().filter(|a| a.status == 201).collect();
    assert!(!created.is_empty());
    assert!(created.iter().all(|a| a.body == created[0].body), "every 201 is the same payment");
    for a in answers.iter().filter(|a| a.status != 201) {
        assert_eq!((a.status, a.body["code"].as_str()), (409, Some("request_in_progress")));
    }
    assert_eq!(stack.sms_count(&phone), 1, "one SMS");
    let payments = stack.scan().await.iter().filter(|i| i["entity"].as_s().unwrap() == "payment").count();
    assert_eq!(payments, 1, "one payment");
}
