//! Full flows through the real handlers, the real AWS SDK and moto, reading codes from the SMS
//! SNS (moto) accepted.

use integration_tests::*;
use serde_json::json;
use shared::ports::AttemptLimits;

#[tokio::test]
async fn first_payment_verify_repeat_verify() {
    let stack = Stack::new().await;
    let (user, phone) = (random_id("u"), random_phone());

    let created = stack.first_payment(&first_payment_body(&user, &phone, "4242424242424242")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let p = &created.body;
    assert_eq!(p["status"], "requires_verification");
    assert_eq!((p["amount"].as_u64(), p["currency"].as_str()), (Some(1999), Some("CNY")));
    assert_eq!(p["payment_method"]["last4"], "4242");
    assert_eq!(p["payment_method"]["brand"], "visa");
    let next = &p["next_action"];
    assert_eq!(next["type"], "enter_verification_code");
    assert_eq!(next["sent_to"], format!("+86*******{}", &phone[phone.len() - 4..]));
    assert_eq!(next["attempts_remaining"], 5);
    let id = p["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(next["verify_url"], format!("/payments/{id}/verify"));
    assert_eq!(next["resend_url"], format!("/payments/{id}/resend"));
    let text = p.to_string();
    // (A three-digit CVC can occur by chance inside ids, so look for its field instead.)
    assert!(!text.contains("4242424242424242") && !text.contains(&phone[3..]) && !text.contains("cvc"), "{text}");

    let sms = sms_to(&phone).await;
    assert_eq!(sms.len(), 1);
    // What the tests read is what SNS (moto) recorded.
    assert_eq!(moto_sms_to(&stack.endpoint, &phone).await, sms);
    assert!(sms[0].ends_with(" is your code to pay CN¥19.99 to shop-1. Valid 5 min. Never share it."), "{}", sms[0]);
    let code = latest_code(&phone).await;
    assert!(!text.contains(&code), "the code is never in an answer");

    let verified = stack.verify(&id, &code).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["status"], "succeeded");
    assert!(verified.body.get("next_action").is_none());

    let repeat = stack.repeat_payment(&repeat_payment_body(&user)).await;
    assert_eq!(repeat.status, 201, "{}", repeat.body);
    assert_eq!(repeat.body["payment_method"]["id"], p["payment_method"]["id"]);
    assert_eq!(repeat.body["next_action"]["sent_to"], next["sent_to"]);
    let rid = repeat.body["payment_id"].as_str().unwrap().to_owned();
    let sms = sms_to(&phone).await;
    assert_eq!(sms.len(), 2);
    assert!(sms[1].contains("to pay CN¥5.00 to shop-1"), "{}", sms[1]);

    let verified = stack.verify(&rid, &latest_code(&phone).await).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["status"], "succeeded");
    // Single use: the same code again finds nothing pending.
    let again = stack.verify(&rid, &latest_code(&phone).await).await;
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("payment_not_pending")));

    use shared::ports::BusinessEvent as E;
    let counts = [E::PaymentCreated, E::CodeSent, E::PaymentSucceeded].map(|e| stack.metrics.count(&e));
    assert_eq!(counts, [2, 2, 2], "{:?}", stack.metrics.events());
}

#[tokio::test]
async fn repeat_payment_without_a_saved_card_guides_to_a_first_payment() {
    let stack = Stack::new().await;
    let answer = stack.repeat_payment(&repeat_payment_body(&random_id("u"))).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.headers["content-type"], "application/problem+json");
    assert_eq!(answer.body["code"], "no_saved_payment_method");
    assert_eq!(answer.body["next_action"]["type"], "provide_payment_details");
    assert_eq!(answer.body["next_action"]["url"], "/payments");
}

#[tokio::test]
async fn wrong_codes_count_down_then_lock_the_payment() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let created = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    let right = latest_code(&phone).await;
    for left in (1..5).rev() {
        let a = stack.verify(&id, &wrong_code(&right)).await;
        assert_eq!((a.status, a.body["code"].as_str()), (422, Some("incorrect_code")), "{}", a.body);
        assert_eq!(a.body["attempts_remaining"], left);
        assert_eq!(a.body["param"], "code");
    }
    let locked = stack.verify(&id, &wrong_code(&right)).await;
    assert_eq!((locked.status, locked.body["code"].as_str()), (422, Some("too_many_attempts")));
    assert_eq!(locked.body["payment"]["status"], "failed");
    assert_eq!(locked.body["payment"]["failure_code"], "too_many_attempts");
    // Five in a row also locked the payer out for an hour.
    let after = stack.verify(&id, &right).await;
    assert_eq!((after.status, after.body["code"].as_str()), (429, Some("too_many_failures")));
    assert_eq!(after.headers["retry-after"], "3600");
    let resend = stack.resend(&id).await;
    assert_eq!((resend.status, resend.body["code"].as_str()), (409, Some("payment_not_pending")));
}

