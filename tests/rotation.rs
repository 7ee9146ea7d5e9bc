//! A code-key rotation resets nothing (issue 22, item 5), through the real handlers against
//! moto: every keyed lookup digest carries its key's id, and during a rotation lookups try
//! every key while counters and guards are written under each.

use integration_tests::*;
use serde_json::json;
use shared::ports::AttemptLimits;

#[tokio::test]
async fn a_key_rotation_in_the_middle_of_a_lock_out_keeps_everything_it_guards() {
    let mut stack = Stack::new().await;
    let (user, phone, card) = (random_id("u"), random_phone(), random_card());
    let saved = stack.first_payment(&first_payment_body(&user, &phone, &card)).await;
    let pid = saved.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&pid, &stack.code_sent_to(&phone)).await.status, 200);
    // A keyed request whose retry comes after the rotation.
    let keyed = first_payment_body(&random_id("u"), &random_phone(), &random_card());
    let before = stack.call(Function::FirstPayment, "/payments", &keyed, Some("k-across")).await;
    assert_eq!(before.status, 201, "{}", before.body);

    // Five wrong codes in a row on the saved card's repeat payments lock the user and the
    // proven phone.
    let mut last = None;
    for wrongs in [3, 2] {
        let r = stack.repeat_payment(&repeat_payment_body(&user)).await;
        let rid = r.body["payment_id"].as_str().unwrap().to_owned();
        let wrong = wrong_code(&stack.code_sent_to(&phone));
        for _ in 0..wrongs {
            last = Some(stack.verify(&rid, &wrong).await);
        }
    }
    assert_eq!(last.unwrap().body["code"], "too_many_failures");
    // The card was tried once; three more tries reach its daily limit.
    for _ in 0..AttemptLimits::default().per_card_daily - 1 {
        let a = stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), &card)).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }

    stack.rotate_code_key();

    // The phone is still locked: another user's payment with it is refused.
    let other = stack.first_payment(&first_payment_body(&random_id("u"), &phone, &random_card())).await;
    assert_eq!((other.status, other.body["code"].as_str()), (429, Some("too_many_failures")), "{}", other.body);
    // The card's attempts still count.
    let tried = stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), &card)).await;
    assert_eq!(tried.body["limit"], "card", "{}", tried.body);
    // The retry is still the same request: its answer again, not idempotency_key_reused.
    let after = stack.call(Function::FirstPayment, "/payments", &keyed, Some("k-across")).await;
    assert_eq!((after.status, &after.body), (before.status, &before.body));
    // The saved card is recognised: paying with it again (the next day: past the lock and the
    // card's daily limit) updates one method.
    stack.clock.advance(86_400);
    let mut again = first_payment_body(&user, &phone, &card);
    again["order_id"] = json!(random_id("o"));
    let paid = stack.first_payment(&again).await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    assert_eq!(paid.body["payment_method"]["id"], saved.body["payment_method"]["id"]);
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&pid, &stack.code_sent_to(&phone)).await.status, 200);
    let methods = stack.scan().await.into_iter().filter(|i| i["entity"].as_s().is_ok_and(|e| e == "payment_method"));
    assert_eq!(methods.count(), 1, "the same card is saved once");
}
