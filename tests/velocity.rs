//! Card testing and shoppers as weapons (issue 22, items 2 and 4), through the real handlers
//! against moto: velocity limits on card attempts, counted in the write that opens the payment
//! (before the acquirer), and limits that leave the victim able to pay.

use integration_tests::*;
use serde_json::json;
use shared::ports::{AttemptLimits, BusinessEvent, SmsLimits};

fn code_of(a: &Answer) -> (u16, Option<&str>) {
    (a.status, a.body["code"].as_str())
}

/// The first `allowed` answers opened a payment; every later one was refused by `limit`.
fn assert_limited(answers: &[Answer], allowed: usize, limit: &str) {
    for (i, a) in answers.iter().enumerate() {
        if i < allowed {
            assert_eq!(a.status, 201, "attempt {i}: {}", a.body);
        } else {
            assert_eq!(code_of(a), (429, Some("too_many_payment_attempts")), "attempt {i}: {}", a.body);
            assert_eq!(a.body["limit"], limit);
            assert!(a.headers.contains_key("retry-after"));
            // Nothing about the card is echoed.
            assert!(!a.body.to_string().contains("number"), "{}", a.body);
        }
    }
}

#[tokio::test]
async fn ten_cards_in_one_session_meet_the_per_session_limit() {
    let stack = Stack::new().await;
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let per_session = AttemptLimits::default().per_session as usize;
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(stack.pay_in_session_from(&sid, &secret, &random_card(), "198.51.100.7").await);
    }
    assert_limited(&answers, per_session, "session");
    let sent = stack.metrics.count(&BusinessEvent::CodeSent);
    assert_eq!(sent, per_session, "a refused attempt sends no SMS");
}

#[tokio::test]
async fn one_card_across_five_users_meets_the_per_card_limit() {
    // One card, five users at two merchants: counted by the card number alone.
    let stack = Stack::new().await;
    let card = random_card();
    let per_card = AttemptLimits::default().per_card_daily as usize;
    let mut answers = Vec::new();
    for i in 0..5 {
        let mut body = first_payment_body(&random_id("u"), &random_phone(), &card);
        body["merchant_id"] = json!(if i % 2 == 0 { "shop-1" } else { "shop-2" });
        answers.push(stack.first_payment(&body).await);
    }
    assert_limited(&answers, per_card, "card");
    // Another card pays.
    let other = stack.first_payment(&first_payment_body(&random_id("u"), &random_phone(), &random_card())).await;
    assert_eq!(other.status, 201, "{}", other.body);
}

#[tokio::test]
async fn one_address_meets_the_per_address_limit_and_another_does_not() {
    let stack = Stack::new().await;
    let per_ip = AttemptLimits::default().per_ip_hourly as usize;
    let pay_from = |ip: &'static str| {
        let stack = &stack;
        async move {
            let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
            stack.pay_in_session_from(&sid, &secret, &random_card(), ip).await
        }
    };
    for i in 0..per_ip {
        // An IPv6 prefix is one subscriber: its addresses count together.
        let a = pay_from(if i % 2 == 0 { "2001:db8:1:2::10" } else { "2001:db8:1:2:ffff::1" }).await;
        assert_eq!(a.status, 201, "attempt {i}: {}", a.body);
    }
    let refused = pay_from("2001:db8:1:2::99").await;
    assert_eq!(code_of(&refused), (429, Some("too_many_payment_attempts")), "{}", refused.body);
    assert_eq!(refused.body["limit"], "source_ip");
    assert_eq!(pay_from("2001:db8:1:3::10").await.status, 201, "another subscriber's prefix");
    assert_eq!(pay_from("203.0.113.9").await.status, 201);
}