#[tokio::test]
async fn resend_cooldown_new_code_and_old_code_stops_working() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let created = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    let old = latest_code(&phone).await;

    let early = stack.resend(&id).await;
    assert_eq!((early.status, early.body["code"].as_str()), (429, Some("resend_too_soon")));
    assert_eq!(early.headers["retry-after"], "30");

    stack.clock.advance(30);
    let resent = stack.resend(&id).await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert_eq!(resent.body["next_action"]["type"], "enter_verification_code");
    assert_eq!(resent.body["next_action"]["sends_remaining"], 3);
    assert_eq!(sms_to(&phone).await.len(), 2);
    let new = latest_code(&phone).await;
    if new != old {
        let a = stack.verify(&id, &old).await;
        assert_eq!(a.body["code"], "incorrect_code", "the old code stops working");
    }
    assert_eq!(stack.verify(&id, &new).await.body["status"], "succeeded");
}

#[tokio::test]
async fn expired_code_then_resend() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let created = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    stack.clock.advance(5 * 60);
    let expired = stack.verify(&id, &latest_code(&phone).await).await;
    assert_eq!((expired.status, expired.body["code"].as_str()), (422, Some("code_expired")));
    assert_eq!(stack.resend(&id).await.status, 200);
    assert_eq!(stack.verify(&id, &latest_code(&phone).await).await.body["status"], "succeeded");
}

#[tokio::test]
async fn declines_are_refused_at_creation_before_any_sms_and_save_nothing() {
    let stack = Stack::new().await;
    for (card, reason) in [("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds")] {
        let (user, phone) = (random_id("u"), random_phone());
        let declined = stack.first_payment(&first_payment_body(&user, &phone, card)).await;
        assert_eq!(declined.status, 402, "{}", declined.body);
        assert_eq!(declined.body["code"], reason);
        assert_eq!(declined.body["payment"]["status"], "failed");
        assert_eq!(declined.body["payment"]["failure_code"], reason);
        assert!(declined.body["payment"].get("next_action").is_none());
        assert_eq!(stack.sms_count(&phone), 0, "a declined card costs no SMS");
        let repeat = stack.repeat_payment(&repeat_payment_body(&user)).await;
        assert_eq!(repeat.body["code"], "no_saved_payment_method", "a declined card is not saved");
    }
}

#[tokio::test]
async fn a_capture_failure_fails_the_payment_and_frees_its_order() {
    let stack = Stack::new().await;
    let (user, phone) = (random_id("u"), random_phone());
    let mut body = first_payment_body(&user, &phone, "4000000000000341");
    let created = stack.first_payment(&body).await;
    assert_eq!(created.status, 201, "authorised: the code goes out");
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    let failed = stack.verify(&id, &latest_code(&phone).await).await;
    assert_eq!((failed.status, failed.body["code"].as_str()), (402, Some("capture_failed")), "{}", failed.body);
    assert_eq!(failed.body["payment"]["status"], "failed");
    let item = stack
        .scan()
        .await
        .into_iter()
        .find(|i| i["entity"].as_s().unwrap() == "payment" && i["payment_id"].as_s().ok() == Some(&id))
        .unwrap();
    assert_eq!(item["hold_state"].as_s().unwrap(), "voided", "the authorisation is released");
    assert!(!item.contains_key("sealed_card") && !item.contains_key("gsi2pk"), "nothing kept, nothing due");
    // The order is free again: another card pays it.
    body["card"]["number"] = serde_json::json!("4242424242424242");
    let again = stack.first_payment(&body).await;
    let again_id = again.body["payment_id"].as_str().unwrap().to_owned();
    let paid = stack.verify(&again_id, &latest_code(&phone).await).await;
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("succeeded")), "{}", paid.body);
}

#[tokio::test]
async fn idempotent_replays_converge() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let body = first_payment_body(&random_id("u"), &phone, "4242424242424242");
    let first = stack.call(Function::FirstPayment, "/payments", &body, Some("key-1")).await;
    let again = stack.call(Function::FirstPayment, "/payments", &body, Some("key-1")).await;
    assert_eq!(first.status, 201);
    assert_eq!((again.status, &again.body), (201, &first.body), "same key, same body: same answer");
    assert_eq!(again.headers["idempotency-replayed"], "true");
    assert_eq!(sms_to(&phone).await.len(), 1, "no second SMS");
    let payments = stack.scan().await.iter().filter(|i| i["entity"].as_s().unwrap() == "payment").count();
    assert_eq!(payments, 1, "no second payment");

    let mut other = body.clone();
    other["amount"] = json!(2000);
    let reused = stack.call(Function::FirstPayment, "/payments", &other, Some("key-1")).await;
    assert_eq!((reused.status, reused.body["code"].as_str()), (422, Some("idempotency_key_reused")));

    // Verify is idempotent too: a retried verify replays its answer instead of failing 409.
    let id = first.body["payment_id"].as_str().unwrap().to_owned();
    let code = json!({"code": latest_code(&phone).await});
    let path = format!("/payments/{id}/verify");
    let v1 = stack.call(Function::VerifyCode, &path, &code, Some("verify-1")).await;
    let v2 = stack.call(Function::VerifyCode, &path, &code, Some("verify-1")).await;
    assert_eq!((v1.status, v2.status), (200, 200));
    assert_eq!(v1.body, v2.body);
}

/// On the routes that open a payment, a new key is written by the payment's own writes: a
/// request refused before its payment is stored keeps nothing under its key (the corrected
/// request may use it), while a payment refused after it was stored (a decline) keeps its
/// answer, replayed as any other.
#[tokio::test]
async fn a_key_keeps_what_its_payment_decided_and_nothing_before() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let good = first_payment_body(&random_id("u"), &phone, "4242424242424242");
    let mut bad = good.clone();
    bad["card"]["number"] = json!("4242424242424241");
    let refused = stack.call(Function::FirstPayment, "/payments", &bad, Some("fix-1")).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (422, Some("invalid_card_number")));
    let fixed = stack.call(Function::FirstPayment, "/payments", &good, Some("fix-1")).await;
    assert_eq!(fixed.status, 201, "the refused request kept nothing: {}", fixed.body);
    assert!(fixed.headers.get("idempotency-replayed").is_none());
    let again = stack.call(Function::FirstPayment, "/payments", &good, Some("fix-1")).await;
    assert_eq!((again.status, &again.body), (201, &fixed.body));
    assert_eq!(again.headers["idempotency-replayed"], "true");
    assert_eq!(stack.sms_count(&phone), 1, "one SMS for the key");

    let declined_body = first_payment_body(&random_id("u"), &random_phone(), "4000000000000002");
    let declined = stack.call(Function::FirstPayment, "/payments", &declined_body, Some("decline-1")).await;
    assert_eq!((declined.status, declined.body["code"].as_str()), (402, Some("card_declined")), "{}", declined.body);
    let replayed = stack.call(Function::FirstPayment, "/payments", &declined_body, Some("decline-1")).await;
    assert_eq!((replayed.status, &replayed.body), (402, &declined.body));
    assert_eq!(replayed.headers["idempotency-replayed"], "true");
    let payments = stack.scan().await.iter().filter(|i| i["entity"].as_s().unwrap() == "payment").count();
    assert_eq!(payments, 2, "one payment per key");
}

#[tokio::test]
async fn a_merchants_token_scopes_payments_and_idempotency_keys() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let user = random_id("u");
    let body = first_payment_body(&user, &phone, "4242424242424242");
    let first = |merchant, key| stack.call_as(merchant, Function::FirstPayment, "/payments", &body, Some(key));

    let forged = first("shop-2", "forged-1").await;
    assert_eq!(
        (forged.status, &forged.body["code"], &forged.body["param"]),
        (403, &json!("merchant_mismatch"), &json!("merchant_id"))
    );
    assert_eq!(sms_to(&phone).await.len(), 0, "a refused request sends nothing");

    let paid = first("shop-1", "order-7").await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let id = paid.body["payment_id"].as_str().unwrap().to_owned();
    let code = json!({"code": latest_code(&phone).await});
    let (verify_path, resend_path, empty) =
        (format!("/payments/{id}/verify"), format!("/payments/{id}/resend"), json!({}));
    let verify = |merchant| stack.call_as(merchant, Function::VerifyCode, &verify_path, &code, None);
    let resend = |merchant| stack.call_as(merchant, Function::VerifyCode, &resend_path, &empty, None);

    // Another merchant's payment does not exist for them, and their tries change nothing.
    stack.clock.advance(shared::domain::RESEND_COOLDOWN_SECS);
    assert_eq!(verify("shop-2").await.body["code"], "payment_not_found");
    assert_eq!(resend("shop-2").await.body["code"], "payment_not_found");
    assert_eq!(sms_to(&phone).await.len(), 1);
    let done = verify("shop-1").await;
    assert_eq!((done.status, &done.body["status"]), (200, &json!("succeeded")), "{}", done.body);

    // The same Idempotency-Key from another merchant is another request, not a reuse.
    let mut theirs = first_payment_body(&random_id("u"), &random_phone(), "4242424242424242");
    theirs["merchant_id"] = json!("shop-2");
    let other = stack.call_as("shop-2", Function::FirstPayment, "/payments", &theirs, Some("order-7")).await;
    assert_eq!(other.status, 201, "{}", other.body);
    assert_ne!(other.body["payment_id"], paid.body["payment_id"]);
}