#[tokio::test]
async fn a_first_payments_wrong_codes_count_against_its_address() {
    // An address's card attempts and its first payments' wrong codes share one hourly budget:
    // 1 card and 3 wrong codes use up 4; the next card from that address is refused, another
    // address's is not, and the payer (the right code) is not locked by the address.
    let limits = AttemptLimits { per_ip_hourly: 4, ..AttemptLimits::default() };
    let stack = Stack::with_limits(SmsLimits::default(), limits).await;
    let ip = "198.51.100.23";
    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let phone = random_phone();
    let body =
        json!({"phone": phone, "card": {"number": random_card(), "exp_month": 12, "exp_year": 2040, "cvc": "123"}});
    let mut req = from_address(post_request(&format!("/checkout/{sid}/payments"), &body, None), ip);
    req.headers_mut().insert("authorization", format!("Bearer {secret}").parse().unwrap());
    let paid = stack.send(Function::FirstPayment, req).await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let pid = paid.body["payment_id"].as_str().unwrap().to_owned();
    let code = stack.code_sent_to(&phone);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let verify = |c: &str| {
        let mut req = from_address(
            post_request(&format!("/checkout/{sid}/payments/{pid}/verify"), &json!({ "code": c }), None),
            ip,
        );
        req.headers_mut().insert("authorization", format!("Bearer {secret}").parse().unwrap());
        stack.send(Function::VerifyCode, req)
    };
    for _ in 0..3 {
        assert_eq!(code_of(&verify(wrong).await), (422, Some("incorrect_code")));
    }
    let done = verify(&code).await;
    assert_eq!(done.body["status"], "succeeded", "the payer is not locked by the address: {}", done.body);
    let (sid2, secret2) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let refused = stack.pay_in_session_from(&sid2, &secret2, &random_card(), ip).await;
    assert_eq!(code_of(&refused), (429, Some("too_many_payment_attempts")), "{}", refused.body);
    assert_eq!(refused.body["limit"], "source_ip");
    let other = stack.pay_in_session_from(&sid2, &secret2, &random_card(), "198.51.100.24").await;
    assert_eq!(other.status, 201, "another address: {}", other.body);
}

#[tokio::test]
async fn a_tripped_merchant_decline_cap_leaves_its_customers_able_to_pay() {
    // Throw-away sessions with a declined card trip the merchant's hourly decline cap (velocity
    // limits lifted, as a distributed attacker would get past them). The merchant's saved-card
    // customer still pays; a new shopper's new card still pays; the declined card is refused
    // before the acquirer (strict limits for new cards).
    // The merchant's cap is 5 declines an hour here (100 in production: the same rule, sooner).
    let limits = AttemptLimits { merchant_declines_hourly: 5, ..AttemptLimits::unlimited() };
    let stack = Stack::with_limits(SmsLimits::unlimited(), limits).await;
    let (loyal, loyal_phone) = (random_id("u"), random_phone());
    let saved = stack.first_payment(&first_payment_body(&loyal, &loyal_phone, &random_card())).await;
    let pid = saved.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&pid, &stack.code_sent_to(&loyal_phone)).await.status, 200);

    let declines = limits.merchant_declines_hourly as usize;
    for batch in 0..declines.div_ceil(10) {
        let wave = (0..10.min(declines - batch * 10)).map(|_| async {
            let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
            stack.pay_in_session_from(&sid, &secret, "4000000000000002", "198.51.100.66").await
        });
        for a in futures::future::join_all(wave).await {
            assert_eq!(code_of(&a), (402, Some("card_declined")), "{}", a.body);
        }
    }

    let repeat = stack.repeat_payment(&repeat_payment_body(&loyal)).await;
    assert_eq!(repeat.status, 201, "the saved card is never refused: {}", repeat.body);
    let rid = repeat.body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.verify(&rid, &stack.code_sent_to(&loyal_phone)).await.body["status"], "succeeded");

    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let new_card = stack.pay_in_session_from(&sid, &secret, &random_card(), "203.0.113.20").await;
    assert_eq!(new_card.status, 201, "a new card still pays: {}", new_card.body);

    let (sid, secret) = stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await;
    let tested = stack.pay_in_session_from(&sid, &secret, "4000000000000002", "203.0.113.21").await;
    assert_eq!(code_of(&tested), (429, Some("too_many_payment_attempts")), "{}", tested.body);
}