#[tokio::test]
async fn bad_input_gets_a_4xx_that_says_what_is_wrong() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let good = first_payment_body(&random_id("u"), &phone, "4242424242424242");
    let cases = [
        ("card", "number", json!("4242424242424241"), 422, "invalid_card_number", "card.number"),
        ("card", "exp_year", json!(2020), 422, "card_expired", "card.exp_year"),
        ("card", "cvc", json!("12"), 422, "invalid_cvc", "card.cvc"),
        ("", "phone", json!("+86123"), 422, "invalid_phone", "phone"),
        ("", "amount", json!(0), 422, "invalid_amount", "amount"),
        ("", "amount", json!(100_000_000), 422, "invalid_amount", "amount"),
        ("", "amount", json!(19.99), 400, "invalid_request", "amount"),
        ("", "currency", json!("XYZ"), 422, "invalid_currency", "currency"),
        ("", "user_id", json!("has space"), 422, "invalid_identifier", "user_id"),
        ("", "order_id", json!(""), 422, "invalid_identifier", "order_id"),
        ("", "unexpected", json!(1), 400, "invalid_request", "unexpected"),
        ("card", "number", json!(4242424242424242u64), 400, "invalid_request", "card.number"),
    ];
    for (parent, field, value, status, code, param) in cases {
        let mut body = good.clone();
        if parent.is_empty() {
            body[field] = value
        } else {
            body[parent][field] = value
        }
        let a = stack.first_payment(&body).await;
        assert_eq!(
            (a.status, a.body["code"].as_str(), a.body["param"].as_str()),
            (status, Some(code), Some(param)),
            "{field}: {}",
            a.body
        );
        assert_eq!(a.headers["content-type"], "application/problem+json");
    }
    let mut missing = good.clone();
    missing["card"].as_object_mut().unwrap().remove("cvc");
    let a = stack.first_payment(&missing).await;
    assert_eq!((a.status, a.body["param"].as_str()), (400, Some("card.cvc")), "{}", a.body);

    let huge = json!({"user_id": "x".repeat(17 * 1024)});
    assert_eq!(stack.first_payment(&huge).await.status, 413);

    let req = shared::lambda_http::http::Request::builder()
        .method("POST")
        .uri("/payments")
        .header("content-type", "text/plain")
        .body(shared::lambda_http::Body::Text("hello".into()))
        .unwrap();
    assert_eq!(stack.send(Function::FirstPayment, from_merchant(req, "shop-1")).await.status, 415);

    let req = shared::lambda_http::http::Request::builder()
        .method("POST")
        .uri("/payments")
        .header("content-type", "application/json")
        .body(shared::lambda_http::Body::Text("{\"user_id\":".into()))
        .unwrap();
    let a = stack.send(Function::FirstPayment, from_merchant(req, "shop-1")).await;
    assert_eq!((a.status, a.body["code"].as_str()), (400, Some("invalid_json")));

    // What the local emulator cannot even carry (checked here, in process): a header value
    // that is not ASCII, a JSON body that is not UTF-8.
    let req = shared::lambda_http::http::Request::builder()
        .method("POST")
        .uri("/payments")
        .header("content-type", "application/json")
        .header("idempotency-key", shared::lambda_http::http::HeaderValue::from_bytes(b"\xd7\xf8k").unwrap())
        .body(shared::lambda_http::Body::Text(good.to_string()))
        .unwrap();
    let a = stack.send(Function::FirstPayment, from_merchant(req, "shop-1")).await;
    assert_eq!((a.status, a.body["param"].as_str()), (400, Some("Idempotency-Key")));
    let req = shared::lambda_http::http::Request::builder()
        .method("POST")
        .uri("/payments")
        .header("content-type", "application/json")
        .body(shared::lambda_http::Body::Binary(vec![b'{', 0x80, b'}']))
        .unwrap();
    assert_eq!(stack.send(Function::FirstPayment, from_merchant(req, "shop-1")).await.body["code"], "invalid_json");

    let unknown = stack.verify("pay_01kbzz0000000000000000000a", "123456").await;
    assert_eq!((unknown.status, unknown.body["code"].as_str()), (404, Some("payment_not_found")));
    let malformed = stack.verify("not-a-payment", "123456").await;
    assert_eq!((malformed.status, malformed.body["code"].as_str()), (404, Some("payment_not_found")));
    let bad_code = stack.verify("pay_01kbzz0000000000000000000a", "12ab").await;
    assert_eq!((bad_code.status, bad_code.body["code"].as_str()), (422, Some("invalid_code")));
    assert!(sms_to(&phone).await.is_empty(), "no invalid request sent an SMS");
}

#[tokio::test]
async fn a_later_payment_cannot_redirect_an_earlier_cards_codes() {
    let stack = Stack::new().await;
    let (user, victim, attacker) = (random_id("u"), random_phone(), random_phone());
    let card = "5555555555554444";
    let created = stack.first_payment(&first_payment_body(&user, &victim, card)).await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&id, &latest_code(&victim).await).await.status, 200);

    // Same user id, same card number, another phone: the attacker completes a first payment.
    let taken = stack.first_payment(&first_payment_body(&user, &attacker, card)).await;
    let tid = taken.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&tid, &latest_code(&attacker).await).await.status, 200);

    let before = sms_to(&attacker).await.len();
    let repeat = stack.repeat_payment(&repeat_payment_body(&user)).await;
    assert_eq!(repeat.status, 201);
    assert_eq!(repeat.body["next_action"]["sent_to"], format!("+86*******{}", &victim[victim.len() - 4..]));
    assert_eq!(sms_to(&attacker).await.len(), before, "no code went to the new phone");
    assert_eq!(sms_to(&victim).await.len(), 2);
}

#[tokio::test]
async fn sms_caps_per_phone_and_per_merchant() {
    // Per phone: 10 codes an hour, whoever asks.
    let stack = Stack::with_attempt_limits(AttemptLimits::unlimited()).await;
    let phone = random_phone();
    for _ in 0..10 {
        let a = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let refused = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("sms_rate_limited")), "{}", refused.body);
    let retry_after: i64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after));
    assert_eq!(stack.sms_count(&phone), 10);
    let payments = stack.scan().await.iter().filter(|i| i["entity"].as_s().unwrap() == "payment").count();
    assert_eq!(payments, 10, "a refused SMS opens no payment");
    stack.clock.advance(retry_after);
    assert_eq!(stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await.status, 201);

    // Per merchant: a configurable cap; resends count too. (A cap of 1 is one counter shard,
    // so the cap is reached exactly here; tests/races.rs checks a sharded cap under load.)
    let stack =
        Stack::with_sms_limits(shared::ports::SmsLimits { per_phone: 10, per_merchant: 1, ..Default::default() }).await;
    let mut ids = Vec::new();
    for _ in 0..1 {
        let a = stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), "4242424242424242")).await;
        assert_eq!(a.status, 201);
        ids.push(a.body["payment_id"].as_str().unwrap().to_owned());
    }
    let refused = stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), "4242424242424242")).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("sms_rate_limited")));
    stack.clock.advance(30);
    let resend = stack.resend(&ids[0]).await;
    assert_eq!((resend.status, resend.body["code"].as_str()), (429, Some("sms_rate_limited")));
}

#[tokio::test]
async fn status_and_history_newest_first_a_page_at_a_time() {
    let stack = Stack::with_attempt_limits(AttemptLimits::unlimited()).await;
    let user = random_id("u");
    let mut created = Vec::new();
    for (i, merchant) in ["shop-1", "shop-2", "shop-1", "shop-1", "shop-2"].iter().enumerate() {
        let mut body = first_payment_body(&user, &random_phone(), "4242424242424242");
        body["merchant_id"] = json!(merchant);
        let answer = stack.first_payment(&body).await;
        assert_eq!(answer.status, 201, "{i}: {}", answer.body);
        created.push((answer.body["payment_id"].as_str().unwrap().to_owned(), *merchant, answer.body));
        stack.clock.advance(1);
    }
    let newest_first: Vec<&str> = created.iter().rev().map(|(id, _, _)| id.as_str()).collect();

    // One payment: the same object the flow answered.
    let (id, _, body) = &created[0];
    let status = stack.get(&format!("/payments/{id}"), None).await;
    assert_eq!((status.status, &status.body), (200, body));

    // Pages of 2, following next_cursor to the end.
    let pages = |merchant: Option<&'static str>| {
        let stack = &stack;
        let user = user.clone();
        async move {
            let (mut ids, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
            loop {
                let query = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
                let page = stack.get(&format!("/users/{user}/payments?limit=2{query}"), merchant).await;
                assert_eq!(page.status, 200, "{}", page.body);
                let data = page.body["data"].as_array().unwrap();
                assert!(data.len() <= 2);
                ids.extend(data.iter().map(|p| p["payment_id"].as_str().unwrap().to_owned()));
                pages += 1;
                match page.body["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => return (ids, pages),
                }
                assert!(pages < 10, "no end to the pages");
            }
        }
    };
    // A merchant's token sees only its own payments, newest first.
    let (all, count) = pages(Some("shop-1")).await;
    let mine: Vec<&str> =
        newest_first.iter().copied().filter(|id| created.iter().any(|(c, m, _)| c == id && *m == "shop-1")).collect();
    assert_eq!(all, mine);
    assert!(count >= 2, "3 payments in pages of 2: {count} pages");
    let (theirs, _) = pages(Some("shop-2")).await;
    let expected: Vec<&str> =
        created.iter().rev().filter(|(_, m, _)| *m == "shop-2").map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(theirs, expected);
    let other = stack.get(&format!("/payments/{id}"), Some("shop-2")).await;
    assert_eq!((other.status, &other.body["code"]), (404, &json!("payment_not_found")));

    // Bad paging input says what is wrong.
    for (query, code) in [("limit=101", "invalid_limit"), ("limit=x", "invalid_limit"), ("cursor=!!", "invalid_cursor")]
    {
        let r = stack.get(&format!("/users/{user}/payments?{query}"), None).await;
        assert_eq!((r.status, &r.body["code"], &r.body["param"]), (422, &json!(code), &json!(code[8..])), "{query}");
    }
}