#[tokio::test]
async fn sms_caps_per_session_address_and_number_block() {
    // Beside the per-phone caps: a session's codes for its lifetime, an address's and a block
    // of 10,000 numbers' per hour (SMS pumping walks a range of numbers from few addresses).
    let limits = SmsLimits { per_session: 3, per_ip: 4, per_prefix: 2, ..SmsLimits::default() };
    let stack = Stack::with_limits(limits, AttemptLimits::unlimited()).await;
    let pay = |sid: String, secret: String, phone: String, ip: &'static str| {
        let stack = &stack;
        async move {
            let body = json!({"phone": phone, "card": {"number": random_card(), "exp_month": 12, "exp_year": 2040, "cvc": "123"}});
            let mut req = from_address(post_request(&format!("/checkout/{sid}/payments"), &body, None), ip);
            req.headers_mut().insert("authorization", format!("Bearer {secret}").parse().unwrap());
            stack.send(Function::FirstPayment, req).await
        }
    };
    let session = || async { stack.create_session("shop-1", &random_id("u"), &random_id("o"), 1999).await };

    // One session: three codes, then none.
    let (sid, secret) = session().await;
    for i in 0..3 {
        assert_eq!(pay(sid.clone(), secret.clone(), random_phone(), "198.51.100.1").await.status, 201, "{i}");
    }
    let refused = pay(sid.clone(), secret.clone(), random_phone(), "198.51.100.2").await;
    assert_eq!(code_of(&refused), (429, Some("sms_rate_limited")), "{}", refused.body);

    // One address: four codes an hour (three above, one more), whatever the session; a resend
    // asked from it counts too.
    let (paid_sid, paid_secret) = session().await;
    let paid = pay(paid_sid.clone(), paid_secret.clone(), random_phone(), "198.51.100.1").await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let (sid, secret) = session().await;
    let refused = pay(sid.clone(), secret.clone(), random_phone(), "198.51.100.1").await;
    assert_eq!(code_of(&refused), (429, Some("sms_rate_limited")), "{}", refused.body);
    assert_eq!(pay(sid, secret, random_phone(), "198.51.100.3").await.status, 201, "another address");
    stack.clock.advance(31);
    let resend = |ip: &'static str| {
        let path = format!("/checkout/{paid_sid}/payments/{}/resend", paid.body["payment_id"].as_str().unwrap());
        let mut req = from_address(post_request(&path, &json!({}), None), ip);
        req.headers_mut().insert("authorization", format!("Bearer {paid_secret}").parse().unwrap());
        stack.send(Function::VerifyCode, req)
    };
    let refused = resend("198.51.100.1").await;
    assert_eq!(code_of(&refused), (429, Some("sms_rate_limited")), "{}", refused.body);
    assert_eq!(resend("198.51.100.9").await.status, 200);

    // One block of numbers: two codes an hour, across sessions and addresses.
    let block = format!("+86139{:04}", rand::random::<u16>() % 10_000);
    for (i, ip) in ["203.0.113.1", "203.0.113.2"].into_iter().enumerate() {
        let (sid, secret) = session().await;
        assert_eq!(pay(sid, secret, format!("{block}{i:04}"), ip).await.status, 201);
    }
    let (sid, secret) = session().await;
    let refused = pay(sid.clone(), secret.clone(), format!("{block}9999"), "203.0.113.3").await;
    assert_eq!(code_of(&refused), (429, Some("sms_rate_limited")), "{}", refused.body);
    assert_eq!(pay(sid, secret, random_phone(), "203.0.113.4").await.status, 201, "another block");
}