#[tokio::test]
async fn another_merchant_cannot_see_or_use_a_saved_card() {
    let stack = Stack::new().await;
    let (user, phone) = (random_id("u"), random_phone());
    let created = stack
        .call_as(
            "shop-1",
            Function::FirstPayment,
            "/payments",
            &first_payment_body(&user, &phone, "4242424242424242"),
            None,
        )
        .await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    let method_id = created.body["payment_method"]["id"].clone();
    let code = json!({"code": latest_code(&phone).await});
    let done = stack.call_as("shop-1", Function::VerifyCode, &format!("/payments/{id}/verify"), &code, None).await;
    assert_eq!(done.status, 200, "{}", done.body);

    // Merchant B sends the same user_id: no saved card, by default or by A's method id, and no code.
    let mut theirs = repeat_payment_body(&user);
    theirs["merchant_id"] = json!("shop-2");
    let refused = stack.call_as("shop-2", Function::RepeatPayment, "/payments/repeat", &theirs, None).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (404, Some("no_saved_payment_method")),
        "{}",
        refused.body
    );
    theirs["payment_method_id"] = method_id;
    let refused = stack.call_as("shop-2", Function::RepeatPayment, "/payments/repeat", &theirs, None).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (404, Some("payment_method_not_found")),
        "{}",
        refused.body
    );
    assert_eq!(sms_to(&phone).await.len(), 1, "no code went to A's customer for B");

    // At rest the card is filed under merchant and user together.
    let methods: Vec<_> =
        stack.scan().await.into_iter().filter(|i| i["entity"].as_s().unwrap() == "payment_method").collect();
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0]["pk"].as_s().unwrap(), &format!("CUST#shop-1#{user}"));
    assert_eq!(methods[0]["merchant_id"].as_s().unwrap(), "shop-1");
    // A's own repeat payment still works.
    let mine =
        stack.call_as("shop-1", Function::RepeatPayment, "/payments/repeat", &repeat_payment_body(&user), None).await;
    assert_eq!(mine.status, 201, "{}", mine.body);
}

#[tokio::test]
async fn a_paid_order_cannot_be_paid_again() {
    let stack = Stack::new().await;
    let user = random_id("u");
    let (phone_a, phone_b) = (random_phone(), random_phone());
    let mut body_a = first_payment_body(&user, &phone_a, "4242424242424242");
    body_a["order_id"] = json!("order-once");
    let mut body_b = first_payment_body(&user, &phone_b, "5555555555554444");
    body_b["order_id"] = json!("order-once");
    // Two payments opened for one order before either completes.
    let a = stack.first_payment(&body_a).await;
    let b = stack.first_payment(&body_b).await;
    assert_eq!((a.status, b.status), (201, 201));
    let (a_id, b_id) = (a.body["payment_id"].as_str().unwrap(), b.body["payment_id"].as_str().unwrap());
    let (code_a, code_b) = (stack.code_sent_to(&phone_a), stack.code_sent_to(&phone_b));

    // Both right codes at once: exactly one payment succeeds, the other fails uncharged.
    let (va, vb) = tokio::join!(stack.verify(a_id, &code_a), stack.verify(b_id, &code_b));
    let mut statuses = [va.status, vb.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", va.body, vb.body);
    let lost = if va.status == 409 { &va } else { &vb };
    assert_eq!(lost.body["code"], "order_already_paid", "{}", lost.body);
    assert_eq!(
        (lost.body["payment"]["status"].as_str(), lost.body["payment"]["failure_code"].as_str()),
        (Some("failed"), Some("order_already_paid"))
    );

    // A third payment for the order is refused before any code goes out.
    let phone_c = random_phone();
    let mut body_c = first_payment_body(&user, &phone_c, "4242424242424242");
    body_c["order_id"] = json!("order-once");
    let refused = stack.first_payment(&body_c).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (409, Some("order_already_paid")), "{}", refused.body);
    assert_eq!(stack.sms_count(&phone_c), 0, "no SMS");

    // At rest: one order item naming the winner, one succeeded payment for the order.
    let items = stack.scan().await;
    let orders: Vec<_> = items.iter().filter(|i| i["entity"].as_s().unwrap() == "order").collect();
    assert_eq!(orders.len(), 1);
    let winner = if va.status == 200 { a_id } else { b_id };
    assert_eq!(orders[0]["payment_id"].as_s().unwrap(), winner);
    let succeeded = items
        .iter()
        .filter(|i| i["entity"].as_s().unwrap() == "payment" && i["status"].as_s().unwrap() == "succeeded")
        .count();
    assert_eq!(succeeded, 1);
}

/// A refused resend must not become a sent one by being retried: a retry under the same
/// Idempotency-Key runs every check again (it used to be taken over as "recovering" and skip the
/// cooldown). Fresh and reused keys, six requests every 30 s window: at most one SMS per window,
/// at most five per payment.
#[tokio::test]
async fn the_resend_cooldown_holds_with_fresh_and_reused_keys() {
    let stack = Stack::new().await;
    let phone = random_phone();
    let created = stack.first_payment(&first_payment_body(&random_id("u"), &phone, "4242424242424242")).await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    let path = format!("/payments/{id}/resend");
    let mut statuses = std::collections::BTreeMap::new();
    let mut before = 0;
    for window in 0..8 {
        for i in 0..6 {
            // The same key three times, then three fresh ones.
            let key = if i < 3 { format!("resend-{window}") } else { random_id("k") };
            let a = stack.call(Function::VerifyCode, &path, &json!({}), Some(&key)).await;
            *statuses.entry(a.status).or_insert(0) += 1;
            stack.clock.advance(1);
        }
        let sent = stack.sms_count(&phone);
        assert!(sent - before <= 1, "window {window}: {} SMS within 30 s ({statuses:?})", sent - before);
        before = sent;
        stack.clock.advance(shared::domain::RESEND_COOLDOWN_SECS - 6);
    }
    assert_eq!(stack.sms_count(&phone), usize::from(shared::domain::MAX_SENDS), "{statuses:?}");
    assert_eq!(sms_to(&phone).await.len(), usize::from(shared::domain::MAX_SENDS));
}

#[tokio::test]
async fn a_repeat_payment_checks_at_its_write_what_an_admission_read_would_refuse() {
    // A repeat payment reads no admission: the order, the payer's guards and the decline caps
    // are conditions of its one write. Each refusal answers as the read would have, with no
    // payment written and no SMS.
    let stack = Stack::new().await;
    let (user, phone) = (random_id("u"), random_phone());
    let first = first_payment_body(&user, &phone, "4242424242424242");
    let created = stack.first_payment(&first).await;
    let id = created.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&id, &stack.code_sent_to(&phone)).await.status, 200);
    let payments = || async { stack.scan().await.iter().filter(|i| i["entity"].as_s().unwrap() == "payment").count() };
    let (before, sms_before) = (payments().await, stack.sms_count(&phone));

    // The order is paid.
    let mut paid = repeat_payment_body(&user);
    paid["order_id"] = first["order_id"].clone();
    let refused = stack.repeat_payment(&paid).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (409, Some("order_already_paid")), "{}", refused.body);

    // The session's decline cap: three cards declined in it, then the saved card is refused.
    let (sid, secret) = stack.create_session("shop-1", &user, &random_id("o"), 1999).await;
    let mut declined = session_card_body(&random_phone());
    declined["card"]["number"] = json!("4000000000000002");
    let pay = format!("/checkout/{sid}/payments");
    for _ in 0..3 {
        let a = stack.call_as_shopper(Function::FirstPayment, &pay, &secret, &declined, None).await;
        assert_eq!(a.status, 402, "{}", a.body);
    }
    let path = format!("/checkout/{sid}/payments/repeat");
    let capped = stack.call_as_shopper(Function::RepeatPayment, &path, &secret, &json!({}), None).await;
    assert_eq!((capped.status, capped.body["code"].as_str()), (429, Some("too_many_declines")), "{}", capped.body);
    let before = before + 3;

    // The payer is locked out: five wrong codes in a row on another of their payments.
    let mut pending_body = first_payment_body(&user, &phone, "4242424242424242");
    pending_body["order_id"] = json!(random_id("o"));
    let pending = stack.first_payment(&pending_body).await;
    let pid = pending.body["payment_id"].as_str().unwrap().to_owned();
    let right = stack.code_sent_to(&phone);
    for _ in 0..5 {
        stack.verify(&pid, &wrong_code(&right)).await;
    }
    let (before, sms_before) = (before + 1, sms_before + 1);
    let locked = stack.repeat_payment(&repeat_payment_body(&user)).await;
    assert_eq!((locked.status, locked.body["code"].as_str()), (429, Some("too_many_failures")), "{}", locked.body);
    let retry_after: i64 = locked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry_after), "{retry_after}");

    assert_eq!(payments().await, before, "a refused repeat payment writes no payment");
    assert_eq!(stack.sms_count(&phone), sms_before, "and sends no SMS");

    // Once the lock ends, the same request opens its payment.
    stack.clock.advance(retry_after);
    let opened = stack.repeat_payment(&repeat_payment_body(&user)).await;
    assert_eq!(opened.status, 201, "{}", opened.body);
    assert_eq!(stack.sms_count(&phone), sms_before + 1);
}

#[tokio::test]
async fn codes_go_only_to_mobile_numbers_no_pumping() {
    // Numbers an SMS pumper sends codes to, at the platform's cost: UK premium rate, an Iridium
    // satellite phone, a Latvian fixed line. Refused before anything is written or sent, from
    // the merchant's route and the shopper's.
    let stack = Stack::new().await;
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    for pumped in ["+449098790000", "+881612345678", "+37167000000"] {
        let a = stack.first_payment(&first_payment_body(&random_id("u"), pumped, "4242424242424242")).await;
        assert_eq!(
            (a.status, a.body["code"].as_str(), a.body["param"].as_str()),
            (422, Some("phone_not_mobile"), Some("phone"))
        );
        let b = stack.pay_in_session(&sid, &secret, pumped).await;
        assert_eq!((b.status, b.body["code"].as_str()), (422, Some("phone_not_mobile")), "{}", b.body);
        assert_eq!(sms_to(pumped).await.len(), 0, "{pumped}: no SMS");
    }
    let payments = stack.scan().await.iter().filter(|i| i["entity"].as_s().unwrap() == "payment").count();
    assert_eq!(payments, 0, "nothing was written");
}

#[tokio::test]
async fn a_merchant_sends_codes_only_to_its_countries_within_the_deployments() {
    let mut stack = Stack::new().await;
    stack.services.settings.sms_countries = shared::domain::SmsCountries::parse("CN,GB").unwrap();
    let merchant_list = shared::domain::SmsCountries::parse("CN,US").unwrap();
    stack.services.settings.merchant_sms_countries.insert("shop-1".into(), merchant_list);
    let body = |phone: &str| first_payment_body(&random_id("u"), phone, "4242424242424242");
    assert_eq!(stack.first_payment(&body(&random_phone())).await.status, 201);
    for (phone, why) in
        [("+447400123456", "GB: the deployment's, not the merchant's"), ("+14155552671", "US: not the deployment's")]
    {
        let a = stack.first_payment(&body(phone)).await;
        assert_eq!((a.status, a.body["code"].as_str()), (422, Some("phone_country_not_allowed")), "{why}: {}", a.body);
    }
}

#[tokio::test]
async fn one_merchants_codes_cannot_use_up_a_phones_codes_at_another() {
    // An attacker pays at shop-2 with a victim's phone until shop-2 refuses it: the victim's
    // codes at shop-1 still go out. Past the platform's ceiling (across merchants), every
    // merchant's are refused.
    let stack = Stack::with_attempt_limits(AttemptLimits::unlimited()).await;
    let victim = random_phone();
    let at = |merchant: &str| {
        let mut body = first_payment_body(&random_id("u"), &victim, "4242424242424242");
        body["merchant_id"] = json!(merchant);
        body
    };
    for _ in 0..10 {
        assert_eq!(stack.first_payment(&at("shop-2")).await.status, 201);
    }
    let refused = stack.first_payment(&at("shop-2")).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("sms_rate_limited")));
    let own = stack.first_payment(&at("shop-1")).await;
    assert_eq!(own.status, 201, "the victim still pays at shop-1: {}", own.body);
    assert_eq!(stack.sms_count(&victim), 11);
    // The ceiling: 30 an hour whichever merchants ask.
    for merchant in std::iter::repeat_n("shop-3", 10).chain(std::iter::repeat_n("shop-4", 9)) {
        assert_eq!(stack.first_payment(&at(merchant)).await.status, 201, "{merchant}");
    }
    let ceiling = stack.first_payment(&at("shop-5")).await;
    assert_eq!((ceiling.status, ceiling.body["code"].as_str()), (429, Some("sms_rate_limited")));
    assert_eq!(stack.sms_count(&victim), 30);
}
